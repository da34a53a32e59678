import ArgumentParser
import Foundation
import OTACore

/// `ota trust show --trust DIR`: version, thresholds, anchors and CRLs (with their freshness).
struct TrustShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a trust store: version, thresholds, anchors, CRLs and which CRLs are stale.")

    @Option(help: "Trust store directory.")
    var trust: String

    @Option(help: "Judge CRL freshness at this time (ISO 8601) instead of now.")
    var at: String?

    @OptionGroup var output: OutputOptions

    struct Report: Encodable {
        struct Role: Encodable {
            let role: String
            let threshold: Int
            let anchors: [String]
            let crls: [String]
            let staleCRLs: [String]
        }
        let trust: String
        let version: UInt64
        let digest: String
        let roles: [Role]
    }

    func run() throws {
        let now = try at.map { text throws(OTAError) in try parseTime(text, option: "--at") } ?? Date()
        let contents = try TrustStoreContents(directory: trust)
        let metadata = try contents.metadata
        let store = try TrustStore(directory: trust)
        var roles: [Report.Role] = []
        for role in TrustRole.allCases {
            let anchors = (try? store.anchors(for: role)) ?? []
            let crls = try store.revocationLists(for: role)
            guard !anchors.isEmpty || !crls.isEmpty else { continue }
            roles.append(
                Report.Role(
                    role: role.rawValue, threshold: metadata.threshold(role),
                    anchors: anchors.map { "\($0.subject) (\($0.fingerprint.prefix(16)))" },
                    crls: crls.map { "\($0.issuer) next update \(Timestamp.format($0.nextUpdate ?? $0.thisUpdate))" },
                    staleCRLs: crls.filter { ($0.nextUpdate ?? .distantFuture) <= now }.map(\.issuer)))
        }
        let report = Report(trust: trust, version: metadata.version, digest: try contents.digest().hex, roles: roles)
        var lines = ["\(trust): version \(report.version)"]
        for role in roles {
            lines.append("  \(role.role) (update threshold \(role.threshold))")
            lines += role.anchors.map { "    anchor \($0)" }
            lines += role.crls.map { "    CRL \($0)" }
            lines += role.staleCRLs.map { "    STALE: \($0) — refresh with ota trust apply / ota vehicle trust" }
        }
        Output.succeed(report, human: lines.joined(separator: "\n"), json: output.json)
    }
}
