#!/usr/bin/env bash
# Install benchmark: `ota install` of one large full image (encrypted, xz) into a simulated
# vehicle's inactive slot (verify, decrypt, decompress, write, fsync, read back and hash), with
# wall time and peak RSS, side by side with the physical limit on the same bytes:
# `xz -dc | sha256sum` of the same xz stream, and a plain copy of the image (dd, fsync).
# Usage: bench/install.sh path/to/ota [SIZE_MIB]     (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "$1")
size_mib=${2:-${OTA_BENCH_MIB:-1024}}
work=${OTA_BENCH_DIR:-bench/results/install-work}
results=bench/results/install.md
rm -rf "$work"; mkdir -p "$work/images" bench/results
intl=keys-sample/intl

# The image: half pseudo-random (incompressible), half structured (zeros and text), like a root filesystem.
image=$work/images/rootfs.img
python3 - "$image" "$size_mib" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
text = b"".join(b"usr/lib/libexample.so.%d config=value-%d\n" % (i % 97, i % 1013) for i in range(30000))[: 1 << 20]
with open(path, "wb") as f:
    for i in range(mib):
        f.write(os.urandom(1 << 20) if i % 2 == 0 else (bytes(1 << 20) if i % 4 == 1 else text))
PY
image_bytes=$(stat -c %s "$image")

# The bundle (not measured): the sample infotainment manifest on this image, encrypted to the vehicle.
sed -e "s/ivi-rootfs-2.4.0.img/rootfs.img/" manifests/infotainment-full.yaml > "$work/manifest.yaml"
"$ota" bundle build "$work/manifest.yaml" --images "$work/images" --key $intl/release/signer-1.key --cert $intl/release/signer-1.crt \
    --chain $intl/release/chain.pem --recipient $intl/vehicle/device.crt --xz-preset 1 -o "$work/rootfs.ota" > /dev/null
# The same xz stream settings for the baseline.
xz -T2 -1 -c "$image" > "$work/rootfs.img.xz"

slot_bytes=$(( (size_mib + 1) * 1048576 ))
cat > "$work/vehicle.yaml" <<YAML
model: X1
vin: LSVX1A2B3C4D56789
bootControl: file
ecus:
  - {id: IVI, hardwareId: IVI-HW-3, slotGroup: ivi, version: 2.3.1, securityVersion: 11}
slotGroups:
  - {name: ivi, size: $slot_bytes}
YAML
"$ota" vehicle init "$work/car" --config "$work/vehicle.yaml" --trust $intl/trust --decryption-key $intl/vehicle/device.key > /dev/null
echo '{"parked": true, "gear": "P", "batteryPercent": 90}' > "$work/state.json"

# measure NAME COMMAND...: wall seconds and peak RSS (KiB) via /usr/bin/time -v
declare -A secs rss
measure() {
    local name=$1; shift
    sync
    /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 || { echo "bench: $name failed:"; tail -5 "$work/$name.out"; return 1; }
    secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s}' "$work/$name.time")
    rss[$name]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
    printf '%-22s %8.2f s  %8d KiB  %7.1f MiB/s\n' "$name" "${secs[$name]}" "${rss[$name]}" "$(echo "$size_mib / ${secs[$name]}" | bc -l)"
}

measure ota_install "$ota" install "$work/rootfs.ota" --vehicle "$work/car" --state "$work/state.json" --consent yes
measure xz_dc_sha256sum sh -c "xz -dc '$work/rootfs.img.xz' | sha256sum"
measure dd_copy_fsync dd if="$image" of="$work/copy.img" bs=1M conv=fsync status=none
grep -q '"stage":"activated"\|activated' "$work/ota_install.out" || { echo "bench: install did not activate"; exit 1; }

{
    echo "### Install of a $size_mib MiB full image ($(date -u +%Y-%m-%d), $(nproc) cores)"
    echo
    echo "Command: \`bench/install.sh $1 $size_mib\` (\`make bench\`). Image: half random, half zeros/text;"
    echo "bundle: xz preset 1, AES-256-GCM to the vehicle key, 1 MiB chunks ($(stat -c %s "$work/rootfs.ota") bytes)."
    echo
    echo "| step | wall s | MiB/s | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    for name in ota_install xz_dc_sha256sum dd_copy_fsync; do
        printf '| %s | %.2f | %.1f | %.1f |\n' "$name" "${secs[$name]}" "$(echo "$size_mib / ${secs[$name]}" | bc -l)" "$(echo "${rss[$name]} / 1024" | bc -l)"
    done
    echo
    echo "ota_install = verify signatures and every chunk, decrypt, xz-decode, write to the slot, fsync,"
    echo "read the slot back and hash it, then switch the boot control (journal fsyncs included)."
} > "$results"
cat "$results"
rm -rf "$work"
