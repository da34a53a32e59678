package import OTACore

/// Boot control in a U-Boot environment as `fw_setenv` / `fw_printenv` read and write it (a
/// non-redundant environment of `size` bytes, e.g. the file or partition named in
/// `/etc/fw_env.config`):
///
/// ```
/// CRC32 (little-endian, IEEE) of the data area | key=value\0key=value\0...\0\0 | 0xFF padding
/// ```
///
/// A block whose CRC does not match is refused (`boot.env-crc`), as U-Boot would fall back to
/// its default environment. Variables other than `ota_*` are kept. `docs/INSTALLER.md` has a
/// matching `bootcmd` fragment.
package final class UBootEnvironmentBootControl: BootControl {
    public let path: String
    public let size: Int

    public init(path: String, size: Int = 0x2000) {
        self.path = path
        self.size = size
    }

    public var description: String { "u-boot env \(path)" }

    /// The variables of an environment block, in order; checks size and CRC.
    public static func parse(_ bytes: [UInt8], size: Int) throws(OTAError) -> [(String, String)] {
        guard bytes.count == size, size > 6 else {
            throw OTAError(.bootEnvInvalid, "not a \(size)-byte U-Boot environment")
        }
        let stored = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        guard CRC32.checksum(bytes[4...]) == stored else {
            throw OTAError(.bootEnvCrc, "the U-Boot environment's CRC does not match its data")
        }
        var variables: [(String, String)] = []
        var index = 4
        while index < bytes.count, bytes[index] != 0 {
            guard let end = bytes[index...].firstIndex(of: 0) else {
                throw OTAError(.bootEnvInvalid, "unterminated U-Boot environment")
            }
            let entry = bytes[index..<end]
            if let equals = entry.firstIndex(of: UInt8(ascii: "=")) {
                variables.append(
                    (
                        String(decoding: entry[..<equals], as: UTF8.self),
                        String(decoding: entry[(equals + 1)...], as: UTF8.self)
                    ))
            }
            index = end + 1
        }
        return variables
    }

    /// Renders variables into a block of `size` bytes with its CRC.
    public static func render(_ variables: [(String, String)], size: Int) throws(OTAError) -> [UInt8] {
        var data: [UInt8] = []
        for (key, value) in variables {
            guard !key.utf8.contains(0), !value.utf8.contains(0), !key.contains("=") else {
                throw OTAError(.bootVariableName, "U-Boot variables cannot hold NUL or '=' in names")
            }
            data += Array("\(key)=\(value)".utf8) + [0]
        }
        data.append(0)
        guard data.count <= size - 4 else {
            throw OTAError(.bootEnvFull, "the U-Boot environment cannot hold \(data.count) bytes")
        }
        data += [UInt8](repeating: 0xFF, count: size - 4 - data.count)
        let crc = CRC32.checksum(data[...])
        return [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)] + data
    }

    public func load() throws(OTAError) -> BootState {
        BootVariables.state(from: try Self.parse(try FileSystem.read(path, limit: size + 1), size: size))
    }

    public func store(_ state: BootState) throws(OTAError) {
        var variables: [(String, String)] = []
        if FileSystem.exists(path) {
            variables = try Self.parse(try FileSystem.read(path, limit: size + 1), size: size).filter {
                !BootVariables.isOurs($0.0)
            }
        }
        try AtomicFileWriter.write(
            try Self.render(variables + BootVariables.variables(for: state), size: size), to: path, mode: 0o600)
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and U-Boot compute it).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
