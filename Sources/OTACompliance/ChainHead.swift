/// The last signed checkpoint the store holds for a vehicle: a new log must continue from it.
public struct ChainHead: Sendable, Equatable, Encodable {
    public var vin: String
    public var seq: UInt64
    public var hash: String
    public var keyID: String
    public var hashAlgorithm: String
}
