internal import Foundation
import OTACore
import OTAInstaller
import OTARecorder
import OTATUF

/// Trust material the repository lists under `trust/` (`custom.otaTrust`, see docs/FORMAT.md):
/// signed trust updates and CA CRLs. The agent fetches each new one (bounded by its signed
/// length, checked against its signed hashes) and hands it to the vehicle, which applies only
/// what its own trust store accepts; so CRLs are refreshed before an install could be refused
/// with `crl.stale`, and a revocation reaches the vehicle at its next refresh.
extension Agent {
    /// Applies the trust targets the vehicle has not seen yet: updates in version order first
    /// (they may add the CA a CRL belongs to), then CRLs. A refused item is recorded (by the
    /// vehicle) and not fetched again; a failed download is retried at the next refresh.
    func refreshTrust(_ client: TUFClient) throws(OTAError) {
        var seen = Set(loadSeenTrust())
        let storeVersion = try vehicle.trustVersion
        var updates: [(version: Int64, name: String, file: TUFTargetFile)] = []
        var crls: [(name: String, file: TUFTargetFile)] = []
        for (name, file) in try client.allTargets() {
            guard let fields = file.custom?["otaTrust"]?.object, let kind = fields["kind"]?.string else { continue }
            guard let sha256 = file.hashes["sha256"], !seen.contains(sha256) else { continue }
            switch kind {
            case "update":
                guard let version = fields["version"]?.integer, version > 0 else { continue }
                if UInt64(version) > storeVersion { updates.append((version, name, file)) }
            case "crl":
                crls.append((name, file))
            default:
                continue
            }
        }
        let ordered =
            updates.sorted { $0.version < $1.version }.map { ($0.name, $0.file) } + crls.sorted { $0.name < $1.name }
        for (name, file) in ordered {
            guard let sha256 = file.hashes["sha256"] else { continue }
            guard file.length <= Int64(TrustUpdate.maximumSize) else {
                try vehicle.recordAgentStep(
                    .agentTrust, .rejected,
                    error: OTAError(.tufTooLarge, "\(name): \(file.length) bytes is more than trust material may be"),
                    repository: RepositoryFacts(target: name))
                seen.insert(sha256)
                continue
            }
            let bytes: [UInt8]
            do throws(OTAError) {
                bytes = try client.fetchTarget(name, file, baseURL: base + "/targets")
            } catch {
                try vehicle.recordAgentStep(
                    .agentTrust, Vehicle.outcome(of: error), error: error, repository: RepositoryFacts(target: name))
                if error.kind == .rejected { seen.insert(sha256) }
                continue
            }
            do throws(OTAError) {
                try vehicle.applyTrust(bytes, source: "repository \(name)")
            } catch  where error.kind != .rejected {
                throw error
            } catch {
                // Refused and recorded by the vehicle (trust.update, fail): never applied, not fetched again.
            }
            seen.insert(sha256)
        }
        try saveSeenTrust(seen.sorted())
    }

    var seenTrustPath: String { "\(downloads)/trust-seen" }

    func loadSeenTrust() -> [String] {
        guard let bytes = try? FileSystem.read(seenTrustPath, limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func saveSeenTrust(_ hashes: [String]) throws(OTAError) {
        try AtomicFileWriter.write(Array(hashes.joined(separator: "\n").utf8), to: seenTrustPath, mode: 0o600)
    }
}
