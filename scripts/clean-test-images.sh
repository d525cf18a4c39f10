#!/usr/bin/env bash
# Remove the images the tests' fixtures build (label org.reprolab.fixture=true: the images of the
# scenarios tagged `fixture` under tests/fixtures/, and of those the tests write), so that the next
# test meets the engine as a fresh machine has it. The bases (debian:*) and the images of
# scenarios/ carry no such label and stay. No force: an image a container still uses (another run
# of the tests on the same engine) is left, and named. .ci/run calls this before `make test`.
#
#   bash scripts/clean-test-images.sh [--filter label=KEY=VALUE ...]   (extra filters narrow it)
set -euo pipefail
LABEL=org.reprolab.fixture=true
filters=(--filter "label=$LABEL")
while [ "$#" -gt 0 ]; do
    case "$1" in
        --filter) [ "$#" -ge 2 ] || { echo "clean-test-images: --filter needs a value" >&2; exit 2; }
                  filters+=(--filter "$2"); shift 2 ;;
        *) echo "clean-test-images: unknown argument '$1'; usage: $0 [--filter label=KEY=VALUE ...]" >&2; exit 2 ;;
    esac
done
docker info >/dev/null 2>&1 || { echo "clean-test-images: no Docker engine answers (scripts/setup-host.sh starts one)" >&2; exit 2; }

removed=0 left=0
# tagged images by their names first (an id with two names refuses a removal by id), then the
# untagged ones (older builds whose name moved on) by id
names=$(docker images "${filters[@]}" --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' | sort -u || true)
for name in $names; do
    if out=$(docker rmi "$name" 2>&1); then
        removed=$((removed + 1))
    else
        left=$((left + 1))
        echo "clean-test-images: left $name: ${out##*Error response from daemon: }" >&2
    fi
done
ids=$(docker images "${filters[@]}" --filter dangling=true --format '{{.ID}}' | sort -u || true)
for id in $ids; do
    if out=$(docker rmi "$id" 2>&1); then
        removed=$((removed + 1))
    else
        left=$((left + 1))
        echo "clean-test-images: left $id: ${out##*Error response from daemon: }" >&2
    fi
done
echo "clean-test-images: removed $removed test-fixture image(s) ($LABEL), left $left"
