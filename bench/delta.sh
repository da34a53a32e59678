#!/usr/bin/env bash
# Delta benchmark: ota (with and without its executable transform) against HDiffPatch (the real
# hdiffz/hpatchz 5.1.3 built by bench/hdiffpatch.sh, and detools' HDiffPatch from PyPI),
# bsdiff, xdelta3, zstd --patch-from and plain xz -9e of the new image.
#
#   bench/delta.sh path/to/ota            (make bench calls it with the release build)
#
# Corpus (bench/corpus, gitignored): the executable pairs of bench/delta-corpus.sh (Debian 12
# packages, two adjacent versions each, amd64 and arm64: libpython3.11 and postgres (C),
# mariadbd (C++), librsvg (Rust), containerd (Go); a 256 MiB ext4 image of the unpacked amd64
# packages), plus the earlier numpy 2.2.4 -> 2.2.5 pairs (umath, generator), their ext4 images,
# a zero-heavy 128 MiB image and, where present, CPython 3.10 -> 3.11 libpython.
# Results: a Markdown table on stdout and in bench/results/delta.md. Tool ota-f3 (not in the
# default set) is ota without AArch64 ADRP pairs (format 3, `--no-aarch64-pairs`); tool ota-lean
# (not in the default set either) is the same patch made by `ota-diff` and applied by `ota-patch`
# (the executables without Foundation, built beside `ota`).
# Env: TIMEOUT (seconds per tool run, default 300); PAIRS and TOOLS (space-separated subsets);
# CORPUS_DIR (another corpus of NAME.old/NAME.new pairs, e.g. bench/delta-heldout.sh's; the
# tuning corpus is then not built, and PAIRS defaults to every pair in it) and RESULTS_NAME (table name in bench/results, default delta);
# REPEAT (runs of each diff and apply for ota, ota-plain and hdiffz, interleaved tool by tool,
# medians reported; default 1; other tools run once).
set -euo pipefail

OTA=$(realpath "${1:-.build/release/ota}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS_DIR:-$ROOT/bench/corpus}
RESULTS=$ROOT/bench/results
WORK=$(mktemp -d /tmp/ota-delta-bench.XXXXXX)
TIMEOUT=${TIMEOUT:-300}
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CORPUS" "$RESULTS"

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    if need apt-get; then (apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$@"; }) >/dev/null 2>&1 || true; fi
}
[ -x /usr/bin/time ] || apt_install time
need bsdiff || apt_install bsdiff
need xdelta3 || apt_install xdelta3
need zstd || apt_install zstd
need mke2fs || apt_install e2fsprogs
need unzip || apt_install unzip
need dpkg-deb || apt_install dpkg
need detools || pip install -q detools >/dev/null 2>&1 || echo "note: detools (HDiffPatch) did not install; its column will be empty" >&2

# ---- corpus -------------------------------------------------------------------------------
build_corpus() {
    local wheels=$CORPUS/wheels
    mkdir -p "$wheels"
    for v in 2.2.4 2.2.5; do
        if ! ls "$wheels"/numpy-$v-*.whl >/dev/null 2>&1; then
            pip download -q "numpy==$v" --no-deps --only-binary=:all: --python-version 3.11 \
                --platform manylinux_2_17_x86_64 -d "$wheels"
        fi
        if [ ! -d "$wheels/numpy-$v" ]; then
            unzip -q -o "$wheels"/numpy-$v-*.whl -d "$wheels/numpy-$v"
        fi
    done
    local a=$wheels/numpy-2.2.4 b=$wheels/numpy-2.2.5
    cp "$a/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so" "$CORPUS/umath.old"
    cp "$b/numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so" "$CORPUS/umath.new"
    cp "$a/numpy/random/_generator.cpython-311-x86_64-linux-gnu.so" "$CORPUS/generator.old"
    cp "$b/numpy/random/_generator.cpython-311-x86_64-linux-gnu.so" "$CORPUS/generator.new"
    # ext4 images of the two unpacked trees (fixed UUID, hash seed and time: reproducible).
    for side in old:$a new:$b; do
        local name=${side%%:*} tree=${side#*:}
        rm -f "$CORPUS/ext4.$name"
        E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -U 6f0c1b2a-0000-4000-8000-000000000001 \
            -E hash_seed=6f0c1b2a-0000-4000-8000-000000000002,root_owner=0:0 -d "$tree" "$CORPUS/ext4.$name" 96M >/dev/null
    done
    # Zero-heavy: 128 MiB of free space with a few data regions; the new image moves one,
    # rewrites one and adds one (bsdiff is quadratic on long zero runs).
    python3 - "$CORPUS" <<'PY'
import random, sys
out = sys.argv[1]
size = 128 << 20
rnd = random.Random(7)
blob = [rnd.randbytes(1 << 20) for _ in range(4)]
old = bytearray(size); new = bytearray(size)
for i, off in enumerate([1 << 20, 20 << 20, 64 << 20, 100 << 20]):
    old[off:off + (1 << 20)] = blob[i]
new[:] = old
new[20 << 20:21 << 20] = bytes(1 << 20)                      # a file deleted...
new[90 << 20:91 << 20] = blob[1]                              # ...moved
new[(64 << 20):(64 << 20) + 4096] = rnd.randbytes(4096)       # a block rewritten
u = (110 << 20) + 123
new[u:u + 300000] = rnd.randbytes(300000)                     # new unaligned data
assert len(new) == size
open(out + "/zeros.old", "wb").write(old); open(out + "/zeros.new", "wb").write(new)
PY
    local py=/root/.pyenv/versions
    if [ -f $py/3.10.13/lib/libpython3.10.so.1.0 ] && [ -f $py/3.11.7/lib/libpython3.11.so.1.0 ]; then
        cp $py/3.10.13/lib/libpython3.10.so.1.0 "$CORPUS/libpython.old"
        cp $py/3.11.7/lib/libpython3.11.so.1.0 "$CORPUS/libpython.new"
    fi
}
if [ -z "${CORPUS_DIR:-}" ]; then
    [ -f "$CORPUS/.built-v3" ] || { build_corpus && touch "$CORPUS/.built-v3"; }
    [ -f "$CORPUS/.built-deb-v1" ] || { "$ROOT/bench/delta-corpus.sh" >/dev/null && touch "$CORPUS/.built-deb-v1"; }
fi
HDP=$("$ROOT/bench/hdiffpatch.sh" 2>/dev/null || true)

# ---- runs ---------------------------------------------------------------------------------
# measure command...: runs under /usr/bin/time, prints "wall_s maxrss_kib user_s sys_s" or "fail".
measure() {
    local log=$WORK/time.log
    if timeout "$TIMEOUT" /usr/bin/time -f "%e %M %U %S" -o "$log" "$@" >/dev/null 2>"$WORK/err.log"; then
        cat "$log"
    else
        echo "fail"
    fi
}

tool_create() {  # tool old new patch
    case $1 in
        ota) measure "$OTA" delta create "$2" "$3" -o "$4" ;;
        ota-plain) measure "$OTA" delta create --no-exec-transform "$2" "$3" -o "$4" ;;
        ota-f3) measure "$OTA" delta create --no-aarch64-pairs "$2" "$3" -o "$4" ;;
        ota-lean) measure "$(dirname "$OTA")/ota-diff" "$2" "$3" -o "$4" ;;
        hdiffz) measure "$HDP/hdiffz" -m-6 -SD -c-lzma2-9-16m -f "$2" "$3" "$4" ;;
        bsdiff) measure bsdiff "$2" "$3" "$4" ;;
        xdelta3) measure xdelta3 -f -e -9 -s "$2" "$3" "$4" ;;
        zstd) measure zstd -q -f --patch-from="$2" --long=31 -19 "$3" -o "$4" ;;
        hdiffpatch) measure detools create_patch -t hdiffpatch -a hdiffpatch -c lzma "$2" "$3" "$4" ;;
        xz) measure sh -c 'xz -9e -T1 -k -c "$1" > "$2"' sh "$3" "$4" ;;
    esac
}
tool_apply() {  # tool old patch out
    case $1 in
        ota | ota-plain | ota-f3) measure "$OTA" delta apply "$2" "$3" -o "$4" ;;
        ota-lean) measure "$(dirname "$OTA")/ota-patch" "$2" "$3" -o "$4" ;;
        hdiffz) measure "$HDP/hpatchz" -f "$2" "$3" "$4" ;;
        bsdiff) measure bspatch "$2" "$4" "$3" ;;
        xdelta3) measure xdelta3 -f -d -s "$2" "$3" "$4" ;;
        zstd) measure zstd -q -f -d --patch-from="$2" --long=31 "$3" -o "$4" ;;
        hdiffpatch) measure detools apply_patch "$2" "$3" "$4" ;;
        xz) measure sh -c 'xz -d -c "$1" > "$2"' sh "$3" "$4" ;;
    esac
}

TOOLS=${TOOLS:-"ota ota-plain hdiffz hdiffpatch bsdiff xdelta3 zstd xz"}
if [ -n "${CORPUS_DIR:-}" ]; then
    # Another corpus: every NAME.old in it that has its NAME.new.
    default_pairs=$(for old in "$CORPUS"/*.old; do if [ -f "${old%.old}.new" ]; then basename "${old%.old}"; fi; done | tr '\n' ' ')
else
    default_pairs="libpython-amd64 libpython-arm64 postgres-amd64 postgres-arm64 mariadbd-amd64 mariadbd-arm64 librsvg-amd64 librsvg-arm64 containerd-amd64 containerd-arm64 debfs umath generator libpython ext4 zeros"
fi
PAIRS=${PAIRS:-$default_pairs}
[ -n "$PAIRS" ] || { echo "bench/delta.sh: no NAME.old/NAME.new pairs in $CORPUS" >&2; exit 1; }
need detools || TOOLS=${TOOLS/hdiffpatch /}
[ -n "$HDP" ] && [ -x "$HDP/hdiffz" ] || { echo "note: hdiffz/hpatchz did not build; their rows are missing" >&2; TOOLS=${TOOLS/hdiffz /}; }
timed() { case $1 in ota | ota-plain | ota-f3 | ota-lean | hdiffz) echo "${REPEAT:-1}" ;; *) echo 1 ;; esac; }
median() { sort -n | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"; }
table=$RESULTS/${RESULTS_NAME:-delta}.md
{
    echo "| pair | old → new (bytes) | tool | patch bytes | % of new | diff s (CPU s) | diff RSS MiB | apply s (CPU s) | apply RSS MiB | ok |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|---|"
} >"$table"
for pair in $PAIRS; do
    old=$CORPUS/$pair.old new=$CORPUS/$pair.new
    [ -f "$old" ] && [ -f "$new" ] || continue
    oldsize=$(stat -c %s "$old") newsize=$(stat -c %s "$new")
    # Rounds: every tool once per round, so the timed tools alternate under the same load.
    rounds=${REPEAT:-1}
    for tool in $TOOLS; do : >"$WORK/$tool.diff"; : >"$WORK/$tool.apply"; : >"$WORK/$tool.ok"; done
    for round in $(seq "$rounds"); do
        for tool in $TOOLS; do
            [ "$round" -le "$(timed "$tool")" ] || continue
            patch=$WORK/$pair.$tool.patch out=$WORK/$pair.$tool.out
            rm -f "$out"
            d=$(tool_create "$tool" "$old" "$new" "$patch")
            echo "$d" >>"$WORK/$tool.diff"
            if [ "$d" = fail ] || [ ! -s "$patch" ]; then continue; fi
            stat -c %s "$patch" >"$WORK/$tool.size"
            echo "$(tool_apply "$tool" "$old" "$patch" "$out")" >>"$WORK/$tool.apply"
            cmp -s "$out" "$new" && echo yes >>"$WORK/$tool.ok" || echo no >>"$WORK/$tool.ok"
            rm -f "$out"
        done
    done
    for tool in $TOOLS; do
        read -r dsec drss duser dsys <<<"$(median "$WORK/$tool.diff" <"$WORK/$tool.diff")"
        if [ "$dsec" = fail ] || [ ! -s "$WORK/$pair.$tool.patch" ]; then
            echo "| $pair | $oldsize → $newsize | $tool | – | – | >$TIMEOUT or failed | – | – | – | no |" >>"$table"
            continue
        fi
        psize=$(cat "$WORK/$tool.size")
        read -r asec arss auser asys <<<"$(grep -v fail "$WORK/$tool.apply" | median "$WORK/$tool.apply")"
        ok=yes; grep -q no "$WORK/$tool.ok" && ok=no
        python3 - "$pair" "$oldsize" "$newsize" "$tool" "$psize" "$dsec" "$drss" "${duser:-}" "${dsys:-}" \
            "${asec:-fail}" "${arss:-}" "${auser:-}" "${asys:-}" "$ok" >>"$table" <<'PY'
import sys
pair, old, new, tool, psize, dsec, drss, duser, dsys, asec, arss, auser, asys, ok = sys.argv[1:]
mib = lambda k: "–" if k in ("x", "fail", "") else f"{int(k) / 1024:.0f}"
def secs(wall, user, system):
    if wall in ("fail", ""): return "–"
    return f"{wall} ({float(user) + float(system):.2f})" if user else wall
print(f"| {pair} | {old} → {new} | {tool} | {int(psize):,} | {100 * int(psize) / max(int(new), 1):.2f} | "
      f"{secs(dsec, duser, dsys)} | {mib(drss)} | {secs(asec, auser, asys)} | {mib(arss)} | {ok} |")
PY
        rm -f "$WORK/$pair.$tool.patch"
    done
done
idle=$( /usr/bin/time -f "%M" "$OTA" --help 2>&1 >/dev/null | tail -1 )
echo "ota idle footprint (ota --help): $((idle / 1024)) MiB peak RSS" >>"$table"
echo "load while measuring: $(cat /proc/loadavg)" >>"$table"
cat "$table"
