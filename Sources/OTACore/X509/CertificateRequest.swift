internal import COpenSSL
import Foundation
public import OTABase

/// A PKCS#10 certificate request: a subject name and a public key, signed by the private key
/// (proof of possession). Made where the key lives (a vehicle, an HSM), so the key never leaves;
/// a CA turns it into a certificate with `CertificateIssuer.issue(_:request:)`.
///
/// `@unchecked Sendable`: the `X509_REQ` is only read after `init`.
public final class CertificateRequest: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(taking pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_REQ_free(pointer) }

    /// The name fields a request may carry (the CA sets everything else).
    public struct Subject: Sendable, Equatable {
        public var commonName: String
        public var organization: String
        public var organizationalUnit: String?

        public init(commonName: String, organization: String, organizationalUnit: String? = nil) {
            self.commonName = commonName
            self.organization = organization
            self.organizationalUnit = organizationalUnit
        }
    }

    /// Longest PEM or DER request read.
    public static let maximumSize = 64 * 1024

    /// Makes a request for `key`'s public half, signed by `key` (SM2 with SM3 and the default
    /// distinguishing ID; a PKCS#11 key signs in its token).
    public static func make(subject: Subject, key: PrivateKey) throws(OTAError) -> CertificateRequest {
        guard key.type.canSign else {
            throw OTAError(.keyCannotSign, "an \(key.type.rawValue) key cannot sign a certificate request")
        }
        for (field, value) in [
            ("CN", subject.commonName), ("O", subject.organization), ("OU", subject.organizationalUnit ?? "x"),
        ] {
            if let problem = Self.problem(value) {
                throw OTAError(.certificateName, "request subject \(field): \(problem)")
            }
        }
        OpenSSLErrorQueue.clear()
        guard let request = X509_REQ_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "X509_REQ_new failed", function: "X509_REQ_new")
        }
        let owned = CertificateRequest(taking: request)
        try ensure(X509_REQ_set_version(request, 0), "X509_REQ_set_version")
        let name = try CertificateIssuer.name(
            CertificateProfile(
                commonName: subject.commonName, organization: subject.organization,
                organizationalUnit: subject.organizationalUnit,
                usage: .signer(codeSigning: false), notBefore: Date(), notAfter: Date()))
        defer { X509_NAME_free(name) }
        try ensure(X509_REQ_set_subject_name(request, name), "X509_REQ_set_subject_name")
        let publicKey = try key.publicKey
        try ensure(X509_REQ_set_pubkey(request, publicKey.key.pointer), "X509_REQ_set_pubkey")
        let algorithm = try SignatureAlgorithm.forKey(key.type)
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "EVP_MD_CTX_new failed", function: "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        try DigestSignContext.configure(
            context, key: key.key, algorithm: algorithm, signing: true, sm2ID: defaultSM2DistinguishingID)
        guard X509_REQ_sign_ctx(request, context) > 0 else {
            throw OpenSSLErrorQueue.error(
                .signatureFailed, "cannot sign the certificate request", function: "X509_REQ_sign_ctx")
        }
        return try CertificateRequest(der: owned.der, source: "new certificate request")
    }

    /// Parses one PEM (`CERTIFICATE REQUEST`) or DER request and checks its signature under
    /// its own key (`request.signature`): a request nobody holding the key signed is refused.
    public convenience init(encoded bytes: [UInt8], source: String) throws(OTAError) {
        guard bytes.count <= Self.maximumSize else {
            throw OTAError(.requestMalformed, "\(source): larger than \(Self.maximumSize) bytes")
        }
        let der: [UInt8]
        if String(decoding: bytes.prefix(64), as: UTF8.self).contains("-----BEGIN") {
            let blocks = PEMBlock.split(String(decoding: bytes, as: UTF8.self))
            guard blocks.count == 1, blocks[0].label == "CERTIFICATE REQUEST" else {
                throw OTAError(.requestMalformed, "\(source): expected exactly one PEM CERTIFICATE REQUEST block")
            }
            der = blocks[0].der
        } else {
            der = bytes
        }
        try self.init(der: der, source: source)
    }

    convenience init(der: [UInt8], source: String) throws(OTAError) {
        // The DER must be one element with nothing after it, encoded as OpenSSL re-encodes it.
        guard let outer = DER.only(der[...]), outer.tag == DER.sequence else {
            throw OTAError(.requestMalformed, "\(source): not one DER SEQUENCE")
        }
        OpenSSLErrorQueue.clear()
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_X509_REQ(nil, &cursor, buffer.count)
        }
        guard let parsed else {
            throw OpenSSLErrorQueue.error(
                .requestMalformed, "\(source): not a PKCS#10 certificate request", function: "d2i_X509_REQ")
        }
        self.init(taking: parsed)
        guard self.der == der else { throw OTAError(.requestMalformed, "\(source): not in DER (re-encoding differs)") }
        let key = try publicKey
        // SM2 requests are signed with the default distinguishing ID (GB/T 35276).
        if key.type == .sm2 {
            guard let id = ASN1_OCTET_STRING_new() else {
                throw OpenSSLErrorQueue.error(
                    .cryptoInternal, "ASN1_OCTET_STRING_new failed", function: "ASN1_OCTET_STRING_new")
            }
            _ = defaultSM2DistinguishingID.withUnsafeBufferPointer {
                ASN1_OCTET_STRING_set(id, $0.baseAddress, Int32($0.count))
            }
            X509_REQ_set0_distinguishing_id(pointer, id)  // takes ownership
        }
        guard X509_REQ_verify_ex(pointer, key.key.pointer, nil, nil) == 1 else {
            throw OpenSSLErrorQueue.error(
                .requestSignature, "\(source): the request is not signed by the key it carries",
                function: "X509_REQ_verify_ex")
        }
        OpenSSLErrorQueue.clear()
    }

    /// DER encoding.
    public var der: [UInt8] {
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509_REQ(pointer, &output)
        guard length > 0, let output else { return [] }
        defer { COpenSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    public var pem: String { PEMBlock(label: "CERTIFICATE REQUEST", der: der).text }

    /// The requested public key (normalised, as every key in `ota`).
    public var publicKey: PublicKey {
        get throws(OTAError) {
            OpenSSLErrorQueue.clear()
            guard let key = X509_REQ_get0_pubkey(pointer) else {
                throw OpenSSLErrorQueue.error(
                    .requestMalformed, "the request carries no usable public key", function: "X509_REQ_get0_pubkey")
            }
            return PublicKey(key: try PKey(copying: key, source: "request public key"))
        }
    }

    /// The requested subject: exactly one CN and one O, at most one OU, nothing else; names
    /// with control or invisible characters are refused (`certificate.name`).
    public var subject: Subject {
        get throws(OTAError) {
            guard let name = X509_REQ_get_subject_name(pointer) else {
                throw OTAError(.requestMalformed, "the request has no subject")
            }
            return try Self.subject(of: name, what: "request subject")
        }
    }

    /// Reads CN, O and OU from an `X509_NAME`, refusing any other field or a repeated one.
    static func subject(of name: OpaquePointer, what: String) throws(OTAError) -> Subject {
        var fields: [String: [String]] = [:]
        for index in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, index), let object = X509_NAME_ENTRY_get_object(entry),
                let data = X509_NAME_ENTRY_get_data(entry)
            else { throw OTAError(.certificateName, "\(what) is malformed") }
            var utf8: UnsafeMutablePointer<UInt8>? = nil
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length >= 0, let utf8 else {
                throw OpenSSLErrorQueue.error(
                    .certificateName, "\(what): a field is not text", function: "ASN1_STRING_to_UTF8")
            }
            defer { COpenSSL_free(utf8) }
            guard let value = String(validating: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
            else { throw OTAError(.certificateName, "\(what): a field is not UTF-8 text") }
            let short = OBJ_nid2sn(OBJ_obj2nid(object)).map { String(cString: $0) } ?? ASN1Object.text(object)
            fields[short, default: []].append(value)
        }
        let other = fields.keys.filter { !["CN", "O", "OU"].contains($0) }.sorted()
        guard other.isEmpty else {
            throw OTAError(
                .certificateName,
                "\(what): only CN, O and OU are issued; it also names \(other.joined(separator: ", "))")
        }
        guard let cn = fields["CN"], cn.count == 1, let o = fields["O"], o.count == 1, (fields["OU"]?.count ?? 0) <= 1
        else {
            throw OTAError(.certificateName, "\(what): exactly one CN and one O, at most one OU")
        }
        for value in cn + o + (fields["OU"] ?? []) {
            if let problem = Self.problem(value) { throw OTAError(.certificateName, "\(what) '\(value)': \(problem)") }
        }
        return Subject(commonName: cn[0], organization: o[0], organizationalUnit: fields["OU"]?.first)
    }

    /// Why a name field cannot be issued: empty, longer than 64 characters (RFC 5280 ub-common-name),
    /// or holding control or invisible format characters.
    static func problem(_ value: String) -> String? {
        if value.isEmpty { return "empty" }
        if value.count > 64 { return "longer than 64 characters" }
        if value.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) }) {
            return "holds control or invisible characters"
        }
        return nil
    }
}
