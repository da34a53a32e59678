internal import COpenSSL
public import Foundation
public import OTABase

/// What a new certificate says about its subject.
public struct CertificateProfile: Sendable {
    public enum Usage: Sendable {
        /// A CA; `pathLength` limits the CAs below it.
        case certificateAuthority(pathLength: Int?)
        /// A signer (digitalSignature), optionally with extended key usages (e.g. codeSigning).
        case signer(codeSigning: Bool)
        /// A device key that signs and agrees keys (vehicle device certificate).
        case device
        /// A key-agreement-only key (X25519 recipients).
        case keyAgreement
    }

    public var commonName: String
    public var organization: String
    public var organizationalUnit: String?
    public var usage: Usage
    public var notBefore: Date
    public var notAfter: Date
    /// The person (or service) the certificate is for, bound in the `ProjectOID.signerID`
    /// extension: signatures under one signer id count once toward a threshold.
    public var signerID: String?
    /// The role a leaf is for, marked by its extended key usage `ProjectOID.role(_:)`; verifiers
    /// require it (`certificate.role`). Nil for CAs.
    public var role: TrustRole?

    public init(
        commonName: String, organization: String, organizationalUnit: String? = nil, usage: Usage, notBefore: Date,
        notAfter: Date,
        signerID: String? = nil, role: TrustRole? = nil
    ) {
        self.commonName = commonName
        self.organization = organization
        self.organizationalUnit = organizationalUnit
        self.usage = usage
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.signerID = signerID
        self.role = role
    }

    /// Longest signer id accepted.
    public static let maximumSignerIDLength = 128

    /// Why `signerID` cannot be issued, if it cannot: empty, too long, or holding control or
    /// invisible format characters.
    public static func problem(signerID: String) -> String? {
        if signerID.isEmpty { return "signer id is empty" }
        if signerID.utf8.count > maximumSignerIDLength {
            return "signer id is longer than \(maximumSignerIDLength) bytes"
        }
        if signerID.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) }) {
            return "signer id holds control or invisible characters"
        }
        return nil
    }
}

/// Issues certificates and CRLs with a CA key: the building block of `ota keys init` and of
/// test fixtures. Certificates are X.509 v3 with SKI/AKI; SM2 CAs sign with SM3 and the default
/// distinguishing ID.
public struct CertificateIssuer: Sendable {
    public let key: PrivateKey
    /// The CA certificate; nil while issuing the CA's own self-signed certificate.
    public let certificate: Certificate?

    public init(key: PrivateKey, certificate: Certificate?) {
        self.key = key
        self.certificate = certificate
    }

    /// Self-signs a root CA certificate for `key`.
    public static func selfSignedRoot(key: PrivateKey, profile: CertificateProfile) throws(OTAError) -> Certificate {
        try CertificateIssuer(key: key, certificate: nil).issue(profile, publicKey: try key.publicKey)
    }

    /// Issues a certificate for `publicKey`.
    public func issue(_ profile: CertificateProfile, publicKey: PublicKey) throws(OTAError) -> Certificate {
        OpenSSLErrorQueue.clear()
        guard let x509 = X509_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "X509_new failed", function: "X509_new")
        }
        let certificate = Certificate(taking: x509)  // owns x509 from here on
        try ensure(X509_set_version(x509, 2), "X509_set_version")

        let serial = try SecureRandom.bytes(16)
        try Self.withASN1Integer(positive: serial) { integer throws(OTAError) in
            try ensure(X509_set_serialNumber(x509, integer), "X509_set_serialNumber")
        }

        let subject = try Self.name(profile)
        defer { X509_NAME_free(subject) }
        try ensure(X509_set_subject_name(x509, subject), "X509_set_subject_name")
        if let issuerCertificate = self.certificate {
            try ensure(
                X509_set_issuer_name(x509, X509_get_subject_name(issuerCertificate.pointer)), "X509_set_issuer_name")
        } else {
            try ensure(X509_set_issuer_name(x509, subject), "X509_set_issuer_name")
        }
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(profile.notBefore.timeIntervalSince1970)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x509), time_t(profile.notAfter.timeIntervalSince1970)) != nil
        else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot set validity", function: "ASN1_TIME_set")
        }
        try ensure(X509_set_pubkey(x509, publicKey.key.pointer), "X509_set_pubkey")

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, self.certificate?.pointer ?? x509, x509, nil, nil, 0)
        for (nid, value) in Self.extensions(for: profile.usage, role: profile.role) {
            guard let extensionValue = X509V3_EXT_nconf_nid(nil, &context, nid, value) else {
                throw OpenSSLErrorQueue.error(
                    .cryptoInternal, "cannot build extension \(value)", function: "X509V3_EXT_nconf_nid")
            }
            defer { X509_EXTENSION_free(extensionValue) }
            try ensure(X509_add_ext(x509, extensionValue, -1), "X509_add_ext")
        }
        if let signerID = profile.signerID {
            if let problem = CertificateProfile.problem(signerID: signerID) {
                throw OTAError(.certificateName, "\(profile.commonName): \(problem)")
            }
            try Self.addExtension(
                x509, oid: ProjectOID.signerID, value: DER.encode(tag: DER.utf8String, Array(signerID.utf8)))
        }

        try sign { context throws(OTAError) in
            guard X509_sign_ctx(x509, context) > 0 else {
                throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot sign the certificate", function: "X509_sign_ctx")
            }
        }
        // Re-parse so the object is exactly what a verifier will see (and the SM2 ID is set).
        return try Certificate(der: certificate.der, source: "issued certificate")
    }

    /// Issues a CRL listing `revoked` (certificates of this CA), valid from `thisUpdate` to `nextUpdate`.
    public func revocationList(revoking revoked: [Certificate], number: Int, thisUpdate: Date, nextUpdate: Date)
        throws(OTAError) -> CertificateRevocationList
    {
        try revocationList(
            entries: revoked.map { Revocation(serial: $0.serialBytes, date: thisUpdate, reason: nil) },
            number: UInt64(number), thisUpdate: thisUpdate, nextUpdate: nextUpdate)
    }

    func sign(_ body: (OpaquePointer) throws(OTAError) -> Void) throws(OTAError) {
        let algorithm = try SignatureAlgorithm.forKey(key.type)
        guard let context = EVP_MD_CTX_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "EVP_MD_CTX_new failed", function: "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        try DigestSignContext.configure(
            context, key: key.key, algorithm: algorithm, signing: true, sm2ID: defaultSM2DistinguishingID)
        try body(context)
    }

    static func name(_ profile: CertificateProfile) throws(OTAError) -> OpaquePointer {
        guard let name = X509_NAME_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "X509_NAME_new failed", function: "X509_NAME_new")
        }
        var entries = [("O", profile.organization)]
        if let unit = profile.organizationalUnit { entries.append(("OU", unit)) }
        entries.append(("CN", profile.commonName))
        for (field, value) in entries {
            let bytes = Array(value.utf8)
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1 else {
                X509_NAME_free(name)
                throw OpenSSLErrorQueue.error(
                    .certificateName, "cannot encode \(field)=\(value)", function: "X509_NAME_add_entry_by_txt")
            }
        }
        return name
    }

    private static func extensions(for usage: CertificateProfile.Usage, role: TrustRole?) -> [(Int32, String)] {
        var list: [(Int32, String)] = []
        var purposes: [String] = []
        switch usage {
        case .certificateAuthority(let pathLength):
            list.append((NID_basic_constraints, "critical,CA:TRUE" + (pathLength.map { ",pathlen:\($0)" } ?? "")))
            list.append((NID_key_usage, "critical,keyCertSign,cRLSign"))
        case .signer(let codeSigning):
            list.append((NID_basic_constraints, "critical,CA:FALSE"))
            list.append((NID_key_usage, "critical,digitalSignature"))
            if codeSigning { purposes.append("codeSigning") }
        case .device:
            list.append((NID_basic_constraints, "critical,CA:FALSE"))
            list.append((NID_key_usage, "critical,digitalSignature,keyAgreement"))
            purposes.append("clientAuth")  // the vehicle's TLS client certificate (mutual TLS)
        case .keyAgreement:
            list.append((NID_basic_constraints, "critical,CA:FALSE"))
            list.append((NID_key_usage, "critical,keyAgreement"))
        }
        if let role { purposes.append(ProjectOID.role(role)) }
        if !purposes.isEmpty { list.append((NID_ext_key_usage, purposes.joined(separator: ","))) }
        list.append((NID_subject_key_identifier, "hash"))
        list.append((NID_authority_key_identifier, "keyid:always"))
        return list
    }

    /// Adds a non-critical extension whose extnValue is `value` (DER).
    private static func addExtension(_ x509: OpaquePointer, oid: String, value: [UInt8]) throws(OTAError) {
        let object = try ASN1Object.object(oid)
        defer { ASN1_OBJECT_free(object) }
        guard let octets = ASN1_OCTET_STRING_new() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "ASN1_OCTET_STRING_new failed", function: "ASN1_OCTET_STRING_new")
        }
        defer { ASN1_OCTET_STRING_free(octets) }
        try ensure(ASN1_OCTET_STRING_set(octets, value, Int32(value.count)), "ASN1_OCTET_STRING_set")
        guard let item = X509_EXTENSION_create_by_OBJ(nil, object, 0, octets) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot build extension \(oid)", function: "X509_EXTENSION_create_by_OBJ")
        }
        defer { X509_EXTENSION_free(item) }
        try ensure(X509_add_ext(x509, item, -1), "X509_add_ext")
    }

    /// An ASN1_INTEGER from big-endian magnitude bytes; unless `exact`, the top bit is cleared
    /// (random serials, kept positive and at most 16 bytes).
    static func withASN1Integer(
        positive bytes: [UInt8], exact: Bool = false,
        _ body: (UnsafeMutablePointer<ASN1_INTEGER>) throws(OTAError) -> Void
    ) throws(OTAError) {
        var magnitude = bytes
        if !exact, magnitude.first.map({ $0 & 0x80 != 0 }) == true { magnitude[0] &= 0x7f }
        guard let number = BN_bin2bn(magnitude, Int32(magnitude.count), nil) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "BN_bin2bn failed", function: "BN_bin2bn")
        }
        defer { BN_free(number) }
        guard let integer = BN_to_ASN1_INTEGER(number, nil) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "BN_to_ASN1_INTEGER failed", function: "BN_to_ASN1_INTEGER")
        }
        defer { ASN1_INTEGER_free(integer) }
        try body(integer)
    }

    static func withTime(_ date: Date, _ body: (UnsafePointer<ASN1_TIME>) throws(OTAError) -> Void) throws(OTAError) {
        guard let time = ASN1_TIME_set(nil, time_t(date.timeIntervalSince1970)) else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "ASN1_TIME_set failed", function: "ASN1_TIME_set")
        }
        defer { ASN1_TIME_free(time) }
        try body(time)
    }
}
