#!/usr/bin/env bash
# What the kernel matrix (`lab.py run --kernel ...`) needs beyond the lab itself: qemu (the guests),
# qemu-img (their overlays), kmod (depmod for a guest kernel's modules), e2fsprogs (mkfs.ext4 -d),
# debootstrap (the guests' root filesystem) and util-linux's setpriv (qemu dies with its owner).
# The quick start does not need it; `make test` does (a test boots a guest kernel). Run once as root
# (`sudo make host guests`); a user in the docker group then runs the guests too (docs/docker-user.md).
set -euo pipefail
missing=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
command -v depmod >/dev/null 2>&1 || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || missing+=(kmod)
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || missing+=(e2fsprogs)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-guests: must run as root to install ${missing[*]} (try: sudo $0)" >&2
        exit 2
    fi
    echo "setup-guests: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup-guests: $(qemu-system-x86_64 --version | head -n 1)" >&2
