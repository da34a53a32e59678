import OTACore
import OTATestSupport

@testable import OTADelta

/// Small ELF64 programs made by code, for the executable transform's tests: functions that call
/// each other and load data addresses, laid out in a code segment and a data segment (with
/// .bss), the way a compiler and linker would. A second version inserts functions and data, so
/// every later call and address shifts, as in a real update.
enum SyntheticELF {
    enum Machine { case x86_64, aarch64 }

    /// Function ids in layout order, and the data bytes inserted at the data segment's start.
    struct Version {
        var functions: [Int]
        var dataInsert: Int
        /// Ids whose bodies changed a little (a patched function).
        var edited: Set<Int> = []
    }

    static let oldVersion = Version(functions: Array(0..<400), dataInsert: 0)
    static let newVersion: Version = {
        var functions = Array(0..<400)
        functions.insert(contentsOf: [1000, 1001], at: 120)
        functions.insert(1002, at: 300)
        functions.remove(at: 50)
        return Version(functions: functions, dataInsert: 96, edited: [7, 210, 333])
    }()

    /// One instruction of a function body before layout.
    enum Piece {
        case bytes([UInt8])
        case call(Int)
        case data(Int)
    }

    static func body(_ id: Int, machine: Machine, edited: Bool) -> [Piece] {
        var generator = SeededGenerator(seed: UInt64(id) &* 7919 &+ 17)
        var pieces: [Piece] = []
        let count = 8 + Int(generator.next() % 40)
        let x86Filler: [[UInt8]] = [
            [0x48, 0x89, 0xC7], [0x48, 0x83, 0xC4, 0x08], [0x31, 0xC0], [0x5D], [0x41, 0x57], [0x48, 0x8B, 0x47, 0x10],
            [0x85, 0xC0], [0x74, 0x12], [0x48, 0x89, 0x5C, 0x24, 0x08], [0xC3], [0x66, 0x90], [0x0F, 0x1F, 0x40, 0x00],
        ]
        let a64Filler: [UInt32] = [
            0xAA01_03E0, 0xD100_43FF, 0xF940_0400, 0x8B02_0020, 0xA9BF_7BFD, 0x9100_03FD, 0xD65F_03C0, 0xB940_0001,
        ]
        for k in 0..<count {
            let r = generator.next() % 10
            if r < 2 {
                pieces.append(.call(Int(generator.next() % 400)))
            } else if r < 3 {
                pieces.append(.data(Int(generator.next() % 8000) * 2))
            } else {
                switch machine {
                case .x86_64:
                    var bytes = x86Filler[Int(generator.next() % UInt64(x86Filler.count))]
                    if edited && k == count / 2 { bytes = [0x48, 0x83, 0xC0, 0x2A] }
                    pieces.append(.bytes(bytes))
                case .aarch64:
                    var word = a64Filler[Int(generator.next() % UInt64(a64Filler.count))]
                    if edited && k == count / 2 { word = 0x9100_A800 }
                    pieces.append(.bytes(withUnsafeBytes(of: word.littleEndian) { Array($0) }))
                }
            }
        }
        return pieces
    }

    static func pieceSize(_ piece: Piece, machine: Machine) -> Int {
        switch (piece, machine) {
        case (.bytes(let b), _): b.count
        case (.call, .x86_64): 5
        case (.data, .x86_64): 7
        case (.call, .aarch64): 4
        case (.data(let offset), .aarch64): offset % 4 == 0 ? 12 : 8
        }
    }

    /// The program's bytes: ELF header, two program headers, code at 0x1000, data after it.
    static func image(_ version: Version, machine: Machine) -> [UInt8] {
        let codeOffset = 0x1000
        let codeAddress: UInt64 = 0x1000
        var bodies: [Int: [Piece]] = [:]
        var starts: [Int: Int] = [:]
        var cursor = 0
        for id in version.functions {
            let pieces = body(id, machine: machine, edited: version.edited.contains(id))
            bodies[id] = pieces
            starts[id] = cursor
            cursor += pieces.reduce(0) { $0 + pieceSize($1, machine: machine) }
            cursor = (cursor + 15) & ~15
        }
        let codeSize = cursor
        let dataOffset = (codeOffset + codeSize + 0xFFF) & ~0xFFF
        let dataAddress = UInt64(dataOffset) + 0x10_0000
        let dataSize = 16_384 + version.dataInsert
        let bssSize: UInt64 = 0x4000
        var out = [UInt8](repeating: 0, count: dataOffset + dataSize)
        // Code.
        for id in version.functions {
            var at = codeOffset + starts[id]!
            for piece in bodies[id]! {
                let address = codeAddress + UInt64(at - codeOffset)
                switch (piece, machine) {
                case (.bytes(let b), _):
                    out.replaceSubrange(at..<(at + b.count), with: b)
                case (.call(let callee), .x86_64):
                    let target = codeAddress + UInt64(starts[callee] ?? 0)
                    out[at] = 0xE8
                    put32(&out, at + 1, UInt32(truncatingIfNeeded: Int64(target) - Int64(address + 5)))
                case (.data(let offset), .x86_64):
                    let target = dataAddress + UInt64(version.dataInsert + offset)
                    out.replaceSubrange(at..<(at + 3), with: [0x48, 0x8D, 0x05])
                    put32(&out, at + 3, UInt32(truncatingIfNeeded: Int64(target) - Int64(address + 7)))
                case (.call(let callee), .aarch64):
                    let target = codeAddress + UInt64(starts[callee] ?? 0)
                    let imm = UInt32(truncatingIfNeeded: (Int64(target) - Int64(address)) >> 2) & 0x3FF_FFFF
                    put32(&out, at, 0x9400_0000 | imm)
                case (.data(let offset), .aarch64):
                    let target = dataAddress + UInt64(version.dataInsert + offset)
                    let pages = (Int64(target) >> 12) - (Int64(address) >> 12)
                    let field = UInt32(truncatingIfNeeded: pages) & 0x1F_FFFF
                    put32(&out, at, 0x9000_0000 | (field & 3) << 29 | (field >> 2) << 5)
                    if offset % 4 == 0 {
                        // mov x2, x1; ldrb w1, [x0, #lo12]: a load one instruction after its ADRP.
                        put32(&out, at + 4, 0xAA01_03E2)
                        put32(&out, at + 8, 0x3940_0001 | UInt32(target & 0xFFF) << 10)
                    } else {
                        put32(&out, at + 4, 0x9100_0000 | UInt32(target & 0xFFF) << 10)
                    }
                }
                at += pieceSize(piece, machine: machine)
            }
        }
        // Data: text-like bytes, after the inserted ones.
        let text = RoundTripTests.texty(16_384, seed: 77)
        out.replaceSubrange((dataOffset + version.dataInsert)..<(dataOffset + dataSize), with: text)
        for k in 0..<version.dataInsert { out[dataOffset + k] = UInt8(truncatingIfNeeded: k * 13) }
        // ELF header and program headers.
        out.replaceSubrange(0..<16, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        put16(&out, 16, 3)
        put16(&out, 18, machine == .x86_64 ? 62 : 183)
        put32(&out, 20, 1)
        put64(&out, 32, 64)
        put16(&out, 52, 64)
        put16(&out, 54, 56)
        put16(&out, 56, 2)
        func phdr(_ index: Int, flags: UInt32, offset: Int, address: UInt64, filesz: Int, memsz: UInt64) {
            let h = 64 + index * 56
            put32(&out, h, 1)
            put32(&out, h + 4, flags)
            put64(&out, h + 8, UInt64(offset))
            put64(&out, h + 16, address)
            put64(&out, h + 24, address)
            put64(&out, h + 32, UInt64(filesz))
            put64(&out, h + 40, memsz)
            put64(&out, h + 48, 0x1000)
        }
        phdr(0, flags: 5, offset: codeOffset, address: codeAddress, filesz: codeSize, memsz: UInt64(codeSize))
        phdr(1, flags: 6, offset: dataOffset, address: dataAddress, filesz: dataSize, memsz: UInt64(dataSize) + bssSize)
        return out
    }

    static func put16(_ out: inout [UInt8], _ at: Int, _ value: UInt16) {
        out[at] = UInt8(truncatingIfNeeded: value)
        out[at + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }

    static func put32(_ out: inout [UInt8], _ at: Int, _ value: UInt32) {
        for k in 0..<4 { out[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))) }
    }

    static func put64(_ out: inout [UInt8], _ at: Int, _ value: UInt64) {
        for k in 0..<8 { out[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
    }
}
