import Foundation
import OTACore
import OTATestSupport
import Testing

@Suite("Hashes")
struct DigestTests {
    @Test(arguments: [
        (HashAlgorithm.sha256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (HashAlgorithm.sha256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        // GB/T 32905-2016 Appendix A.
        (HashAlgorithm.sm3, "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (
            HashAlgorithm.sm3, String(repeating: "abcd", count: 16),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        ),
    ])
    func `known answers`(algorithm: HashAlgorithm, message: String, expected: String) throws {
        #expect(try Hasher.hash(algorithm, Array(message.utf8)).hex == expected)
    }

    @Test(arguments: HashAlgorithm.allCases)
    func `streaming in uneven pieces equals one shot`(algorithm: HashAlgorithm) throws {
        let data = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let hasher = try Hasher(algorithm)
        var offset = 0
        for size in [1, 63, 64, 65, 4096, 17] + Array(repeating: 10_000, count: 20) where offset < data.count {
            let end = min(offset + size, data.count)
            hasher.update(data[offset..<end])
            offset = end
        }
        hasher.update(data[offset...])
        #expect(hasher.finalize() == (try Hasher.hash(algorithm, data)))
    }

    @Test(arguments: HashAlgorithm.allCases)
    func `file hashing agrees with the openssl command line`(algorithm: HashAlgorithm) throws {
        let directory = try TemporaryDirectory.create("core")
        defer { TemporaryDirectory.remove(directory) }
        let path = directory + "/data.bin"
        let data = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 ^ ($0 >> 9)) })
        try data.write(to: URL(fileURLWithPath: path))
        let name = algorithm == .sm3 ? "-sm3" : "-sha256"
        let output = try OpenSSLTool.run(["dgst", name, "-r", path])
        let expected = String(decoding: output, as: UTF8.self).split(separator: " ").first.map(String.init)
        #expect(try Hasher.hash(algorithm, fileAt: path).hex == expected)
    }

    @Test func `hex round trip and rejection of bad digits`() throws {
        #expect(Hex.encode([0x00, 0xab, 0xff]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(throws: OTAError(.digestMalformed, "")) { try Digest(algorithm: .sha256, hex: "abcd") }
    }
}
