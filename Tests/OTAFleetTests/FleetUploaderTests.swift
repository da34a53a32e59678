import Foundation
import OTAAgent
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import OTATransport
import Testing

/// The vehicle side: `FleetUploader` (libcurl, mutual TLS) against the real service and front.
extension FleetIntegration {
    @Suite struct FleetUploaderTests {
        static let vin = "LSVAGENT000000001"

        func uploader(
            _ harness: FleetHarness, _ client: FleetHarness.Client, log: String, batch: Int = 4096, trust: String? = nil
        ) -> FleetUploader {
            FleetUploader(
                log: log, deviceKey: client.key, trust: trust ?? harness.pki.trustPath,
                acknowledgementPath: harness.ws.path + "/vehicle/fleet-ack.json",
                fleet: harness.url,
                transport: TransportOptions(
                    clientCertificate: client.certificate, clientKey: client.key,
                    pinnedCA: harness.front + "/server-ca.crt", retries: 2, backoff: 0.05),
                maximumEntries: batch)
        }

        /// A log of `count` records; the recorder is released (its writer lock with it) on return.
        func makeLog(
            _ harness: FleetHarness, _ client: FleetHarness.Client, count: Int,
            clock: ManualClock = ManualClock(FleetFixture.start)
        ) throws -> (directory: String, last: UInt64, genesis: String) {
            let recorder = try FleetFixture.log(
                at: harness.ws.path + "/log", vin: Self.vin, key: client.privateKey, count: count, clock: clock)
            return (recorder.layout.directory, recorder.nextSeq - 1, recorder.meta.genesis)
        }

        func appendRecords(
            _ directory: String, _ client: FleetHarness.Client, from: Int, count: Int, clock: ManualClock
        ) throws -> UInt64 {
            let recorder = try Recorder.open(at: directory, signer: client.privateKey, clock: clock)
            try FleetFixture.append(recorder, vin: Self.vin, from: from, count: count, clock: clock)
            return recorder.nextSeq - 1
        }

        @Test
        func `the agent uploads in parts, resumes from the acknowledged checkpoint and keeps the acknowledgement`()
            throws
        {
            let harness = try FleetHarness(); defer { harness.stop() }
            let client = try harness.client(.vehicle, name: Self.vin)
            let clock = ManualClock(FleetFixture.start)
            let log = try makeLog(harness, client, count: 100, clock: clock)
            let first = try uploader(harness, client, log: log.directory, batch: 40).upload(now: Date())
            #expect(first.requests >= 3)
            #expect(first.through == log.last)
            #expect(try harness.store.count(matching: RecordFilter(kinds: [.record])) == 100)
            let kept = try FleetAcknowledgement(
                json: try FileSystem.read(harness.ws.path + "/vehicle/fleet-ack.json"), source: "kept")
            try kept.verify(trust: try harness.pki.trust(), at: Date())
            #expect(kept.through == first.through)
            // More records: the next upload starts at the acknowledged checkpoint, sends only the new part.
            let last = try appendRecords(log.directory, client, from: 100, count: 20, clock: clock)
            let second = try uploader(harness, client, log: log.directory).upload(now: Date())
            #expect(second.requests == 1)
            #expect(second.entriesSent < 40)
            #expect(second.added == Int(last - first.through!))
            #expect(try harness.store.count(matching: RecordFilter(kinds: [.record])) == 120)
            // Nothing new: one request, nothing added, the same acknowledgement.
            let third = try uploader(harness, client, log: log.directory).upload(now: Date())
            #expect(third.added == 0 && third.through == second.through)
        }

        @Test func `pruning waits for the fleet's acknowledgement`() throws {
            let harness = try FleetHarness(); defer { harness.stop() }
            let client = try harness.client(.vehicle, name: Self.vin)
            let clock = ManualClock(FleetFixture.start)
            _ = try makeLog(harness, client, count: 200, clock: clock)
            let later = RecordTime.adding(months: 14, to: FleetFixture.start)
            // Old enough, but not acknowledged: the vehicle keeps everything.
            let segments = try LogLayout(directory: harness.ws.path + "/log").segments().count
            do {
                clock.set(later)
                let reopened = try Recorder.open(at: harness.ws.path + "/log", signer: client.privateKey, clock: clock)
                #expect(try reopened.prune(now: later).removed.isEmpty)
            }
            #expect(try LogLayout(directory: harness.ws.path + "/log").segments().count == segments)
            // After the upload and its acknowledgement, old segments go.
            let report = try uploader(harness, client, log: harness.ws.path + "/log").upload(now: later)
            #expect(report.prunedSegments > 0)
            #expect(try LogLayout(directory: harness.ws.path + "/log").segments().count < segments)
            // What was pruned is in the fleet store; the pruned log still uploads (from the acknowledged checkpoint).
            #expect(try harness.store.count(matching: RecordFilter(kinds: [.record])) == 200)
            let again = try uploader(harness, client, log: harness.ws.path + "/log").upload(now: later)
            #expect(again.through != nil)
        }

        @Test func `a forged or foreign acknowledgement is refused and nothing is pruned`() throws {
            let harness = try FleetHarness(); defer { harness.stop() }
            let client = try harness.client(.vehicle, name: Self.vin)
            let log = try makeLog(harness, client, count: 200)
            // A vehicle whose trust store has no compliance anchor accepts no acknowledgement.
            let bare = harness.ws.path + "/trust-without-compliance"
            try FileManager.default.copyItem(atPath: harness.pki.trustPath, toPath: bare)
            try FileManager.default.removeItem(atPath: bare + "/compliance")
            let later = RecordTime.adding(months: 14, to: FleetFixture.start)
            let caught = #expect(throws: OTAError.self) {
                _ = try uploader(harness, client, log: harness.ws.path + "/log", trust: bare).upload(now: later)
            }
            #expect(
                caught?.code == .fleetAckInvalid || caught?.code.rawValue.hasPrefix("trust.") == true,
                "\(String(describing: caught))")
            #expect(!FileSystem.exists(harness.ws.path + "/log/ACK"))
            #expect(!FileSystem.exists(harness.ws.path + "/vehicle/fleet-ack.json"))
            // An acknowledgement for an entry this log does not hold (another log of the VIN) is refused.
            let ack = try FleetAcknowledgement.sign(
                vin: Self.vin, through: 8, hash: String(repeating: "ab", count: 32), genesis: log.genesis, store: "x",
                time: RecordTime.format(Date()),
                key: try harness.pki.compliance().key, certificate: try harness.pki.compliance().certificate.pem)
            try ack.verify(trust: try harness.pki.trust(), at: Date())
            let opened = try Recorder.open(
                at: harness.ws.path + "/log", signer: client.privateKey, clock: ManualClock(later))
            #expect(throws: OTAError(.recordsAckMismatch, "")) {
                try opened.acknowledge(through: ack.through, hash: ack.hash, by: "x")
            }
            // An acknowledgement signed by a vehicle key is not a compliance acknowledgement.
            let vehicleSigned = try FleetAcknowledgement.sign(
                vin: Self.vin, through: 8, hash: ack.hash, genesis: ack.genesis, store: "x", time: ack.time,
                key: client.privateKey,
                certificate: try String(contentsOfFile: client.certificate, encoding: .utf8))
            #expect(throws: OTAError(.fleetAckInvalid, "")) {
                try vehicleSigned.verify(trust: try harness.pki.trust(), at: Date())
            }
        }

        @Test func `an upload the service refuses is reported with the service's code`() throws {
            let harness = try FleetHarness(); defer { harness.stop() }
            let client = try harness.client(.vehicle, name: "LSVSOMEONE0000009")
            let log = try makeLog(harness, client, count: 10)
            let caught = #expect(throws: OTAError.self) {
                _ = try uploader(harness, client, log: log.directory).upload()
            }
            #expect(caught?.code == .fleetRefused, "\(String(describing: caught))")
        }

        /// A service that is busy (here: no upload in flight allowed at all) answers 503: not a
        /// verdict on the log; the transport retries it with back-off, then reports a server
        /// error (exit 1), and the agent tries again at its next run.
        @Test func `a busy service is a server error, not a refusal`() throws {
            let harness = try FleetHarness(maximumUploadsPerClient: 0); defer { harness.stop() }
            let client = try harness.client(.vehicle, name: "LSVAGENT000000001")
            let log = try makeLog(harness, client, count: 10)
            let caught = #expect(throws: OTAError.self) {
                _ = try uploader(harness, client, log: log.directory).upload()
            }
            #expect(caught?.code == .transportServerError, "\(String(describing: caught))")
        }
    }
}
