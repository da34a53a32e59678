#!/usr/bin/env bash
# Builds the executable part of the delta benchmark corpus (bench/corpus/deb, gitignored) from
# Debian packages: for each program, two adjacent versions that Debian 12 publishes side by side
# (the point release and a security/stable update), for amd64 and arm64, downloaded with
# `apt-get download` (arm64 needs `dpkg --add-architecture arm64`, which this script adds) and
# unpacked with `dpkg-deb -x`. Also two 256 MiB ext4 images of the unpacked amd64 trees.
#
#   bench/delta-corpus.sh            (bench/delta.sh calls it)
#
# Pairs written as bench/corpus/NAME.old / NAME.new. Languages: C (libpython, postgres),
# C++ (mariadbd), Rust (librsvg), Go (containerd). Versions are pinned below; when Debian
# drops one from its indices the pair is skipped with a note (the mirror keeps only what the
# current indices list).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=$ROOT/bench/corpus
DEB=$CORPUS/deb
mkdir -p "$DEB"

# name package old-version new-version path-inside-package (@TRIPLET@ replaced per architecture)
PROGRAMS=(
    "libpython libpython3.11 3.11.2-6+deb12u8 3.11.2-6+deb12u9 usr/lib/@TRIPLET@/libpython3.11.so.1.0"
    "postgres postgresql-15 15.18-0+deb12u1 15.20-0+deb12u1 usr/lib/postgresql/15/bin/postgres"
    "mariadbd mariadb-server-core 1:10.11.18-0+deb12u1 1:10.11.19-0+deb12u1 usr/sbin/mariadbd"
    "librsvg librsvg2-2 2.54.7+dfsg-1~deb12u1 2.54.7+dfsg-1~deb12u2 usr/lib/@TRIPLET@/librsvg-2.so.2.48.0"
    "containerd containerd 1.6.20~ds1-1+deb12u2 1.6.20~ds1-1+deb12u3 usr/bin/containerd"
)
ARCHES=${ARCHES:-"amd64 arm64"}

# shellcheck source=bench/lib/debian-pairs.bash
source "$ROOT/bench/lib/debian-pairs.bash"
debian_pairs "$CORPUS" "$ARCHES" "${PROGRAMS[@]}"

# ext4 images of the unpacked amd64 package trees (fixed UUID, hash seed and time).
if [[ " $ARCHES " == *" amd64 "* ]]; then
    for side in old new; do
        staging=$(mktemp -d "$DEB/fs.XXXXXX")
        for entry in "${PROGRAMS[@]}"; do
            read -r name package _ _ _ <<<"$entry"
            [ -d "$DEB/$package-amd64-$side" ] && cp -a "$DEB/$package-amd64-$side/." "$staging/"
        done
        rm -f "$CORPUS/debfs.$side"
        E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -U 6f0c1b2a-0000-4000-8000-000000000011 \
            -E hash_seed=6f0c1b2a-0000-4000-8000-000000000012,root_owner=0:0 -d "$staging" "$CORPUS/debfs.$side" 256M >/dev/null
        rm -rf "$staging"
    done
fi
ls -la "$CORPUS"/*-amd64.* "$CORPUS"/*-arm64.* "$CORPUS"/debfs.* 2>/dev/null | awk '{print $5, $9}'
