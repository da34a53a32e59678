/// What a patch is made of, for reports.
public struct DeltaStatistics: Sendable, Codable, Equatable {
    public var operations = 0
    public var copyBytes: Int64 = 0
    public var addBytes: Int64 = 0
    public var insertBytes: Int64 = 0
    /// ADD bytes whose differences are taken against predicted references (ADDP ops).
    public var predictedAddBytes: Int64 = 0
    /// Entries of the reference transform's address map (0: no transform).
    public var transformMapEntries = 0
    /// Bytes of the reference transform block written after the header (0: no transform).
    public var transformBytes: Int64 = 0
    /// Differing site bytes the transform's predictions remove (counting stops once they pay
    /// for the block; 0 when there is no ELF code or nothing to predict).
    public var predictedSiteBytes: Int64 = 0
    /// New bytes placed by RECOMPRESSED ops, and the recompressed-streams block's bytes (0: none).
    public var recompressedBytes: Int64 = 0
    public var recompressedBlockBytes: Int64 = 0
}
