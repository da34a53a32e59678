#!/usr/bin/env bash
# Agent benchmark: `ota agent run` pulling a large bundle from nginx on loopback (mutual TLS),
# checking every chunk, verifying and installing it, beside the reference tools on the same
# file: `curl -o /dev/null` over the same mutual-TLS connection plus `openssl dgst -sha256`.
# Then the same pull through our fault proxy (plain HTTP on loopback) with 0 and 5 forced drops.
# Peak RSS is reported for each run, at each size given (default 256 and 1024 MiB), so one can
# see it stay flat as the bundle grows.
# Usage: bench/agent.sh path/to/ota [SIZE_MIB...]     (default: 256 1024; or OTA_BENCH_MIB)
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "$1")
if [ $# -gt 2 ] || { [ $# -eq 1 ] && [ -z "${OTA_BENCH_MIB:-}" ]; }; then
    # Several sizes: one run per size, results concatenated.
    sizes=("${@:2}")
    [ ${#sizes[@]} -gt 0 ] || sizes=(256 1024)
    all=bench/results/agent.md
    : > "$all.all"
    for size in "${sizes[@]}"; do
        OTA_BENCH_MIB=$size "$0" "$1"
        cat bench/results/agent.md >> "$all.all"; echo >> "$all.all"
    done
    mv "$all.all" "$all"
    exit 0
fi
size_mib=${2:-${OTA_BENCH_MIB}}
work=${OTA_BENCH_DIR:-bench/results/agent-work}
results=bench/results/agent.md
rm -rf "$work"; mkdir -p "$work/images" bench/results
proxy_pid=
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
    scripts/repo-server.sh stop "$work/nginx" || true
    rm -rf "$work"
}
trap cleanup EXIT
intl=keys-sample/intl

# An incompressible image: the transfer, not compression, is what is measured.
head -c $((size_mib << 20)) /dev/urandom > "$work/images/rootfs.img"
# Stored as is (the manifest's default is xz, which would measure the compressor on random data).
sed -e "s/^    file: ivi-rootfs-2.4.0.img$/    file: rootfs.img\n    compression: none/" manifests/infotainment-full.yaml > "$work/manifest.yaml"
grep -q '^    compression: none$' "$work/manifest.yaml" || { echo "bench: could not set compression: none in the manifest"; exit 1; }
"$ota" bundle build "$work/manifest.yaml" --images "$work/images" --key $intl/release/signer-1.key --cert $intl/release/signer-1.crt \
    --chain $intl/release/chain.pem -o "$work/rootfs.ota" > /dev/null
rm "$work/images/rootfs.img"
"$ota" repo init "$work/repo" --suite intl > /dev/null
"$ota" repo add "$work/repo" "$work/rootfs.ota" --trust $intl/trust --name x1/rootfs.ota > /dev/null
"$ota" repo publish "$work/repo" > /dev/null
read -r https_port http_port < <(scripts/repo-server.sh start "$work/nginx" "$work/repo" $intl/vehicle/root-ca.crt)
target=$(ls "$work"/repo/targets/x1/*.rootfs.ota)
bundle_bytes=$(stat -c %s "$target")
echo '{}' > "$work/faults.json"
proxy_port_file=$work/proxy.port
python3 scripts/fault-proxy.py "http://127.0.0.1:$http_port" "$work/faults.json" > "$proxy_port_file" &
proxy_pid=$!
for _ in $(seq 50); do [ -s "$proxy_port_file" ] && break; sleep 0.1; done
proxy_port=$(head -1 "$proxy_port_file")

slot_bytes=$(( (size_mib + 1) * 1048576 ))
cat > "$work/vehicle.yaml" <<YAML
model: X1
vin: LSVX1A2B3C4D56789
bootControl: file
requireRepository: true
ecus:
  - {id: IVI, hardwareId: IVI-HW-3, slotGroup: ivi, version: 2.3.1, securityVersion: 11}
slotGroups:
  - {name: ivi, size: $slot_bytes}
YAML
echo '{"parked": true, "gear": "P", "batteryPercent": 90, "driving": false, "doorsUnlockable": true}' > "$work/state.json"
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
declare -A secs rss
measure() {
    local name=$1; shift
    sync
    /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2>&1 || { echo "bench: $name failed:"; tail -5 "$work/$name.out"; return 1; }
    secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s}' "$work/$name.time")
    rss[$name]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$name.time")
    printf '%-26s %8.2f s  %8d KiB  %7s MiB/s\n' "$name" "${secs[$name]}" "${rss[$name]}" "$(per "$size_mib" "${secs[$name]}")"
}
pull() {  # pull NAME URL [extra agent options]: a fresh vehicle, one agent run (pull, verify, install)
    local name=$1 url=$2; shift 2
    rm -rf "$work/car-$name"
    "$ota" vehicle init "$work/car-$name" --config "$work/vehicle.yaml" --trust $intl/trust --decryption-key $intl/vehicle/device.key > /dev/null
    measure "$name" "$ota" agent run --vehicle "$work/car-$name" --repository "$url" --root "$work/repo/metadata/1.root.json" \
        --ca "$work/nginx/server-ca.crt" --cert $intl/vehicle/device.crt --key $intl/vehicle/device.key \
        --state "$work/state.json" --consent yes "$@"
    grep -q 'reboot-required' "$work/$name.out" || { echo "bench: $name did not install"; cat "$work/$name.out"; exit 1; }
    rm -rf "$work/car-$name"
}
reference() {
    measure curl_mtls_devnull curl -sS --fail --cacert "$work/nginx/server-ca.crt" --cert $intl/vehicle/device.crt --key $intl/vehicle/device.key \
        -o /dev/null "https://localhost:$https_port/targets/x1/$(basename "$target")"
    measure openssl_dgst_sha256 openssl dgst -sha256 "$target"
}
pull agent_https "https://localhost:$https_port"
reference
echo '{}' > "$work/faults.json"; rm -f "$work/faults.json.state"
pull agent_proxy_0_drops "http://127.0.0.1:$proxy_port" --allow-http
drop_every=$(( bundle_bytes / 7 ))
echo "{\"match\": \".ota\", \"drop_after\": $drop_every, \"drop_times\": 5}" > "$work/faults.json"; rm -f "$work/faults.json.state"
pull agent_proxy_5_drops "http://127.0.0.1:$proxy_port" --allow-http
retries=$(grep -o '[0-9]* retries' "$work/agent_proxy_5_drops.out" | head -1)

{
    echo "### Agent pull + verify + install of a $size_mib MiB bundle ($(date -u +%Y-%m-%d), $(nproc) cores, shared machine)"
    echo
    echo "Command: \`bench/agent.sh $1 $size_mib\` (\`make bench\`). Bundle $bundle_bytes bytes (random image, no compression,"
    echo "unencrypted), nginx on loopback with mutual TLS; the proxy rows go through scripts/fault-proxy.py (plain HTTP)."
    echo "The agent rows include vehicle-side TUF refresh, chunk checks, the full-file hash, the release-signature policy and"
    echo "the slot write with fsync and read-back hash; the reference rows only move or hash the bytes."
    echo
    echo "| run | wall s | MiB/s | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    for name in agent_https curl_mtls_devnull openssl_dgst_sha256 agent_proxy_0_drops agent_proxy_5_drops; do
        echo "| $name | ${secs[$name]} | $(per "$size_mib" "${secs[$name]}") | $(( ${rss[$name]} / 1024 )) |"
    done
    echo
    echo "5-drop run: $retries (each drop resumed with a Range request at the last verified chunk)."
} | tee "$results"
