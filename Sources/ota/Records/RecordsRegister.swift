import ArgumentParser
import Foundation
import OTACompliance
import OTACore
import OTARecorder

/// `ota records register`: the software identification register (R156 §7.1.2, GB 44496): what
/// ran on each ECU of a vehicle, with which SWIN and RXSWIN, since when; or which vehicles run a
/// given SWIN now.
struct RecordsRegister: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract:
            "Software identification register: a vehicle's history (--vin), or the vehicles running a SWIN/RXSWIN now.",
        discussion: """
            From the fleet store (--store), or from one vehicle's own log (--log with --key).
            Delivery software comes from vehicle.init; each committed update from its result record.
            """)

    @Option(help: "The fleet store (SQLite file).") var store: String?
    @Option(help: "A vehicle's record log instead of the store.") var log: String?
    @Option(help: "The device key that signs the log (with --log).") var key: String?
    @Option(help: "The vehicle.") var vin: String?
    @Option(help: "Vehicles whose ECU runs this SWIN now.") var swin: String?
    @Option(help: "Vehicles whose ECU runs this RXSWIN now.") var rxswin: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (store == nil) != (log == nil) else { throw ValidationError("give --store or --log") }
        if store != nil, (vin != nil) == (swin != nil || rxswin != nil) {
            throw ValidationError("give --vin, or --swin / --rxswin")
        }
        if log != nil, key == nil { throw ValidationError("--log needs --key (the device key that signs it)") }
    }

    func run() throws {
        let changes: [SoftwareChange]
        if let log {
            changes = try Self.fromLog(log, key: try DeviceKey.load(key!)).filter { change in
                (swin == nil || change.swinAfter == swin) && (rxswin == nil || change.rxswinAfter == rxswin)
            }
        } else if let vin {
            changes = try SQLiteRecordStore(path: store!).softwareHistory(of: vin)
        } else {
            changes = try SQLiteRecordStore(path: store!).vehicles(runningSWIN: swin, rxswin: rxswin)
        }
        let human = changes.map { change in
            "\(change.vin) \(change.ecu): \(change.versionBefore ?? "–") → \(change.versionAfter ?? "–")"
                + " SWIN \(change.swinBefore ?? "–") → \(change.swinAfter ?? "–")"
                + (change.rxswinAfter.map { " RXSWIN \(change.rxswinBefore ?? "–") → \($0)" } ?? "")
                + " at \(change.time)" + (change.bundle.map { " (\($0))" } ?? " (delivery)")
        }.joined(separator: "\n")
        Output.succeed(changes, human: human.isEmpty ? "no register entries" : human, json: output.json)
    }

    /// The register read from a log that verifies (a log that does not is refused).
    static func fromLog(_ directory: String, key: PublicKey) throws(OTAError) -> [SoftwareChange] {
        var changes: [SoftwareChange] = []
        let vin = try LogMeta.load(LogLayout(directory: directory)).vin
        let report = try LogVerifier(directory: directory, publicKey: key).verify { verified throws(OTAError) in
            if case .record(let record) = verified.body {
                changes += SoftwareChange.changes(vin: vin, seq: verified.entry.seq, record: record)
            }
        }
        guard report.intact else { throw RecordsSupport.fail(report, log: directory) }
        return changes
    }
}
