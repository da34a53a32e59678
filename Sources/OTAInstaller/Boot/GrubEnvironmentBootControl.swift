import Foundation
package import OTACore

/// Boot control in a GRUB environment block: the 1024-byte file that `grub-editenv` edits and
/// GRUB's `load_env` / `save_env` read and write at boot:
///
/// ```
/// # GRUB Environment Block
/// ota_active_ivi=a
/// ota_trial_ivi=b
/// ota_tries=3
/// ota_booted_ivi=a
/// ################...   (padding to exactly 1024 bytes)
/// ```
///
/// Keys other than `ota_*` (e.g. `saved_entry`) are kept. Values escape `\` and newline as
/// grub-editenv does. `docs/INSTALLER.md` has the matching grub.cfg fragment.
package final class GrubEnvironmentBootControl: BootControl {
    public static let header = "# GRUB Environment Block\n"
    public static let size = 1024
    public let path: String

    public init(path: String) { self.path = path }

    public var description: String { "grubenv \(path)" }

    /// Parses an environment block into its variables, in order.
    public static func parse(_ bytes: [UInt8]) throws(OTAError) -> [(String, String)] {
        guard bytes.count == size, bytes.starts(with: Array(header.utf8)) else {
            throw OTAError(.bootEnvInvalid, "not a \(size)-byte GRUB environment block")
        }
        var variables: [(String, String)] = []
        for line in bytes[header.utf8.count...].split(separator: 0x0A, omittingEmptySubsequences: true) {
            if line.first == UInt8(ascii: "#") { continue }
            guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: line[line.startIndex..<equals], as: UTF8.self)
            variables.append((key, unescape(String(decoding: line[(equals + 1)...], as: UTF8.self))))
        }
        return variables
    }

    /// Renders variables into a block, padded with `#`; refuses if they do not fit.
    public static func render(_ variables: [(String, String)]) throws(OTAError) -> [UInt8] {
        var bytes = Array(header.utf8)
        for (key, value) in variables { bytes += Array("\(key)=\(escape(value))\n".utf8) }
        guard bytes.count <= size else {
            throw OTAError(.bootEnvFull, "the GRUB environment block cannot hold \(bytes.count) bytes")
        }
        bytes += [UInt8](repeating: UInt8(ascii: "#"), count: size - bytes.count)
        return bytes
    }

    public func load() throws(OTAError) -> BootState {
        BootVariables.state(from: try Self.parse(try FileSystem.read(path, limit: 4096)))
    }

    public func store(_ state: BootState) throws(OTAError) {
        var variables: [(String, String)] = []
        if FileSystem.exists(path) {
            variables = try Self.parse(try FileSystem.read(path, limit: 4096)).filter { !BootVariables.isOurs($0.0) }
        }
        try AtomicFileWriter.write(
            try Self.render(variables + BootVariables.variables(for: state)), to: path, mode: 0o600)
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func unescape(_ value: String) -> String {
        var out = ""
        var escaping = false
        for character in value {
            if escaping {
                out.append(character == "n" ? "\n" : character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                out.append(character)
            }
        }
        return out
    }
}
