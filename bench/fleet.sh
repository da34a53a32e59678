#!/usr/bin/env bash
# Fleet service load: FLEET_VEHICLES simulated vehicles × FLEET_RECORDS records upload their
# logs at once (FLEET_CONCURRENCY connections) through nginx (mutual TLS) to `ota-fleet serve`
# (the fleet service's executable, beside ota; `ota fleet serve` runs the same),
# first on SQLite, then on PostgreSQL (a throw-away server). Then compliance staff (a client
# certificate of the compliance role) query and export the store the load filled (1,000 × 1,000
# by default: a million entries): each query FLEET_REPEATS times, the median kept, and one
# JSON Lines stream of every entry right after the load, with the service's RSS before, after
# and at its highest during it (the peak is reset first), then the queries. PostgreSQL keeps its
# durable defaults (fsync, synchronous_commit, full_page_writes on: POSTGRES_DURABLE=1).
# Loopback only; bounded by the counts. Reports the set-up time, uploads/s, entries/s, p50/p99
# latency, samples every FLEET_SAMPLE seconds during the load (entries ingested, service RSS,
# database size, load average), the store's size on disk, query and export seconds and the
# machine's load average (bench/results/fleet.json, or $FLEET_RESULTS; docs/PERFORMANCE.md).
# bench/fleet-ingest.sh runs it at 100,000 × 100 on PostgreSQL. FLEET_KEEP=1 keeps the work
# directory (logs, certificates, the stopped store) for inspection. FLEET_MONTHS=N spreads the
# vehicles over N months ending in January 2026 (vehicle blocks starting a month apart: N monthly
# partitions on PostgreSQL, 120 for ten years of records), so that the per-vehicle queries run on a
# store as many months deep; on PostgreSQL the plan of one vehicle's read is then printed too
# (partitions scanned, planning and execution time), unbounded and bounded by its months.
# Usage: bench/fleet.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
ota=$(realpath "${1:-.build/release/ota}")
# The service is its own executable beside ota (`make release` builds both).
service=$(dirname "$ota")/ota-fleet
[ -x "$service" ] || { echo "bench/fleet.sh: $service is missing (swift build -c release --product ota-fleet)" >&2; exit 1; }
vehicles=${FLEET_VEHICLES:-1000} records=${FLEET_RECORDS:-1000} concurrency=${FLEET_CONCURRENCY:-32} repeats=${FLEET_REPEATS:-3}
stores=${FLEET_STORES:-sqlite postgres} interval=${FLEET_SAMPLE:-30} jobs=${FLEET_JOBS:-1}
months=${FLEET_MONTHS:-1}
# The period the period queries ask for (one day by default; the simulated records are an hour apart).
from=${FLEET_FROM:-2026-01-10T00:00:00Z} to=${FLEET_TO:-2026-01-11T00:00:00Z}
pki=keys-sample/intl
work=$(mktemp -d /tmp/ota-fleet-bench.XXXXXX)
# nginx workers (nobody) and PostgreSQL (postgres) need to reach their directories inside.
chmod 755 "$work"
server_pid="" sampler_pid=""
cleanup() {
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    scripts/fleet-server.sh stop "$work/front" || true
    scripts/postgres-server.sh stop "$work/pg" || true
    if [ "${FLEET_KEEP:-0}" = 1 ]; then echo "fleet: work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p bench/results "$work/certs"
echo "fleet: $vehicles vehicles × $records records, $concurrency at once; work directory $work ($(date -u +%H:%M:%S) UTC)"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
setup_started=$(now)
# One device key for every simulated vehicle (each with a certificate naming its VIN).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/device.key" 2>/dev/null
# The logs come from the records test rig (never shipped; `make bench` builds it beside ota).
rig=$(realpath -m "${RIG:-$(dirname "$ota")/ota-records-rig}")
[ -x "$rig" ] || { echo "bench/fleet.sh: $rig is missing (swift build -c release --product ota-records-rig)" >&2; exit 1; }
# FLEET_JOBS processes share the generation and the certificates (a set-up step, not measured).
parallel() {
    local pids=() status=0
    for job in $(seq 0 $((jobs - 1))); do "$@" "$job" & pids+=($!); done
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    return $status
}
simulate_share() {
    local first=$(( $1 * vehicles / jobs )) end=$(( ($1 + 1) * vehicles / jobs ))
    if [ "$months" -le 1 ]; then
        "$rig" simulate "$work/logs" --key "$work/device.key" --first "$first" --vehicles "$((end - first))" --records "$records" >/dev/null
        return
    fi
    # Block g of the vehicles starts g months after the first month (the last block in January 2026).
    local k=$first block start
    while [ "$k" -lt "$end" ]; do
        block=$(( k * months / vehicles )) start=$(( ((block + 1) * vehicles + months - 1) / months ))
        [ "$start" -gt "$end" ] && start=$end
        "$rig" simulate "$work/logs" --key "$work/device.key" --first "$k" --vehicles "$((start - k))" --records "$records" \
            --start "$(date -u -d "2026-01-01 -$((months - 1 - block)) months" +%Y-%m-%dT00:00:00Z)" >/dev/null
        k=$start
    done
}
step=$(now)
parallel simulate_share
simulate_seconds=$(elapsed "$step") logs_bytes=$(du -sb "$work/logs" | cut -f1)
echo "fleet: logs generated in ${simulate_seconds} s (${logs_bytes} bytes)"
step=$(now)
# Each certificate names its VIN in the signer-id extension (what the service reads), issued by
# the sample vehicle CA without a process per vehicle (`ota-records-rig certify`: the way
# `ota keys issue --role vehicle` issues; an openssl process per vehicle took minutes at 100,000).
certify_share() {
    "$rig" certify "$work/logs" --key "$work/device.key" --ca-key $pki/vehicle/root-ca.key \
        --ca-cert $pki/vehicle/root-ca.crt -o "$work/certs" --shard "$1/$jobs" >/dev/null
}
parallel certify_share
certify_seconds=$(elapsed "$step")
echo "fleet: $vehicles certificates issued in ${certify_seconds} s"
# Compliance staff: TLS clientAuth plus the compliance role marker, under the sample compliance CA.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/staff.key" 2>/dev/null
openssl req -new -key "$work/staff.key" -subj "/O=ota sample OEM/OU=compliance/CN=Bench Auditor" -out "$work/staff.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,2.25.277585782059759735957022079731708763311.1.4\n' > "$work/staff.ext"
openssl x509 -req -in "$work/staff.csr" -CA $pki/compliance/root-ca.crt -CAkey $pki/compliance/root-ca.key \
    -set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile "$work/staff.ext" -out "$work/staff.crt" 2>/dev/null
cat $pki/vehicle/root-ca.crt $pki/compliance/root-ca.crt > "$work/client-cas.pem"
vin_one=$(ls "$work/logs" | sed -n "$(( (vehicles + 1) / 2 ))p")
setup_seconds=$(elapsed "$setup_started")
echo "fleet: set-up ${setup_seconds} s"

# One compliance request through the TLS front: "SECONDS BYTES" of the median of $repeats runs,
# or "failed" (the response is kept in query-failed.out; the other queries still run).
query() {
    local runs=()
    for _ in $(seq "$repeats"); do
        runs+=("$(curl -sS --fail-with-body -o "$work/query.out" -w '%{time_total} %{size_download}' --cacert "$work/front/server-ca.crt" \
            --cert "$work/staff.crt" --key "$work/staff.key" "https://127.0.0.1:$port$1")") || {
            cp "$work/query.out" "$work/query-failed.out" 2>/dev/null || true; echo failed; return 0; }
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n "$(( (repeats + 1) / 2 ))p"
}
# Every $interval seconds while the load runs: UTC time, seconds since the load began, entries
# ingested (the service's counter), entries/s since the last sample, the service's RSS (KiB),
# the database's size (bytes; the SQLite file with its WAL), free space of the work directory
# (KiB), load average (1 minute).
sample() {
    local began=$1 last_entries=0 last=$1 t entries rss size free
    set +e
    while kill -0 "$server_pid" 2>/dev/null; do
        sleep "$interval"
        t=$(now)
        entries=$(curl -s "http://$backend/metrics" | awk '$1 == "ota_fleet_entries_ingested_total" { print $2 }')
        entries=${entries:-0}
        rss=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status 2>/dev/null || echo 0)
        if [ "$kind" = postgres ]; then
            size=$(scripts/postgres-server.sh psql "$work/pg" "SELECT pg_database_size('ota')" 2>/dev/null || echo 0)
        else
            size=$(cat "$work"/fleet.db* 2>/dev/null | wc -c)
        fi
        free=$(df --output=avail "$work" | tail -1 | tr -d ' ')
        printf '%s %.0f %s %.0f %s %s %s %s\n' "$(date -u +%H:%M:%S)" "$(awk -v a="$began" -v b="$t" 'BEGIN { print b - a }')" \
            "$entries" "$(awk -v e="$entries" -v l="$last_entries" -v a="$last" -v b="$t" 'BEGIN { print (e - l) / (b - a) }')" \
            "$rss" "$size" "$free" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$work/samples-$kind.txt" | sed 's/^/fleet progress: /'
        last_entries=$entries last=$t
    done
}
scripts/fleet-server.sh secret "$work/secret"
results=()
for kind in $stores; do
    if [ $kind = sqlite ]; then store="$work/fleet.db"; else store=$(POSTGRES_DURABLE=1 scripts/postgres-server.sh start "$work/pg"); fi
    "$service" serve --store "$store" --trust $pki/trust --key $pki/compliance/compliance-signer.key \
        --cert $pki/compliance/compliance-signer.crt --proxy-secret-file "$work/secret" --state "$work/state-$kind" \
        --connections 16 --threads 8 > "$work/serve-$kind.out" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do grep -q listening "$work/serve-$kind.out" && break; sleep 0.1; done
    backend=$(sed -n 's/^listening on \([^,]*\),.*/\1/p' "$work/serve-$kind.out")
    port=$(scripts/fleet-server.sh start "$work/front" "$backend" "$work/client-cas.pem" "$work/secret")
    load_before=$(cut -d' ' -f1 /proc/loadavg)
    echo "fleet $kind: load began $(date -u +%H:%M:%S) UTC; samples: time, seconds, entries ingested, entries/s, RSS KiB, store bytes, free KiB, load"
    : > "$work/samples-$kind.txt"
    sample "$(now)" &
    sampler_pid=$!
    load=$(python3 bench/fleet-load.py "$port" "$work/front/server-ca.crt" "$work/certs" "$work/device.key" "$work/logs" "$concurrency")
    kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
    rss=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
    echo "fleet $kind: $load, peak RSS ${rss} KiB ($(date -u +%H:%M:%S) UTC)"
    samples=$(awk '{ printf "%s[\"%s\",%s,%s,%s,%s,%s,%s,%s]", (NR > 1 ? "," : ""), $1, $2, $3, $4, $5, $6, $7, $8 }' "$work/samples-$kind.txt")
    if [ $kind = postgres ]; then
        store_bytes=$(scripts/postgres-server.sh psql "$work/pg" "SELECT pg_database_size('ota')")
        disk_bytes=$(du -sb "$work/pg/data" | cut -f1)
        settings=$(scripts/postgres-server.sh psql "$work/pg" \
            "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','shared_buffers','max_wal_size')")
        echo "fleet $kind: database ${store_bytes} bytes, data directory ${disk_bytes} bytes on disk; $settings"
    else
        store_bytes=$(cat "$work"/fleet.db* | wc -c) disk_bytes=$(du -cb "$work"/fleet.db* | tail -1 | cut -f1) settings=""
        echo "fleet $kind: store ${store_bytes} bytes"
    fi
    # Every entry, streamed as JSON Lines once: the service's memory must not follow the size.
    # Its peak (VmHWM) is reset first, so the peak read after is the stream's; RSS is also
    # sampled every second while it runs.
    rss_before=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
    echo 5 > /proc/$server_pid/clear_refs || echo "fleet: the service's peak RSS could not be reset: the stream's peak is the run's" >&2
    ( while kill -0 "$server_pid" 2>/dev/null; do awk '/VmRSS/ {print $2}' /proc/$server_pid/status; sleep 1; done ) > "$work/stream-rss-$kind.txt" &
    sampler_pid=$!
    stream_began=$(date -u +%H:%M:%S)
    stream_lines=$(curl -sS --fail-with-body -w '%{stderr}%{time_total} %{size_download}\n' --cacert "$work/front/server-ca.crt" \
        --cert "$work/staff.crt" --key "$work/staff.key" "https://127.0.0.1:$port/v1/records" 2> "$work/stream-$kind.w" | wc -l) || true
    read -r stream_seconds stream_bytes < <(grep -E '^[0-9.]+ [0-9]+$' "$work/stream-$kind.w" || echo "failed 0")
    kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
    rss_after=$(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)
    stream_peak=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
    stream_max=$(sort -n "$work/stream-rss-$kind.txt" | tail -1)
    load_stream=$(cut -d' ' -f1 /proc/loadavg)
    echo "fleet $kind: all entries streamed from $stream_began UTC in ${stream_seconds} s (${stream_lines} lines, ${stream_bytes} bytes), RSS ${rss_before} -> ${rss_after} KiB, peak during the stream ${stream_peak} KiB (highest 1-second sample ${stream_max} KiB); load average $load_stream"
    [ "$stream_seconds" = failed ] && stream_seconds='"failed"'
    stream="{\"seconds\":$stream_seconds,\"lines\":$stream_lines,\"bytes\":$stream_bytes,\"rssBeforeKiB\":$rss_before,\"rssAfterKiB\":$rss_after,\"peakRSSKiB\":$stream_peak,\"highestSampleKiB\":${stream_max:-0},\"loadAverage\":$load_stream}"
    # Compliance queries and exports on the store the load filled.
    queries=()
    for spec in \
        "vehicle|/v1/records?vin=$vin_one" \
        "vehicle-page|/compliance/vehicles/$vin_one" \
        "campaign-results|/v1/records?campaign=CAMP-2026-1&step=result" \
        "campaign-page|/compliance/campaigns/CAMP-2026-1" \
        "period|/v1/records?from=$from&to=$to" \
        "swin|/v1/software?swin=SWIN-$(( (records - 1) / 7 ))" \
        "export-vehicle|/v1/export?vin=$vin_one&formats=csv,jsonl" \
        "export-period|/v1/export?from=$from&to=$to&formats=csv,jsonl"; do
        name=${spec%%|*} path=${spec#*|}
        read -r seconds bytes < <(query "$path")
        echo "fleet $kind: $name ${seconds} s, ${bytes:-0} bytes"
        [ "$seconds" = failed ] && seconds='"failed"'
        queries+=("{\"query\":\"$name\",\"path\":\"$path\",\"seconds\":$seconds,\"bytes\":${bytes:-0}}")
    done
    if [ $kind = postgres ]; then
        # One vehicle's read as PostgreSQL plans it: by VIN alone (every month's partition), and
        # bounded by the months vehicle_month lists for it (the store's reads since schema 2).
        partitions=$(scripts/postgres-server.sh psql "$work/pg" "SELECT count(*) FROM pg_inherits WHERE inhparent = 'entry'::regclass")
        select="SELECT vin, seq, hash, prev, kind, time, body FROM entry WHERE vin = '$vin_one'"
        bounded=$(scripts/postgres-server.sh psql "$work/pg" "SELECT string_agg(format('(time >= %L AND time < %L)',
            to_char(to_date(month::text, 'YYYYMM'), 'YYYY-MM-DD\"T00:00:00.000Z\"'),
            to_char(to_date(month::text, 'YYYYMM') + interval '1 month', 'YYYY-MM-DD\"T00:00:00.000Z\"')), ' OR ')
            FROM vehicle_month WHERE vin = '$vin_one'" 2>/dev/null || true)
        for shape in unbounded bounded; do
            sql="$select ORDER BY seq LIMIT 500"
            if [ $shape = bounded ]; then [ -n "$bounded" ] || continue; sql="$select AND ($bounded) ORDER BY seq LIMIT 500"; fi
            for _ in 1 2 3; do
                scripts/postgres-server.sh psql "$work/pg" "EXPLAIN (ANALYZE, SUMMARY) $sql" > "$work/plan-$shape.txt"
            done
            echo "fleet $kind: one vehicle's read, $shape: $(grep -Ec ' on entry_p[0-9]+ ' "$work/plan-$shape.txt") of $partitions partitions scanned, $(grep -E '^(Planning|Execution) Time' "$work/plan-$shape.txt" | tr '\n' ' ')(third run)"
        done
    fi
    peak=$(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)
    load_after=$(cut -d' ' -f1 /proc/loadavg)
    echo "fleet $kind: done $(date -u +%H:%M:%S) UTC; peak RSS since the stream began ${peak} KiB; load average ${load_before} -> ${load_after}"
    results+=("{\"store\":\"$kind\",\"setupSeconds\":$setup_seconds,\"simulateSeconds\":$simulate_seconds,\"certifySeconds\":$certify_seconds,\"logsBytes\":$logs_bytes,\"load\":$load,\"peakRSSKiBAfterUploads\":$rss,\"samples\":[$samples],\"storeBytes\":$store_bytes,\"diskBytes\":$disk_bytes,\"settings\":\"$settings\",\"streamAll\":$stream,\"queries\":[$(IFS=,; echo "${queries[*]}")],\"peakRSSKiBAfterStream\":$peak,\"loadAverage\":[$load_before,$load_after]}")
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
    scripts/fleet-server.sh stop "$work/front"
done
(IFS=,; echo "[${results[*]}]") > "${FLEET_RESULTS:-bench/results/fleet.json}"
