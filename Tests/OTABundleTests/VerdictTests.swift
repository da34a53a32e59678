import Foundation
import Testing

@testable import OTABuilder
@testable import OTACore

/// Verification returns its outcome as a value with every reason found; only I/O is thrown.
@Suite("Verdicts")
struct VerdictTests {
    @Test func `a rejection names every failing signature beside the deciding reason`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let bundle = try fixture.standardBundle()
        var entries = try BundleFixture.entries(of: bundle)
        var envelope = try SignatureEnvelope.decode(entries[1].data)
        // A revoked release signer and an approval-role certificate sign too; threshold 3.
        envelope.signatures.append(
            try fixture.signer("revoked-signer").sign(entries[0].data, type: SignatureEnvelope.manifestType))
        envelope.signatures.append(
            try fixture.signer("approval-signer", role: "approval").sign(
                entries[0].data, type: SignatureEnvelope.manifestType))
        entries[1].data = try envelope.encoded()
        let path = try fixture.write(RawTar.archive(entries))
        let verdict = try BundleReader(path: path).verify(policy: try fixture.policy(threshold: 3))
        let codes = verdict.reasons.map(\.code.rawValue)
        #expect(verdict.value == nil)
        #expect(codes.first == "certificate.revoked", "\(codes)")
        #expect(codes.contains("certificate.untrusted") || codes.contains("certificate.usage"), "\(codes)")
        #expect(verdict.reasons.count >= 3, "\(codes)")
        // The throwing form decides on the same first reason and keeps the others.
        #expect {
            _ = try BundleReader(path: path).verifyHead(policy: try fixture.policy(threshold: 3))
        } throws: { error in
            guard let error = error as? OTAError else { return false }
            return error.code == "certificate.revoked" && error.reasons.count == verdict.reasons.count
        }
    }

    @Test func `a rejection lists every broken manifest rule`() throws {
        let fixture = try BundleFixture(suite: .intl)
        var entries = try BundleFixture.entries(of: try fixture.standardBundle())
        var manifest = try CanonicalJSON.decode(Manifest.self, from: entries[0].data, as: .manifestMalformed)
        manifest.images[0].payload.chunkHashes.removeLast()
        manifest.images[1].ecu = ""
        manifest.preconditions.minimumBatteryPercent = 101
        let bytes = try CanonicalJSON.encode(manifest)
        entries[0].data = bytes
        entries[1].data = try SignatureEnvelope(
            payloadType: SignatureEnvelope.manifestType,
            signatures: [try fixture.signer().sign(bytes, type: SignatureEnvelope.manifestType)]
        ).encoded()
        let verdict = try BundleReader(path: try fixture.write(RawTar.archive(entries))).verify(
            policy: try fixture.policy())
        #expect(verdict.reasons.count == 3)
        #expect(verdict.reasons.allSatisfy { $0.code == "manifest.rules" })
        let messages = verdict.reasons.map(\.message).joined(separator: "\n")
        #expect(
            messages.contains("images[0].payload.chunkHashes") && messages.contains("images[1].ecu")
                && messages.contains("minimumBatteryPercent"))
    }

    @Test func `environmental failures are thrown, not returned as a verdict`() throws {
        let fixture = try BundleFixture(suite: .intl)
        #expect(throws: OTAError(.ioNotFound, "")) { try BundleReader(path: fixture.directory + "/missing.ota") }
        let empty = fixture.directory + "/empty-trust"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let reader = try BundleReader(path: try fixture.standardBundle())
        // An empty trust store is a refusal (there is nothing to trust), not an I/O error.
        let verdict = try reader.verify(policy: BundleTrustPolicy(trust: try TrustStore(directory: empty)))
        #expect(verdict.reasons.first?.code == "trust.empty")
    }
}
