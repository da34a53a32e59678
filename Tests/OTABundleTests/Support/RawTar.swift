import Foundation

/// A minimal ustar writer for crafting hostile archives (symlinks, devices, odd names, sizes
/// that lie): what an attacker could put in a bundle file.
struct RawTar {
    enum EntryType: UInt8 {
        case regular = 0x30, hardLink = 0x31, symbolicLink = 0x32, characterDevice = 0x33, blockDevice = 0x34,
            directory = 0x35, fifo = 0x36
        case contiguous = 0x37, oldRegular = 0x00
        /// Extension headers: pax per-file (`x`) and global (`g`), GNU long name (`L`) and long link (`K`).
        case pax = 0x78, paxGlobal = 0x67, gnuLongName = 0x4C, gnuLongLink = 0x4B
    }

    struct Entry {
        var name: String
        var data: [UInt8]
        var type: EntryType = .regular
        var linkName: String = ""
        /// The size written in the header; defaults to the data's size.
        var declaredSize: UInt64? = nil
        /// The magic and version fields (`ustar\0` + `00` for POSIX; GNU tar writes `ustar  \0`).
        var magic: [UInt8] = Array("ustar\0".utf8) + Array("00".utf8)
        /// The ustar name prefix field.
        var prefix: String = ""
    }

    /// A pax extended header entry carrying `records` (`key=value` each).
    static func pax(_ records: [(String, String)], type: EntryType = .pax) -> Entry {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count != length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        return Entry(name: "PaxHeader/x", data: data, type: type)
    }

    static func header(_ entry: Entry) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, length: Int) {
            for (index, byte) in text.utf8.prefix(length).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: UInt64, at offset: Int, length: Int) {
            let digits = String(value, radix: 8)
            put(
                String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits, at: offset,
                length: length - 1)
        }
        put(entry.name, at: 0, length: 100)
        octal(0o644, at: 100, length: 8)
        octal(0, at: 108, length: 8)
        octal(0, at: 116, length: 8)
        octal(entry.declaredSize ?? UInt64(entry.data.count), at: 124, length: 12)
        octal(0, at: 136, length: 12)
        block[156] = entry.type.rawValue
        put(entry.linkName, at: 157, length: 100)
        for (index, byte) in entry.magic.prefix(8).enumerated() { block[257 + index] = byte }
        put(entry.prefix, at: 345, length: 155)
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
