#if canImport(Glibc)
    import Glibc
#endif

/// The command line as the kernel gave it: bytes. `CommandLine.arguments` repairs invalid UTF-8
/// (each bad byte becomes U+FFFD), so a file named with such bytes would be looked up under
/// another name and reported "not found". Every `ota` executable refuses such an argument first.
package enum ArgumentEncoding {
    /// The first argument after the program name that is not valid UTF-8, as a usage error
    /// naming its position, the first bad byte and its offset; nil when all are valid.
    package static func firstInvalid() -> OTAError? {
        guard CommandLine.argc > 1 else { return nil }
        for index in 1..<Int(CommandLine.argc) {
            guard let argument = CommandLine.unsafeArgv[index] else { continue }
            let bytes = UnsafeBufferPointer(
                start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self), count: strlen(argument))
            guard let offset = UTF8Bytes.invalidOffset(bytes) else { continue }
            return OTAError(
                .usageInvalid,
                "argument \(index) (\"\(UTF8Bytes.escaped(bytes))\") is not valid UTF-8 (byte 0x"
                    + Hex.encode([bytes[offset]]).uppercased()
                    + " at offset \(offset)): paths and values are taken in UTF-8 only; "
                    + "rename the file, or name it through a link whose name is UTF-8")
        }
        return nil
    }
}
