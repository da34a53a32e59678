#!/usr/bin/env bash
# The main job on the bundled samples: what `make demo` runs.
# Usage: scripts/demo.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
ota=${1:-.build/release/ota}
out=out/demo
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }
expect_reject() {  # runs a command that must be refused with exit 2
    set +e
    "$@"
    local rc=$?
    set -e
    if [ "$rc" -ne 2 ]; then echo "demo: expected exit 2 (rejected), got $rc: $*" >&2; exit 1; fi
    echo "   (refused as expected, exit 2)"
}

for suite in intl gm; do
    step "[$suite] a fresh sample PKI: release, approval, repository, vehicle and compliance roles"
    "$ota" keys init --suite "$suite" --out "$out/pki-$suite"

    pki=keys-sample/$suite
    step "[$suite] the committed sample signers chain to the release anchors of the vehicle trust store"
    for signer in signer-1 signer-2; do
        "$ota" keys verify "$pki/release/$signer.crt" --chain "$pki/release/chain.pem" --trust "$pki/trust" --role release
    done

    step "[$suite] a revoked signer is refused"
    expect_reject "$ota" keys verify "$pki/release/revoked-signer.crt" --chain "$pki/release/chain.pem" --trust "$pki/trust" --role release

    step "[$suite] the approval authority is trusted for approvals, never as a release signer"
    "$ota" keys verify "$pki/approval/approval-signer.crt" --trust "$pki/trust" --role approval
    expect_reject "$ota" keys verify "$pki/approval/approval-signer.crt" --trust "$pki/trust" --role release
done

step "demo finished: outputs in $out"
