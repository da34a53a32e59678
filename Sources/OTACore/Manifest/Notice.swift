internal import OTABase

/// What the user is told before and after (No.103 §3, R156 §7.2.2).
public struct Notice: Codable, Sendable, Equatable {
    public var purpose: String
    public var content: String
    public var expectedDurationMinutes: Int
    public var functionsUnavailable: [String]
    public var precautions: [String]
    public var impact: String

    public init(
        purpose: String, content: String, expectedDurationMinutes: Int, functionsUnavailable: [String],
        precautions: [String], impact: String
    ) {
        self.purpose = purpose
        self.content = content
        self.expectedDurationMinutes = expectedDurationMinutes
        self.functionsUnavailable = functionsUnavailable
        self.precautions = precautions
        self.impact = impact
    }
}
