import OTABase
import OTATestSupport
import Testing

/// Bytes from outside that should be UTF-8 (arguments, directory entries): where they stop being
/// UTF-8, every form the standard refuses and not only a stray 0xFF, and how they are shown.
@Suite struct UTF8BytesTests {
    @Test(
        arguments: [
            ([UInt8]("plain/ascii.img".utf8), nil),
            ([UInt8]("größe-中文-🚗.img".utf8), nil),
            ([0x61, 0xFF, 0x62], 1),
            ([0x61, 0x62, 0xC0, 0x80], 2),  // overlong NUL
            ([0xED, 0xA0, 0x80], 0),  // a UTF-16 surrogate encoded
            ([0x61, 0xE4, 0xB8], 1),  // a sequence cut short at the end
            ([0xF4, 0x90, 0x80, 0x80], 0),  // past U+10FFFF
            ([0x80], 0),  // a lone continuation byte
        ] as [([UInt8], Int?)])
    func `the first byte that is not UTF-8 is found`(bytes: [UInt8], offset: Int?) {
        #expect(bytes.withUnsafeBufferPointer { UTF8Bytes.invalidOffset($0) } == offset)
    }

    @Test(
        arguments: [
            ([UInt8]("größe-🚗.img".utf8), "größe-🚗.img"),
            ([0x61, 0xFF, 0x62], #"a\xFFb"#),
            ([0x61, 0xC0, 0x80], #"a\xC0\x80"#),
            ([0x61, 0xE4, 0xB8], #"a\xE4\xB8"#),
            ([0xED, 0xA0, 0x80, 0x7A], #"\xED\xA0\x80z"#),
            ([0xFE, 0xFF], #"\xFE\xFF"#),
        ] as [([UInt8], String)])
    func `a name is shown with each invalid byte escaped, never repaired`(bytes: [UInt8], shown: String) {
        #expect(UTF8Bytes.escaped(bytes) == shown)
    }

    /// Two names that differ only in their invalid bytes: repaired, both read `evil�.crt`, and
    /// a reader opening that name found neither ("not found" for files that are there).
    @Test func `a directory entry that is not UTF-8 is kept apart, and listing the directory refuses it`() throws {
        let dir = try TemporaryDirectory("listing")
        let plain = try RawNamedFile(in: dir.path, name: Array("plain.crt".utf8))
        let first = try RawNamedFile(in: dir.path, name: Array("evil".utf8) + [0xFF] + Array(".crt".utf8))
        let second = try RawNamedFile(in: dir.path, name: Array("evil".utf8) + [0xFE] + Array(".crt".utf8))
        let listing = try FileSystem.listing(dir.path)
        #expect(listing.names == ["plain.crt"])
        #expect(listing.namesNotUTF8 == [#"evil\xFE.crt"#, #"evil\xFF.crt"#])
        let error = #expect(throws: OTAError(.ioNameNotUTF8, "")) { try FileSystem.list(dir.path) }
        #expect(error?.message.contains(#""evil\xFE.crt""#) == true, "\(String(describing: error))")
        _ = (plain, first, second)
    }
}
