internal import COpenSSL
public import Foundation
public import OTABase

/// An X.509 certificate (`X509`), parsed from PEM or DER.
///
/// `@unchecked Sendable`: the `X509` object is never mutated once a `Certificate` can be shared.
/// The one change `ota` makes to a certificate, the SM2 distinguishing ID its signature is
/// checked with, happens in `init(der:)` on an object it has just parsed and nobody else holds.
/// OpenSSL's own lazily cached fields (extension flags) are filled under its own lock.
public final class Certificate: @unchecked Sendable, Equatable, CustomStringConvertible {
    let pointer: OpaquePointer

    /// Takes over one reference to `pointer` (freed in `deinit`); never changes the object, which
    /// may be shared (a chain OpenSSL built from our certificates).
    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Parses one DER certificate; trailing bytes, BER and a repeated extension are refused.
    public convenience init(der: [UInt8], source: String = "certificate") throws(OTAError) {
        OpenSSLErrorQueue.clear()
        var consumed = 0
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let result = d2i_X509(nil, &cursor, buffer.count)
            if let cursor, let base = buffer.baseAddress { consumed = cursor - base }
            return result
        }
        guard let parsed else {
            throw OpenSSLErrorQueue.error(
                .certificateMalformed, "\(source): not a DER X.509 certificate", function: "d2i_X509")
        }
        guard consumed == der.count else {
            X509_free(parsed)
            throw OTAError(
                .certificateMalformed, "\(source): \(der.count - consumed) trailing bytes after the certificate")
        }
        // DER, not the BER OpenSSL also reads: one encoding, one fingerprint.
        guard DER.isStrictlyEncoded(der[...]) else {
            X509_free(parsed)
            throw OTAError(
                .certificateMalformed,
                "\(source): not a DER X.509 certificate (an indefinite or non-minimal length, or a value in pieces)")
        }
        if let repeated = RepeatedExtension.first(count: X509_get_ext_count(parsed), { X509_get_ext(parsed, $0) }) {
            X509_free(parsed)
            throw OTAError(
                .certificateMalformed,
                "\(source): the extension \(repeated) appears twice (RFC 5280 allows one of each)")
        }
        Self.setSM2IDIfNeeded(parsed)  // still ours alone
        self.init(taking: parsed)
    }

    /// Parses every certificate in PEM text (a chain file), or one DER certificate.
    public static func load(_ bytes: [UInt8], source: String) throws(OTAError) -> [Certificate] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN") else { return [try Certificate(der: bytes, source: source)] }
        var certificates: [Certificate] = []
        for block in PEMBlock.split(text) {
            guard block.label == "CERTIFICATE" else {
                throw OTAError(
                    .certificateMalformed, "\(source): unexpected PEM block '\(block.label)' (expected CERTIFICATE)")
            }
            certificates.append(try Certificate(der: block.der, source: source))
        }
        guard !certificates.isEmpty else { throw OTAError(.certificateMalformed, "\(source): no certificate found") }
        return certificates
    }

    /// Loads all certificates from a PEM or DER file.
    public static func load(contentsOf path: String) throws(OTAError) -> [Certificate] {
        try load(FileSystem.read(path, limit: 4 << 20), source: path)
    }

    /// DER encoding.
    public var der: [UInt8] {
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509(pointer, &output)
        guard length > 0, let output else { return [] }
        defer { COpenSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    /// PEM encoding.
    public var pem: String { PEMBlock(label: "CERTIFICATE", der: der).text }

    /// Subject distinguished name, RFC 2253 style (`CN=Release Signer 1,O=...`).
    public var subject: String { X509Name.string(X509_get_subject_name(pointer)) }

    /// Issuer distinguished name.
    public var issuer: String { X509Name.string(X509_get_issuer_name(pointer)) }

    /// Serial number in hex.
    public var serialNumber: String {
        guard let serial = X509_get0_serialNumber(pointer), let number = ASN1_INTEGER_to_BN(serial, nil) else {
            return ""
        }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { COpenSSL_free(hex) }
        return String(cString: hex).lowercased()
    }

    public var notBefore: Date { ASN1Time.date(COpenSSL_X509_get0_notBefore(pointer)) }
    public var notAfter: Date { ASN1Time.date(COpenSSL_X509_get0_notAfter(pointer)) }

    /// The subject public key.
    public var publicKey: PublicKey {
        get throws(OTAError) {
            OpenSSLErrorQueue.clear()
            // get0: the certificate keeps its key; ours is a normalised copy (never mutate a
            // key other threads may be using through this certificate).
            guard let key = X509_get0_pubkey(pointer) else {
                throw OpenSSLErrorQueue.error(
                    .certificateMalformed, "certificate has no usable public key", function: "X509_get0_pubkey")
            }
            return PublicKey(key: try PKey(copying: key, source: "certificate \(subject)"))
        }
    }

    /// SHA-256 of the DER encoding, hex.
    public var fingerprint: String {
        (try? Hasher.hash(.sha256, der).hex) ?? ""
    }

    /// Whether the certificate says it is a CA (basicConstraints cA=TRUE).
    public var isCA: Bool { X509_check_ca(pointer) >= 1 }

    /// Whether extendedKeyUsage includes codeSigning.
    public var allowsCodeSigning: Bool {
        let usage = X509_get_extended_key_usage(pointer)
        return usage != UInt32.max && (usage & UInt32(XKU_CODE_SIGN)) != 0
    }

    /// Whether the certificate was signed with SM2-with-SM3.
    var isSignedWithSM2: Bool { X509_get_signature_nid(pointer) == NID_SM2_with_SM3 }

    /// SM2-signed certificates are verified with the default distinguishing ID (GM/T 0009).
    /// Only for a freshly parsed object no other thread can see: it replaces (and frees) the
    /// ID a concurrent verification of the same object would be reading.
    private static func setSM2IDIfNeeded(_ x509: OpaquePointer) {
        guard X509_get_signature_nid(x509) == NID_SM2_with_SM3 else { return }
        guard let id = ASN1_OCTET_STRING_new() else { return }
        _ = defaultSM2DistinguishingID.withUnsafeBufferPointer {
            ASN1_OCTET_STRING_set(id, $0.baseAddress, Int32($0.count))
        }
        X509_set0_distinguishing_id(x509, id)  // takes ownership
    }

    public var description: String { "\(subject) (serial \(serialNumber))" }

    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { X509_cmp(lhs.pointer, rhs.pointer) == 0 }
}

/// One PEM block: `-----BEGIN LABEL-----`, base64, `-----END LABEL-----`.
package struct PEMBlock: Sendable {
    public let label: String
    public let der: [UInt8]

    public init(label: String, der: [UInt8]) {
        self.label = label
        self.der = der
    }

    public var text: String {
        let base64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(base64)\n-----END \(label)-----\n"
    }

    /// Splits PEM text into blocks, at any line end (LF, CRLF, CR); text outside the blocks is
    /// ignored (RFC 7468). Undecodable base64, a block never ended, or one ended under another
    /// label yields an empty DER, which every reader rejects.
    public static func split(_ text: String) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        var label: String? = nil
        var body = ""
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.hasPrefix("-----BEGIN ") && line.hasSuffix("-----") {
                if let current = label { blocks.append(PEMBlock(label: current, der: [])) }
                label = String(line.dropFirst(11).dropLast(5))
                body = ""
            } else if line.hasPrefix("-----END ") {
                if let current = label {
                    let ended = line == "-----END \(current)-----"
                    let der = ended ? Array(Data(base64Encoded: body) ?? Data()) : []
                    blocks.append(PEMBlock(label: current, der: der))
                }
                label = nil
            } else if label != nil {
                body += line
            }
        }
        if let current = label { blocks.append(PEMBlock(label: current, der: [])) }
        return blocks
    }
}

enum X509Name {
    static func string(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        return
            (try? MemoryBIO.withNew { bio throws(OTAError) in
                _ = X509_NAME_print_ex(bio, name, 0, COpenSSL_XN_FLAG_RFC2253_UTF8)
                return MemoryBIO.string(bio)
            }) ?? ""
    }
}

enum ASN1Time {
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        guard let time else { return .distantPast }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return .distantPast }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
