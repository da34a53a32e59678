import OTACore

/// `recipients.json` as the installer and `bundle rewrap` read it: decoded, every entry's keys
/// taken apart, and the content key unwrapped with the sample vehicle keys under the sample
/// manifest's digest (both suites), as `Recipients.contentKey` does on the vehicle.
struct RecipientsTarget: FuzzTarget {
    static let name = "recipients"
    static let summary = "recipients.json: Recipients.decode, Entry.wrapped, Recipients.contentKey (intl and gm keys)"

    let cases: [(keys: [PrivateKey], digest: Digest)]

    init() throws(OTAError) {
        var cases: [(keys: [PrivateKey], digest: Digest)] = []
        for suite in [Suite.intl, .gm] {
            cases.append(
                (
                    try FuzzFixtures.recipientKeys(suite),
                    try Hasher.hash(suite.hash, try FuzzFixtures.manifestBytes(suite))
                ))
        }
        self.cases = cases
    }

    func run(_ input: [UInt8]) {
        guard let recipients = try? Recipients.decode(input) else { return }
        for entry in recipients.recipients { _ = try? entry.wrapped() }
        for test in cases {
            _ = try? recipients.contentKey(using: test.keys, manifestDigest: test.digest)
        }
    }
}
