internal import CCurl
import OTACore

/// The single owner of a libcurl easy handle (`curl_easy_init`), cleaned up on deinit. One
/// request at a time; not shared between threads.
final class CurlHandle {
    let pointer: UnsafeMutableRawPointer
    private var headers: UnsafeMutablePointer<curl_slist>?
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    static let globalInit: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    init() throws(OTAError) {
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw OTAError(.transportFailed, "libcurl could not be initialised")
        }
        pointer = handle
    }

    deinit {
        curl_easy_cleanup(pointer)
        if let headers { curl_slist_free_all(headers) }
    }

    func set(_ option: CURLoption, _ value: Int) throws(OTAError) {
        try check(CCurl_setopt_long(pointer, option, value), "curl_easy_setopt(\(option.rawValue))")
    }

    func set(_ option: CURLoption, offset value: Int64) throws(OTAError) {
        try check(CCurl_setopt_offset(pointer, option, curl_off_t(value)), "curl_easy_setopt(\(option.rawValue))")
    }

    /// libcurl copies string options (since 7.17), so the Swift string need not outlive the call.
    func set(_ option: CURLoption, _ value: String) throws(OTAError) {
        try check(
            value.withCString { CCurl_setopt_string(pointer, option, $0) }, "curl_easy_setopt(\(option.rawValue))")
    }

    func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(OTAError) {
        try check(CCurl_setopt_pointer(pointer, option, value), "curl_easy_setopt(\(option.rawValue))")
    }

    func setHeaders(_ lines: [String]) throws(OTAError) {
        if let headers { curl_slist_free_all(headers) }
        headers = nil
        for line in lines { headers = curl_slist_append(headers, line) }
        try check(CCurl_setopt_slist(pointer, CURLOPT_HTTPHEADER, headers), "curl_easy_setopt(HTTPHEADER)")
    }

    func setWriteFunction(
        _ function: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int
    ) throws(OTAError) {
        try check(CCurl_setopt_write(pointer, function), "curl_easy_setopt(WRITEFUNCTION)")
    }

    func setReadFunction(
        _ function: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int
    ) throws(OTAError) {
        try check(CCurl_setopt_read(pointer, function), "curl_easy_setopt(READFUNCTION)")
    }

    func setProgressFunction(
        _ function: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32
    ) throws(OTAError) {
        try check(CCurl_setopt_xferinfo(pointer, function), "curl_easy_setopt(XFERINFOFUNCTION)")
        try set(CURLOPT_NOPROGRESS, 0)
    }

    /// Runs the transfer (`curl_easy_perform`); returns libcurl's code and its error text.
    func perform() -> (CURLcode, String) {
        errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code = errorBuffer.withUnsafeMutableBufferPointer { buffer -> CURLcode in
            _ = CCurl_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(buffer.baseAddress))
            let result = curl_easy_perform(pointer)
            _ = CCurl_setopt_pointer(pointer, CURLOPT_ERRORBUFFER, nil)
            return result
        }
        var text = String(decoding: errorBuffer.prefix { $0 != 0 }.map(UInt8.init(bitPattern:)), as: UTF8.self)
        if text.isEmpty { text = String(cString: curl_easy_strerror(code)) }
        return (code, text)
    }

    var responseCode: Int {
        var code = 0
        _ = CCurl_getinfo_long(pointer, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    private func check(_ code: CURLcode, _ what: String) throws(OTAError) {
        guard code == CURLE_OK else {
            throw OTAError(.transportFailed, "\(what) failed: \(String(cString: curl_easy_strerror(code)))")
        }
    }
}
