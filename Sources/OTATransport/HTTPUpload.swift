internal import CCurl
public import OTACore

/// What the server answered to an upload: its HTTP status and body (bounded). Every status is
/// returned, not thrown: the caller reads its own server's error body.
public struct UploadResponse: Sendable {
    public let status: Int
    public let body: [UInt8]

    public var succeeded: Bool { (200...299).contains(status) }
}

extension HTTPTransport {
    /// Sends a file as the body of a `POST` (or `PUT`) with the same connection rules as every
    /// download: mutual TLS with the vehicle's (or service's) certificate, the pinned CA, no
    /// redirects, plain HTTP only when allowed, the bandwidth cap and stall detection. The file is
    /// streamed from disk (never whole in memory) with its `Content-Length`; no `Expect:
    /// 100-continue` round trip. `retry` retries transient failures (drops, stalls, 5xx answers)
    /// with back-off: set it only when the server treats a repeated upload as one.
    ///
    /// ```swift
    /// let transport = HTTPTransport(options: TransportOptions(clientCertificate: crt, clientKey: key, pinnedCA: ca))
    /// let answer = try transport.upload(file: "records.jsonl", to: "https://fleet:8443/v1/records", contentType: "application/x-ndjson")
    /// ```
    public func upload(
        file path: String, to url: String, method: String = "POST", contentType: String = "application/octet-stream",
        headers: [String] = [],
        maximumResponse: Int = 1 << 20, retry: Bool = false
    ) throws(OTAError) -> UploadResponse {
        guard method == "POST" || method == "PUT" else {
            throw OTAError(.usageInvalid, "upload method \(method): POST or PUT")
        }
        let attempt = { () throws(OTAError) -> UploadResponse in
            let source = try UploadSource(path: path, limiter: RateLimiter(bytesPerSecond: self.options.bandwidthLimit))
            let sink = MemorySink(limit: maximumResponse)
            let handle = try self.configuredHandle(url)
            if method == "POST" {
                try handle.set(CURLOPT_POST, 1)
                try handle.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: source.size)
            } else {
                try handle.set(CURLOPT_UPLOAD, 1)
                try handle.set(CURLOPT_INFILESIZE_LARGE, offset: source.size)
            }
            try handle.setHeaders(["Content-Type: \(contentType)", "Expect:"] + headers)
            let (code, text) = withExtendedLifetime((source, sink)) { () -> (CURLcode, String) in
                try? handle.set(CURLOPT_READDATA, pointer: Unmanaged.passUnretained(source).toOpaque())
                try? handle.setReadFunction(uploadSourceRead)
                try? handle.set(CURLOPT_WRITEDATA, pointer: Unmanaged.passUnretained(sink).toOpaque())
                try? handle.setWriteFunction(memorySinkWrite)
                return handle.perform()
            }
            if let failure = source.failure { throw failure }
            if sink.overflowed {
                throw OTAError(.transportTooLong, "\(url): the answer is longer than \(maximumResponse) bytes")
            }
            let status = handle.responseCode
            if code != CURLE_OK || status == 0 { try Self.check(code, text, status: status, url: url) }
            if retry, (500...599).contains(status) {
                throw OTAError(.transportServerError, "\(url): server error (HTTP \(status))")
            }
            if status == 401 || status == 495 || status == 496 {
                throw OTAError(
                    .transportClientRejected, "\(url): the server refused this client's certificate (HTTP \(status))")
            }
            return UploadResponse(status: status, body: sink.bytes)
        }
        return retry ? try withRetries(url, attempt) : try attempt()
    }
}

/// The file an upload reads from, chunk by chunk, on libcurl's request.
final class UploadSource {
    let input: InputFile
    let size: Int64
    let limiter: RateLimiter?
    var failure: OTAError?
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    init(path: String, limiter: RateLimiter?) throws(OTAError) {
        input = try InputFile(path: path)
        size = try input.size()
        self.limiter = limiter
    }

    /// Fills `destination` with up to `capacity` bytes; 0 at the end; abort on a read error.
    func read(into destination: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        if buffer.count > capacity { buffer = [UInt8](repeating: 0, count: capacity) }
        do throws(OTAError) {
            let count = try input.read(into: &buffer)
            buffer.withUnsafeBytes {
                UnsafeMutableRawPointer(destination).copyMemory(from: $0.baseAddress!, byteCount: count)
            }
            limiter?.consumed(count)
            return count
        } catch {
            failure = error
            return Int(CURL_READFUNC_ABORT)
        }
    }
}

private let uploadSourceRead: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int =
    { data, size, count, context in
        guard let context, let data else { return Int(CURL_READFUNC_ABORT) }
        let source = Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue()
        return source.read(into: data, capacity: size * count)
    }
