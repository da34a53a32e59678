/// Limits the decoder enforces against a hostile patch.
public struct DeltaLimits: Sendable {
    /// The most memory the four stream decoders may use together (about the sum of their
    /// dictionaries): refuses patches made for a larger budget than the vehicle's.
    public var xzMemoryLimit: UInt64 = 32 << 20
    /// Largest reference transform block (decompressed) a patch may carry.
    public var maxTransformBytes = 4 << 20
    /// Most regions per image and most address map entries a transform may declare: the map
    /// is held in memory while the patch applies (24 bytes an entry, 1.5 MiB at the default).
    public var maxTransformRegions = 1 << 14
    public var maxTransformMapEntries = 1 << 16
    /// Most deflate streams a recompressed-streams block may name, old and new each.
    public var maxRecompressedStreams = 1 << 16
    /// Most bytes the recompressed streams may rebuild: held in memory from the block until the
    /// ops that place them have run.
    public var maxRecompressedBytes = 16 << 20

    public init() {}
}
