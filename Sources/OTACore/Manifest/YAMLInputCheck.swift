internal import OTABase

/// Checks YAML text before a YAML parser sees it, for what would exhaust the parser's stack or
/// memory: nesting deeper than a limit (flow `[`/`{`, block indentation and `- ` sequence markers
/// together) and anchors or aliases (`&a`, `*a`: the "billion laughs" expansion). Manifests and
/// vehicle configurations need neither deep nesting nor aliases.
///
/// The scan is conservative: text it cannot tell apart from nesting (brackets inside a block
/// scalar, say) counts as nesting, so it may refuse an odd but harmless document, never pass a
/// deep one.
package enum YAMLInputCheck {
    package static let maximumDepth = 64

    /// Nil when the text is acceptable, else what is wrong and on which line.
    package static func problem(in text: String, maximumDepth: Int = maximumDepth) -> String? {
        let bytes = Array(text.utf8)
        var indents: [Int] = []  // block indentation levels open at the current line
        var flowDepth = 0
        var quote: UInt8? = nil
        var line = 1
        var index = 0
        var atLineStart = true
        var tokenStart = true
        while index < bytes.count {
            if atLineStart && quote == nil && flowDepth == 0 {
                // Block structure: indentation, then `- ` sequence markers.
                var column = 0
                while index + column < bytes.count, bytes[index + column] == 0x20 { column += 1 }
                let first = index + column < bytes.count ? bytes[index + column] : 0x0A
                if first != 0x0A && first != 0x0D && first != 0x23 {
                    while let last = indents.last, last >= column { indents.removeLast() }
                    indents.append(column)
                    var position = index + column
                    var markers = 0
                    while position + 1 < bytes.count, bytes[position] == 0x2D, bytes[position + 1] == 0x20 {
                        markers += 1
                        position += 2
                        while position < bytes.count, bytes[position] == 0x20 { position += 1 }
                    }
                    if indents.count + markers > maximumDepth {
                        return "line \(line): nested deeper than \(maximumDepth) levels"
                    }
                    index = position
                    tokenStart = true
                }
                atLineStart = false
                continue
            }
            let byte = bytes[index]
            index += 1
            if byte == 0x0A {
                line += 1
                atLineStart = true
                tokenStart = true
                continue
            }
            if let open = quote {
                if byte == 0x5C && open == 0x22 && index < bytes.count && bytes[index] != 0x0A {
                    index += 1
                }  // escape in "..."
                else if byte == open {
                    if open == 0x27 && index < bytes.count && bytes[index] == 0x27 {
                        index += 1
                    }  // '' in '...'
                    else {
                        quote = nil
                    }
                }
                continue
            }
            if tokenStart && (byte == 0x22 || byte == 0x27) {
                quote = byte
            } else if byte == 0x23
                && (index == 1 || bytes[index - 2] == 0x20 || bytes[index - 2] == 0x09 || bytes[index - 2] == 0x0A)
            {
                // A comment: skip to the end of the line.
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
            } else if byte == 0x5B || byte == 0x7B {
                flowDepth += 1
                if (indents.count + flowDepth) > maximumDepth {
                    return "line \(line): nested deeper than \(maximumDepth) levels"
                }
            } else if byte == 0x5D || byte == 0x7D {
                flowDepth = max(0, flowDepth - 1)
            } else if tokenStart && (byte == 0x26 || byte == 0x2A) {
                return "line \(line): anchors and aliases (& and *) are not allowed; quote text that starts with them"
            }
            tokenStart = byte == 0x20 || byte == 0x09 || byte == 0x5B || byte == 0x7B || byte == 0x2C || byte == 0x3A
        }
        return nil
    }
}
