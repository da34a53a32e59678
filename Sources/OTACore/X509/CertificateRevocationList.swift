internal import COpenSSL
public import Foundation
public import OTABase

/// A certificate revocation list (`X509_CRL`) signed by a CA. It may travel in the clear: its
/// signature is checked against its issuer during chain verification.
public final class CertificateRevocationList: @unchecked Sendable {
    // @unchecked: the X509_CRL is never mutated once shared; its signature is checked over the
    // DER kept from parsing, not over a re-encoding of the object (which would rewrite OpenSSL's
    // cached encoding under other threads' feet).
    let pointer: OpaquePointer
    /// The DER this object was parsed from (nil only while the issuer builds a new CRL).
    private let encoded: [UInt8]?

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
        encoded = nil
    }

    private init(taking pointer: OpaquePointer, encoded: [UInt8]) {
        self.pointer = pointer
        self.encoded = encoded
    }

    deinit { X509_CRL_free(pointer) }

    /// Parses one DER CRL; trailing bytes are refused.
    public convenience init(der: [UInt8], source: String = "CRL") throws(OTAError) {
        OpenSSLErrorQueue.clear()
        var consumed = 0
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let result = d2i_X509_CRL(nil, &cursor, buffer.count)
            if let cursor, let base = buffer.baseAddress { consumed = cursor - base }
            return result
        }
        guard let parsed else {
            throw OpenSSLErrorQueue.error(.crlMalformed, "\(source): not a DER X.509 CRL", function: "d2i_X509_CRL")
        }
        guard consumed == der.count else {
            X509_CRL_free(parsed)
            throw OTAError(.crlMalformed, "\(source): trailing bytes after the CRL")
        }
        guard DER.isStrictlyEncoded(der[...]) else {
            X509_CRL_free(parsed)
            throw OTAError(
                .crlMalformed,
                "\(source): not a DER X.509 CRL (an indefinite or non-minimal length, or a value in pieces)")
        }
        // One CRL number, one authority key identifier.
        if let repeated = RepeatedExtension.first(
            count: X509_CRL_get_ext_count(parsed), { X509_CRL_get_ext(parsed, $0) })
        {
            X509_CRL_free(parsed)
            throw OTAError(
                .crlMalformed, "\(source): the extension \(repeated) appears twice (RFC 5280 allows one of each)")
        }
        self.init(taking: parsed, encoded: der)
    }

    /// Parses every CRL in PEM text, or one DER CRL.
    public static func load(_ bytes: [UInt8], source: String) throws(OTAError) -> [CertificateRevocationList] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("-----BEGIN") else { return [try CertificateRevocationList(der: bytes, source: source)] }
        var lists: [CertificateRevocationList] = []
        for block in PEMBlock.split(text) {
            guard block.label == "X509 CRL" else {
                throw OTAError(.crlMalformed, "\(source): unexpected PEM block '\(block.label)' (expected X509 CRL)")
            }
            lists.append(try CertificateRevocationList(der: block.der, source: source))
        }
        guard !lists.isEmpty else { throw OTAError(.crlMalformed, "\(source): no CRL found") }
        return lists
    }

    public static func load(contentsOf path: String) throws(OTAError) -> [CertificateRevocationList] {
        try load(FileSystem.read(path, limit: 16 << 20), source: path)
    }

    public var der: [UInt8] {
        if let encoded { return encoded }
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_X509_CRL(pointer, &output)
        guard length > 0, let output else { return [] }
        defer { COpenSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }

    public var pem: String { PEMBlock(label: "X509 CRL", der: der).text }

    public var issuer: String { X509Name.string(X509_CRL_get_issuer(pointer)) }
    public var thisUpdate: Date { ASN1Time.date(X509_CRL_get0_lastUpdate(pointer)) }
    public var nextUpdate: Date? {
        guard let next = X509_CRL_get0_nextUpdate(pointer) else { return nil }
        return ASN1Time.date(next)
    }

    /// Serial numbers (hex) of the revoked certificates.
    public var revokedSerialNumbers: [String] {
        guard let revoked = X509_CRL_get_REVOKED(pointer) else { return [] }
        return (0..<COpenSSL_sk_X509_REVOKED_num(revoked)).compactMap { index in
            guard let entry = COpenSSL_sk_X509_REVOKED_value(revoked, index),
                let serial = X509_REVOKED_get0_serialNumber(entry),
                let number = ASN1_INTEGER_to_BN(serial, nil)
            else { return nil }
            defer { BN_free(number) }
            guard let hex = BN_bn2hex(number) else { return nil }
            defer { COpenSSL_free(hex) }
            return String(cString: hex).lowercased()
        }
    }

    /// `tbsCertList`, the signed part: the first element inside the outer SEQUENCE.
    static func signedPart(of der: [UInt8]) -> [UInt8]? {
        guard let outer = DER.only(der[...]), outer.tag == DER.sequence,
            let tbs = DER.element(outer.content), tbs.tag == DER.sequence
        else { return nil }
        return Array(tbs.encoded)
    }

    /// Whether the CRL is signed with SM2-with-SM3.
    var isSignedWithSM2: Bool { X509_CRL_get_signature_nid(pointer) == NID_SM2_with_SM3 }

    /// Whether `issuer` names this CRL's issuer and its key verifies the CRL signature (SM2 with
    /// the default distinguishing ID, ECDSA or Ed25519).
    func isSigned(by issuerCertificate: Certificate) -> Bool {
        guard X509_NAME_cmp(X509_CRL_get_issuer(pointer), X509_get_subject_name(issuerCertificate.pointer)) == 0 else {
            return false
        }
        var signature: UnsafePointer<ASN1_BIT_STRING>? = nil
        var signatureAlgorithm: UnsafePointer<X509_ALGOR>? = nil
        X509_CRL_get0_signature(pointer, &signature, &signatureAlgorithm)
        return X509SignatureCheck.isValid(
            der: der, signatureNID: X509_CRL_get_signature_nid(pointer), signature: signature, by: issuerCertificate)
    }
}

/// Checks the signature of a signed X.509 structure (a certificate, a CRL) under an issuer's key
/// with our own verifier: the signed part cut from the DER it was parsed from, SM2 with the
/// default distinguishing ID (which OpenSSL 3.0's `X509_CRL_verify` cannot pass), ECDSA or Ed25519.
enum X509SignatureCheck {
    static func isValid(
        der: [UInt8], signatureNID: Int32, signature: UnsafePointer<ASN1_BIT_STRING>?, by issuerCertificate: Certificate
    ) -> Bool {
        guard let key = try? issuerCertificate.publicKey else { return false }
        let algorithm: SignatureAlgorithm
        switch signatureNID {
        case NID_SM2_with_SM3: algorithm = .sm2SM3
        case NID_ecdsa_with_SHA256: algorithm = .ecdsaP256SHA256
        case NID_ED25519: algorithm = .ed25519
        default: return false
        }
        guard let tbs = CertificateRevocationList.signedPart(of: der), let signature,
            let data = ASN1_STRING_get0_data(signature)
        else { return false }
        let bytes = Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(signature))))
        return (try? key.check(bytes, for: tbs, algorithm: algorithm)) == .valid
    }
}

extension CertificateRevocationList {
    /// The CRL number (RFC 5280 §5.2.3) as big-endian magnitude bytes without leading zeros;
    /// nil when the CRL has none.
    public var number: [UInt8]? {
        guard let raw = X509_CRL_get_ext_d2i(pointer, NID_crl_number, nil, nil) else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        let integer = raw.assumingMemoryBound(to: ASN1_INTEGER.self)
        defer { ASN1_INTEGER_free(integer) }
        guard let number = ASN1_INTEGER_to_BN(integer, nil) else { return nil }
        defer { BN_free(number) }
        var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
        _ = BN_bn2bin(number, &bytes)
        return bytes
    }

    /// Whether this CRL is a later issue than `other` (same issuer assumed): a greater CRL number
    /// when both have one, else a later thisUpdate.
    public func isNewer(than other: CertificateRevocationList) -> Bool {
        if let mine = number, let theirs = other.number {
            return mine.count != theirs.count
                ? mine.count > theirs.count : mine.lexicographicallyPrecedes(theirs) == false && mine != theirs
        }
        return thisUpdate > other.thisUpdate
    }

    /// Whether `other` names the same issuer.
    public func hasSameIssuer(as other: CertificateRevocationList) -> Bool {
        X509_NAME_cmp(X509_CRL_get_issuer(pointer), X509_CRL_get_issuer(other.pointer)) == 0
    }

    /// The issuer's DER name, for naming files.
    var issuerDER: [UInt8] {
        guard let name = X509_CRL_get_issuer(pointer) else { return [] }
        var length = 0
        var bytes: UnsafePointer<UInt8>? = nil
        guard X509_NAME_get0_der(name, &bytes, &length) == 1, let bytes else { return [] }
        return Array(UnsafeBufferPointer(start: bytes, count: length))
    }
}
