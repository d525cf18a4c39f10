#!/usr/bin/env bash
# Install Docker Compose v2 as a Docker CLI plugin, from distribution packages only.
# Ubuntu ships it as docker-compose-v2; Debian ships v2 as `docker-compose` from trixie on (bookworm's
# package is the old v1), so on bookworm the trixie .deb is downloaded through the host's own
# Debian mirror (read from its apt sources) and only its static binary is installed.
set -euo pipefail
log() { printf 'install-compose: %s\n' "$*" >&2; }
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins

if docker compose version >/dev/null 2>&1; then
    log "already present: $(docker compose version --short)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
cand() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
if [ -n "$(cand docker-compose-v2)" ] && [ "$(cand docker-compose-v2)" != "(none)" ]; then
    apt-get install -y -qq docker-compose-v2 >/dev/null
elif cand docker-compose | grep -q '^2'; then
    apt-get install -y -qq docker-compose >/dev/null
else
    mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$mirror" ] || { log "no Debian mirror in apt sources"; exit 2; }
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
    echo "deb $mirror trixie main" > "$tmp/trixie.list"
    opts=(-o "Dir::Etc::sourcelist=$tmp/trixie.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
    apt-get "${opts[@]}" update -qq
    (cd "$tmp" && apt-get "${opts[@]}" download docker-compose >/dev/null)
    dpkg-deb -x "$tmp"/docker-compose_*.deb "$tmp/x"
    install -D -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
fi
docker compose version >/dev/null 2>&1 || { log "docker compose still missing"; exit 2; }
log "installed: $(docker compose version --short)"
