import Foundation
public import OTACore

/// Who is calling: the role their client certificate holds, its subject, and for a vehicle the
/// VIN the certificate names.
///
/// TLS ends in nginx in front of the service (docs/SECURITY.md, Fleet service): nginx checks the
/// client certificate against the vehicle and compliance CAs and forwards it, URL-escaped, in
/// `X-Client-Certificate`, with the proxy's secret in `X-Fleet-Proxy`. The service does not take
/// nginx's word for the certificate: it verifies the chain again against its own trust store,
/// per role (the role marker in the certificate decides which anchors can accept it), and it
/// refuses any request without the proxy's secret, so a caller that reaches the backend port
/// directly cannot claim a certificate it does not hold.
public struct ClientIdentity: Sendable, Equatable {
    public var role: TrustRole
    public var subject: String
    /// The VIN a vehicle certificate names in its signer-id extension; nil for other roles.
    public var vin: String?
    /// The certificate (PEM), kept with what the vehicle uploads.
    public var certificatePEM: String
    public var publicKey: PublicKey

    public static func == (lhs: ClientIdentity, rhs: ClientIdentity) -> Bool {
        lhs.role == rhs.role && lhs.subject == rhs.subject && lhs.vin == rhs.vin
            && lhs.certificatePEM == rhs.certificatePEM
    }

    /// The roles the service serves.
    public static let roles: [TrustRole] = [.vehicle, .compliance]

    /// Verifies a forwarded, URL-escaped PEM certificate against `trust`, trying each role.
    public static func verify(escapedPEM: String?, trust: TrustStore, time: any TimeSource) throws(OTAError)
        -> ClientIdentity
    {
        guard let escapedPEM, !escapedPEM.isEmpty else {
            throw OTAError(
                .fleetClientCertificate,
                "no client certificate: the fleet service is reached through its TLS front with a vehicle or compliance certificate"
            )
        }
        let leaf = try single(escapedPEM: escapedPEM, what: "forwarded client certificate")
        var reasons: [String] = []
        var failures: [TrustRole: OTAError] = [:]
        for role in roles {
            switch try ChainVerifier(store: trust, time: time).verify(leaf, role: role) {
            case .trusted:
                var vin: String? = nil
                if role == .vehicle { vin = try vehicleIdentification(leaf) }
                return ClientIdentity(
                    role: role, subject: leaf.subject, vin: vin, certificatePEM: leaf.pem, publicKey: try leaf.publicKey
                )
            case .untrusted(let error):
                reasons.append("\(role.rawValue): \(error.message)")
                failures[role] = error
            }
        }
        // A certificate marked for one of the service's roles is judged by that role's chain: its
        // reason (revoked, expired, ...) is the answer, not "no anchor".
        let marked = leaf.extendedKeyUsages.compactMap(ProjectOID.role(marked:)).filter { roles.contains($0) }
        if marked.count == 1, let error = failures[marked[0]] {
            throw OTAError(
                .fleetClientCertificate,
                "the client certificate \(leaf.subject) is not trusted for the \(marked[0].rawValue) role: \(error.message)",
                cause: error.code.rawValue)
        }
        throw OTAError(
            .fleetClientCertificate, "the client certificate \(leaf.subject) chains to no vehicle or compliance anchor",
            cause: reasons.joined(separator: "; "))
    }

    /// The one certificate of a URL-escaped PEM header value (`what` names it in errors, `code`
    /// is theirs).
    static func single(escapedPEM: String, what: String, code: OTAError.Code = .fleetClientCertificate)
        throws(OTAError) -> Certificate
    {
        guard escapedPEM.utf8.count <= 64 << 10, let pem = escapedPEM.removingPercentEncoding else {
            throw OTAError(code, "the \(what) is not URL-escaped PEM")
        }
        let certificates = try Certificate.load(Array(pem.utf8), source: what)
        guard certificates.count == 1, let leaf = certificates.first else {
            throw OTAError(code, "the \(what) holds \(certificates.count) certificates; one leaf expected")
        }
        return leaf
    }

    /// The VIN a vehicle certificate names: its signer-id extension (`ProjectOID.signerID`, which
    /// `ota keys issue --signer-id VIN` writes), the one field every vehicle certificate (device,
    /// TLS) is read from. The subject's text is never parsed for it.
    static func vehicleIdentification(_ leaf: Certificate, code: OTAError.Code = .fleetClientCertificate)
        throws(OTAError) -> String
    {
        guard let vin = try leaf.signerID else {
            throw OTAError(
                code,
                "the vehicle certificate \(leaf.subject) names no VIN: a vehicle certificate carries it in the signer-id extension (\(ProjectOID.signerID); ota keys issue --signer-id VIN)"
            )
        }
        guard vin.utf8.count <= 64, vin.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw OTAError(code, "the vehicle certificate's VIN \(vin) is not 1 to 64 printable ASCII characters")
        }
        return vin
    }
}
