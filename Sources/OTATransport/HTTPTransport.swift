internal import CCurl
internal import Foundation
public import OTACore
public import OTATUF

#if canImport(Glibc)
    import Glibc
#endif

/// HTTPS through libcurl with the system OpenSSL: mutual TLS (the vehicle's device certificate,
/// a pinned server CA), no redirects, plain HTTP only when allowed, retries with back-off for
/// drops, stalls and server errors.
///
/// `fetch` serves the TUF client (small files, bounded); `download` fetches a large target into
/// a partial file with Range requests, checking each chunk against its signed hash as it
/// arrives and never accepting a byte past the signed length.
public final class HTTPTransport: TUFFetcher {
    public let options: TransportOptions
    /// Called for every attempt that failed and will be retried (for the agent's record).
    let onRetry: (@Sendable (String) -> Void)?

    public init(options: TransportOptions, onRetry: (@Sendable (String) -> Void)? = nil) {
        self.options = options
        self.onRetry = onRetry
    }

    // MARK: - small files

    public func fetch(_ url: String, maxLength: Int) throws(OTAError) -> [UInt8] {
        if url.hasPrefix("file://") { return try FileFetcher().fetch(url, maxLength: maxLength) }
        return try withRetries(url) { () throws(OTAError) -> [UInt8] in
            let sink = MemorySink(limit: maxLength)
            let handle = try configuredHandle(url)
            let (code, text) = withExtendedLifetime(sink) { () -> (CURLcode, String) in
                try? handle.set(CURLOPT_WRITEDATA, pointer: Unmanaged.passUnretained(sink).toOpaque())
                try? handle.setWriteFunction(memorySinkWrite)
                return handle.perform()
            }
            if sink.overflowed { throw OTAError(.tufTooLarge, "\(url): more than \(maxLength) bytes (endless data)") }
            try Self.check(code, text, status: handle.responseCode, url: url)
            return sink.bytes
        }
    }

    // MARK: - uploads

    /// POSTs `body` to `url` and returns the HTTP status and the answer (at most `maxLength`
    /// bytes). Drops, stalls and 5xx answers are retried (the caller's request must be
    /// idempotent, as a record-log upload is); a refused certificate is an error; other statuses
    /// come back to the caller with their body (a service's JSON error names its code).
    /// `headers` are added as they are (`Name: value`).
    public func post(
        _ url: String, body: [UInt8], contentType: String, headers: [String] = [], maxLength: Int
    ) throws(OTAError) -> (status: Int, body: [UInt8]) {
        try withRetries(url) { () throws(OTAError) -> (status: Int, body: [UInt8]) in
            let sink = MemorySink(limit: maxLength)
            let handle = try configuredHandle(url)
            try handle.setHeaders(["Content-Type: \(contentType)", "Expect:"] + headers)
            try handle.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(body.count))
            let (code, text) = body.withUnsafeBytes { raw -> (CURLcode, String) in
                withExtendedLifetime(sink) { () -> (CURLcode, String) in
                    try? handle.set(
                        CURLOPT_POSTFIELDS,
                        pointer: UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                    try? handle.set(CURLOPT_WRITEDATA, pointer: Unmanaged.passUnretained(sink).toOpaque())
                    try? handle.setWriteFunction(memorySinkWrite)
                    return handle.perform()
                }
            }
            if sink.overflowed { throw OTAError(.tufTooLarge, "\(url): the answer is longer than \(maxLength) bytes") }
            let status = handle.responseCode
            switch status {
            case 401, 495, 496, 500...599: try Self.check(code, text, status: status, url: url)
            default: try Self.check(code, text, status: 0, url: url)
            }
            return (status, sink.bytes)
        }
    }

    // MARK: - large files

    /// What a download did.
    public struct DownloadReport: Sendable, Codable {
        /// Verified bytes already in the partial file when this call began.
        public var resumedFrom: UInt64
        /// Bytes received over the network in this call.
        public var bytesReceived: UInt64
        /// Chunks that arrived damaged and were fetched again.
        public var refetchedChunks: Int
        /// Attempts that failed and were retried (drops, stalls, server errors).
        public var retries: Int
        /// Digests of the whole finished file (algorithm name → hex) for the algorithms asked
        /// for, computed as the verified bytes went by.
        public var fileDigests: [String: String] = [:]
    }

    /// Downloads `target` from `url` into `partialPath` (created 0600), resuming after the
    /// verified chunks already there. Only verified chunks are ever written. A chunk that fails
    /// its hash is fetched once more, then the download is refused (`transport.chunk-hash`) and
    /// the partial file removed.
    public func download(
        _ url: String, target: ChunkedTarget, partialPath: String, wholeFileHashes: [HashAlgorithm] = [],
        progress: (@Sendable (WorkProgress) -> Void)? = nil
    ) throws(OTAError) -> DownloadReport {
        let file = try PartialFile(path: partialPath, target: target, wholeFileHashes: wholeFileHashes)
        var report = DownloadReport(resumedFrom: file.verified, bytesReceived: 0, refetchedChunks: 0, retries: 0)
        var damaged: Set<Int> = []
        var attempt = 0
        // Bytes of the current chunk received before a drop: kept in memory, so a resumed request
        // starts where the last one stopped (a kill loses them: at most one chunk fetched twice).
        var pending: [UInt8] = []
        // One cap across every request of this download (retries included).
        let limiter = RateLimiter(bytesPerSecond: options.bandwidthLimit)
        while file.verified < target.length {
            let sink = ChunkSink(file: file, target: target, progress: progress, limiter: limiter)
            sink.buffer = pending
            let handle = try configuredHandle(url)
            try handle.setHeaders(["Range: bytes=\(file.verified + UInt64(pending.count))-\(target.length - 1)"])
            let before = file.verified
            let (code, text) = withExtendedLifetime(sink) { () -> (CURLcode, String) in
                try? handle.set(CURLOPT_WRITEDATA, pointer: Unmanaged.passUnretained(sink).toOpaque())
                try? handle.setWriteFunction(chunkSinkWrite)
                sink.handle = handle
                return handle.perform()
            }
            report.bytesReceived += sink.received
            pending = sink.failure == nil ? sink.buffer : []
            if let failure = sink.failure {
                switch failure {
                case .tooLong:
                    file.discard()
                    throw OTAError(
                        .transportTooLong,
                        "\(url): the server sent more than the \(target.length) signed bytes; nothing kept")
                case .io(let error):
                    throw error
                case .status(let status):
                    try Self.check(CURLE_OK, "", status: status, url: url)
                case .badChunk(let index):
                    guard damaged.insert(index).inserted else {
                        file.discard()
                        throw OTAError(
                            .transportChunkHash,
                            "\(url): chunk \(index) failed its signed hash twice; download refused and discarded")
                    }
                    report.refetchedChunks += 1
                    onRetry?("chunk \(index) failed its hash; fetching it again")
                    continue
                }
            }
            if file.verified == target.length { break }
            // The transfer ended early (drop, stall, error): retry from the verified boundary.
            do throws(OTAError) {
                try Self.check(code, text, status: handle.responseCode, url: url)
                if code == CURLE_OK {
                    throw OTAError(
                        .transportFailed, "\(url): the response ended at \(file.verified) of \(target.length) bytes")
                }
            } catch {
                guard Self.isTransient(error), attempt < options.retries else { throw error }
                if file.verified > before { attempt = 0 }
                attempt += 1
                report.retries += 1
                onRetry?("\(error.message); resuming at byte \(file.verified) (retry \(attempt))")
                sleepBackoff(attempt)
            }
        }
        try file.finish()
        report.fileDigests = file.wholeFileDigests()
        return report
    }

    // MARK: - plumbing

    func configuredHandle(_ url: String) throws(OTAError) -> CurlHandle {
        let lower = url.lowercased()
        if lower.hasPrefix("http://") {
            guard options.allowPlainHTTP else {
                throw OTAError(
                    .transportPlainHTTP,
                    "\(url): plain HTTP is refused (allow it only on a test bench, with --allow-http)")
            }
        } else if !lower.hasPrefix("https://") {
            throw OTAError(.transportPlainHTTP, "\(url): only https:// (or http:// when allowed) URLs")
        }
        let handle = try CurlHandle()
        try handle.set(CURLOPT_URL, url)
        try handle.set(CURLOPT_PROTOCOLS_STR, options.allowPlainHTTP ? "http,https" : "https")
        try handle.set(CURLOPT_FOLLOWLOCATION, 0)
        try handle.set(CURLOPT_NOSIGNAL, 1)
        try handle.set(CURLOPT_CONNECTTIMEOUT, options.connectTimeout)
        try handle.set(CURLOPT_LOW_SPEED_TIME, options.stallSeconds)
        try handle.set(CURLOPT_LOW_SPEED_LIMIT, options.stallBytesPerSecond)
        try handle.set(CURLOPT_SSL_VERIFYPEER, 1)
        try handle.set(CURLOPT_SSL_VERIFYHOST, 2)
        try handle.set(CURLOPT_SSLVERSION, Int(CURL_SSLVERSION_TLSv1_2))
        if let ca = options.pinnedCA {
            try handle.set(CURLOPT_CAINFO, ca)
            try handle.set(CURLOPT_CAPATH, pointer: nil)
        }
        if let certificate = options.clientCertificate { try handle.set(CURLOPT_SSLCERT, certificate) }
        if let key = options.clientKey { try handle.set(CURLOPT_SSLKEY, key) }
        return handle
    }

    func withRetries<T>(_ url: String, _ body: () throws(OTAError) -> T) throws(OTAError) -> T {
        var attempt = 0
        while true {
            do throws(OTAError) {
                return try body()
            } catch {
                guard Self.isTransient(error), attempt < options.retries else { throw error }
                attempt += 1
                onRetry?("\(url): \(error.message) (retry \(attempt))")
                sleepBackoff(attempt)
            }
        }
    }

    func sleepBackoff(_ attempt: Int) {
        let delay = min(options.maximumBackoff, options.backoff * pow(2, Double(attempt - 1)))
        usleep(UInt32(max(0, delay) * 1_000_000))
    }

    static func isTransient(_ error: OTAError) -> Bool {
        error.code == .transportFailed || error.code == .transportTimeout || error.code == .transportServerError
    }

    /// Maps libcurl's outcome and the HTTP status to our codes.
    static func check(_ code: CURLcode, _ text: String, status: Int, url: String) throws(OTAError) {
        switch code {
        case CURLE_OK, CURLE_WRITE_ERROR: break
        case CURLE_OPERATION_TIMEDOUT:
            throw OTAError(.transportTimeout, "\(url): the transfer stalled or timed out (slow retrieval)", cause: text)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            throw OTAError(
                .transportTLS,
                "\(url): the server's certificate does not chain to the pinned CA or does not name the host",
                cause: text)
        case CURLE_SSL_CERTPROBLEM:
            throw OTAError(
                .transportClientIdentity,
                "\(url): the vehicle's certificate or key cannot be used (missing, malformed, or not a pair)",
                cause: text)
        case CURLE_SSL_CONNECT_ERROR:
            throw OTAError(.transportTLS, "\(url): the TLS handshake failed", cause: text)
        case CURLE_UNSUPPORTED_PROTOCOL:
            throw OTAError(.transportPlainHTTP, "\(url): protocol not allowed", cause: text)
        default:
            throw OTAError(.transportFailed, "\(url): \(text)", cause: "curl code \(code.rawValue)")
        }
        switch status {
        case 0, 200...299: return
        case 401, 495, 496:
            throw OTAError(
                .transportClientRejected, "\(url): the server refused this vehicle's certificate (HTTP \(status))")
        case 403, 404, 410: throw OTAError(.transportNotFound, "\(url): not found (HTTP \(status))")
        case 500...599: throw OTAError(.transportServerError, "\(url): server error (HTTP \(status))")
        default: throw OTAError(.transportHTTPStatus, "\(url): HTTP \(status)")
        }
    }
}

/// Collects a small body, refusing to hold more than `limit` bytes.
final class MemorySink {
    let limit: Int
    var bytes: [UInt8] = []
    var overflowed = false
    init(limit: Int) { self.limit = limit }
}

let memorySinkWrite: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let context, let data else { return 0 }
    let sink = Unmanaged<MemorySink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    guard sink.bytes.count + length <= sink.limit else {
        sink.overflowed = true
        return 0
    }
    sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// Receives a ranged body: buffers one chunk, checks its hash, writes it to the partial file.
final class ChunkSink {
    enum Failure { case tooLong, badChunk(Int), status(Int), io(OTAError) }

    let file: PartialFile
    let target: ChunkedTarget
    let progress: (@Sendable (WorkProgress) -> Void)?
    let limiter: RateLimiter?
    var handle: CurlHandle?
    var buffer: [UInt8] = []
    var received: UInt64 = 0
    var failure: Failure?
    /// Bytes of an unranged (200) answer to skip, when the server ignored the Range header.
    var skip: UInt64?

    init(file: PartialFile, target: ChunkedTarget, progress: (@Sendable (WorkProgress) -> Void)?, limiter: RateLimiter?)
    {
        self.file = file
        self.target = target
        self.progress = progress
        self.limiter = limiter
        buffer.reserveCapacity(Int(target.chunkSize))
    }

    func accept(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if skip == nil {
            let status = handle?.responseCode ?? 0
            if status == 206 {
                skip = 0
            } else if status == 200 {
                // The server ignored the Range header: skip what is already held.
                skip = file.verified + UInt64(buffer.count)
            } else {
                failure = .status(status)
                return false
            }
        }
        var slice = bytes[...]
        if let toSkip = skip, toSkip > 0 {
            let dropped = min(UInt64(slice.count), toSkip)
            slice = slice.dropFirst(Int(dropped))
            skip = toSkip - dropped
        }
        received += UInt64(bytes.count)
        limiter?.consumed(bytes.count)
        guard file.verified + UInt64(buffer.count) + UInt64(slice.count) <= target.length else {
            failure = .tooLong
            return false
        }
        while !slice.isEmpty {
            let index = Int(file.verified / target.chunkSize)
            let need = target.chunkLength(index) - buffer.count
            let take = min(need, slice.count)
            buffer.append(contentsOf: slice.prefix(take))
            slice = slice.dropFirst(take)
            if buffer.count == target.chunkLength(index) {
                guard let digest = try? Hasher.hash(.sha256, buffer),
                    ConstantTime.equals(digest.bytes, target.chunkHashes[index])
                else {
                    failure = .badChunk(index)
                    return false
                }
                do throws(OTAError) {
                    try file.append(buffer)
                } catch {
                    failure = .io(error)
                    return false
                }
                buffer.removeAll(keepingCapacity: true)
                progress?(WorkProgress(step: "download", done: file.verified, total: target.length))
            }
        }
        return true
    }
}

private let chunkSinkWrite: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let context, let data else { return 0 }
    let sink = Unmanaged<ChunkSink>.fromOpaque(context).takeUnretainedValue()
    let length = size * count
    return sink.accept(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}
