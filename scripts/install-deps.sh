#!/usr/bin/env bash
# Installs the Debian packages ota builds and tests against, only when something is missing.
# Usage: scripts/install-deps.sh            (the build and test dependencies)
set -euo pipefail

need=()
[ -f /usr/include/openssl/evp.h ] || need+=(libssl-dev)
[ -f /usr/include/archive.h ] || need+=(libarchive-dev)
[ -f /usr/include/lzma.h ] || need+=(liblzma-dev)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
[ -f /usr/include/x86_64-linux-gnu/curl/curl.h ] || [ -f /usr/include/curl/curl.h ] || need+=(libcurl4-openssl-dev)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v curl >/dev/null 2>&1 || need+=(curl)
# PostgreSQL: the fleet store's tests start a throw-away server (scripts/postgres-server.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pkg-config >/dev/null 2>&1 || need+=(pkgconf)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v tar >/dev/null 2>&1 || need+=(tar)
# faketime: ota-tuf-client reads wall-clock time through libc, as conformance suites expect.
command -v faketime >/dev/null 2>&1 || need+=(faketime)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
# HSM signing tests: a SoftHSM2 token, OpenSSL's pkcs11 engine (libp11), OpenSC's pkcs11-tool to make keys in the token.
[ -f /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
[ -f /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so ] || need+=(libengine-pkcs11-openssl)
command -v pkcs11-tool >/dev/null 2>&1 || need+=(opensc)
# The records report is rendered in headless Chromium by the tests, in English and Chinese.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/share/fonts/opentype/noto/NotoSansCJK-* >/dev/null 2>&1 || need+=(fonts-noto-cjk)

if [ ${#need[@]} -gt 0 ]; then
    echo "deps: installing missing Debian packages: ${need[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: not root; run: sudo apt-get install -y ${need[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
    echo "deps: done"
fi

# python-tuf: the independent TUF implementation the interoperability tests run against. Debian
# 12's own python3 refuses pip installs outside a virtual environment (PEP 668) unless told.
if ! python3 -c 'import tuf.ngclient' >/dev/null 2>&1; then
    echo "deps: installing python-tuf (PyPI tuf) for the TUF interoperability tests"
    python3 -m pip install -q tuf 2>/dev/null || python3 -m pip install -q --break-system-packages tuf \
        || echo "deps: pip install tuf failed; the python-tuf interop tests will fail" >&2
fi
