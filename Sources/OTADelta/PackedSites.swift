internal import OTABase

/// Reference sites in offset order, packed to ~3 bytes a site instead of 16 (per site its offset
/// step, kind and context, the steps and contexts as zigzag varints): how the encoder holds the
/// sites it does not read while the suffix index is built and searched.
struct PackedSites {
    private let bytes: [UInt8]
    /// How many sites `bytes` holds.
    let count: Int

    init(_ sites: [ReferenceSite]) {
        @inline(__always) func fields(_ site: ReferenceSite, after previous: Int64) -> (UInt64, UInt64) {
            (Varint.zigzag(site.offset - previous), Varint.zigzag(Int64(Int32(bitPattern: site.context))))
        }
        var size = 0
        var previous: Int64 = 0
        for site in sites {
            let (step, context) = fields(site, after: previous)
            size += Varint.byteCount(step) + 1 + Varint.byteCount(context)
            previous = site.offset
        }
        var packed: [UInt8] = []
        packed.reserveCapacity(size)
        previous = 0
        for site in sites {
            let (step, context) = fields(site, after: previous)
            Varint.append(step, to: &packed)
            packed.append(site.kind.rawValue)
            Varint.append(context, to: &packed)
            previous = site.offset
        }
        bytes = packed
        count = sites.count
    }

    /// Each site, in order.
    func forEach(_ body: (ReferenceSite) -> Void) {
        bytes.withUnsafeBufferPointer { bytes in
            var cursor = 0
            func next() -> UInt64 {
                guard case .value(let value, let after)? = try? Varint.read(bytes, at: cursor) else {
                    preconditionFailure("packed sites are written by PackedSites.init")
                }
                cursor = after
                return value
            }
            var offset: Int64 = 0
            for _ in 0..<count {
                offset += Varint.unzigzag(next())
                let kind = ReferenceKind(rawValue: bytes[cursor])!
                cursor += 1
                let context = UInt32(bitPattern: Int32(truncatingIfNeeded: Varint.unzigzag(next())))
                body(ReferenceSite(offset: offset, kind: kind, context: context))
            }
        }
    }
}
