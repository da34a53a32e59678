#!/usr/bin/env bash
# Regenerates keys-sample/ with `ota keys init` (new keys every time).
set -euo pipefail
cd "$(dirname "$0")/.."
ota=${1:-.build/release/ota}
for suite in intl gm; do
    rm -rf "keys-sample/$suite"
    "$ota" keys init --suite "$suite" --out "keys-sample/$suite" >/dev/null
done
echo "keys-sample/ regenerated"
