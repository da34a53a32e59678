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
    /// The VIN a vehicle certificate names: the last word of its common name
    /// (`CN=Vehicle Device LSVX1A2B3C4D56789`); nil for other roles.
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
        guard escapedPEM.utf8.count <= 64 << 10, let pem = escapedPEM.removingPercentEncoding else {
            throw OTAError(.fleetClientCertificate, "the forwarded client certificate is not URL-escaped PEM")
        }
        let certificates = try Certificate.load(Array(pem.utf8), source: "client certificate")
        guard certificates.count == 1, let leaf = certificates.first else {
            throw OTAError(
                .fleetClientCertificate,
                "the forwarded client certificate holds \(certificates.count) certificates; one leaf expected")
        }
        var reasons: [String] = []
        for role in roles {
            switch try ChainVerifier(store: trust, time: time).verify(leaf, role: role) {
            case .trusted:
                var vin: String? = nil
                if role == .vehicle { vin = try vehicleIdentification(leaf.subject) }
                return ClientIdentity(
                    role: role, subject: leaf.subject, vin: vin, certificatePEM: leaf.pem, publicKey: try leaf.publicKey
                )
            case .untrusted(let error):
                reasons.append("\(role.rawValue): \(error.message)")
            }
        }
        throw OTAError(
            .fleetClientCertificate, "the client certificate \(leaf.subject) chains to no vehicle or compliance anchor",
            cause: reasons.joined(separator: "; "))
    }

    /// The VIN in a vehicle certificate's subject: the last word of its one common name.
    static func vehicleIdentification(_ subject: String) throws(OTAError) -> String {
        let names = subject.split(separator: ",").filter { $0.hasPrefix("CN=") }
        guard names.count == 1, !subject.contains("\\"), let name = names.first?.dropFirst(3),
            let word = name.split(separator: " ").last
        else {
            throw OTAError(
                .fleetClientCertificate, "the vehicle certificate \(subject) does not name one VIN in its common name")
        }
        let vin = String(word)
        guard !vin.isEmpty, vin.utf8.count <= 64, vin.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw OTAError(
                .fleetClientCertificate,
                "the vehicle certificate's VIN \(vin) is not 1 to 64 printable ASCII characters")
        }
        return vin
    }
}
