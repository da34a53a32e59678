public import Foundation
internal import OTABase

/// One entry of a CRL: the revoked certificate's serial number, when, and why (RFC 5280 §5.3.1).
public struct Revocation: Sendable, Equatable {
    /// The serial number as big-endian magnitude bytes, without leading zeros.
    public var serial: [UInt8]
    public var date: Date
    public var reason: Reason?

    public init(serial: [UInt8], date: Date, reason: Reason?) {
        self.serial = Array(serial.drop { $0 == 0 })
        self.date = date
        self.reason = reason
    }

    /// The serial in lower-case hex, as `Certificate.serialNumber` prints it (whole bytes).
    public var serialHex: String { serial.isEmpty ? "0" : Hex.encode(serial) }

    /// CRLReason (RFC 5280 §5.3.1), without the hold states (`certificateHold`, `removeFromCRL`):
    /// `ota` never suspends a certificate, it revokes it.
    public enum Reason: String, Sendable, CaseIterable {
        case unspecified
        case keyCompromise
        case caCompromise = "cACompromise"
        case affiliationChanged
        case superseded
        case cessationOfOperation
        case privilegeWithdrawn

        /// The ENUMERATED value.
        public var code: Int {
            switch self {
            case .unspecified: 0
            case .keyCompromise: 1
            case .caCompromise: 2
            case .affiliationChanged: 3
            case .superseded: 4
            case .cessationOfOperation: 5
            case .privilegeWithdrawn: 9
            }
        }

        public init?(code: Int) {
            guard let match = Self.allCases.first(where: { $0.code == code }) else { return nil }
            self = match
        }
    }
}
