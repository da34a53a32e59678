import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import OTATestSupport
import Testing

/// Two fleet service processes (`ota fleet serve`, `ota-fleet serve`) on one PostgreSQL store, as a maker runs them behind a load
/// balancer: uploads of one vehicle reaching both at the same moment must leave one chain.
extension FleetIntegration {
    @Suite struct ScaleOutTests {
        /// Two real service processes sharing `storeURL`; requests go straight to their loopback
        /// ports with the proxy's headers (what nginx adds after mutual TLS).
        final class TwoServices {
            let ws = TempDirectory()
            let pki = SamplePKIFiles()
            let storeURL: String
            let secret = "scale-out-test-secret-0123456789"
            var processes: [ChildProcess] = []
            var ports: [Int] = []

            init() throws {
                storeURL = try PostgresServer.newDatabase()
                try AtomicFileWriter.write(Array(secret.utf8), to: ws.path + "/secret", mode: 0o600)
                // One through `ota fleet serve` (which execs ota-fleet), one started as `ota-fleet serve`.
                let commands = [
                    (CLIRunner.executable.path, ["fleet", "serve"]), (CLIRunner.product("ota-fleet").path, ["serve"]),
                ]
                for (executable, _) in commands where !FileManager.default.isExecutableFile(atPath: executable) {
                    throw HarnessError("\(executable) is not built (swift build --build-tests)")
                }
                for index in 0..<2 {
                    let arguments =
                        commands[index].1 + [
                            "--store", storeURL, "--trust", pki.trustPath, "--key",
                            pki.directory + "/compliance/compliance-signer.key",
                            "--cert", pki.directory + "/compliance/compliance-signer.crt", "--listen", "127.0.0.1:0",
                            "--proxy-secret-file", ws.path + "/secret", "--state", ws.path + "/state-\(index)",
                            "--threads", "4", "--connections", "4",
                        ]
                    processes.append(
                        try ChildProcess(commands[index].0, arguments, outputFile: ws.path + "/service-\(index).log"))
                }
                for index in 0..<2 {
                    let log = ws.path + "/service-\(index).log"
                    let deadline = Date().addingTimeInterval(60)
                    var port: Int? = nil
                    while port == nil, Date() < deadline, try !processes[index].hasEnded() {
                        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                        if let range = text.range(of: "listening on 127.0.0.1:") {
                            port = Int(text[range.upperBound...].prefix { $0.isNumber })
                        } else {
                            usleep(50_000)
                        }
                    }
                    guard let port else {
                        stop()
                        throw HarnessError(
                            "service \(index) did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")"
                        )
                    }
                    ports.append(port)
                }
            }

            func stop() {
                // SIGTERM, as an operator or systemd stops it; the test runner blocks SIGTERM and
                // its children inherit that mask, so the service must unblock it itself.
                func running(_ process: ChildProcess) -> Bool { !((try? process.hasEnded()) ?? true) }
                for process in processes where running(process) {
                    process.kill(SIGTERM)
                    let deadline = Date().addingTimeInterval(20)
                    while running(process), Date() < deadline { usleep(50_000) }
                    if running(process) {
                        Issue.record("the fleet service did not stop on SIGTERM within 20 s")
                        process.kill(SIGKILL)
                    }
                    _ = try? process.wait()
                }
                ws.cleanup()
            }

            /// The store as a third party sees it.
            func store() throws -> PostgresRecordStore { try PostgresRecordStore(url: storeURL, connections: 1) }

            /// Uploads `bodies[i]` to service `i` at the same moment (two curls started together);
            /// returns each HTTP status and reply.
            func uploadTogether(vin: String, client: FleetHarness.Client, bodies: [[UInt8]]) throws -> [(Int, String)] {
                let pem = String(decoding: try FileSystem.read(client.certificate), as: UTF8.self)
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~")
                let escaped = pem.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
                try AtomicFileWriter.write(
                    Array("X-Client-Certificate: \(escaped)\r\nX-Fleet-Proxy: \(secret)\r\n".utf8),
                    to: ws.path + "/headers")
                var script = ""
                for (index, body) in bodies.enumerated() {
                    let file = ws.path + "/body-\(index)"
                    try AtomicFileWriter.write(body, to: file)
                    script +=
                        "curl -sS -o \(Shell.quote(file + ".reply")) -w '%{http_code}' -H @\(Shell.quote(ws.path + "/headers")) "
                    script += "-H 'Content-Type: application/octet-stream' --data-binary @\(Shell.quote(file)) "
                    script +=
                        "http://127.0.0.1:\(ports[index % ports.count])/v1/vehicles/\(vin)/log > \(Shell.quote(file + ".status")) &\n"
                }
                script += "wait\n"
                let (status, output) = Shell.run(["bash", "-c", script])
                guard status == 0 else { throw HarnessError("curl: \(output)") }
                return try bodies.indices.map { index in
                    let file = ws.path + "/body-\(index)"
                    let code = Int(String(decoding: try FileSystem.read(file + ".status"), as: UTF8.self)) ?? 0
                    return (code, String(decoding: (try? FileSystem.read(file + ".reply")) ?? [], as: UTF8.self))
                }
            }
        }

        /// The stored entries of `vin` form one chain from entry 0 (each links to the one before).
        func storedChain(_ store: PostgresRecordStore, vin: String) throws -> [StoredEntry] {
            var entries: [StoredEntry] = []
            try store.entries(matching: RecordFilter(vin: vin, kinds: [])) { entries.append($0) }
            return entries
        }

        func isOneChain(_ entries: [StoredEntry]) -> Bool {
            for (index, entry) in entries.enumerated() {
                guard entry.seq == UInt64(index) else { return false }
                if index > 0, entry.prev != entries[index - 1].hash { return false }
            }
            return true
        }

        @Test func `two service processes given two histories of one vehicle at once store one and refuse the other`()
            throws
        {
            let services = try TwoServices(); defer { services.stop() }
            let store = try services.store(); defer { store.close() }
            for round in 0..<4 {
                let vin = "LSVSCALE0000000\(round)"
                let client = try FleetHarness.client(.vehicle, name: vin, pki: services.pki, in: services.ws.path)
                // Two logs of the same vehicle and key that disagree from entry 0 (a cloned device).
                var bodies: [[UInt8]] = []
                var lengths: [UInt64] = []
                for history in 0..<2 {
                    let recorder = try FleetFixture.log(
                        at: services.ws.path + "/log-\(round)-\(history)", vin: vin, key: client.privateKey, count: 400,
                        clock: ManualClock(FleetFixture.start.addingTimeInterval(Double(history) * 3)))
                    bodies.append(try FleetHarness.uploadBody(recorder.layout.directory))
                    lengths.append(recorder.nextSeq)
                }
                let replies = try services.uploadTogether(vin: vin, client: client, bodies: bodies)
                let accepted = replies.filter { $0.0 == 200 }
                #expect(accepted.count == 1, "round \(round): \(replies.map { "\($0.0) \($0.1.prefix(200))" })")
                #expect(
                    replies.contains { $0.0 == 409 && $0.1.contains("records.chain-fork") },
                    "round \(round): \(replies.map { "\($0.0) \($0.1.prefix(200))" })")
                let chain = try storedChain(store, vin: vin)
                #expect(isOneChain(chain), "round \(round): the store holds a forked chain (\(chain.count) entries)")
                #expect(
                    UInt64(chain.count) == lengths[0] || UInt64(chain.count) == lengths[1],
                    "round \(round): \(chain.count) entries stored")
                #expect(try store.vehicle(vin)?.headSeq == UInt64(chain.count) - 1)
            }
        }

        @Test func `the same upload reaching two service processes at once is stored once and acknowledged by both`()
            throws
        {
            let services = try TwoServices(); defer { services.stop() }
            let store = try services.store(); defer { store.close() }
            for round in 0..<4 {
                let vin = "LSVTWICE0000000\(round)"
                let client = try FleetHarness.client(.vehicle, name: vin, pki: services.pki, in: services.ws.path)
                let recorder = try FleetFixture.log(
                    at: services.ws.path + "/log-\(round)", vin: vin, key: client.privateKey, count: 400)
                let body = try FleetHarness.uploadBody(recorder.layout.directory)
                let replies = try services.uploadTogether(vin: vin, client: client, bodies: [body, body])
                #expect(
                    replies.allSatisfy { $0.0 == 200 },
                    "round \(round): \(replies.map { "\($0.0) \($0.1.prefix(200))" })")
                #expect(replies.contains { $0.1.contains("\"added\":0") }, "round \(round): both added entries")
                for (_, text) in replies {
                    #expect(text.contains("\"through\":\"\(recorder.nextSeq - 1)\""), "\(text.prefix(300))")
                }
                let chain = try storedChain(store, vin: vin)
                #expect(
                    isOneChain(chain) && UInt64(chain.count) == recorder.nextSeq,
                    "round \(round): \(chain.count) entries stored")
            }
        }
    }
}
