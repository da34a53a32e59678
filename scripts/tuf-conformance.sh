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

# One test function name per line; '#' starts a comment (the reason).
xfails=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$root/scripts/tuf-conformance.xfails" | tr -s ' \n' ' ')
echo "tuf-conformance: suite $suite"
[ -d "$suite/.git" ] && echo "tuf-conformance: suite commit $(git -C "$suite" rev-parse HEAD)"
echo "tuf-conformance: client $client"
echo "tuf-conformance: expected failures: ${xfails:-none}"
cd "$suite"
args=(-p no:cacheprovider -q tuf_conformance --entrypoint "$client")
[ -n "${xfails// /}" ] && args+=(--expected-failures "$xfails")
exec python3 -m pytest "${args[@]}" "$@"
