#!/usr/bin/env bash
# Delta on a 2 GiB image pair: diff and apply time and peak RSS, result checked with cmp.
#
#   bench/delta-large.sh path/to/ota [size-MiB]      (default 2048; needs ~3x that on disk)
#
# The pair is a sparse image with eight 24 MiB random regions; the new image adds 8 MiB of
# random data, copies one region to a new offset and changes 7 bytes. Shows that diff memory
# follows the old bytes the block pass leaves unused, and that apply memory stays flat. Below
# about 280 MiB the added and copied bytes overwrite parts of other regions (the round trip is
# still checked); the layout above holds at larger sizes.
set -euo pipefail

OTA=$(realpath "${1:-.build/release/ota}")
SIZE_MIB=${2:-2048}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ota-delta-large.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[ -x /usr/bin/time ] || { apt-get install -y -qq time >/dev/null 2>&1 || true; }

python3 - "$WORK" "$SIZE_MIB" <<'PY'
import os, random, sys
work, size = sys.argv[1], int(sys.argv[2]) << 20
rnd = random.Random(11)
region = 24 << 20
offsets = [i * (size // 8) + (1 << 20) for i in range(8)]
blobs = [rnd.randbytes(region) for _ in range(8)]
def write(path, edits):
    with open(path, "wb") as f:
        f.truncate(size)
        for off, data in edits:
            f.seek(off)
            f.write(data)
old = [(o, b) for o, b in zip(offsets, blobs)]
new = list(old)
new.append((offsets[2] + region + (3 << 20), rnd.randbytes(8 << 20)))   # new data
new.append((offsets[5] + region + (5 << 20), blobs[1]))                 # a region copied elsewhere
for k in range(7):                                                       # scattered byte edits
    o = offsets[k] + 4096 * (k + 1) + 17
    new.append((o, bytes([blobs[k][o - offsets[k]] ^ 0x5a])))
write(f"{work}/old.img", old)
write(f"{work}/new.img", new)
PY

run() {  # label, command...
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" >/dev/null
    read -r wall user sys rss <"$WORK/time"
    printf "| %s | %s s | %s + %s s | %d MiB |\n" "$LABEL" "$wall" "$user" "$sys" $((rss / 1024))
}
echo "| $((SIZE_MIB)) MiB pair | wall | CPU (user + sys) | peak RSS |"
echo "|---|---:|---:|---:|"
LABEL="ota delta create" run "$OTA" delta create "$WORK/old.img" "$WORK/new.img" -o "$WORK/patch"
LABEL="ota delta apply" run "$OTA" delta apply "$WORK/old.img" "$WORK/patch" -o "$WORK/out.img"
cmp "$WORK/out.img" "$WORK/new.img" && echo "rebuilt image identical; patch $(stat -c %s "$WORK/patch") bytes"
