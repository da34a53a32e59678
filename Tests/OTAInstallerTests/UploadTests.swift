import Foundation
import OTACore
import OTATestSupport
import OTATransport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `HTTPTransport.upload`: a file POSTed (or PUT) over mutual TLS to a real TLS server on
/// loopback (Python's ssl module requiring a client certificate from the vehicle CA), which
/// answers with what it received.
@Suite(.serialized) struct UploadTests {
    final class EchoServer {
        private let temporary: TemporaryDirectory
        var directory: String { temporary.path }
        let pid: pid_t
        let port: Int
        var certificate: String { directory + "/server.crt" }
        static let keys = InstallerFixture.repository + "/keys-sample/intl/vehicle"

        /// `answerBytes`: a body that long instead of the echo (for the response bound).
        init(answerBytes: Int = 0) throws {
            temporary = try TemporaryDirectory("upload")
            let directory = temporary.path
            try RepositoryServer.run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                "30", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", directory + "/server.key", "-out",
                directory + "/server.crt",
            ])
            let script = """
                import hashlib, http.server, json, ssl, sys
                certificate, key, client_ca, answer = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
                class Echo(http.server.BaseHTTPRequestHandler):
                    def do_POST(self):
                        length = int(self.headers["Content-Length"])
                        digest, left = hashlib.sha256(), length
                        while left:
                            data = self.rfile.read(min(left, 65536))
                            digest.update(data)
                            left -= len(data)
                        subject = dict(item[0] for item in self.connection.getpeercert()["subject"])
                        body = json.dumps({"method": self.command, "sha256": digest.hexdigest(), "length": length,
                            "subject": subject.get("commonName"), "type": self.headers["Content-Type"],
                            "expect": self.headers.get("Expect")}).encode()
                        if answer:
                            body = b"x" * answer
                        self.send_response(201)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    do_PUT = do_POST
                    def log_message(self, *args):
                        pass
                server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(certificate, key)
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(client_ca)
                server.socket = context.wrap_socket(server.socket, server_side=True)
                print(server.server_address[1], flush=True)
                server.serve_forever()
                """
            let portFile = directory + "/port"
            pid = try Spawn.start(
                [
                    "python3", "-c", script, directory + "/server.crt", directory + "/server.key",
                    Self.keys + "/root-ca.crt", String(answerBytes),
                ],
                output: portFile)
            var found = 0
            for _ in 0..<200 {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
                    let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
                {
                    found = value
                    break
                }
                usleep(25_000)
            }
            port = found
            guard port > 0 else { throw OTAError(.ioFailed, "the echo server did not start") }
        }

        deinit {
            kill(pid, SIGKILL)
            _ = Spawn.wait(pid)
        }

        var url: String { "https://localhost:\(port)/v1/upload" }

        func transport(
            certificate: String? = EchoServer.keys + "/device.crt", key: String? = EchoServer.keys + "/device.key",
            ca: String? = nil
        ) -> HTTPTransport {
            HTTPTransport(
                options: TransportOptions(
                    clientCertificate: certificate, clientKey: key, pinnedCA: ca ?? self.certificate, retries: 0))
        }

        func file(_ bytes: Int) throws -> (path: String, sha256: String) {
            let path = directory + "/body-\(bytes)"
            let content = (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            try Data(content).write(to: URL(fileURLWithPath: path))
            return (path, try Hasher.hash(.sha256, content).hex)
        }
    }

    @Test(arguments: ["POST", "PUT"])
    func `a file is streamed over mutual TLS with its length and type, and the server's answer comes back`(
        method: String
    ) throws {
        let server = try EchoServer()
        let (path, sha256) = try server.file(3 << 20 + 17)
        let answer = try server.transport().upload(
            file: path, to: server.url, method: method, contentType: "application/x-ndjson")
        #expect(answer.status == 201)
        #expect(answer.succeeded)
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        #expect(echo["method"] as? String == method)
        #expect(echo["sha256"] as? String == sha256)
        #expect(echo["length"] as? Int == 3 << 20 + 17)
        #expect(echo["subject"] as? String == "Vehicle Device LSVX1A2B3C4D56789")
        #expect(echo["type"] as? String == "application/x-ndjson")
        #expect(echo["expect"] is NSNull)
    }

    @Test func `an upload without a client certificate, to an unpinned server or over plain HTTP is refused`() throws {
        let server = try EchoServer()
        let (path, _) = try server.file(1000)
        let none = refusal { _ = try server.transport(certificate: nil, key: nil).upload(file: path, to: server.url) }
        #expect(
            none == .transportTLS || none == .transportFailed || none == .transportClientRejected,
            "\(String(describing: none))")
        let unpinned = refusal {
            _ = try server.transport(ca: EchoServer.keys + "/root-ca.crt").upload(file: path, to: server.url)
        }
        #expect(unpinned == .transportTLS)
        #expect(
            refusal { _ = try server.transport().upload(file: path, to: "http://127.0.0.1:\(server.port)/v1/upload") }
                == .transportPlainHTTP)
        #expect(refusal { _ = try server.transport().upload(file: path + "-missing", to: server.url) } == .ioNotFound)
    }

    @Test func `the bandwidth cap holds an upload to its rate`() throws {
        let server = try EchoServer()
        let (path, sha256) = try server.file(1_000_000)
        let transport = HTTPTransport(
            options: TransportOptions(
                clientCertificate: EchoServer.keys + "/device.crt", clientKey: EchoServer.keys + "/device.key",
                pinnedCA: server.certificate,
                retries: 0, bandwidthLimit: 400_000))
        let start = Date()
        let answer = try transport.upload(file: path, to: server.url)
        #expect(Date().timeIntervalSince(start) >= 2.4)
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        #expect(echo["sha256"] as? String == sha256)
    }

    @Test func `an answer longer than the bound is refused`() throws {
        let server = try EchoServer(answerBytes: 5000)
        let (path, _) = try server.file(10)
        #expect(
            refusal { _ = try server.transport().upload(file: path, to: server.url, maximumResponse: 4096) }
                == .transportTooLong)
        #expect(try server.transport().upload(file: path, to: server.url, maximumResponse: 8192).body.count == 5000)
    }
}
