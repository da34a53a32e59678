package import Foundation
package import OTABase

/// What applying trust material changed (or would change) in a store.
public struct TrustChange: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case update, crls }
    public let kind: Kind
    public let fromVersion: UInt64
    public let toVersion: UInt64
    /// `role: subject (sha256 fingerprint)`.
    public let anchorsAdded: [String]
    public let anchorsRetired: [String]
    /// `role: issuer (number)`.
    public let crlsApplied: [String]
    /// CRLs that are not newer than the one held (nothing to do; not an error).
    public let crlsSkipped: [String]

    public var changesStore: Bool {
        toVersion != fromVersion || !anchorsAdded.isEmpty || !anchorsRetired.isEmpty || !crlsApplied.isEmpty
    }
}

/// Applies trust material received over the air to a store's contents, in memory: a signed
/// `TrustUpdate` (a threshold of each changed role's current root keys, every new anchor's key
/// too, a version above the store's, not expired), or CRLs on their own (each signed by a CA of
/// the store: an anchor, or a CA certificate given with it that chains to one; applied only when
/// newer than the CRL held for that issuer). The caller writes the result (`TrustStoreContents`
/// staging and swap; on a vehicle, journalled in its protected store).
package enum TrustUpdater {
    /// Most CRLs or certificates in one CRL file.
    package static let maximumItems = 64

    /// Most an update may raise the store's version by. The version is the whole store's, and
    /// one role's roots sign it: an update to the largest number would leave no version above it
    /// for any other role's next update.
    package static let maximumVersionStep: UInt64 = 1000

    /// Applies `bytes` (a signed trust update, or PEM/DER CRLs) to `contents` as of `now`.
    package static func apply(_ bytes: [UInt8], to contents: TrustStoreContents, at now: Date) throws(OTAError) -> (
        TrustStoreContents, TrustChange
    ) {
        if SignedTrustUpdate.looksLikeOne(bytes) { return try applyUpdate(bytes, to: contents, at: now) }
        return try applyCRLs(bytes, to: contents, at: now)
    }

    // MARK: Signed updates

    package static func applyUpdate(_ bytes: [UInt8], to contents: TrustStoreContents, at now: Date) throws(OTAError)
        -> (TrustStoreContents, TrustChange)
    {
        let signed = try SignedTrustUpdate.decode(bytes)
        let (update, payload) = try signed.contents()
        var metadata = try contents.metadata
        let payloadDigest = try Hasher.hash(.sha256, payload).hex
        if update.version == metadata.version, metadata.update == payloadDigest {
            // This very update is the store's current one (it came by another path first).
            return (
                contents,
                TrustChange(
                    kind: .update, fromVersion: metadata.version, toVersion: metadata.version, anchorsAdded: [],
                    anchorsRetired: [], crlsApplied: [], crlsSkipped: [])
            )
        }
        guard update.version > metadata.version else {
            throw OTAError(
                .trustUpdateVersion,
                "trust update version \(update.version) is not above the store's \(metadata.version): an old or replayed update is never applied"
            )
        }
        guard update.version - metadata.version <= maximumVersionStep else {
            throw OTAError(
                .trustUpdateVersion,
                "trust update version \(update.version) is more than \(maximumVersionStep) above the store's \(metadata.version): the version is the whole store's, and no other role could follow it"
            )
        }
        guard now < update.expires else {
            throw OTAError(
                .trustUpdateExpired,
                "trust update version \(update.version) expired at \(Timestamp.format(update.expires))")
        }
        guard !update.roles.isEmpty else {
            throw OTAError(.trustUpdateMalformed, "trust update version \(update.version) changes no role")
        }
        let signers = try validSigners(signed, payload: payload)

        var next = contents
        var added: [String] = [], retired: [String] = [], applied: [String] = [], skipped: [String] = []
        for (name, change) in update.roles.sorted(by: { $0.key < $1.key }) {
            guard let role = TrustRole(rawValue: name) else {
                throw OTAError(.trustUpdateMalformed, "trust update: unknown role '\(name)'")
            }
            let current = try anchors(of: role, in: contents)
            guard !current.isEmpty else {
                throw OTAError(.trustEmpty, "trust update: the \(name) role has no anchors to authorise a change")
            }
            let threshold = metadata.threshold(role)
            let signedBy = Set(current.filter { signers.contains($0.key) }.map(\.key))
            guard signedBy.count >= threshold else {
                throw OTAError(
                    .trustUpdateThreshold,
                    "trust update version \(update.version): \(signedBy.count) of the \(name) role's current root keys signed it; \(threshold) required"
                )
            }
            // Retire, then add: each new anchor a self-signed CA whose key signed the update.
            for fingerprint in change.retireAnchors {
                guard let anchor = current.first(where: { $0.fingerprint == fingerprint.lowercased() }) else {
                    throw OTAError(
                        .trustUpdateInvalid,
                        "trust update: the \(name) role has no anchor with fingerprint \(fingerprint) to retire")
                }
                // The anchor's file may hold other anchors: they stay.
                let others = try Certificate.load(next.files[anchor.path] ?? [], source: anchor.path).filter {
                    $0.fingerprint != anchor.fingerprint
                }
                next.files[anchor.path] = others.isEmpty ? nil : Array(others.map(\.pem).joined().utf8)
                retired.append("\(name): \(anchor.certificate.subject) (\(anchor.fingerprint))")
            }
            for (index, text) in change.addAnchors.enumerated() {
                guard let der = Data(base64Encoded: text).map(Array.init),
                    let certificate = try? Certificate(der: der, source: "new \(name) anchor \(index)")
                else {
                    throw OTAError(
                        .trustUpdateMalformed, "trust update: new \(name) anchor \(index) is not base64 DER X.509")
                }
                guard certificate.isCA, certificate.isSelfSigned else {
                    throw OTAError(
                        .trustUpdateInvalid,
                        "trust update: new \(name) anchor \(certificate.subject) is not a self-signed CA certificate")
                }
                // One suite per PKI: SM2 roots (gm) or P-256 / Ed25519 roots (intl), as the role's are.
                let key = try certificate.publicKey
                if let held = try current.first?.certificate.publicKey.type, (held == .sm2) != (key.type == .sm2) {
                    throw OTAError(
                        .trustUpdateInvalid,
                        "trust update: new \(name) anchor \(certificate.subject) has a \(key.type.rawValue) key; the role's roots are \(held.rawValue) (one suite per PKI)"
                    )
                }
                guard signers.contains(try key.der()) else {
                    throw OTAError(
                        .trustUpdateThreshold,
                        "trust update: the new \(name) anchor \(certificate.subject) did not sign the update (its key holder must agree)"
                    )
                }
                let fingerprint = certificate.fingerprint
                next.files["\(name)/anchors/\(fingerprint.prefix(16)).crt"] = Array(certificate.pem.utf8)
                added.append("\(name): \(certificate.subject) (\(fingerprint))")
            }
            let remaining = try anchors(of: role, in: next)
            guard !remaining.isEmpty else {
                throw OTAError(.trustUpdateInvalid, "trust update: the \(name) role would have no anchor left")
            }
            let newThreshold = change.threshold ?? threshold
            // Keys, not certificates: two anchors of one key are one signer.
            let remainingKeys = Set(remaining.map(\.key)).count
            guard newThreshold >= 1, newThreshold <= remainingKeys else {
                throw OTAError(
                    .trustUpdateInvalid,
                    "trust update: threshold \(newThreshold) for the \(name) role with \(remainingKeys) distinct anchor key(s)"
                )
            }
            metadata.thresholds[name] = newThreshold
            // CRLs signed by an anchor of the role, or by a CA carried with them that chains to one;
            // still only a newer issue replaces the one held.
            var crlIssuers: [Certificate] = []
            for (index, text) in (change.crlIssuers ?? []).enumerated() {
                guard let der = Data(base64Encoded: text).map(Array.init),
                    let certificate = try? Certificate(der: der, source: "\(name) CRL issuer \(index)")
                else {
                    throw OTAError(
                        .trustUpdateMalformed,
                        "trust update: \(name) CRL issuer \(index) is not a base64 DER certificate")
                }
                crlIssuers.append(certificate)
            }
            var crls: [(index: Int, crl: CertificateRevocationList)] = []
            for (index, text) in change.crls.enumerated() {
                guard let der = Data(base64Encoded: text).map(Array.init),
                    let crl = try? CertificateRevocationList(der: der, source: "\(name) CRL \(index)")
                else {
                    throw OTAError(.trustUpdateMalformed, "trust update: \(name) CRL \(index) is not base64 DER")
                }
                crls.append((index, crl))
            }
            // The anchors' own CRLs first: a carried CA is checked against them. Each signature
            // is checked once.
            let roleAnchors: [Certificate] = remaining.map(\.certificate)
            var ordered: [(index: Int, crl: CertificateRevocationList, anchor: Certificate?)] = []
            for (index, crl) in crls {
                ordered.append((index, crl, roleAnchors.first { crl.isSigned(by: $0) }))
            }
            let byAnchor = ordered.filter { $0.anchor != nil }
            let byOthers = ordered.filter { $0.anchor == nil }
            for (index, crl, anchor) in byAnchor + byOthers {
                let signer: Certificate? =
                    if let anchor { anchor } else {
                        try carriedSigner(
                            of: crl, role: role, issuers: crlIssuers, anchors: roleAnchors, contents: next, at: now)
                    }
                guard let signer else {
                    throw OTAError(
                        .crlSignature,
                        "trust update: \(name) CRL \(index) (of \(crl.issuer)) is signed by no \(name) anchor, nor by a CA certificate carried with it (crlIssuers; `ota trust update --crl-issuer`) that chains to one"
                    )
                }
                if try place(crl, signer: signer, role: role, in: &next) {
                    applied.append(describe(crl, role))
                } else {
                    skipped.append(describe(crl, role))
                }
            }
        }
        let fromVersion = metadata.version
        metadata.version = update.version
        metadata.update = payloadDigest
        next.files[TrustMetadata.fileName] = try CanonicalJSON.encode(metadata)
        return (
            next,
            TrustChange(
                kind: .update, fromVersion: fromVersion, toVersion: update.version, anchorsAdded: added,
                anchorsRetired: retired,
                crlsApplied: applied, crlsSkipped: skipped)
        )
    }

    /// The normalised public keys (SubjectPublicKeyInfo DER) whose signature over the update verifies.
    static func validSigners(_ signed: SignedTrustUpdate, payload: [UInt8]) throws(OTAError) -> Set<[UInt8]> {
        guard signed.signatures.count <= SignatureEnvelope.maximumSignatures else {
            throw OTAError(
                .trustUpdateMalformed, "trust update: more than \(SignatureEnvelope.maximumSignatures) signatures")
        }
        let message = SignatureEnvelope.pae(type: TrustUpdate.payloadType, body: payload)
        var keys = Set<[UInt8]>()
        for entry in signed.signatures {
            guard let algorithm = SignatureAlgorithm(rawValue: entry.algorithm),
                let signature = Data(base64Encoded: entry.signature),
                let first = entry.certificates.first, let der = Data(base64Encoded: first),
                let certificate = try? Certificate(der: Array(der)), let key = try? certificate.publicKey,
                key.type == algorithm.keyType,
                (try? key.check(Array(signature), for: message, algorithm: algorithm)) == .valid
            else { continue }
            keys.insert(try key.der())
        }
        return keys
    }

    struct Anchor {
        let path: String
        let certificate: Certificate
        let key: [UInt8]
        var fingerprint: String { certificate.fingerprint }
    }

    static func anchors(of role: TrustRole, in contents: TrustStoreContents) throws(OTAError) -> [Anchor] {
        var result: [Anchor] = []
        for path in contents.paths(role, "anchors") {
            for certificate in try Certificate.load(contents.files[path]!, source: path) {
                result.append(Anchor(path: path, certificate: certificate, key: try certificate.publicKey.der()))
            }
        }
        return result
    }

    // MARK: CRLs on their own

    package static func applyCRLs(_ bytes: [UInt8], to contents: TrustStoreContents, at now: Date) throws(OTAError) -> (
        TrustStoreContents, TrustChange
    ) {
        guard bytes.count <= TrustUpdate.maximumSize else {
            throw OTAError(.crlMalformed, "CRL file larger than \(TrustUpdate.maximumSize) bytes")
        }
        var crls: [CertificateRevocationList] = []
        var issuers: [Certificate] = []
        let text = String(decoding: bytes, as: UTF8.self)
        if text.contains("-----BEGIN") {
            let blocks = PEMBlock.split(text)
            guard blocks.count <= maximumItems else {
                throw OTAError(.crlMalformed, "more than \(maximumItems) items in one CRL file")
            }
            for block in blocks {
                switch block.label {
                case "X509 CRL": crls.append(try CertificateRevocationList(der: block.der, source: "CRL file"))
                case "CERTIFICATE": issuers.append(try Certificate(der: block.der, source: "CRL file"))
                default:
                    throw OTAError(
                        .crlMalformed,
                        "CRL file: unexpected PEM block '\(block.label)' (expected X509 CRL or CERTIFICATE)")
                }
            }
        } else {
            crls.append(try CertificateRevocationList(der: bytes, source: "CRL file"))
        }
        guard !crls.isEmpty else { throw OTAError(.crlMalformed, "the file holds no CRL") }
        let version = try contents.metadata.version
        var next = contents
        var applied: [String] = [], skipped: [String] = []
        for crl in crls {
            guard crl.thisUpdate <= now.addingTimeInterval(86400) else {
                throw OTAError(
                    .crlNotYetValid, "the CRL of \(crl.issuer) is dated \(Timestamp.format(crl.thisUpdate)), after now")
            }
            let roles = try rolesTrusting(crl, issuers: issuers, contents: contents, at: now)
            guard !roles.isEmpty else {
                throw OTAError(
                    .crlSignature,
                    "the CRL of \(crl.issuer) is signed by no CA this trust store trusts (give the issuing CA's certificate in the same file)"
                )
            }
            for (role, signer) in roles {
                if try place(crl, signer: signer, role: role, in: &next) {
                    applied.append(describe(crl, role))
                } else {
                    skipped.append(describe(crl, role))
                }
            }
        }
        return (
            next,
            TrustChange(
                kind: .crls, fromVersion: version, toVersion: version, anchorsAdded: [], anchorsRetired: [],
                crlsApplied: applied, crlsSkipped: skipped)
        )
    }

    /// The roles whose CAs signed `crl`, each with the CA that did: an anchor, or a given CA
    /// certificate that chains to the role's anchors (stale CRLs tolerated for that check: a
    /// refresh must not need fresh CRLs).
    static func rolesTrusting(
        _ crl: CertificateRevocationList, issuers: [Certificate], contents: TrustStoreContents, at now: Date
    ) throws(OTAError) -> [(TrustRole, Certificate)] {
        var roles: [(TrustRole, Certificate)] = []
        for role in TrustRole.allCases {
            if let signer = try trustedSigner(of: crl, role: role, issuers: issuers, contents: contents, at: now) {
                roles.append((role, signer))
            }
        }
        return roles
    }

    /// The CA of `role` that signed `crl`: an anchor, or one of `issuers` that chains to the
    /// role's anchors (stale CRLs tolerated for that check); nil when none did.
    static func trustedSigner(
        of crl: CertificateRevocationList, role: TrustRole, issuers: [Certificate], contents: TrustStoreContents,
        at now: Date
    ) throws(OTAError) -> Certificate? {
        let roleAnchors = try anchors(of: role, in: contents).map(\.certificate)
        if let anchor = roleAnchors.first(where: { crl.isSigned(by: $0) }) { return anchor }
        return try carriedSigner(
            of: crl, role: role, issuers: issuers, anchors: roleAnchors, contents: contents, at: now)
    }

    /// The one of `issuers` that signed `crl` and chains to `anchors`, the role's (stale CRLs
    /// tolerated for that check); nil when none did.
    static func carriedSigner(
        of crl: CertificateRevocationList, role: TrustRole, issuers: [Certificate], anchors roleAnchors: [Certificate],
        contents: TrustStoreContents, at now: Date
    ) throws(OTAError) -> Certificate? {
        let signing = issuers.filter { crl.isSigned(by: $0) }
        guard !roleAnchors.isEmpty, !signing.isEmpty else { return nil }
        var roleCRLs: [CertificateRevocationList] = []
        for path in contents.paths(role, "crls") {
            roleCRLs += try CertificateRevocationList.load(contents.files[path]!, source: path)
        }
        for issuer in signing {
            let others = issuers.filter { $0 !== issuer }
            if case .trusted = try ChainVerifier.verifyIssuer(
                issuer, intermediates: others, anchors: roleAnchors, crls: roleCRLs, role: role, at: now,
                staleCRLPolicy: .allow)
            {
                return issuer
            }
        }
        return nil
    }

    /// Puts `crl` in `role`'s CRLs, replacing the one of the same issuer when newer; false when
    /// the store already holds this issue or a newer one. The same issuer is the same name and
    /// the same key (`signer`, the CA whose signature on `crl` was checked): a CA re-keyed or a
    /// root rotated under its old name has CRLs of its own, which neither replace nor block the
    /// other key's.
    static func place(
        _ crl: CertificateRevocationList, signer: Certificate, role: TrustRole, in contents: inout TrustStoreContents
    ) throws(OTAError) -> Bool {
        var target: String? = nil
        var taken = Set<String>()
        for path in contents.paths(role, "crls") {
            for held in try CertificateRevocationList.load(contents.files[path]!, source: path)
            where held.hasSameIssuer(as: crl) {
                taken.insert(path)
                if !held.isSigned(by: signer) { continue }
                guard crl.isNewer(than: held) else { return false }
                target = path
            }
        }
        let issuerHash = try Hasher.hash(.sha256, crl.issuerDER).hex.prefix(16)
        var path = "\(role.rawValue)/crls/\(issuerHash).crl"
        if target == nil, taken.contains(path) {
            let keyHash = try Hasher.hash(.sha256, try signer.publicKey.der()).hex.prefix(16)
            path = "\(role.rawValue)/crls/\(issuerHash)-\(keyHash).crl"
        }
        contents.files[target ?? path] = Array(crl.pem.utf8)
        return true
    }

    static func describe(_ crl: CertificateRevocationList, _ role: TrustRole) -> String {
        "\(role.rawValue): \(crl.issuer) (\(crl.number.map { "number \(Hex.encode($0))" } ?? "this update \(Timestamp.format(crl.thisUpdate))"))"
    }
}
