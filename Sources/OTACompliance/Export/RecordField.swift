import OTACore
import OTARecorder

/// One row of an export: an entry of the store, read as the record type, and for a record that
/// names several ECUs one of them (CSV has a row per ECU, the report a line per ECU).
struct ExportRow {
    let entry: StoredEntry
    /// The VIN as the export shows it (a token unless VINs are revealed).
    let vin: String
    let body: EntryBody
    let ecu: ECUFacts?

    var record: UpgradeRecord? {
        if case .record(let record) = body { return record }
        return nil
    }

    /// The rows of one entry: one per ECU its record names, or one.
    static func rows(entry: StoredEntry, vin: String, body: EntryBody) -> [ExportRow] {
        if case .record(let record) = body, !record.ecus.isEmpty {
            return record.ecus.map { ExportRow(entry: entry, vin: vin, body: body, ecu: $0) }
        }
        return [ExportRow(entry: entry, vin: vin, body: body, ecu: nil)]
    }

    /// Whether a report highlights the row as a problem.
    var isFailure: Bool {
        switch body {
        case .record(let record): record.outcome.isFailure
        case .tornTail, .unsignedTail: true
        default: false
        }
    }

    /// What a non-record entry says happened, in words.
    func event(_ language: RecordLanguage) -> String {
        switch body {
        case .record(let record): record.step.label(language)
        case .genesis: language.pick("Record log created", "记录日志已创建")
        case .checkpoint: language.pick("Signed checkpoint", "签名检查点")
        case .tornTail(let torn):
            language.pick(
                "Torn tail quarantined: \(torn.bytes) bytes (\(torn.file))", "截断尾部已隔离：\(torn.bytes) 字节（\(torn.file)）")
        case .prune(let prune):
            language.pick(
                "Pruned on vehicle: entries up to \(prune.through) (\(prune.reason), \(prune.months) months; asked by \(prune.requestedBy); acknowledged by \(prune.acknowledged.map { "\($0.by) through \($0.through)" } ?? "nobody"))",
                "车端清理：至条目 \(prune.through)（\(prune.reason)，保留 \(prune.months) 个月；由 \(prune.requestedBy) 发起；确认方 \(prune.acknowledged.map { "\($0.by)，至 \($0.through)" } ?? "无")）"
            )
        case .keyRotation(let rotation):
            language.pick(
                "Device key rotated to \(rotation.key.prefix(16))… (\(rotation.reason))",
                "设备密钥已更换为 \(rotation.key.prefix(16))…（\(rotation.reason)）")
        case .unsignedTail(let unsigned):
            language.pick(
                "Entries \(unsigned.from)…\(unsigned.through) found unsigned when the recorder reopened the log (a crash before their checkpoint, or written without the device key)",
                "记录器重新打开日志时发现条目 \(unsigned.from)…\(unsigned.through) 未经签名（检查点写入前崩溃，或未经设备密钥写入）")
        }
    }
}

/// One field of an export: its column in CSV, its line in the report, its label in each
/// language and how to read it from a row. The one table CSV headers, CSV cells, report fields
/// and their labels all come from.
struct RecordField: Sendable {
    /// Where the report shows it: with the entry, or on each ECU's line.
    enum Scope { case entry, ecu }

    let id: String
    let en: String
    let zh: String
    let scope: Scope
    /// Shown in the report's detail lines (the headline fields are drawn separately).
    let inReport: Bool
    let value: @Sendable (ExportRow, RecordLanguage) -> String

    init(
        _ id: String, _ en: String, _ zh: String, _ scope: Scope = .entry, report: Bool = true,
        _ value: @escaping @Sendable (ExportRow, RecordLanguage) -> String
    ) {
        self.id = id
        self.en = en
        self.zh = zh
        self.scope = scope
        self.inReport = report
        self.value = value
    }

    func label(_ language: RecordLanguage) -> String { language.pick(en, zh) }

    private static func references(_ row: ExportRow, _ kinds: [RegulatoryReference.Kind]) -> String {
        (row.record?.update?.references ?? []).filter { kinds.contains($0.kind) }.map {
            "\($0.number) (\($0.authority))"
        }.joined(separator: "; ")
    }

    private static func yes(_ value: Bool?, _ language: RecordLanguage) -> String {
        value.map { $0 ? language.pick("yes", "是") : language.pick("no", "否") } ?? ""
    }

    /// Every field, in column order.
    static let table: [RecordField] = [
        RecordField("time", "Time", "时间", report: false) { row, _ in row.entry.time },
        RecordField("timeSource", "Time source", "时间来源") { row, language in row.body.time.source.label(language) },
        RecordField("vin", "VIN", "车辆识别代号", report: false) { row, _ in row.vin },
        RecordField("attempt", "Attempt", "升级尝试编号") { row, _ in row.record?.attempt ?? "" },
        RecordField("phase", "Phase", "阶段") { row, language in row.record?.phase?.label(language) ?? "" },
        RecordField("step", "Step", "步骤", report: false) { row, language in row.event(language) },
        RecordField("outcome", "Result", "结果", report: false) { row, language in
            row.record?.outcome.label(language) ?? ""
        },
        RecordField("errorCode", "Error code", "错误码") { row, _ in row.record?.errorCode ?? "" },
        RecordField("reasons", "Reasons", "原因") { row, _ in
            (row.record?.reasons ?? []).map { "\($0.code): \($0.message)" }.joined(separator: "; ")
        },
        RecordField("bundle", "Bundle", "升级包") { row, _ in row.record?.update?.bundle ?? "" },
        RecordField("campaign", "Campaign", "升级活动") { row, _ in row.record?.update?.campaign ?? "" },
        RecordField("manifestDigest", "Manifest digest", "清单摘要") { row, _ in row.record?.update?.manifestDigest ?? "" },
        RecordField("categories", "Change categories", "变更类别") { row, language in
            (row.record?.update?.categories ?? []).map { $0.label(language) }.joined(separator: "; ")
        },
        RecordField("filing", "Filing", "备案编号") { row, _ in references(row, [.filing]) },
        RecordField("changePermit", "Change permit", "变更许可") { row, _ in references(row, [.changePermit]) },
        RecordField("recallFiling", "Recall filing", "召回备案") { row, _ in references(row, [.recallFiling]) },
        RecordField("otherReferences", "Other references", "其他法规依据") { row, _ in
            references(row, [.adApproval, .taExtension])
        },
        RecordField("signers", "Signers", "签名人") { row, _ in
            (row.record?.update?.signers ?? []).map { "\($0.subject) [\($0.keyID.prefix(16))]" }.joined(separator: "; ")
        },
        RecordField("approvalNumber", "Approval number", "准入批准编号") { row, _ in
            row.record?.update?.approval?.number ?? ""
        },
        RecordField("approvalAuthority", "Approval authority", "批准机关") { row, _ in
            row.record?.update?.approval?.authority ?? ""
        },
        RecordField("ecu", "ECU", "控制器", .ecu) { row, _ in row.ecu?.ecu ?? "" },
        RecordField("hardwarePart", "Hardware part", "硬件零件号", .ecu) { row, _ in row.ecu?.hardwarePart ?? "" },
        RecordField("imageKind", "Image", "镜像类型", .ecu) { row, language in
            row.ecu?.kind.map { $0 == .full ? language.pick("full", "完整") : language.pick("delta", "差分") } ?? ""
        },
        RecordField("versionBefore", "Version before", "升级前版本", .ecu) { row, _ in row.ecu?.versionBefore ?? "" },
        RecordField("versionAfter", "Version after", "升级后版本", .ecu) { row, _ in row.ecu?.versionAfter ?? "" },
        RecordField("securityVersionBefore", "Security version before", "升级前安全版本", .ecu) { row, _ in
            row.ecu?.securityVersionBefore.map(String.init) ?? ""
        },
        RecordField("securityVersionAfter", "Security version after", "升级后安全版本", .ecu) { row, _ in
            row.ecu?.securityVersionAfter.map(String.init) ?? ""
        },
        RecordField("rxswinBefore", "RXSWIN before", "升级前RXSWIN", .ecu) { row, _ in row.ecu?.rxswinBefore ?? "" },
        RecordField("rxswinAfter", "RXSWIN after", "升级后RXSWIN", .ecu) { row, _ in row.ecu?.rxswinAfter ?? "" },
        RecordField("swinBefore", "SWIN before", "升级前软件识别码", .ecu) { row, _ in row.ecu?.swinBefore ?? "" },
        RecordField("swinAfter", "SWIN after", "升级后软件识别码", .ecu) { row, _ in row.ecu?.swinAfter ?? "" },
        RecordField("imageHashBefore", "Image hash before", "升级前镜像哈希", .ecu) { row, _ in row.ecu?.imageHashBefore ?? ""
        },
        RecordField("imageHashAfter", "Image hash after", "升级后镜像哈希", .ecu) { row, _ in row.ecu?.imageHashAfter ?? "" },
        RecordField("parked", "Parked", "驻车") { row, language in yes(row.record?.preconditions?.parked, language) },
        RecordField("gear", "Gear", "挡位") { row, _ in row.record?.preconditions?.gear ?? "" },
        RecordField("batteryPercent", "Battery (%)", "电量(%)") { row, _ in
            row.record?.preconditions?.batteryPercent.map(String.init) ?? ""
        },
        RecordField("driving", "Driving", "行驶中") { row, language in yes(row.record?.preconditions?.driving, language) },
        RecordField("doorsUnlockable", "Doors unlockable", "车门可解锁") { row, language in
            yes(row.record?.preconditions?.doorsUnlockable, language)
        },
        RecordField("noticeDigest", "Notice digest", "告知内容摘要") { row, _ in row.record?.notice?.digest ?? "" },
        RecordField("noticeLanguage", "Notice language", "告知语言") { row, _ in row.record?.notice?.language ?? "" },
        RecordField("confirmedBy", "Confirmed by", "确认人") { row, language in
            row.record?.confirmation?.party.label(language) ?? ""
        },
        RecordField("confirmationChannel", "Confirmation channel", "确认渠道") { row, _ in
            row.record?.confirmation?.channel ?? ""
        },
        RecordField("confirmationAnswer", "Answer", "确认答复") { row, language in
            row.record?.confirmation?.answer.label(language) ?? ""
        },
        RecordField("confirmationTime", "Answered at", "确认时间") { row, _ in row.record?.confirmation?.at.text ?? "" },
        RecordField("resultNotices", "Result notices", "结果告知") { row, _ in
            (row.record?.resultNotices ?? []).map { "\($0.language) \($0.digest)" }.joined(separator: "; ")
        },
        RecordField("started", "Started", "开始时间") { row, _ in row.record?.started?.text ?? "" },
        RecordField("finished", "Finished", "结束时间") { row, _ in row.record?.finished?.text ?? "" },
        RecordField("durationMs", "Duration (ms)", "耗时(毫秒)") { row, _ in row.record?.durationMs.map(String.init) ?? ""
        },
        RecordField("entryKind", "Entry kind", "条目类型", report: false) { row, _ in row.entry.kind.rawValue },
        RecordField("entrySeq", "Entry number", "条目序号", report: false) { row, _ in String(row.entry.seq) },
        RecordField("entryHash", "Entry hash", "条目哈希", report: false) { row, _ in row.entry.hash },
    ]
}
