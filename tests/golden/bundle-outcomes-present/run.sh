#!/bin/sh
# outcomes:present@bookworm: Every outcome of the vocabulary, from a tiny shell reproducer
# Written by `lab.py export` (reprolab 0.1.0). Needs sh and docker (and awk, grep, tee,
# mktemp, sleep: POSIX tools), nothing else; see README.md.
#
#   sh run.sh   builds the image from this folder, runs the reproducer once as the lab ran it,
#               prints its output (its verdict line last) and exits 0 when the outcome is
#               reproduced (what this bundle claims), 1 when it differs, 2 when there is no
#               verdict or this host lacks a prerequisite.
#   IMAGE=name sh run.sh   the same under another image tag.
#   NO_CACHE=1 sh run.sh   the same, building every step anew (docker build --no-cache).
set -u
CLAIM=reproduced
TIMEOUT=5
CONTENT_HASH=827a9d144a309c79
IMAGE=${IMAGE:-reprolab-bundle/outcomes:present-bookworm-827a9d144a309c79}
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

say "building $IMAGE from $here (FROM $BASE; docker's output on stderr)"
docker build --force-rm ${NO_CACHE:+--no-cache} -t "$IMAGE" "$here" >&2 ||
    fail "the image did not build (docker's output above); no verdict"
built=$(docker image inspect --format '{{ index .Config.Labels "org.reprolab.content-hash" }}' "$IMAGE" 2>/dev/null)
if [ "$built" = "$CONTENT_HASH" ]; then
    say "image content hash $built, as in the reporter's run 20261201T120000Z-abcdef"
else
    say "warning: the image's content hash is '$built', this bundle's is $CONTENT_HASH"
fi

work=$(mktemp -d) || fail "mktemp -d failed"
name=reprolab-bundle-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1; rm -rf "$work"; }
trap 'cleanup; exit 130' INT TERM
# Settings: the record's `docker run` line (run 20261201T120000Z-abcdef).
docker create --name "$name" \
        --network=none \
        --cgroupns=private \
        --memory=64m \
        --memory-swap=64m \
        --pids-limit=64 \
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
say "running outcomes:present@bookworm (timeout $TIMEOUT s)"
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
