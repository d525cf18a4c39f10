#!/bin/sh
# Entry of the scenario: the first argument names the implementation (go, c, python); the rest
# goes to it. Each implementation prints its own REPROLAB-RESULT line; this script prints one
# only when it cannot start the implementation at all.
bin=$(dirname "$0")
impl=${1:-go}
[ $# -gt 0 ] && shift
nope() {
    echo "REPROLAB-RESULT {\"outcome\": \"error\", \"attempts\": 0, \"evidence\": {\"reason\": \"$1\"}, \"versions\": {}}"
    exit 1
}
case $impl in
    go) [ -x "$bin/repro-go" ] || nope "repro-go was not built into this image"
        exec "$bin/repro-go" "$@" ;;
    c) [ -x "$bin/repro-c" ] || nope "repro-c was not built into this image"
        exec "$bin/repro-c" "$@" ;;
    python) command -v python3 >/dev/null 2>&1 || nope "python3 is not installed in this image"
        exec python3 "$bin/rmtree_leak.py" "$@" ;;
    *) nope "unknown implementation $impl (go, c or python)" ;;
esac
