#!/usr/bin/env bash
# The records flow end to end: a vehicle records an update, the log is verified, tampering is
# caught, the fleet store ingests and acknowledges, old segments are pruned, and compliance staff
# export and check a signed report.
#
#   scripts/records-demo.sh path/to/ota [WORKDIR]
#
# Without WORKDIR it works in a new temporary directory, removed when it exits; pass WORKDIR to
# keep the log, the fleet store and the report.
set -euo pipefail

OTA=$(realpath "${1:?usage: scripts/records-demo.sh path/to/ota [WORKDIR]}")
KEYS=$(realpath "$(dirname "$0")/../keys-sample/intl")
if [ -n "${2:-}" ]; then
    WORK=$2
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d -t ota-records-demo.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"
step() { printf '\n== %s\n' "$*"; }

# The committed sample PKI ($KEYS): a device key with its vehicle certificate, a compliance signer.
VIN=LSVAU2180N2000001
record() {  # STEP OUTCOME MINUTE [EXTRA-JSON]
    echo "{\"time\":{\"at\":\"2026-03-01T08:$3:00.000Z\",\"source\":\"gnss\"},\"attempt\":\"demo-1\",\"phase\":\"install\",\"step\":\"$1\",\"outcome\":\"$2\",\"update\":{\"bundle\":\"bundle-2026.3\",\"campaign\":\"CAMP-2026-03\",\"categories\":[\"driving-assistance\"],\"references\":[{\"kind\":\"filing\",\"number\":\"OTA-2026-0042\",\"authority\":\"MIIT\"}]},\"ecus\":[{\"ecu\":\"adas\",\"hardwarePart\":\"HW-ADAS-2\",\"versionBefore\":\"4.1\",\"versionAfter\":\"4.2\",\"swinBefore\":\"SWIN-ADAS-41\",\"swinAfter\":\"SWIN-ADAS-42\"}]${4:-}}"
}

step "the vehicle records each step of an update (each append is fsync'd and checkpointed)"
minute=10
for s in verify approval precondition consent apply.start apply.image activate boot commit result; do
    outcome=success
    [ "$s" = apply.start ] || [ "$s" = activate ] && outcome=pending
    "$OTA" records append log --key "$KEYS/vehicle/device.key" --vin $VIN --record "$(record $s $outcome $minute)"
    minute=$((minute + 1))
done

step "verify the log"
"$OTA" records verify log --key "$KEYS/vehicle/device.crt"

step "someone edits a record: verify names it and exits 2"
cp -r log tampered
sed -i '5s/"outcome":"success"/"outcome":"failure"/' tampered/segment-00000000000000000000.log
"$OTA" records verify tampered --key "$KEYS/vehicle/device.crt" || echo "exit status $?"

step "the fleet store ingests (twice: the second adds nothing)"
"$OTA" records ingest --store fleet.db --key "$KEYS/vehicle/device.crt" log
"$OTA" records ingest --store fleet.db --key "$KEYS/vehicle/device.crt" log
"$OTA" records query --store fleet.db --campaign CAMP-2026-03 --count
"$OTA" records register --store fleet.db --swin SWIN-ADAS-42

step "the fleet store refuses to delete records younger than 10 years"
"$OTA" records purge --store fleet.db --before 2026-06-01T00:00:00Z --reason demo \
    --key "$KEYS/compliance/compliance-signer.key" --cert "$KEYS/compliance/compliance-signer.crt" || echo "exit status $?"

step "compliance export (VINs tokenised, chain evidence included), checked by a third party"
"$OTA" records export --store fleet.db --key "$KEYS/compliance/compliance-signer.key" --cert "$KEYS/compliance/compliance-signer.crt" \
    -o export --lang zh-CN --campaign CAMP-2026-03
"$OTA" records verify-export export --trust "$KEYS/trust"
if [ -n "${2:-}" ]; then echo "report: $WORK/export/report.html"; else echo "(pass a WORKDIR to keep the report)"; fi
