import Foundation
import OTABuilder
import OTACore
import Testing

@Suite("Manifest validation")
struct ManifestSourceTests {
    func problems(_ text: String) -> String {
        do {
            _ = try ManifestSource.parse(text, source: "m.yaml")
            return ""
        } catch {
            return error.message
        }
    }

    @Test func `every sample manifest in manifests/ is valid`() throws {
        let directory = BundleFixture.repository + "/manifests"
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }
        #expect(names.count >= 3)
        for name in names {
            let manifest = try ManifestSource.load("\(directory)/\(name)")
            #expect(!manifest.images.isEmpty, "\(name)")
            #expect(manifest.notice["zh-CN"] != nil && manifest.notice["en"] != nil, "\(name)")
        }
    }

    @Test func `all problems are reported at once, each with its field path`() {
        let text = """
            bundle:
              id: x
              campaign: c
              expires: not-a-date
              suite: rsa
              colour: blue
            targets:
              models: []
              vins: [SHORT]
            images:
              - name: Bad Name
                file: ../../etc/passwd
                ecu: E
                hardwareIds: [H]
                slotGroup: g
                version: "1"
                securityVersion: -3
                kind: delta
                categories: [teleportation]
            impact: {affectedSystems: []}
            notice:
              en: {purpose: p, content: c, expectedDurationMinutes: 0, functionsUnavailable: [], precautions: [], impact: i}
            preconditions: {parked: maybe, minimumBatteryPercent: 150}
            recovery: pray
            """
        let message = problems(text)
        for expected in [
            "bundle.expires: must be a time written as", "bundle.suite: 'rsa' is not one of",
            "bundle.colour: unknown field",
            "targets.models: at least one entry", "targets.vins[0]: not a 17-character VIN",
            "images[0].name: must be 1-64",
            "images[0].file: must be a relative path", "images[0].securityVersion: must be a whole number",
            "images[0].source: missing", "images[0].categories[0]: 'teleportation' is not one of",
            "images[0]: needs rxswin or swin",
            "notice.zh-CN: missing", "notice.en.expectedDurationMinutes: must be a whole number",
            "preconditions.parked: must be true or false",
            "preconditions.minimumBatteryPercent: must be a whole number",
            "recovery: 'pray' is not one of",
        ] {
            #expect(message.contains(expected), "missing problem: \(expected)\n\(message)")
        }
    }

    /// Forms another reader takes otherwise, refused by field path (before: signed as read here):
    /// `012` (octal 10 to PyYAML), `+12`, a day the month lacks, 24:00, one-digit fields, full-width
    /// digits, an offset of 24 hours.
    @Test func `numbers and times are taken in one spelling only`() throws {
        let sample = try String(
            contentsOfFile: BundleFixture.repository + "/manifests/infotainment-full.yaml", encoding: .utf8)
        for (from, to, problem) in [
            ("securityVersion: 12", "securityVersion: 012", "images[0].securityVersion: must be a whole number"),
            ("securityVersion: 12", "securityVersion: +12", "images[0].securityVersion: must be a whole number"),
            ("expires: 2036-11-20T00:00:00Z", "expires: 2036-02-30T00:00:00Z", "bundle.expires: must be a time"),
            ("expires: 2036-11-20T00:00:00Z", "expires: 2036-11-20T24:00:00Z", "bundle.expires: must be a time"),
            ("expires: 2036-11-20T00:00:00Z", "expires: 2036-11-2T0:0:0Z", "bundle.expires: must be a time"),
            ("expires: 2036-11-20T00:00:00Z", "expires: ２０３６-11-20T00:00:00Z", "bundle.expires: must be a time"),
            ("expires: 2036-11-20T00:00:00Z", "expires: 2036-11-20T00:00:00+24:00", "bundle.expires: must be a time"),
        ] {
            try #require(sample.contains(from), "the sample manifest no longer has \(from)")
            let message = problems(sample.replacingOccurrences(of: from, with: to))
            #expect(message.contains(problem), "\(to): \(message)")
        }
    }

    @Test func `syntax errors, duplicate keys and non-UTF-8 files are clear errors`() throws {
        #expect(throws: OTAError(.manifestSyntax, "")) {
            try ManifestSource.parse("bundle: [unclosed", source: "m.yaml")
        }
        #expect(throws: OTAError(.manifestSyntax, "")) { try ManifestSource.parse("a: 1\na: 2\n", source: "m.yaml") }
        let path = NSTemporaryDirectory() + "bad-\(UUID().uuidString).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([0xff, 0xfe, 0x00]).write(to: URL(fileURLWithPath: path))
        #expect(throws: OTAError(.manifestEncoding, "")) { try ManifestSource.load(path) }
    }

    @Test func `JSON manifests are accepted too`() throws {
        let fixture = try BundleFixture(suite: .intl)
        let yaml = try String(contentsOfFile: try fixture.manifest(images: [("a", "a.img")]), encoding: .utf8)
        let parsed = try ManifestSource.parse(yaml, source: "m.yaml")
        let json = """
            {"bundle": {"id": "j", "campaign": "c", "expires": "2030-01-01T00:00:00Z", "suite": "gm"},
             "targets": {"models": ["X1"]},
             "images": [{"name": "a", "file": "a.img", "ecu": "E", "hardwareIds": ["H"], "slotGroup": "g", "version": "1.0",
                         "securityVersion": 1, "swin": {"after": "S"}, "categories": ["other"]}],
             "impact": {"affectedSystems": ["x"]},
             "notice": {"zh-CN": {"purpose": "p", "content": "c", "expectedDurationMinutes": 1, "functionsUnavailable": [], "precautions": [], "impact": "i"},
                        "en": {"purpose": "p", "content": "c", "expectedDurationMinutes": 1, "functionsUnavailable": [], "precautions": [], "impact": "i"}},
             "preconditions": {"parked": true, "minimumBatteryPercent": 10},
             "recovery": "safe-state"}
            """
        let fromJSON = try ManifestSource.parse(json, source: "m.json")
        #expect(fromJSON.suite == .gm)
        #expect(fromJSON.images[0].version == "1.0")
        #expect(parsed.images.count == 1)
    }
}
