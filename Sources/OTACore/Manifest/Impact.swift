internal import OTABase

/// What the update changes, for the notice and the regulator: systems affected (and those under
/// type approval), functions added and altered (R156 §7.1.3).
public struct Impact: Codable, Sendable, Equatable {
    public var affectedSystems: [String]
    public var typeApprovedSystems: [String]
    public var addedFunctions: [String]
    public var alteredFunctions: [String]

    public init(
        affectedSystems: [String], typeApprovedSystems: [String], addedFunctions: [String], alteredFunctions: [String]
    ) {
        self.affectedSystems = affectedSystems
        self.typeApprovedSystems = typeApprovedSystems
        self.addedFunctions = addedFunctions
        self.alteredFunctions = alteredFunctions
    }
}
