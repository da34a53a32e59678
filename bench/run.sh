#!/usr/bin/env bash
# `make bench`: runs every benchmark script in bench/ against the release build of ota.
# Usage: bench/run.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "${1:-.build/release/ota}")
mkdir -p bench/results
status=0
for script in bench/*.sh; do
    [ "$script" = bench/run.sh ] && continue
    echo "== $script"
    if ! "$script" "$ota"; then
        echo "bench: $script failed" >&2
        status=1
    fi
done
exit $status
