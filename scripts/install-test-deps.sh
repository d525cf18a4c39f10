#!/usr/bin/env bash
# What the tests need beyond the lab itself: Compose v2 (the compose tests), Vagrant (validates the
# Vagrantfile), an OpenSSH server and client (a second "remote" engine over ssh:// on loopback), and
# Debian's Chromium (the HTML report is opened headless, networking off, in tests/integration).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
command -v vagrant >/dev/null 2>&1 || missing+=(vagrant)
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-test-deps: installing ${missing[*]}" >&2
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash "$(dirname "$0")/install-compose.sh"
