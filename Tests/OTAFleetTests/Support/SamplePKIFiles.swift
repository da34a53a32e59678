import Foundation
import OTACompliance
import OTACore

/// The committed sample PKI (keys-sample/SUITE): device, compliance and release keys.
struct SamplePKIFiles {
    let directory: String

    init(_ suite: String = "intl") { directory = PostgresServer.repository + "/keys-sample/" + suite }

    var trustPath: String { directory + "/trust" }
    func trust() throws -> TrustStore { try TrustStore(directory: trustPath) }
    func deviceKey() throws -> PrivateKey { try PrivateKey(contentsOf: directory + "/vehicle/device.key") }
    var deviceCertificatePath: String { directory + "/vehicle/device.crt" }
    func compliance() throws -> ExportSigner {
        try ExportSigner(
            key: PrivateKey(contentsOf: directory + "/compliance/compliance-signer.key"),
            certificate: Certificate.load(contentsOf: directory + "/compliance/compliance-signer.crt")[0])
    }
}
