#!/usr/bin/env bash
# Records benchmark: append rate with durability, verify rate, ingest rate into the fleet store,
# SWIN lookups and export time for VEHICLES x PER records (default 10,000 x 100 = 1,000,000), with
# peak memory.
#
#   bench/records.sh path/to/ota [VEHICLES] [PER_VEHICLE]      env: DURABLE_APPENDS (default 20000)
#
# The logs are written by the records test rig (`ota-records-rig`, a separate executable that is
# never shipped; `make bench` builds it): $RIG, default ota-records-rig beside the ota given.
#
# Writes its work files under $BENCH_DIR (default: a new /tmp/ota-records-bench.XXXXXX, removed
# at the end unless KEEP=1) and prints a Markdown table for docs/PERFORMANCE.md.
set -euo pipefail

OTA=$(realpath "${1:?usage: bench/records.sh path/to/ota [VEHICLES] [PER_VEHICLE]}")
VEHICLES=${2:-10000}
PER=${3:-100}
DURABLE_APPENDS=${DURABLE_APPENDS:-20000}
RIG=$(realpath -m "${RIG:-$(dirname "$OTA")/ota-records-rig}")
if [ ! -x "$RIG" ]; then
    echo "bench/records.sh: $RIG is missing (swift build -c release --product ota-records-rig)" >&2
    exit 1
fi
WORK=${BENCH_DIR:-$(mktemp -d /tmp/ota-records-bench.XXXXXX)}
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

if [ ! -x /usr/bin/time ]; then
    echo "bench/records.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi

# The committed sample PKI (intl): one device key for every simulated vehicle, its vehicle-role
# certificate, and the compliance signer that signs exports.
KEYS=$(realpath "$(dirname "$0")/../keys-sample/intl")
cp "$KEYS/vehicle/device.key" "$WORK/device.pem"
cp "$KEYS/vehicle/device.crt" "$WORK/device.crt"

# measure LABEL COMMAND...: runs COMMAND under /usr/bin/time -v; sets SECONDS_TAKEN (wall),
# CPU_TAKEN (user + system: the figure that holds on a shared, loaded machine) and PEAK_KB.
measure() {
    local label=$1; shift
    /usr/bin/time -v -o "$WORK/time.$label" "$@" > "$WORK/out.$label"
    SECONDS_TAKEN=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$WORK/time.$label")
    CPU_TAKEN=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$WORK/time.$label")
    PEAK_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.$label")
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 0.01; printf "%.0f", n / s }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

TOTAL=$((VEHICLES * PER))
ROWS=()

# 1. Append with durability: write + fsync per record, one log (the vehicle's path).
measure append "$RIG" stress-append "$WORK/durable" --key "$WORK/device.pem" --count "$DURABLE_APPENDS" \
    --checkpoint-interval 256
ROWS+=("| append, fsync per record (1 log) | $DURABLE_APPENDS records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$DURABLE_APPENDS" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")

# 2. Generate the fleet: one log per vehicle (bulk durability: no fsync per record).
measure simulate "$RIG" simulate "$WORK/fleet" --key "$WORK/device.pem" --vehicles "$VEHICLES" --records "$PER"
ROWS+=("| generate fleet logs, no fsync ($VEHICLES logs) | $TOTAL records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$TOTAL" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")
LOG_BYTES=$(du -sb "$WORK/fleet" | cut -f1)

# 3. Verify every log (chain, signatures, HEAD), one process.
measure verify "$OTA" records verify --key "$WORK/device.crt" "$WORK"/fleet/*
ROWS+=("| verify ($VEHICLES logs) | $TOTAL records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$TOTAL" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")

# 4. Ingest into the SQLite fleet store (verifies again), then again (idempotent: adds nothing).
measure ingest "$OTA" records ingest --store "$WORK/fleet.db" --key "$WORK/device.crt" "$WORK"/fleet/*
ROWS+=("| ingest into SQLite ($VEHICLES logs) | $TOTAL records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$TOTAL" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")
measure reingest "$OTA" records ingest --store "$WORK/fleet.db" --key "$WORK/device.crt" "$WORK"/fleet/*
ROWS+=("| ingest the same logs again (adds nothing) | $TOTAL records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$TOTAL" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")
DB_BYTES=$(du -cb "$WORK"/fleet.db* | tail -1 | cut -f1)

# 4b. The register's indexed lookups: which vehicles run a SWIN now (SWIN-5: the simulation
#     leaves every vehicle's adas ECU on it, its updates 8 and 12 being refused and rolled back,
#     so the answer lists the whole fleet at 35 to 118 records per vehicle, and none at fewer or
#     more), and one vehicle's software history. Each is a whole process (start-up,
#     store open, query): the median of 5.
lookup() {
    local label=$1; shift
    local times=() cpus=()
    for _ in 1 2 3 4 5; do
        measure "$label" "$@"
        times+=("$SECONDS_TAKEN")
        cpus+=("$CPU_TAKEN")
    done
    SECONDS_TAKEN=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
    CPU_TAKEN=$(printf '%s\n' "${cpus[@]}" | sort -n | sed -n 3p)
}
lookup swin "$OTA" records register --store "$WORK/fleet.db" --swin SWIN-5 --json
SWIN_VEHICLES=$({ grep -o '"vin"' "$WORK/out.swin" || true; } | wc -l)
ROWS+=("| which vehicles run SWIN-5 now (\`records register --swin\`, whole process, median of 5) | $SWIN_VEHICLES vehicles found | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | | $(mib "$PEAK_KB") MiB |")
lookup history "$OTA" records register --store "$WORK/fleet.db" --vin "$(ls "$WORK/fleet" | sed -n "$(( VEHICLES < 43 ? VEHICLES : 43 ))p")" --json
ROWS+=("| one vehicle's software history (\`records register --vin\`, whole process, median of 5) | 1 vehicle | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | | $(mib "$PEAK_KB") MiB |")

# 5. Exports: one campaign (a quarter of the fleet's records), then everything; memory must not
#    grow with the number of records.
SIGNER=(--key "$KEYS/compliance/compliance-signer.key" --cert "$KEYS/compliance/compliance-signer.crt")
measure export-campaign "$OTA" records export --store "$WORK/fleet.db" "${SIGNER[@]}" -o "$WORK/export-campaign" \
    --campaign CAMP-2026-1 --format csv,jsonl,html
CAMPAIGN=$(grep -o '"entries":[0-9]*' "$WORK/export-campaign/manifest.json" | cut -d: -f2)
ROWS+=("| export one campaign, CSV + JSONL + HTML + chain evidence | $CAMPAIGN records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$CAMPAIGN" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")
measure export-all "$OTA" records export --store "$WORK/fleet.db" "${SIGNER[@]}" -o "$WORK/export-all" \
    --format csv,jsonl,html
ALL=$(grep -o '"entries":[0-9]*' "$WORK/export-all/manifest.json" | cut -d: -f2)
ROWS+=("| export everything, CSV + JSONL + HTML + chain evidence | $ALL records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$ALL" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")
EXPORT_BYTES=$(du -sb "$WORK/export-all" | cut -f1)
measure verify-export "$OTA" records verify-export "$WORK/export-all" --trust "$KEYS/trust"
ROWS+=("| verify-export (everything: signer role, files, chain evidence of every vehicle) | $ALL records | ${SECONDS_TAKEN} s | ${CPU_TAKEN} s | $(rate "$ALL" "$SECONDS_TAKEN") records/s | $(mib "$PEAK_KB") MiB |")

echo "Records benchmark: $VEHICLES vehicles x $PER records = $TOTAL records; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "logs $(mib $((LOG_BYTES / 1024))) MiB, store $(mib $((DB_BYTES / 1024))) MiB, full export $(mib $((EXPORT_BYTES / 1024))) MiB"
echo
echo "| step | volume | wall time | CPU time | rate (wall) | peak memory |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
