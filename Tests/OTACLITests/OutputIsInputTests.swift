import Foundation
import OTACore
import OTATestSupport
import Testing

/// An output a command names never replaces one of its own inputs (found by an audit helper:
/// each of these exited 0 with the input gone), while the commands that rewrite a file in place
/// on purpose still do, through a link too.
@Suite struct OutputIsInputTests {
    static let keys = RepositoryRoot.path + "/keys-sample/intl"
    static let signer = [
        "--key", "\(keys)/release/signer-1.key", "--cert", "\(keys)/release/signer-1.crt", "--chain",
        "\(keys)/release/chain.pem",
    ]

    static func digest(_ path: String) throws -> String { Hex.encode(try Hasher.hash(.sha256, fileAt: path).bytes) }

    /// Runs `arguments` and expects `io.output-is-input`, `input` unchanged and no temporary file.
    static func expectRefused(_ arguments: [String], input: String, in directory: String) throws {
        let before = try digest(input)
        let run = try CLIRunner.run(arguments + ["--json"])
        #expect(
            run.status == 1 && run.errorCode == "io.output-is-input", "\(arguments[0]): \(run.stdout) \(run.stderr)")
        #expect(try digest(input) == before, "\(arguments[0]) replaced its input")
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp-") }
        #expect(left.isEmpty, "\(left)")
    }

    @Test func `a patch, a bundle or an approval written over its input is refused`() throws {
        let directory = try TemporaryDirectory("output-input")
        try SampleImages.make(in: directory.appending("images"))
        let images = directory.appending("images")
        let image = images + "/ivi-rootfs-2.4.0.img"
        let other = directory.appending("other.img")
        try Data(try FileSystem.read(image, limit: 64 << 20).map { $0 ^ 0x20 }).write(to: URL(fileURLWithPath: other))
        try Self.expectRefused(["delta", "create", other, image, "-o", other], input: other, in: directory.path)
        try Self.expectRefused(["delta", "create", other, image, "-o", image], input: image, in: images)
        // Through a link to the input: the same file.
        try FileManager.default.createSymbolicLink(atPath: directory.appending("link.img"), withDestinationPath: other)
        try Self.expectRefused(
            ["delta", "create", other, image, "-o", directory.appending("link.img")], input: other, in: directory.path)
        let manifest = RepositoryRoot.path + "/manifests/infotainment-full.yaml"
        try Self.expectRefused(
            ["bundle", "build", manifest, "--images", images] + Self.signer + ["-o", image], input: image, in: images)
        let bundle = directory.appending("adas.ota")
        let built = try CLIRunner.run(
            ["bundle", "build", RepositoryRoot.path + "/manifests/adas-automated-driving.yaml", "--images", images]
                + Self.signer + ["-o", bundle])
        try #require(built.status == 0, "\(built.stderr)")
        try Self.expectRefused(
            [
                "approve", bundle, "--key", "\(Self.keys)/approval/approval-signer.key", "--cert",
                "\(Self.keys)/approval/approval-signer.crt", "--approval-id", "MIIT-AD-2026-0042", "--models", "X1",
                "-o", bundle,
            ], input: bundle, in: directory.path)
    }

    /// The error names the output as given, not the staging file beside it (an audit helper's
    /// finding: `nodir/.x.ota.ivi-rootfs.scratch-…` was the only path in the message).
    @Test func `a bundle into a missing directory is refused naming the output`() throws {
        let directory = try TemporaryDirectory("output-missing")
        try SampleImages.make(in: directory.appending("images"))
        let output = directory.appending("nodir/x.ota")
        let run = try CLIRunner.run(
            [
                "bundle", "build", RepositoryRoot.path + "/manifests/infotainment-full.yaml", "--images",
                directory.appending("images"),
            ] + Self.signer + ["-o", output])
        #expect(run.status == 1 && run.stderr.contains("error: \(output): cannot create"), "\(run.stderr)")
    }

    /// A new key whose request cannot be written is kept (the request is made from it) and the
    /// error says how to go on; before, a retry with `--new-key` was refused for the key that
    /// exists, with no hint (an audit helper's finding).
    @Test func `a request that cannot be written says where its new key is`() throws {
        let directory = try TemporaryDirectory("csr-missing")
        let key = directory.appending("new.key")
        let run = try CLIRunner.run([
            "keys", "csr", "--new-key", key, "--type", "p256", "--cn", "X", "--org", "O", "--ou", "vehicle", "-o",
            directory.appending("nodir/x.csr"),
        ])
        #expect(run.status == 1 && run.stderr.contains("make the request with --key \(key)"), "\(run.stderr)")
        let again = try CLIRunner.run([
            "keys", "csr", "--key", key, "--cn", "X", "--org", "O", "--ou", "vehicle", "-o",
            directory.appending("x.csr"),
        ])
        #expect(again.status == 0, "\(again.stderr)")
    }

    /// Co-signing rewrites the bundle in place; named through a link, the file it names is
    /// rewritten (before: the link was replaced by a signed copy and the file kept one signature).
    @Test func `co-signing in place rewrites the file a link names, and keeps the link`() throws {
        let directory = try TemporaryDirectory("output-link")
        try SampleImages.make(in: directory.appending("images"))
        let bundle = directory.appending("real.ota"), link = directory.appending("link.ota")
        let built = try CLIRunner.run(
            [
                "bundle", "build", RepositoryRoot.path + "/manifests/infotainment-full.yaml", "--images",
                directory.appending("images"),
            ] + Self.signer + ["-o", bundle])
        try #require(built.status == 0, "\(built.stderr)")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: bundle)
        let signed = try CLIRunner.run([
            "bundle", "sign", link, "--key", "\(Self.keys)/release/signer-2.key", "--cert",
            "\(Self.keys)/release/signer-2.crt", "--chain", "\(Self.keys)/release/chain.pem",
        ])
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == bundle)
        let verify = try CLIRunner.run([
            "bundle", "verify", bundle, "--trust", "\(Self.keys)/trust", "--threshold", "2",
        ])
        #expect(verify.status == 0, "\(verify.stderr)")
    }
}
