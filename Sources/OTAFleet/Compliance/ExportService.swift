import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// Compliance exports made by the service: `Exporter` writes the signed export (CSV, JSON
/// Lines, HTML, manifest, chain evidence) into the service's state directory with memory that
/// does not grow with the records; its files are then streamed from disk. Exports older than an
/// hour are removed when the next one is made.
struct ExportService {
    let server: FleetServer
    static let keep: TimeInterval = 3600

    var directory: String { server.configuration.stateDirectory + "/exports" }

    /// `formats=csv,jsonl,html` (default all), `vins=tokens|none` (default tokens: VINs are
    /// replaced by keyed-hash tokens, DESIGN.md), `language=en|zh-CN`, plus the record filter.
    func export(_ parameters: [String: String]) throws(OTAError) -> JSONValue {
        var filterParameters = parameters
        for key in ["formats", "vins", "language"] { filterParameters[key] = nil }
        var filter = try RecordQuery.filter(filterParameters, allowed: RecordQuery.filterKeys)
        filter.kinds = RecordFilter.factKinds
        var formats: [ExportFormat] = ExportFormat.allCases
        if let list = parameters["formats"] {
            formats = []
            for name in list.split(separator: ",") {
                guard let format = ExportFormat(rawValue: String(name)) else {
                    throw OTAError(.usageInvalid, "formats: \(name) is not csv, jsonl or html")
                }
                formats.append(format)
            }
        }
        let mode: VINPseudonymiser.Mode
        switch parameters["vins"] ?? "tokens" {
        case "tokens": mode = .ephemeral
        case "none": mode = .none
        case let other: throw OTAError(.usageInvalid, "vins=\(other): tokens or none")
        }
        let language: ExportLanguage
        switch parameters["language"] ?? "en" {
        case "en": language = .en
        case "zh-CN": language = .zhCN
        case let other: throw OTAError(.usageInvalid, "language=\(other): en or zh-CN")
        }
        removeOld()
        let id = Hex.encode(try SecureRandom.bytes(12))
        let exporter = Exporter(
            filter: filter, formats: formats, language: language, pseudonymiser: try VINPseudonymiser(mode),
            signer: server.configuration.signer, now: Date(), allowEmpty: true)
        let summary = try exporter.export(from: server.configuration.store.store, to: directory + "/" + id)
        var out = JSONObjectWriter()
        out.set("id", id)
        out.set("entries", Int64(summary.entries))
        out.set("vehicles", Int64(summary.vehicles))
        out.set("files", json: .array(summary.files.map { .string("/v1/exports/\(id)/\($0)") }))
        return out.value
    }

    /// The path of one file of an export (`name`, or `directory/name` for chain evidence); ids
    /// and names are checked, so no path leaves the exports directory.
    func file(id: String, components: [String]) throws(OTAError) -> String {
        func plain(_ name: String) -> Bool {
            !name.isEmpty && name.utf8.count <= 128 && !name.hasPrefix(".")
                && name.utf8.allSatisfy {
                    (0x30...0x39).contains($0) || (0x41...0x5a).contains($0) || (0x61...0x7a).contains($0) || $0 == 0x2e
                        || $0 == 0x2d || $0 == 0x5f
                }
        }
        guard id.utf8.count == 24, id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }),
            (1...2).contains(components.count), components.allSatisfy(plain)
        else { throw OTAError(.usageInvalid, "no such export file") }
        let path = directory + "/" + id + "/" + components.joined(separator: "/")
        guard FileSystem.exists(path), !FileSystem.isDirectory(path) else {
            throw OTAError(.usageInvalid, "no such export file: \(id)/\(components.joined(separator: "/"))")
        }
        return path
    }

    private func removeOld() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            let path = directory + "/" + name
            if let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                Date().timeIntervalSince(date) > Self.keep
            {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }
}
