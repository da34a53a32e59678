#!/usr/bin/env bash
# Payloads just under and over 2 GiB and 4 GiB: the signed length must equal the real length
# (64-bit sizes everywhere). Sparse images, no compression; needs ~10 GiB of free disk.
# Usage: bench/bundle-sizes.sh path/to/ota
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "$1")
work=${OTA_BENCH_DIR:-bench/results}/sizes-work
results=bench/results/bundle-sizes.md
rm -rf "$work"; mkdir -p "$work/images"
trap 'rm -rf "$work"' EXIT  # up to ~10 GiB of images and bundles, pass or fail
intl=keys-sample/intl
{
    echo "# Payload sizes around 2 GiB and 4 GiB"
    echo
    echo "Command: \`bench/bundle-sizes.sh .build/release/ota\`, $(date -u +%Y-%m-%d). Sparse images, compression none."
    echo
    echo "| image bytes | signed plainSize | signed storedSize | tar entry size | verify --deep |"
    echo "|---|---|---|---|---|"
} > "$results"
for size in 2147483647 2147483649 4294967295 4294967297; do
    image=$work/images/big.img
    rm -f "$image" "$work/big.ota"
    truncate -s "$size" "$image"
    printf 'tail' | dd of="$image" bs=1 seek=$((size - 4)) conv=notrunc status=none
    sed -e "s/ivi-rootfs-2.4.0.img/big.img/" -e "s/    categories: \[other, security-fix\]/    compression: none\n    categories: [other, security-fix]/" \
        manifests/infotainment-full.yaml > "$work/manifest.yaml"
    "$ota" bundle build "$work/manifest.yaml" --images "$work/images" --key "$intl/release/signer-1.key" \
        --cert "$intl/release/signer-1.crt" --chain "$intl/release/chain.pem" -o "$work/big.ota" --json > "$work/build.json"
    plain=$(python3 -c "import json,sys; r=json.load(open('$work/build.json'))['result']['images'][0]; print(r['plainSize'], r['storedSize'])")
    entry=$(tar tvf "$work/big.ota" | awk '/payloads\// {print $3}')
    if "$ota" bundle verify "$work/big.ota" --trust "$intl/trust" --deep > /dev/null; then verdict=OK; else verdict=FAILED; fi
    echo "| $size | ${plain% *} | ${plain#* } | $entry | $verdict |" >> "$results"
    [ "${plain% *}" = "$size" ] && [ "$entry" = "$size" ] && [ "$verdict" = OK ] || { cat "$results"; echo "bench: size $size mismatch"; exit 1; }
done
cat "$results"
