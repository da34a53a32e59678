internal import COpenSSL
internal import OTABase

extension Certificate {
    /// The extended key usages, as dotted OIDs (empty when the certificate has none).
    public var extendedKeyUsages: [String] {
        guard let usages = X509_get_ext_d2i(pointer, NID_ext_key_usage, nil, nil) else {
            OpenSSLErrorQueue.clear()
            return []
        }
        let stack = OpaquePointer(usages)
        defer { EXTENDED_KEY_USAGE_free(stack) }
        return (0..<COpenSSL_sk_ASN1_OBJECT_num(stack)).compactMap { index in
            COpenSSL_sk_ASN1_OBJECT_value(stack, index).map(ASN1Object.text)
        }
    }

    /// The signer id a CA bound in the certificate (`ProjectOID.signerID`), if any; refused
    /// when present twice or not a DER UTF8String.
    public var signerID: String? {
        get throws(OTAError) {
            guard let values = try extensionValues(ProjectOID.signerID), let value = values.first else { return nil }
            guard values.count == 1 else {
                throw OTAError(
                    .certificateMalformed, "\(subject): the signer-id extension appears \(values.count) times")
            }
            guard let element = DER.only(value[...]), element.tag == DER.utf8String,
                let text = String(validating: element.content, as: UTF8.self), !text.isEmpty
            else {
                throw OTAError(
                    .certificateMalformed, "\(subject): the signer-id extension is not a non-empty UTF8String")
            }
            return text
        }
    }

    /// The subject name in the form signatories are compared in: each attribute as
    /// `OID=value` (value canonical per `Signatory.canonical`), attributes of one RDN joined by
    /// `+`, RDNs by `,`.
    public var canonicalSubject: String {
        guard let name = X509_get_subject_name(pointer) else { return "" }
        var text = ""
        var lastSet: Int32 = -1
        for index in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, index) else { continue }
            let set = X509_NAME_ENTRY_set(entry)
            if !text.isEmpty { text += set == lastSet ? "+" : "," }
            lastSet = set
            let oid = X509_NAME_ENTRY_get_object(entry).map(ASN1Object.text) ?? "?"
            var utf8: UnsafeMutablePointer<UInt8>? = nil
            let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))
            var value = ""
            if length >= 0, let utf8 {
                let bytes = UnsafeBufferPointer(start: utf8, count: Int(length))
                // Never repaired: bytes that are not UTF-8 are spelt in hex (RFC 4514's `#`), so two
                // such names stay two names.
                value = String(validating: bytes, as: UTF8.self) ?? "#" + Hex.encode(Array(bytes))
                COpenSSL_free(utf8)
            } else {
                OpenSSLErrorQueue.clear()
            }
            text += "\(oid)=\(Signatory.canonical(value))"
        }
        return text
    }

    /// The DER values (extnValue contents) of every extension with `oid`; nil when none.
    func extensionValues(_ oid: String) throws(OTAError) -> [[UInt8]]? {
        let object = try ASN1Object.object(oid)
        defer { ASN1_OBJECT_free(object) }
        var values: [[UInt8]] = []
        var index: Int32 = -1
        while true {
            index = X509_get_ext_by_OBJ(pointer, object, index)
            guard index >= 0, let item = X509_get_ext(pointer, index), let data = X509_EXTENSION_get_data(item) else {
                break
            }
            let bytes =
                ASN1_STRING_get0_data(data).map {
                    Array(UnsafeBufferPointer(start: $0, count: Int(ASN1_STRING_length(data))))
                } ?? []
            values.append(bytes)
        }
        return values.isEmpty ? nil : values
    }
}

/// RFC 5280 (4.2) allows one instance of each extension in a certificate or CRL. OpenSSL parses a
/// second one, and then marks a certificate invalid, which a chain check reported as "unable to get
/// local issuer certificate"; a CRL with two CRL numbers could be read either way.
enum RepeatedExtension {
    /// The first extension of `count` (`extensionAt` gives each `X509_EXTENSION`) that appears
    /// more than once, by its name and dotted OID; nil when none does.
    static func first(count: Int32, _ extensionAt: (Int32) -> OpaquePointer?) -> String? {
        var seen = Set<String>()
        for index in 0..<count {
            guard let item = extensionAt(index), let object = X509_EXTENSION_get_object(item) else { continue }
            let oid = ASN1Object.text(object)
            guard seen.insert(oid).inserted else {
                let nid = OBJ_obj2nid(object)
                let name = nid == NID_undef ? nil : OBJ_nid2ln(nid).map { String(cString: $0) }
                return name.map { "\($0) (\(oid))" } ?? oid
            }
        }
        return nil
    }
}

/// Dotted OIDs to and from OpenSSL's `ASN1_OBJECT`.
enum ASN1Object {
    /// The dotted form (never a name).
    static func text(_ object: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        guard length > 0, Int(length) < buffer.count else { return "" }
        return String(decoding: buffer.prefix(Int(length)).map(UInt8.init(bitPattern:)), as: UTF8.self)
    }

    /// A new `ASN1_OBJECT` for a dotted OID; the caller frees it.
    static func object(_ dotted: String) throws(OTAError) -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        guard let object = OBJ_txt2obj(dotted, 1) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "not an object identifier: \(dotted)", function: "OBJ_txt2obj")
        }
        return object
    }
}

extension Certificate {
    /// Whether the certificate names itself as issuer and its own key verifies its signature
    /// (a root).
    public var isSelfSigned: Bool {
        defer { OpenSSLErrorQueue.clear() }
        guard X509_check_issued(pointer, pointer) == X509_V_OK, let key = X509_get0_pubkey(pointer) else {
            return false
        }
        return X509_verify(pointer, key) == 1
    }
}
