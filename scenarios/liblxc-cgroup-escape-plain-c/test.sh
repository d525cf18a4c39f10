#!/bin/bash
# The seed's plain-c/test.sh pattern (notnoop/libcontainer-lxc-bug), run as its README says
# (`cd plain-c; sudo ./test.sh`) and read by the lab without changes: put this shell in a fresh
# cgroup of every mounted hierarchy (a timestamped name), then compile and run main.c twice at
# run time, once without and once with a reference into liblxc, printing a marker line before
# each. Errors are not checked, as in the original: where the move fails (cpuset on a modern v1
# host: "No space left on device"), the shell stays where it was and both runs show that.
export CGROUP_NAME="test-lxc/plainc-lxc-$(date +%s)"
export SELF_PID="$$"

setup_cgroup() {
  for procs in $(ls /sys/fs/cgroup/*/cgroup.procs); do
    dir="${procs%/cgroup.procs}/${CGROUP_NAME}"
    mkdir -p "${dir}"
    echo "${SELF_PID}" > "${dir}/cgroup.procs"
  done
}

setup_cgroup

echo RUNNING WITHOUT LINKING LXC
gcc -o hello-nolxc ./main.c $(pkg-config --libs --cflags lxc)
./hello-nolxc

echo
echo RUNNING WITH LINKING LXC
gcc -o hello-lxc ./main.c -DLINK_LXC $(pkg-config --libs --cflags lxc)
./hello-lxc
