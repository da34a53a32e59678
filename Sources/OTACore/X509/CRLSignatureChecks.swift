import COpenSSL

/// What the verify callback of a chain verification needs: the CRLs given to OpenSSL, the
/// certificates that may have issued them, and whether a stale CRL is tolerated. Reached through
/// the verification context's application data.
final class CRLSignatureChecks {
    let crls: [CertificateRevocationList]
    let issuers: [Certificate]
    let allowStale: Bool

    init(crls: [CertificateRevocationList], issuers: [Certificate], allowStale: Bool) {
        self.crls = crls
        self.issuers = issuers
        self.allowStale = allowStale
    }

    /// Whether the CRL OpenSSL is checking was signed by the key of the issuer it checks it for.
    /// OpenSSL forgets the current CRL while it checks a stale one's time (`check_crl_time`
    /// clears it before the signature check); then every given CRL of that issuer's name must be
    /// signed by its key.
    func currentCRLIsSigned(in context: OpaquePointer) -> Bool {
        guard let issuerPointer = X509_STORE_CTX_get0_current_issuer(context),
            let issuer = issuers.first(where: { X509_cmp($0.pointer, issuerPointer) == 0 })
        else { return false }
        if let crlPointer = X509_STORE_CTX_get0_current_crl(context) {
            return crls.first { $0.pointer == crlPointer }?.isSigned(by: issuer) ?? false
        }
        let named = crls.filter {
            X509_NAME_cmp(X509_CRL_get_issuer($0.pointer), X509_get_subject_name(issuer.pointer)) == 0
        }
        return !named.isEmpty && named.allSatisfy { $0.isSigned(by: issuer) }
    }
}

/// The verify callback of a chain verification: a stale CRL is tolerated when the policy says
/// so, and a CRL signature OpenSSL could not check (SM2) is accepted only when our own check of
/// it under the current issuer's key passes. Every other error stands.
let crlSignatureCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { ok, context in
    guard ok == 0, let context, let data = X509_STORE_CTX_get_ex_data(context, 0) else { return ok }
    let checks = Unmanaged<CRLSignatureChecks>.fromOpaque(data).takeUnretainedValue()
    switch X509_STORE_CTX_get_error(context) {
    case X509_V_ERR_CRL_HAS_EXPIRED: return checks.allowStale ? 1 : 0
    case X509_V_ERR_CRL_SIGNATURE_FAILURE: return checks.currentCRLIsSigned(in: context) ? 1 : 0
    default: return 0
    }
}

/// The verify callback of path building alone: every error tolerated, so OpenSSL goes as far
/// towards an anchor as it can.
let tolerateEverything: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, _ in 1 }
