import OTABase
import Testing

/// Where an argument stops being UTF-8: every form the standard refuses, not only a stray 0xFF.
@Suite struct ArgumentEncodingTests {
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
        #expect(bytes.withUnsafeBufferPointer { ArgumentEncoding.invalidOffset($0) } == offset)
    }
}
