internal import Foundation
public import OTABase

/// Who stands behind a signature, for counting signers toward a threshold (two-person rule).
///
/// Two signatures are by one signatory when their certificates share any of:
/// - the public key, compared after normalisation (a point in compressed, hybrid or
///   uncompressed form is one key; see `PKey`);
/// - the signer id a CA bound in the certificate (`ProjectOID.signerID`), folded like names;
/// - the subject name in canonical form (`Signatory.canonical(_:)`: Unicode NFKC, case folded,
///   whitespace collapsed, invisible format characters removed).
///
/// The relation is closed transitively (a certificate sharing a key with one and a name with
/// another joins all three), so distinct signatories differ in every respect. The issuer is
/// deliberately left out: a person certified by two CAs of one role is still one person.
public struct Signatory: Sendable, Hashable, Codable {
    /// Hex SHA-256 of the normalised SubjectPublicKeyInfo.
    public let keyID: String
    /// The folded signer id, when the certificate carries one.
    public let signerID: String?
    /// The canonical subject name.
    public let subject: String

    /// JSON keys spell identifiers `…Id`, as the signed formats do.
    enum CodingKeys: String, CodingKey {
        case keyID = "keyId", signerID = "signerId", subject
    }

    public init(keyID: String, signerID: String?, subject: String) {
        self.keyID = keyID
        self.signerID = signerID
        self.subject = subject
    }

    /// The signatory of `certificate`.
    public init(certificate: Certificate) throws(OTAError) {
        keyID = try certificate.publicKey.keyID(.sha256).hex
        signerID = try certificate.signerID.map(Self.canonical)
        subject = certificate.canonicalSubject
    }

    /// Whether `other` shares a key, a signer id or a subject with this one.
    public func overlaps(_ other: Signatory) -> Bool {
        keyID == other.keyID || subject == other.subject || (signerID != nil && signerID == other.signerID)
    }

    /// Groups `signatories` into distinct people: each group lists indices into the input, in
    /// order; groups are ordered by their first index.
    public static func distinct(_ signatories: [Signatory]) -> [[Int]] {
        var parent = Array(signatories.indices)
        func root(_ index: Int) -> Int {
            var index = index
            while parent[index] != index { index = parent[index] }
            return index
        }
        for first in signatories.indices {
            for second in signatories.indices where second > first && signatories[first].overlaps(signatories[second]) {
                let (a, b) = (root(first), root(second))
                if a != b { parent[max(a, b)] = min(a, b) }
            }
        }
        var groups: [Int: [Int]] = [:]
        for index in signatories.indices { groups[root(index), default: []].append(index) }
        return groups.keys.sorted().map { groups[$0]! }
    }

    /// The form names and signer ids are compared in: NFKC (full-width and compatibility forms
    /// fold to their plain letters), lower case, runs of white space as one space, no leading or
    /// trailing space, format characters (zero-width joiners and the like) removed.
    public static func canonical(_ text: String) -> String {
        let folded = text.precomposedStringWithCompatibilityMapping.lowercased()
            .precomposedStringWithCompatibilityMapping
        var scalars = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in folded.unicodeScalars {
            if scalar.properties.generalCategory == .format { continue }
            if scalar.properties.isWhitespace {
                pendingSpace = !scalars.isEmpty
                continue
            }
            if pendingSpace { scalars.append(" ") }
            pendingSpace = false
            scalars.append(scalar)
        }
        return String(scalars)
    }
}
