import Dispatch
import Foundation
import OTACore
import OTATestSupport
import Testing

/// `Certificate` and `CertificateRevocationList` are shared between threads as immutable,
/// `Sendable` values: verifying with them must never change the OpenSSL objects underneath (an
/// SM2 distinguishing ID set again on a certificate shared through a chain, a CRL re-encoded
/// while its signature is checked). Many verifications of the same objects run at once here;
/// every one must reach the same verdict. (Run under ThreadSanitizer with
/// `swift test --sanitize=thread --filter ConcurrentVerificationTests`.)
@Suite("Concurrent verification")
struct ConcurrentVerificationTests {
    static let threads = 8
    static let rounds = 40

    /// Runs `body` on `threads` threads at once, `rounds` times each; returns the failures.
    func hammer(_ body: @escaping @Sendable () -> String?) -> [String] {
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: Self.threads) { _ in
            for _ in 0..<Self.rounds {
                if let failure = body() { failures.add(failure) }
            }
        }
        return failures.all
    }

    @Test(arguments: Suite.allCases)
    func `chains verified in parallel with shared certificates and CRLs all agree`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let signer = try pki.leaf()
        let revoked = try pki.leaf("Revoked Signer")
        let crls = try pki.crls(revoking: [revoked.certificate])
        let failures = hammer {
            do {
                let good = try ChainVerifier.verify(
                    signer.certificate, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate],
                    crls: crls, role: .release, at: pki.now)
                guard case .trusted(let chain) = good, chain.count == 3 else { return "good signer: \(good)" }
                let bad = try ChainVerifier.verify(
                    revoked.certificate, intermediates: [pki.ca.certificate], anchors: [pki.root.certificate],
                    crls: crls, role: .release, at: pki.now)
                guard case .untrusted(let error) = bad, error.code == .certificateRevoked else {
                    return "revoked signer: \(bad)"
                }
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.threads * Self.rounds): \(failures.prefix(3))")
    }

    @Test(arguments: Suite.allCases)
    func `envelopes verified in parallel against one trust store all agree`(suite: Suite) throws {
        let pki = try TestPKI(suite: suite)
        let first = try pki.leaf("Engineer One"), second = try pki.leaf("Engineer Two")
        let trust = try pki.writeTrustStore(role: .release, crls: pki.crls())
        defer { TemporaryDirectory.remove(trust) }
        let body = Array("parallel".utf8)
        let type = SignatureEnvelope.manifestType
        let envelope = SignatureEnvelope(
            payloadType: type,
            signatures: [
                try SignatureEnvelope.sign(
                    body: body, type: type, key: first.key, certificate: first.certificate, chain: [pki.ca.certificate]),
                try SignatureEnvelope.sign(
                    body: body, type: type, key: second.key, certificate: second.certificate,
                    chain: [pki.ca.certificate]),
            ])
        let verifier = EnvelopeVerifier(
            chains: ChainVerifier(store: try TrustStore(directory: trust), time: FixedTime(pki.now)), role: .release)
        let failures = hammer {
            do {
                let reports = try verifier.verify(envelope, body: body, expectedType: type)
                try EnvelopeVerifier.requireThreshold(reports, threshold: 2, suite: suite)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.threads * Self.rounds): \(failures.prefix(3))")
    }
}

/// Failures collected from several threads.
final class Failures: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var items: [String] = []

    func add(_ item: String) { lock.withLock { items.append(item) } }
    var all: [String] { lock.withLock { items } }
}
