public import OTARecorder

/// Which entries a query or export wants; nil fields do not filter. Times are RFC 3339 UTC,
/// `from` inclusive, `to` exclusive.
public struct RecordFilter: Sendable, Equatable {
    public var vin: String?
    public var campaign: String?
    public var bundle: String?
    /// Records naming this ECU.
    public var ecu: String?
    public var step: RecordStep?
    public var outcome: RecordOutcome?
    public var attempt: String?
    public var from: String?
    public var to: String?
    /// Entry kinds; records, torn tails, prunes, key rotations and unsigned-range statements by
    /// default (checkpoints carry no facts; exports carry them in their chain evidence).
    public var kinds: [LogEntry.Kind]

    public static let factKinds: [LogEntry.Kind] = [.record, .tornTail, .prune, .keyRotation, .unsignedTail]

    public init(
        vin: String? = nil, campaign: String? = nil, bundle: String? = nil, ecu: String? = nil, step: RecordStep? = nil,
        outcome: RecordOutcome? = nil, attempt: String? = nil, from: String? = nil, to: String? = nil,
        kinds: [LogEntry.Kind] = RecordFilter.factKinds
    ) {
        self.vin = vin
        self.campaign = campaign
        self.bundle = bundle
        self.ecu = ecu
        self.step = step
        self.outcome = outcome
        self.attempt = attempt
        self.from = from
        self.to = to
        self.kinds = kinds
    }

    /// The filter as canonical JSON, for the export manifest.
    package var json: JSONValue {
        var out = JSONObjectWriter()
        out.set("kinds", array: kinds.map { .string($0.rawValue) })
        out.set("vin", vin)
        out.set("campaign", campaign)
        out.set("bundle", bundle)
        out.set("ecu", ecu)
        out.set("step", step)
        out.set("outcome", outcome)
        out.set("attempt", attempt)
        out.set("from", from)
        out.set("to", to)
        return out.value
    }
}
