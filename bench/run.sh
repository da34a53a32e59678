#!/usr/bin/env bash
# `make bench`: runs the benchmarks below against the release build of ota, corpus builders
# first (a later benchmark reads the corpus an earlier one built), and exits 1 if any failed.
# Not run here: the A/B tools (bench/diff-compare.py, bench/apply-compare.py,
# bench/install-delta-compare.sh), which compare two builds given on their command line, and
# bench/symbol-order.sh, which rewrites a source file.
# Usage: bench/run.sh [path/to/ota]      env: BENCHES (names from the list, e.g. "delta install")
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "${1:-.build/release/ota}")
all="delta delta-heldout rust-corpus delta-apply diff-wall prime-inserts delta-large bundle bundle-sizes
    install agent records fleet fleet-ingest"
mkdir -p bench/results
status=0
for name in ${BENCHES:-$all}; do
    script=bench/$name.sh
    case " $(echo $all) " in
    *" $name "*) ;;
    *)
        echo "bench: no benchmark named $name (one of: $(echo $all))" >&2
        exit 2
        ;;
    esac
    echo "== $script"
    if ! "$script" "$ota"; then
        echo "bench: $script failed" >&2
        status=1
    fi
done
exit $status
