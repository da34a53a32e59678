#!/usr/bin/env bash
# Renders the records HTML report with headless Chromium and checks that the picture shows the
# per-vehicle timeline (green result dots on a grey timeline rail).
#
#   scripts/records-report-screenshot.sh path/to/ota [OUT.png]     (also writes OUT.pdf, the printed form)
set -euo pipefail

OTA=$(realpath "${1:?usage: scripts/records-report-screenshot.sh path/to/ota [OUT.png]}")
OUT=$(realpath -m "${2:-out/records-report.png}")
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "chromium not found (apt-get install chromium)" >&2; exit 1; }
WORK=$(mktemp -d -t ota-records-report.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$(dirname "$OUT")"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/device.pem" 2>/dev/null
openssl pkey -in "$WORK/device.pem" -pubout -out "$WORK/device.pub"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/compliance.pem" 2>/dev/null
"$OTA" records simulate "$WORK/fleet" --key "$WORK/device.pem" --vehicles 2 --records 14 > /dev/null
"$OTA" records ingest --store "$WORK/fleet.db" --key "$WORK/device.pub" "$WORK"/fleet/* > /dev/null
"$OTA" records export --store "$WORK/fleet.db" --key "$WORK/compliance.pem" -o "$WORK/export" --format html --lang en \
    --now 2026-11-25T12:00:00Z > /dev/null

"$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,1400 \
    --screenshot="$OUT" "file://$WORK/export/report.html" 2> /dev/null
# The printed form too (each step stays on one page; the vehicle is named on every step on paper).
"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
    --print-to-pdf="${OUT%.png}.pdf" "file://$WORK/export/report.html" 2> /dev/null
"$CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom "file://$WORK/export/report.html" 2> /dev/null > "$WORK/dom.html"

python3 - "$OUT" "$WORK/dom.html" <<'PY'
import re, struct, sys, zlib

png, dom = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
items = len(re.findall(r'<li class="(success|failure|event|other)"', dom))
sections = dom.count('<section class="vehicle">')
assert sections == 2 and items == 28, f"DOM: {sections} vehicle sections, {items} timeline items"

# Decode the PNG (8-bit RGB or RGBA, non-interlaced) with the standard library only.
data = open(png, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
channels = {2: 3, 6: 4}[color]
assert depth == 8
raw, stride = zlib.decompress(idat), width * channels
rows, prev, i = [], bytearray(stride), 0
for _ in range(height):
    kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - channels] if x >= channels else 0
        b, c = prev[x], prev[x - channels] if x >= channels else 0
        if kind == 1: line[x] = (line[x] + a) & 255
        elif kind == 2: line[x] = (line[x] + b) & 255
        elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line

def near(px, rgb, tol=40): return all(abs(px[k] - rgb[k]) <= tol for k in range(3))
green = rail = 0
rail_columns = {}
for y, line in enumerate(rows):
    for x in range(width):
        px = line[x * channels:x * channels + 3]
        if near(px, (26, 127, 55)): green += 1
        if near(px, (136, 136, 136), 6):
            rail += 1
            rail_columns[x] = rail_columns.get(x, 0) + 1
tall = max(rail_columns.values()) if rail_columns else 0
print(f"{png}: {width}x{height}, {sections} vehicles, {items} timeline items in the DOM; "
      f"{green} green result-dot pixels, timeline rail {tall} px tall")
assert green > 200, "no green result dots: the timeline is not visible"
assert tall > 300, "no vertical timeline rail visible"
PY
