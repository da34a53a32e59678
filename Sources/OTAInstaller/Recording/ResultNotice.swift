public import OTACore
public import OTARecorder

/// What the user is told after an update (No.103 §3, R156 §7.2.2): what changed, or what was
/// kept or restored and why. Made from the attempt's closing record, in each language, as a
/// value a head unit can show; its digest is recorded with the attempt.
public struct ResultNotice: Sendable, Equatable {
    public var language: RecordLanguage
    public var outcome: RecordOutcome
    public var title: String
    public var lines: [String]

    /// The notice for a closing record.
    public init(record: UpgradeRecord, language: RecordLanguage) {
        self.language = language
        outcome = record.outcome
        let bundle = record.update?.bundle ?? language.pick("the update", "本次升级")
        switch record.outcome {
        case .success:
            title = language.pick("Update \(bundle) installed", "升级 \(bundle) 已完成")
            lines = record.ecus.map { ecu in
                var line = language.pick(
                    "\(ecu.ecu): version \(ecu.versionBefore ?? "–") → \(ecu.versionAfter ?? "–")",
                    "\(ecu.ecu)：版本 \(ecu.versionBefore ?? "–") → \(ecu.versionAfter ?? "–")")
                if let after = ecu.swinAfter {
                    line += language.pick(
                        ", SWIN \(ecu.swinBefore ?? "–") → \(after)", "，软件识别码 \(ecu.swinBefore ?? "–") → \(after)")
                }
                if let after = ecu.rxswinAfter {
                    line += language.pick(
                        ", RXSWIN \(ecu.rxswinBefore ?? "–") → \(after)",
                        "，RXSWIN \(ecu.rxswinBefore ?? "–") → \(after)")
                }
                return line
            }
        case .pending:
            title = language.pick("Update \(bundle) is under way", "升级 \(bundle) 正在进行")
            lines = []
        case .rejected, .failure, .rolledBack:
            let verb =
                record.outcome == .rolledBack
                ? language.pick("rolled back", "已回滚") : language.pick("not installed", "未安装")
            title = language.pick("Update \(bundle) \(verb)", "升级 \(bundle) \(verb)")
            let reason =
                record.errorCode.map { RecordReasonText.text(for: $0, language) }
                ?? language.pick("no reason was given", "未说明原因")
            lines = [language.pick("Reason: \(reason).", "原因：\(reason)。")]
            lines += record.ecus.map { ecu in
                language.pick(
                    "\(ecu.ecu) keeps version \(ecu.versionBefore ?? "–")"
                        + (ecu.swinBefore.map { " (SWIN \($0))" } ?? ""),
                    "\(ecu.ecu) 保持版本 \(ecu.versionBefore ?? "–")" + (ecu.swinBefore.map { "（软件识别码 \($0)）" } ?? ""))
            }
        }
    }

    /// The canonical JSON the digest covers.
    package var json: JSONValue {
        .object([
            "language": .string(language.rawValue), "outcome": .string(outcome.rawValue), "title": .string(title),
            "lines": .array(lines.map { .string($0) }),
        ])
    }

    /// Text for a screen or a terminal.
    public var text: String { ([title] + lines.map { "  " + $0 }).joined(separator: "\n") }

    /// The digest recorded with the attempt.
    public func shown(hash: HashAlgorithm) throws(OTAError) -> NoticeShown {
        NoticeShown(digest: try Hasher.hash(hash, json.bytes).hex, language: language.rawValue)
    }
}
