internal import Dispatch
import OTABase
internal import Synchronization

/// Scans old blocks for reference sites, and resolves their targets through the address map
/// (`ReferenceTransform.resolve`), on another thread while the decoder runs a frame's ops, so
/// this work (half of an AArch64 apply's main-thread time) overlaps the ops instead of running
/// between them.
///
/// The decoder works out, from the frame's control stream before running it, which blocks its
/// site cache will miss and in what order (`DeltaDecoder.plannedScans`); this scans them in that
/// order, at most `depth` blocks ahead of the decoder. `take` hands out the next block's sites
/// when it is the one asked for; anything else (a plan cut short by a malformed op, a failed
/// read) returns nil and the decoder scans the block itself, so the sites, and every error, are
/// those of the serial scan.
final class SitePrefetcher: @unchecked Sendable {
    // Safe: `plan`, `source`, `scanner`, `transform`, `index` and `oldSize` are only read. Slot k % depth is written by
    // the worker only between `free.wait()` and `filled.signal()` and read by the decoder only
    // between `filled.wait()` and `free.signal()`, so no slot is touched by both threads at once.
    // `cancelled` is atomic; `finish` waits for the worker before the slots are freed.
    private let plan: [Int64]
    private let source: any DirectDeltaSource
    private let scanner: ReferenceScanner
    private let transform: ReferenceTransform
    private let index: ReferenceTransform.MapIndex?
    private let oldSize: Int64
    private let slots: UnsafeMutableBufferPointer<[ReferenceTransform.ResolvedSite]?>
    private let free = DispatchSemaphore(value: 0)
    private let filled = DispatchSemaphore(value: 0)
    private let group = DispatchGroup()
    private let cancelled = Atomic<Bool>(false)
    /// The decoder's position in `plan`.
    private var next = 0
    /// Blocks scanned ahead of the decoder at most (4 cost 0.4 MiB more peak memory with
    /// 24-byte sites, which the RSS target could not spare).
    static let depth = 1
    /// Longest plan taken for one frame (a frame with more misses scans the rest itself).
    static let maxPlan = 1 << 14

    init(
        plan: [Int64], source: any DirectDeltaSource, scanner: ReferenceScanner, transform: ReferenceTransform,
        index: ReferenceTransform.MapIndex?, oldSize: Int64
    ) {
        self.plan = plan
        self.source = source
        self.scanner = scanner
        self.transform = transform
        self.index = index
        self.oldSize = oldSize
        slots = .allocate(capacity: Self.depth)
        slots.initialize(repeating: nil)
        // Counted up from 0, not created at `depth`: libdispatch refuses to free a semaphore
        // left below its initial value, as `finish` may leave this one.
        for _ in 0..<Self.depth { free.signal() }
        group.enter()
        // Its own serial queue: an overcommit thread that starts at once, even while the old
        // image's hash holds a thread of the global pool.
        DispatchQueue(label: "ota.delta.sites").async {
            self.run()
            self.group.leave()
        }
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    /// The sites of `block` when it is the next planned one, else nil (scan it yourself).
    func take(_ block: Int64) -> [ReferenceTransform.ResolvedSite]? {
        guard next < plan.count, plan[next] == block else { return nil }
        filled.wait()
        let slot = next % Self.depth
        let sites = slots[slot]
        slots[slot] = nil
        next += 1
        free.signal()
        return sites
    }

    /// Stops the worker and waits for it; call before dropping the prefetcher.
    func finish() {
        cancelled.store(true, ordering: .relaxed)
        // Wakes a worker waiting for a free slot.
        free.signal()
        group.wait()
    }

    private func run() {
        let buffer = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Int(ReferenceTransform.scanBlock), alignment: 16)
        defer { buffer.deallocate() }
        var scanned: [ReferenceSite] = []
        for (k, block) in plan.enumerated() {
            free.wait()
            if cancelled.load(ordering: .relaxed) { return }
            let start = block * ReferenceTransform.scanBlock
            let bytes = UnsafeMutableRawBufferPointer(
                rebasing: buffer[0..<Int(min(ReferenceTransform.scanBlock, oldSize - start))])
            do throws(OTAError) {
                try source.read(at: start, into: bytes)
                slots[k % Self.depth] = Self.sites(
                    block: block, bytes: UnsafeBufferPointer(bytes.bindMemory(to: UInt8.self)), scanner: scanner,
                    transform: transform, index: index, scratch: &scanned)
            } catch {
                // The decoder's own read reports it.
                slots[k % Self.depth] = nil
            }
            filled.signal()
        }
    }

    /// The resolved sites of old block `block`, whose bytes are `bytes` (`scratch` holds the
    /// scanned sites in between): what the decoder keeps per block, scanned here or by itself.
    static func sites(
        block: Int64, bytes: UnsafeBufferPointer<UInt8>, scanner: ReferenceScanner, transform: ReferenceTransform,
        index: ReferenceTransform.MapIndex?, scratch: inout [ReferenceSite]
    ) -> [ReferenceTransform.ResolvedSite] {
        scratch.removeAll(keepingCapacity: true)
        scanner.scan(block: block, bytes: bytes, into: &scratch)
        var resolved: [ReferenceTransform.ResolvedSite] = []
        resolved.reserveCapacity(scratch.count)
        scratch.withUnsafeBufferPointer { sites in
            transform.resolve(
                bytes, start: block * ReferenceTransform.scanBlock, sites: sites, index: index, into: &resolved)
        }
        // Kept at its exact size: the decoder holds several blocks' sites (16 bytes each).
        return resolved.count == resolved.capacity ? resolved : resolved.withUnsafeBufferPointer { Array($0) }
    }
}
