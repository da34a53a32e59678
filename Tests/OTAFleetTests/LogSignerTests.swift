import Foundation
import OTAAgent
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import OTATransport
import Testing

/// The TLS client certificate and the log signer's certificate are bound by one rule in both
/// suites (`LogSigner`): same VIN in the signer-id extension, both vehicle-role certificates
/// chained to the `vehicle` anchors and not revoked, the signer's key the log's. The sample
/// vehicle authenticates with its P-256 `device-tls` certificate and signs its log with its
/// device key (SM2 in gm, where TLS has no SM2).
extension FleetIntegration {
    @Suite struct LogSignerTests {
        /// The VIN the sample device certificates name (the sample vehicle's, samples/vehicle-x1*.yaml).
        static func vin(_ suite: String) -> String { suite == "gm" ? "LSVX1A2B3C4D56790" : "LSVX1A2B3C4D56789" }
        static let suites = ["intl", "gm"]

        /// The sample vehicle of `suite`: its TLS client, its device key and certificate, and a log
        /// of `count` records signed by the device key.
        struct SampleVehicle {
            let vin: String
            let tls: FleetHarness.Client
            let deviceKey: String
            let deviceCertificate: String
            let log: String
            let last: UInt64
        }

        func sampleVehicle(_ harness: FleetHarness, count: Int = 200) throws -> SampleVehicle {
            let keys = harness.pki.directory + "/vehicle"
            let vin = Self.vin(harness.pki.directory.hasSuffix("/gm") ? "gm" : "intl")
            let recorder = try FleetFixture.log(
                at: harness.ws.path + "/log", vin: vin, key: try PrivateKey(contentsOf: keys + "/device.key"),
                count: count, clock: ManualClock(FleetFixture.start))
            let tls = FleetHarness.Client(
                key: keys + "/device-tls.key", certificate: keys + "/device-tls.crt",
                privateKey: try PrivateKey(contentsOf: keys + "/device-tls.key"))
            return SampleVehicle(
                vin: vin, tls: tls, deviceKey: keys + "/device.key", deviceCertificate: keys + "/device.crt",
                log: recorder.layout.directory, last: recorder.nextSeq - 1)
        }

        /// `X-Log-Signer-Certificate` for the certificate in `path`.
        func signerHeader(_ path: String) throws -> String {
            var unreserved = CharacterSet.alphanumerics
            unreserved.insert(charactersIn: "-._~")
            let pem = try String(contentsOfFile: path, encoding: .utf8)
            return "X-Log-Signer-Certificate: " + (pem.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")
        }

        func errorCode(_ reply: FleetHarness.Reply) -> String? {
            guard case .object(let members)? = try? reply.json(), case .string(let code)? = members["error"] else {
                return nil
            }
            return code
        }

        @Test(arguments: suites)
        func `the sample vehicle uploads with its TLS certificate, is acknowledged and prunes`(_ suite: String) throws {
            let harness = try FleetHarness(.sqlite, suite: suite); defer { harness.stop() }
            let car = try sampleVehicle(harness)
            let later = RecordTime.adding(months: 14, to: FleetFixture.start)
            let segments = try LogLayout(directory: car.log).segments().count
            let uploader = FleetUploader(
                log: car.log, deviceKey: car.deviceKey, trust: harness.pki.trustPath,
                acknowledgementPath: harness.ws.path + "/vehicle/fleet-ack.json", fleet: harness.url,
                transport: TransportOptions(
                    clientCertificate: car.tls.certificate, clientKey: car.tls.key,
                    pinnedCA: harness.front + "/server-ca.crt", retries: 2, backoff: 0.05),
                signerCertificate: car.deviceCertificate)
            let report = try uploader.upload(now: later)
            #expect(report.through == car.last)
            #expect(try harness.store.count(matching: RecordFilter(kinds: [.record])) == 200)
            // The acknowledgement verifies on the vehicle's trust store; old acknowledged segments went.
            let kept = try FleetAcknowledgement(
                json: try FileSystem.read(harness.ws.path + "/vehicle/fleet-ack.json"), source: "kept")
            try kept.verify(trust: try harness.pki.trust(), at: Date())
            #expect(kept.vin == car.vin)
            #expect(report.prunedSegments > 0)
            #expect(try LogLayout(directory: car.log).segments().count < segments)
            // The store keeps the device certificate as the log's key, not the TLS one.
            let stored = try #require(try harness.store.vehicle(car.vin))
            let deviceKeyID = try Certificate.load(contentsOf: car.deviceCertificate)[0].publicKey.keyID(.sha256).hex
            #expect(stored.keys.map(\.keyID) == [deviceKeyID])
            // Sent again: only what the prune recorded is new; no record is stored twice.
            let again = try uploader.upload(now: later)
            #expect((again.through ?? 0) > (report.through ?? 0))
            #expect(try harness.store.vehicle(car.vin)?.headSeq == again.through)
            #expect(try harness.store.count(matching: RecordFilter(kinds: [.record])) == 200)
        }

        @Test(arguments: suites)
        func `a TLS certificate that is not the log's key needs the log signer's certificate`(_ suite: String) throws {
            let harness = try FleetHarness(.sqlite, suite: suite); defer { harness.stop() }
            let car = try sampleVehicle(harness, count: 20)
            let body = try FleetHarness.uploadBody(car.log)
            let path = "/v1/vehicles/\(car.vin)/log"
            let bare = try harness.request(path, client: car.tls, method: "POST", body: body)
            #expect(bare.status == 403 && errorCode(bare) == "fleet.signer-certificate", "\(bare.text)")
            // A vehicle certificate of the right VIN, but not of the log's key (the TLS one itself).
            let tlsAsSigner = try harness.request(
                path, client: car.tls, method: "POST", body: body, headers: [try signerHeader(car.tls.certificate)])
            #expect(
                tlsAsSigner.status == 403 && errorCode(tlsAsSigner) == "fleet.signer-certificate", "\(tlsAsSigner.text)"
            )
            // A certificate of another role as the signer (the compliance signer).
            let compliance = try harness.request(
                path, client: car.tls, method: "POST", body: body,
                headers: [try signerHeader(harness.pki.directory + "/compliance/compliance-signer.crt")])
            #expect(
                compliance.status == 403 && errorCode(compliance) == "fleet.signer-certificate", "\(compliance.text)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
            let signed = try harness.request(
                path, client: car.tls, method: "POST", body: body, headers: [try signerHeader(car.deviceCertificate)])
            #expect(signed.status == 200, "\(signed.text)")
        }

        @Test(arguments: suites)
        func `another vehicle's TLS certificate, or one without the vehicle role, cannot upload the log`(
            _ suite: String
        ) throws {
            let harness = try FleetHarness(.sqlite, suite: suite); defer { harness.stop() }
            let car = try sampleVehicle(harness, count: 20)
            let body = try FleetHarness.uploadBody(car.log)
            let signer = try signerHeader(car.deviceCertificate)
            // Another vehicle's TLS certificate (vehicle role, its own VIN), with this vehicle's signer certificate.
            let other = try harness.client(.vehicle, name: "LSVOTHER000000002", caName: "tls-ca")
            for vin in [car.vin, "LSVOTHER000000002"] {
                let reply = try harness.request(
                    "/v1/vehicles/\(vin)/log", client: other, method: "POST", body: body, headers: [signer])
                #expect(reply.status == 403 && errorCode(reply) == "fleet.vin-mismatch", "\(vin): \(reply.text)")
            }
            // This vehicle's TLS certificate with another vehicle's signer certificate.
            let foreignSigner = try harness.request(
                "/v1/vehicles/\(car.vin)/log", client: car.tls, method: "POST", body: body,
                headers: [try signerHeader(other.certificate)])
            #expect(
                foreignSigner.status == 403 && errorCode(foreignSigner) == "fleet.vin-mismatch",
                "\(foreignSigner.text)")
            // The right VIN, issued by the vehicle TLS CA, but without the vehicle role marker.
            let unmarked = try harness.client(
                .vehicle, name: car.vin, extendedKeyUsage: "clientAuth", caName: "tls-ca")
            let refused = try harness.request(
                "/v1/vehicles/\(car.vin)/log", client: unmarked, method: "POST", body: body, headers: [signer])
            #expect(refused.status == 401 && errorCode(refused) == "fleet.client-certificate", "\(refused.text)")
            // The vehicle role, but no VIN in the signer-id extension (only in the common name).
            let nameless = try harness.client(.vehicle, name: car.vin, caName: "tls-ca", vin: .some(nil))
            let noVIN = try harness.request(
                "/v1/vehicles/\(car.vin)/log", client: nameless, method: "POST", body: body, headers: [signer])
            #expect(noVIN.status == 401 && errorCode(noVIN) == "fleet.client-certificate", "\(noVIN.text)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
        }

        /// The sample trust store of `suite` (a copy in `directory`) whose CRL of the vehicle CA
        /// `caName` revokes `certificates` for `reason`, as `ota keys revoke` makes it.
        static func trust(
            _ suite: String, revoking certificates: [String], caName: String = "root-ca", reason: Revocation.Reason,
            in directory: String
        ) throws -> TrustStore {
            let pki = SamplePKIFiles(suite)
            try FileManager.default.copyItem(atPath: pki.trustPath, toPath: directory + "/trust")
            let ca = pki.directory + "/vehicle/" + caName
            let issuer = CertificateIssuer(
                key: try PrivateKey(contentsOf: ca + ".key"),
                certificate: try Certificate.load(contentsOf: ca + ".crt")[0])
            let now = Date()
            let crl = try issuer.revoke(
                try certificates.map {
                    try Revocation(serial: Certificate.load(contentsOf: $0)[0].serialBytes, date: now, reason: reason)
                },
                previous: try CertificateRevocationList.load(contentsOf: ca + ".crl")[0],
                thisUpdate: now.addingTimeInterval(-60), nextUpdate: now.addingTimeInterval(86400))
            try AtomicFileWriter.write(
                Array(crl.pem.utf8), to: directory + "/trust/vehicle/crls/\(caName).crl", mode: 0o644)
            return try TrustStore(directory: directory + "/trust")
        }

        /// The service's refusal log: one JSON object per refused upload.
        func refusals(_ harness: FleetHarness) throws -> [[String: Any]] {
            let text = String(
                decoding: try FileSystem.read(harness.ws.path + "/state/refused-uploads.jsonl"), as: UTF8.self)
            return try text.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }

        @Test(arguments: suites)
        func `a log signed by a revoked vehicle key is refused, and the refusal is recorded with its reason`(
            _ suite: String
        ) throws {
            // The vehicle CA revoked the sample device certificate (the log's key); its TLS certificate stands.
            let scratch = TempDirectory(); defer { scratch.cleanup() }
            let revoked = SamplePKIFiles(suite).deviceCertificatePath
            let trust = try Self.trust(suite, revoking: [revoked], reason: .keyCompromise, in: scratch.path)
            let harness = try FleetHarness(.sqlite, suite: suite, trust: trust); defer { harness.stop() }
            let car = try sampleVehicle(harness, count: 20)
            let body = try FleetHarness.uploadBody(car.log)
            let reply = try harness.request(
                "/v1/vehicles/\(car.vin)/log", client: car.tls, method: "POST", body: body,
                headers: [try signerHeader(revoked)])
            #expect(reply.status == 403 && errorCode(reply) == "fleet.signer-certificate", "\(reply.text)")
            #expect(reply.text.contains("revoked"), "\(reply.text)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
            #expect(try harness.store.vehicle(car.vin) == nil)
            let recorded = try refusals(harness)
            #expect(recorded.count == 1)
            #expect(recorded.first?["code"] as? String == "fleet.signer-certificate")
            #expect(recorded.first?["cause"] as? String == "certificate.revoked", "\(recorded)")
            #expect(recorded.first?["vin"] as? String == car.vin)
            #expect((recorded.first?["message"] as? String)?.contains("revoked") == true, "\(recorded)")
            // Before the revocation the same upload is accepted (the refusal was the CRL's doing).
            let before = try FleetHarness(.sqlite, suite: suite); defer { before.stop() }
            let same = try sampleVehicle(before, count: 20)
            let accepted = try before.request(
                "/v1/vehicles/\(same.vin)/log", client: same.tls, method: "POST",
                body: try FleetHarness.uploadBody(same.log), headers: [try signerHeader(revoked)])
            #expect(accepted.status == 200, "\(accepted.text)")
        }

        @Test
        func `a vehicle whose one certificate (TLS and log) is revoked cannot upload`() throws {
            // intl: one vehicle certificate both authenticates and signs the log; the vehicle CA revoked it.
            let scratch = TempDirectory(); defer { scratch.cleanup() }
            let vin = "LSVREV0KED0000001"
            let car = try FleetHarness.client(.vehicle, name: vin, pki: SamplePKIFiles("intl"), in: scratch.path)
            let trust = try Self.trust("intl", revoking: [car.certificate], reason: .keyCompromise, in: scratch.path)
            let harness = try FleetHarness(.sqlite, suite: "intl", trust: trust); defer { harness.stop() }
            let recorder = try FleetFixture.log(
                at: harness.ws.path + "/log", vin: vin, key: car.privateKey, count: 20,
                clock: ManualClock(FleetFixture.start))
            let reply = try harness.request(
                "/v1/vehicles/\(vin)/log", client: car, method: "POST",
                body: try FleetHarness.uploadBody(recorder.layout.directory))
            #expect(reply.status == 401 && errorCode(reply) == "fleet.client-certificate", "\(reply.text)")
            #expect(reply.text.contains("revoked"), "\(reply.text)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
        }
    }
}
