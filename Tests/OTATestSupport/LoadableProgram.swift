/// x86-64 ELF programs with one loadable, executable segment over the whole file: enough for the
/// executable transform's matching to run (`ELFLayout` finds their code), so the encoder knows
/// every op before it writes the first, as with a real program.
public enum LoadableProgram {
    /// An old program of 64 KiB of random code and a new one that inserts `inserted` bytes in its
    /// middle, drawn from 16 values: they compress to about half, so LZMA2 codes them (random
    /// bytes it would store as they are, whatever the encoder's state).
    public static func pair(inserting inserted: Int, seed: UInt64) -> (old: [UInt8], new: [UInt8]) {
        var generator = SeededGenerator(seed: seed)
        func random(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) } }
        let code = random(64 << 10)
        let old = program(code)
        let inserts = (0..<inserted).map { _ in UInt8(generator.next() % 16) }
        let new = program(Array(code.prefix(32 << 10)) + inserts + code.suffix(32 << 10))
        return (old, new)
    }

    /// `code` behind an ELF header and one PT_LOAD program header (read and execute) that maps
    /// the whole file.
    public static func program(_ code: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 120)
        func put(_ value: UInt64, at: Int, bytes: Int) {
            for k in 0..<bytes { out[at + k] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(k))) }
        }
        out.replaceSubrange(0..<7, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1])
        put(3, at: 16, bytes: 2)  // ET_DYN
        put(62, at: 18, bytes: 2)  // EM_X86_64
        put(1, at: 20, bytes: 4)
        put(64, at: 32, bytes: 8)  // e_phoff
        put(64, at: 52, bytes: 2)
        put(56, at: 54, bytes: 2)
        put(1, at: 56, bytes: 2)
        let size = UInt64(out.count + code.count)
        put(1, at: 64, bytes: 4)  // PT_LOAD
        put(5, at: 68, bytes: 4)  // PF_R | PF_X
        put(0x40_0000, at: 80, bytes: 8)
        put(0x40_0000, at: 88, bytes: 8)
        put(size, at: 96, bytes: 8)
        put(size, at: 104, bytes: 8)
        put(0x1000, at: 112, bytes: 8)
        return out + code
    }
}
