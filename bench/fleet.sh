#!/usr/bin/env bash
# Fleet service load: FLEET_VEHICLES simulated vehicles × FLEET_RECORDS records upload their
# logs at once (FLEET_CONCURRENCY connections) through nginx (mutual TLS) to `ota fleet serve`,
# first on SQLite, then on PostgreSQL (a throw-away server). Loopback only; bounded by the
# counts. Reports uploads/s, entries/s, p50/p99 latency and the service's peak RSS
# (bench/results/fleet.json; docs/PERFORMANCE.md).
# Usage: bench/fleet.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "${1:-.build/release/ota}")
vehicles=${FLEET_VEHICLES:-200} records=${FLEET_RECORDS:-1000} concurrency=${FLEET_CONCURRENCY:-32}
pki=keys-sample/intl
work=$(mktemp -d /tmp/ota-fleet-bench.XXXXXX)
# nginx workers (nobody) and PostgreSQL (postgres) need to reach their directories inside.
chmod 755 "$work"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    scripts/fleet-server.sh stop "$work/front" || true
    scripts/postgres-server.sh stop "$work/pg" || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p bench/results "$work/certs"
echo "fleet: $vehicles vehicles × $records records, $concurrency at once"
# One device key for every simulated vehicle (each with a certificate naming its VIN).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/device.key" 2>/dev/null
"$ota" records simulate "$work/logs" --key "$work/device.key" --vehicles "$vehicles" --records "$records" >/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,2.25.277585782059759735957022079731708763311.1.5\n' > "$work/device.ext"
openssl req -new -key "$work/device.key" -subj "/CN=bench" -out "$work/device.csr" 2>/dev/null
for vin in $(ls "$work/logs"); do
    openssl x509 -req -in "$work/device.csr" -subj "/O=ota sample OEM/OU=vehicle/CN=Vehicle Device $vin" -CA $pki/vehicle/root-ca.crt \
        -CAkey $pki/vehicle/root-ca.key -set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile "$work/device.ext" -out "$work/certs/$vin.crt" 2>/dev/null
done
cat $pki/vehicle/root-ca.crt $pki/compliance/root-ca.crt > "$work/client-cas.pem"
scripts/fleet-server.sh secret "$work/secret"
results=()
for kind in sqlite postgres; do
    if [ $kind = sqlite ]; then store="$work/fleet.db"; else store=$(scripts/postgres-server.sh start "$work/pg"); fi
    "$ota" fleet serve --store "$store" --trust $pki/trust --key $pki/compliance/compliance-signer.key \
        --cert $pki/compliance/compliance-signer.crt --proxy-secret-file "$work/secret" --state "$work/state-$kind" \
        --connections 16 --threads 8 > "$work/serve-$kind.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do grep -q listening "$work/serve-$kind.out" && break; sleep 0.1; done
    backend=$(sed -n 's/^listening on \([^,]*\),.*/\1/p' "$work/serve-$kind.out")
    port=$(scripts/fleet-server.sh start "$work/front" "$backend" "$work/client-cas.pem" "$work/secret")
    load=$(python3 bench/fleet-load.py "$port" "$work/front/server-ca.crt" "$work/certs" "$work/device.key" "$work/logs" "$concurrency")
    rss=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
    echo "fleet $kind: $load, peak RSS ${rss} KiB"
    results+=("{\"store\":\"$kind\",\"load\":$load,\"peakRSSKiB\":$rss}")
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    scripts/fleet-server.sh stop "$work/front"
done
(IFS=,; echo "[${results[*]}]") > bench/results/fleet.json
