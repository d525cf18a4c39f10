#!/usr/bin/env bash
# Bring a Debian/Ubuntu machine to the point where the lab can run: a Docker engine that
# answers, debootstrap for offline base images, and Python with venv.  Idempotent: on a
# machine that already has an answering engine and the tools, it changes nothing.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        log "must run as root to install packages and start dockerd (try: sudo $0)"
        exit 2
    fi
}

engine_answers() { docker info >/dev/null 2>&1; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v gpgv >/dev/null 2>&1 || missing+=(gpgv)

if [ "${#missing[@]}" -gt 0 ]; then
    need_root
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if engine_answers; then
    log "docker engine answers: $(docker version --format '{{.Server.Version}}')"
    exit 0
fi

need_root
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    log "starting docker.service"
    systemctl start docker || true
fi
if ! engine_answers; then
    command -v dockerd >/dev/null 2>&1 || { log "dockerd not found; install docker.io"; exit 2; }
    log "starting dockerd in the background (log: /var/log/reprolab-dockerd.log)"
    nohup setsid dockerd >/var/log/reprolab-dockerd.log 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
    if engine_answers; then
        log "docker engine answers: $(docker version --format '{{.Server.Version}}')"
        exit 0
    fi
    sleep 1
done
log "dockerd did not answer within 60 s; see /var/log/reprolab-dockerd.log"
exit 2
