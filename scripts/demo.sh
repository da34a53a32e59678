#!/usr/bin/env bash
# The main job on the bundled samples: what `make demo` runs.
# Usage: scripts/demo.sh [path/to/ota]
set -euo pipefail
cd "$(dirname "$0")/.."
ota=${1:-.build/release/ota}
out=out/demo
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }
expect_reject() {  # runs a command that must be refused with exit 2
    set +e
    "$@"
    local rc=$?
    set -e
    if [ "$rc" -ne 2 ]; then echo "demo: expected exit 2 (rejected), got $rc: $*" >&2; exit 1; fi
    echo "   (refused as expected, exit 2)"
}

for suite in intl gm; do
    step "[$suite] a fresh sample PKI: release, approval, repository, vehicle and compliance roles"
    "$ota" keys init --suite "$suite" --out "$out/pki-$suite"

    pki=keys-sample/$suite
    step "[$suite] the committed sample signers chain to the release anchors of the vehicle trust store"
    for signer in signer-1 signer-2; do
        "$ota" keys verify "$pki/release/$signer.crt" --chain "$pki/release/chain.pem" --trust "$pki/trust" --role release
    done

    step "[$suite] a revoked signer is refused"
    expect_reject "$ota" keys verify "$pki/release/revoked-signer.crt" --chain "$pki/release/chain.pem" --trust "$pki/trust" --role release

    step "[$suite] the approval authority is trusted for approvals, never as a release signer"
    "$ota" keys verify "$pki/approval/approval-signer.crt" --trust "$pki/trust" --role approval
    expect_reject "$ota" keys verify "$pki/approval/approval-signer.crt" --trust "$pki/trust" --role release
done

intl=keys-sample/intl
gm=keys-sample/gm
step "sample images for the manifests in manifests/"
scripts/make-sample-images.sh "$out/images" 8

step "[intl] build the infotainment bundle (signer 1), then co-sign it (signer 2): two-person rule"
"$ota" bundle build manifests/infotainment-full.yaml --images "$out/images" \
    --key "$intl/release/signer-1.encrypted.key" --passphrase-file "$intl/release/signer-1.passphrase" \
    --cert "$intl/release/signer-1.crt" --chain "$intl/release/chain.pem" \
    --recipient "$intl/vehicle/fleet-recipient.crt" -o "$out/ivi.ota"
tar tvf "$out/ivi.ota"
step "[intl] one signature does not meet a threshold of two"
expect_reject "$ota" bundle verify "$out/ivi.ota" --trust "$intl/trust" --threshold 2
"$ota" bundle sign "$out/ivi.ota" --key "$intl/release/signer-2.key" --cert "$intl/release/signer-2.crt" --chain "$intl/release/chain.pem"
"$ota" bundle verify "$out/ivi.ota" --trust "$intl/trust" --threshold 2 --deep --decryption-key "$intl/vehicle/fleet-recipient.key"

step "[intl] add the vehicle's own device key as a recipient, without re-signing"
"$ota" bundle rewrap "$out/ivi.ota" --key "$intl/vehicle/fleet-recipient.key" --recipient "$intl/vehicle/device.crt"
"$ota" bundle verify "$out/ivi.ota" --trust "$intl/trust" --threshold 2 --deep --decryption-key "$intl/vehicle/device.key"

step "[intl] the automated-driving update, approved by the approval authority"
"$ota" bundle build manifests/adas-automated-driving.yaml --images "$out/images" \
    --key "$intl/release/signer-1.key" --cert "$intl/release/signer-1.crt" --chain "$intl/release/chain.pem" -o "$out/adas.ota"
"$ota" approve "$out/adas.ota" --key "$intl/approval/approval-signer.key" --cert "$intl/approval/approval-signer.crt" \
    --approval-id MIIT-AD-2026-0042 --models X1 -o "$out/adas.approval"
"$ota" bundle verify "$out/adas.ota" --trust "$intl/trust" --approval "$out/adas.approval" --model X1
step "[intl] a release engineer cannot approve their own change"
"$ota" approve "$out/adas.ota" --key "$intl/release/signer-1.key" --cert "$intl/release/signer-1.crt" \
    --approval-id MIIT-AD-2026-0042 --models X1 -o "$out/self.approval"
expect_reject "$ota" bundle verify "$out/adas.ota" --trust "$intl/trust" --approval "$out/self.approval" --model X1

step "[intl] a multi-ECU bundle: infotainment as a delta from 2.3.1, telematics as a full image"
"$ota" bundle build manifests/multi-ecu-delta.yaml --images "$out/images" \
    --key "$intl/release/signer-1.key" --cert "$intl/release/signer-1.crt" --chain "$intl/release/chain.pem" -o "$out/x1-delta.ota"
"$ota" bundle verify "$out/x1-delta.ota" --trust "$intl/trust" --deep
step "[intl] the same delta by hand: ota delta create / apply"
# `ota delta create` runs ota-diff, beside ota (make release builds both), in its place.
[ -x "$(dirname "$ota")/ota-diff" ] || { echo "demo: $(dirname "$ota")/ota-diff is missing (make release)" >&2; exit 1; }
"$ota" delta create "$out/images/ivi-rootfs-2.3.1.img" "$out/images/ivi-rootfs-2.4.0.img" -o "$out/ivi.patch"
"$ota" delta apply "$out/images/ivi-rootfs-2.3.1.img" "$out/ivi.patch" -o "$out/ivi-rootfs-rebuilt.img"
cmp "$out/images/ivi-rootfs-2.4.0.img" "$out/ivi-rootfs-rebuilt.img" && echo "   rebuilt image is byte-identical ($(stat -c %s "$out/ivi.patch")-byte patch for a $(stat -c %s "$out/images/ivi-rootfs-2.4.0.img")-byte image)"

step "[gm] the body-electronics bundle: SM2 signature, SM3 hashes, SM4 encryption"
"$ota" bundle build manifests/body-gm.yaml --images "$out/images" \
    --key "$gm/release/signer-1.key" --cert "$gm/release/signer-1.crt" --chain "$gm/release/chain.pem" \
    --recipient "$gm/vehicle/device.crt" -o "$out/body-gm.ota"
"$ota" bundle verify "$out/body-gm.ota" --trust "$gm/trust" --deep --decryption-key "$gm/vehicle/device.key"
step "[gm] an intl trust store does not trust a gm bundle"
expect_reject "$ota" bundle verify "$out/body-gm.ota" --trust "$intl/trust"

step "inspect the infotainment bundle"
"$ota" bundle inspect "$out/ivi.ota"

step "[vehicle] a simulated X1 (samples/vehicle-x1.yaml): A/B slots per group (infotainment 2.3.1 in slot A), GRUB environment block, trust store, device key"
car=$out/car
"$ota" vehicle init "$car" --config samples/vehicle-x1.yaml --images "$out/images"
echo '{"parked": true, "gear": "P", "batteryPercent": 80, "driving": false, "doorsUnlockable": true}' > "$out/vehicle-state.json"

step "[vehicle] this vehicle installs only what its TUF repository lists: a local file is refused (repository.required) unless installed as a recorded workshop install"
expect_reject "$ota" install "$out/x1-delta.ota" --vehicle "$car" --state "$out/vehicle-state.json" --consent yes
step "[vehicle] workshop installs: the automated-driving update without an approval is refused (approval.missing), and with a self-made one"
expect_reject "$ota" install --workshop "$out/adas.ota" --vehicle "$car" --state "$out/vehicle-state.json" --consent yes
expect_reject "$ota" install --workshop "$out/adas.ota" --vehicle "$car" --state "$out/vehicle-state.json" --consent yes --approval "$out/self.approval"
step "[vehicle] with the authority's approval: policy, stream into the inactive slot, switch on trial"
"$ota" install --workshop "$out/adas.ota" --vehicle "$car" --state "$out/vehicle-state.json" --consent yes --language zh-CN --approval "$out/adas.approval"
step "[vehicle] nothing is committed before the new slot has booted"
expect_reject "$ota" vehicle confirm "$car"
"$ota" vehicle reboot "$car" > /dev/null
"$ota" vehicle confirm "$car"

step "[vehicle] a second update as a delta (infotainment 2.3.1 -> 2.4.0) with a full telematics image; never confirmed, the boot counter runs out and both groups fall back"
"$ota" install --workshop "$out/x1-delta.ota" --vehicle "$car" --state "$out/vehicle-state.json" --consent yes
for boot in 1 2 3 4; do "$ota" vehicle reboot "$car" > /dev/null; done
"$ota" vehicle status "$car"
step "[vehicle] installed again, booted and confirmed"
"$ota" install --workshop "$out/x1-delta.ota" --vehicle "$car" --state "$out/vehicle-state.json" --consent yes
"$ota" vehicle reboot "$car" > /dev/null
"$ota" vehicle confirm "$car"
step "[repository] a TUF repository (root, targets, snapshot, timestamp; consistent snapshots): the infotainment bundle added after it verifies against the release trust store"
repo=$out/repo
"$ota" repo init "$repo" --suite intl
"$ota" repo add "$repo" "$out/ivi.ota" --trust "$intl/trust" --release-threshold 2 --name x1/ivi-2026.12.ota
"$ota" repo publish "$repo"
"$ota" repo verify "$repo"
step "[repository] a bundle that does not verify is refused (repo.bundle)"
expect_reject "$ota" repo add "$repo" "$out/body-gm.ota" --trust "$intl/trust"
step "[repository] nginx on loopback serves it over mutual TLS (ssl_verify_client on, vehicle CA)"
read -r https_port _ < <(scripts/repo-server.sh start "$out/nginx" "$repo" "$intl/vehicle/root-ca.crt")
trap 'scripts/repo-server.sh stop "$out/nginx"' EXIT
echo "   https://localhost:$https_port/ (server CA $out/nginx/server-ca.crt)"
car2=$out/car2
"$ota" vehicle init "$car2" --config samples/vehicle-x1.yaml --images "$out/images" > /dev/null
agent=(--vehicle "$car2" --repository "https://localhost:$https_port" --root "$repo/metadata/1.root.json"
    --ca "$out/nginx/server-ca.crt" --cert "$intl/vehicle/device.crt" --key "$intl/vehicle/device.key")
step "[agent] a second X1 checks the repository, then pulls (mutual TLS, chunk-checked Range download) and installs"
"$ota" agent check "${agent[@]}"
"$ota" agent run "${agent[@]}" --state "$out/vehicle-state.json" --consent yes --language zh-CN
step "[agent] after the reboot the next run confirms; then it is up to date"
"$ota" vehicle reboot "$car2" > /dev/null
"$ota" agent run "${agent[@]}"
"$ota" agent run "${agent[@]}"
step "[agent] without the vehicle certificate the server refuses the connection (transport.client-rejected)"
expect_reject "$ota" agent check --vehicle "$car2" --repository "https://localhost:$https_port" --ca "$out/nginx/server-ca.crt"
step "[agent] the agent's steps in the second car's record log (through the fleet store)"
"$ota" records ingest --store "$out/car2-records.db" --key "$intl/vehicle/device.crt" "$car2/records"
"$ota" records query --store "$out/car2-records.db" --step agent.install

step "[records] the vehicle's tamper-evident log (hash-chained, checkpoints signed by the device key) verifies: every step, every refusal, every attempt's result"
"$ota" records verify "$car/records" --key "$intl/vehicle/device.crt"
step "[records] the fleet store ingests it (twice: the second adds nothing); the register says what the infotainment ECU ran"
"$ota" records ingest --store "$out/fleet.db" --key "$intl/vehicle/device.crt" "$car/records"
"$ota" records ingest --store "$out/fleet.db" --key "$intl/vehicle/device.crt" "$car/records"
"$ota" records register --store "$out/fleet.db" --vin LSVX1A2B3C4D56789
step "[records] the refused and failed attempts"
"$ota" records query --store "$out/fleet.db" --step result --outcome rejected
"$ota" records query --store "$out/fleet.db" --step result --outcome rolled-back
step "[records] compliance exports CSV, JSON Lines and a zh-CN report with the vehicle's chain evidence, signed by the compliance key; a third party checks it"
"$ota" records export --store "$out/fleet.db" --out "$out/export" --key "$intl/compliance/compliance-signer.key" \
    --cert "$intl/compliance/compliance-signer.crt" --trust "$intl/trust" --lang zh-CN
"$ota" records verify-export "$out/export" --trust "$intl/trust"
ls "$out/export"

step "[fleet] provisioning: the car's device certificate names its VIN (a request from its own key, issued by the vehicle CA)"
"$ota" keys csr --key "$intl/vehicle/device.key" --cn "Vehicle Device LSVX1A2B3C4D56789" --org "ota sample OEM" --ou vehicle -o "$out/car-device.csr"
"$ota" keys issue "$out/car-device.csr" --role vehicle --signer-id LSVX1A2B3C4D56789 --days 30 \
    --ca-key "$intl/vehicle/root-ca.key" --ca-cert "$intl/vehicle/root-ca.crt" -o "$out/car-device.crt"
# Compliance staff sign in with a TLS client certificate of the compliance role (clientAuth + role marker).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/staff.key" 2>/dev/null
openssl req -new -key "$out/staff.key" -subj "/O=ota sample OEM/OU=compliance/CN=Compliance Officer 1" -out "$out/staff.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth,2.25.277585782059759735957022079731708763311.1.4\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n' > "$out/staff.ext"
openssl x509 -req -in "$out/staff.csr" -CA "$intl/compliance/root-ca.crt" -CAkey "$intl/compliance/root-ca.key" \
    -set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile "$out/staff.ext" -out "$out/staff.crt" 2>/dev/null

step "[fleet] ota fleet serve (SQLite store) on loopback behind nginx, which ends mutual TLS for vehicle and compliance certificates"
# The service is its own executable, ota-fleet, beside ota (make release builds both); `ota fleet` runs it in place.
[ -x "$(dirname "$ota")/ota-fleet" ] || { echo "demo: $(dirname "$ota")/ota-fleet is missing (make release)" >&2; exit 1; }
scripts/fleet-server.sh secret "$out/fleet-secret"
"$ota" fleet serve --store "$out/fleet-service.db" --trust "$intl/trust" --key "$intl/compliance/compliance-signer.key" \
    --cert "$intl/compliance/compliance-signer.crt" --proxy-secret-file "$out/fleet-secret" --state "$out/fleet-state" \
    --threads 2 --connections 2 > "$out/fleet-serve.log" 2>&1 &
fleet_pid=$!
trap 'scripts/repo-server.sh stop "$out/nginx"; scripts/fleet-server.sh stop "$out/fleet-nginx"; kill $fleet_pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q listening "$out/fleet-serve.log" && break; sleep 0.1; done
backend=$(sed -n 's/^listening on \([^,]*\),.*/\1/p' "$out/fleet-serve.log")
[ -n "$backend" ] || { cat "$out/fleet-serve.log" >&2; echo "demo: the fleet service did not start" >&2; exit 1; }
cat "$intl/vehicle/root-ca.crt" "$intl/compliance/root-ca.crt" > "$out/fleet-client-cas.pem"
fleet_port=$(scripts/fleet-server.sh start "$out/fleet-nginx" "$backend" "$out/fleet-client-cas.pem" "$out/fleet-secret")
fleet=https://localhost:$fleet_port
echo "   $fleet (service $backend, server CA $out/fleet-nginx/server-ca.crt)"

step "[fleet] the car uploads its record log over mutual TLS and keeps the service's signed acknowledgement; it prunes only acknowledged entries past the retention (none yet)"
"$ota" agent upload --vehicle "$car" --fleet "$fleet" --ca "$out/fleet-nginx/server-ca.crt" --cert "$out/car-device.crt" --key "$intl/vehicle/device.key"
step "[fleet] uploaded again: nothing new, the same acknowledgement"
"$ota" agent upload --vehicle "$car" --fleet "$fleet" --ca "$out/fleet-nginx/server-ca.crt" --cert "$out/car-device.crt" --key "$intl/vehicle/device.key"
fleet_curl=(curl -sS --fail-with-body --cacert "$out/fleet-nginx/server-ca.crt")
step "[fleet] a vehicle certificate may not read compliance data (fleet.role, HTTP 403)"
code=$(curl -sS -o "$out/fleet-refused.json" -w '%{http_code}' --cacert "$out/fleet-nginx/server-ca.crt" \
    --cert "$out/car-device.crt" --key "$intl/vehicle/device.key" "$fleet/v1/records")
cat "$out/fleet-refused.json"
[ "$code" = 403 ] || { echo "demo: expected 403 for a vehicle certificate, got $code" >&2; exit 1; }
step "[fleet] compliance staff query the car's results and export its records (signed manifest); a third party checks the export"
"${fleet_curl[@]}" --cert "$out/staff.crt" --key "$out/staff.key" "$fleet/v1/records?vin=LSVX1A2B3C4D56789&step=result" | cut -c1-160
"${fleet_curl[@]}" --cert "$out/staff.crt" --key "$out/staff.key" "$fleet/v1/export?vin=LSVX1A2B3C4D56789&language=zh-CN" > "$out/fleet-export.json"
cat "$out/fleet-export.json"
mkdir -p "$out/fleet-export"
for file in $(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["files"]))' "$out/fleet-export.json"); do
    name=${file#/v1/exports/*/}
    mkdir -p "$out/fleet-export/$(dirname "$name")"
    "${fleet_curl[@]}" --cert "$out/staff.crt" --key "$out/staff.key" "$fleet$file" -o "$out/fleet-export/$name"
done
"$ota" records verify-export "$out/fleet-export" --trust "$intl/trust"
"${fleet_curl[@]}" "http://$backend/metrics" 2>/dev/null | grep -E '^ota_fleet_(uploads|entries_ingested)_total' || true

step "demo finished: outputs in $out"
