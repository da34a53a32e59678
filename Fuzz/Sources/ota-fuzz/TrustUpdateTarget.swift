import Foundation
import OTACore

/// Trust material received over the air, as `ota trust apply` and the vehicle read it:
/// `TrustUpdater.apply` on the sample trust store of each suite (a signed `TrustUpdate`, or
/// PEM/DER CRLs with their issuing CAs). The first input byte is a mode:
///
/// - bit 0x80 clear: the rest is the file as received;
/// - bit 0x80 set: the rest is a `TrustUpdate` payload, which the harness signs with the sample
///   root key of every role (`keys-sample/SUITE/ROLE/root-ca.key`), as the roots' holders
///   could, so mutated payloads reach the role, anchor, threshold and CRL rules.
///
/// Invariants: what applies once is not applied again — the same signed update on the store it
/// made changes nothing (a no-op since updates may arrive by repository and bundle; a different
/// update at that version is still refused), the same CRLs change nothing — and the new store's
/// `trust.json` reads back.
struct TrustUpdateTarget: FuzzTarget {
    static let name = "trust-update"
    static let summary =
        "TrustUpdater.apply (signed trust updates and CRL files) on the sample trust stores; never applied twice"

    let cases: [(suite: Suite, contents: TrustStoreContents, roots: [(key: PrivateKey, certificate: Certificate)])]

    init() throws(OTAError) {
        var cases:
            [(suite: Suite, contents: TrustStoreContents, roots: [(key: PrivateKey, certificate: Certificate)])] = []
        for suite in Suite.allCases {
            var roots: [(key: PrivateKey, certificate: Certificate)] = []
            for role in TrustRole.allCases {
                let folder = "\(FuzzFixtures.pki(suite))/\(role.rawValue)"
                guard FileSystem.exists("\(folder)/root-ca.key") else { continue }
                guard let certificate = try Certificate.load(contentsOf: "\(folder)/root-ca.crt").first else {
                    continue
                }
                roots.append((try PrivateKey(contentsOf: "\(folder)/root-ca.key"), certificate))
            }
            cases.append((suite, try TrustStoreContents(directory: "\(FuzzFixtures.pki(suite))/trust"), roots))
        }
        self.cases = cases
    }

    /// A signed update of `payload` by `roots` (each with its certificate alone).
    static func sign(_ payload: [UInt8], roots: [(key: PrivateKey, certificate: Certificate)]) throws(OTAError)
        -> [UInt8]
    {
        var signatures: [SignatureEnvelope.Signature] = []
        for root in roots {
            signatures.append(
                try SignatureEnvelope.sign(
                    body: payload, type: TrustUpdate.payloadType, key: root.key, certificate: root.certificate,
                    chain: []))
        }
        return try SignedTrustUpdate(payload: payload, signatures: signatures).encoded()
    }

    func run(_ input: [UInt8]) {
        guard let mode = input.first else { return }
        let body = Array(input.dropFirst())
        for test in cases {
            let file: [UInt8]
            if mode & 0x80 != 0 {
                guard let signed = try? Self.sign(body, roots: test.roots) else { continue }
                file = signed
            } else {
                file = body
            }
            let next: TrustStoreContents
            let change: TrustChange
            do throws(OTAError) {
                (next, change) = try TrustUpdater.apply(file, to: test.contents, at: FuzzFixtures.now)
            } catch {
                FuzzTargets.explain(error)
                continue
            }
            guard (try? next.metadata) != nil else {
                FuzzTargets.violated("trust-update: the store an update made has no readable trust.json")
            }
            do throws(OTAError) {
                let (_, again) = try TrustUpdater.apply(file, to: next, at: FuzzFixtures.now)
                if again.changesStore {
                    FuzzTargets.violated(
                        "trust-update: the same \(change.kind.rawValue) applied twice changed the store again")
                }
            } catch {
                if change.kind == .update, error.code != .trustUpdateVersion {
                    FuzzTargets.violated(
                        "trust-update: the same update applied again was refused with \(error.code.rawValue), not as a replay"
                    )
                }
            }
        }
    }
}
