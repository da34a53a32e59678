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
if [ -n "${2:-}" ]; then
    WORK=$2
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d -t ota-records-demo.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
cd "$WORK"
step() { printf '\n== %s\n' "$*"; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out device.pem 2>/dev/null
openssl pkey -in device.pem -pubout -out device.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out compliance.pem 2>/dev/null
openssl pkey -in compliance.pem -pubout -out compliance.pub
VIN=LSVAU2180N2000001

step "the vehicle records each step of an update (each append is fsync'd and checkpointed)"
for s in verify policy consent apply switch boot confirm; do
    "$OTA" records append log --key device.pem --vin $VIN --record "{\"time\":\"2026-03-01T08:0${#s}:00.000Z\",\"timeSource\":\"gnss\",\"vin\":\"$VIN\",\"bundle\":\"bundle-2026.3\",\"campaign\":\"CAMP-2026-03\",\"ecu\":\"adas\",\"hardwarePart\":\"HW-ADAS-2\",\"step\":\"$s\",\"result\":\"success\",\"versionBefore\":\"4.1\",\"versionAfter\":\"4.2\",\"swinBefore\":\"RXSWIN-ADAS-41\",\"swinAfter\":\"RXSWIN-ADAS-42\",\"categories\":[\"driving-assistance\"],\"regulatory\":[{\"kind\":\"filing\",\"number\":\"OTA-2026-0042\",\"authority\":\"MIIT\"}]}"
done

step "verify the log"
"$OTA" records verify log --key device.pub

step "someone edits a record: verify names it and exits 2"
cp -r log tampered
sed -i '5s/"result":"success"/"result":"failure"/' tampered/segment-00000000000000000000.log
"$OTA" records verify tampered --key device.pub || echo "exit status $?"

step "the fleet store ingests (twice: the second adds nothing)"
"$OTA" records ingest --store fleet.db --key device.pub log
"$OTA" records ingest --store fleet.db --key device.pub log
"$OTA" records query --store fleet.db --campaign CAMP-2026-03 --count

step "the fleet store refuses to delete records younger than 10 years"
"$OTA" records purge --store fleet.db --before 2026-06-01T00:00:00Z || echo "exit status $?"

step "compliance export (VINs tokenised), checked by a third party"
"$OTA" records export --store fleet.db --key compliance.pem -o export --lang zh-CN --campaign CAMP-2026-03
"$OTA" records verify-export export --key compliance.pub
if [ -n "${2:-}" ]; then echo "report: $WORK/export/report.html"; else echo "(pass a WORKDIR to keep the report)"; fi
