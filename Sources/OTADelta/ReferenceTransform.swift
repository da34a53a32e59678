import OTABase

/// The executable transform of a version-3 patch: where the old and new images hold machine
/// code, and how old addresses map to new ones, so that an ADDP op can *predict* each branch,
/// call and RIP-relative operand of the new code from the old one (docs/FORMAT.md, "Reference
/// transform").
///
/// A recompiled program shifts its functions and data; every relative call or address into
/// shifted code changes, though the instruction is the same. The decoder finds reference sites
/// in the old bytes an ADDP reads (`ReferenceScanner`), computes each old target address, maps
/// it through `map` to a new address and rewrites the operand for the new site's address. The
/// ADD differences are then taken against these predicted bytes: a correctly predicted
/// reference costs nothing. The prediction is plain arithmetic on bytes the decoder already
/// holds (no pointer is ever formed from a patch value), so any transform, even a hostile one,
/// can only make the differences larger; the result is still checked by the new image's hash.
public struct ReferenceTransform: Sendable, Equatable {
    /// A stretch of an image that is loaded at a known address (an ELF PT_LOAD segment).
    public struct Region: Sendable, Equatable {
        /// File offset and length of the bytes in the image.
        public var fileStart: Int64
        public var length: Int64
        /// Address of the first byte (the segment's virtual address plus a base per embedded ELF).
        public var address: UInt64
        /// Bytes of address space the segment takes (≥ length: includes .bss): a reference into
        /// it is a valid target.
        public var span: UInt64
        /// Instruction set of the code in it, or nil for data (not scanned for references).
        public var architecture: ReferenceArchitecture?

        public init(
            fileStart: Int64, length: Int64, address: UInt64, span: UInt64, architecture: ReferenceArchitecture?
        ) {
            self.fileStart = fileStart
            self.length = length
            self.address = address
            self.span = span
            self.architecture = architecture
        }

        var fileEnd: Int64 { fileStart + length }
    }

    /// Old addresses `[oldAddress, oldAddress + length)` are now at `newAddress ...`.
    public struct MapEntry: Sendable, Equatable {
        public var oldAddress: UInt64
        public var length: UInt64
        public var newAddress: UInt64

        public init(oldAddress: UInt64, length: UInt64, newAddress: UInt64) {
            self.oldAddress = oldAddress
            self.length = length
            self.newAddress = newAddress
        }
    }

    /// Sorted by file offset, not overlapping, inside the old image.
    public var oldRegions: [Region]
    /// Sorted by file offset, not overlapping, inside the new image.
    public var newRegions: [Region]
    /// Sorted by old address, not overlapping.
    public var map: [MapEntry]

    public init(oldRegions: [Region], newRegions: [Region], map: [MapEntry]) {
        self.oldRegions = oldRegions
        self.newRegions = newRegions
        self.map = map
    }

    static let blockVersion: UInt8 = 1
    /// Old-image blocks are scanned for references independently (a site never spans two), so
    /// the decoder can find the sites of any old range by reading at most one block more.
    static let scanBlock: Int64 = 1 << 16

    // MARK: - Wire form

    /// The raw (uncompressed) block: version, old regions, new regions, map (docs/FORMAT.md).
    func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.blockVersion]
        for regions in [oldRegions, newRegions] {
            Varint.append(UInt64(regions.count), to: &out)
            var previousEnd: Int64 = 0
            for region in regions {
                Varint.append(UInt64(region.fileStart - previousEnd), to: &out)
                Varint.append(UInt64(region.length), to: &out)
                Varint.append(region.address, to: &out)
                Varint.append(region.span &- UInt64(region.length), to: &out)
                out.append(region.architecture?.rawValue ?? 0)
                previousEnd = region.fileEnd
            }
        }
        Varint.append(UInt64(map.count), to: &out)
        var previousEnd: UInt64 = 0
        var previousShift: Int64 = 0
        for entry in map {
            let shift = Int64(bitPattern: entry.newAddress &- entry.oldAddress)
            Varint.append(entry.oldAddress &- previousEnd, to: &out)
            Varint.append(entry.length, to: &out)
            Varint.append(Varint.zigzag(shift &- previousShift), to: &out)
            previousEnd = entry.oldAddress &+ entry.length
            previousShift = shift
        }
        return out
    }

    /// Parses and validates a raw block against the image sizes and the decoder's limits.
    static func decode(_ bytes: [UInt8], oldSize: UInt64, newSize: UInt64, limits: DeltaLimits) throws(OTAError)
        -> ReferenceTransform
    {
        var reader = BlockReader(bytes: bytes)
        guard try reader.byte() == blockVersion else {
            throw OTAError(.deltaTransformInvalid, "unknown reference transform block version")
        }
        var sides: [[Region]] = []
        for size in [oldSize, newSize] {
            let count = try reader.number("region count")
            guard count <= UInt64(limits.maxTransformRegions) else {
                throw OTAError(
                    .deltaTransformInvalid,
                    "the transform declares \(count) regions, more than \(limits.maxTransformRegions)")
            }
            var regions: [Region] = []
            var previousEnd: UInt64 = 0
            for _ in 0..<count {
                let gap = try reader.number("region offset")
                let length = try reader.number("region length")
                let address = try reader.number("region address")
                let extra = try reader.number("region span")
                let code = try reader.byte()
                let (start, o1) = previousEnd.addingReportingOverflow(gap)
                let (end, o2) = start.addingReportingOverflow(length)
                let (spanEnd, o3) = address.addingReportingOverflow(length)
                let (_, o4) = spanEnd.addingReportingOverflow(extra)
                guard !o1, !o2, !o3, !o4, length > 0, end <= size else {
                    throw OTAError(
                        .deltaTransformInvalid,
                        "a transform region lies outside its image or overflows (start \(start), length \(length))")
                }
                let architecture: ReferenceArchitecture?
                if code == 0 {
                    architecture = nil
                } else if let known = ReferenceArchitecture(rawValue: code) {
                    architecture = known
                } else {
                    throw OTAError(.deltaTransformInvalid, "unknown instruction set code \(code) in the transform")
                }
                regions.append(
                    Region(
                        fileStart: Int64(start), length: Int64(length), address: address, span: length + extra,
                        architecture: architecture))
                previousEnd = end
            }
            sides.append(regions)
        }
        let count = try reader.number("map size")
        guard count <= UInt64(limits.maxTransformMapEntries) else {
            throw OTAError(
                .deltaTransformInvalid,
                "the transform's address map has \(count) entries, more than \(limits.maxTransformMapEntries)")
        }
        var map: [MapEntry] = []
        map.reserveCapacity(Int(count))
        var previousEnd: UInt64 = 0
        var shift: Int64 = 0
        for _ in 0..<count {
            let gap = try reader.number("map address")
            let length = try reader.number("map length")
            shift = shift &+ Varint.unzigzag(try reader.number("map shift"))
            let (start, o1) = previousEnd.addingReportingOverflow(gap)
            let (end, o2) = start.addingReportingOverflow(length)
            guard !o1, !o2, length > 0 else {
                throw OTAError(.deltaTransformInvalid, "an address map entry overflows or is empty")
            }
            map.append(MapEntry(oldAddress: start, length: length, newAddress: start &+ UInt64(bitPattern: shift)))
            previousEnd = end
        }
        guard reader.atEnd else {
            throw OTAError(.deltaTransformInvalid, "bytes left over after the reference transform block")
        }
        return ReferenceTransform(oldRegions: sides[0], newRegions: sides[1], map: map)
    }

    // MARK: - Lookups

    /// The region of `regions` (sorted, disjoint: an array, or a buffer on the decoder's hot
    /// path) holding file offset `offset`.
    @inline(__always)
    static func region<Regions: RandomAccessCollection<Region>>(_ regions: Regions, containing offset: Int64) -> Int?
    where Regions.Index == Int {
        let lo = regions.partitioningIndex { $0.fileEnd > offset }
        guard lo < regions.endIndex, regions[lo].fileStart <= offset else { return nil }
        return lo
    }

    /// The new address of old address `address`, or nil when the map does not cover it.
    @inline(__always)
    func mapped(_ address: UInt64) -> UInt64? {
        let lo = map.partitioningIndex { $0.oldAddress &+ $0.length > address }
        guard lo < map.count, map[lo].oldAddress <= address else { return nil }
        return address &- map[lo].oldAddress &+ map[lo].newAddress
    }

    /// Rewrites each reference operand of `sites` that lies wholly inside `bytes` (old bytes
    /// `[oldStart, oldStart + bytes.count)`, to become new bytes from `newStart`) with its
    /// predicted new value. A site whose address, target or new site is not covered, or whose
    /// new value does not fit its field, is left as it is.
    func predict(
        _ bytes: UnsafeMutableBufferPointer<UInt8>, oldStart: Int64, newStart: Int64, sites: ArraySlice<ReferenceSite>,
        index: MapIndex? = nil
    ) {
        guard let base = bytes.baseAddress else { return }
        let end = oldStart + Int64(bytes.count)
        oldRegions.withUnsafeBufferPointer { oldRegions in
            newRegions.withUnsafeBufferPointer { newRegions in
                map.withUnsafeBufferPointer { map in
                    sites.withUnsafeBufferPointer { sites in
                        var oldRegion = -1
                        var newRegion = -1
                        // The map entry of the last target: calls and loads often reach the same place.
                        var hit = 0
                        for site in sites {
                            let s = site.offset
                            guard s >= oldStart, s + 4 <= end else { continue }
                            if oldRegion < 0 || s < oldRegions[oldRegion].fileStart
                                || s + 4 > oldRegions[oldRegion].fileEnd
                            {
                                guard let r = Self.region(oldRegions, containing: s) else { continue }
                                oldRegion = r
                            }
                            let o = oldRegions[oldRegion]
                            let oldAddress = o.address &+ UInt64(s - o.fileStart)
                            let p = base + Int(s - oldStart)
                            let word = UnsafeRawPointer(p).loadUnaligned(as: UInt32.self).littleEndian
                            guard let target = site.kind.target(word: word, address: oldAddress, context: site.context)
                            else { continue }
                            Self.rewrite(
                                p, at: newStart + (s - oldStart), kind: site.kind, word: word, target: target,
                                newRegions: newRegions, map: map, index: index, newRegion: &newRegion, hit: &hit)
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` with a `Prediction` that rewrites, in `bytes` (old bytes `[oldStart, oldStart +
    /// bytes.count)`, to become new bytes from `newStart`), each site it is given: handed to a scan
    /// of the old blocks (`ReferenceScanner.scan(block:bytes:within:into:consumer:)`), it predicts
    /// the sites as they are found, each as `predict` would: both end in `rewrite(_:at:...)`
    /// (WindowScanTests compares the two).
    func withPrediction<Result>(
        _ bytes: UnsafeMutableBufferPointer<UInt8>, oldStart: Int64, newStart: Int64, index: MapIndex?,
        _ body: (inout Prediction) -> Result
    ) -> Result {
        newRegions.withUnsafeBufferPointer { newRegions in
            map.withUnsafeBufferPointer { map in
                var prediction = Prediction(
                    bytes: bytes, oldStart: oldStart, newStart: newStart, newRegions: newRegions, map: map,
                    index: index)
                return body(&prediction)
            }
        }
    }

    /// Rewrites one site at a time for `withPrediction` (whose buffers it borrows).
    struct Prediction: SiteConsumer {
        private let base: UnsafeMutablePointer<UInt8>?
        private let oldStart: Int64
        private let end: Int64
        private let newStart: Int64
        private let newRegions: UnsafeBufferPointer<Region>
        private let map: UnsafeBufferPointer<MapEntry>
        private let index: MapIndex?
        /// The new region of the last site (-1: none).
        private var newRegion = -1
        /// The map entry of the last target: calls and loads often reach the same place.
        private var hit = 0

        fileprivate init(
            bytes: UnsafeMutableBufferPointer<UInt8>, oldStart: Int64, newStart: Int64,
            newRegions: UnsafeBufferPointer<Region>, map: UnsafeBufferPointer<MapEntry>, index: MapIndex?
        ) {
            base = bytes.baseAddress
            self.oldStart = oldStart
            end = oldStart + Int64(bytes.count)
            self.newStart = newStart
            self.newRegions = newRegions
            self.map = map
            self.index = index
        }

        /// Rewrites the site at old offset `offset` (`word` its old word, `target` its old
        /// target) for its new place, if it lies wholly in the bytes and
        /// its new address, new target and new value exist; takes every site (one outside the
        /// bytes has nothing to predict).
        @inline(__always)
        mutating func take(offset s: Int64, kind: ReferenceKind, word: UInt32, target: UInt64) -> Bool {
            guard let base, s >= oldStart, s + 4 <= end else { return true }
            ReferenceTransform.rewrite(
                base + Int(s - oldStart), at: newStart + (s - oldStart), kind: kind, word: word, target: target,
                newRegions: newRegions, map: map, index: index, newRegion: &newRegion, hit: &hit)
            return true
        }
    }

    /// Rewrites the site held at `p`, of `kind`, whose old word is `word` and old target
    /// `target`, for its place at new file offset `n`: its new address from the new region
    /// holding `n`, its new target through `map`, its new value from both. Left as it is when
    /// the new regions or the map do not cover it or the new value does not fit its field.
    /// `newRegion` (-1: none) and `hit` are the caller's caches of the last site's new region
    /// and the last target's map entry (calls and loads often reach the same place). The one
    /// copy of the arithmetic, inlined into `predict`'s loop over stored sites and into
    /// `Prediction.take` (the sites of a scan, each of a constant kind).
    @inline(__always)
    static func rewrite(
        _ p: UnsafeMutablePointer<UInt8>, at n: Int64, kind: ReferenceKind, word: UInt32, target: UInt64,
        newRegions: UnsafeBufferPointer<Region>, map: UnsafeBufferPointer<MapEntry>, index: MapIndex?,
        newRegion: inout Int, hit: inout Int
    ) {
        if newRegion < 0 || n < newRegions[newRegion].fileStart || n >= newRegions[newRegion].fileEnd {
            guard let r = Self.region(newRegions, containing: n) else {
                newRegion = -1
                return
            }
            newRegion = r
        }
        let newAddress = newRegions[newRegion].address &+ UInt64(n - newRegions[newRegion].fileStart)
        if hit >= map.count || target &- map[hit].oldAddress >= map[hit].length {
            guard let entry = index?.entry(map, containing: target) ?? Self.entry(map, containing: target) else {
                return
            }
            hit = entry
        }
        let moved = target &- map[hit].oldAddress &+ map[hit].newAddress
        guard let rewritten = kind.rewrite(word: word, address: newAddress, target: moved) else { return }
        UnsafeMutableRawPointer(p).storeBytes(of: rewritten.littleEndian, as: UInt32.self)
    }

    /// A table from old address to the first map entry that may cover it, so a lookup reads one
    /// slot and searches the few entries of its slot instead of the whole map. Slots are 4 KiB of
    /// address space or wider: at most 65,536 of them (256 KiB), whatever span a transform declares.
    /// Built for a map sorted by address without overlaps (what `decode` accepts).
    struct MapIndex {
        private let base: UInt64
        private let shift: UInt64
        /// `first[k]`: the first entry ending above `base + k << shift`.
        private let first: [UInt32]
        static let maxSlots: UInt64 = 1 << 16

        init(_ map: [MapEntry]) {
            guard let head = map.first, let tail = map.last, tail.oldAddress >= head.oldAddress else {
                (base, shift, first) = (0, 0, [])
                return
            }
            base = head.oldAddress
            let span = (tail.oldAddress &+ tail.length) &- base
            var shift: UInt64 = 12
            while shift < 63 && span >> shift >= Self.maxSlots { shift += 1 }
            self.shift = shift
            let slots = Int(span >> shift) + 1
            var first = [UInt32](repeating: 0, count: slots)
            var e = 0
            for k in 0..<slots {
                let start = base &+ UInt64(k) << shift
                while e < map.count && map[e].oldAddress &+ map[e].length <= start { e += 1 }
                first[k] = UInt32(e)
            }
            self.first = first
        }

        /// The entry of `map` (the map this index was built from) covering `address`.
        @inline(__always)
        func entry(_ map: UnsafeBufferPointer<MapEntry>, containing address: UInt64) -> Int? {
            guard address >= base, !first.isEmpty else { return nil }
            let k = (address &- base) >> shift
            guard k < UInt64(first.count) else { return nil }
            let hi = Int(k) + 1 < first.count ? min(Int(first[Int(k) + 1]) + 1, map.count) : map.count
            let lo = map.partitioningIndex(in: Int(first[Int(k)])..<hi) { $0.oldAddress &+ $0.length > address }
            guard lo < map.count, map[lo].oldAddress <= address, address &- map[lo].oldAddress < map[lo].length else {
                return nil
            }
            return lo
        }
    }

    /// The entry of `map` covering old address `address`.
    @inline(__always)
    static func entry(_ map: UnsafeBufferPointer<MapEntry>, containing address: UInt64) -> Int? {
        let lo = map.partitioningIndex { $0.oldAddress &+ $0.length > address }
        guard lo < map.count, map[lo].oldAddress <= address else { return nil }
        return lo
    }
}

/// Instruction sets the transform understands (the code byte in a region).
public enum ReferenceArchitecture: UInt8, Sendable {
    case x86_64 = 1
    case aarch64 = 2
}

/// Reads the raw transform block; running out of bytes is a malformed block.
private struct BlockReader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == bytes.count }

    mutating func byte() throws(OTAError) -> UInt8 {
        guard offset < bytes.count else {
            throw OTAError(.deltaTransformInvalid, "the reference transform block ends early")
        }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func number(_ what: String) throws(OTAError) -> UInt64 {
        let parse: Varint.Parse
        do throws(DeltaFormatError) {
            parse = try bytes.withUnsafeBufferPointer { (p) throws(DeltaFormatError) in try Varint.read(p, at: offset) }
        } catch {
            throw OTAError(.deltaTransformInvalid, "malformed number (\(what)) in the reference transform block")
        }
        guard case .value(let value, let next) = parse else {
            throw OTAError(.deltaTransformInvalid, "the reference transform block ends inside \(what)")
        }
        offset = next
        return value
    }
}
