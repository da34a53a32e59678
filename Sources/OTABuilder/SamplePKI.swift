public import Foundation
public import OTACore

/// The sample PKI of `ota keys init`: every role's CA hierarchy, signers, CRLs, vehicle keys,
/// and a ready-made vehicle trust store. Public keys for demos and tests only.
///
/// ```
/// release/     root-ca → signing-ca → signer-1, signer-2, revoked-signer (revoked in signing-ca.crl)
/// approval/    root-ca → approval-signer          (a separate root: release engineers cannot approve)
/// repository/  root-ca → repository-signer
/// vehicle/     root-ca → device (signs records, receives keys), fleet-recipient (receives keys);
///               tls-ca (P-256 in both suites) → device-tls (the vehicle's mutual-TLS identity)
/// compliance/  root-ca → compliance-signer        (signs compliance exports)
/// trust/<role>/anchors/*.crt, trust/<role>/crls/*.crl
/// ```
public enum SamplePKI {
    /// What was created, for the command's output.
    public struct Summary: Codable, Sendable {
        public struct Entry: Codable, Sendable {
            public let path: String
            public let subject: String
            public let keyType: String
            public let notAfter: Date
            public let fingerprint: String
        }
        public let suite: String
        public let directory: String
        public let certificates: [Entry]

        public var humanDescription: String {
            var lines = [
                "Sample PKI (\(suite)) written to \(directory): certificates and their PRIVATE KEYS, unencrypted (one passphrase-protected example),",
                "for demos and tests only. Never use them in production; keep real signing keys in an HSM.",
            ]
            for entry in certificates {
                lines.append("  \(entry.path)  \(entry.keyType)  \(entry.subject)")
            }
            lines.append("Vehicle trust store: \(directory)/trust")
            return lines.joined(separator: "\n")
        }
    }

    /// The VIN the sample device certificates of `suite` name: the sample vehicle's
    /// (`samples/vehicle-x1.yaml`, `samples/vehicle-x1-gm.yaml`).
    public static func vin(_ suite: Suite) -> String { suite == .gm ? "LSVX1A2B3C4D56790" : "LSVX1A2B3C4D56789" }

    /// The passphrase of the sample's one encrypted key (`release/signer-1.encrypted.key`).
    public static let samplePassphrase = "ota-sample-passphrase"

    /// Creates the PKI in `directory`, which must not exist; built in a temporary sibling and
    /// renamed into place so a failure leaves nothing behind.
    public static func create(suite: Suite, directory: String, now: Date = Date()) throws(OTAError) -> Summary {
        if FileSystem.exists(directory) {
            throw OTAError(.ioExists, "\(directory): already exists; choose a new directory")
        }
        let staging = directory + ".tmp-\(Hex.encode(try SecureRandom.bytes(4)))"
        try FileSystem.createDirectory(staging, mode: 0o700)
        do throws(OTAError) {
            let builder = Builder(suite: suite, root: staging, now: now)
            try builder.build()
            try SystemCall.rename(staging, to: directory, message: "\(directory): cannot move the new PKI into place")
            return Summary(
                suite: suite.rawValue, directory: directory,
                certificates: builder.entries.map {
                    Summary.Entry(
                        path: $0.path, subject: $0.subject, keyType: $0.keyType, notAfter: $0.notAfter,
                        fingerprint: $0.fingerprint)
                })
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    private final class Builder {
        let suite: Suite
        let root: String
        let now: Date
        var entries: [(path: String, subject: String, keyType: String, notAfter: Date, fingerprint: String)] = []

        init(suite: Suite, root: String, now: Date) {
            self.suite = suite
            self.root = root
            self.now = now
        }

        var organization: String { suite == .gm ? "ota sample OEM (GM suite)" : "ota sample OEM" }
        var signingKeyType: KeyType { suite == .gm ? .sm2 : .p256 }

        func years(_ count: Int) -> Date { now.addingTimeInterval(Double(count) * 365.25 * 86400) }
        var start: Date { now.addingTimeInterval(-86400) }

        func build() throws(OTAError) {
            try write("README.md", Data(readme.utf8), mode: 0o644)

            // release: root → signing CA → signers
            let releaseRoot = try makeRoot("release", name: "Release Root CA")
            let signingCA = try makeCA(
                under: releaseRoot, role: "release", file: "signing-ca", name: "Release Signing CA")
            let signer1 = try makeLeaf(
                under: signingCA, role: "release", file: "signer-1", name: "Release Signer 1", type: signingKeyType,
                usage: .signer(codeSigning: true), signerID: "release-engineer-1")
            _ = try makeLeaf(
                under: signingCA, role: "release", file: "signer-2", name: "Release Signer 2",
                type: suite == .gm ? .sm2 : .ed25519,
                usage: .signer(codeSigning: true), signerID: "release-engineer-2")
            let revoked = try makeLeaf(
                under: signingCA, role: "release", file: "revoked-signer", name: "Release Signer (revoked)",
                type: signingKeyType,
                usage: .signer(codeSigning: true), signerID: "release-engineer-3")
            try write("release/chain.pem", Data(signingCA.certificate.pem.utf8), mode: 0o644)
            try write(
                "release/signer-1.encrypted.key",
                Data(try signer1.key.pem(passphrase: Array(SamplePKI.samplePassphrase.utf8)).utf8), mode: 0o600)
            try write("release/signer-1.passphrase", Data((SamplePKI.samplePassphrase + "\n").utf8), mode: 0o600)
            try writeCRL(releaseRoot, revoking: [], role: "release", file: "root-ca")
            try writeCRL(signingCA, revoking: [revoked.certificate], role: "release", file: "signing-ca")

            // approval, repository, compliance: root → one signer
            for (role, name, signerFile) in [
                ("approval", "Approval Authority", "approval-signer"),
                ("repository", "Repository", "repository-signer"),
                ("compliance", "Compliance", "compliance-signer"),
            ] {
                let rootCA = try makeRoot(role, name: "\(name) Root CA")
                _ = try makeLeaf(
                    under: rootCA, role: role, file: signerFile, name: "\(name) Signer", type: signingKeyType,
                    usage: .signer(codeSigning: false),
                    signerID: "\(role)-signer-1")
                try writeCRL(rootCA, revoking: [], role: role, file: "root-ca")
            }

            // vehicle: root → device key, fleet recipient key. The device certificates name the
            // sample vehicle's VIN (samples/vehicle-x1*.yaml) in the signer-id extension.
            let vin = SamplePKI.vin(suite)
            let vehicleRoot = try makeRoot("vehicle", name: "Vehicle Root CA")
            _ = try makeLeaf(
                under: vehicleRoot, role: "vehicle", file: "device", name: "Vehicle Device \(vin)",
                type: signingKeyType, usage: .device, signerID: vin)
            _ = try makeLeaf(
                under: vehicleRoot, role: "vehicle", file: "fleet-recipient", name: "Fleet Recipient (model X1)",
                type: suite == .gm ? .sm2 : .x25519,
                usage: .keyAgreement)
            try writeCRL(vehicleRoot, revoking: [], role: "vehicle", file: "root-ca")

            // The vehicle's mutual-TLS identity, under a P-256 root of its own in both suites: OpenSSL's
            // TLS has no SM2 keys (neither TLCP nor RFC 8998), and a TLS terminator (nginx, a CDN) checks
            // SM2 certificate signatures without the GM/T 0009 distinguishing ID, so it cannot check an SM2
            // chain. Its anchor sits beside the vehicle root in trust/vehicle.
            let tlsRoot = try makeRoot("vehicle", file: "tls-ca", name: "Vehicle TLS Root CA", type: .p256)
            _ = try makeLeaf(
                under: tlsRoot, role: "vehicle", file: "device-tls", name: "Vehicle Device \(vin) TLS",
                type: .p256, usage: .device, signerID: vin)
            try writeCRL(tlsRoot, revoking: [], role: "vehicle", file: "tls-ca")
        }

        struct Issued {
            let key: PrivateKey
            let certificate: Certificate
        }

        func makeRoot(_ role: String, file: String = "root-ca", name: String, type: KeyType? = nil) throws(OTAError)
            -> Issued
        {
            let key = try PrivateKey.generate(type ?? signingKeyType)
            let certificate = try CertificateIssuer.selfSignedRoot(
                key: key,
                profile: profile(name, role: role, usage: .certificateAuthority(pathLength: 1), until: years(30)))
            try store(Issued(key: key, certificate: certificate), role: role, file: file)
            try write("trust/\(role)/anchors/\(file).crt", Data(certificate.pem.utf8), mode: 0o644)
            return Issued(key: key, certificate: certificate)
        }

        func makeCA(under parent: Issued, role: String, file: String, name: String) throws(OTAError) -> Issued {
            let key = try PrivateKey.generate(signingKeyType)
            let certificate = try CertificateIssuer(key: parent.key, certificate: parent.certificate)
                .issue(
                    profile(name, role: role, usage: .certificateAuthority(pathLength: 0), until: years(20)),
                    publicKey: try key.publicKey)
            let issued = Issued(key: key, certificate: certificate)
            try store(issued, role: role, file: file)
            return issued
        }

        /// A leaf marked for `role` (its extended key usage), with an optional signer id.
        func makeLeaf(
            under parent: Issued, role: String, file: String, name: String, type: KeyType,
            usage: CertificateProfile.Usage,
            signerID: String? = nil
        ) throws(OTAError) -> Issued {
            let key = try PrivateKey.generate(type)
            var leafProfile = profile(name, role: role, usage: usage, until: years(10))
            leafProfile.role = TrustRole(rawValue: role)
            leafProfile.signerID = signerID
            let certificate = try CertificateIssuer(key: parent.key, certificate: parent.certificate).issue(
                leafProfile, publicKey: try key.publicKey)
            let issued = Issued(key: key, certificate: certificate)
            try store(issued, role: role, file: file)
            return issued
        }

        func profile(_ name: String, role: String, usage: CertificateProfile.Usage, until: Date) -> CertificateProfile {
            CertificateProfile(
                commonName: name, organization: organization, organizationalUnit: role, usage: usage, notBefore: start,
                notAfter: until)
        }

        func store(_ issued: Issued, role: String, file: String) throws(OTAError) {
            try write("\(role)/\(file).key", Data(try issued.key.pem().utf8), mode: 0o600)
            try write("\(role)/\(file).crt", Data(issued.certificate.pem.utf8), mode: 0o644)
            entries.append(
                (
                    path: "\(role)/\(file).crt", subject: issued.certificate.subject, keyType: issued.key.type.rawValue,
                    notAfter: issued.certificate.notAfter, fingerprint: issued.certificate.fingerprint
                ))
        }

        func writeCRL(_ ca: Issued, revoking: [Certificate], role: String, file: String) throws(OTAError) {
            let crl = try CertificateIssuer(key: ca.key, certificate: ca.certificate)
                .revocationList(revoking: revoking, number: 1, thisUpdate: start, nextUpdate: years(10))
            try write("\(role)/\(file).crl", Data(crl.pem.utf8), mode: 0o644)
            try write("trust/\(role)/crls/\(file).crl", Data(crl.pem.utf8), mode: 0o644)
        }

        func write(_ relative: String, _ data: Data, mode: UInt32) throws(OTAError) {
            let path = "\(root)/\(relative)"
            try FileSystem.createDirectory((path as NSString).deletingLastPathComponent, mode: 0o755)
            try AtomicFileWriter.write(data, to: path, mode: mode)
        }

        var readme: String {
            """
            These keys are PUBLIC and for demos and tests only: never use them to sign anything a vehicle will install.

            # Sample PKI (suite: \(suite.rawValue))

            Made by `ota keys init --suite \(suite.rawValue) --out DIR` on \(ISO8601DateFormatter().string(from: now)).
            Every private key here is unencrypted (mode 0600) except `release/signer-1.encrypted.key`, whose
            passphrase is in `release/signer-1.passphrase` (to show the passphrase-from-file flow).

            | role | hierarchy | use |
            |---|---|---|
            | release | root-ca → signing-ca → signer-1, signer-2, revoked-signer | sign bundles (codeSigning EKU); `chain.pem` is the intermediate to pass with `--chain` |
            | approval | root-ca → approval-signer | approve automated-driving changes (a separate root) |
            | repository | root-ca → repository-signer | sign the repository index |
            | vehicle | root-ca → device, fleet-recipient; tls-ca → device-tls | device: record checkpoints and key wrap; fleet-recipient: key wrap; device-tls: the vehicle's mutual-TLS identity (P-256 under a P-256 root in both suites: OpenSSL's TLS has no SM2) |
            | compliance | root-ca → compliance-signer | sign compliance exports |

            `revoked-signer` is listed in `release/signing-ca.crl`; every other CRL is empty. CRLs are valid for
            10 years, leaf certificates for 10 years, CAs for 20 and roots for 30.

            Every leaf carries its role's marker in its extended key usage (`2.25.277585782059759735957022079731708763311.1.N`,
            N = 1 release, 2 approval, 3 repository, 4 compliance, 5 vehicle) and, except fleet-recipient, a signer id
            (extension `...2.1`): release-engineer-1, -2, -3, approval-signer-1, repository-signer-1, compliance-signer-1,
            and the device's VIN.

            `trust/` is a vehicle trust store: `trust/<role>/anchors/` holds the pinned root, `trust/<role>/crls/`
            the CRLs of that role's CAs. Use it with `--trust DIR/trust`.
            """ + "\n"
        }
    }
}
