import Foundation
import OTACore
import OTAInstaller
import OTARecorder
import OTATestSupport
import Testing

/// The user is told before (the notice, in the head unit's language, answered) and after (the
/// result, in both languages), and both are recorded.
@Suite("User notice")
struct UserNoticeTests {
    @Test func `the library gives the notice of a checked bundle as a value, with the digest the consent records`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.standardBundle()
        let handle = try Vehicle(directory: vehicle)
        let decision = try handle.check(bundle: bundle)
        let notice = try #require(try handle.notice(for: decision))
        #expect(notice.language == "zh-CN" && notice.notice.purpose == "测试" && notice.text.contains("预计时长：5 分钟"))
        let english = try #require(try handle.notice(for: decision, language: "en"))
        #expect(english.text.contains("Expected duration: 5 minutes"))
        _ = try handle.install(
            bundle: bundle, expecting: decision, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        let consent = try #require(try InstallerFixture.records(vehicle).last { $0.step == .consent })
        #expect(consent.notice == NoticeShown(digest: notice.digest, language: "zh-CN"))
    }

    @Test func `an update that needs a skilled person is refused unless a technician confirms`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let bundle = try fixture.bundle(
            try fixture.manifest(
                preconditions: "{parked: true, gear: P, minimumBatteryPercent: 30, skilledPersonRequired: true}"))
        let owner = failure { () throws(OTAError) in
            _ = try Vehicle(directory: vehicle).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        }
        #expect(owner?.code == "consent.skilled-person" && owner?.kind == .rejected)
        let refused = try #require(try InstallerFixture.records(vehicle).last)
        #expect(
            refused.step == .result && refused.errorCode == "consent.skilled-person"
                && refused.confirmation?.party == .owner)
        let technician = Consent(answer: .accepted, language: "zh-CN", by: .technician, channel: "workshop-tool")
        #expect(
            try Vehicle(directory: vehicle).install(
                bundle: bundle, conditions: InstallerFixture.parked, consent: technician
            ).stage == .activated)
        let consent = try #require(try InstallerFixture.records(vehicle).last { $0.step == .consent })
        #expect(
            consent.outcome == .success && consent.confirmation?.party == .technician
                && consent.confirmation?.channel == "workshop-tool")
    }

    @Test func `the result notice says what changed after a commit, in both languages`() throws {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        _ = try Vehicle(directory: vehicle).install(
            bundle: try fixture.standardBundle(), conditions: InstallerFixture.parked, consent: InstallerFixture.yes)
        try Vehicle(directory: vehicle).reboot()
        let handle = try Vehicle(directory: vehicle)
        try handle.confirmBoot()
        let notices = handle.lastResultNotices
        #expect(notices.map(\.language) == [.en, .zhCN] && notices.allSatisfy { $0.outcome == .success })
        #expect(notices[0].text.contains("ECU0: version 1.0.0 → 2.0.0, SWIN SW-0-OLD → SW-0-2.0.0"))
        #expect(notices[1].text.contains("ECU0：版本 1.0.0 → 2.0.0，软件识别码 SW-0-OLD → SW-0-2.0.0"))
        let result = try #require(try InstallerFixture.records(vehicle).last)
        #expect(result.resultNotices == (try notices.map { try $0.shown(hash: .sha256) }))
    }

    // MARK: The command line

    @Test func `ota install without --consent shows the notice in the vehicle's language and records the answer`()
        throws
    {
        let fixture = try InstallerFixture()
        let vehicle = try fixture.vehicle()
        let state = fixture.directory + "/state.json"
        try Data(
            #"{"parked": true, "gear": "P", "batteryPercent": 85, "driving": false, "doorsUnlockable": true}"#.utf8
        ).write(to: URL(fileURLWithPath: state))
        let bundle = try fixture.standardBundle()
        let declined = try CLI.run(
            ["install", bundle, "--vehicle", vehicle, "--state", state, "--json"], input: "no\n")
        #expect(declined.status == 2 && declined.stdout.contains("\"consent.refused\""), "\(declined.stdout)")
        #expect(declined.stderr.contains("目的：测试") && declined.stderr.contains("是否安装本次升级？"), "\(declined.stderr)")
        #expect(
            declined.stderr.contains("未安装") && declined.stderr.contains("not installed"),
            "result notices in both languages: \(declined.stderr)")
        let accepted = try CLI.run(
            ["install", bundle, "--vehicle", vehicle, "--state", state, "--language", "en"], input: "yes\n")
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stderr.contains("Purpose: test"))
        let consents = try InstallerFixture.records(vehicle).filter { $0.step == .consent }
        #expect(consents.map { $0.confirmation?.answer } == [.refused, .accepted])
        #expect(
            consents.map { $0.notice?.language } == ["zh-CN", "en"]
                && consents.allSatisfy { $0.confirmation?.channel == "cli" })
        // No answer at all (end of input): refused as unanswered, recorded.
        let silent = try CLI.run(
            ["install", bundle, "--vehicle", try fixture.vehicle(), "--state", state, "--json"], input: "")
        #expect(silent.status == 2 && silent.stdout.contains("\"consent.missing\""))
        // The result is told after confirm.
        #expect(try CLI.run(["vehicle", "reboot", vehicle]).status == 0)
        let confirmed = try CLI.run(["vehicle", "confirm", vehicle])
        #expect(
            confirmed.status == 0 && confirmed.stderr.contains("installed") && confirmed.stderr.contains("已完成"),
            "\(confirmed.stderr)")
    }
}

/// Runs the built `ota` with standard input.
enum CLI {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var ota: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ota").path
    }

    static func run(_ arguments: [String], input: String = "") throws -> Run {
        let result = try ProcessRunner.run(ota, arguments, input: Array(input.utf8))
        return Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}
