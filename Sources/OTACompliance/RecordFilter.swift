public import OTARecorder

/// Which entries a query or export wants; nil fields do not filter. Times are RFC 3339 UTC,
/// `from` inclusive, `to` exclusive.
public struct RecordFilter: Sendable, Equatable {
    public var vin: String?
    public var campaign: String?
    public var bundle: String?
    public var ecu: String?
    public var result: String?
    public var from: String?
    public var to: String?
    /// Entry kinds; records, torn tails and prunes by default (checkpoints carry no facts).
    public var kinds: [String]

    public init(vin: String? = nil, campaign: String? = nil, bundle: String? = nil, ecu: String? = nil,
                result: String? = nil, from: String? = nil, to: String? = nil,
                kinds: [String] = ["record", "torn-tail", "prune"]) {
        self.vin = vin
        self.campaign = campaign
        self.bundle = bundle
        self.ecu = ecu
        self.result = result
        self.from = from
        self.to = to
        self.kinds = kinds
    }

    /// The filter as canonical JSON, for the export manifest.
    public var json: JSONValue {
        var members: [String: JSONValue] = ["kinds": .array(kinds.map { .string($0) })]
        for (key, value) in [("vin", vin), ("campaign", campaign), ("bundle", bundle), ("ecu", ecu), ("result", result), ("from", from), ("to", to)] {
            if let value { members[key] = .string(value) }
        }
        return .object(members)
    }
}
