#!/usr/bin/env bash
# Apply speed and memory: `ota delta apply` and `ota-patch` (the vehicle-side applier without
# Foundation, built next to `ota`) beside `hpatchz` (HDiffPatch 5.1.3, bench/hdiffpatch.sh) on the
# pairs of bench/delta.sh's corpus, runs interleaved (ota, ota-patch, hpatchz, hpatchz+fsync, ota,
# ...), medians of wall and CPU (user + system) seconds, the largest peak RSS. hpatchz leaves its
# output in the page cache; "hpatchz+fsync" is hpatchz followed by `sync OUT DIR` (an fsync of the
# output and of its directory), what ota and ota-patch do before their rename.
#
#   bench/delta-apply.sh path/to/ota         env: PAIRS, REPEAT (default 5), PATCHES, PATCHER
# PATCHES=DIR keeps the patches made for each pair in DIR and reuses them on the next run (the
# diffs of the larger pairs take minutes on a loaded machine; delete DIR after changing the encoder).
# Prints a Markdown table (also bench/results/delta-apply.md) with the load average at the end.
set -euo pipefail
OTA=$(realpath "${1:-.build/release/ota}")
PATCHER=$(realpath "${PATCHER:-$(dirname "$OTA")/ota-patch}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=$ROOT/bench/corpus
HDP=$("$ROOT/bench/hdiffpatch.sh")
REPEAT=${REPEAT:-5}
PAIRS=${PAIRS:-"libpython-amd64 libpython-arm64 postgres-amd64 postgres-arm64 mariadbd-amd64 mariadbd-arm64 librsvg-amd64 librsvg-arm64 containerd-amd64 containerd-arm64 debfs"}
WORK=$(mktemp -d /tmp/ota-delta-apply.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$ROOT/bench/results"
table=$ROOT/bench/results/delta-apply.md
start_load=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "| pair | new bytes | wall s: ota apply / ota-patch / hpatchz / hpatchz+fsync (median of $REPEAT) | ota-patch ÷ hpatchz wall | ota-patch ÷ hpatchz+fsync wall | CPU s: ota apply / ota-patch / hpatchz | ota-patch ÷ hpatchz CPU | peak RSS MiB: ota apply / ota-patch / hpatchz |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$table"
for pair in $PAIRS; do
    old=$CORPUS/$pair.old new=$CORPUS/$pair.new
    [ -f "$old" ] && [ -f "$new" ] || continue
    patches=${PATCHES:-$WORK}
    mkdir -p "$patches"
    if [ ! -f "$patches/$pair.ota" ] || [ ! -f "$patches/$pair.hdp" ]; then
        "$OTA" delta create "$old" "$new" -o "$patches/$pair.ota" >/dev/null
        "$HDP/hdiffz" -m-6 -SD -c-lzma2-9-16m -f "$old" "$new" "$patches/$pair.hdp" >/dev/null
    fi
    cp "$patches/$pair.ota" "$WORK/p.ota"
    cp "$patches/$pair.hdp" "$WORK/p.hdp"
    : >"$WORK/ota.t"; : >"$WORK/lean.t"; : >"$WORK/hdp.t"; : >"$WORK/hdpsync.t"
    for _ in $(seq "$REPEAT"); do
        /usr/bin/time -f "%e %M %U %S" -a -o "$WORK/ota.t" "$OTA" delta apply "$old" "$WORK/p.ota" -o "$WORK/out" >/dev/null
        cmp -s "$WORK/out" "$new" || { echo "ota rebuilt $pair wrongly" >&2; exit 1; }
        /usr/bin/time -f "%e %M %U %S" -a -o "$WORK/lean.t" "$PATCHER" "$old" "$WORK/p.ota" -o "$WORK/out" >/dev/null
        cmp -s "$WORK/out" "$new" || { echo "ota-patch rebuilt $pair wrongly" >&2; exit 1; }
        /usr/bin/time -f "%e %M %U %S" -a -o "$WORK/hdp.t" "$HDP/hpatchz" -f "$old" "$WORK/p.hdp" "$WORK/out" >/dev/null
        cmp -s "$WORK/out" "$new" || { echo "hpatchz rebuilt $pair wrongly" >&2; exit 1; }
        rm -f "$WORK/out"; sync
        # shellcheck disable=SC2016 # expanded by the inner shell, from its arguments
        /usr/bin/time -f "%e %M %U %S" -a -o "$WORK/hdpsync.t" sh -c '"$1" -f "$2" "$3" "$4" >/dev/null && sync "$4" "$5"' \
            sh "$HDP/hpatchz" "$old" "$WORK/p.hdp" "$WORK/out" "$WORK"
        cmp -s "$WORK/out" "$new" || { echo "hpatchz+fsync rebuilt $pair wrongly" >&2; exit 1; }
    done
    python3 - "$pair" "$(stat -c %s "$new")" "$WORK/ota.t" "$WORK/lean.t" "$WORK/hdp.t" "$WORK/hdpsync.t" >>"$table" <<'PY'
import statistics, sys
pair, size, ota, lean, hdp, hdpsync = sys.argv[1:]
def load(path):
    rows = [line.split() for line in open(path) if line.strip() and line.split()[0][0].isdigit()]
    return (statistics.median(float(r[0]) for r in rows), max(int(r[1]) for r in rows) / 1024,
            statistics.median(float(r[2]) + float(r[3]) for r in rows))
(ot, orss, oc), (lt, lrss, lc), (ht, hrss, hc), (st, _, _) = load(ota), load(lean), load(hdp), load(hdpsync)
print(f"| {pair} | {int(size):,} | {ot:.2f} / {lt:.2f} / {ht:.2f} / {st:.2f} | {lt / max(ht, 0.005):.2f} "
      f"| {lt / max(st, 0.005):.2f} "
      f"| {oc:.2f} / {lc:.2f} / {hc:.2f} | {lc / max(hc, 0.005):.2f} | {orss:.1f} / {lrss:.1f} / {hrss:.1f} |")
PY
done
echo "load average at the start: $start_load; at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$table"
cat "$table"
