/// Bytes that should be UTF-8 but come from outside (`argv`, a directory entry): where they stop
/// being UTF-8, and how to show them without repairing them. `String(decoding:as:)` turns each
/// invalid byte into U+FFFD, so two different names would read the same and neither opens.
package enum UTF8Bytes {
    /// The offset of the first byte of `bytes` that does not start a valid UTF-8 sequence.
    package static func invalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    /// The text with every byte that is not part of a valid sequence written as `\xFF`, for
    /// messages: `evil\xFF.crt`, never `evil�.crt`.
    package static func escaped(_ bytes: some Collection<UInt8>) -> String {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var text = ""
        var rest = bytes[...]
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar):
                text.unicodeScalars.append(Unicode.UTF8.decode(scalar))
                rest = rest.dropFirst(scalar.count)
            case .error(let length):
                for byte in rest.prefix(length) { text += "\\x" + Hex.encode([byte]).uppercased() }
                rest = rest.dropFirst(length)
            case .emptyInput:
                return text
            }
        }
    }
}
