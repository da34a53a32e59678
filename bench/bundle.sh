#!/usr/bin/env bash
# Bundle benchmark: build and verify of one large image, side by side with the physical limits
# (openssl dgst, xz, openssl enc) and the tools users pick (rauc, mender-artifact).
# Usage: bench/bundle.sh path/to/ota [SIZE_MIB]     (default 1024)
# The work directory (several GiB) is removed when the script exits, unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "$1")
size_mib=${2:-${OTA_BENCH_MIB:-1024}}
work=${OTA_BENCH_DIR:-bench/results/bundle-work}
results=bench/results/bundle.md
rm -rf "$work"; mkdir -p "$work/images" bench/results
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

need=()
command -v /usr/bin/time >/dev/null || need+=(time)
command -v rauc >/dev/null || need+=(rauc)
command -v mksquashfs >/dev/null || need+=(squashfs-tools)
command -v mender-artifact >/dev/null || need+=(mender-artifact)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" -eq 0 ]; then
    echo "bench: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || echo "bench: some tools did not install: ${need[*]}"
fi

# The image, like a root filesystem: 1/8 incompressible (already-compressed assets), 3/8 zero
# (free space), 1/2 text-like structured data.
image=$work/images/rootfs.img
python3 - "$image" "$size_mib" <<'PY'
import os, sys
path, mib = sys.argv[1], int(sys.argv[2])
text = b"".join(b"usr/lib/libexample.so.%d config=value-%d\n" % (i % 97, i % 1013) for i in range(30000))[: 1 << 20]
with open(path, "wb") as f:
    for i in range(mib):
        kind = i % 8
        f.write(os.urandom(1 << 20) if kind == 0 else (bytes(1 << 20) if kind in (1, 3, 5) else text))
PY

sed -e "s/ivi-rootfs-2.4.0.img/rootfs.img/" manifests/infotainment-full.yaml > "$work/manifest.yaml"
intl=keys-sample/intl
gm=keys-sample/gm
sed -e "s/bcm-app-3.2.0.bin/rootfs.img/" -e "/- name: gateway-fw/,/categories: \[security-fix\]/d" manifests/body-gm.yaml > "$work/manifest-gm.yaml"

# measure NAME COMMAND...: wall seconds and peak RSS (KiB) via /usr/bin/time -v
declare -A secs rss
measure() {
    local name=$1; shift
    sync
    /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 || { echo "bench: $name failed:"; tail -5 "$work/$name.out"; return 1; }
    secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s}' "$work/$name.time")
    rss[$name]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
    printf '%-28s %8.2f s  %8d KiB\n' "$name" "${secs[$name]}" "${rss[$name]}"
}

signer="--key $intl/release/signer-1.key --cert $intl/release/signer-1.crt --chain $intl/release/chain.pem"
gmsigner="--key $gm/release/signer-1.key --cert $gm/release/signer-1.crt --chain $gm/release/chain.pem"

measure xz_T2_6 sh -c "xz -T2 -6 -c '$image' > '$work/rootfs.img.xz'"
measure build_intl "$ota" bundle build "$work/manifest.yaml" --images "$work/images" $signer -o "$work/intl.ota"
measure build_intl_p2_t1 "$ota" bundle build "$work/manifest.yaml" --images "$work/images" $signer --xz-preset 2 --threads 1 -o "$work/intl-p2.ota"
sed -e "s/    categories: \[other, security-fix\]/    compression: none\n    categories: [other, security-fix]/" "$work/manifest.yaml" > "$work/manifest-raw.yaml"
measure build_intl_raw "$ota" bundle build "$work/manifest-raw.yaml" --images "$work/images" $signer -o "$work/intl-raw.ota"
measure build_intl_enc "$ota" bundle build "$work/manifest.yaml" --images "$work/images" $signer --recipient $intl/vehicle/fleet-recipient.crt -o "$work/intl-enc.ota"
measure build_gm_enc "$ota" bundle build "$work/manifest-gm.yaml" --images "$work/images" $gmsigner --recipient $gm/vehicle/device.crt -o "$work/gm-enc.ota"
"$ota" bundle build "$work/manifest-gm.yaml" --images "$work/images" $gmsigner --xz-preset 1 -o "$work/gm.ota" > /dev/null

bundle_bytes=$(stat -c %s "$work/intl.ota")
raw_bytes=$(stat -c %s "$work/intl-raw.ota")
cat "$work/intl-raw.ota" > /dev/null  # warm the page cache for both sides
measure openssl_sha256_raw openssl dgst -sha256 "$work/intl-raw.ota"
measure verify_intl_raw "$ota" bundle verify "$work/intl-raw.ota" --trust "$intl/trust"
cat "$work/intl.ota" > /dev/null
measure openssl_sha256 openssl dgst -sha256 "$work/intl.ota"
measure verify_intl "$ota" bundle verify "$work/intl.ota" --trust "$intl/trust"
measure openssl_sm3 openssl dgst -sm3 "$work/gm.ota"
measure verify_gm "$ota" bundle verify "$work/gm.ota" --trust "$gm/trust"
measure xz_d sh -c "xz -dc '$work/rootfs.img.xz' > /dev/null"
measure verify_intl_deep_enc "$ota" bundle verify "$work/intl-enc.ota" --trust "$intl/trust" --deep --decryption-key "$intl/vehicle/fleet-recipient.key"
measure verify_gm_deep_enc "$ota" bundle verify "$work/gm-enc.ota" --trust "$gm/trust" --deep --decryption-key "$gm/vehicle/device.key"
measure openssl_aes_gcm sh -c "openssl enc -aes-256-ctr -K $(printf '%064d' 0) -iv $(printf '%032d' 0) -in '$work/intl-enc.ota' -out /dev/null"
measure openssl_sm4_ctr sh -c "openssl enc -sm4-ctr -K $(printf '%032d' 0) -iv $(printf '%032d' 0) -in '$work/gm-enc.ota' -out /dev/null"

# RAUC: a plain bundle of the same image, signed with the same P-256 release signer.
rauc_line="rauc: not installed"
if command -v rauc >/dev/null && command -v mksquashfs >/dev/null; then
    mkdir -p "$work/rauc-in"
    cp "$image" "$work/rauc-in/rootfs.img"
    cat > "$work/rauc-in/manifest.raucm" <<RAUCM
[update]
compatible=ota-bench
version=2.4.0
[bundle]
format=plain
[image.rootfs]
filename=rootfs.img
RAUCM
    if rauc bundle --cert "$intl/release/signer-1.crt" --intermediate "$intl/release/chain.pem" --key "$intl/release/signer-1.key" "$work/rauc-in" "$work/bench.raucb" > "$work/rauc-build.log" 2>&1; then
        # RAUC checks the signer's purpose; the sample signer is codeSigning, so say so.
        printf '[system]\ncompatible=ota-bench\nbootloader=noop\n[keyring]\npath=%s\ncheck-purpose=codesign\n' "$(realpath "$intl/release/root-ca.crt")" > "$work/rauc-system.conf"
        measure rauc_info rauc info --conf "$work/rauc-system.conf" "$work/bench.raucb" || rauc_line="rauc: info failed (KEEP=1 keeps $work/rauc_info.out)"
    else
        rauc_line="rauc: bundle creation failed (KEEP=1 keeps $work/rauc-build.log)"
    fi
fi
mender_line="mender-artifact: not installed"
if command -v mender-artifact >/dev/null; then
    openssl ec -in "$intl/release/signer-1.key" -out "$work/mender.key" 2>/dev/null
    openssl pkey -in "$intl/release/signer-1.key" -pubout -out "$work/mender.pub"
    if mender-artifact write rootfs-image -t ota-bench -n bench-2.4.0 -f "$image" -k "$work/mender.key" -o "$work/bench.mender" > "$work/mender-build.log" 2>&1; then
        measure mender_validate mender-artifact validate -k "$work/mender.pub" "$work/bench.mender" || mender_line="mender-artifact: validate failed (KEEP=1 keeps $work/mender_validate.out)"
    else
        mender_line="mender-artifact: artifact creation failed (KEEP=1 keeps $work/mender-build.log)"
    fi
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f MiB/s", b / 1048576 / s; else print "n/a" }'; }
{
    echo "# Bundle benchmark"
    echo
    echo "Command: \`bench/bundle.sh .build/release/ota $size_mib\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
    echo "Image: $size_mib MiB (1/8 incompressible, 3/8 zeros, 1/2 text-like). Bundle (intl, unencrypted): $(mib "$bundle_bytes") MiB."
    echo
    echo "| step | seconds | peak RSS (MiB) | vs reference |"
    echo "|---|---|---|---|"
    row() { echo "| $1 | ${secs[$2]:-n/a} | $(awk -v k="${rss[$2]:-0}" 'BEGIN { printf "%.1f", k / 1024 }') | ${3:-} |"; }
    row "\`xz -T2 -6\` of the image (reference)" xz_T2_6
    row "\`ota bundle build\` intl (xz -6, 2 threads)" build_intl "$(ratio "${secs[build_intl]}" "${secs[xz_T2_6]}") of xz -T2 -6"
    row "\`ota bundle build\` intl (xz -2, 1 thread: the low-memory setting)" build_intl_p2_t1
    row "\`ota bundle build\` intl, no compression ($(mib "$raw_bytes") MiB bundle)" build_intl_raw
    row "\`openssl dgst -sha256\` of the uncompressed bundle (limit)" openssl_sha256_raw "$(rate "$raw_bytes" "${secs[openssl_sha256_raw]}")"
    row "\`ota bundle verify\` of the uncompressed bundle" verify_intl_raw "$(ratio "${secs[verify_intl_raw]}" "${secs[openssl_sha256_raw]}") of openssl dgst -sha256"
    row "\`ota bundle build\` intl, encrypted" build_intl_enc "$(ratio "${secs[build_intl_enc]}" "${secs[xz_T2_6]}") of xz -T2 -6"
    row "\`ota bundle build\` gm, encrypted" build_gm_enc "$(ratio "${secs[build_gm_enc]}" "${secs[xz_T2_6]}") of xz -T2 -6"
    row "\`openssl dgst -sha256\` of the bundle (limit)" openssl_sha256 "$(rate "$bundle_bytes" "${secs[openssl_sha256]}")"
    row "\`ota bundle verify\` intl" verify_intl "$(ratio "${secs[verify_intl]}" "${secs[openssl_sha256]}") of openssl dgst -sha256"
    row "\`openssl dgst -sm3\` of the gm bundle (limit)" openssl_sm3
    row "\`ota bundle verify\` gm" verify_gm "$(ratio "${secs[verify_gm]}" "${secs[openssl_sm3]}") of openssl dgst -sm3"
    row "\`xz -dc\` of the image (limit)" xz_d
    row "\`ota bundle verify --deep\` intl encrypted" verify_intl_deep_enc "$(ratio "${secs[verify_intl_deep_enc]}" "${secs[xz_d]}") of xz -dc"
    row "\`ota bundle verify --deep\` gm encrypted" verify_gm_deep_enc "$(ratio "${secs[verify_gm_deep_enc]}" "${secs[xz_d]}") of xz -dc"
    row "\`openssl enc -aes-256-ctr\` of the bundle" openssl_aes_gcm
    row "\`openssl enc -sm4-ctr\` of the gm bundle" openssl_sm4_ctr
    if [ -n "${secs[rauc_info]:-}" ]; then row "\`rauc info\` (plain bundle, same image)" rauc_info "ota verify is $(ratio "${secs[rauc_info]}" "${secs[verify_intl]}") faster"; else echo "| $rauc_line | | | |"; fi
    if [ -n "${secs[mender_validate]:-}" ]; then row "\`mender-artifact validate\` (same image)" mender_validate "ota verify is $(ratio "${secs[mender_validate]}" "${secs[verify_intl]}") faster"; else echo "| $mender_line | | | |"; fi
} > "$results"
cat "$results"
