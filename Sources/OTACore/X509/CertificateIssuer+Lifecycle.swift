internal import COpenSSL
public import Foundation
public import OTABase

/// Certificate issue, renewal and revocation around a CA (MIIT No.148): what `ota keys issue`,
/// `renew` and `revoke` do, with the profile checks a CA makes before it signs.
extension CertificateIssuer {
    /// Longest validity a leaf is issued for.
    public static let maximumLeafLifetime: TimeInterval = 10 * 366 * 86400

    /// The usage a leaf of `role` is issued with.
    public static func usage(for role: TrustRole) -> CertificateProfile.Usage {
        switch role {
        case .vehicle: .device
        case .release: .signer(codeSigning: true)
        case .approval, .repository, .compliance: .signer(codeSigning: false)
        }
    }

    /// Issues a leaf for `role` from a request, after the checks a CA owes its relying parties:
    /// the request is signed by its key (checked when it was parsed), this CA's key and
    /// certificate belong together and the certificate is a CA, the key fits the CA's suite and
    /// the role (a device key must agree keys: P-256 or SM2), the validity lies inside the CA's
    /// and is at most `maximumLeafLifetime`. The leaf carries the role marker and `signerID`.
    public func issue(request: CertificateRequest, role: TrustRole, signerID: String?, notBefore: Date, notAfter: Date)
        throws(OTAError) -> Certificate
    {
        if role == .vehicle { try Self.checkVehicleSignerID(signerID, what: "signer id") }
        let subject = try request.subject
        return try issueLeaf(
            subject: subject, publicKey: try request.publicKey, role: role, signerID: signerID, notBefore: notBefore,
            notAfter: notAfter)
    }

    /// A vehicle certificate names its vehicle in the signer-id extension: the VIN, 17 characters
    /// of A-Z (no I, O, Q) and 0-9, which the fleet service and the vehicle's log go by; `what`
    /// names where the value came from in the error (`usage.signer-id`).
    package static func checkVehicleSignerID(_ signerID: String?, what: String) throws(OTAError) {
        guard let signerID else {
            throw OTAError(
                .usageSignerId,
                "\(what): a vehicle certificate needs the vehicle's VIN as its signer id; none was given")
        }
        guard ManifestRules.isPlausibleVIN(signerID) else {
            throw OTAError(
                .usageSignerId,
                "\(what): '\(signerID)' is not a VIN (17 characters of A-Z without I, O, Q, and 0-9)")
        }
    }

    /// Renews `certificate` (issued by this CA): same subject, role and signer id, a new serial
    /// and validity; the key is `newKey` (re-keying, from a request) or the old one. A renewed
    /// signer stays one person for thresholds (same signer id). A certificate made before role
    /// markers existed gets `role` (and `signerID`) here; a marked one keeps its own (`role`, if
    /// given, must be it) and a signer id is never changed by a renewal.
    public func renew(
        _ certificate: Certificate, newKey: PublicKey?, role requestedRole: TrustRole? = nil,
        signerID requestedSignerID: String? = nil,
        notBefore: Date, notAfter: Date
    ) throws(OTAError) -> Certificate {
        try checkIssuer()
        guard let caCertificate = self.certificate, certificate.isIssued(by: caCertificate) else {
            throw OTAError(
                .certificateProfile,
                "\(certificate.subject): not issued by \(self.certificate?.subject ?? "this CA"); renew it with the CA that issued it"
            )
        }
        guard !certificate.isCA else {
            throw OTAError(
                .certificateProfile,
                "\(certificate.subject): a CA certificate is renewed by re-issuing it, not with keys renew")
        }
        let roles = certificate.extendedKeyUsages.compactMap(ProjectOID.role(marked:))
        let role: TrustRole
        switch (roles.count, requestedRole) {
        case (0, let given?): role = given
        case (0, nil):
            throw OTAError(
                .certificateProfile,
                "\(certificate.subject): has no role marker (made before markers existed); give the role it is for")
        case (1, let given) where given == nil || given == roles[0]: role = roles[0]
        case (1, let given?):
            throw OTAError(
                .certificateProfile,
                "\(certificate.subject): is a \(roles[0].rawValue) certificate; a renewal cannot make it \(given.rawValue)"
            )
        default:
            throw OTAError(
                .certificateProfile,
                "\(certificate.subject): carries \(roles.count) role markers; only a certificate with one role is renewed"
            )
        }
        var signerID = try certificate.signerID
        if let requestedSignerID {
            if let signerID, signerID != requestedSignerID {
                throw OTAError(
                    .certificateProfile,
                    "\(certificate.subject): signer id '\(signerID)' cannot change in a renewal (a new person is a new certificate)"
                )
            }
            signerID = requestedSignerID
        }
        if role == .vehicle { try Self.checkVehicleSignerID(signerID, what: "\(certificate.subject): signer id") }
        guard let name = X509_get_subject_name(certificate.pointer) else {
            throw OTAError(.certificateMalformed, "\(certificate.subject): no subject")
        }
        let subject = try CertificateRequest.subject(of: name, what: "\(certificate.subject)")
        let publicKey: PublicKey
        if let newKey { publicKey = newKey } else { publicKey = try certificate.publicKey }
        return try issueLeaf(
            subject: subject, publicKey: publicKey, role: role, signerID: signerID, notBefore: notBefore,
            notAfter: notAfter)
    }

    /// A new CRL of this CA: `previous`'s entries (if given; it must be this CA's) plus
    /// `revoking`, numbered one above `previous`.
    public func revoke(
        _ revoking: [Revocation], previous: CertificateRevocationList?, thisUpdate: Date, nextUpdate: Date
    ) throws(OTAError) -> CertificateRevocationList {
        try checkIssuer()
        guard let caCertificate = certificate else { throw OTAError(.crlIssuer, "a CRL needs the CA certificate") }
        var entries: [Revocation] = []
        var number: UInt64 = 1
        if let previous {
            guard previous.isSigned(by: caCertificate) else {
                throw OTAError(
                    .crlIssuer, "the previous CRL (\(previous.issuer)) is not signed by \(caCertificate.subject)")
            }
            entries = try previous.entries
            let magnitude = previous.number ?? []
            guard magnitude.count <= 7 else {
                throw OTAError(.crlMalformed, "the previous CRL's number is too large to continue")
            }
            number = magnitude.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } + 1
            guard thisUpdate >= previous.thisUpdate else {
                throw OTAError(
                    .usageTime,
                    "the new CRL would be older than the previous one (\(Timestamp.format(previous.thisUpdate)))")
            }
        }
        for entry in revoking where !entries.contains(where: { $0.serial == entry.serial }) { entries.append(entry) }
        return try revocationList(entries: entries, number: number, thisUpdate: thisUpdate, nextUpdate: nextUpdate)
    }

    /// Issues a CRL with `entries`, numbered `number`, valid from `thisUpdate` to `nextUpdate`.
    public func revocationList(entries: [Revocation], number: UInt64, thisUpdate: Date, nextUpdate: Date)
        throws(OTAError) -> CertificateRevocationList
    {
        guard let issuerCertificate = certificate else { throw OTAError(.crlIssuer, "a CRL needs the CA certificate") }
        guard nextUpdate > thisUpdate else {
            throw OTAError(.usageTime, "the CRL's next update must follow its this update")
        }
        OpenSSLErrorQueue.clear()
        guard let crl = X509_CRL_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "X509_CRL_new failed", function: "X509_CRL_new")
        }
        let list = CertificateRevocationList(taking: crl)
        try ensure(X509_CRL_set_version(crl, 1), "X509_CRL_set_version")
        try ensure(
            X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuerCertificate.pointer)), "X509_CRL_set_issuer_name")
        try Self.withTime(thisUpdate) { time throws(OTAError) in
            try ensure(X509_CRL_set1_lastUpdate(crl, time), "X509_CRL_set1_lastUpdate")
        }
        try Self.withTime(nextUpdate) { time throws(OTAError) in
            try ensure(X509_CRL_set1_nextUpdate(crl, time), "X509_CRL_set1_nextUpdate")
        }
        for revocation in entries {
            guard let entry = X509_REVOKED_new() else {
                throw OpenSSLErrorQueue.error(.cryptoInternal, "X509_REVOKED_new failed", function: "X509_REVOKED_new")
            }
            do throws(OTAError) {
                try Self.withASN1Integer(positive: revocation.serial.isEmpty ? [0] : revocation.serial, exact: true) {
                    serial throws(OTAError) in
                    try ensure(X509_REVOKED_set_serialNumber(entry, serial), "X509_REVOKED_set_serialNumber")
                }
                try Self.withTime(revocation.date) { time throws(OTAError) in
                    try ensure(
                        X509_REVOKED_set_revocationDate(entry, UnsafeMutablePointer(mutating: time)),
                        "X509_REVOKED_set_revocationDate")
                }
                if let reason = revocation.reason {
                    guard let value = ASN1_ENUMERATED_new() else {
                        throw OpenSSLErrorQueue.error(
                            .cryptoInternal, "ASN1_ENUMERATED_new failed", function: "ASN1_ENUMERATED_new")
                    }
                    defer { ASN1_ENUMERATED_free(value) }
                    try ensure(ASN1_ENUMERATED_set(value, reason.code), "ASN1_ENUMERATED_set")
                    try ensure(
                        X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, UnsafeMutableRawPointer(value), 0, 0),
                        "X509_REVOKED_add1_ext_i2d")
                }
            } catch {
                X509_REVOKED_free(entry)
                throw error
            }
            try ensure(X509_CRL_add0_revoked(crl, entry), "X509_CRL_add0_revoked")
        }
        try Self.withASN1Integer(positive: BigEndian.bytes(number)) { integer throws(OTAError) in
            try ensure(
                X509_CRL_add1_ext_i2d(crl, NID_crl_number, UnsafeMutableRawPointer(integer), 0, 0),
                "X509_CRL_add1_ext_i2d")
        }
        try ensure(X509_CRL_sort(crl), "X509_CRL_sort")
        try sign { context throws(OTAError) in
            guard X509_CRL_sign_ctx(crl, context) > 0 else {
                throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot sign the CRL", function: "X509_CRL_sign_ctx")
            }
        }
        return try CertificateRevocationList(der: list.der, source: "issued CRL")
    }

    // MARK: - checks

    /// This issuer is a CA whose key is the one in its certificate.
    public func checkIssuer() throws(OTAError) {
        guard let caCertificate = certificate else {
            throw OTAError(.certificateProfile, "issuing needs the CA certificate")
        }
        guard caCertificate.isCA else {
            throw OTAError(
                .certificateInvalidCa,
                "\(caCertificate.subject) is not a CA certificate (basicConstraints CA:TRUE, keyCertSign)")
        }
        guard try key.publicKey == caCertificate.publicKey else {
            throw OTAError(.keyCertificateMismatch, "the CA key does not belong to \(caCertificate.subject)")
        }
    }

    private func issueLeaf(
        subject: CertificateRequest.Subject, publicKey: PublicKey, role: TrustRole, signerID: String?, notBefore: Date,
        notAfter: Date
    ) throws(OTAError) -> Certificate {
        try checkIssuer()
        let caCertificate = certificate!
        let caIsSM2 = key.type == .sm2
        guard caIsSM2 == (publicKey.type == .sm2) else {
            throw OTAError(
                .keySuiteMismatch,
                "a \(publicKey.type.rawValue) key under a \(key.type.rawValue) CA: one suite per PKI (gm: SM2 only; intl: P-256 or Ed25519)"
            )
        }
        let usage = Self.usage(for: role)
        switch (usage, publicKey.type) {
        case (.device, .p256), (.device, .sm2): break
        case (.device, _):
            throw OTAError(
                .certificateProfile,
                "a vehicle device key must sign and agree keys: P-256 or SM2, not \(publicKey.type.rawValue)")
        case (_, .x25519):
            throw OTAError(
                .certificateProfile, "an X25519 key cannot sign; a \(role.rawValue) certificate is for a signing key")
        default: break
        }
        guard notAfter > notBefore else {
            throw OTAError(
                .certificateProfile,
                "the validity is empty (not after \(Timestamp.format(notAfter)) ≤ not before \(Timestamp.format(notBefore)))"
            )
        }
        guard notAfter.timeIntervalSince(notBefore) <= Self.maximumLeafLifetime else {
            throw OTAError(.certificateProfile, "a leaf is issued for at most 10 years")
        }
        guard notBefore >= caCertificate.notBefore, notAfter <= caCertificate.notAfter else {
            throw OTAError(
                .certificateProfile,
                "the validity \(Timestamp.format(notBefore))…\(Timestamp.format(notAfter)) is not inside the CA's (\(Timestamp.format(caCertificate.notBefore))…\(Timestamp.format(caCertificate.notAfter)))"
            )
        }
        let profile = CertificateProfile(
            commonName: subject.commonName, organization: subject.organization,
            organizationalUnit: subject.organizationalUnit, usage: usage,
            notBefore: notBefore, notAfter: notAfter, signerID: signerID, role: role)
        let leaf = try issue(profile, publicKey: publicKey)
        // Shown as "signed by" its subject, a leaf must not bear its CA's name.
        guard leaf.canonicalSubject != caCertificate.canonicalSubject else {
            throw OTAError(
                .certificateProfile, "the leaf would bear its CA's own name (\(caCertificate.subject)); name the person"
            )
        }
        return leaf
    }
}

extension Certificate {
    /// The serial number as big-endian magnitude bytes.
    public var serialBytes: [UInt8] {
        Hex.decode(serialNumber.count % 2 == 0 ? serialNumber : "0" + serialNumber) ?? []
    }

    /// Whether `issuer` names this certificate's issuer and its key verifies the signature
    /// (SM2 with the default distinguishing ID, ECDSA or Ed25519).
    public func isIssued(by issuerCertificate: Certificate) -> Bool {
        guard X509_NAME_cmp(X509_get_issuer_name(pointer), X509_get_subject_name(issuerCertificate.pointer)) == 0 else {
            return false
        }
        var signature: UnsafePointer<ASN1_BIT_STRING>? = nil
        var signatureAlgorithm: UnsafePointer<X509_ALGOR>? = nil
        X509_get0_signature(&signature, &signatureAlgorithm, pointer)
        return X509SignatureCheck.isValid(
            der: der, signatureNID: X509_get_signature_nid(pointer), signature: signature, by: issuerCertificate)
    }
}

extension CertificateRevocationList {
    /// The revoked entries: serial, date and reason (an entry with an unknown or hold reason is refused).
    public var entries: [Revocation] {
        get throws(OTAError) {
            guard let revoked = X509_CRL_get_REVOKED(pointer) else { return [] }
            var result: [Revocation] = []
            for index in 0..<COpenSSL_sk_X509_REVOKED_num(revoked) {
                guard let entry = COpenSSL_sk_X509_REVOKED_value(revoked, index),
                    let serial = X509_REVOKED_get0_serialNumber(entry),
                    let number = ASN1_INTEGER_to_BN(serial, nil)
                else { throw OTAError(.crlMalformed, "\(issuer): a revoked entry has no serial") }
                defer { BN_free(number) }
                var bytes = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
                _ = BN_bn2bin(number, &bytes)
                let date = ASN1Time.date(X509_REVOKED_get0_revocationDate(entry))
                var reason: Revocation.Reason?
                var critical: Int32 = 0
                if let raw = X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, &critical, nil) {
                    let value = raw.assumingMemoryBound(to: ASN1_ENUMERATED.self)
                    defer { ASN1_ENUMERATED_free(value) }
                    let code = ASN1_ENUMERATED_get(value)
                    guard let known = Revocation.Reason(code: Int(code)) else {
                        throw OTAError(.crlMalformed, "\(issuer): revocation reason \(code) is not one ota keeps")
                    }
                    reason = known
                } else {
                    OpenSSLErrorQueue.clear()
                }
                result.append(Revocation(serial: bytes, date: date, reason: reason))
            }
            return result
        }
    }
}
