public import Foundation
internal import OTABase

/// A regulatory document the update relies on.
public struct RegulatoryReference: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case filing
        case changePermit = "change-permit"
        case adApproval = "ad-approval"
        case recallFiling = "recall-filing"
        case taExtension = "ta-extension"
    }

    public var type: Kind
    public var number: String
    public var authority: String
    public var scope: String?
    public var validFrom: Date?
    public var validUntil: Date?

    public init(type: Kind, number: String, authority: String, scope: String?, validFrom: Date?, validUntil: Date?) {
        self.type = type
        self.number = number
        self.authority = authority
        self.scope = scope
        self.validFrom = validFrom
        self.validUntil = validUntil
    }
}
