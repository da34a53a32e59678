import Foundation

/// A minimal ustar writer for crafting hostile archives (symlinks, devices, odd names, sizes
/// that lie): what an attacker could put in a bundle file.
struct RawTar {
    enum EntryType: UInt8 {
        case regular = 0x30, hardLink = 0x31, symbolicLink = 0x32, characterDevice = 0x33, blockDevice = 0x34, directory = 0x35, fifo = 0x36
    }

    struct Entry {
        var name: String
        var data: [UInt8]
        var type: EntryType = .regular
        var linkName: String = ""
        /// The size written in the header; defaults to the data's size.
        var declaredSize: UInt64? = nil
    }

    static func header(_ entry: Entry) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: UInt64, at offset: Int, length: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits, at: offset, length: length - 1)
        }
        put(entry.name, at: 0, length: 100)
        octal(0o644, at: 100, length: 8)
        octal(0, at: 108, length: 8)
        octal(0, at: 116, length: 8)
        octal(entry.declaredSize ?? UInt64(entry.data.count), at: 124, length: 12)
        octal(0, at: 136, length: 12)
        block[156] = entry.type.rawValue
        put(entry.linkName, at: 157, length: 100)
        put("ustar", at: 257, length: 6)
        put("00", at: 263, length: 2)
        for index in 148..<156 { block[index] = 0x20 }
        let sum = block.reduce(0) { $0 + UInt64($1) }
        let checksum = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - checksum.count) + checksum, at: 148, length: 6)
        block[154] = 0
        block[155] = 0x20
        return block
    }

    static func archive(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        for entry in entries {
            out += header(entry)
            out += entry.data
            let remainder = entry.data.count % 512
            if remainder != 0 { out += [UInt8](repeating: 0, count: 512 - remainder) }
        }
        out += [UInt8](repeating: 0, count: 1024)
        return out
    }
}
