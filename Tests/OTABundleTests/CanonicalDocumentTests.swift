import Foundation
import OTATestSupport
import Testing

@testable import OTABuilder
@testable import OTACore

/// A signed document has one reading: the vehicle, a co-signer reading it with `jq` and an auditor
/// reading it with Python must see the same fields and values. Each test signs a hostile encoding
/// with a trusted key (the insider attack) and expects the reader to refuse it.
@Suite("Canonical signed documents")
struct CanonicalDocumentTests {
    /// The bundle with its manifest replaced by `bytes`, signed over exactly those bytes.
    static func signedVariant(_ fixture: BundleFixture, _ entries: [RawTar.Entry], manifest bytes: [UInt8]) throws
        -> String
    {
        let envelope = SignatureEnvelope(
            payloadType: SignatureEnvelope.manifestType,
            signatures: [try fixture.signer().sign(bytes, type: SignatureEnvelope.manifestType)])
        var copy = entries
        copy[0].data = bytes
        copy[1].data = try envelope.encoded()
        return try fixture.write(RawTar.archive(copy))
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Hostile encodings of the same manifest: (what, transform of the canonical text).
    static let attacks: [(String, @Sendable (String) -> String)] = [
        (
            "a duplicate key (first wins here, last in jq and Python)",
            { text in
                text.replacingOccurrences(
                    of: "\"securityVersion\":1,", with: "\"securityVersion\":1,\"securityVersion\":9,")
            }
        ),
        ("a byte-order mark", { "\u{FEFF}" + $0 }),
        (
            "an exponent in an integer",
            { $0.replacingOccurrences(of: "\"securityVersion\":1,", with: "\"securityVersion\":1e0,") }
        ),
        (
            "a fraction in an integer",
            { $0.replacingOccurrences(of: "\"securityVersion\":1,", with: "\"securityVersion\":1.0,") }
        ),
        ("a leading zero", { $0.replacingOccurrences(of: "\"securityVersion\":1,", with: "\"securityVersion\":01,") }),
        ("an unknown top-level field", { "{\"approvedBy\":\"nobody\"," + $0.dropFirst() }),
        (
            "an unknown nested field",
            { $0.replacingOccurrences(of: "\"securityVersion\":1,", with: "\"securityVersion\":1,\"zz\":true,") }
        ),
        ("whitespace between tokens", { $0.replacingOccurrences(of: ",", with: ", ") }),
        (
            "keys out of order",
            { text in
                text.replacingOccurrences(
                    of: "\"campaign\":\"CAMP-TEST\",\"created\":\"2026-01-01T00:00:00Z\"",
                    with: "\"created\":\"2026-01-01T00:00:00Z\",\"campaign\":\"CAMP-TEST\"")
            }
        ),
        ("a \\u escape for a plain character", { $0.replacingOccurrences(of: "\"X1\"", with: "\"\\u0058\\u0031\"") }),
        ("an escaped slash", { $0.replacingOccurrences(of: "payloads/alpha", with: "payloads\\/alpha") }),
        (
            "a time with fractional seconds",
            { $0.replacingOccurrences(of: "2026-01-01T00:00:00Z", with: "2026-01-01T00:00:00.000Z") }
        ),
        (
            "a time with an offset",
            { $0.replacingOccurrences(of: "2026-01-01T00:00:00Z", with: "2026-01-01T00:00:00+00:00") }
        ),
        (
            "a null for an absent optional",
            { $0.replacingOccurrences(of: "\"version\":\"1.0.0\"", with: "\"rxswin\":null,\"version\":\"1.0.0\"") }
        ),
        ("trailing data", { $0 + " " }),
        (
            "deep nesting in an unknown field",
            { text in
                "{\"a\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + ","
                    + text.dropFirst()
            }
        ),
        (
            "canonically equivalent duplicate keys (NFC and NFD)",
            { text in
                text.replacingOccurrences(of: "\"notice\":{", with: "\"notice\":{\"caf\u{E9}\":{},\"cafe\u{301}\":{},")
            }
        ),
        // Text outside NFC: Swift's == (canonical equivalence) and a byte comparison (jq, SQL)
        // disagree on whether it equals its composed spelling.
        (
            "a decomposed character in a value (NFD)",
            { $0.replacingOccurrences(of: "CAMP-TEST", with: "CAMP-TE\u{301}ST") }
        ),
        ("a KELVIN SIGN for K in a value", { $0.replacingOccurrences(of: "CAMP-TEST", with: "CAMP-TEST-\u{212A}") }),
    ]

    @Test(arguments: Suite.allCases)
    func `every hostile encoding of a signed manifest is refused`(suite: Suite) throws {
        let fixture = try BundleFixture(suite: suite)
        let bundle = try fixture.standardBundle()
        let entries = try BundleFixture.entries(of: bundle)
        let canonical = Self.text(entries[0].data)
        #expect(fixture.verifyCode(try Self.signedVariant(fixture, entries, manifest: entries[0].data)) == nil)
        for (what, transform) in Self.attacks {
            let hostile = transform(canonical)
            #expect(hostile != canonical, "the \(what) transform did not apply")
            let code = fixture.verifyCode(try Self.signedVariant(fixture, entries, manifest: Array(hostile.utf8)))
            #expect(code == "manifest.malformed", "\(what): \(code ?? "accepted")")
        }
    }

    @Test func `a model spelled with a canonically equivalent character is refused, not matched`() throws {
        // Swift's String == says these are one model; jq, SQL and the fleet store say two.
        #expect(["X\u{212A}"].contains("XK"))
        let approval = Approval(
            approvalId: "A-1", bundleId: "b", manifestDigest: try Hasher.hash(.sha256, [1]), models: ["XK"],
            validFrom: Date(timeIntervalSince1970: 0),
            validUntil: Date(timeIntervalSince1970: 100), issued: Date(timeIntervalSince1970: 0))
        let text = Self.text(try CanonicalJSON.encode(approval))
        let kelvin = text.replacingOccurrences(of: "\"XK\"", with: "\"X\u{212A}\"")
        #expect(Array(kelvin.utf8) != Array(text.utf8))
        #expect {
            try CanonicalJSON.decode(Approval.self, from: Array(kelvin.utf8), as: .approvalMalformed)
        } throws: { error in
            let failure = error as? OTAError
            return failure?.code == .approvalMalformed && failure?.message.contains("models[0]") == true
                && failure?.message.contains("NFC") == true
        }
        // The builder side refuses to write one, naming the field.
        var decomposed = approval
        decomposed.models = ["Cafe\u{301}"]
        #expect {
            try CanonicalJSON.encode(decomposed)
        } throws: { error in
            ((error as? OTAError)?.message ?? "").contains("models[0]")
        }
        // Composed non-ASCII text (NFC) is fine.
        var composed = approval
        composed.models = ["Caf\u{E9}", "汉"]
        #expect(throws: Never.self) {
            try CanonicalJSON.decode(Approval.self, from: try CanonicalJSON.encode(composed), as: .approvalMalformed)
        }
    }

    @Test func `the refusal names the field that is not canonical`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let entries = try BundleFixture.entries(of: try fixture.standardBundle())
        let hostile = Self.text(entries[0].data).replacingOccurrences(
            of: "\"securityVersion\":1,", with: "\"securityVersion\":1,\"zz\":true,")
        let path = try Self.signedVariant(fixture, entries, manifest: Array(hostile.utf8))
        #expect {
            _ = try BundleVerification.verify(path: path, policy: try fixture.policy())
        } throws: { error in
            let message = (error as? OTAError)?.message ?? ""
            return message.contains("images[0].zz") && message.contains("not a field")
        }
        let duplicate = Self.text(entries[0].data).replacingOccurrences(
            of: "\"securityVersion\":1,", with: "\"securityVersion\":1,\"securityVersion\":9,")
        let duplicatePath = try Self.signedVariant(fixture, entries, manifest: Array(duplicate.utf8))
        #expect {
            _ = try BundleVerification.verify(path: duplicatePath, policy: try fixture.policy())
        } throws: { error in
            ((error as? OTAError)?.message ?? "").contains("duplicate key 'securityVersion'")
        }
    }

    @Test func `a co-signer cannot be shown another manifest than the vehicle enforces`() throws {
        // bundle sign reads the manifest too: it refuses the hostile encoding before adding a signature.
        let fixture = try BundleFixture(suite: .intl)
        let entries = try BundleFixture.entries(of: try fixture.standardBundle())
        let hostile = Self.text(entries[0].data).replacingOccurrences(
            of: "\"securityVersion\":1,", with: "\"securityVersion\":1,\"securityVersion\":9,")
        let path = try Self.signedVariant(fixture, entries, manifest: Array(hostile.utf8))
        #expect(throws: OTAError(.manifestMalformed, "")) {
            try BundleRewriter.cosign(path: path, signer: try fixture.signer("signer-2"))
        }
    }

    @Test func `an accepted manifest reads the same in Python`() throws {
        let fixture = try BundleFixture(suite: .gm)
        let entries = try BundleFixture.entries(of: try fixture.standardBundle())
        let file = try fixture.write(entries[0].data, name: "manifest.json")
        // Python's json module, re-serialised canonically, gives back exactly the signed bytes.
        let python = try ChildProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import json,sys; d=json.load(open(sys.argv[1],encoding='utf-8')); sys.stdout.buffer.write(json.dumps(d,sort_keys=True,separators=(',',':'),ensure_ascii=False).encode())",
                file,
            ]
        ).finish()
        #expect(python.status == 0)
        #expect(python.stdout == entries[0].data)
    }

    @Test func `signature envelopes, recipients and approvals are canonical too`() throws {
        let envelope = SignatureEnvelope(payloadType: SignatureEnvelope.manifestType)
        let canonical = Self.text(try envelope.encoded())
        #expect(throws: Never.self) { try SignatureEnvelope.decode(Array(canonical.utf8)) }
        let duplicated = canonical.replacingOccurrences(
            of: "{\"payloadType\"", with: "{\"payloadType\":\"x\",\"payloadType\"")
        #expect(throws: OTAError(.signaturesMalformed, "")) { try SignatureEnvelope.decode(Array(duplicated.utf8)) }
        #expect(throws: OTAError(.signaturesMalformed, "")) {
            try SignatureEnvelope.decode(Array((canonical + "\n").utf8))
        }

        let recipients = Self.text(try Recipients(recipients: []).encoded())
        #expect(throws: OTAError(.recipientsMalformed, "")) {
            try Recipients.decode(
                Array(
                    recipients.replacingOccurrences(of: "{\"recipients\"", with: "{\"recipients\":[],\"recipients\"")
                        .utf8))
        }

        let approval = Approval(
            approvalId: "A-1", bundleId: "b", manifestDigest: try Hasher.hash(.sha256, [1]), models: ["X1"],
            validFrom: Date(timeIntervalSince1970: 0),
            validUntil: Date(timeIntervalSince1970: 100), issued: Date(timeIntervalSince1970: 0))
        let approvalText = Self.text(try CanonicalJSON.encode(approval))
        #expect(throws: Never.self) {
            try CanonicalJSON.decode(Approval.self, from: Array(approvalText.utf8), as: .approvalMalformed)
        }
        let twoIds = approvalText.replacingOccurrences(
            of: "\"approvalId\":\"A-1\"", with: "\"approvalId\":\"A-1\",\"approvalId\":\"A-2\"")
        #expect(throws: OTAError(.approvalMalformed, "")) {
            try CanonicalJSON.decode(Approval.self, from: Array(twoIds.utf8), as: .approvalMalformed)
        }
    }
}
