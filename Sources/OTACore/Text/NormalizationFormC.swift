import Foundation

extension String {
    /// Whether the text is in Unicode Normalization Form C. Two NFC texts are canonically
    /// equivalent exactly when their bytes are equal, so Swift's `==` (canonical equivalence) and
    /// a byte comparison (`jq`, SQL, the fleet store) agree on them. ASCII text is NFC.
    package var isNFC: Bool {
        utf8.allSatisfy { $0 < 0x80 } || precomposedStringWithCanonicalMapping.utf8.elementsEqual(utf8)
    }
}
