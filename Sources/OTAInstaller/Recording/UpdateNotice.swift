public import OTACore
import OTARecorder

/// What the user is told before an update (MIIT No.103 §3, UNECE R156 §7.2.2, GB 44496):
/// purpose, content, expected duration, functions unavailable, precautions and impact, in the
/// language of the head unit, and whether a skilled person must confirm. A value a head unit
/// shows; `text` is the same for a terminal.
public struct UpdateNotice: Sendable, Equatable {
    public var language: String
    public var notice: Notice
    public var skilledPersonRequired: Bool
    /// The digest the consent step records for this notice.
    public var digest: String

    public init(notice: Notice, language: String, skilledPersonRequired: Bool, hash: HashAlgorithm) throws(OTAError) {
        self.language = language
        self.notice = notice
        self.skilledPersonRequired = skilledPersonRequired
        digest = try Vehicle.noticeDigest(notice, hash: hash)
    }

    /// The notice as lines of text, labelled in its language (`zh-CN` or, for any other, `en`).
    public var text: String {
        let words = RecordLanguage(rawValue: language) ?? .en
        var lines = [
            words.pick("Software update", "软件升级"),
            words.pick("Purpose: ", "目的：") + notice.purpose,
            words.pick("Content: ", "内容：") + notice.content,
            words.pick(
                "Expected duration: \(notice.expectedDurationMinutes) minutes",
                "预计时长：\(notice.expectedDurationMinutes) 分钟"),
        ]
        if !notice.functionsUnavailable.isEmpty {
            lines.append(
                words.pick("Unavailable during the update: ", "升级期间不可用：")
                    + notice.functionsUnavailable.joined(separator: words.pick(", ", "、")))
        }
        for precaution in notice.precautions { lines.append(words.pick("Precaution: ", "注意事项：") + precaution) }
        lines.append(words.pick("Impact: ", "影响：") + notice.impact)
        if skilledPersonRequired {
            lines.append(words.pick("This update must be confirmed by a technician.", "本次升级须由技术人员确认。"))
        }
        return lines.joined(separator: "\n")
    }
}

extension Vehicle {
    /// The notice a decision carries, in `language` (default: the vehicle's), for a head unit to
    /// show before asking; nil when the manifest has no text in that language.
    public func notice(for decision: InstallDecision, language: String? = nil) throws(OTAError) -> UpdateNotice? {
        let wanted = language ?? config.noticeLanguage
        guard let notice = decision.notice[wanted] else { return nil }
        return try UpdateNotice(
            notice: notice, language: wanted,
            skilledPersonRequired: decision.preconditions?.skilledPersonRequired ?? false,
            hash: config.hashAlgorithm)
    }

    /// The vehicle's notice language (its head unit's).
    public var noticeLanguage: String { config.noticeLanguage }
}
