#!/usr/bin/env bash
# Renders the records HTML report (en and zh-CN) with headless Chromium and keeps the pictures:
# a two-vehicle fleet with failures, exported and screenshot. The checks (failure rows
# highlighted, the computed style, the CJK font) are in the tests: ReportRenderingTests.
#
#   scripts/records-report-screenshot.sh path/to/ota [OUT_DIR]     (writes records-report-{en,zh-CN}.png and .pdf)
set -euo pipefail

OTA=$(realpath "${1:?usage: scripts/records-report-screenshot.sh path/to/ota [OUT_DIR]}")
OUT=$(realpath -m "${2:-out}")
KEYS=$(realpath "$(dirname "$0")/../keys-sample/intl")
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "chromium not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
WORK=$(mktemp -d -t ota-records-report.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# The fleet comes from the records test rig (never shipped), built beside ota.
RIG=$(realpath -m "${RIG:-$(dirname "$OTA")/ota-records-rig}")
[ -x "$RIG" ] || { echo "$RIG is missing (swift build --product ota-records-rig)" >&2; exit 1; }
"$RIG" simulate "$WORK/fleet" --key "$KEYS/vehicle/device.key" --vehicles 2 --records 70 > /dev/null
"$OTA" records ingest --store "$WORK/fleet.db" --key "$KEYS/vehicle/device.crt" "$WORK"/fleet/* > /dev/null
for lang in en zh-CN; do
    "$OTA" records export --store "$WORK/fleet.db" --key "$KEYS/compliance/compliance-signer.key" \
        --cert "$KEYS/compliance/compliance-signer.crt" -o "$WORK/export-$lang" --format html --lang "$lang" > /dev/null
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2400 \
        --screenshot="$OUT/records-report-$lang.png" "file://$WORK/export-$lang/report.html" 2> /dev/null
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
        --print-to-pdf="$OUT/records-report-$lang.pdf" "file://$WORK/export-$lang/report.html" 2> /dev/null
    echo "$OUT/records-report-$lang.png: $(grep -o 'class="entry [^"]*failed' "$WORK/export-$lang/report.html" | wc -l) highlighted entries"
done
