/// Finds ELF programs in an image, for the encoder's reference transform: a whole-file ELF, or
/// ELF files at 4 KiB-aligned offsets inside a filesystem image. Only 64-bit little-endian
/// x86-64 and AArch64 ELF files count. The vehicle never parses ELF: the encoder writes the
/// regions into the patch, and the decoder only checks them against the image sizes.
enum ELFLayout {
    static let machineX86_64: UInt16 = 62
    static let machineAArch64: UInt16 = 183
    /// Embedded ELF files looked for at most (a filesystem image with more is rare).
    static let maxEmbedded = 4096
    /// The address-space base of the k-th ELF found (k from 1): 2^40 apart, so embedded
    /// programs never share addresses.
    static func base(_ k: Int) -> UInt64 { UInt64(k) << 40 }

    /// The instruction set of `image` when it is a 64-bit little-endian x86-64 or AArch64 ELF
    /// file (its header alone).
    static func architecture(of image: UnsafeBufferPointer<UInt8>) -> ReferenceArchitecture? {
        guard image.count >= 64, image[0] == 0x7F, image[1] == 0x45, image[2] == 0x4C, image[3] == 0x46,
            image[4] == 2, image[5] == 1
        else { return nil }
        switch UInt16(image[18]) | UInt16(image[19]) << 8 {
        case machineX86_64: return .x86_64
        case machineAArch64: return .aarch64
        default: return nil
        }
    }

    /// Regions of every ELF program in `image`, sorted by file offset, not overlapping.
    static func regions(in image: UnsafeBufferPointer<UInt8>) -> [ReferenceTransform.Region] {
        if let whole = program(in: image, at: 0, base: 0) { return clean(whole, size: image.count) }
        var regions: [ReferenceTransform.Region] = []
        var found = 0
        var offset = 4096
        while offset + 64 <= image.count && found < maxEmbedded {
            if image[offset] == 0x7F, image[offset + 1] == 0x45, image[offset + 2] == 0x4C, image[offset + 3] == 0x46,
                let program = program(in: image, at: offset, base: base(found + 1))
            {
                regions += program
                found += 1
            }
            offset += 4096
        }
        return clean(regions, size: image.count)
    }

    /// The PT_LOAD segments of the ELF at `start`, or nil when there is none there.
    private static func program(in image: UnsafeBufferPointer<UInt8>, at start: Int, base: UInt64)
        -> [ReferenceTransform.Region]?
    {
        let size = image.count - start
        guard size >= 64, image[start] == 0x7F, image[start + 1] == 0x45, image[start + 2] == 0x4C,
            image[start + 3] == 0x46, image[start + 4] == 2, image[start + 5] == 1
        else { return nil }
        func u16(_ at: Int) -> UInt16 { UInt16(image[start + at]) | UInt16(image[start + at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        let architecture: ReferenceArchitecture
        switch u16(18) {
        case machineX86_64: architecture = .x86_64
        case machineAArch64: architecture = .aarch64
        default: return nil
        }
        let phoff = u64(32)
        let phentsize = Int(u16(54))
        let phnum = Int(u16(56))
        guard phentsize >= 56, phnum > 0, phnum <= 256, phoff < UInt64(size),
            Int(phoff) + phnum * phentsize <= size
        else { return nil }
        var regions: [ReferenceTransform.Region] = []
        for k in 0..<phnum {
            let h = Int(phoff) + k * phentsize
            guard u32(h) == 1 else { continue }  // PT_LOAD
            let flags = u32(h + 4)
            let offset = u64(h + 8)
            let vaddr = u64(h + 16)
            let filesz = u64(h + 32)
            let memsz = u64(h + 40)
            guard offset < UInt64(size), filesz > 0, memsz >= filesz, memsz < 1 << 40, vaddr < 1 << 40 else { continue }
            let length = min(filesz, UInt64(size) - offset)
            regions.append(
                ReferenceTransform.Region(
                    fileStart: Int64(start) + Int64(offset), length: Int64(length), address: base &+ vaddr,
                    span: max(memsz, length), architecture: flags & 1 != 0 ? architecture : nil))
        }
        return regions.isEmpty ? nil : regions
    }

    /// Sorted by offset; a region overlapping the one before is cut to start after it.
    private static func clean(_ regions: [ReferenceTransform.Region], size: Int) -> [ReferenceTransform.Region] {
        var out: [ReferenceTransform.Region] = []
        for var region in regions.sorted(by: { $0.fileStart < $1.fileStart }) {
            if let last = out.last, region.fileStart < last.fileEnd {
                let cut = last.fileEnd - region.fileStart
                guard cut < region.length else { continue }
                region.fileStart += cut
                region.length -= cut
                region.address &+= UInt64(cut)
                region.span = max(region.span &- UInt64(cut), UInt64(region.length))
            }
            if region.fileEnd > Int64(size) { region.length = Int64(size) - region.fileStart }
            if region.length > 0 { out.append(region) }
        }
        return out
    }
}
