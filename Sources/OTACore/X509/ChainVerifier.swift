internal import COpenSSL
public import Foundation
public import OTABase

/// What to do with a CRL past its nextUpdate.
public enum StaleCRLPolicy: String, Sendable, Codable {
    /// Refuse (`crl.stale`): the default; a vehicle must fetch fresh CRLs.
    case reject
    /// Accept, still honouring the revocations it lists.
    case allow
}

/// The outcome of a chain check: a trusted path, or the reason it is not trusted.
public enum ChainVerdict: Sendable {
    case trusted(chain: [Certificate])
    case untrusted(OTAError)

    public var isTrusted: Bool {
        if case .trusted = self { return true }
        return false
    }
}

/// Verifies certificate chains with OpenSSL's verifier (`X509_verify_cert`): path building,
/// signatures, validity at an injected time, CRLs for every CA in the path, plus the role's
/// key-usage rules.
public struct ChainVerifier: Sendable {
    public let store: TrustStore
    public let time: any TimeSource
    public let staleCRLPolicy: StaleCRLPolicy

    public init(store: TrustStore, time: any TimeSource = SystemTime(), staleCRLPolicy: StaleCRLPolicy = .reject) {
        self.store = store
        self.time = time
        self.staleCRLPolicy = staleCRLPolicy
    }

    /// Checks that `leaf`, with the untrusted `intermediates`, chains to an anchor of `role`.
    ///
    /// Throws only when the trust store itself cannot be read (missing or empty trust is a
    /// rejection, thrown as `trust.*`); every verdict about the certificates is returned.
    public func verify(_ leaf: Certificate, intermediates: [Certificate] = [], role: TrustRole) throws(OTAError)
        -> ChainVerdict
    {
        let anchors = try store.anchors(for: role)
        let crls = try store.revocationLists(for: role)
        return try Self.verify(
            leaf, intermediates: intermediates, anchors: anchors, crls: crls, role: role, at: time.now(),
            staleCRLPolicy: staleCRLPolicy)
    }

    /// The verification itself, with explicit anchors and CRLs.
    public static func verify(
        _ leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], crls: [CertificateRevocationList],
        role: TrustRole, at instant: Date, staleCRLPolicy: StaleCRLPolicy = .reject
    ) throws(OTAError) -> ChainVerdict {
        let verdict = try verifyPath(
            leaf, intermediates: intermediates, anchors: anchors, crls: crls, role: role, at: instant,
            staleCRLPolicy: staleCRLPolicy)
        if case .trusted = verdict, let usageProblem = Self.checkLeafUsage(leaf, role: role) {
            return .untrusted(usageProblem)
        }
        return verdict
    }

    /// Checks that a CA certificate (an intermediate that issued a CRL, say) chains to an anchor
    /// of `role`, with the same path, CRL and time rules; no leaf rules.
    public static func verifyIssuer(
        _ ca: Certificate, intermediates: [Certificate] = [], anchors: [Certificate], crls: [CertificateRevocationList],
        role: TrustRole, at instant: Date, staleCRLPolicy: StaleCRLPolicy = .reject
    ) throws(OTAError) -> ChainVerdict {
        let verdict = try verifyPath(
            ca, intermediates: intermediates, anchors: anchors, crls: crls, role: role, at: instant,
            staleCRLPolicy: staleCRLPolicy)
        if case .trusted = verdict, !ca.isCA {
            return .untrusted(OTAError(.certificateInvalidCa, "\(ca.subject): not a CA certificate"))
        }
        return verdict
    }

    /// OpenSSL's path validation: anchors, intermediates, signatures, validity, CRLs.
    ///
    /// OpenSSL finds a certificate's CRL by its issuer's name, and ota's CRLs carry no authority
    /// key identifier, so two CAs of one name (a re-keyed CA, a root rotated under the same name)
    /// would share their CRLs. A first pass therefore builds the path without revocation checks;
    /// the second is given, for each certificate of that path, only the CRLs its own issuer's key
    /// signed, and its callback accepts a CRL signature only after checking it against that issuer
    /// itself (OpenSSL 3.0 cannot check an SM2 CRL signature: `X509_CRL_verify` passes no
    /// distinguishing ID).
    static func verifyPath(
        _ leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], crls: [CertificateRevocationList],
        role: TrustRole, at instant: Date, staleCRLPolicy: StaleCRLPolicy
    ) throws(OTAError) -> ChainVerdict {
        guard !anchors.isEmpty else { throw OTAError(.trustEmpty, "no trust anchors for the \(role.rawValue) role") }
        let candidates = anchors + intermediates
        let path = try buildPath(leaf, intermediates: intermediates, anchors: anchors, at: instant)
        var pathCRLs: [CertificateRevocationList] = []
        for index in path.indices {
            let issuer = path[min(index + 1, path.count - 1)]
            for crl in crls where crl.isSigned(by: issuer) && !pathCRLs.contains(where: { $0 === crl }) {
                pathCRLs.append(crl)
            }
        }
        let checks = CRLSignatureChecks(
            crls: pathCRLs, issuers: candidates, allowStale: staleCRLPolicy == .allow)
        let verified = try runVerification(
            leaf, intermediates: intermediates, anchors: anchors, crls: pathCRLs, at: instant, checks: checks)
        guard verified.rc == 1 else {
            let context = verified.context
            defer { X509_STORE_CTX_free(context) }
            let code = X509_STORE_CTX_get_error(context)
            let depth = X509_STORE_CTX_get_error_depth(context)
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            let crl = X509_STORE_CTX_get0_current_crl(context).flatMap { pointer in
                pathCRLs.first { $0.pointer == pointer }
            }
            OpenSSLErrorQueue.clear()
            return .untrusted(Self.error(for: code, depth: depth, reason: reason, leaf: leaf, role: role, crl: crl))
        }
        defer { X509_STORE_CTX_free(verified.context) }
        return .trusted(chain: chain(of: verified.context, known: [leaf] + candidates))
    }

    /// The path OpenSSL builds from the leaf to an anchor, every error tolerated and no revocation
    /// checked: what the CRLs are then chosen for. As far as it gets when there is no path.
    static func buildPath(_ leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], at instant: Date)
        throws(OTAError) -> [Certificate]
    {
        let built = try runVerification(
            leaf, intermediates: intermediates, anchors: anchors, crls: nil, at: instant, checks: nil)
        defer { X509_STORE_CTX_free(built.context) }
        OpenSSLErrorQueue.clear()
        return chain(of: built.context, known: [leaf] + intermediates + anchors)
    }

    /// One `X509_verify_cert`; the caller frees the returned context. `crls` nil: no revocation
    /// checks and every error tolerated (path building only).
    private static func runVerification(
        _ leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], crls: [CertificateRevocationList]?,
        at instant: Date, checks: CRLSignatureChecks?
    ) throws(OTAError) -> (rc: Int32, context: OpaquePointer) {
        OpenSSLErrorQueue.clear()
        guard let x509Store = X509_STORE_new() else {
            throw OpenSSLErrorQueue.error(.cryptoInternal, "cannot allocate an X509_STORE", function: "X509_STORE_new")
        }
        defer { X509_STORE_free(x509Store) }
        for anchor in anchors { _ = X509_STORE_add_cert(x509Store, anchor.pointer) }
        for crl in crls ?? [] { _ = X509_STORE_add_crl(x509Store, crl.pointer) }
        OpenSSLErrorQueue.clear()  // duplicate anchors/CRLs are harmless
        let revocation = crls == nil ? 0 : X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL
        _ = X509_STORE_set_flags(x509Store, UInt(revocation | X509_V_FLAG_X509_STRICT))

        guard let untrusted = COpenSSL_sk_X509_new_null() else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate a certificate stack", function: "sk_X509_new_null")
        }
        defer { COpenSSL_sk_X509_pop_free(untrusted) }
        for certificate in intermediates {
            _ = X509_up_ref(certificate.pointer)
            _ = COpenSSL_sk_X509_push(untrusted, certificate.pointer)
        }
        guard let context = X509_STORE_CTX_new_ex(nil, nil) else {
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "cannot allocate an X509_STORE_CTX", function: "X509_STORE_CTX_new_ex")
        }
        guard X509_STORE_CTX_init(context, x509Store, leaf.pointer, untrusted) == 1 else {
            X509_STORE_CTX_free(context)
            throw OpenSSLErrorQueue.error(
                .cryptoInternal, "X509_STORE_CTX_init failed", function: "X509_STORE_CTX_init")
        }
        X509_STORE_CTX_set_time(context, 0, time_t(instant.timeIntervalSince1970))
        if let checks {
            _ = X509_STORE_CTX_set_ex_data(context, 0, Unmanaged.passUnretained(checks).toOpaque())
            X509_STORE_CTX_set_verify_cb(context, crlSignatureCallback)
        } else {
            X509_STORE_CTX_set_verify_cb(context, tolerateEverything)
        }
        let rc = withExtendedLifetime(checks) { X509_verify_cert(context) }
        return (rc, context)
    }

    /// The verified chain of `context`, as our own objects where they are ours: never a second
    /// owner of an object other verifications share.
    private static func chain(of context: OpaquePointer, known: [Certificate]) -> [Certificate] {
        var chain: [Certificate] = []
        guard let verified = X509_STORE_CTX_get0_chain(context) else { return chain }
        for index in 0..<COpenSSL_sk_X509_num(verified) {
            guard let pointer = COpenSSL_sk_X509_value(verified, index) else { continue }
            if let certificate = known.first(where: { $0.pointer == pointer }) {
                chain.append(certificate)
            } else if X509_up_ref(pointer) == 1 {
                chain.append(Certificate(taking: pointer))
            }
        }
        return chain
    }

    /// Role rules OpenSSL 3.0 has no purpose for: a signing leaf, the role's marker (and no
    /// other role's), a well-formed signer id, codeSigning for releases.
    static func checkLeafUsage(_ leaf: Certificate, role: TrustRole) -> OTAError? {
        if leaf.isCA {
            return OTAError(.certificateUsage, "\(leaf.subject): a CA certificate cannot sign as \(role.rawValue)")
        }
        let keyUsage = X509_get_key_usage(leaf.pointer)
        if keyUsage != UInt32.max && (keyUsage & UInt32(KU_DIGITAL_SIGNATURE)) == 0 {
            return OTAError(.certificateUsage, "\(leaf.subject): keyUsage lacks digitalSignature")
        }
        if let problem = checkRoleMarker(leaf, role: role) { return problem }
        // The signer id says who signed (the two-person rule compares it): one UTF8String or none.
        do { _ = try leaf.signerID } catch { return error }
        if role.requiresCodeSigning && !leaf.allowsCodeSigning {
            return OTAError(
                .certificateUsage,
                "\(leaf.subject): extendedKeyUsage lacks codeSigning, required for the \(role.rawValue) role")
        }
        return nil
    }

    /// The role is bound in the leaf as well as by the anchors: its extended key usage must name
    /// the role's marker (`ProjectOID.role`) and no other role's, so a certificate of one role is
    /// refused for another even where several roles share a root (`certificate.role`).
    static func checkRoleMarker(_ leaf: Certificate, role: TrustRole) -> OTAError? {
        let marked = Set(leaf.extendedKeyUsages.compactMap(ProjectOID.role(marked:)))
        let others = marked.subtracting([role]).map(\.rawValue).sorted()
        if !others.isEmpty {
            return OTAError(
                .certificateRole,
                "\(leaf.subject): marked for the \(others.joined(separator: ", ")) role\(others.count > 1 ? "s" : ""), not only \(role.rawValue) (one certificate, one role)"
            )
        }
        guard marked.contains(role) else {
            return OTAError(
                .certificateRole,
                "\(leaf.subject): extendedKeyUsage lacks the \(role.rawValue) role marker \(ProjectOID.role(role)) (docs/SECURITY.md, \"Roles bound in certificates\")"
            )
        }
        return nil
    }

    /// Maps OpenSSL's verify error to a stable code.
    static func error(
        for code: Int32, depth: Int32, reason: String, leaf: Certificate, role: TrustRole,
        crl: CertificateRevocationList? = nil
    ) -> OTAError {
        let where_ = depth == 0 ? leaf.subject : "chain depth \(depth) of \(leaf.subject)"
        let stable: OTAError.Code
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: stable = .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID: stable = .certificateNotYetValid
        case X509_V_ERR_CERT_REVOKED: stable = .certificateRevoked
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            stable = .certificateUntrusted
        case X509_V_ERR_CRL_HAS_EXPIRED:
            let which =
                crl.map { "the CRL of \($0.issuer) (next update \(Timestamp.format($0.nextUpdate ?? $0.thisUpdate)))" }
                ?? "a CRL of the chain"
            return OTAError(
                .crlStale,
                "\(where_): \(which) is stale, so revocation in the \(role.rawValue) chain cannot be checked. Refresh the CRLs: "
                    + "the vehicle agent fetches them from the repository; by hand, ota vehicle trust VEHICLE FILE (CRLs or a signed trust update), "
                    + "or ota trust apply --trust DIR FILE for a trust store directory",
                cause: "X509_verify_cert error \(code)")
        case X509_V_ERR_CRL_NOT_YET_VALID: stable = .crlNotYetValid
        case X509_V_ERR_UNABLE_TO_GET_CRL: stable = .crlMissing
        case X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE: stable = .crlSignature
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
            stable = .certificateSignature
        case X509_V_ERR_INVALID_CA, X509_V_ERR_PATH_LENGTH_EXCEEDED, X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
            stable = .certificateInvalidCa
        default: stable = .certificateInvalid
        }
        return OTAError(
            stable, "\(where_): not trusted for the \(role.rawValue) role: \(reason)",
            cause: "X509_verify_cert error \(code)")
    }
}
