import Foundation

/// Headless Chromium for tests that check what a browser makes of our HTML (`scripts/install-deps.sh`
/// installs `chromium` and `fonts-noto-cjk`): the DOM a page builds, the styles it computes,
/// screenshots.
public enum HeadlessChromium {
    /// The browser, or nil when none is installed.
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    public struct NotInstalled: Error, CustomStringConvertible {
        public var description: String { "chromium is not installed: run scripts/install-deps.sh" }
    }

    /// Runs Chromium headless with a profile of its own; returns its standard output.
    public static func run(_ arguments: [String]) throws -> String {
        guard let executable else { throw NotInstalled() }
        let profile = NSTemporaryDirectory() + "ota-chromium-\(UUID().uuidString)"
        defer { removeProfile(profile) }
        let output = try ProcessRunner.run(
            executable,
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--user-data-dir=" + profile,
            ] + arguments)
        return output.stdout
    }

    /// Chromium's helper processes still write to the profile for a moment after the browser exits, so
    /// one removal can fail on a directory that is not empty yet: try again until it is gone.
    static func removeProfile(_ profile: String) {
        for _ in 0..<50 {
            try? FileManager.default.removeItem(atPath: profile)
            if !FileManager.default.fileExists(atPath: profile) { return }
            usleep(100_000)
        }
    }

    /// Loads the file `page` in a frame, runs `inspect` (a JavaScript expression over `doc`, the
    /// page's document, and `win`, its window) once it has loaded, and returns the expression's
    /// value as JSON text.
    public static func inspect(_ page: String, _ inspect: String, in directory: String) throws -> String {
        let harness = """
            <!DOCTYPE html><html><body><pre id="result">pending</pre>
            <iframe id="page" src="file://\(page)" width="1200" height="2000"></iframe>
            <script>
            document.getElementById('page').addEventListener('load', function () {
              var doc = this.contentDocument, win = this.contentWindow;
              document.getElementById('result').textContent = JSON.stringify(\(inspect));
            });
            </script></body></html>
            """
        let path = directory + "/chromium-harness-\(UUID().uuidString).html"
        try harness.write(toFile: path, atomically: true, encoding: .utf8)
        let dom = try run([
            "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom", "file://" + path,
        ])
        guard let start = dom.range(of: "<pre id=\"result\">"),
            let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex)
        else {
            throw InspectionFailed(description: "no result in the dumped DOM of \(page)")
        }
        return String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// Writes a PNG of the file `page`; returns its size in bytes.
    @discardableResult
    public static func screenshot(_ page: String, to picture: String, width: Int = 1200, height: Int = 2400) throws
        -> Int
    {
        _ = try run(["--window-size=\(width),\(height)", "--screenshot=" + picture, "file://" + page])
        return (try FileManager.default.attributesOfItem(atPath: picture)[.size] as? Int) ?? 0
    }

    public struct InspectionFailed: Error, CustomStringConvertible {
        public let description: String
    }
}
