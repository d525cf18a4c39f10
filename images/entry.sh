#!/bin/sh
# Entry point of every lab image. When the host refused plain privileged mode, the lab runs the
# container with the equivalent explicit settings and sets REPROLAB_REMOUNT=1: Docker still mounts
# /sys and the cgroup hierarchies read-only then, so remount them read-write as --privileged would.
if [ "${REPROLAB_REMOUNT:-0}" = 1 ]; then
    mount -o remount,rw /sys 2>/dev/null || echo "reprolab-entry: cannot remount /sys rw" >&2
    for m in /sys/fs/cgroup /sys/fs/cgroup/*; do
        if grep -q " $m " /proc/self/mounts; then
            mount -o remount,rw "$m" 2>/dev/null || echo "reprolab-entry: cannot remount $m rw" >&2
        fi
    done
fi
exec "$@"
