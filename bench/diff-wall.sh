#!/usr/bin/env bash
# Diff wall time, peak RSS and patch size of `ota-diff` beside `hdiffz -m-6` (bench/diff-compare.py:
# interleaved rounds, medians, ratios), by default, with `--no-prime-inserts` and with that and
# `--parallel-inserts` (a primed patch keeps one inserts encoder), on every pair
# of the Rust tuning corpus (bench/rust-corpus.sh) and the executable pairs of the tuning corpus
# (bench/delta-corpus.sh); DIRS names other pair directories instead. Run it on an idle machine:
# two runs of one build differed by up to ±15% on a loaded one (docs/PERFORMANCE.md).
#
#   bench/diff-wall.sh [path/to/ota]     env: ROUNDS (default 3), DIRS
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(dirname "$(realpath "${1:-$ROOT/.build/release/ota}")")
ROUNDS=${ROUNDS:-3}
DIRS=${DIRS:-"$ROOT/bench/corpus-rust $ROOT/bench/corpus"}
[ -x "$BIN/ota-diff" ] || { echo "diff-wall: $BIN/ota-diff is missing (make release)" >&2; exit 1; }
[ -x "$ROOT/bench/tools/hdiffpatch/hdiffz" ] || "$ROOT/bench/hdiffpatch.sh" >/dev/null
for dir in $DIRS; do
    [ -d "$dir" ] || { echo "note: $dir is missing (bench/rust-corpus.sh, bench/delta-corpus.sh)" >&2; continue; }
    pairs=()
    for old in "$dir"/*.old; do
        [ -e "$old" ] || continue
        name=$(basename "${old%.old}")
        # Filesystem images are bench/delta-large.sh's: only executables here.
        [ "$name" = debfs ] && continue
        pairs+=("$name")
    done
    [ ${#pairs[@]} -gt 0 ] || continue
    echo "== $dir"
    python3 "$ROOT/bench/diff-compare.py" "$ROUNDS" "$dir" default="$BIN/ota-diff" \
        unprimed="$BIN/ota-diff,--no-prime-inserts" \
        parallel="$BIN/ota-diff,--no-prime-inserts,--parallel-inserts" -- "${pairs[@]}"
done
