public import OTACore

/// Replaces VINs in exports with keyed-hash tokens (HMAC-SHA256), so an export that leaves the
/// company does not carry a VIN that can be linked to its owner. The same key gives the same
/// token for a VIN across exports; without a key each export draws a fresh random one.
public struct VINPseudonymiser: Sendable {
    public enum Mode: Sendable, Equatable {
        /// Tokens under this secret key.
        case keyed([UInt8])
        /// Tokens under a random key used for this export only (unlinkable across exports).
        case ephemeral
        /// VINs as they are (internal use only).
        case none
    }

    private let key: [UInt8]?
    public let mode: String

    public init(_ mode: Mode) throws(OTAError) {
        switch mode {
        case .keyed(let secret):
            guard secret.count >= 16 else {
                throw OTAError(.recordsPseudonymKey, "a pseudonymisation key has at least 16 bytes")
            }
            key = secret
            self.mode = "hmac-sha256"
        case .ephemeral:
            key = try SecureRandom.bytes(32)
            self.mode = "hmac-sha256-ephemeral"
        case .none:
            key = nil
            self.mode = "none"
        }
    }

    /// `VT-` and 24 hex digits of HMAC-SHA256(key, VIN), or the VIN itself with mode `none`.
    public func token(for vin: String) throws(OTAError) -> String {
        guard let key else { return vin }
        let mac = try HMAC.mac(.sha256, key: key, [Array(vin.utf8)])
        return "VT-" + Hex.encode(mac.prefix(12))
    }
}
