#!/usr/bin/env bash
# `--prime-inserts` against `--no-prime-inserts` on the Rust tuning corpus (bench/corpus-rust, built by
# bench/rust-corpus.sh), or on the pair directories DIRS names instead: per pair and mode, the patch
# size, `ota-diff`'s wall time and peak RSS, and `ota-patch`'s, after checking the round trip.
# One round each; run it on an idle machine for the times (docs/PERFORMANCE.md, "Inserts primed
# with old bytes").
#
#   bench/prime-inserts.sh [path/to/ota]     env: DIRS (default bench/corpus-rust)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(dirname "$(realpath "${1:-$ROOT/.build/release/ota}")")
DIRS=${DIRS:-$ROOT/bench/corpus-rust}
for tool in ota-diff ota-patch; do
    [ -x "$BIN/$tool" ] || { echo "prime-inserts: $BIN/$tool is missing (make release)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-18s %-8s %10s %9s %10s %9s %10s\n' pair mode bytes diff_s diff_KiB apply_s apply_KiB
status=0
for dir in $DIRS; do
    [ -d "$dir" ] || { echo "note: $dir is missing (bench/rust-corpus.sh builds bench/corpus-rust)" >&2; continue; }
    for old in "$dir"/*.old; do
        [ -e "$old" ] || continue
        pair=${old%.old}
        name=$(basename "$pair")
        for mode in unprimed primed; do
            option=--no-prime-inserts
            [ $mode = primed ] && option=--prime-inserts
            /usr/bin/time -f "%e %M" -o "$work/diff" "$BIN/ota-diff" "$old" "$pair.new" -o "$work/patch" $option >/dev/null
            /usr/bin/time -f "%e %M" -o "$work/apply" "$BIN/ota-patch" "$old" "$work/patch" -o "$work/out" >/dev/null
            if ! cmp -s "$work/out" "$pair.new"; then
                echo "prime-inserts: $name $mode does not round-trip" >&2
                status=1
            fi
            read -r diff_s diff_kib <"$work/diff"
            read -r apply_s apply_kib <"$work/apply"
            printf '%-18s %-8s %10s %9s %10s %9s %10s\n' "$name" $mode "$(stat -c %s "$work/patch")" \
                "$diff_s" "$diff_kib" "$apply_s" "$apply_kib"
        done
    done
done
exit $status
