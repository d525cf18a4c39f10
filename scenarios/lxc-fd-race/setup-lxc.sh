#!/bin/sh
# Prepare a busybox system container for the real-library variants, at run time: images are built
# without privileges, so nothing here can happen in the Dockerfile.
#   setup-lxc.sh NAME  -> exit 0 and print "layout=<v1|hybrid|v2>"; exit 2 with "SKIP: reason" when a
#   prerequisite is missing (read-only cgroups, no cgroup at all); exit 1 with "ERROR: reason" otherwise.
# What it observed and set goes to $REPROLAB_SETUP_EVIDENCE (JSON), which the reproducers put into
# the verdict's evidence as "setup", whatever the exit code.
name=${1:-fdrace}
evidence=${REPROLAB_SETUP_EVIDENCE:-/run/reprolab-lxc-setup.json}

# JSON members collected as we go; written on every exit.
members=""
add() { # add KEY VALUE: a string member (VALUE escaped); addraw KEY JSON: any JSON value
    v=$(printf '%s' "$2" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')
    addraw "$1" "\"$v\""
}
addraw() { members="${members:+$members, }\"$1\": $2"; }
write_evidence() { printf '{%s}\n' "$members" > "$evidence"; }
skip() { echo "SKIP: $*"; write_evidence; exit 2; }
fail() { echo "ERROR: $*"; write_evidence; exit 1; }

command -v lxc-create >/dev/null || fail "lxc-create not installed"
command -v busybox >/dev/null || fail "busybox not installed (the busybox template copies it)"

# AppArmor as liblxc sees it (src/lxc/lsm/apparmor.c, the same in 4.0.6, 5.0.2 and 6.0.4): enabled
# when /sys/module/apparmor/parameters/enabled reads Y; "complete" only when the securityfs file
# features/mount/mask exists, which it does not in a Docker container (no securityfs mounted there).
# Enabled but incomplete, liblxc refuses any profile other than "unconfined" unless
# lxc.apparmor.allow_incomplete = 1 ("Incomplete AppArmor support in your kernel").
aa_enabled=absent
[ -r /sys/module/apparmor/parameters/enabled ] && aa_enabled=$(cat /sys/module/apparmor/parameters/enabled)
aa_fs=absent
[ -d /sys/kernel/security/apparmor ] && aa_fs=present
aa_mount_mask=absent
[ -e /sys/kernel/security/apparmor/features/mount/mask ] && aa_mount_mask=present
aa_label=none
for f in /proc/self/attr/apparmor/current /proc/self/attr/current; do
    if [ -r "$f" ] && l=$(cat "$f" 2>/dev/null) && [ -n "$l" ]; then aa_label=$l; break; fi
done
add apparmor_module_enabled "$aa_enabled"
add apparmor_securityfs "$aa_fs"
add apparmor_mount_features "$aa_mount_mask"
add apparmor_label_of_lab_container "$aa_label"

fstype=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
if [ "$fstype" = cgroup2fs ]; then
    layout=v2
elif grep -q ' cgroup ' /proc/self/mounts; then
    if grep -q ' cgroup2 ' /proc/self/mounts; then layout=hybrid; else layout=v1; fi
else
    skip "no cgroup filesystem mounted in the container"
fi
add layout "$layout"

# liblxc creates its payload cgroup below ours; read-only mounts make it skip every hierarchy.
probe=/sys/fs/cgroup
[ "$layout" != v2 ] && probe=$(awk '$3 == "cgroup" {print $2; exit}' /proc/self/mounts)
mkdir "$probe/reprolab-probe.$$" 2>/dev/null || skip "cgroup mount $probe is not writable (needs writable_cgroups)"
rmdir "$probe/reprolab-probe.$$"

if [ "$layout" = v2 ]; then
    # Pure cgroup v2: a cgroup holding processes cannot enable controllers for its children
    # ("no internal processes"; the root of a cgroup namespace is not exempt, only the real root
    # is), and liblxc, run as root, builds its cgroups below pid 1's cgroup minus a trailing
    # "init.scope". So move every process into /init.scope, as systemd hosts have it (and as
    # moby's dind script does with /init); liblxc's base is then the empty namespace root, where
    # all controllers can be delegated. Processes forked meanwhile by one still at the root stay
    # there, hence a few passes.
    mkdir -p /sys/fs/cgroup/init.scope
    for pass in 1 2 3; do
        for p in $(cat /sys/fs/cgroup/cgroup.procs); do
            echo "$p" > /sys/fs/cgroup/init.scope/cgroup.procs 2>/dev/null || true
        done
        [ -z "$(cat /sys/fs/cgroup/cgroup.procs)" ] && break
    done
    left=$(cat /sys/fs/cgroup/cgroup.procs | wc -l)
    failed=""
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
        echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || failed="$failed $c"
    done
    addraw v2_processes_left_at_root "$left"
    add v2_controllers_available "$(cat /sys/fs/cgroup/cgroup.controllers)"
    add v2_controllers_delegated "$(cat /sys/fs/cgroup/cgroup.subtree_control)"
    [ -n "$failed" ] && add v2_controllers_not_delegated "${failed# }"
fi

# No bridge inside the lab container: the stock veth default cannot start.
# lxc.apparmor.profile = unconfined: the busybox container runs with the lab container's own
# AppArmor label (privileged mode: unconfined), which liblxc then leaves unchanged. Without it
# liblxc picks lxc-container-default-cgns, refuses it on an AppArmor host because the mount
# features are invisible here, and could not load it anyway (no apparmor_parser, no securityfs).
# The busybox template itself suggests this line for AppArmor hosts. Where AppArmor is off (no
# AppArmor LSM in liblxc) the item is parsed and has no effect. The race is about fds, not LSMs.
mkdir -p /etc/lxc
printf 'lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n' > /etc/lxc/default.conf
add lxc_default_conf "$(tr '\n' ';' < /etc/lxc/default.conf)"

if ! lxc-info -n "$name" >/dev/null 2>&1; then
    out=$(lxc-create -t busybox -n "$name" 2>&1) || fail "lxc-create -t busybox failed: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
fi
write_evidence
echo "layout=$layout"
