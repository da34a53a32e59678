#!/usr/bin/env bash
# Delta install, A/B: `ota install` of one encrypted delta bundle (OLD -> NEW, built once by the
# first build) into a fresh copy of one simulated vehicle whose active slot holds OLD, the builds
# alternating round by round; medians of wall and CPU (user + system) seconds and peak RSS.
# Every install must activate. The machine is shared: compare builds only within one run.
# Usage: bench/install-delta-compare.sh ROUNDS OLD_IMAGE NEW_IMAGE NAME=path/to/ota [NAME=path/to/ota...]
#        env OTA_BENCH_DIR (default bench/results/install-delta-compare), REUSE=1 to keep its bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1
old=$(realpath "$2")
new=$(realpath "$3")
shift 3
work=${OTA_BENCH_DIR:-bench/results/install-delta-compare}
intl=keys-sample/intl
first=$(realpath "${1#*=}")
mkdir -p "$work/images"
trap 'rm -rf "$work/car" "$work/template"' EXIT
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$work/delta.ota" ] || ! cmp -s "$new" "$work/images/new.img"; then
    cp "$old" "$work/images/old.img"
    cp "$new" "$work/images/new.img"
    sed -e "s/file: ivi-rootfs-2.4.0.img/file: new.img\n    kind: delta\n    source: {file: old.img, version: 2.3.1}/" \
        manifests/infotainment-full.yaml > "$work/manifest-delta.yaml"
    "$first" bundle build "$work/manifest-delta.yaml" --images "$work/images" --key $intl/release/signer-1.key \
        --cert $intl/release/signer-1.crt --chain $intl/release/chain.pem --recipient $intl/vehicle/device.crt \
        -o "$work/delta.ota" > /dev/null
fi
largest=$(stat -c %s "$work/images/old.img" "$work/images/new.img" | sort -n | tail -1)
cat > "$work/vehicle.yaml" <<YAML
model: X1
vin: LSVX1A2B3C4D56789
bootControl: file
ecus:
  - {id: IVI, hardwareId: IVI-HW-3, slotGroup: ivi, version: 2.3.1, securityVersion: 11}
slotGroups:
  - {name: ivi, size: $(( (largest / 1048576 + 2) * 1048576 )), image: old.img}
YAML
rm -rf "$work/template"
"$first" vehicle init "$work/template" --config "$work/vehicle.yaml" --images "$work/images" --trust $intl/trust \
    --decryption-key $intl/vehicle/device.key > /dev/null
echo '{"parked": true, "gear": "P", "batteryPercent": 90, "driving": false, "doorsUnlockable": true}' > "$work/state.json"
for build in "$@"; do rm -f "$work/${build%%=*}.samples"; done
for round in $(seq "$rounds"); do
    for build in "$@"; do
        name=${build%%=*}
        rm -rf "$work/car"
        cp -a "$work/template" "$work/car"
        sync
        /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "${build#*=}" install "$work/delta.ota" \
            --vehicle "$work/car" --state "$work/state.json" --consent yes > "$work/$name.out" 2>&1 \
            || { echo "$name failed:"; tail -5 "$work/$name.out"; exit 1; }
        grep -q activated "$work/$name.out" || { echo "$name: the install did not activate"; exit 1; }
        awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/$name.time" >> "$work/$name.samples"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); bundle $(stat -c %s "$work/delta.ota") bytes"
echo "| build | wall s median (range) | CPU s median | peak RSS MiB median | wall per round |"
echo "|---|---:|---:|---:|---|"
for build in "$@"; do
    name=${build%%=*}
    python3 - "$name" "$work/$name.samples" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[2])]
wall = [float(r[0]) for r in rows]; cpu = [float(r[1]) for r in rows]; rss = [int(r[2]) / 1024 for r in rows]
print(f"| {sys.argv[1]} | {statistics.median(wall):.2f} ({min(wall):.2f}-{max(wall):.2f}) | "
      f"{statistics.median(cpu):.2f} | {statistics.median(rss):.1f} | {' '.join(f'{w:.2f}' for w in wall)} |")
PY
done
