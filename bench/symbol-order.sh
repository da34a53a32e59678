#!/usr/bin/env bash
# Regenerates Sources/ota-patch/ota-patch.order, the link order of `ota-patch`'s functions
# (lld --symbol-ordering-file, Package.swift): every function the executable runs, in the order
# callgrind first lists them, for --version, --help, a refused patch, five applies of the
# tuning corpus (x86-64 and AArch64 code, one shared object, one small program on one thread) and
# two of the Rust tuning corpus (bench/corpus-rust: inserts primed, split on x86-64 and aligned on
# AArch64). Linked first and together, the code
# a run touches fills ~0.3 MiB of pages instead of being spread over the 4.6 MB of text, where
# every touched page-cache folio (often 128-640 KiB on this kernel) counted in peak RSS
# (docs/PERFORMANCE-LOG.md, "Start-up footprint"). Names the linker does not find are skipped, so a
# stale file costs only the pages of the functions renamed since; re-run after large changes.
#
#   bench/symbol-order.sh path/to/ota-patch PATCHDIR   (PATCHDIR: PAIR.ota for the pairs below;
#   make them with the `ota-diff` of the tree, so that the codings it now writes are run)
# Needs valgrind. Takes a few minutes (the applies run ~50x slower under callgrind).
set -euo pipefail
BIN=$(realpath "$1")
PATCHES=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=$ROOT/bench/corpus
WORK=$(mktemp -d /tmp/ota-symbol-order.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
profile() { # NAME ARGS...
    local name=$1
    shift
    valgrind -q --tool=callgrind --demangle=no --callgrind-out-file="$WORK/$name.out" "$BIN" "$@" \
        >/dev/null 2>&1 || true
}
profile 1-version --version
profile 2-help --help
profile 3-missing /nonexistent /nonexistent -o "$WORK/new"
profile 4-refused "$CORPUS/postgres-amd64.old" "$PATCHES/librsvg-amd64.ota" -o "$WORK/new"
n=5
# generator (1 MiB) is small enough to be applied on one thread (Delta.threads): its
# functions too.
for pair in postgres-amd64 postgres-arm64 librsvg-amd64 containerd-arm64 generator; do
    profile "$n-$pair" "$CORPUS/$pair.old" "$PATCHES/$pair.ota" -o "$WORK/new"
    cmp "$WORK/new" "$CORPUS/$pair.new"
    n=$((n + 1))
done
# Updates that are mostly new code: their patches prime the inserts (split with code 5).
for pair in zoxide-amd64 zoxide-arm64; do
    profile "$n-$pair" "$ROOT/bench/corpus-rust/$pair.old" "$PATCHES/$pair.ota" -o "$WORK/new"
    cmp "$WORK/new" "$ROOT/bench/corpus-rust/$pair.new"
    n=$((n + 1))
done
python3 - "$BIN" "$WORK"/*.out >"$ROOT/Sources/ota-patch/ota-patch.order" <<'PYTHON'
import os, re, sys
binary, seen = sys.argv[1], {}
# In run order: N-NAME.out by N (the shell's glob puts 10 before 2).
for path in sorted(sys.argv[2:], key=lambda p: int(os.path.basename(p).split("-")[0])):
    names, objects, current = {}, {}, None
    for line in open(path, errors="replace"):
        match = re.match(r"^(c?fn|c?ob)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not match:
            continue
        kind, ident, name = match.groups()
        table = objects if kind.endswith("ob") else names
        if name is not None:
            table[ident] = name
        if kind == "ob":
            current = objects[ident]
        elif kind == "fn" and current == binary:
            symbol = re.sub(r"'\d+$", "", names[ident])  # callgrind's recursion-depth suffix
            if not symbol.startswith("0x") and symbol != "(below main)":
                seen.setdefault(symbol, None)
print("\n".join(seen))
PYTHON
wc -l "$ROOT/Sources/ota-patch/ota-patch.order"
