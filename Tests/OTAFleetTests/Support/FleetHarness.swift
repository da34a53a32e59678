import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import OTATestSupport
import Synchronization

/// A real fleet service for a test: `FleetServer` on a loopback port, nginx in front ending
/// mutual TLS (`scripts/fleet-server.sh`), client certificates issued by the sample vehicle and
/// compliance CAs, and `curl` as the client.
final class FleetHarness: @unchecked Sendable {
    let ws = TempDirectory()
    let pki: SamplePKIFiles
    let store: any RecordStore
    let server: FleetServer
    let backendPort: Int
    let port: Int
    private let task: Task<Void, any Error>
    var front: String { ws.path + "/front" }
    var secret: String {
        (try? String(contentsOfFile: ws.path + "/secret", encoding: .utf8))?.trimmingCharacters(
            in: .whitespacesAndNewlines) ?? ""
    }

    /// A client: its key and certificate files.
    struct Client {
        let key: String
        let certificate: String
        let privateKey: PrivateKey
    }

    /// A service on the sample PKI of `suite` (its compliance signer, and its trust store unless
    /// `trust` is given: the sample's with other CRLs, for instance); `frontCRL` (PEM) makes
    /// nginx check client certificates against those CRLs too.
    init(
        _ kind: StoreKind = .sqlite, suite: String = "intl", trust: TrustStore? = nil, frontCRL: String? = nil,
        idleTimeout: Duration = .seconds(60), maximumBufferedUploadBytes: Int = 512 << 20,
        maximumUploadsPerClient: Int = 2
    ) throws {
        pki = SamplePKIFiles(suite)
        store = try kind.open(in: ws)
        let (status, output) = Shell.run([
            PostgresServer.repository + "/scripts/fleet-server.sh", "secret", ws.path + "/secret",
        ])
        guard status == 0 else { throw HarnessError("secret: \(output)") }
        server = try FleetServer(
            configuration: .init(
                store: StoreHandle(store), trust: try trust ?? pki.trust(), signer: try pki.compliance(),
                stateDirectory: ws.path + "/state",
                proxySecret: String(decoding: try FileSystem.read(ws.path + "/secret"), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines),
                maximumUploadBytes: 4 << 20, threads: 4, idleTimeout: idleTimeout,
                maximumBufferedUploadBytes: maximumBufferedUploadBytes, maximumUploadsPerClient: maximumUploadsPerClient
            ))
        let bound = Mutex<String?>(nil)
        let server = self.server
        task = Task(executorPreference: ServiceExecutor.shared) {
            try await server.run(address: .hostname("127.0.0.1", port: 0)) { address in bound.withLock { $0 = address }
            }
        }
        let deadline = Date().addingTimeInterval(30)
        while bound.withLock({ $0 }) == nil, Date() < deadline { usleep(20_000) }
        guard let address = bound.withLock({ $0 }), let port = Int(address.split(separator: ":").last ?? "") else {
            task.cancel()
            throw HarnessError("the fleet service did not start within 30 s")
        }
        backendPort = port
        // The CAs nginx checks TLS clients against: in the gm suite only the P-256 vehicle TLS CA
        // (OpenSSL's TLS verifies no SM2 certificate), in intl the vehicle, vehicle TLS and compliance roots.
        let bundle = ws.path + "/client-cas.pem"
        let roots =
            suite == "gm"
            ? ["vehicle/tls-ca.crt"] : ["vehicle/root-ca.crt", "vehicle/tls-ca.crt", "compliance/root-ca.crt"]
        var cas: [UInt8] = []
        for root in roots { cas += try FileSystem.read(pki.directory + "/" + root) }
        try AtomicFileWriter.write(cas, to: bundle)
        let (frontStatus, frontOutput) = Shell.run(
            [
                PostgresServer.repository + "/scripts/fleet-server.sh", "start", ws.path + "/front",
                "127.0.0.1:\(port)",
                bundle, ws.path + "/secret",
            ] + (frontCRL.map { [$0] } ?? []))
        guard frontStatus == 0, let frontPort = Int(frontOutput.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            task.cancel()
            throw HarnessError("nginx did not start: \(frontOutput)")
        }
        self.port = frontPort
    }

    func stop() {
        _ = Shell.run([PostgresServer.repository + "/scripts/fleet-server.sh", "stop", front])
        task.cancel()
        if let postgres = store as? PostgresRecordStore { postgres.close() }
        ws.cleanup()
    }

    var url: String { "https://127.0.0.1:\(port)" }

    /// A client certificate of `role` for `name` (a VIN for vehicles), under the sample CA of the role.
    func client(
        _ role: TrustRole, name: String, extendedKeyUsage: String? = nil, ca: String? = nil, caName: String = "root-ca",
        vin: String?? = .none, sameKeyAs other: Client? = nil
    ) throws -> Client {
        try Self.client(
            role, name: name, pki: pki, in: ws.path, extendedKeyUsage: extendedKeyUsage, ca: ca, caName: caName,
            vin: vin, sameKeyAs: other)
    }

    /// A client key (P-256) and certificate written into `directory`, issued by `ca/caName` of the
    /// sample PKI. A vehicle certificate names its VIN (`vin`, by default `name`; `.some(nil)`:
    /// none) in the signer-id extension, as `ota keys issue --signer-id` writes it. `sameKeyAs`:
    /// another certificate for that client's key (a renewal).
    static func client(
        _ role: TrustRole, name: String, pki: SamplePKIFiles, in directory: String, extendedKeyUsage: String? = nil,
        ca: String? = nil, caName: String = "root-ca", vin: String?? = .none, sameKeyAs other: Client? = nil
    ) throws -> Client {
        let key = try other?.privateKey ?? PrivateKey.generate(.p256)
        let keyPath = other?.key ?? directory + "/\(role.rawValue)-\(UUID().uuidString).key"
        if other == nil { try AtomicFileWriter.write(Array(try key.pem().utf8), to: keyPath, mode: 0o600) }
        let caDirectory = pki.directory + "/" + (ca ?? role.rawValue)
        let signerID = role == .vehicle ? (vin ?? name) : nil
        let certificate = try OpenSSLTool.issueCertificate(
            for: keyPath, form: nil,
            subject: "/O=ota sample OEM/OU=\(role.rawValue)/CN=\(role == .vehicle ? "Vehicle Device " : "")\(name)",
            caCertificate: caDirectory + "/\(caName).crt", caKey: caDirectory + "/\(caName).key",
            sm2: pki.directory.hasSuffix("/gm") && caName == "root-ca",
            extensions: OpenSSLTool.clientExtensions(role, extendedKeyUsage: extendedKeyUsage, signerID: signerID),
            in: directory)
        return Client(key: keyPath, certificate: certificate, privateKey: key)
    }

    struct Reply {
        let status: Int
        let body: [UInt8]
        /// Response header fields, names lowercased.
        var headers: [String: String] = [:]
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> JSONValue { try JSONValue.parse(body) }
    }

    /// A request through the TLS front with `curl` (an independent HTTP client).
    func request(
        _ path: String, client: Client?, method: String = "GET", body: [UInt8]? = nil, headers: [String] = [],
        direct: Bool = false
    ) throws -> Reply {
        let output = ws.path + "/reply-\(UUID().uuidString)"
        var arguments = ["curl", "-sS", "-o", output, "-D", output + ".headers", "-w", "%{http_code}", "-X", method]
        if direct {
            arguments.append("http://127.0.0.1:\(backendPort)\(path)")
        } else {
            arguments += ["--cacert", front + "/server-ca.crt", "\(url)\(path)"]
            if let client { arguments += ["--cert", client.certificate, "--key", client.key] }
        }
        for header in headers { arguments += ["-H", header] }
        if let body {
            let file = ws.path + "/body-\(UUID().uuidString)"
            try AtomicFileWriter.write(body, to: file)
            arguments += ["--data-binary", "@" + file, "-H", "Content-Type: application/octet-stream"]
        }
        let (status, text) = Shell.run(arguments)
        guard status == 0, let code = Int(text.suffix(3)) else {
            throw HarnessError("curl \(path): exit \(status): \(text)")
        }
        let bytes = (try? FileSystem.read(output, limit: 256 << 20)) ?? []
        var fields: [String: String] = [:]
        for line in String(decoding: (try? FileSystem.read(output + ".headers")) ?? [], as: UTF8.self).split(
            separator: "\r\n")
        {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        try? FileManager.default.removeItem(atPath: output)
        try? FileManager.default.removeItem(atPath: output + ".headers")
        return Reply(status: code, body: bytes, headers: fields)
    }

    /// The upload body of a log directory from entry `from` on.
    static func uploadBody(_ directory: String, from: UInt64 = 0) throws -> [UInt8] {
        let layout = LogLayout(directory: directory)
        var lines: [[UInt8]] = []
        for name in try layout.segments() {
            let bytes = try FileSystem.read(layout.path(name), limit: 64 << 20)
            for line in bytes.split(separator: 0x0a) {
                if let entry = LogEntry.parse(line), entry.seq >= from { lines.append(Array(line)) }
            }
        }
        return LogUploadFormat.body(meta: try FileSystem.read(layout.metaPath), lines: lines)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
