#!/usr/bin/env bash
# Builds the Rust tuning corpus (bench/corpus-rust, gitignored): Rust programs that Debian 12
# (bookworm) and Debian 13 (trixie) both publish, several upstream releases apart (the case where
# most of a patch is inserted code), amd64 and arm64, plus tealdeer (two minor releases apart).
# It is a tuning corpus: choices made on it are not evidence for other programs.
#
#   bench/rust-corpus.sh [path/to/ota]      env: ARCHES (default "amd64 arm64"), PAIRS, TOOLS, TIMEOUT
#
# Given an ota (as `make bench` gives every script), it then measures the pairs with
# bench/delta.sh exactly as the tuning and held-out corpora are (bench/results/delta-rust.*);
# without one it only builds the corpus.
#
# The machine's apt sources list bookworm only, so the script keeps its own apt configuration
# and package indices under bench/corpus-rust/apt (APT_CONFIG; the system's sources are not
# touched) with trixie and bookworm, and downloads the pinned versions with `apt-get download`.
# A version Debian no longer lists is skipped with a note.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/bench/corpus-rust}
# shellcheck source=bench/lib/debian-pairs.bash
source "$ROOT/bench/lib/debian-pairs.bash"
debian_suites "$CORPUS/apt" bookworm trixie

# name package[,new-package] bookworm-version trixie-version path-inside-package
# (@TRIPLET@ replaced per architecture; a glob matches the one file of that name)
PROGRAMS=(
    "ripgrep ripgrep 13.0.0-4+b2 14.1.1-1+b4 usr/bin/rg"
    "fd fd-find 8.6.0-3 10.2.0-1+b5 usr/bin/fdfind"
    "bat bat 0.22.1-4 0.25.0-2+b2 usr/bin/batcat"
    "hyperfine hyperfine 1.15.0-2 1.19.0-1+b3 usr/bin/hyperfine"
    "zoxide zoxide 0.4.3-5+b2 0.9.7-1+b1 usr/bin/zoxide"
    "alacritty alacritty 0.11.0-4 0.15.1-3 usr/bin/alacritty"
    "librav1e librav1e0,librav1e0.7 0.5.1-6 0.7.1-9+b2 usr/lib/@TRIPLET@/librav1e.so.0.*.*"
    "tealdeer tealdeer 1.5.0-2+b1 1.7.2-1+deb13u1 usr/bin/tldr"
)
ARCHES=${ARCHES:-"amd64 arm64"}
debian_pairs "$CORPUS" "$ARCHES" "${PROGRAMS[@]}"
ls -la "$CORPUS"/*-amd64.* "$CORPUS"/*-arm64.* 2>/dev/null | awk '{print $5, $9}'
[ $# -ge 1 ] || exit 0
CORPUS_DIR=$CORPUS RESULTS_NAME=delta-rust PAIRS="${PAIRS:-${DEBIAN_PAIRS[*]}}" "$ROOT/bench/delta.sh" "$1"
