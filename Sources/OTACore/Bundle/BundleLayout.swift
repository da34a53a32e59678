internal import OTABase

/// The fixed shape of a bundle: entry names, order, and the bounds every size is checked against
/// before anything is read.
public enum BundleLayout {
    package static let manifestEntry = "manifest.json"
    package static let signaturesEntry = "signatures.json"
    package static let recipientsEntry = "recipients.json"
    /// Optional, after `recipients.json`: a signed trust update the manifest binds.
    package static let trustUpdateEntry = "trust-update.json"

    /// The tar entry of an image's payload.
    package static func payloadEntry(_ imageName: String) -> String { "payloads/\(imageName)" }

    package static let maximumManifestSize = 8 << 20
    package static let maximumSignaturesSize = 1 << 20
    package static let maximumRecipientsSize = 1 << 20
    package static let maximumImages = 64
    package static let maximumRecipients = 1024
    /// Largest image (installed size, payload content): 64 GiB.
    package static let maximumImageSize: UInt64 = 64 << 30
    /// Largest stored payload entry: 8 GiB - 1, what a ustar header's 11 octal digits hold. Bundles
    /// are plain ustar (no pax or GNU extension headers), so a larger image travels compressed.
    package static let maximumPayloadSize: UInt64 = (8 << 30) - 1
    package static let minimumChunkSize: UInt64 = 4 << 10
    package static let maximumChunkSize: UInt64 = 16 << 20
    /// The chunk size the builder uses.
    public static let defaultChunkSize: UInt64 = 1 << 20

    /// Image names: lowercase ASCII letters, digits, `.`, `_`, `-`; 1 to 64 characters, starting
    /// with a letter or digit. No case or Unicode variants can collide.
    package static func isValidImageName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first, isLowerAlphanumeric(first) else { return false }
        return bytes.allSatisfy {
            isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
        }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
