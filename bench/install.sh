#!/usr/bin/env bash
# Install benchmark: `ota install` of one large full image (encrypted, xz) into a simulated
# vehicle's inactive slot (verify, decrypt, decompress, hash, write, read back and check, fsync), with
# wall time and peak RSS, side by side with the physical limit on the same bytes:
# `xz -dc | openssl dgst -sha256` (and `| sha256sum`) of the same xz stream, and a plain copy of the
# image (dd, fsync). Rounds are interleaved and medians reported (wall, CPU = user + system, peak RSS).
# Then a delta install: a DELTA_MIB image (default 256) evolved as between two root-filesystem
# builds, installed as an OTADelta patch against the active slot, beside `ota delta apply` of
# the same patch and a plain copy of the new image.
# Usage: bench/install.sh path/to/ota [SIZE_MIB]     (default 1024; env DELTA_MIB, 0 to skip; REPEAT rounds, default 3;
#        REUSE=1 with OTA_BENCH_DIR to keep and reuse the prepared inputs)
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "$1")
size_mib=${2:-${OTA_BENCH_MIB:-1024}}
work=${OTA_BENCH_DIR:-bench/results/install-work}
results=bench/results/install.md
# REUSE=1 keeps the work directory (image, bundle, xz stream) for the next run and reuses one
# prepared for the same size: preparing a 1 GiB bundle takes minutes on a busy machine.
image=$work/images/rootfs.img
if [ "${REUSE:-0}" = 1 ] && [ -f "$work/rootfs.ota" ] && [ -f "$work/rootfs.img.xz.done" ] && [ "$(stat -c %s "$image" 2>/dev/null)" = $((size_mib << 20)) ]; then
    prepared=1
    rm -rf "$work"/car* "$work"/*.samples
else
    prepared=0
    rm -rf "$work"; mkdir -p "$work/images" bench/results
fi
if [ "${REUSE:-0}" = 1 ]; then trap 'rm -rf "$work"/car* "$work/copy.img" "$work/copy-new.img" "$work/rebuilt.img"' EXIT
else trap 'rm -rf "$work"' EXIT; fi  # images, bundles and vehicles, pass or fail
intl=keys-sample/intl

if [ "$prepared" = 0 ]; then
# The image: half pseudo-random (incompressible), half structured (zeros and text), like a root filesystem.
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
xz -T2 -1 -c "$image" > "$work/rootfs.img.xz" && touch "$work/rootfs.img.xz.done"
fi

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
echo '{"parked": true, "gear": "P", "batteryPercent": 90, "driving": false, "doorsUnlockable": true}' > "$work/state.json"

# per A B: A / B to one decimal (0 when B rounds to 0)
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }

# sample NAME COMMAND...: one run under /usr/bin/time; appends "wall cpu rss_kib" to $work/NAME.samples
sample() {
    local name=$1; shift
    sync
    /usr/bin/time -f "%e %U %S %M" -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 || { echo "bench: $name failed:"; tail -5 "$work/$name.out"; return 1; }
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/$name.time" >> "$work/$name.samples"
}
# median NAME FIELD: the median of column FIELD (1 wall, 2 cpu, 3 rss KiB) of NAME's samples
median() { sort -n -k"$2","$2" "$work/$1.samples" | awk -v f="$2" '{ v[NR] = $f } END { print v[int((NR + 1) / 2)] }'; }
report_line() {
    printf '| %s | %.2f | %.2f | %s | %s |\n' "$1" "$(median "$1" 1)" "$(median "$1" 2)" "$(per "$2" "$(median "$1" 1)")" "$(per "$(sort -n -k3,3 "$work/$1.samples" | tail -1 | cut -d' ' -f3)" 1024)"
}

# REPEAT rounds, interleaved (ota, then the references on the same bytes), medians reported: the
# machine is shared, so single wall times are noise. Each round installs into a fresh copy of the vehicle.
repeat=${REPEAT:-3}
cp -a "$work/car" "$work/car-template"
for round in $(seq "$repeat"); do
    rm -rf "$work/car"; cp -a "$work/car-template" "$work/car"
    sample ota_install "$ota" install "$work/rootfs.ota" --vehicle "$work/car" --state "$work/state.json" --consent yes
    grep -q 'activated' "$work/ota_install.out" || { echo "bench: install did not activate"; exit 1; }
    sample xz_dc_openssl_sha256 sh -c "xz -dc '$work/rootfs.img.xz' | openssl dgst -sha256"
    sample xz_T2_dc_openssl_sha256 sh -c "xz -T2 -dc '$work/rootfs.img.xz' | openssl dgst -sha256"
    sample xz_dc_sha256sum sh -c "xz -dc '$work/rootfs.img.xz' | sha256sum"
    rm -f "$work/copy.img"
    sample dd_copy_fsync dd if="$image" of="$work/copy.img" bs=1M conv=fsync status=none
done
load_full=$(cut -d' ' -f1-3 /proc/loadavg)

delta_mib=${DELTA_MIB:-256}
if [ "$delta_mib" -gt 0 ]; then
    # old: like the full image; new: every 37th block partly rewritten and 16 KiB inserted mid-image.
    python3 - "$work/images" "$delta_mib" <<'PY'
import hashlib, os, sys
directory, mib = sys.argv[1], int(sys.argv[2])
text = b"".join(b"usr/lib/libexample.so.%d config=value-%d\n" % (i % 97, i % 1013) for i in range(30000))[: 1 << 20]
data = bytearray()
for i in range(mib):
    data += os.urandom(1 << 20) if i % 2 == 0 else (bytes(1 << 20) if i % 4 == 1 else text)
open(os.path.join(directory, "old.img"), "wb").write(data)
for block in range(0, len(data) // 4096, 37):
    data[block * 4096: block * 4096 + 512] = hashlib.sha256(b"%d" % block).digest() * 16
middle = len(data) // 2
data[middle:middle] = os.urandom(16384)
open(os.path.join(directory, "new.img"), "wb").write(data)
PY
    sed -e "s/file: ivi-rootfs-2.4.0.img/file: new.img\n    kind: delta\n    source: {file: old.img, version: 2.3.1}/" manifests/infotainment-full.yaml > "$work/manifest-delta.yaml"
    "$ota" bundle build "$work/manifest-delta.yaml" --images "$work/images" --key $intl/release/signer-1.key --cert $intl/release/signer-1.crt \
        --chain $intl/release/chain.pem --recipient $intl/vehicle/device.crt -o "$work/delta.ota" > /dev/null
    "$ota" delta create "$work/images/old.img" "$work/images/new.img" -o "$work/delta.patch" > /dev/null
    delta_slot=$(( (delta_mib + 2) * 1048576 ))
    cat > "$work/vehicle-delta.yaml" <<YAML
model: X1
vin: LSVX1A2B3C4D56789
bootControl: file
ecus:
  - {id: IVI, hardwareId: IVI-HW-3, slotGroup: ivi, version: 2.3.1, securityVersion: 11}
slotGroups:
  - {name: ivi, size: $delta_slot, image: old.img}
YAML
    "$ota" vehicle init "$work/car-delta" --config "$work/vehicle-delta.yaml" --images "$work/images" --trust $intl/trust \
        --decryption-key $intl/vehicle/device.key > /dev/null
    cp -a "$work/car-delta" "$work/car-delta-template"
    for round in $(seq "$repeat"); do
        rm -rf "$work/car-delta" "$work/rebuilt.img" "$work/copy-new.img"; cp -a "$work/car-delta-template" "$work/car-delta"
        sample ota_install_delta "$ota" install "$work/delta.ota" --vehicle "$work/car-delta" --state "$work/state.json" --consent yes
        grep -q 'activated' "$work/ota_install_delta.out" || { echo "bench: delta install did not activate"; exit 1; }
        sample ota_delta_apply "$ota" delta apply "$work/images/old.img" "$work/delta.patch" -o "$work/rebuilt.img"
        sample dd_copy_new_fsync dd if="$work/images/new.img" of="$work/copy-new.img" bs=1M conv=fsync status=none
    done
    load_delta=$(cut -d' ' -f1-3 /proc/loadavg)
    delta_bundle_bytes=$(stat -c %s "$work/delta.ota")
fi

{
    echo "### Install of a $size_mib MiB full image ($(date -u +%Y-%m-%d), $(nproc) cores, load average $load_full at the end)"
    echo
    echo "Command: \`REPEAT=$repeat bench/install.sh $1 $size_mib\` (\`make bench\`). Image: half random, half zeros/text;"
    echo "bundle: xz preset 1, AES-256-GCM to the vehicle key, 1 MiB chunks ($(stat -c %s "$work/rootfs.ota") bytes)."
    echo "Runs interleaved (ota, then each reference), medians of $repeat; CPU = user + system seconds."
    echo
    echo "| step | wall s | CPU s | MiB/s | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|"
    for name in ota_install xz_dc_openssl_sha256 xz_T2_dc_openssl_sha256 xz_dc_sha256sum dd_copy_fsync; do report_line "$name" "$size_mib"; done
    echo
    echo "ota_install / xz_dc_openssl_sha256: wall (medians) $(awk -v a="$(median ota_install 1)" -v b="$(median xz_dc_openssl_sha256 1)" 'BEGIN { printf "%.2f", a / b }'),"\
        "CPU (medians) $(awk -v a="$(median ota_install 2)" -v b="$(median xz_dc_openssl_sha256 2)" 'BEGIN { printf "%.2f", a / b }'),"\
        "wall per round (each ota run against the reference run right after it): $(paste -d' ' "$work/ota_install.samples" "$work/xz_dc_openssl_sha256.samples" | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / $4 }')"
    echo
    echo "ota_install = verify signatures and every chunk, decrypt, xz-decode (both cores), hash, write to the slot,"
    echo "read the slot back and check it, fsync, then switch the boot control (journal fsyncs included)."
    echo 'xz_T2_dc_openssl_sha256 = the reference with xz'"'"'s own multi-threaded decoder (`xz -T2 -dc`).'
    if [ "$delta_mib" -gt 0 ]; then
        echo
        echo "### Delta install, $delta_mib MiB image (bundle $delta_bundle_bytes bytes, encrypted; load average $load_delta at the end)"
        echo
        echo "| step | wall s | CPU s | MiB/s of image | peak RSS MiB |"
        echo "|---|---:|---:|---:|---:|"
        for name in ota_install_delta ota_delta_apply dd_copy_new_fsync; do report_line "$name" "$delta_mib"; done
        echo
        echo "ota_install_delta = as above, with OTADelta hashing the whole active slot before its first"
        echo "output byte, then applying the patch into the inactive slot, and the slot's hash checked."
    fi
} > "$results"
cat "$results"
