#!/usr/bin/env bash
# Runs a copy of the TUF client conformance suite (theupdateframework/tuf-conformance) that is
# already on this machine against ota-tuf-client. It fetches nothing: without a suite it stops.
# Usage: scripts/tuf-conformance.sh SUITE_DIR [CLIENT] [-- PYTEST_ARGS...]
#   SUITE_DIR  the suite's checkout (holds tuf_conformance/conftest.py)
#   CLIENT     the executable under test (default .build/debug/ota-tuf-client)
# Needs python3 with pytest, tuf (python-tuf) and securesystemslib[crypto], and faketime.
# Our expected failures (tests we refuse on purpose, docs/SECURITY.md) are listed, with their
# reasons, in scripts/tuf-conformance.xfails; the suite runs them as strict xfails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: scripts/tuf-conformance.sh SUITE_DIR [CLIENT] [-- PYTEST_ARGS...]" >&2; exit 1; }
[ $# -ge 1 ] || usage
suite=$1
shift
client=$root/.build/debug/ota-tuf-client
if [ $# -ge 1 ] && [ "$1" != "--" ]; then client=$1; shift; fi
if [ $# -ge 1 ] && [ "$1" = "--" ]; then shift; fi

if [ ! -f "$suite/tuf_conformance/conftest.py" ]; then
    echo "tuf-conformance: no suite at '$suite' (expected tuf_conformance/conftest.py there); this script fetches nothing" >&2
    exit 1
fi
case $client in /*) ;; *) client=$PWD/$client ;; esac
if [ ! -x "$client" ]; then
    echo "tuf-conformance: client '$client' is not an executable (swift build --product ota-tuf-client)" >&2
    exit 1
fi
command -v faketime > /dev/null || { echo "tuf-conformance: faketime is missing (apt-get install faketime)" >&2; exit 1; }
python3 -c 'import pytest, tuf, securesystemslib' 2> /dev/null \
    || { echo "tuf-conformance: python3 needs pytest, tuf and securesystemslib[crypto]" >&2; exit 1; }

# One entry per line, '#' starts a comment (the reason). A test function name is passed to the
# suite as a strict expected failure (all its cases); the suite cannot mark one case of a
# parametrized test, so an entry naming one case (FILE::TEST[ID]) is deselected, and said so.
entries=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$root/scripts/tuf-conformance.xfails")
xfails=""
deselect=()
while IFS= read -r entry; do
    [ -n "$entry" ] || continue
    case $entry in
        *"["*) deselect+=(--deselect "tuf_conformance/$entry") ;;
        *) xfails="$xfails $entry" ;;
    esac
done <<< "$entries"
xfails=${xfails# }
echo "tuf-conformance: suite $suite"
if [ -d "$suite/.git" ]; then echo "tuf-conformance: suite commit $(git -C "$suite" rev-parse HEAD)"; fi
echo "tuf-conformance: client $client"
echo "tuf-conformance: expected failures (strict xfail): ${xfails:-none}"
for ((i = 1; i < ${#deselect[@]}; i += 2)); do
    echo "tuf-conformance: expected failure, not run: ${deselect[i]}"
done
cd "$suite"
args=(-p no:cacheprovider -q tuf_conformance --entrypoint "$client" "${deselect[@]}")
if [ -n "$xfails" ]; then args+=(--expected-failures "$xfails"); fi
exec python3 -m pytest "${args[@]}" "$@"
