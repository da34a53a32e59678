import OTATestSupport

/// Inputs with the shapes that exercise different deflate features.
enum DeflateTestData {
    static let words = [
        "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
        "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
        "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
        "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "compression",
        "stream", "block", "update", "partition", "payload", "signature", "manifest", "kernel",
    ]

    /// English-like text: frequent short words, punctuation, line breaks.
    static func text(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var output: [UInt8] = []
        output.reserveCapacity(count + 16)
        var wordsInSentence = 0
        while output.count < count {
            var word = Array(words[Int(generator.next() % UInt64(words.count))].utf8)
            if wordsInSentence == 0 { word[0] = word[0] &- 32 }
            output += word
            wordsInSentence += 1
            if wordsInSentence > 4 && generator.next() % 6 == 0 {
                output += Array(generator.next() % 4 == 0 ? ".\n".utf8 : ". ".utf8)
                wordsInSentence = 0
            } else {
                output.append(generator.next() % 13 == 0 ? UInt8(ascii: ",") : UInt8(ascii: " "))
            }
        }
        return Array(output.prefix(count))
    }

    /// Uniformly random bytes: incompressible, so zlib stores them.
    static func random(_ count: Int, seed: UInt64 = 2) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    /// Long runs and short repeated patterns: many 258-byte matches at distances 1 and more.
    static func repetitive(_ count: Int) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while output.count < count {
            switch index % 4 {
            case 0: output += Array(repeating: 0, count: 5000)
            case 1: output += Array(repeating: UInt8(ascii: "x"), count: 777)
            case 2: for _ in 0..<300 { output += Array("abc".utf8) }
            default: for _ in 0..<100 { output += Array("0123456789abcdef".utf8) }
            }
            index += 1
        }
        return Array(output.prefix(count))
    }

    /// About `count` bytes alternating text, random and repetitive stretches, so zlib emits many
    /// blocks of every type.
    static func mixed(_ count: Int, seed: UInt64 = 3) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var output: [UInt8] = []
        output.reserveCapacity(count)
        var part: UInt64 = 0
        while output.count < count {
            let size = 1000 + Int(generator.next() % 60000)
            switch part % 3 {
            case 0: output += text(size, seed: generator.next())
            case 1: output += random(40_000 + size, seed: generator.next())
            default: output += repetitive(size)
            }
            part += 1
        }
        return Array(output.prefix(count))
    }
}
