import OTACore
import Testing

@testable import OTATUF

/// Targets and metadata listed with hashes other TUF repositories use: the client checks every
/// hash it knows (sha256, sha384, sha512, sm3) and refuses a file none of whose hashes it knows.
@Suite struct TargetHashTests {
    static let bytes = Array("target bytes".utf8)

    static func hashes(_ entries: [(String, String)]) -> NamedList<String> {
        NamedList(entries.map { NamedList<String>.Entry(name: $0.0, value: $0.1) })
    }

    static func hex(_ name: String, _ bytes: [UInt8]) throws -> String {
        Hex.encode(try Hasher.digest(openSSLName: name, bytes))
    }

    @Test(arguments: [("sha256", "SHA2-256"), ("sha384", "SHA2-384"), ("sha512", "SHA2-512"), ("sm3", "SM3")])
    func `a file listed with one known hash is checked against it`(name: String, openSSLName: String) throws {
        let good = try Self.hex(openSSLName, Self.bytes)
        try TUFHashes.check(Self.bytes, against: Self.hashes([(name, good)]), what: "t")
        #expect(
            refusal { try TUFHashes.check(Array("other bytes".utf8), against: Self.hashes([(name, good)]), what: "t") }
                == .tufHashMismatch)
    }

    @Test func `every known hash must match, and unknown ones alone are refused`() throws {
        let sha256 = try Self.hex("SHA2-256", Self.bytes)
        let wrong512 = try Self.hex("SHA2-512", Array("other".utf8))
        #expect(
            refusal {
                try TUFHashes.check(
                    Self.bytes, against: Self.hashes([("sha256", sha256), ("sha512", wrong512)]), what: "t")
            } == .tufHashMismatch)
        #expect(
            refusal {
                try TUFHashes.check(Self.bytes, against: Self.hashes([("sha1", "00"), ("md5", "00")]), what: "t")
            } == .tufHashUnsupported)
        // An unknown name beside a known one is skipped, not trusted.
        try TUFHashes.check(Self.bytes, against: Self.hashes([("sha256", sha256), ("blake3", "00")]), what: "t")
    }
}

/// A hash value is the name the agent gives a download (`<sha256>.part`, `.ota`) and a line of
/// the lists it keeps: before this rule any string was taken, so whoever held the targets key
/// (or a delegated role's) wrote a file of their choosing anywhere on the vehicle
/// (`"sha256": "../../../etc/cron.d/x\u0000"`, the chunks theirs too), before any release
/// signature was checked, and a value with a newline blocked a genuine bundle or CRL for good.
@Suite struct TargetHashValueTests {
    static func file(_ hashes: String) throws -> TUFTargetFile {
        let text = #"{"length":4,"hashes":"# + hashes + "}"
        return try TUFTargetFile(TUFJSONParser.parse(Array(text.utf8)), path: "targets.x")
    }

    static let sha256 = String(repeating: "ab", count: 32)

    @Test(
        arguments: [
            #"{"sha256":"../../../../tmp/evil\u0000"}"#,
            #"{"sha256":"../../../../tmp/evil"}"#,
            #"{"sha256":"\#(String(repeating: "AB", count: 32))"}"#,
            #"{"sha256":"\#(String(repeating: "ab", count: 31))"}"#,
            #"{"sha256":"\#(String(repeating: "ab", count: 33))"}"#,
            #"{"sha256":"\#(String(repeating: "ab", count: 31))a\n"}"#,
            #"{"sha512":"\#(String(repeating: "ab", count: 32))"}"#,
            #"{"sha256":"\#(String(repeating: "ab", count: 32))","blake3":"zz"}"#,
            #"{"sha256":"\#(String(repeating: "ab", count: 32))","blake3":""}"#,
        ])
    func `a hash value that is not lower-case hex of its digest's length is refused`(hashes: String) throws {
        let error = #expect(throws: OTAError(.tufMetadata, "")) { try Self.file(hashes) }
        #expect(error?.message.contains("targets.x.hashes.") == true, "\(String(describing: error))")
    }

    @Test func `well-formed values of known and unknown algorithms are read`() throws {
        let file = try Self.file(#"{"sha256":"\#(Self.sha256)","blake3":"00ff","sm3":"\#(Self.sha256)"}"#)
        #expect(file.hashes["sha256"] == Self.sha256)
    }
}
