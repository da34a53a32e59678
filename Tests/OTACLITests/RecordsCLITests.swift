import Foundation
import OTACore
import Testing

/// `ota records ...` end to end: output, `--json` codes and exit statuses.
@Suite(.serialized) struct RecordsCLITests {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var ota: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ota").path
    }

    func ota(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ota)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func `append, verify, tamper, ingest, export and verify-export`() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.ota), "build the ota executable first")
        let dir = NSTemporaryDirectory() + "ota-records-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try PrivateKey.generate(.sm2)
        let compliance = try PrivateKey.generate(.p256)
        try AtomicFileWriter.write(Array(try device.pem().utf8), to: dir + "/device.pem")
        try AtomicFileWriter.write(Array(try device.publicKey.pem().utf8), to: dir + "/device.pub")
        try AtomicFileWriter.write(Array(try compliance.pem().utf8), to: dir + "/compliance.pem")
        try AtomicFileWriter.write(Array(try compliance.publicKey.pem().utf8), to: dir + "/compliance.pub")
        let log = dir + "/log"
        for step in ["verify", "consent", "apply", "confirm"] {
            let record = #"{"time":"2026-03-01T08:00:00.000Z","timeSource":"gnss","vin":"LSVAU2180N2000001","bundle":"b-1","campaign":"C-1","ecu":"adas","step":"\#(step)","result":"success","versionBefore":"1.0","versionAfter":"1.1","swinBefore":"S1","swinAfter":"S2"}"#
            let run = try ota(["records", "append", log, "--key", dir + "/device.pem", "--vin", "LSVAU2180N2000001", "--suite", "gm", "--record", record])
            #expect(run.status == 0, "\(run.stderr)")
        }
        let refused = try ota(["records", "append", log, "--key", dir + "/device.pem", "--json", "--record",
                               #"{"time":"2026-03-01T08:00:00.000Z","timeSource":"gnss","vin":"LSVAU2180N2000001","bundle":"b","campaign":"c","step":"s","result":"r","location":"31.2,121.4"}"#])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("\"records.field-unknown\""))

        let verified = try ota(["records", "verify", log, "--key", dir + "/device.pub", "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.contains("\"records\" : 4"))

        let store = dir + "/fleet.db"
        let ingest = try ota(["records", "ingest", "--store", store, "--key", dir + "/device.pub", log])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let export = try ota(["records", "export", "--store", store, "--key", dir + "/compliance.pem", "-o", dir + "/export", "--lang", "zh-CN", "--campaign", "C-1"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try ota(["records", "verify-export", dir + "/export", "--key", dir + "/compliance.pub"]).status == 0)
        try AtomicFileWriter.write(Array("tampered\n".utf8), to: dir + "/export/records.jsonl")
        let altered = try ota(["records", "verify-export", dir + "/export", "--key", dir + "/compliance.pub", "--json"])
        #expect(altered.status == 2)
        #expect(altered.stdout.contains("\"records.export-altered\""))

        // Tamper with the log: exit 2 and the code says how.
        let segment = log + "/segment-00000000000000000000.log"
        let text = String(decoding: try FileSystem.read(segment), as: UTF8.self)
        try AtomicFileWriter.write(Array(text.replacingOccurrences(of: "\"step\":\"consent\"", with: "\"step\":\"skipped\"").utf8), to: segment)
        let tampered = try ota(["records", "verify", log, "--key", dir + "/device.pub", "--json"])
        #expect(tampered.status == 2)
        #expect(tampered.stdout.contains("\"records.changed\""))
        let reingest = try ota(["records", "ingest", "--store", store, "--key", dir + "/device.pub", log])
        #expect(reingest.status == 2)
        // One bad log among several: the others are still ingested, the command exits 2.
        let other = #"{"time":"2026-03-02T08:00:00.000Z","timeSource":"gnss","vin":"LSVAU2180N2000002","bundle":"b-1","campaign":"C-1","step":"apply","result":"success"}"#
        #expect(try ota(["records", "append", dir + "/log2", "--key", dir + "/device.pem", "--vin", "LSVAU2180N2000002", "--suite", "gm", "--record", other]).status == 0)
        let mixed = try ota(["records", "ingest", "--store", store, "--key", dir + "/device.pub", log, dir + "/log2", "--json"])
        #expect(mixed.status == 2)
        #expect(mixed.stdout.contains("1 of 2 logs rejected"))
        let count = try ota(["records", "query", "--store", store, "--vin", "LSVAU2180N2000002", "--count"])
        #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1")

        let purge = try ota(["records", "purge", "--store", store, "--before", "2026-06-01T00:00:00Z", "--now", "2030-01-01T00:00:00Z", "--json"])
        #expect(purge.status == 2)
        #expect(purge.stdout.contains("\"records.retention\""))
    }

    @Test func `a log verifies against the device certificate`() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.ota), "build the ota executable first")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "openssl makes the test certificate")
        let dir = NSTemporaryDirectory() + "ota-records-cert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let device = try PrivateKey.generate(.p256)
        try AtomicFileWriter.write(Array(try device.pem().utf8), to: dir + "/device.pem")
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-new", "-x509", "-key", dir + "/device.pem", "-subj", "/CN=LSVAU2180N2000001", "-days", "1", "-out", dir + "/device.crt"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        let record = #"{"time":"2026-03-01T08:00:00.000Z","timeSource":"gnss","vin":"LSVAU2180N2000001","bundle":"b-1","campaign":"C-1","step":"apply","result":"success"}"#
        #expect(try ota(["records", "append", dir + "/log", "--key", dir + "/device.pem", "--vin", "LSVAU2180N2000001", "--record", record]).status == 0)
        let run = try ota(["records", "verify", dir + "/log", "--key", dir + "/device.crt"])
        #expect(run.status == 0, "\(run.stderr)")
    }
}
