#!/usr/bin/env bash
# Builds the real HDiffPatch command-line tools (hdiffz, hpatchz) into bench/tools/hdiffpatch
# (gitignored) from the source tree inside PyPI's `hdiffpatch` sdist (it vendors HDiffPatch
# 5.1.3 with its lzma, zlib, bzip2, libdeflate and md5 sources). Nothing of it is committed.
#
#   bench/hdiffpatch.sh        prints the directory holding hdiffz and hpatchz
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/bench/tools
DEST=$TOOLS/hdiffpatch
VERSION=${HDIFFPATCH_SDIST_VERSION:-2.6.0}
if [ ! -x "$DEST/hdiffz" ] || [ ! -x "$DEST/hpatchz" ]; then
    mkdir -p "$TOOLS"
    work=$(mktemp -d "$TOOLS/build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    pip download -q --no-deps --no-binary hdiffpatch "hdiffpatch==$VERSION" -d "$work" >&2
    tar xzf "$work"/hdiffpatch-"$VERSION".tar.gz -C "$work"
    src=$work/hdiffpatch-$VERSION/hdiffpatch/_c_src/HDiffPatch
    # zstd and xxHash are not vendored in the sdist: build without them (lzma/lzma2 are what we compare).
    make -C "$src" -j2 ZSTD=0 XXH=0 hdiffz hpatchz >"$work/make.log" 2>&1 || { tail -20 "$work/make.log" >&2; exit 1; }
    mkdir -p "$DEST"
    cp "$src/hdiffz" "$src/hpatchz" "$DEST/"
fi
echo "$DEST"
