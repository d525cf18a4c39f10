#!/bin/sh
# Prepare a busybox system container for the real-library variants, at run time: images are built
# without privileges, so nothing here can happen in the Dockerfile.
#   setup-lxc.sh NAME  -> exit 0 and print "layout=<v1|hybrid|v2>"; exit 2 with "SKIP: reason" when a
#   prerequisite is missing (read-only cgroups, no cgroup at all); exit 1 with "ERROR: reason" otherwise.
name=${1:-fdrace}

skip() { echo "SKIP: $*"; exit 2; }
fail() { echo "ERROR: $*"; exit 1; }

command -v lxc-create >/dev/null || fail "lxc-create not installed"
command -v busybox >/dev/null || fail "busybox not installed (the busybox template copies it)"

fstype=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
if [ "$fstype" = cgroup2fs ]; then
    layout=v2
elif grep -q ' cgroup ' /proc/self/mounts; then
    if grep -q ' cgroup2 ' /proc/self/mounts; then layout=hybrid; else layout=v1; fi
else
    skip "no cgroup filesystem mounted in the container"
fi

# liblxc creates its payload cgroup below ours; read-only mounts make it skip every hierarchy.
probe=/sys/fs/cgroup
[ "$layout" != v2 ] && probe=$(awk '$3 == "cgroup" {print $2; exit}' /proc/self/mounts)
mkdir "$probe/reprolab-probe.$$" 2>/dev/null || skip "cgroup mount $probe is not writable (needs writable_cgroups)"
rmdir "$probe/reprolab-probe.$$"

if [ "$layout" = v2 ]; then
    # Pure cgroup v2: a cgroup holding processes cannot enable controllers for its children
    # ("no internal processes"), and liblxc, run as root, builds its cgroups below pid 1's cgroup
    # minus a trailing "init.scope". So move every process into /init.scope, as systemd hosts have
    # it; liblxc's base is then the empty namespace root, where all controllers can be delegated.
    mkdir -p /sys/fs/cgroup/init.scope
    for p in $(cat /sys/fs/cgroup/cgroup.procs); do
        echo "$p" > /sys/fs/cgroup/init.scope/cgroup.procs 2>/dev/null || true
    done
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    done
fi

# No bridge inside the lab container: the stock veth default cannot start.
mkdir -p /etc/lxc
printf 'lxc.net.0.type = empty\n' > /etc/lxc/default.conf

if ! lxc-info -n "$name" >/dev/null 2>&1; then
    out=$(lxc-create -t busybox -n "$name" 2>&1) || fail "lxc-create -t busybox failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
fi
echo "layout=$layout"
