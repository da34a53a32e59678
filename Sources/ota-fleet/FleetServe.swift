import ArgumentParser
import Dispatch
import Foundation
import Hummingbird
import OTACommandLine
import OTACompliance
import OTACore
import OTAFleet
import Synchronization

struct FleetServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve record uploads and compliance queries (plain HTTP behind the nginx TLS front, scripts/fleet-server.sh).",
        discussion: """
            The store is a SQLite file (created when missing) or a PostgreSQL URL
            (postgres://USER@HOST:PORT/DB, or postgres://USER@/DB?host=/socket/dir).
            Mutual TLS ends in nginx, which forwards the client certificate and a shared secret;
            the service verifies the certificate again against --trust (vehicle and compliance
            roles) and refuses any request without the secret. Prints the bound address, then
            serves until stopped.
            """)

    @Option(help: "The fleet record store: a SQLite path or a postgres:// URL.") var store: String
    @Option(help: "Trust store directory (vehicle and compliance anchors).") var trust: String
    @Option(help: "Compliance key: signs acknowledgements and exports.") var key: String
    @Option(name: .customLong("cert"), help: "Its certificate (compliance role).") var certificate: String
    @Option(help: "PEM file with the intermediate CA certificates of --cert.") var chain: String?
    @Option(help: "Where to listen: HOST:PORT (loopback; port 0 picks one) or unix:PATH.") var listen: String =
        "127.0.0.1:0"
    @Option(
        name: .customLong("proxy-secret-file"),
        help: "File holding the secret nginx adds to forwarded requests (16 or more visible ASCII characters).")
    var proxySecretFile: String
    @Option(help: "Directory for uploads being verified and for exports.") var state: String
    @Option(name: .customLong("max-upload-bytes"), help: "Largest upload accepted in one request.") var maxUploadBytes:
        Int = LogUpload.defaultMaximumBytes
    @Option(help: "Threads for store work.") var threads: Int = 8
    @Option(
        name: .customLong("idle-timeout"),
        help: "Seconds a connection may send nothing, before or within a request, before it is closed.")
    var idleTimeout: Int = 60
    @Option(
        name: .customLong("max-buffered-upload-bytes"),
        help: "Bytes of uploads held at once, by their announced sizes (more are answered 503, fleet.busy).")
    var maxBufferedUploadBytes: Int = 512 << 20
    @Option(
        name: .customLong("max-uploads-per-client"),
        help: "Uploads one client certificate may have in flight at once (more are answered 503, fleet.busy).")
    var maxUploadsPerClient: Int = 2
    @Option(help: "PostgreSQL connections at most.") var connections: Int = 8
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...86400).contains(idleTimeout) else { throw ValidationError("--idle-timeout: 1 to 86400 seconds") }
        guard maxBufferedUploadBytes >= 1 else { throw ValidationError("--max-buffered-upload-bytes: 1 or more") }
        guard maxUploadsPerClient >= 1 else { throw ValidationError("--max-uploads-per-client: 1 or more") }
    }

    func run() throws {
        // A service must stop on SIGTERM (systemd, a container runtime, a test) even when the
        // process that started it had the signal blocked: the blocked mask is inherited.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        let store: any RecordStore =
            PostgresLocation.isPostgres(self.store)
            ? try PostgresRecordStore(url: self.store, connections: connections)
            : try SQLiteRecordStore(path: self.store, mode: .create)
        let signer = try ExportSigner(
            key: PrivateKey(contentsOf: key), certificate: Certificate.load(contentsOf: certificate)[0],
            chain: try chain.map { (path: String) throws(OTAError) in try Certificate.load(contentsOf: path) } ?? [])
        // Validated, not repaired: each invalid byte would read as U+FFFD.
        guard let secretText = String(validating: try FileSystem.read(proxySecretFile, limit: 4096), as: UTF8.self)
        else {
            throw OTAError(.usageInvalid, "\(proxySecretFile): the proxy secret is not UTF-8 text")
        }
        let secret = secretText.trimmingCharacters(in: .whitespacesAndNewlines)
        let server = try FleetServer(
            configuration: .init(
                store: StoreHandle(store), trust: try TrustStore(directory: trust), signer: signer,
                stateDirectory: state, proxySecret: secret,
                maximumUploadBytes: maxUploadBytes, threads: threads, idleTimeout: .seconds(idleTimeout),
                maximumBufferedUploadBytes: maxBufferedUploadBytes, maximumUploadsPerClient: maxUploadsPerClient))
        let address: BindAddress
        if listen.hasPrefix("unix:") {
            address = .unixDomainSocket(path: String(listen.dropFirst(5)))
        } else {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                (0...65535).contains(port)
            else {
                throw OTAError(.usageInvalid, "--listen \(listen): HOST:PORT or unix:PATH")
            }
            address = .hostname(String(listen[..<colon]), port: port)
        }
        let json = output.json
        let identity = store.identity
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await server.run(address: address) { bound in
                    struct Listening: Encodable { let listening: String; let store: String }
                    Output.succeed(
                        Listening(listening: bound, store: identity), human: "listening on \(bound), store \(identity)",
                        json: json)
                    fflush(nil)
                }
            } catch {
                failure.withLock { $0 = error }
            }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) {
            throw OTAError(.ioFailed, "the fleet service stopped", cause: String(describing: error))
        }
    }
}
