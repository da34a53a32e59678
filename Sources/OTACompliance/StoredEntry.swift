public import OTACore
public import OTARecorder

/// An entry as the fleet store keeps it: the chain fields, the columns queries use, and the
/// canonical JSON body exactly as the vehicle wrote it.
public struct StoredEntry: Sendable, Equatable {
    public var vin: String
    public var seq: UInt64
    public var hash: String
    public var prev: String
    public var kind: String
    public var time: String?
    public var campaign: String?
    public var bundle: String?
    public var ecu: String?
    public var step: String?
    public var result: String?
    public var body: String

    public init(vin: String, entry: LogEntry) throws(OTAError) {
        let json = try entry.json()
        self.vin = vin
        seq = entry.seq
        hash = entry.hash
        prev = entry.prev
        kind = entry.kind.rawValue
        time = json["time"]?.stringValue
        campaign = json["campaign"]?.stringValue
        bundle = json["bundle"]?.stringValue
        ecu = json["ecu"]?.stringValue
        step = json["step"]?.stringValue
        result = json["result"]?.stringValue
        body = String(decoding: entry.body, as: UTF8.self)
    }

    public init(vin: String, seq: UInt64, hash: String, prev: String, kind: String, time: String?, campaign: String?,
                bundle: String?, ecu: String?, step: String?, result: String?, body: String) {
        self.vin = vin
        self.seq = seq
        self.hash = hash
        self.prev = prev
        self.kind = kind
        self.time = time
        self.campaign = campaign
        self.bundle = bundle
        self.ecu = ecu
        self.step = step
        self.result = result
        self.body = body
    }
}
