#!/usr/bin/env bash
# A held-out delta corpus: programs the encoder was never tuned on, measured with bench/delta.sh
# exactly like the tuning corpus (bench/delta-corpus.sh), so a win that holds only on the pairs we
# tuned on shows here as a loss. Nothing in OTADelta may be changed because of these pairs; add
# new programs instead when a change was made with one of them in view.
#
#   bench/delta-heldout.sh path/to/ota       env: SET, ARCHES (default "amd64 arm64"), PAIRS, TOOLS, REPEAT, TIMEOUT
#
# SET=fresh measures a second held-out set instead (bench/corpus-fresh, no filesystem image), made
# on 2026-11-30 after the first had been used to reject a change (e10a382), so it is unseen again:
# C (glibc's libc.so.6, libcurl, nginx, BIND's named), C++ (LibreOffice's libmergedlo, 69 MB;
# Poppler) and Rust (rustc-web's `cargo`, 1.85 -> 1.96: eleven releases apart, the only Rust
# program left that Debian 12 publishes in two versions). No Go program is left: every Go package
# Debian 12 publishes in two versions is already in a corpus.
#
# SET=third measures a third held-out set (bench/corpus-third), made on 2026-11-30 evening after
# the second had been used for the primed inserts: C (PHP's php8.2, Ghostscript's libgs, 22 MB;
# ImageMagick's libMagickCore; Unbound) and C++ (Squid; OpenJDK 17's HotSpot libjvm, 24 MB, three
# releases apart). libjvm was measured once before the set existed, after the prime's start had
# been chosen, to check it (docs/PERFORMANCE.md, "Which old bytes are primed"); the rest unseen.
#
# SET=fourth measures a fourth held-out set (bench/corpus-fourth), made on 2026-12-02 before the
# inserts dictionary's default was raised to 16 MiB, to judge that change on programs unseen:
# Rust programs that Debian 13 (trixie) and Debian 14 (forky, testing) publish in different
# versions, chosen by size so that most outgrow 8 MiB (Sequoia's sq, Podman's netavark, broot,
# atuin, meli, ntpd-rs's daemon, starship, git-delta, sccache, mdBook). forky is a moving suite:
# its versions are pinned here, and a pair whose version forky replaced is skipped with a note.
#
# Pairs: two versions of each package that Debian 12 publishes side by side (point release and
# security update), amd64 and arm64, downloaded with `apt-get download` into bench/corpus-heldout
# (gitignored). Languages: C (OpenSSL's libcrypto, systemd's shared library, OpenSSH's sshd,
# libxml2, QEMU), C++ (Node.js's libnode with V8, WebKit's JavaScriptCore), Go (git-lfs, a
# security update; snapd's `snap`, the same source rebuilt by a binNMU with a newer Go toolchain),
# Rust (cbindgen 0.27.0 -> 0.29.4: two releases apart, the only Rust program besides the tuning
# corpus's librsvg and rustc's own tools that Debian 12 publishes in two versions; found by
# reading the Built-Using/Static-Built-Using fields of the bookworm, -updates and -security
# Packages lists), and `heldfs`, 256 MiB ext4 images of the unpacked amd64 packages, old and new.
# Versions are pinned; when Debian drops one from its indices the pair is skipped with a note.
set -euo pipefail
OTA=$(realpath "${1:-.build/release/ota}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SET=${SET:-heldout}
case $SET in heldout | fresh | third | fourth) ;; *) echo "SET must be heldout, fresh, third or fourth, not '$SET'" >&2; exit 1 ;; esac
CORPUS=$ROOT/bench/corpus-$SET
DEB=$CORPUS/deb
mkdir -p "$DEB"

# name package old-version new-version path-inside-package (@TRIPLET@ replaced per architecture;
# a trailing * matches the one file the package holds under that name)
PROGRAMS=(
    "libcrypto libssl3 3.0.20-1~deb12u2 3.0.22-1~deb12u2 usr/lib/@TRIPLET@/libcrypto.so.3"
    "systemd-shared libsystemd-shared 252.38-1~deb12u1 252.39-1~deb12u2 usr/lib/@TRIPLET@/systemd/libsystemd-shared-252.so"
    "sshd openssh-server 1:9.2p1-2+deb12u9 1:9.2p1-2+deb12u10 usr/sbin/sshd"
    "libxml2 libxml2 2.9.14+dfsg-1.3~deb12u4 2.9.14+dfsg-1.3~deb12u6 usr/lib/@TRIPLET@/libxml2.so.2.9.14"
    "qemu qemu-system-arm 1:7.2+dfsg-7+deb12u15 1:7.2+dfsg-7+deb12u18+b3 usr/bin/qemu-system-aarch64"
    "libnode libnode108 18.20.4+dfsg-1~deb12u2 18.20.4+dfsg-1~deb12u3 usr/lib/@TRIPLET@/libnode.so.108"
    "jsc libjavascriptcoregtk-4.1-0 2.50.6-1~deb12u1 2.50.6-1~deb12u2 usr/lib/@TRIPLET@/libjavascriptcoregtk-4.1.so.0.*"
)
# Go and Rust programs (added 2026-11-29; not in `heldfs`, whose images stay as first made).
GO_RUST_PROGRAMS=(
    "git-lfs git-lfs 3.3.0-1+deb12u1 3.3.0-1+deb12u2 usr/bin/git-lfs"
    "snap snapd 2.57.6-1+deb12u1 2.57.6-1+deb12u1+b2 usr/bin/snap"
    "cbindgen cbindgen-web 0.27.0-1~deb12u1 0.29.4+dfsg-1~deb12u1 usr/bin/cbindgen*"
)
# The second held-out set (SET=fresh).
FRESH_PROGRAMS=(
    "libc libc6 2.36-9+deb12u7 2.36-9+deb12u14 lib/@TRIPLET@/libc.so.6"
    "libcurl libcurl4 7.88.1-10+deb12u5 7.88.1-10+deb12u15 usr/lib/@TRIPLET@/libcurl.so.4.8.0"
    "nginx nginx 1.22.1-9+deb12u9 1.22.1-9+deb12u11 usr/sbin/nginx"
    "named bind9 1:9.18.49-1~deb12u1 1:9.18.49-1~deb12u3 usr/sbin/named"
    "libmergedlo libreoffice-core 4:7.4.7-1+deb12u13 4:7.4.7-1+deb12u14 usr/lib/libreoffice/program/libmergedlo.so"
    "poppler libpoppler126 22.12.0-2+deb12u2 22.12.0-2+deb12u3 usr/lib/@TRIPLET@/libpoppler.so.126.*"
    "cargo cargo-web 1.85.0+dfsg3-1~deb12u3 1.96.0+dfsg1-1~deb12u2 usr/bin/cargo"
)
# The third held-out set (SET=third).
THIRD_PROGRAMS=(
    "php php8.2-cli 8.2.32-1~deb12u1 8.2.36-1~deb12u1 usr/bin/php8.2"
    "libgs libgs10 10.0.0~dfsg-11+deb12u8 10.0.0~dfsg-11+deb12u9 usr/lib/@TRIPLET@/libgs.so.10.00"
    "libmagickcore libmagickcore-6.q16-6 8:6.9.11.60+dfsg-1.6+deb12u11 8:6.9.11.60+dfsg-1.6+deb12u15 usr/lib/@TRIPLET@/libMagickCore-6.Q16.so.6.0.0"
    "unbound unbound 1.17.1-2+deb12u3 1.17.1-2+deb12u4 usr/sbin/unbound"
    "squid squid 5.7-2+deb12u5 5.7-2+deb12u6 usr/sbin/squid"
    "libjvm openjdk-17-jre-headless 17.0.19+10-1~deb12u2 17.0.21.1+2-1~deb12u1 usr/lib/jvm/java-17-openjdk-@ARCH@/lib/server/libjvm.so"
)
# The fourth held-out set (SET=fourth): trixie -> forky.
FOURTH_PROGRAMS=(
    "sq sq 1.3.1-2+b2 1.4.1-1 usr/bin/sq"
    "netavark netavark 1.14.0-2 1.17.2-3 usr/lib/podman/netavark"
    "broot broot 1.46.3-2 1.60.2+ds-1 usr/bin/broot"
    "atuin atuin 18.6.1-1+b1 18.23.0+ds-1 usr/bin/atuin"
    "meli meli 0.8.11+dfsg-1+b1 0.8.13+dfsg-5 usr/bin/meli"
    "ntpd-rs ntpd-rs 1.4.0-6+b3 1.9.0-1+b2 usr/bin/ntp-daemon"
    "starship starship 1.22.1-5 1.27.0-1 usr/bin/starship"
    "git-delta git-delta 0.18.2-4+b1 0.20.1+ds-1 usr/bin/delta"
    "sccache sccache 0.10.0-4 0.17.0+ds-3+b2 usr/bin/sccache"
    "mdbook mdbook 0.4.48+ds-2 0.5.4+ds-2 usr/bin/mdbook"
)
ARCHES=${ARCHES:-"amd64 arm64"}

# shellcheck source=bench/lib/debian-pairs.bash
source "$ROOT/bench/lib/debian-pairs.bash"
case $SET in
fresh) debian_pairs "$CORPUS" "$ARCHES" "${FRESH_PROGRAMS[@]}" ;;
third) debian_pairs "$CORPUS" "$ARCHES" "${THIRD_PROGRAMS[@]}" ;;
fourth)
    debian_suites "$CORPUS/apt" trixie forky
    debian_pairs "$CORPUS" "$ARCHES" "${FOURTH_PROGRAMS[@]}"
    ;;
*) debian_pairs "$CORPUS" "$ARCHES" "${PROGRAMS[@]}" "${GO_RUST_PROGRAMS[@]}" ;;
esac
pairs=("${DEBIAN_PAIRS[@]}")

# A filesystem image pair: 256 MiB ext4 images of the unpacked amd64 package trees, old and new
# (fixed UUID, hash seed and time, so only the package contents differ).
if [ "$SET" = heldout ] && [[ " $ARCHES " == *" amd64 "* ]]; then
    for side in old new; do
        [ -f "$CORPUS/heldfs.$side" ] && continue
        staging=$(mktemp -d "$DEB/fs.XXXXXX")
        for entry in "${PROGRAMS[@]}"; do
            read -r _ package _ _ _ <<<"$entry"
            [ -d "$DEB/$package-amd64-$side" ] && cp -a "$DEB/$package-amd64-$side/." "$staging/"
        done
        E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -U 6f0c1b2a-0000-4000-8000-000000000021 \
            -E hash_seed=6f0c1b2a-0000-4000-8000-000000000022,root_owner=0:0 -d "$staging" "$CORPUS/heldfs.$side" 256M >/dev/null
        rm -rf "$staging"
    done
    pairs+=(heldfs)
fi
# The fourth set's filesystem pair (added 2026-12-02, after the recompressed streams were built
# and tuned on other pairs): 256 MiB ext4 images of its unpacked amd64 packages, whose trees hold
# ~150 gzip files (man pages, changelogs) beside the programs: a rootfs update's compressed files.
if [ "$SET" = fourth ] && [[ " $ARCHES " == *" amd64 "* ]]; then
    for side in old new; do
        [ -f "$CORPUS/fourthfs.$side" ] && continue
        staging=$(mktemp -d "$DEB/fs.XXXXXX")
        for tree in "$DEB"/*-amd64-"$side"; do cp -a "$tree/." "$staging/"; done
        E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -U 6f0c1b2a-0000-4000-8000-000000000041 \
            -E hash_seed=6f0c1b2a-0000-4000-8000-000000000042,root_owner=0:0 -d "$staging" "$CORPUS/fourthfs.$side" 256M >/dev/null
        rm -rf "$staging"
    done
    pairs+=(fourthfs)
fi
ls -la "$CORPUS"/*.old "$CORPUS"/*.new | awk '{print $5, $9}'

CORPUS_DIR=$CORPUS RESULTS_NAME=delta-$SET PAIRS="${PAIRS:-${pairs[*]}}" "$ROOT/bench/delta.sh" "$OTA"
