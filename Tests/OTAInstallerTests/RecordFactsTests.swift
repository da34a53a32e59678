import Foundation
import OTACompliance
import OTACore
import OTAInstaller
import OTARecorder
import Testing

/// Every fact of an install attempt, read back from the vehicle's tamper-evident log and from
/// each export format (JSON Lines, CSV, HTML), for a full install, a delta install, three refused
/// installs and a rollback after a failed boot.
@Suite("Record facts, installer to export")
struct RecordFactsTests {
    /// The vehicle's records, an export of them (VINs revealed) verified by a third party, and
    /// the export's rows.
    struct Evidence {
        let records: [UpgradeRecord]
        let jsonl: [UpgradeRecord]
        let csv: [[String: String]]
        let html: String

        var result: UpgradeRecord? { records.last { $0.step == .result } }
    }

    static func evidence(_ fixture: InstallerFixture, _ vehicle: String, language: ExportLanguage = .en) throws
        -> Evidence
    {
        let records = try InstallerFixture.records(vehicle)
        let store = try SQLiteRecordStore(path: fixture.directory + "/fleet-\(UUID().uuidString).db", mode: .create)
        let key = try PrivateKey(contentsOf: "\(vehicle)/keys/device.key").publicKey
        _ = try FleetIngest.ingest(
            log: "\(vehicle)/records", publicKey: key,
            certificate: String(decoding: try FileSystem.read("\(fixture.keys)/vehicle/device.crt"), as: UTF8.self),
            into: store)
        let out = fixture.directory + "/export-\(UUID().uuidString)"
        let signer = try ExportSigner(
            key: PrivateKey(contentsOf: "\(fixture.keys)/compliance/compliance-signer.key"),
            certificate: Certificate.load(contentsOf: "\(fixture.keys)/compliance/compliance-signer.crt")[0])
        _ = try Exporter(
            filter: RecordFilter(), formats: ExportFormat.allCases, language: language,
            pseudonymiser: try VINPseudonymiser(.none),
            signer: signer, now: Date()
        ).export(from: store, to: out)
        let verification = try ExportManifest.verify(
            directory: out, trust: try TrustStore(directory: "\(fixture.keys)/trust"), at: Date())
        #expect(verification.intact, "\(verification.problems) \(verification.evidenceProblems)")
        var jsonl: [UpgradeRecord] = []
        for line in try String(contentsOfFile: out + "/records.jsonl", encoding: .utf8).split(separator: "\n") {
            let row = try JSONValue.parse(Array(line.utf8))
            if row["kind"]?.stringValue == "record", let entry = row["entry"] {
                jsonl.append(try UpgradeRecord(json: entry, vin: try #require(row["vin"]?.stringValue)))
            }
        }
        let csvText = try String(contentsOfFile: out + "/records.csv", encoding: .utf8)
        let table = CSVTable.parse(String(csvText.dropFirst()))
        let header = table[0]
        let csv = table.dropFirst().map { Dictionary(zip(header, $0), uniquingKeysWith: { a, _ in a }) }
        return Evidence(
            records: records, jsonl: jsonl, csv: csv,
            html: try String(contentsOfFile: out + "/report.html", encoding: .utf8))
    }

    /// Checks the facts every attempt's result carries, in the log and in every export format.
    static func expectAttempt(
        _ evidence: Evidence, outcome: RecordOutcome, errorCode: String?, ecus: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let result = try #require(evidence.result, "no result record", sourceLocation: sourceLocation)
        #expect(result.vin == InstallerFixture.vin, sourceLocation: sourceLocation)
        #expect(
            result.outcome == outcome && result.errorCode == errorCode, "\(result.outcome) \(result.errorCode ?? "-")",
            sourceLocation: sourceLocation)
        #expect(result.time.source == .rtc || result.time.source == .signedFloor, sourceLocation: sourceLocation)
        let update = try #require(result.update, sourceLocation: sourceLocation)
        #expect(update.campaign == "CAMP-1" && update.manifestDigest?.count == 64, sourceLocation: sourceLocation)
        #expect(
            update.signers.contains { $0.subject.contains("Release Signer") && $0.keyID.count == 64 },
            "\(update.signers)", sourceLocation: sourceLocation)
        #expect(result.ecus.map(\.ecu) == ecus, sourceLocation: sourceLocation)
        for ecu in result.ecus {
            #expect(
                ecu.versionBefore == "1.0.0" && ecu.securityVersionBefore != nil && ecu.securityVersionAfter != nil,
                sourceLocation: sourceLocation)
            #expect(
                ecu.swinBefore == "\(ecu.ecu == "ECU0" ? "SW-0" : "SW-1")-OLD"
                    && ecu.swinAfter?.hasPrefix(ecu.ecu == "ECU0" ? "SW-0-" : "SW-1-") == true,
                "\(ecu)", sourceLocation: sourceLocation)
            #expect(
                ecu.imageHashBefore?.count == 64 && ecu.imageHashAfter?.count == 64 && ecu.hardwarePart != nil,
                sourceLocation: sourceLocation)
        }
        #expect(
            result.started != nil && result.finished != nil && result.durationMs != nil, sourceLocation: sourceLocation)
        #expect(
            result.finished!.milliseconds - result.started!.milliseconds == result.durationMs,
            sourceLocation: sourceLocation)
        // The result notices shown, both languages, with the digests of what a head unit shows.
        #expect(result.resultNotices.map(\.language) == ["en", "zh-CN"], sourceLocation: sourceLocation)
        var draft = result
        draft.resultNotices = []
        for (shown, language) in zip(result.resultNotices, RecordLanguage.allCases) {
            #expect(
                try ResultNotice(record: draft, language: language).shown(hash: .sha256) == shown,
                sourceLocation: sourceLocation)
        }
        // JSON Lines: the same typed records, every one.
        #expect(evidence.jsonl == evidence.records, sourceLocation: sourceLocation)
        // CSV: the result row of each ECU names every fact.
        for ecu in result.ecus {
            let row = try #require(
                evidence.csv.first {
                    $0["Step"] == "Update result" && $0["ECU"] == ecu.ecu && $0["Attempt"] == result.attempt
                },
                sourceLocation: sourceLocation)
            let expected: [String: String] = [
                "VIN": InstallerFixture.vin, "Bundle": update.bundle, "Campaign": update.campaign,
                "Manifest digest": update.manifestDigest!,
                "Result": outcome.label(.en), "Error code": errorCode ?? "", "Version before": ecu.versionBefore ?? "",
                "Version after": ecu.versionAfter ?? "",
                "Security version before": ecu.securityVersionBefore.map(String.init) ?? "",
                "Security version after": ecu.securityVersionAfter.map(String.init) ?? "",
                "SWIN before": ecu.swinBefore ?? "",
                "SWIN after": ecu.swinAfter ?? "", "Image hash before": ecu.imageHashBefore ?? "",
                "Image hash after": ecu.imageHashAfter ?? "",
                "Hardware part": ecu.hardwarePart ?? "", "Started": result.started!.text,
                "Finished": result.finished!.text,
                "Duration (ms)": String(result.durationMs!), "Time source": result.time.source.label(.en),
                "Notice digest": result.notice?.digest ?? "", "Notice language": result.notice?.language ?? "",
                "Confirmed by": result.confirmation?.party.label(.en) ?? "",
                "Confirmation channel": result.confirmation?.channel ?? "",
                "Answer": result.confirmation?.answer.label(.en) ?? "",
                "Answered at": result.confirmation?.at.text ?? "",
                "Battery (%)": result.preconditions?.batteryPercent.map(String.init) ?? "",
                "Gear": result.preconditions?.gear ?? "",
                "Approval number": update.approval?.number ?? "",
                "Approval authority": update.approval?.authority ?? "",
                "Filing": update.references(.filing).map { "\($0.number) (\($0.authority))" }.joined(separator: "; "),
                "Change categories": update.categories.map { $0.label(.en) }.joined(separator: "; "),
                "Signers": update.signers.map { "\($0.subject) [\($0.keyID.prefix(16))]" }.joined(separator: "; "),
                "Result notices": result.resultNotices.map { "\($0.language) \($0.digest)" }.joined(separator: "; "),
            ]
            for (column, value) in expected {
                #expect(
                    row[column] == value, "CSV column \(column): \(row[column] ?? "missing") ≠ \(value)",
                    sourceLocation: sourceLocation)
            }
        }
        // HTML: the result entry, highlighted when it failed, with the facts.
        let resultSeq = try #require(Self.seq(of: result, in: evidence), sourceLocation: sourceLocation)
        let item = try #require(Self.htmlItem(evidence.html, seq: resultSeq), sourceLocation: sourceLocation)
        #expect(
            item.contains("outcome-\(outcome.rawValue)") && item.contains("step-result"), sourceLocation: sourceLocation
        )
        #expect(
            item.contains(" failed") == outcome.isFailure, "failure highlight: \(item.prefix(200))",
            sourceLocation: sourceLocation)
        for fact in [update.bundle, update.manifestDigest!] + result.ecus.compactMap(\.swinAfter)
            + result.ecus.compactMap(\.imageHashAfter) + [errorCode].compactMap({ $0 })
        {
            #expect(item.contains(fact), "report lacks \(fact)", sourceLocation: sourceLocation)
        }
    }

    /// The log's entry number of a record (the export keys rows by it).
    static func seq(of record: UpgradeRecord, in evidence: Evidence) -> UInt64? {
        // Records are written in order; the export's rows carry entry numbers, the report items
        // `data-seq`. Find the item whose facts are this record's: the attempt and step.
        let marker = "data-seq=\""
        var found: UInt64? = nil
        for item in evidence.html.components(separatedBy: "<li ").dropFirst()
        where item.contains("step-\(record.step.rawValue.replacingOccurrences(of: ".", with: "-"))")
            && item.contains(record.attempt ?? "")
        {
            if let range = item.range(of: marker) {
                found = UInt64(item[range.upperBound...].prefix { $0.isNumber })
            }
        }
        return found
    }

    static func htmlItem(_ html: String, seq: UInt64) -> String? {
        html.components(separatedBy: "<li ").first { $0.contains("data-seq=\"\(seq)\"") }
    }

    // MARK: Scenarios

    @Test func `a full install, booted and committed: every fact, in the log and every export`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let report = try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        try Vehicle(directory: vehicle).reboot()
        let confirmed = try Vehicle(directory: vehicle)
        try confirmed.confirmBoot()
        #expect(confirmed.lastResultNotices.count == 2)
        let evidence = try Self.evidence(fixture, vehicle)
        try Self.expectAttempt(evidence, outcome: .success, errorCode: nil, ecus: ["ECU0", "ECU1"])
        let result = try #require(evidence.result)
        #expect(result.update?.manifestDigest == report.manifestDigest)
        let oldHash = try fixture.imageHash("old-0.img"), newHash = try fixture.imageHash("new-0.img")
        #expect(result.ecus[0].imageHashBefore == oldHash && result.ecus[0].imageHashAfter == newHash)
        #expect(
            result.ecus[0].kind == .full && result.ecus[0].securityVersionBefore == 5
                && result.ecus[0].securityVersionAfter == 6)
        #expect(
            result.preconditions
                == PreconditionReadings(
                    parked: true, gear: "P", batteryPercent: 80, driving: false, doorsUnlockable: true))
        #expect(
            result.notice?.language == "zh-CN" && result.confirmation?.party == .owner
                && result.confirmation?.answer == .accepted
                && result.confirmation?.channel == "head-unit")
        #expect(result.update?.categories == [.other] && result.phase == .install)
        // A vehicle that does not require its repository says so (no entry to check).
        #expect(result.repository == RepositoryFacts(required: false))
        // Every step of the attempt, in order, under one attempt id.
        let steps = evidence.records.filter { $0.attempt == result.attempt }.map(\.step)
        #expect(
            steps == [
                .verify, .repository, .target, .antiRollback, .approval, .filing, .plan, .precondition, .consent,
                .decrypt, .applyStart, .applyImage, .applyImage,
                .applyInstalled, .activate, .boot, .commit, .result,
            ])
        // The register: delivery, then this update.
        let history = evidence.records.filter {
            $0.step == .vehicleInit || ($0.step == .result && $0.outcome == .success)
        }
        #expect(history.count == 2 && history[1].ecus.map(\.swinAfter) == ["SW-0-2.0.0", "SW-1-2.0.0"])
    }

    @Test func `a delta install: the delta's source and target hashes are recorded`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let manifest = try fixture.manifest(images: [
            InstallerFixture.ImageSpec(group: 0, delta: true), InstallerFixture.ImageSpec(group: 1),
        ])
        _ = try Vehicle(directory: vehicle).install(
            bundle: try fixture.bundle(manifest), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        try Vehicle(directory: vehicle).reboot()
        try Vehicle(directory: vehicle).confirmBoot()
        let evidence = try Self.evidence(fixture, vehicle)
        try Self.expectAttempt(evidence, outcome: .success, errorCode: nil, ecus: ["ECU0", "ECU1"])
        let result = try #require(evidence.result)
        #expect(result.ecus[0].kind == .delta && result.ecus[1].kind == .full)
        let oldHash = try fixture.imageHash("old-0.img"), newHash = try fixture.imageHash("new-0.img")
        #expect(result.ecus[0].imageHashBefore == oldHash && result.ecus[0].imageHashAfter == newHash)
    }

    @Test func `an install refused for a missing approval: recorded with every fact and highlighted`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(automatedDriving: true))
        let bundle = try fixture.bundle(
            try fixture.manifest(
                images: [InstallerFixture.ImageSpec(group: 0, categories: "[automated-driving]")],
                regulatory: InstallerFixture.adRegulatory))
        do {
            let handle = try Vehicle(directory: vehicle)
            #expect(
                failure { () throws(OTAError) in
                    _ = try handle.install(
                        bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
                }?.code == "approval.missing")
            #expect(handle.lastResultNotices.map(\.language) == [.en, .zhCN])
            #expect(handle.lastResultNotices[1].text.contains("准入批准"))
        }
        let evidence = try Self.evidence(fixture, vehicle, language: .en)
        try Self.expectAttempt(evidence, outcome: .rejected, errorCode: "approval.missing", ecus: ["ECU0"])
        let result = try #require(evidence.result)
        #expect(
            result.update?.references.map(\.kind) == [.filing, .adApproval]
                && result.update?.categories == [.automatedDriving])
        #expect(result.reasons.first?.code == "approval.missing")
        // Then approved: the approval's number and authority are recorded.
        let approval = try fixture.approval(for: bundle)
        _ = try Vehicle(directory: vehicle).install(
            bundle: bundle, approval: approval, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        let approved = try #require(try InstallerFixture.records(vehicle).last { $0.step == .approval })
        #expect(approved.update?.approval?.number == "AD-2026-1" && approved.update?.approval?.authority == "MIIT")
    }

    @Test func `an install refused by anti-rollback: the versions it would have gone back to are recorded`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(securityVersions: [9, 9]))
        let bundle = try fixture.standardBundle()
        #expect(
            failure { () throws(OTAError) in
                _ = try Vehicle(directory: vehicle).install(
                    bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
            }?.code == "rollback.security-version")
        let evidence = try Self.evidence(fixture, vehicle)
        try Self.expectAttempt(
            evidence, outcome: .rejected, errorCode: "rollback.security-version", ecus: ["ECU0", "ECU1"])
        let result = try #require(evidence.result)
        #expect(result.ecus.allSatisfy { $0.securityVersionBefore == 9 && $0.securityVersionAfter == 6 })
    }

    @Test func `an install refused by a precondition: the readings are recorded`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let low = VehicleConditions(parked: true, gear: "P", batteryPercent: 12, driving: false, doorsUnlockable: true)
        let bundle = try fixture.standardBundle()
        #expect(
            failure { () throws(OTAError) in
                _ = try Vehicle(directory: vehicle).install(
                    bundle: bundle, conditions: low, consent: InstallerFixture.yes)
            }?.code == "precondition.battery")
        let evidence = try Self.evidence(fixture, vehicle, language: .zhCN)
        let result = try #require(evidence.result)
        #expect(result.outcome == .rejected && result.errorCode == "precondition.battery")
        #expect(result.preconditions?.batteryPercent == 12 && result.preconditions?.gear == "P")
        let refusal = try #require(evidence.records.last { $0.step == .precondition })
        #expect(refusal.outcome == .rejected && refusal.preconditions?.batteryPercent == 12)
        #expect(evidence.jsonl == evidence.records)
        let row = try #require(evidence.csv.first { $0["步骤"] == "升级结果" && $0["控制器"] == "ECU0" })
        #expect(row["电量(%)"] == "12" && row["结果"] == "拒绝" && row["错误码"] == "precondition.battery")
        let resultSeq = try #require(Self.seq(of: result, in: evidence))
        let item = try #require(Self.htmlItem(evidence.html, seq: resultSeq))
        #expect(item.contains(" failed") && item.contains("拒绝") && item.contains("电量(%)"))
    }

    @Test func `a rollback after a failed boot: the fallback is recorded and closes the attempt`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle(fixture.config(tries: 1))
        _ = try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        try Vehicle(directory: vehicle).reboot()  // on trial, never confirmed
        do {
            let fallback = try Vehicle(directory: vehicle)
            try fallback.reboot()  // the counter runs out: the bootloader falls back
            #expect(fallback.lastResultNotices.first?.text.contains("previous software was restored") == true)
        }
        let evidence = try Self.evidence(fixture, vehicle)
        try Self.expectAttempt(evidence, outcome: .rolledBack, errorCode: "boot.fallback", ecus: ["ECU0", "ECU1"])
        // The boot that fell back is a failure; the attempt's abandon step a roll-back.
        let boots = evidence.records.filter { $0.step == .boot }.map(\.outcome)
        #expect(boots == [.success, .failure, .rolledBack], "\(boots)")
        #expect(try Vehicle(directory: vehicle).status().ecus["ECU0"]?.version == "1.0.0")
    }
}

/// RFC 4180 rows (quoted fields, doubled quotes, CRLF), enough to read an export back.
enum CSVTable {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = Array(text.unicodeScalars).makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let held = pending { pending = nil; return held }
            return iterator.next()
        }
        while let scalar = next() {
            if quoted {
                if scalar == "\"" {
                    if let after = next() {
                        if after == "\"" { field.unicodeScalars.append("\"") } else { quoted = false; pending = after }
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r": break
            case "\n": row.append(field); rows.append(row); row = []; field = ""
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        // Cells neutralised against formulas carry a leading `'`.
        return rows.map { $0.map { $0.hasPrefix("'") ? String($0.dropFirst()) : $0 } }
    }
}
