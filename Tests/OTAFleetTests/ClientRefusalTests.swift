import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import Testing

/// A client refused for its certificate, at the TLS front (nginx: no certificate, an unknown
/// CA, expired, revoked) or by the service's own check behind it, is answered 401 and recorded
/// in `refused-uploads.jsonl` with the reason, as refused uploads are; nothing is stored. In
/// both suites the vehicle's TLS identity is a P-256 certificate of the vehicle TLS CA.
extension FleetIntegration {
    @Suite struct ClientRefusalTests {
        static let suites = ["intl", "gm"]
        static let vin = "LSVREFUSED0000001"
        static var path: String { "/v1/vehicles/\(vin)/log" }

        /// The sample vehicle TLS CA of `suite`.
        static func tlsCA(_ suite: String) throws -> CertificateIssuer {
            let ca = SamplePKIFiles(suite).directory + "/vehicle/tls-ca"
            return CertificateIssuer(
                key: try PrivateKey(contentsOf: ca + ".key"),
                certificate: try Certificate.load(contentsOf: ca + ".crt")[0])
        }

        /// A P-256 vehicle TLS client naming `vin`, issued by `issuer` for `notBefore`…`notAfter`.
        static func client(
            issuer: CertificateIssuer, notBefore: Date, notAfter: Date, in directory: String, vin: String = vin
        ) throws -> FleetHarness.Client {
            let key = try PrivateKey.generate(.p256)
            let certificate = try issuer.issue(
                CertificateProfile(
                    commonName: "Vehicle Device \(vin)", organization: "ota sample OEM", organizationalUnit: "vehicle",
                    usage: .device, notBefore: notBefore, notAfter: notAfter, signerID: vin, role: .vehicle),
                publicKey: try key.publicKey)
            let name = directory + "/" + UUID().uuidString
            try AtomicFileWriter.write(Array(try key.pem().utf8), to: name + ".key", mode: 0o600)
            try AtomicFileWriter.write(Array(certificate.pem.utf8), to: name + ".crt")
            return FleetHarness.Client(key: name + ".key", certificate: name + ".crt", privateKey: key)
        }

        /// The refusal log's lines (none yet: empty).
        func refusals(_ harness: FleetHarness) throws -> [[String: Any]] {
            let path = harness.ws.path + "/state/refused-uploads.jsonl"
            guard FileSystem.exists(path) else { return [] }
            return try String(decoding: try FileSystem.read(path), as: UTF8.self).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }

        func errorCode(_ reply: FleetHarness.Reply) -> String? {
            guard case .object(let members)? = try? reply.json(), case .string(let code)? = members["error"] else {
                return nil
            }
            return code
        }

        @Test(arguments: suites)
        func `certificates the TLS front refuses are answered 401 and recorded with nginx's reason`(_ suite: String)
            throws
        {
            let scratch = TempDirectory(); defer { scratch.cleanup() }
            let now = Date()
            let tlsCA = try Self.tlsCA(suite)
            // The TLS CA revoked one of its vehicle certificates; nginx checks its CRL.
            let revoked = try Self.client(
                issuer: tlsCA, notBefore: now - 3600, notAfter: now + 86400, in: scratch.path)
            let crl = try tlsCA.revoke(
                [
                    Revocation(
                        serial: try Certificate.load(contentsOf: revoked.certificate)[0].serialBytes, date: now,
                        reason: .keyCompromise)
                ], previous: nil, thisUpdate: now - 60, nextUpdate: now + 86400)
            try AtomicFileWriter.write(Array(crl.pem.utf8), to: scratch.path + "/front.crl")
            let harness = try FleetHarness(.sqlite, suite: suite, frontCRL: scratch.path + "/front.crl")
            defer { harness.stop() }
            let expired = try Self.client(
                issuer: tlsCA, notBefore: now - 10 * 86400, notAfter: now - 86400, in: scratch.path)
            let strangerKey = try PrivateKey.generate(.p256)
            let strangerCA = CertificateIssuer(
                key: strangerKey,
                certificate: try CertificateIssuer.selfSignedRoot(
                    key: strangerKey,
                    profile: CertificateProfile(
                        commonName: "Stranger Vehicle CA", organization: "nobody",
                        usage: .certificateAuthority(pathLength: 0), notBefore: now - 3600, notAfter: now + 86400)))
            let stranger = try Self.client(
                issuer: strangerCA, notBefore: now - 3600, notAfter: now + 86400, in: scratch.path)
            // Each case: the client, the cause recorded, what the message says.
            let cases: [(client: FleetHarness.Client?, cause: String, reason: String)] = [
                (nil, "tls: none", "no client certificate"),
                (stranger, "certificate.untrusted", "unable to verify the first certificate"),
                (expired, "certificate.expired", "certificate has expired"),
                (revoked, "certificate.revoked", "certificate revoked"),
            ]
            let body = Array("never read\n".utf8)
            for (client, cause, reason) in cases {
                let reply = try harness.request(Self.path, client: client, method: "POST", body: body)
                #expect(
                    reply.status == 401 && errorCode(reply) == "fleet.client-certificate", "\(cause): \(reply.text)")
                #expect(reply.text.contains(reason), "\(cause): \(reply.text)")
            }
            let recorded = try refusals(harness)
            #expect(recorded.count == cases.count, "\(recorded)")
            for (line, expected) in zip(recorded, cases) {
                #expect(line["code"] as? String == "fleet.client-certificate", "\(line)")
                #expect(line["cause"] as? String == expected.cause, "\(line)")
                #expect((line["message"] as? String)?.contains(expected.reason) == true, "\(line)")
                #expect(line["at"] as? String == "tls-front", "\(line)")
                #expect(line["vin"] as? String == Self.vin, "\(line)")
                #expect(line["path"] as? String == Self.path, "\(line)")
                let subject = line["client"] as? String ?? ""
                #expect(
                    expected.client == nil ? subject == "(none)" : subject.contains("Vehicle Device \(Self.vin)"),
                    "\(line)")
            }
            let metrics = try harness.request("/metrics", client: nil, direct: true).text
            for reason in ["tls.none", "certificate.untrusted", "certificate.expired", "certificate.revoked"] {
                #expect(
                    metrics.contains("ota_fleet_client_refusals_total{at=\"tls-front\",reason=\"\(reason)\"} 1"),
                    "\(metrics)")
            }
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
            // The same vehicle with a good certificate gets past the front (and is judged on its upload).
            let good = try Self.client(issuer: tlsCA, notBefore: now - 3600, notAfter: now + 86400, in: scratch.path)
            let passed = try harness.request(Self.path, client: good, method: "POST", body: body)
            #expect(passed.status != 401, "\(passed.text)")
            #expect(try refusals(harness).filter { $0["at"] != nil }.count == cases.count)
        }

        @Test(arguments: suites)
        func `a certificate the service refuses behind the front is recorded with the service's reason`(
            _ suite: String
        ) throws {
            let harness = try FleetHarness(.sqlite, suite: suite); defer { harness.stop() }
            // Issued by the vehicle TLS CA (nginx accepts it) without the vehicle role marker.
            let unmarked = try harness.client(
                .vehicle, name: Self.vin, extendedKeyUsage: "clientAuth", caName: "tls-ca")
            let reply = try harness.request(
                Self.path, client: unmarked, method: "POST", body: Array("never read\n".utf8))
            #expect(reply.status == 401 && errorCode(reply) == "fleet.client-certificate", "\(reply.text)")
            let recorded = try refusals(harness)
            #expect(recorded.count == 1, "\(recorded)")
            let line = recorded.first ?? [:]
            #expect(line["at"] as? String == "service", "\(line)")
            #expect(line["code"] as? String == "fleet.client-certificate", "\(line)")
            let answered = try reply.json()["message"]?.stringValue
            #expect(line["message"] as? String == answered, "\(line)")
            #expect(line["vin"] as? String == Self.vin, "\(line)")
            #expect(line["path"] as? String == Self.path, "\(line)")
            #expect((line["client"] as? String)?.contains("Vehicle Device \(Self.vin)") == true, "\(line)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
        }

        @Test func `only the TLS front's refusal path writes a TLS refusal`() throws {
            let harness = try FleetHarness(.sqlite); defer { harness.stop() }
            let car = try harness.client(.vehicle, name: Self.vin)
            // Through the front with a good certificate, claiming a refusal in nginx's headers:
            // nginx sets X-Client-Verify itself (SUCCESS), so nothing is recorded.
            let forged = try harness.request(
                "/v1/front-refusals", client: car,
                headers: [
                    "X-Client-Verify: FAILED:certificate revoked", "X-Refused-Path: /v1/vehicles/LSVOTHER000000002/log",
                ])
            #expect(forged.status == 404, "\(forged.text)")
            #expect(try refusals(harness).isEmpty)
            // Straight to the backend without the proxy's secret: refused, and recorded as the service's refusal.
            let direct = try harness.request(
                "/v1/front-refusals", client: nil, headers: ["X-Client-Verify: FAILED:certificate revoked"],
                direct: true)
            #expect(direct.status == 401, "\(direct.text)")
            let recorded = try refusals(harness)
            #expect(recorded.count == 1 && recorded.first?["at"] as? String == "service", "\(recorded)")
            #expect((recorded.first?["message"] as? String)?.contains("proxy secret") == true, "\(recorded)")
        }
    }
}
