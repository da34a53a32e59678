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
        static let vin = "SAMPLE0000000001"
        static let suites = ["intl", "gm"]

        /// The sample vehicle of `suite`: its TLS client, its device key and certificate, and a log
        /// of `count` records signed by the device key.
        struct SampleVehicle {
            let tls: FleetHarness.Client
            let deviceKey: String
            let deviceCertificate: String
            let log: String
            let last: UInt64
        }

        func sampleVehicle(_ harness: FleetHarness, count: Int = 200) throws -> SampleVehicle {
            let keys = harness.pki.directory + "/vehicle"
            let recorder = try FleetFixture.log(
                at: harness.ws.path + "/log", vin: Self.vin, key: try PrivateKey(contentsOf: keys + "/device.key"),
                count: count, clock: ManualClock(FleetFixture.start))
            let tls = FleetHarness.Client(
                key: keys + "/device-tls.key", certificate: keys + "/device-tls.crt",
                privateKey: try PrivateKey(contentsOf: keys + "/device-tls.key"))
            return SampleVehicle(
                tls: tls, deviceKey: keys + "/device.key", deviceCertificate: keys + "/device.crt",
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
            #expect(kept.vin == Self.vin)
            #expect(report.prunedSegments > 0)
            #expect(try LogLayout(directory: car.log).segments().count < segments)
            // The store keeps the device certificate as the log's key, not the TLS one.
            let stored = try #require(try harness.store.vehicle(Self.vin))
            let deviceKeyID = try Certificate.load(contentsOf: car.deviceCertificate)[0].publicKey.keyID(.sha256).hex
            #expect(stored.keys.map(\.keyID) == [deviceKeyID])
            // Sent again: only what the prune recorded is new; no record is stored twice.
            let again = try uploader.upload(now: later)
            #expect((again.through ?? 0) > (report.through ?? 0))
            #expect(try harness.store.vehicle(Self.vin)?.headSeq == again.through)
            #expect(try harness.store.count(matching: RecordFilter(kinds: [.record])) == 200)
        }

        @Test(arguments: suites)
        func `a TLS certificate that is not the log's key needs the log signer's certificate`(_ suite: String) throws {
            let harness = try FleetHarness(.sqlite, suite: suite); defer { harness.stop() }
            let car = try sampleVehicle(harness, count: 20)
            let body = try FleetHarness.uploadBody(car.log)
            let path = "/v1/vehicles/\(Self.vin)/log"
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
            for vin in [Self.vin, "LSVOTHER000000002"] {
                let reply = try harness.request(
                    "/v1/vehicles/\(vin)/log", client: other, method: "POST", body: body, headers: [signer])
                #expect(reply.status == 403 && errorCode(reply) == "fleet.vin-mismatch", "\(vin): \(reply.text)")
            }
            // This vehicle's TLS certificate with another vehicle's signer certificate.
            let foreignSigner = try harness.request(
                "/v1/vehicles/\(Self.vin)/log", client: car.tls, method: "POST", body: body,
                headers: [try signerHeader(other.certificate)])
            #expect(
                foreignSigner.status == 403 && errorCode(foreignSigner) == "fleet.vin-mismatch",
                "\(foreignSigner.text)")
            // The right VIN, issued by the vehicle TLS CA, but without the vehicle role marker.
            let unmarked = try harness.client(
                .vehicle, name: Self.vin, extendedKeyUsage: "clientAuth", caName: "tls-ca")
            let refused = try harness.request(
                "/v1/vehicles/\(Self.vin)/log", client: unmarked, method: "POST", body: body, headers: [signer])
            #expect(refused.status == 401 && errorCode(refused) == "fleet.client-certificate", "\(refused.text)")
            // The vehicle role, but no VIN in the signer-id extension (only in the common name).
            let nameless = try harness.client(.vehicle, name: Self.vin, caName: "tls-ca", vin: .some(nil))
            let noVIN = try harness.request(
                "/v1/vehicles/\(Self.vin)/log", client: nameless, method: "POST", body: body, headers: [signer])
            #expect(noVIN.status == 401 && errorCode(noVIN) == "fleet.client-certificate", "\(noVIN.text)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
        }
    }
}
