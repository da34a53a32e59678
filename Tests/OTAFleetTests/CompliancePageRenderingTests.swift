import Foundation
import OTACompliance
import OTACore
import OTAFleet
import OTARecorder
import OTATestSupport
import Testing

/// The compliance pages as a browser renders them: fetched through nginx with a compliance client
/// certificate, each page (with the Content-Security-Policy the service sent, as a meta tag) is
/// loaded by headless Chromium, and its DOM and computed styles are read back. Screenshots are
/// written too (kept in `out/` with `OTA_SCREENSHOTS=1`).
extension FleetIntegration {
    @Suite struct CompliancePageRenderingTests {
        static let first = "LSVPAGES000000001"
        static let second = "LSVPAGES000000002"

        /// What the inspection script reads from a page.
        struct DOM: Decodable {
            let lang: String
            let title: String
            let headers: [String]
            let rows: Int
            let failedRows: Int
            let failedOutcomes: [String]
            let failedCells: [String]
            let failedStyle: String
            let passedStyle: String
            let outcomeRows: [String]
            let outcomeCounts: [Int]
            let register: Int
            let links: [String]
            let text: String
            let cjkFont: Bool
        }

        static let inspection = """
            (function () {
              var style = function (row) { if (!row) return ''; var s = win.getComputedStyle(row.querySelector('td'));
                return s.backgroundColor + '|' + s.borderLeftColor + '|' + s.borderLeftWidth; };
              var failed = Array.from(doc.querySelectorAll('tr.failure'));
              var passed = Array.from(doc.querySelectorAll('tr[data-outcome="success"]'));
              return {
                lang: doc.documentElement.lang,
                title: doc.querySelector('[data-testid=title]').textContent,
                headers: Array.from(doc.querySelectorAll('th')).map(function (n) { return n.textContent; }),
                rows: doc.querySelectorAll('tr[data-testid=record]').length,
                failedRows: failed.length,
                failedOutcomes: failed.map(function (n) { return n.getAttribute('data-outcome'); }),
                failedCells: failed.map(function (n) { var c = n.querySelector('[data-testid=outcome]'); return c ? c.textContent : ''; }),
                failedStyle: style(failed[0]),
                passedStyle: style(passed[0]),
                outcomeRows: Array.from(doc.querySelectorAll('tr[data-testid=outcome-row]')).map(function (n) { return n.getAttribute('data-outcome'); }),
                outcomeCounts: Array.from(doc.querySelectorAll('[data-testid=outcome-count]')).map(function (n) { return parseInt(n.textContent, 10); }),
                register: Math.max(0, doc.querySelectorAll('[data-testid=register] tr').length - 1),
                links: Array.from(doc.querySelectorAll('a')).map(function (n) { return n.getAttribute('href'); }),
                text: doc.body.innerText.slice(0, 20000),
                cjkFont: doc.fonts.check('16px "Noto Sans CJK SC"')
              };
            })()
            """

        /// Fetches `path` as compliance staff, stores it with the served CSP in force, and
        /// renders it in Chromium.
        func render(_ harness: FleetHarness, _ staff: FleetHarness.Client, _ path: String, name: String) throws -> DOM {
            let reply = try harness.request(path, client: staff)
            try #require(reply.status == 200, "\(path): HTTP \(reply.status) \(reply.text.prefix(300))")
            #expect(reply.headers["content-type"] == "text/html; charset=utf-8")
            let policy = try #require(reply.headers["content-security-policy"], "\(path): no Content-Security-Policy")
            let page = harness.ws.path + "/\(name).html"
            let html = reply.text.replacingOccurrences(
                of: "<head>", with: "<head><meta http-equiv=\"Content-Security-Policy\" content=\"\(policy)\">")
            try html.write(toFile: page, atomically: true, encoding: .utf8)
            let json = try HeadlessChromium.inspect(page, Self.inspection, in: harness.ws.path)
            let dom = try JSONDecoder().decode(DOM.self, from: Data(json.utf8))
            let picture = harness.ws.path + "/\(name).png"
            #expect(
                try HeadlessChromium.screenshot(page, to: picture, height: 1600) > 10_000,
                "\(name): the screenshot is empty")
            if ProcessInfo.processInfo.environment["OTA_SCREENSHOTS"] == "1" {
                let keep = PostgresServer.repository + "/out"
                try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
                try? FileManager.default.removeItem(atPath: keep + "/fleet-\(name).png")
                try FileManager.default.copyItem(atPath: picture, toPath: keep + "/fleet-\(name).png")
            }
            return dom
        }

        /// Two vehicles uploaded through the service: 30 and 26 records (every 7th fails with
        /// slot.hash-mismatch), so campaign CAMP-1 ends in a failure for one and a success for
        /// the other.
        func fleet(_ harness: FleetHarness) throws {
            for (vin, count) in [(Self.first, 30), (Self.second, 26)] {
                let client = try harness.client(.vehicle, name: vin)
                let recorder = try FleetFixture.log(
                    at: harness.ws.path + "/log-\(vin)", vin: vin, key: client.privateKey, count: count)
                let reply = try harness.request(
                    "/v1/vehicles/\(vin)/log", client: client, method: "POST",
                    body: try FleetHarness.uploadBody(recorder.layout.directory))
                try #require(reply.status == 200, "\(reply.text)")
            }
        }

        @Test(arguments: [RecordLanguage.en, .zhCN])
        func `the compliance pages render in Chromium with failures highlighted`(language: RecordLanguage) throws {
            try #require(HeadlessChromium.executable != nil, "chromium is not installed: run scripts/install-deps.sh")
            let harness = try FleetHarness()
            defer { harness.stop() }
            try fleet(harness)
            let staff = try harness.client(.compliance, name: "Compliance Officer 1")
            let suffix = language == .en ? "" : "language=zh-CN"
            func path(_ base: String, _ query: String = "") -> String {
                let parts = [query, suffix].filter { !$0.isEmpty }
                return parts.isEmpty ? base : base + "?" + parts.joined(separator: "&")
            }
            let failures = try harness.store.count(matching: RecordFilter(outcome: .failure, kinds: [.record]))
            let records = try harness.store.count(matching: RecordFilter(kinds: [.record]))
            let failedLabel = RecordOutcome.failure.label(language)

            // The list: every record, the failed ones (and only those) highlighted by the page's own style sheet.
            let list = try render(harness, staff, path("/compliance"), name: "list-\(language.rawValue)")
            #expect(list.lang == language.rawValue)
            #expect(list.rows == records && records == 56)
            #expect(list.failedRows == failures && failures > 0)
            #expect(list.failedOutcomes.allSatisfy { $0 == "failure" })
            #expect(list.failedCells.allSatisfy { $0 == failedLabel }, "\(list.failedCells)")
            #expect(list.failedStyle == "rgb(253, 232, 232)|rgb(207, 34, 46)|4px", "\(list.failedStyle)")
            #expect(list.passedStyle.hasPrefix("rgba(0, 0, 0, 0)|"), "\(list.passedStyle)")
            #expect(list.links.contains(path("/compliance/vehicles/\(Self.first)")), "\(list.links.prefix(20))")

            // The filter: one vehicle's failures.
            let filtered = try render(
                harness, staff, path("/compliance", "vin=\(Self.first)&outcome=failure"),
                name: "filter-\(language.rawValue)")
            let expected = try harness.store.count(
                matching: RecordFilter(vin: Self.first, outcome: .failure, kinds: [.record]))
            #expect(filtered.rows == expected && expected > 0)
            #expect(filtered.failedRows == expected)

            // One vehicle's history and software register.
            let vehicle = try render(
                harness, staff, path("/compliance/vehicles/\(Self.first)"), name: "vehicle-\(language.rawValue)")
            #expect(vehicle.title.hasSuffix(Self.first))
            #expect(vehicle.rows == 30)
            #expect(vehicle.register > 0)
            #expect(vehicle.failedRows == expected)

            // One campaign's outcome table: one vehicle failed with slot.hash-mismatch, one succeeded.
            let campaign = try render(
                harness, staff, path("/compliance/campaigns/CAMP-1"), name: "campaign-\(language.rawValue)")
            #expect(campaign.outcomeRows.sorted() == ["failure", "success"], "\(campaign.outcomeRows)")
            #expect(campaign.outcomeCounts == [1, 1])
            #expect(campaign.text.contains("slot.hash-mismatch"))
            #expect(campaign.failedRows == 2, "the failure row of the counts and the failed vehicle's row")
            #expect(campaign.failedStyle.hasPrefix("rgb(253, 232, 232)|"), "\(campaign.failedStyle)")
            #expect(campaign.failedCells.allSatisfy { $0 == failedLabel }, "\(campaign.failedCells)")

            for dom in [list, filtered, vehicle, campaign] {
                if language == .zhCN {
                    #expect(dom.lang == "zh-CN")
                    #expect(dom.cjkFont, "no CJK font: install fonts-noto-cjk")
                    for english in [
                        "Result", "Error code", "Campaign", "Time", "Vehicles", "failure", "success", "Signed in as",
                    ] {
                        #expect(
                            !dom.headers.contains(english) && !dom.text.contains(english),
                            "English in a zh-CN page: \(english)")
                    }
                } else {
                    #expect(dom.lang == "en")
                }
            }
            if language == .zhCN {
                #expect(list.title == "软件升级记录")
                #expect(list.headers.contains("结果") && list.headers.contains("错误码") && list.headers.contains("升级活动"))
                #expect(
                    campaign.headers.contains("车辆数") && campaign.text.contains("失败") && campaign.text.contains("成功"))
                #expect(vehicle.text.contains("软件登记") && vehicle.text.contains("升级历史"))
            } else {
                #expect(list.title == "Upgrade records")
                #expect(list.headers.contains("Result") && campaign.headers.contains("Vehicles"))
            }
        }

        @Test func `a page in an unknown language or with an unknown parameter is refused`() throws {
            let harness = try FleetHarness()
            defer { harness.stop() }
            let staff = try harness.client(.compliance, name: "Compliance Officer 1")
            let unknown = try harness.request("/compliance/vehicles/\(Self.first)?language=fr", client: staff)
            #expect(unknown.status == 400 && unknown.text.contains("usage.invalid"), "\(unknown.text)")
            let extra = try harness.request("/compliance/campaigns/CAMP-1?vin=X", client: staff)
            #expect(extra.status == 400, "\(extra.text)")
            // A browser asking for Chinese gets Chinese.
            let browser = try harness.request(
                "/compliance", client: staff, headers: ["Accept-Language: zh-CN,zh;q=0.9,en;q=0.8"])
            #expect(browser.status == 200 && browser.text.contains("<html lang=\"zh-CN\">"))
        }
    }
}
