import Foundation
import OTAAgent
import OTABuilder
import OTACore
import OTAInstaller
import OTARecorder
import OTARepository
import OTATUF
import OTATransport
import Testing

/// Trust material through the repository: the agent refreshes CRLs and trust updates before it
/// installs, so a vehicle whose CRLs went stale recovers on its own; what the vehicle's trust
/// store does not accept is refused and recorded, never applied.
@Suite(.serialized) struct AgentTrustRefreshTests {
    final class Setup {
        let fixture: InstallerFixture
        let repository: Repository
        let server: RepositoryServer
        let vehicle: String
        let signingCA: CertificateIssuer
        let signingCACRL: CertificateRevocationList

        /// A vehicle whose release signing-CA CRL is past its next update (number 5), and a
        /// repository with one bundle for it.
        init() throws {
            fixture = try InstallerFixture(imageSize: 40_000)
            let keys = fixture.keys
            signingCA = CertificateIssuer(
                key: try PrivateKey(contentsOf: keys + "/release/signing-ca.key"),
                certificate: try Certificate.load(contentsOf: keys + "/release/signing-ca.crt")[0])
            signingCACRL = try CertificateRevocationList.load(contentsOf: keys + "/release/signing-ca.crl")[0]
            let now = Date()
            let stale = try signingCA.revocationList(
                entries: try signingCACRL.entries, number: 5, thisUpdate: now.addingTimeInterval(-3 * 86400),
                nextUpdate: now.addingTimeInterval(-86400))
            let trust = fixture.directory + "/stale-trust"
            try FileManager.default.copyItem(atPath: keys + "/trust", toPath: trust)
            try stale.pem.write(toFile: trust + "/release/crls/signing-ca.crl", atomically: true, encoding: .utf8)
            var config = fixture.config()
            config.requireRepository = true
            vehicle = fixture.directory + "/vehicle-stale"
            try Vehicle.create(
                directory: vehicle, config: config, baseDirectory: fixture.images, trust: trust,
                decryptionKey: keys + "/vehicle/device.key")

            repository = Repository(directory: fixture.directory + "/repo")
            try repository.initialize(suite: .intl)
            let images = (0..<2).map { InstallerFixture.ImageSpec(group: $0, compression: "xz") }
            let bundle = try fixture.bundle(try fixture.manifest(images: images), chunkSize: 4096)
            _ = try repository.add(bundles: [bundle], trust: keys + "/trust", names: ["x1/update-1.ota"])
            try repository.publish()
            server = try RepositoryServer(
                directory: fixture.directory, repository: repository, clientCA: keys + "/vehicle/root-ca.crt")
        }

        func agent() throws -> Agent {
            let transport = TransportOptions(
                clientCertificate: fixture.keys + "/vehicle/device.crt",
                clientKey: fixture.keys + "/vehicle/device.key", pinnedCA: server.serverCA,
                retries: 3, backoff: 0.05, stallSeconds: 2)
            return try Agent(
                vehicle: try Vehicle(directory: vehicle),
                options: .init(
                    repository: server.https, transport: transport,
                    initialRoot: repository.metadataDirectory + "/1.root.json",
                    conditions: InstallerFixture.parked, consent: InstallerFixture.yes))
        }

        /// The signing CA's next CRL (number 6), fresh for 30 days.
        func freshCRL() throws -> CertificateRevocationList {
            try signingCA.revocationList(
                entries: try signingCACRL.entries, number: 6, thisUpdate: Date().addingTimeInterval(-3600),
                nextUpdate: Date().addingTimeInterval(30 * 86400))
        }

        func publishTrust(_ name: String, _ bytes: [UInt8], issuers: [Certificate] = []) throws {
            let path = fixture.directory + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            _ = try repository.addTrust([path], issuers: issuers)
            try repository.publish()
        }
    }

    func code(_ body: () throws -> Void) -> OTAError.Code? {
        do {
            try body()
            return nil
        } catch let error as OTAError {
            return error.code
        } catch {
            return nil
        }
    }

    @Test
    func
        `a stale CRL is refused with crl.stale until the repository offers the CA's next CRL, then the bundle installs`()
        throws
    {
        let setup = try Setup()
        let slots = try InstallerFixture.slotHashes(setup.vehicle)
        #expect(try Vehicle(directory: setup.vehicle).staleRevocationLists().count == 1)
        #expect(code { _ = try setup.agent().run() } == .crlStale)
        #expect(try InstallerFixture.slotHashes(setup.vehicle) == slots)

        // The signing CA is an intermediate: its certificate travels with its CRL.
        try setup.publishTrust(
            "signing-ca-6.crl", Array(try setup.freshCRL().pem.utf8), issuers: [setup.signingCA.certificate!])
        #expect(try setup.agent().run().state == .rebootRequired)
        #expect(try InstallerFixture.slotHashes(setup.vehicle) != slots)
        #expect(try Vehicle(directory: setup.vehicle).staleRevocationLists().isEmpty)
        let records = try InstallerFixture.records(setup.vehicle)
        let applied = try #require(records.last { $0.step == .trustUpdate })
        #expect(applied.outcome == .success && applied.trust?.changed == true)
        #expect(applied.trust?.source?.contains("trust/crls/") == true)
        // The refusal for the stale CRL did not blacklist the bundle.
        #expect(records.contains { $0.step == .agentInstall && $0.errorCode == "crl.stale" })
    }

    @Test func `a trust update through the repository is applied when the vehicle's roots signed it`() throws {
        let setup = try Setup()
        let root = try TrustUpdateIssuer.RootSigner(
            key: try PrivateKey(contentsOf: setup.fixture.keys + "/release/root-ca.key"),
            certificate: try Certificate.load(contentsOf: setup.fixture.keys + "/release/root-ca.crt")[0])
        let path = setup.fixture.directory + "/trust-update-1.json"
        _ = try TrustUpdateIssuer.issue(
            version: 1,
            roles: [.init(role: .release, crls: [try setup.freshCRL()], crlIssuers: [setup.signingCA.certificate!])],
            signers: [root],
            expires: Date().addingTimeInterval(86400), outputPath: path)
        _ = try setup.repository.addTrust([path])
        try setup.repository.publish()
        #expect(try setup.agent().run().state == .rebootRequired)
        #expect(try Vehicle(directory: setup.vehicle).trustVersion == 1)
        let applied = try #require(try InstallerFixture.records(setup.vehicle).last { $0.step == .trustUpdate })
        #expect(applied.outcome == .success && applied.trust?.toVersion == 1)
        #expect(applied.trust?.source == "repository trust/update-1.json")
    }

    @Test
    func
        `a device key made for the vehicle and certified from its request authenticates the agent, and the update installs`()
        throws
    {
        let setup = try AgentTests.Setup()
        let keys = setup.fixture.keys
        // On the vehicle: a new device key and its request (ota keys csr --new-key); the key stays.
        let deviceKey = try PrivateKey.generate(.p256)
        let request = try CertificateRequest.make(
            subject: .init(
                commonName: "Vehicle Device \(InstallerFixture.vin)", organization: "ota sample OEM",
                organizationalUnit: "vehicle"), key: deviceKey)
        // At the OEM's vehicle CA (ota keys issue --role vehicle): only the request travels.
        let vehicleCA = CertificateIssuer(
            key: try PrivateKey(contentsOf: keys + "/vehicle/root-ca.key"),
            certificate: try Certificate.load(contentsOf: keys + "/vehicle/root-ca.crt")[0])
        let received = try CertificateRequest(encoded: Array(request.pem.utf8), source: "device-2.csr")
        let certificate = try vehicleCA.issue(
            request: received, role: .vehicle, signerID: InstallerFixture.vin,
            notBefore: Date().addingTimeInterval(-60),
            notAfter: Date().addingTimeInterval(86400))
        #expect(certificate.extendedKeyUsages.contains(ProjectOID.role(.vehicle)))
        let keyPath = setup.fixture.directory + "/device-2.key",
            certificatePath = setup.fixture.directory + "/device-2.crt"
        try deviceKey.pem().write(toFile: keyPath, atomically: true, encoding: .utf8)
        try certificate.pem.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        // The cloud (nginx, mutual TLS against the vehicle root) accepts the new certificate.
        let outcome = try setup.agent(transport: setup.transport(cert: certificatePath, key: keyPath)).run()
        #expect(outcome.state == .rebootRequired)
        // A certificate the vehicle CA issued for another role's key usage is no TLS client: refused by the server.
        let signerKey = try PrivateKey.generate(.p256)
        let signer = try vehicleCA.issue(
            request: try CertificateRequest.make(
                subject: .init(commonName: "Not a device", organization: "ota sample OEM"), key: signerKey),
            role: .compliance, signerID: nil, notBefore: Date().addingTimeInterval(-60),
            notAfter: Date().addingTimeInterval(86400))
        try signerKey.pem().write(toFile: keyPath + ".signer", atomically: true, encoding: .utf8)
        try signer.pem.write(toFile: certificatePath + ".signer", atomically: true, encoding: .utf8)
        #expect(
            code {
                _ = try setup.agent(
                    transport: setup.transport(cert: certificatePath + ".signer", key: keyPath + ".signer")
                ).check()
            } != nil)
    }

    @Test
    func `after a device key rotation the vehicle's new certificate authenticates the agent and signs its records`()
        throws
    {
        let setup = try AgentTests.Setup()
        let keys = setup.fixture.keys
        let deviceKey = try PrivateKey.generate(.p256)
        let vehicleCA = CertificateIssuer(
            key: try PrivateKey(contentsOf: keys + "/vehicle/root-ca.key"),
            certificate: try Certificate.load(contentsOf: keys + "/vehicle/root-ca.crt")[0])
        let request = try CertificateRequest.make(
            subject: .init(commonName: "Vehicle Device \(InstallerFixture.vin)", organization: "ota sample OEM"),
            key: deviceKey)
        let certificate = try vehicleCA.issue(
            request: request, role: .vehicle, signerID: InstallerFixture.vin, notBefore: Date().addingTimeInterval(-60),
            notAfter: Date().addingTimeInterval(86400))
        let oldKey = try PrivateKey(contentsOf: setup.vehicle + "/keys/device.key").publicKey
        let rotation = try Vehicle(directory: setup.vehicle).rotateDeviceKey(
            to: deviceKey, certificate: certificate, reason: "renewal")
        // The vehicle's own key files (what `ota agent` uses by default) are now the new identity:
        // nginx (mutual TLS against the vehicle root) serves metadata and the bundle. The bundle
        // was encrypted to the old device certificate, so it can no longer be opened (docs/INSTALLER.md:
        // re-wrap bundles to the new certificate).
        let agent = try setup.agent(
            transport: setup.transport(
                cert: setup.vehicle + "/keys/device.crt", key: setup.vehicle + "/keys/device.key"))
        #expect(code { _ = try agent.run() } == .decryptNotARecipient)
        // The log, checked from its first key, continues under the new one and holds the download.
        var records: [UpgradeRecord] = []
        let report = try LogVerifier(directory: setup.vehicle + "/records", publicKey: oldKey).verify { verified in
            if case .record(let record) = verified.body { records.append(record) }
        }
        #expect(report.intact && report.keyRotations == 1 && report.keyID == rotation.newKey, "\(report.issues)")
        #expect(records.contains { $0.step == .agentDownload && $0.outcome == .success })
    }

    @Test func `trust material the vehicle does not accept is refused, recorded and not fetched again`() throws {
        let setup = try Setup()
        // A "CRL" for the signing CA's name, signed by another key: the repository lists it, the vehicle refuses it.
        let impostorKey = try PrivateKey.generate(.p256)
        let impostorCA = try CertificateIssuer.selfSignedRoot(
            key: impostorKey,
            profile: CertificateProfile(
                commonName: "Release Signing CA", organization: "ota sample OEM", organizationalUnit: "release",
                usage: .certificateAuthority(pathLength: 0),
                notBefore: Date().addingTimeInterval(-3600), notAfter: Date().addingTimeInterval(86400)))
        let forged = try CertificateIssuer(key: impostorKey, certificate: impostorCA)
            .revocationList(
                entries: [], number: 99, thisUpdate: Date().addingTimeInterval(-60),
                nextUpdate: Date().addingTimeInterval(86400))
        try setup.publishTrust("forged.crl", Array(forged.pem.utf8))
        // An update signed by the approval root for the release role: below threshold.
        let approvalRoot = try TrustUpdateIssuer.RootSigner(
            key: try PrivateKey(contentsOf: setup.fixture.keys + "/approval/root-ca.key"),
            certificate: try Certificate.load(contentsOf: setup.fixture.keys + "/approval/root-ca.crt")[0])
        let path = setup.fixture.directory + "/foreign-update.json"
        _ = try TrustUpdateIssuer.issue(
            version: 1,
            roles: [.init(role: .release, crls: [try setup.freshCRL()], crlIssuers: [setup.signingCA.certificate!])],
            signers: [approvalRoot],
            expires: Date().addingTimeInterval(86400), outputPath: path)
        _ = try setup.repository.addTrust([path])
        try setup.repository.publish()

        #expect(code { _ = try setup.agent().run() } == .crlStale)
        #expect(try Vehicle(directory: setup.vehicle).trustVersion == 0)
        let failed = try InstallerFixture.records(setup.vehicle).filter { $0.step == .trustUpdate }
        #expect(failed.count == 2)
        #expect(failed.allSatisfy { $0.outcome == .rejected })
        #expect(
            Set(failed.compactMap(\.errorCode)) == ["crl.signature", "trust.update-threshold"]
                || failed.contains { $0.errorCode == "trust.update-threshold" })
        // Seen once: the next run does not fetch or record them again.
        #expect(code { _ = try setup.agent().run() } == .crlStale)
        #expect(try InstallerFixture.records(setup.vehicle).filter { $0.step == .trustUpdate }.count == 2)
    }
}
