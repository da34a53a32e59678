import Foundation
import OTACompliance
import OTACore
import OTARecorder
import OTATestSupport
import Testing

/// The HTML report as a browser renders it: headless Chromium (`scripts/install-deps.sh`
/// installs `chromium` and `fonts-noto-cjk`) loads the report in both languages; a page beside it
/// queries the report's DOM (failed rows, their computed highlight, the language, the CJK font)
/// and the test reads the answer; screenshots are written too (kept in `out/` with
/// `OTA_SCREENSHOTS=1`).
@Suite(.serialized) struct ReportRenderingTests {
    static var chromium: String? { HeadlessChromium.executable }

    /// Runs Chromium headless; returns its standard output.
    static func chromium(_ arguments: [String]) throws -> String { try HeadlessChromium.run(arguments) }

    /// A page that loads the report in a frame and writes what the report's DOM says.
    static let harness = """
        <!DOCTYPE html><html><body><pre id="result">pending</pre>
        <iframe id="report" src="REPORT" width="1200" height="2000"></iframe>
        <script>
        document.getElementById('report').addEventListener('load', function () {
          var doc = this.contentDocument, win = this.contentWindow;
          var failed = Array.from(doc.querySelectorAll('li.failed'));
          var passed = Array.from(doc.querySelectorAll('li.outcome-success'));
          var style = function (node) { var s = win.getComputedStyle(node); return s.backgroundColor + '|' + s.borderLeftColor; };
          document.getElementById('result').textContent = JSON.stringify({
            lang: doc.documentElement.lang,
            failed: failed.length,
            failedSeqs: failed.map(function (n) { return n.getAttribute('data-seq'); }),
            failedStyle: failed.length ? style(failed[0]) : '',
            passedStyle: passed.length ? style(passed[0]) : '',
            failedResults: failed.map(function (n) { var r = n.querySelector('.result'); return r ? r.textContent : ''; }),
            vehicles: doc.querySelectorAll('section.vehicle').length,
            text: doc.body.innerText.slice(0, 20000),
            cjkFont: doc.fonts.check('16px "Noto Sans CJK SC"')
          });
        });
        </script></body></html>
        """

    struct DOM: Decodable {
        let lang: String
        let failed: Int
        let failedSeqs: [String]
        let failedStyle: String
        let passedStyle: String
        let failedResults: [String]
        let vehicles: Int
        let text: String
        let cjkFont: Bool
    }

    static func render(_ report: String, in directory: String) throws -> DOM {
        let page = directory + "/harness-\(UUID().uuidString).html"
        try Self.harness.replacingOccurrences(of: "REPORT", with: "file://" + report).write(
            toFile: page, atomically: true, encoding: .utf8)
        let dom = try chromium([
            "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom", "file://" + page,
        ])
        let start = try #require(dom.range(of: "<pre id=\"result\">"), "no harness in the dumped DOM")
        let end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
        let json = String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        return try JSONDecoder().decode(DOM.self, from: Data(json.utf8))
    }

    @Test(arguments: [ExportLanguage.en, .zhCN])
    func `the report renders in Chromium with its failure rows highlighted`(language: ExportLanguage) throws {
        try #require(Self.chromium != nil, "chromium is not installed: run scripts/install-deps.sh")
        let ws = Workspace(); defer { ws.cleanup() }
        let store = try Fleet.store(ws, vehicles: 2, count: 16)
        let failures = try store.count(matching: RecordFilter(outcome: .failure))
        _ = try Fleet.exporter(formats: [.html], language: language).export(from: store, to: ws.path + "/out")
        let report = ws.path + "/out/report.html"
        let dom = try Self.render(report, in: ws.path)
        #expect(dom.lang == language.rawValue && dom.vehicles == 2)
        // Every failed step, and only those, is highlighted; the highlight is what the browser
        // computed from the report's own style sheet.
        #expect(dom.failed == failures && failures > 0)
        #expect(dom.failedStyle == "rgb(255, 235, 233)|rgb(207, 34, 46)", "\(dom.failedStyle)")
        #expect(dom.passedStyle.hasPrefix("rgba(0, 0, 0, 0)"), "\(dom.passedStyle)")
        #expect(dom.failedResults.allSatisfy { $0 == RecordOutcome.failure.label(language) })
        if language == .zhCN {
            #expect(dom.cjkFont, "no CJK font: install fonts-noto-cjk")
            #expect(dom.text.contains("软件升级记录") && dom.text.contains("升级结果") && dom.text.contains("失败"))
            for english in ["Update result", "Signatures verified", "failure", "success", "Campaign"] {
                #expect(!dom.text.contains(english), "English in the zh-CN report: \(english)")
            }
        } else {
            #expect(dom.text.contains("Software update records") && dom.text.contains("Update result"))
        }
        // The picture, for eyes and for the record.
        let picture = ws.path + "/report-\(language.rawValue).png"
        _ = try Self.chromium(["--window-size=1200,2400", "--screenshot=" + picture, "file://" + report])
        let size = try #require(try FileManager.default.attributesOfItem(atPath: picture)[.size] as? Int)
        #expect(size > 20_000, "the screenshot is empty")
        if ProcessInfo.processInfo.environment["OTA_SCREENSHOTS"] == "1" {
            let keep = SamplePKI.repository + "/out"
            try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            _ = try? FileManager.default.removeItem(atPath: keep + "/records-report-\(language.rawValue).png")
            try FileManager.default.copyItem(atPath: picture, toPath: keep + "/records-report-\(language.rawValue).png")
        }
    }
}
