internal import Dispatch

/// The encoder's side of the reference transform: ELF code regions of both images, their
/// reference sites, copies of the images with reference fields cleared (so the matcher sees
/// recompiled code with shifted targets as equal), and, once the ops are known, the address
/// map the decoder predicts with.
final class ReferenceAnalysis {
    let oldRegions: [ReferenceTransform.Region]
    let newRegions: [ReferenceTransform.Region]
    /// Every site of the old image, in offset order (the decoder finds the same ones per block);
    /// empty from `init` until `unpackOldSites`.
    private(set) var oldSites: [ReferenceSite]
    /// `oldSites` while packed.
    private var packedOldSites = PackedSites([])
    /// Whether AArch64 ADRPs are paired with their uses (format 4): only when the old image
    /// holds AArch64 code, so other patches stay format 3.
    let pairs: Bool
    /// The images with reference fields cleared, for matching only (empty once released).
    private(set) var maskedOld: UnsafeMutableBufferPointer<UInt8>
    private(set) var maskedNew: UnsafeMutableBufferPointer<UInt8>
    /// The new image's sites, packed: enough to make the masked new image again after
    /// `releaseMaskedNew`.
    private let packedNewSites: PackedSites
    /// Room for one ADD's predicted old bytes (the writer's scratch). Allocated once the init
    /// can no longer fail: a failed init runs no `deinit`, so a default value here leaked.
    let scratch: UnsafeMutableBufferPointer<UInt8>

    /// Nil when either image holds no x86-64 or AArch64 ELF code (the byte matcher alone then).
    /// `doneWithOld` and `doneWithNew` are called once that image's sites are found, before its
    /// masked copy is made (the caller may then hash it and drop it from memory until the ops
    /// are written); `evictOld` and `evictNew`, when given, drop the image from memory after each
    /// MiB of it is copied, so an image and its masked copy are not both resident. The old sites
    /// are packed once the masked old image is made (`unpackOldSites` when every op is known).
    init?(
        old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>,
        regions: (old: [ReferenceTransform.Region], new: [ReferenceTransform.Region])? = nil, pairs: Bool = true,
        doneWithOld: () -> Void = {}, doneWithNew: () -> Void = {}, evictOld: (() -> Void)? = nil,
        evictNew: (() -> Void)? = nil
    ) {
        let oldRegions = regions?.old ?? ELFLayout.regions(in: old)
        let newRegions = regions?.new ?? ELFLayout.regions(in: new)
        let codeBytes = { (regions: [ReferenceTransform.Region]) in
            regions.reduce(Int64(0)) { $0 + ($1.architecture == nil ? 0 : $1.length) }
        }
        guard codeBytes(oldRegions) >= 4096, codeBytes(newRegions) >= 4096 else { return nil }
        self.oldRegions = oldRegions
        self.newRegions = newRegions
        self.pairs = pairs && oldRegions.contains { $0.architecture == .aarch64 }
        let oldSites = Self.sites(of: old, regions: oldRegions, pairs: self.pairs)
        doneWithOld()
        maskedOld = Self.masked(old, oldSites, evict: evictOld)
        // Nothing reads the old sites until every op is known (`unpackOldSites`).
        packedOldSites = PackedSites(oldSites)
        self.oldSites = []
        let newSites = Self.sites(of: new, regions: newRegions, pairs: self.pairs)
        doneWithNew()
        maskedNew = Self.masked(new, newSites, evict: evictNew)
        packedNewSites = PackedSites(newSites)
        scratch = .allocate(capacity: PatchFrame.maxOpLength)
    }

    deinit {
        releaseMaskedImages()
        scratch.deallocate()
    }

    /// Frees the masked images once matching is done (they are as large as the images).
    func releaseMaskedImages() {
        releaseMaskedOld()
        maskedNew.baseAddress?.deallocate()
        maskedNew = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    /// Frees the masked old image alone: once the matcher's index holds a packed copy of the
    /// old bytes it searches, nothing reads the masked old image any more.
    func releaseMaskedOld() {
        maskedOld.baseAddress?.deallocate()
        maskedOld = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    /// Frees the masked new image until `remaskedNew` makes it again: the suffix sort, which
    /// does not read it, is the diff's peak on images indexed whole (7 MiB of libpython's).
    func releaseMaskedNew() {
        maskedNew.baseAddress?.deallocate()
        maskedNew = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    /// The masked new image, made again from `new` and the packed new sites if it was released
    /// (the same bytes `init` made). `evict`, when given, drops `new` from memory after each MiB
    /// copied, so the image and its copy are not both resident.
    func remaskedNew(_ new: UnsafeBufferPointer<UInt8>, evict: (() -> Void)?) -> UnsafeBufferPointer<UInt8> {
        if maskedNew.baseAddress != nil || new.isEmpty { return UnsafeBufferPointer(maskedNew) }
        let copy = Self.copy(new, evict: evict)
        packedNewSites.forEach { Self.mask(copy, at: $0) }
        maskedNew = copy
        return UnsafeBufferPointer(copy)
    }

    /// A copy of `image`, made a MiB at a time with `evict` called after each.
    private static func copy(_ image: UnsafeBufferPointer<UInt8>, evict: (() -> Void)?)
        -> UnsafeMutableBufferPointer<UInt8>
    {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(image.count, 1))
        var start = 0
        while start < image.count {
            let end = min(start + (1 << 20), image.count)
            _ = UnsafeMutableBufferPointer(rebasing: copy[start..<end])
                .initialize(from: UnsafeBufferPointer(rebasing: image[start..<end]))
            evict?()
            start = end
        }
        return UnsafeMutableBufferPointer(rebasing: copy[0..<image.count])
    }

    /// The old sites back from their packed form (nothing to do if there are none).
    func unpackOldSites() {
        guard packedOldSites.count > 0 else { return }
        var sites: [ReferenceSite] = []
        sites.reserveCapacity(packedOldSites.count)
        packedOldSites.forEach { sites.append($0) }
        oldSites = sites
        packedOldSites = PackedSites([])
    }

    static func sites(of image: UnsafeBufferPointer<UInt8>, regions: [ReferenceTransform.Region], pairs: Bool)
        -> [ReferenceSite]
    {
        let scanner = ReferenceScanner(regions: regions, pairs: pairs)
        var sites: [ReferenceSite] = []
        var blocks = Set<Int64>()
        for region in regions where region.architecture != nil {
            var block = region.fileStart / ReferenceTransform.scanBlock
            while block * ReferenceTransform.scanBlock < region.fileEnd {
                blocks.insert(block)
                block += 1
            }
        }
        // Blocks scan independently (the decoder scans them one at a time): runs of blocks on
        // all cores, each into its own list, joined in block order.
        let order = blocks.sorted()
        let chunks = min(order.count, 16)
        guard chunks > 1 else {
            for block in order { scanner.scan(block: block, image: image, into: &sites) }
            return sites
        }
        let found = UnsafeMutableBufferPointer<[ReferenceSite]>.allocate(capacity: chunks)
        found.initialize(repeating: [])
        defer { found.deinitialize().deallocate() }
        let work = SiteScan(scanner: scanner, image: image, order: order, found: found)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in work.scan(chunk: chunk, of: chunks) }
        sites.reserveCapacity(found.reduce(0) { $0 + $1.count })
        for part in found { sites += part }
        return sites
    }

    private static func masked(
        _ image: UnsafeBufferPointer<UInt8>, _ sites: [ReferenceSite], evict: (() -> Void)?
    ) -> UnsafeMutableBufferPointer<UInt8> {
        let copy = copy(image, evict: evict)
        for site in sites { mask(copy, at: site) }
        return copy
    }

    /// Clears `site`'s reference field in `copy`.
    @inline(__always)
    private static func mask(_ copy: UnsafeMutableBufferPointer<UInt8>, at site: ReferenceSite) {
        let raw = UnsafeMutableRawPointer(copy.baseAddress! + Int(site.offset))
        let word = raw.loadUnaligned(as: UInt32.self).littleEndian
        raw.storeBytes(of: site.kind.masked(word).littleEndian, as: UInt32.self)
    }

    /// The old sites inside old `[start, end)`.
    func sites(from start: Int64, to end: Int64) -> ArraySlice<ReferenceSite> {
        oldSites[oldSites.partitioningIndex { $0.offset >= start }..<oldSites.partitioningIndex { $0.offset >= end }]
    }

    /// The address map implied by the ops' (old, new, length) pairs: each pair's stretch in
    /// address terms, overlaps resolved in favour of the earlier old address, neighbours with the
    /// same shift merged (across gaps too: an unmatched target most likely moved as its
    /// neighbours did), plus each segment's .bss tail paired with the same segment's in the new
    /// image, stretches between two entries of one shift smoothed by the references into them
    /// (`smoothed`; `old` and `new` are the images the pairs align). At most `maxEntries`
    /// entries (the shortest are dropped).
    func transform(
        pairs: [(old: Int, new: Int, length: Int)], old: UnsafeBufferPointer<UInt8>, new: UnsafeBufferPointer<UInt8>,
        maxEntries: Int
    ) -> ReferenceTransform {
        var entries: [ReferenceTransform.MapEntry] = []
        for pair in pairs {
            var position = 0
            while position < pair.length {
                let o = Int64(pair.old + position)
                let n = Int64(pair.new + position)
                guard let ro = ReferenceTransform.region(oldRegions, containing: o) else {
                    position += Int(min(nextStart(oldRegions, after: o), Int64(pair.old + pair.length)) - o)
                    continue
                }
                guard let rn = ReferenceTransform.region(newRegions, containing: n) else {
                    position += Int(min(nextStart(newRegions, after: n), Int64(pair.new + pair.length)) - n)
                    continue
                }
                let a = oldRegions[ro]
                let b = newRegions[rn]
                let chunk = min(Int64(pair.length - position), a.fileEnd - o, b.fileEnd - n)
                entries.append(
                    ReferenceTransform.MapEntry(
                        oldAddress: a.address &+ UInt64(o - a.fileStart), length: UInt64(chunk),
                        newAddress: b.address &+ UInt64(n - b.fileStart)))
                position += Int(chunk)
            }
        }
        if oldRegions.count == newRegions.count {
            for (a, b) in zip(oldRegions, newRegions) where a.span > UInt64(a.length) {
                entries.append(
                    ReferenceTransform.MapEntry(
                        oldAddress: a.address &+ UInt64(a.length), length: a.span - UInt64(a.length),
                        newAddress: b.address &+ UInt64(b.length)))
            }
        }
        entries.sort { $0.oldAddress < $1.oldAddress || ($0.oldAddress == $1.oldAddress && $0.length > $1.length) }
        var map: [ReferenceTransform.MapEntry] = []
        for var entry in entries {
            if let last = map.last {
                let lastEnd = last.oldAddress &+ last.length
                if entry.oldAddress < lastEnd {
                    let cut = lastEnd - entry.oldAddress
                    guard cut < entry.length else { continue }
                    entry.oldAddress &+= cut
                    entry.newAddress &+= cut
                    entry.length -= cut
                }
                if entry.newAddress &- entry.oldAddress == last.newAddress &- last.oldAddress {
                    map[map.count - 1].length = entry.oldAddress &+ entry.length &- last.oldAddress
                    continue
                }
            }
            map.append(entry)
        }
        map = Self.smoothed(map, regions: oldRegions) { forEachReference(pairs: pairs, old: old, new: new, $0) }
        if map.count > maxEntries {
            let keep = Set(map.indices.sorted { map[$0].length > map[$1].length }.prefix(maxEntries))
            map = map.indices.filter { keep.contains($0) }.map { map[$0] }
        }
        return ReferenceTransform(oldRegions: oldRegions, newRegions: newRegions, map: map)
    }

    private func nextStart(_ regions: [ReferenceTransform.Region], after offset: Int64) -> Int64 {
        let lo = regions.partitioningIndex { $0.fileStart > offset }
        return lo < regions.count ? regions[lo].fileStart : Int64.max
    }
}

/// One image's site scan split over tasks: chunk `c` of `n` scans its share of `order` (blocks
/// in offset order) into `found[c]`.
private struct SiteScan: @unchecked Sendable {
    // Safe: the scanner and image are read-only, and each task writes only its own `found` slot.
    let scanner: ReferenceScanner
    let image: UnsafeBufferPointer<UInt8>
    let order: [Int64]
    let found: UnsafeMutableBufferPointer<[ReferenceSite]>

    func scan(chunk: Int, of chunks: Int) {
        var sites: [ReferenceSite] = []
        for block in order[(order.count * chunk / chunks)..<(order.count * (chunk + 1) / chunks)] {
            scanner.scan(block: block, image: image, into: &sites)
        }
        found[chunk] = sites
    }
}

extension ReferenceScanner {
    /// Scans scan block `block` of `image`.
    func scan(block: Int64, image: UnsafeBufferPointer<UInt8>, into sites: inout [ReferenceSite]) {
        let start = Int(block * ReferenceTransform.scanBlock)
        let end = min(start + Int(ReferenceTransform.scanBlock), image.count)
        scan(block: block, bytes: UnsafeBufferPointer(rebasing: image[start..<end]), into: &sites)
    }
}
