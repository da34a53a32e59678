internal import OTABase

/// The object identifiers `ota` defines, all under one project arc.
///
/// The arc is `2.25.277585782059759735957022079731708763311`: ITU-T X.667 lets anyone derive
/// an OID from a UUID under `2.25` without registration (this one is the UUID
/// `d0d513b4-fe8b-4c70-826d-646462709caf`). Below it:
///
/// ```
/// ARC.1.1  release     extended key usage: signs bundles (with codeSigning)
/// ARC.1.2  approval    extended key usage: approves automated-driving changes
/// ARC.1.3  repository  extended key usage: signs repository metadata
/// ARC.1.4  compliance  extended key usage: signs compliance exports
/// ARC.1.5  vehicle     extended key usage: a vehicle's device certificate
/// ARC.2.1  signer id   certificate extension, UTF8String: the person a CA certified
/// ```
///
/// `docs/SECURITY.md` ("Roles and signer identities") says how they are checked.
package enum ProjectOID {
    package static let arc = "2.25.277585782059759735957022079731708763311"

    /// The extended key usage that marks a leaf certificate for `role`.
    package static func role(_ role: TrustRole) -> String {
        switch role {
        case .release: "\(arc).1.1"
        case .approval: "\(arc).1.2"
        case .repository: "\(arc).1.3"
        case .compliance: "\(arc).1.4"
        case .vehicle: "\(arc).1.5"
        }
    }

    /// The role an extended key usage OID marks, if it is one of ours.
    package static func role(marked oid: String) -> TrustRole? {
        TrustRole.allCases.first { role($0) == oid }
    }

    /// The signer-id extension: a UTF8String naming the person (or service) a certificate is
    /// for, set by the issuing CA, so a person renewed under another name or key stays one signer.
    package static let signerID = "\(arc).2.1"
}
