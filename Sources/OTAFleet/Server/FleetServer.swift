import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import NIOPosix
public import OTACompliance
public import OTACore
import OTARecorder

/// `ota fleet serve`: vehicles upload their record logs, compliance staff query and export.
///
/// Plain HTTP on loopback (or a unix socket) behind nginx, which ends mutual TLS
/// (`scripts/fleet-server.sh`; docs/SECURITY.md, Fleet service). Every request but `/health`
/// and `/metrics` must carry the proxy's secret and the client certificate nginx verified; the
/// service verifies that certificate again against its own trust store and serves:
///
/// | route | role |
/// |---|---|
/// | `GET /v1/vehicles/{vin}/head`, `POST /v1/vehicles/{vin}/log` | vehicle (its own VIN only) |
/// | `GET /v1/records`, `/v1/vehicles/{vin}/software`, `/v1/software`, `/v1/export`, `/v1/exports/{id}/{file}` | compliance |
/// | `GET /compliance`, `/compliance/vehicles/{vin}`, `/compliance/campaigns/{campaign}` (HTML) | compliance |
/// | `GET /health`, `GET /metrics` (Prometheus text) | anyone who reaches the backend |
/// | `GET /v1/front-refusals` | nginx only (its secret), on its refused-certificate path |
///
/// A missing or refused client certificate, at nginx or here, is answered 401 and recorded in
/// `refused-uploads.jsonl` with its reason (`ClientRefusal`), as refused uploads are.
///
/// Store calls block, so they run on the service's own thread pool, never on an event loop.
public final class FleetServer: Sendable {
    public struct Configuration: Sendable {
        /// The store, and whether it may be used from several threads at once.
        public var store: StoreHandle
        public var trust: TrustStore
        /// Signs acknowledgements and exports (a `compliance` role certificate).
        public var signer: ExportSigner
        /// Scratch space for uploads being verified, and exports.
        public var stateDirectory: String
        /// The secret nginx adds to every request it forwards (`X-Fleet-Proxy`).
        public var proxySecret: String
        public var maximumUploadBytes: Int
        public var threads: Int
        /// A connection that sends nothing for this long, before or within a request, is closed.
        public var idleTimeout: Duration
        /// The uploads held at once (`UploadAdmission`): their sizes together, and how many one
        /// client certificate sends at once.
        public var maximumBufferedUploadBytes: Int
        public var maximumUploadsPerClient: Int

        public init(
            store: StoreHandle, trust: TrustStore, signer: ExportSigner, stateDirectory: String, proxySecret: String,
            maximumUploadBytes: Int = LogUpload.defaultMaximumBytes, threads: Int = 8,
            idleTimeout: Duration = .seconds(60), maximumBufferedUploadBytes: Int = 512 << 20,
            maximumUploadsPerClient: Int = 2
        ) {
            self.idleTimeout = idleTimeout
            self.maximumBufferedUploadBytes = maximumBufferedUploadBytes
            self.maximumUploadsPerClient = maximumUploadsPerClient
            self.store = store
            self.trust = trust
            self.signer = signer
            self.stateDirectory = stateDirectory
            self.proxySecret = proxySecret
            self.maximumUploadBytes = maximumUploadBytes
            self.threads = threads
        }
    }

    public let configuration: Configuration
    public let metrics = FleetMetrics()
    let pool: NIOThreadPool
    let vinLocks = VINLocks()
    let admission: UploadAdmission
    let refusals: RefusalLog

    /// A path parameter decoded once, with the query values' rules (`RecordQuery.decode`): the
    /// router leaves it percent-encoded, so `/compliance/campaigns/Recall%202026` looked up
    /// `Recall%202026` and found nothing where the page linking to it listed a vehicle.
    static func pathParameter(_ context: some RequestContext, _ name: String) throws -> String {
        try RecordQuery.decode(try context.parameters.require(name), plusIsSpace: false, what: "path segment")
    }

    static let certificateHeader = HTTPField.Name("X-Client-Certificate")!
    static let proxyHeader = HTTPField.Name("X-Fleet-Proxy")!
    static let signerHeader = HTTPField.Name("X-Log-Signer-Certificate")!
    static let verifyHeader = HTTPField.Name("X-Client-Verify")!
    static let refusedPathHeader = HTTPField.Name("X-Refused-Path")!

    public init(configuration: Configuration) throws(OTAError) {
        // Visible ASCII: what nginx's `proxy_set_header` writes as it is, and what a header
        // parser cannot repair into a match (a repaired invalid byte would match any other).
        let secret = configuration.proxySecret.utf8
        guard secret.count >= 16, secret.allSatisfy({ (0x21...0x7E).contains($0) && $0 != 0x22 && $0 != 0x5C }) else {
            throw OTAError(
                .usageInvalid,
                "the proxy secret must be 16 or more visible ASCII characters, without quotes or backslashes "
                    + "(it is \(secret.count) bytes; `openssl rand -hex 32` makes one)")
        }
        try configuration.signer.checkRole(trust: configuration.trust, at: Date())
        try FileSystem.createDirectory(configuration.stateDirectory, mode: 0o700)
        try FileSystem.createDirectory(configuration.stateDirectory + "/incoming", mode: 0o700)
        try FileSystem.createDirectory(configuration.stateDirectory + "/exports", mode: 0o700)
        self.configuration = configuration
        refusals = RefusalLog(path: configuration.stateDirectory + "/refused-uploads.jsonl")
        pool = NIOThreadPool(numberOfThreads: max(2, configuration.threads))
        admission = UploadAdmission(
            maximumBytes: configuration.maximumBufferedUploadBytes,
            maximumPerClient: configuration.maximumUploadsPerClient)
    }

    /// Serves on `address` until the task is cancelled; `onRunning` gets the bound address
    /// (`127.0.0.1:PORT` or the socket path).
    public func run(address: BindAddress, onRunning: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        pool.start()
        var logger = Logger(label: "ota.fleet")
        logger.logLevel = .warning
        let app = Application(
            router: router(),
            server: .http1(
                configuration: .init(
                    idleTimeout: TimeAmount(configuration.idleTimeout))),
            configuration: .init(address: address, serverName: "ota-fleet"),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port {
                    onRunning("127.0.0.1:\(port)")
                } else {
                    onRunning(channel.localAddress?.pathname ?? "")
                }
            },
            logger: logger)
        do {
            try await app.run()
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
        try? await pool.shutdownGracefully()
    }

    // MARK: Routes

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { _, _ in await self.health() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        router.get("/v1/front-refusals") { request, _ in
            let response = self.frontRefusal(request)
            self.metrics.count(
                "ota_fleet_http_requests_total",
                FleetMetrics.label("route", "front-refusal") + ","
                    + FleetMetrics.label("status", String(response.status.code)))
            return response
        }
        route(router, .get, "/v1/vehicles/{vin}/head", "head") { request, context, identity in
            let vin = try Self.pathParameter(context, "vin")
            try self.requireVehicle(identity, vin: vin, orCompliance: true)
            return try await self.blocking { () throws(OTAError) in
                var out = JSONObjectWriter()
                out.set("vin", vin)
                if let vehicle = try self.configuration.store.store.vehicle(vin) {
                    out.set("through", unsigned: vehicle.headSeq)
                    out.set("hash", vehicle.headHash)
                    out.set("genesis", vehicle.genesis)
                }
                return Self.json(out.value)
            }
        }
        route(router, .post, "/v1/vehicles/{vin}/log", "upload") { request, context, identity in
            let vin = try Self.pathParameter(context, "vin")
            return try await self.upload(request, vin: vin, identity: identity)
        }
        route(router, .get, "/v1/records", "records") { request, _, identity in
            try Self.require(identity, .compliance)
            let filter = try RecordQuery.filter(
                try RecordQuery.parameters(request.uri.query), allowed: RecordQuery.filterKeys)
            return self.stream(contentType: "application/jsonl") { (pipe: ChunkPipe) throws(OTAError) in
                try self.metrics.time("ota_fleet_query_seconds") { () throws(OTAError) in
                    try self.configuration.store.store.entries(matching: filter) { entry throws(OTAError) in
                        try pipe.write(RecordQuery.jsonLine(entry))
                    }
                }
            }
        }
        route(router, .get, "/v1/vehicles/{vin}/software", "software") { _, context, identity in
            try Self.require(identity, .compliance)
            let vin = try Self.pathParameter(context, "vin")
            return try await self.blocking { () throws(OTAError) in
                Self.json(.array(try self.configuration.store.store.softwareHistory(of: vin).map(RecordQuery.json)))
            }
        }
        route(router, .get, "/v1/software", "swin") { request, _, identity in
            try Self.require(identity, .compliance)
            let parameters = try RecordQuery.parameters(request.uri.query)
            try RecordQuery.checkKeys(parameters, allowed: ["swin", "rxswin"])
            guard parameters["swin"] != nil || parameters["rxswin"] != nil else {
                throw OTAError(.usageInvalid, "give swin= or rxswin=")
            }
            return try await self.blocking { () throws(OTAError) in
                Self.json(
                    .array(
                        try self.configuration.store.store.vehicles(
                            runningSWIN: parameters["swin"], rxswin: parameters["rxswin"]
                        ).map(RecordQuery.json)))
            }
        }
        route(router, .get, "/v1/export", "export") { request, _, identity in
            try Self.require(identity, .compliance)
            let parameters = try RecordQuery.parameters(request.uri.query)
            return try await self.blocking { () throws(OTAError) in
                try self.metrics.time("ota_fleet_query_seconds") { () throws(OTAError) in
                    Self.json(try ExportService(server: self).export(parameters))
                }
            }
        }
        for path in ["/v1/exports/{id}/{part}", "/v1/exports/{id}/{part}/{file}"] {
            route(router, .get, RouterPath(path), "export-file") { _, context, identity in
                try Self.require(identity, .compliance)
                let components = [context.parameters.get("part"), context.parameters.get("file")].compactMap { $0 }
                let path = try ExportService(server: self).file(
                    id: try context.parameters.require("id"), components: components)
                return self.fileResponse(path)
            }
        }
        route(router, .get, "/compliance", "page") { request, _, identity in
            try Self.require(identity, .compliance)
            let parameters = try RecordQuery.parameters(request.uri.query)
            let language = try CompliancePages.language(parameters, acceptLanguage: request.headers[.acceptLanguage])
            return try await self.blocking { () throws(OTAError) in
                Self.html(
                    try CompliancePages(store: self.configuration.store.store, language: language).index(
                        parameters, viewer: identity.subject))
            }
        }
        route(router, .get, "/compliance/vehicles/{vin}", "page-vehicle") { request, context, identity in
            try Self.require(identity, .compliance)
            let vin = try Self.pathParameter(context, "vin")
            let language = try Self.pageLanguage(request)
            return try await self.blocking { () throws(OTAError) in
                Self.html(
                    try CompliancePages(store: self.configuration.store.store, language: language).vehicle(
                        vin, viewer: identity.subject))
            }
        }
        route(router, .get, "/compliance/campaigns/{campaign}", "page-campaign") { request, context, identity in
            try Self.require(identity, .compliance)
            let campaign = try Self.pathParameter(context, "campaign")
            let language = try Self.pageLanguage(request)
            return try await self.blocking { () throws(OTAError) in
                Self.html(
                    try CompliancePages(store: self.configuration.store.store, language: language).campaign(
                        campaign, viewer: identity.subject))
            }
        }
        return router
    }

    /// The language of a page that takes no other parameter than `language`.
    static func pageLanguage(_ request: Request) throws(OTAError) -> RecordLanguage {
        let parameters = try RecordQuery.parameters(request.uri.query)
        try RecordQuery.checkKeys(parameters, allowed: ["language"])
        return try CompliancePages.language(parameters, acceptLanguage: request.headers[.acceptLanguage])
    }

    /// Adds a route whose caller is authenticated first; every failure becomes a JSON error
    /// with its code, and every request is counted.
    private func route(
        _ router: Router<BasicRequestContext>, _ method: HTTPRequest.Method, _ path: RouterPath, _ name: String,
        _ handler: @escaping @Sendable (Request, BasicRequestContext, ClientIdentity) async throws -> Response
    ) {
        router.on(path, method: method) { request, context in
            let response: Response
            do {
                let identity = try self.authenticate(request)
                response = try await handler(request, context, identity)
            } catch let error as OTAError {
                if error.code == .fleetClientCertificate {
                    self.record(
                        ClientRefusal.fromService(
                            error, path: request.uri.path, escapedCertificate: request.headers[Self.certificateHeader]))
                }
                response = Self.errorResponse(error)
            } catch let error as HTTPError {
                response = Self.errorResponse(
                    OTAError(.usageInvalid, "\(error.status.code) \(error.body ?? error.status.reasonPhrase)"),
                    status: error.status)
            } catch {
                response = Self.errorResponse(
                    OTAError(.ioFailed, "the fleet service failed", cause: String(describing: error)),
                    status: .internalServerError)
            }
            self.metrics.count(
                "ota_fleet_http_requests_total",
                FleetMetrics.label("route", name) + "," + FleetMetrics.label("status", String(response.status.code)))
            return response
        }
    }

    func authenticate(_ request: Request) throws(OTAError) -> ClientIdentity {
        try Self.refuseRepeatedIdentityHeaders(request)
        guard let secret = request.headers[Self.proxyHeader], Self.constantTimeEqual(secret, configuration.proxySecret)
        else {
            throw OTAError(
                .fleetClientCertificate,
                "the request did not come through the service's TLS front (no or wrong proxy secret)")
        }
        return try ClientIdentity.verify(
            escapedPEM: request.headers[Self.certificateHeader], trust: configuration.trust, time: SystemTime())
    }

    /// A request carrying the proxy secret, the client certificate or the TLS verdict more than
    /// once is refused: which copy counts would depend on the reader (nginx sets each once).
    static func refuseRepeatedIdentityHeaders(_ request: Request) throws(OTAError) {
        for name in [proxyHeader, certificateHeader, verifyHeader] where request.headers[values: name].count > 1 {
            throw OTAError(.fleetClientCertificate, "the request carries the \(name) header more than once")
        }
    }

    /// nginx's notice of a client it refused at the TLS level (scripts/fleet-server.sh sends it
    /// on its 495/496 error path, with its secret): recorded with nginx's reason, answered 401.
    /// Without the secret it is the service's own refusal; a verdict that is not a refusal (what
    /// nginx sends on its normal path) records nothing.
    func frontRefusal(_ request: Request) -> Response {
        guard let secret = request.headers[Self.proxyHeader], Self.constantTimeEqual(secret, configuration.proxySecret)
        else {
            let error = OTAError(
                .fleetClientCertificate,
                "the request did not come through the service's TLS front (no or wrong proxy secret)")
            record(
                ClientRefusal.fromService(
                    error, path: request.uri.path, escapedCertificate: request.headers[Self.certificateHeader]))
            return Self.errorResponse(error)
        }
        guard
            let refusal = ClientRefusal.fromFront(
                verdict: request.headers[Self.verifyHeader], path: request.headers[Self.refusedPathHeader],
                escapedCertificate: request.headers[Self.certificateHeader])
        else {
            return Self.errorResponse(OTAError(.usageInvalid, "no refused client to record"), status: .notFound)
        }
        record(refusal)
        return Self.errorResponse(refusal.error)
    }

    /// Counts and records a refused client certificate.
    func record(_ refusal: ClientRefusal) {
        metrics.count(
            "ota_fleet_client_refusals_total",
            FleetMetrics.label("at", refusal.place) + "," + FleetMetrics.label("reason", refusal.reason))
        count(
            refusals.record(
                refusal.error, vin: refusal.vin, subject: refusal.subject, at: refusal.place,
                requestPath: refusal.path))
    }

    /// Counts a refusal the log did not write as a line of its own (over the log's budget: it is
    /// in the next summary line; or the file could not be written).
    private func count(_ outcome: RefusalLog.Outcome) {
        switch outcome {
        case .written: break
        case .suppressed:
            metrics.count("ota_fleet_refusal_lines_unwritten_total", FleetMetrics.label("reason", "budget"))
        case .failed: metrics.count("ota_fleet_refusal_lines_unwritten_total", FleetMetrics.label("reason", "io"))
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    static func require(_ identity: ClientIdentity, _ role: TrustRole) throws(OTAError) {
        guard identity.role == role else {
            throw OTAError(
                .fleetRole,
                "\(identity.subject) holds the \(identity.role.rawValue) role; this endpoint serves the \(role.rawValue) role"
            )
        }
    }

    func requireVehicle(_ identity: ClientIdentity, vin: String, orCompliance: Bool) throws(OTAError) {
        if orCompliance, identity.role == .compliance { return }
        try Self.require(identity, .vehicle)
        guard identity.vin == vin else {
            throw OTAError(
                .fleetVinMismatch,
                "\(identity.subject) may read and write only the log of \(identity.vin ?? "its own VIN"), not of \(vin)"
            )
        }
    }

    // MARK: Upload

    private func upload(_ request: Request, vin: String, identity: ClientIdentity) async throws -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        var request = request
        let body: ByteBuffer
        let tooLarge = OTAError(
            .fleetUploadTooLarge,
            "the upload is larger than \(configuration.maximumUploadBytes) bytes; send it in parts, each ending at a checkpoint"
        )
        // An announced length past the limit is refused before any of it is read (a client that
        // announced 64 MiB and sent nothing held its connection open, unanswered).
        let announced = request.headers[.contentLength].flatMap { Int($0) }.map { max(0, $0) }
        if let announced, announced > configuration.maximumUploadBytes {
            refuse(tooLarge, vin: vin, identity: identity)
            return Self.errorResponse(tooLarge)
        }
        // Reserved before the body is read, given back when the upload is answered.
        guard
            let reservation = admission.admit(
                bytes: announced ?? configuration.maximumUploadBytes, client: Self.admissionKey(identity))
        else {
            metrics.count("ota_fleet_uploads_total", FleetMetrics.label("result", "busy"))
            var response = Self.errorResponse(
                OTAError(
                    .fleetBusy,
                    "the service holds as many uploads as it may (of this client, or of all); try again later"))
            response.headers[.retryAfter] = String(Self.busyRetrySeconds)
            return response
        }
        defer { admission.release(reservation) }
        do {
            body = try await request.collectBody(upTo: configuration.maximumUploadBytes)
        } catch is NIOTooManyBytesError {
            refuse(tooLarge, vin: vin, identity: identity)
            return Self.errorResponse(tooLarge)
        } catch {
            // The connection broke or its framing was wrong: no verdict on a log, none recorded.
            return Self.errorResponse(
                OTAError(.fleetUploadMalformed, "the upload's body did not arrive whole: \(error)"))
        }
        let bytes = Array(body.readableBytesView)
        let signerCertificate = request.headers[Self.signerHeader]
        do {
            let result = try await blocking { () throws(OTAError) -> LogUpload.Result in
                try self.vinLocks.withLock(vin) { () throws(OTAError) -> LogUpload.Result in
                    do throws(OTAError) {
                        let result = try self.metrics.time("ota_fleet_ingest_seconds") { () throws(OTAError) in
                            try LogUpload.handle(
                                bytes, pathVIN: vin, identity: identity, store: self.configuration.store.store,
                                signer: self.configuration.signer,
                                scratch: self.configuration.stateDirectory + "/incoming",
                                trust: self.configuration.trust, signerCertificate: signerCertificate)
                        }
                        self.metrics.count("ota_fleet_verifications_total", FleetMetrics.label("result", "intact"))
                        return result
                    } catch {
                        if error.code.rawValue.hasPrefix("records.") {
                            self.metrics.count("ota_fleet_verifications_total", FleetMetrics.label("result", "refused"))
                        }
                        throw error
                    }
                }
            }
            metrics.count("ota_fleet_uploads_total", FleetMetrics.label("result", "accepted"))
            metrics.count("ota_fleet_entries_ingested_total", by: UInt64(result.report.added))
            metrics.count("ota_fleet_entries_already_stored_total", by: UInt64(result.report.alreadyStored))
            metrics.observe(
                "ota_fleet_upload_seconds", seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            return Self.json(result.json)
        } catch let error as OTAError {
            if error.kind != .io { refuse(error, vin: vin, identity: identity) }
            metrics.observe(
                "ota_fleet_upload_seconds", seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
            return Self.errorResponse(error)
        }
    }

    /// Whose uploads count together: the client's public key (SubjectPublicKeyInfo), so another
    /// certificate of the same key, or another spelling of the same certificate, is the same client.
    static func admissionKey(_ identity: ClientIdentity) -> String {
        (try? identity.publicKey.der()).map { Hex.encode($0) } ?? identity.certificatePEM
    }

    /// What a busy answer asks the client to wait (`Retry-After`, seconds).
    static let busyRetrySeconds = 10

    /// Counts and records a refused upload with its reason.
    private func refuse(_ error: OTAError, vin: String, identity: ClientIdentity) {
        metrics.count("ota_fleet_uploads_total", FleetMetrics.label("result", "refused"))
        metrics.count("ota_fleet_upload_refusals_total", FleetMetrics.label("code", error.code.rawValue))
        count(refusals.record(error, vin: vin, subject: identity.subject, clientVIN: identity.vin))
    }

    // MARK: Health

    private func health() async -> Response {
        do {
            let identity = try await blocking { () throws(OTAError) -> String in
                _ = try self.configuration.store.store.lastActivity()
                return self.configuration.store.store.identity
            }
            var out = JSONObjectWriter()
            out.set("status", "ok")
            out.set("store", identity)
            return Self.json(out.value)
        } catch let error as OTAError {
            return Self.errorResponse(error, status: .serviceUnavailable)
        } catch {
            return Self.errorResponse(
                OTAError(.recordsStore, "health check failed", cause: String(describing: error)),
                status: .serviceUnavailable)
        }
    }

    // MARK: Plumbing

    /// Runs blocking store work on the service's thread pool.
    func blocking<T: Sendable>(_ body: @escaping @Sendable () throws(OTAError) -> T) async throws -> T {
        try await pool.runIfActive { () throws -> T in try body() }
    }

    /// A response whose body a blocking producer writes through a `ChunkPipe`. An error after
    /// the first bytes cannot change the status any more: it ends the body with an error line.
    func stream(contentType: String, _ producer: @escaping @Sendable (ChunkPipe) throws(OTAError) -> Void) -> Response {
        Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody { writer in
                let pipe = ChunkPipe()
                // A child task (not `Task {}`), so it runs where the request's task runs.
                async let produced: Void = self.produce(into: pipe, producer)
                do {
                    for await chunk in pipe.chunks {
                        try await writer.write(chunk)
                        pipe.consumed()
                    }
                } catch {
                    pipe.cancel()
                    await produced
                    throw error
                }
                await produced
                try await writer.finish(nil)
            })
    }

    /// Runs `producer` on the thread pool; a failure ends the body with an error line.
    private func produce(into pipe: ChunkPipe, _ producer: @escaping @Sendable (ChunkPipe) throws(OTAError) -> Void)
        async
    {
        do {
            try await blocking { () throws(OTAError) in
                do throws(OTAError) { try producer(pipe); try pipe.finish() } catch {
                    try? pipe.write(Array("\n{\"error\":\"\(error.code.rawValue)\"}\n".utf8))
                    try? pipe.finish()
                    pipe.abandon()
                    throw error
                }
            }
        } catch {}
    }

    /// A file streamed from disk in chunks.
    func fileResponse(_ path: String) -> Response {
        let type =
            path.hasSuffix(".csv")
            ? "text/csv; charset=utf-8"
            : path.hasSuffix(".html")
                ? "text/html; charset=utf-8"
                : path.hasSuffix(".jsonl")
                    ? "application/jsonl" : path.hasSuffix(".json") ? "application/json" : "application/octet-stream"
        return stream(contentType: type) { (pipe: ChunkPipe) throws(OTAError) in
            let reader = try InputFile(path: path)
            var buffer = [UInt8](repeating: 0, count: ChunkPipe.chunkBytes)
            while true {
                let count = try reader.read(into: &buffer)
                if count == 0 { break }
                try pipe.write(buffer[0..<count])
            }
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.bytes + [0x0a])))
    }

    static func html(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The HTTP status an error code maps to.
    static func status(for error: OTAError) -> HTTPResponse.Status {
        switch error.code {
        case .fleetClientCertificate: .unauthorized
        case .fleetRole, .fleetVinMismatch, .fleetSignerCertificate: .forbidden
        case .fleetUploadTooLarge: .contentTooLarge
        case .fleetUploadMalformed: .badRequest
        case .recordsChainFork, .recordsChainDiscontinuous, .recordsBehindStore, .recordsKeyChanged: .conflict
        default:
            switch error.kind {
            case .usage: .badRequest
            case .io: .serviceUnavailable
            default: .unprocessableContent
            }
        }
    }

    static func errorResponse(_ error: OTAError, status: HTTPResponse.Status? = nil) -> Response {
        var out = JSONObjectWriter()
        out.set("error", error.code.rawValue)
        out.set("message", error.message)
        if error.kind == .io { out.set("cause", error.cause) }
        return json(out.value, status: status ?? Self.status(for: error))
    }
}

/// The store behind the service. `@unchecked Sendable`: a `PostgresRecordStore` is `Sendable`
/// itself, and a `SQLiteRecordStore` serialises every access through its GRDB `DatabaseQueue`.
public struct StoreHandle: @unchecked Sendable {
    package let store: any RecordStore
    package init(_ store: any RecordStore) { self.store = store }
}
