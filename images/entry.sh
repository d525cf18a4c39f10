#!/bin/sh
# Entry point of every lab image.
#
# REPROLAB_REMOUNT=1: the host refused plain privileged mode and the container runs with the
# equivalent explicit settings; Docker still mounts /sys and the cgroup hierarchies read-only then,
# so remount them read-write as --privileged would.
#
# REPROLAB_EXPECT=<outcome> (set by docker-compose.yml): after the reproducer ends, exit 0 when its
# verdict's outcome is the expected one, 1 when it differs, 2 unless there is exactly one verdict line, so that
# `docker compose up --exit-code-from` tells the outcome. The lab itself never sets it.
if [ "${REPROLAB_REMOUNT:-0}" = 1 ]; then
    # A plain remount of a v1 cgroup mount fails with EBUSY; a bind remount changes only the
    # read-only flag of this mount point, which is what --privileged gives.
    for m in /sys /sys/fs/cgroup /sys/fs/cgroup/*; do
        if grep -q " $m " /proc/self/mounts; then
            mount -o remount,rw "$m" 2>/dev/null || mount -o remount,bind,rw "$m" 2>/dev/null ||
                echo "reprolab-entry: cannot remount $m rw" >&2
        fi
    done
fi
if [ -z "${REPROLAB_EXPECT:-}" ]; then
    exec "$@"
fi
out=$(mktemp)
"$@" | tee "$out"
outcome=
[ "$(grep -c '^REPROLAB-RESULT ' "$out")" = 1 ] &&
    outcome=$(grep '^REPROLAB-RESULT ' "$out" | sed -n 's/.*"outcome": *"\([a-z-]*\)".*/\1/p')
rm -f "$out"
[ -n "$outcome" ] || exit 2
[ "$outcome" = "$REPROLAB_EXPECT" ] || exit 1
exit 0
