import OTACore

/// OLPC canonical JSON as TUF signs it (securesystemslib's `encode_canonical`): no whitespace,
/// members sorted by name (code-point order, i.e. by UTF-8 bytes), strings with only `"` and
/// `\` escaped and every other character written as UTF-8, integers in decimal.
///
/// Not `OTACore.CanonicalJSON`, which is the manifest encoder (JSONEncoder with sorted keys).
public enum OLPCCanonicalJSON {
    public static func encode(_ value: TUFJSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(value, into: &out, escapeControls: false)
        return out
    }

    /// The same order and spacing as `encode`, but control characters escaped (`\u000a`), so the
    /// bytes are valid JSON for a file even when a name holds a newline: what the repository
    /// writes. Parsing either gives the same value, so the signature still verifies.
    public static func encodeFile(_ value: TUFJSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        write(value, into: &out, escapeControls: true)
        return out
    }

    static func write(_ value: TUFJSON, into out: inout [UInt8], escapeControls: Bool) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .integer(let n): out += Array(String(n).utf8)
        case .string(let s): writeString(s, into: &out, escapeControls: escapeControls)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (position, item) in items.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out, escapeControls: escapeControls)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.name, into: &out, escapeControls: escapeControls)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out, escapeControls: escapeControls)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8], escapeControls: Bool) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            if escapeControls, byte < 0x20 {
                let digits = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]]
                continue
            }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }
}
