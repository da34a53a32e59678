import Foundation
import OTACore
import OTATestSupport

/// A small certificate hierarchy built in memory for tests: root → CA → leaf, per suite.
struct TestPKI {
    struct Issued {
        let key: PrivateKey
        let certificate: Certificate
        var issuer: CertificateIssuer { CertificateIssuer(key: key, certificate: certificate) }
    }

    let suite: Suite
    let root: Issued
    let ca: Issued
    let now: Date

    var keyType: KeyType { suite == .gm ? .sm2 : .p256 }

    init(suite: Suite, now: Date = Date()) throws {
        self.suite = suite
        self.now = now
        let type: KeyType = suite == .gm ? .sm2 : .p256
        let rootKey = try PrivateKey.generate(type)
        let rootCertificate = try CertificateIssuer.selfSignedRoot(
            key: rootKey, profile: Self.profile("Test Root", .certificateAuthority(pathLength: 1), now: now))
        root = Issued(key: rootKey, certificate: rootCertificate)
        let caKey = try PrivateKey.generate(type)
        let caCertificate = try root.issuer.issue(
            Self.profile("Test CA", .certificateAuthority(pathLength: 0), now: now), publicKey: try caKey.publicKey)
        ca = Issued(key: caKey, certificate: caCertificate)
    }

    static func profile(
        _ name: String, _ usage: CertificateProfile.Usage, now: Date, notBefore: Date? = nil, notAfter: Date? = nil,
        signerID: String? = nil, role: TrustRole? = nil
    ) -> CertificateProfile {
        CertificateProfile(
            commonName: name, organization: "ota tests", usage: usage,
            notBefore: notBefore ?? now.addingTimeInterval(-3600),
            notAfter: notAfter ?? now.addingTimeInterval(86400 * 365),
            signerID: signerID, role: role)
    }

    /// A leaf under the CA, marked for `role` (nil: no role marker).
    func leaf(
        _ name: String = "Test Signer", type: KeyType? = nil,
        usage: CertificateProfile.Usage = .signer(codeSigning: true),
        notBefore: Date? = nil, notAfter: Date? = nil, signerID: String? = nil, role: TrustRole? = .release
    ) throws -> Issued {
        let key = try PrivateKey.generate(type ?? keyType)
        let certificate = try ca.issuer.issue(
            Self.profile(
                name, usage, now: now, notBefore: notBefore, notAfter: notAfter, signerID: signerID, role: role),
            publicKey: try key.publicKey)
        return Issued(key: key, certificate: certificate)
    }

    /// CRLs for root and CA, the CA's revoking `revoked`.
    func crls(revoking revoked: [Certificate] = [], nextUpdate: Date? = nil) throws -> [CertificateRevocationList] {
        let next = nextUpdate ?? now.addingTimeInterval(86400 * 30)
        return [
            try root.issuer.revocationList(
                revoking: [], number: 1, thisUpdate: now.addingTimeInterval(-3600), nextUpdate: next),
            try ca.issuer.revocationList(
                revoking: revoked, number: 1, thisUpdate: now.addingTimeInterval(-3600), nextUpdate: next),
        ]
    }

    /// Writes a trust store directory with this root as the anchor of `role`; the caller removes
    /// it (`TemporaryDirectory.remove`).
    func writeTrustStore(role: TrustRole, crls: [CertificateRevocationList]) throws -> String {
        let directory = try TemporaryDirectory.create("core")
        do {
            try FileManager.default.createDirectory(
                atPath: "\(directory)/\(role.rawValue)/anchors", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(
                atPath: "\(directory)/\(role.rawValue)/crls", withIntermediateDirectories: true)
            try root.certificate.pem.write(
                toFile: "\(directory)/\(role.rawValue)/anchors/root.crt", atomically: true, encoding: .utf8)
            for (index, crl) in crls.enumerated() {
                try crl.pem.write(
                    toFile: "\(directory)/\(role.rawValue)/crls/\(index).crl", atomically: true, encoding: .utf8)
            }
        } catch {
            TemporaryDirectory.remove(directory)
            throw error
        }
        return directory
    }
}
