import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import OTATestSupport
import Testing

/// `ota agent upload` against the real service (nginx in front, mutual TLS), as a vehicle runs it.
/// In the gm suite TLS cannot use the SM2 device key, so the car authenticates with its P-256
/// `device-tls` certificate and names its log's signer with `--log-cert` (sent in
/// `X-Log-Signer-Certificate`); the service reads the VIN from the signer-id extension of both.
extension FleetIntegration {
    @Suite struct AgentUploadCLITests {
        func ota(_ arguments: [String]) throws -> CLIRunner.Result { try CLIRunner.run(arguments + ["--json"]) }

        /// The error code the service refused with, as the agent reports it (the cause of `fleet.refused`).
        func refusal(_ run: CLIRunner.Result) -> String? {
            guard let error = run.json["error"] as? [String: Any], error["code"] as? String == "fleet.refused" else {
                return nil
            }
            return error["cause"] as? String
        }

        @Test
        func `a gm vehicle uploads with its TLS certificate and --log-cert, and a wrong or foreign one is refused`()
            throws
        {
            let harness = try FleetHarness(.sqlite, suite: "gm"); defer { harness.stop() }
            let keys = harness.pki.directory + "/vehicle"
            let vin = "LSVX1A2B3C4D56790"  // samples/vehicle-x1-gm.yaml, named by the sample device certificates
            let car = harness.ws.path + "/car", images = harness.ws.path + "/images"
            try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
            try SampleImages.make(in: images)
            let initialised = try ota([
                "vehicle", "init", car, "--config", RepositoryRoot.path + "/samples/vehicle-x1-gm.yaml", "--images",
                images,
            ])
            try #require(initialised.status == 0, "\(initialised.stdout) \(initialised.stderr)")
            let upload = [
                "agent", "upload", "--vehicle", car, "--fleet", harness.url, "--ca", harness.front + "/server-ca.crt",
                "--cert", keys + "/device-tls.crt", "--key", keys + "/device-tls.key", "--retries", "0",
            ]
            // The TLS certificate as the log's signer: the right VIN, but not the key that signs the log.
            let tlsAsSigner = try ota(upload + ["--log-cert", keys + "/device-tls.crt"])
            #expect(tlsAsSigner.status == 2, "\(tlsAsSigner.stdout) \(tlsAsSigner.stderr)")
            #expect(refusal(tlsAsSigner) == "fleet.signer-certificate", "\(tlsAsSigner.stdout)")
            // Another vehicle's certificate of the vehicle CA (its own VIN): the log is not its to send.
            let other = try harness.client(.vehicle, name: "LSVX1A2B3C4D56791")
            let foreign = try ota(upload + ["--log-cert", other.certificate])
            #expect(foreign.status == 2, "\(foreign.stdout) \(foreign.stderr)")
            #expect(refusal(foreign) == "fleet.vin-mismatch", "\(foreign.stdout)")
            // Not a certificate at all: the service names what it could not read.
            try AtomicFileWriter.write(Array("not a certificate\n".utf8), to: harness.ws.path + "/junk.crt")
            let junk = try ota(upload + ["--log-cert", harness.ws.path + "/junk.crt"])
            #expect(junk.status == 2 && refusal(junk) == "certificate.malformed", "\(junk.stdout)")
            #expect(try harness.store.count(matching: RecordFilter(kinds: [])) == 0)
            #expect(try harness.store.vehicle(vin) == nil)

            // The SM2 device certificate of the log's key: stored under the VIN both certificates name.
            let accepted = try ota(upload + ["--log-cert", keys + "/device.crt"])
            #expect(accepted.status == 0, "\(accepted.stdout) \(accepted.stderr)")
            let stored = try #require(try harness.store.vehicle(vin))
            let deviceKeyID = try Certificate.load(contentsOf: keys + "/device.crt")[0].publicKey.keyID(.sha256).hex
            #expect(stored.keys.map(\.keyID) == [deviceKeyID])
            let through = (accepted.json["result"] as? [String: Any])?["through"] as? Int
            #expect(through != nil && UInt64(through ?? -1) == stored.headSeq, "\(accepted.stdout)")
            #expect(FileManager.default.fileExists(atPath: car + "/private/agent/fleet-ack.json"))
            // The refusals are recorded with their codes; the accepted upload is not among them.
            let refusals = String(
                decoding: try FileSystem.read(harness.ws.path + "/state/refused-uploads.jsonl"), as: UTF8.self
            ).split(separator: "\n")
            #expect(refusals.count == 3, "\(refusals)")
            #expect(refusals.filter { $0.contains("fleet.vin-mismatch") }.count == 1)
        }
    }
}
