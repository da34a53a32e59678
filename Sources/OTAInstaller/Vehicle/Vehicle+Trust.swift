import Foundation
public import OTACore
import OTARecorder

/// The vehicle's trust store over its lifetime: its contents are bound to the protected store
/// (version and digest in `trust.seal`), changed only by `applyTrust` (a signed trust update or
/// newer CRLs), journalled so that a power loss at any instant leaves the old store or the new
/// one, and recorded in the log.
extension Vehicle {
    static let trustSealName = "trust.seal"

    /// What the protected store records about the trust store.
    struct TrustSeal: Codable, Equatable {
        struct Pending: Codable, Equatable {
            var version: UInt64
            var digest: String
        }
        var version: UInt64
        var digest: String
        /// Set while a change is being swapped in.
        var pending: Pending?
    }

    /// The trust store's version (0 until a signed trust update raised it).
    public var trustVersion: UInt64 {
        get throws(OTAError) { try loadTrustSeal().version }
    }

    /// Seals the trust store as it is now (vehicle init).
    static func sealTrust(layout: VehicleLayout, store: any ProtectedStore) throws(OTAError) {
        let contents = try TrustStoreContents(directory: layout.trust)
        let seal = TrustSeal(version: try contents.metadata.version, digest: try contents.digest().hex, pending: nil)
        try store.store(trustSealName, try CanonicalJSON.encode(seal))
    }

    func loadTrustSeal() throws(OTAError) -> TrustSeal {
        guard let bytes = try protectedStore.load(Self.trustSealName) else {
            throw OTAError(
                .trustTampered,
                "\(layout.trust): no trust seal in \(protectedStore.description); the vehicle was not made by ota vehicle init"
            )
        }
        return try CanonicalJSON.decode(TrustSeal.self, from: bytes, as: .trustTampered)
    }

    /// On open: finishes or undoes a trust change a power loss interrupted, then checks that the
    /// trust store is exactly the sealed one (`trust.tampered`).
    func recoverTrust() throws(OTAError) {
        var seal = try loadTrustSeal()
        guard let expected = try? Digest(algorithm: .sha256, hex: seal.digest) else {
            throw OTAError(.trustTampered, "\(layout.trust): the trust seal is malformed")
        }
        let pending = seal.pending.flatMap { try? Digest(algorithm: .sha256, hex: $0.digest) }
        let present = try TrustStoreContents.recover(layout.trust, expected: expected, pending: pending)
        if let pendingSeal = seal.pending, let present, present.hex == pendingSeal.digest {
            seal = TrustSeal(version: pendingSeal.version, digest: pendingSeal.digest, pending: nil)
            try protectedStore.store(Self.trustSealName, try CanonicalJSON.encode(seal))
            try record(
                .trustRecover, .success,
                facts: RecordFacts(trust: TrustFacts(toVersion: seal.version, recovery: .finished)))
        } else if seal.pending != nil, present?.hex == seal.digest {
            seal.pending = nil
            try protectedStore.store(Self.trustSealName, try CanonicalJSON.encode(seal))
            try record(
                .trustRecover, .success,
                facts: RecordFacts(trust: TrustFacts(toVersion: seal.version, recovery: .undone)))
        }
        guard let present, present.hex == seal.digest else {
            let error = OTAError(
                .trustTampered,
                "\(layout.trust): the trust store was changed outside a trust update (its digest is not the sealed one)"
            )
            try record(.trustCheck, .rejected, error: error)
            throw error
        }
    }

    /// Applies trust material received over the air: a signed trust update (new or retired
    /// anchors, CRLs, a higher version, signed by a threshold of each changed role's current
    /// root keys) or CRLs on their own (PEM or DER, each newer than the one held and signed by a
    /// CA of the store; issuing CA certificates may come in the same PEM file). The change is
    /// staged beside the store, recorded as pending in the protected store, swapped in, then
    /// committed; every step survives a power loss. Recorded as `trust.update` (pass or fail).
    ///
    /// This is the entry point for the agent's refresh (CRLs or updates fetched from the
    /// repository), `ota vehicle trust`; an install commits a bundle's trust update the same way
    /// (`evaluate`).
    @discardableResult
    public func applyTrust(_ bytes: [UInt8], source: String) throws(OTAError) -> TrustChange {
        do throws(OTAError) {
            let change = try applyTrustUnrecorded(bytes)
            try record(.trustUpdate, .success, facts: RecordFacts(trust: Self.trustFacts(change, source: source)))
            return change
        } catch {
            try record(
                .trustUpdate, Self.outcome(of: error), error: error,
                facts: RecordFacts(trust: TrustFacts(source: source)))
            throw error
        }
    }

    /// What the log says of an applied trust change.
    static func trustFacts(_ change: TrustChange, source: String) -> TrustFacts {
        TrustFacts(
            source: source, kind: change.kind.rawValue, fromVersion: change.fromVersion, toVersion: change.toVersion,
            anchorsAdded: change.anchorsAdded, anchorsRetired: change.anchorsRetired, crlsApplied: change.crlsApplied,
            crlsNotNewer: change.crlsSkipped, changed: change.changesStore)
    }

    func applyTrustUnrecorded(_ bytes: [UInt8]) throws(OTAError) -> TrustChange {
        let seal = try loadTrustSeal()
        let contents = try TrustStoreContents(directory: layout.trust)
        guard try contents.digest().hex == seal.digest else {
            throw OTAError(.trustTampered, "\(layout.trust): the trust store was changed outside a trust update")
        }
        let (next, change) = try TrustUpdater.apply(bytes, to: contents, at: time.now())
        guard change.changesStore else { return change }
        let nextDigest = try next.digest().hex
        try next.stage(beside: layout.trust)
        fault(.step("trust.staged"))
        try protectedStore.store(
            Self.trustSealName,
            try CanonicalJSON.encode(
                TrustSeal(
                    version: seal.version, digest: seal.digest,
                    pending: .init(version: change.toVersion, digest: nextDigest))))
        fault(.step("trust.pending"))
        try TrustStoreContents.swap(layout.trust) { step in fault(.step(step)) }
        try protectedStore.store(
            Self.trustSealName,
            try CanonicalJSON.encode(TrustSeal(version: change.toVersion, digest: nextDigest, pending: nil)))
        fault(.step("trust.committed"))
        return change
    }

    /// CRLs of the trust store past their next update at the vehicle's trusted time: what the
    /// agent should refresh before an install would be refused with `crl.stale`.
    public func staleRevocationLists() throws(OTAError) -> [String] {
        let store = try TrustStore(directory: layout.trust)
        let now = time.now()
        var stale: [String] = []
        for role in TrustRole.allCases {
            for crl in try store.revocationLists(for: role) where (crl.nextUpdate ?? .distantFuture) <= now {
                stale.append(
                    "\(role.rawValue): \(crl.issuer) (next update \(Timestamp.format(crl.nextUpdate ?? crl.thisUpdate)))"
                )
            }
        }
        return stale
    }
}
