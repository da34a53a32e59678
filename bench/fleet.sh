#!/usr/bin/env bash
# Fleet service load: FLEET_VEHICLES simulated vehicles × FLEET_RECORDS records upload their
# logs at once (FLEET_CONCURRENCY connections) through nginx (mutual TLS) to `ota-fleet serve`
# (the fleet service's executable, beside ota; `ota fleet serve` runs the same),
# first on SQLite, then on PostgreSQL (a throw-away server). Then compliance staff (a client
# certificate of the compliance role) query and export the store the load filled (1,000 × 1,000
# by default: a million entries): each query FLEET_REPEATS times, the median kept, and one
# JSON Lines stream of every entry, with the service's RSS before and after it. Loopback only;
# bounded by the counts. Reports uploads/s, entries/s, p50/p99 latency, query and export
# seconds, the service's RSS and the machine's load average (bench/results/fleet.json, or
# $FLEET_RESULTS; docs/PERFORMANCE.md). bench/fleet-ingest.sh runs it at 100,000 × 100 on PostgreSQL.
# Usage: bench/fleet.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "${1:-.build/release/ota}")
# The service is its own executable beside ota (`make release` builds both).
service=$(dirname "$ota")/ota-fleet
[ -x "$service" ] || { echo "bench/fleet.sh: $service is missing (swift build -c release --product ota-fleet)" >&2; exit 1; }
vehicles=${FLEET_VEHICLES:-1000} records=${FLEET_RECORDS:-1000} concurrency=${FLEET_CONCURRENCY:-32} repeats=${FLEET_REPEATS:-3}
stores=${FLEET_STORES:-sqlite postgres}
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
# The logs come from the records test rig (never shipped; `make bench` builds it beside ota).
rig=$(realpath -m "${RIG:-$(dirname "$ota")/ota-records-rig}")
[ -x "$rig" ] || { echo "bench/fleet.sh: $rig is missing (swift build -c release --product ota-records-rig)" >&2; exit 1; }
"$rig" simulate "$work/logs" --key "$work/device.key" --vehicles "$vehicles" --records "$records" >/dev/null
# Each certificate names its VIN in the signer-id extension (what the service reads), issued by
# the sample vehicle CA in one process (`ota-records-rig certify`: the vehicle profile of
# `ota keys issue --role vehicle`; an openssl process per vehicle took minutes at 100,000).
"$rig" certify "$work/logs" --key "$work/device.key" --ca-key $pki/vehicle/root-ca.key \
    --ca-cert $pki/vehicle/root-ca.crt -o "$work/certs" >/dev/null
# Compliance staff: TLS clientAuth plus the compliance role marker, under the sample compliance CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/staff.key" 2>/dev/null
openssl req -new -key "$work/staff.key" -subj "/O=ota sample OEM/OU=compliance/CN=Bench Auditor" -out "$work/staff.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,2.25.277585782059759735957022079731708763311.1.4\n' > "$work/staff.ext"
openssl x509 -req -in "$work/staff.csr" -CA $pki/compliance/root-ca.crt -CAkey $pki/compliance/root-ca.key \
    -set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile "$work/staff.ext" -out "$work/staff.crt" 2>/dev/null
cat $pki/vehicle/root-ca.crt $pki/compliance/root-ca.crt > "$work/client-cas.pem"
vin_one=$(ls "$work/logs" | sed -n "$(( (vehicles + 1) / 2 ))p")

# One compliance request through the TLS front: "SECONDS BYTES" of the median of $repeats runs.
query() {
    local runs=()
    for _ in $(seq "$repeats"); do
        runs+=("$(curl -sS --fail-with-body -o "$work/query.out" -w '%{time_total} %{size_download}' --cacert "$work/front/server-ca.crt" \
            --cert "$work/staff.crt" --key "$work/staff.key" "https://127.0.0.1:$port$1")")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (repeats + 1) / 2 ))p"
}
scripts/fleet-server.sh secret "$work/secret"
results=()
for kind in $stores; do
    if [ $kind = sqlite ]; then store="$work/fleet.db"; else store=$(scripts/postgres-server.sh start "$work/pg"); fi
    "$service" serve --store "$store" --trust $pki/trust --key $pki/compliance/compliance-signer.key \
        --cert $pki/compliance/compliance-signer.crt --proxy-secret-file "$work/secret" --state "$work/state-$kind" \
        --connections 16 --threads 8 > "$work/serve-$kind.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do grep -q listening "$work/serve-$kind.out" && break; sleep 0.1; done
    backend=$(sed -n 's/^listening on \([^,]*\),.*/\1/p' "$work/serve-$kind.out")
    port=$(scripts/fleet-server.sh start "$work/front" "$backend" "$work/client-cas.pem" "$work/secret")
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    load=$(python3 bench/fleet-load.py "$port" "$work/front/server-ca.crt" "$work/certs" "$work/device.key" "$work/logs" "$concurrency")
    rss=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
    echo "fleet $kind: $load, peak RSS ${rss} KiB"
    # Compliance queries and exports on the store the load filled.
    queries=()
    for spec in \
        "vehicle|/v1/records?vin=$vin_one" \
        "vehicle-page|/compliance/vehicles/$vin_one" \
        "campaign-results|/v1/records?campaign=CAMP-2026-1&step=result" \
        "campaign-page|/compliance/campaigns/CAMP-2026-1" \
        "one-day|/v1/records?from=2026-01-10T00:00:00Z&to=2026-01-11T00:00:00Z" \
        "swin|/v1/software?swin=SWIN-$(( (records - 1) / 7 ))" \
        "export-vehicle|/v1/export?vin=$vin_one&formats=csv,jsonl" \
        "export-one-day|/v1/export?from=2026-01-10T00:00:00Z&to=2026-01-11T00:00:00Z&formats=csv,jsonl"; do
        name=${spec%%|*} path=${spec#*|}
        read -r seconds bytes < <(query "$path")
        echo "fleet $kind: $name ${seconds} s, ${bytes} bytes"
        queries+=("{\"query\":\"$name\",\"path\":\"$path\",\"seconds\":$seconds,\"bytes\":$bytes}")
    done
    # Every entry, streamed as JSON Lines once: the service's memory must not follow the size.
    rss_before=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
    read -r stream_seconds stream_bytes < <(curl -sS --fail-with-body -o /dev/null -w '%{time_total} %{size_download}\n' \
        --cacert "$work/front/server-ca.crt" --cert "$work/staff.crt" --key "$work/staff.key" "https://127.0.0.1:$port/v1/records")
    rss_after=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
    peak=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    echo "fleet $kind: all entries streamed in ${stream_seconds} s (${stream_bytes} bytes), RSS ${rss_before} -> ${rss_after} KiB, peak ${peak} KiB; load average ${load_before} -> ${load_after}"
    stream="{\"seconds\":$stream_seconds,\"bytes\":$stream_bytes,\"rssBeforeKiB\":$rss_before,\"rssAfterKiB\":$rss_after}"
    results+=("{\"store\":\"$kind\",\"load\":$load,\"peakRSSKiBAfterUploads\":$rss,\"queries\":[$(IFS=,; echo "${queries[*]}")],\"streamAll\":$stream,\"peakRSSKiB\":$peak,\"loadAverage\":[$load_before,$load_after]}")
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    scripts/fleet-server.sh stop "$work/front"
done
(IFS=,; echo "[${results[*]}]") > "${FLEET_RESULTS:-bench/results/fleet.json}"
