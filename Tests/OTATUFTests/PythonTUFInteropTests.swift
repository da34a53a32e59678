import OTACore
import OTATUF
import OTATestSupport
import Testing

/// ota's client reads a repository that python-tuf's Metadata API made
/// (scripts/make-python-tuf-fixture.py; the files are committed).
@Suite struct PythonTUFInteropTests {
    let now: @Sendable () -> Int64 = { 1_900_000_000 }

    func client() throws -> (TUFClient, TemporaryDirectory) {
        let directory = try TemporaryDirectory("pytuf")
        let base = fixturePath("python-tuf")
        try TUFClient.initialize(
            metadataDirectory: directory.path, trustedRoot: try FileSystem.read(base + "/metadata/1.root.json"))
        let client = try TUFClient(
            metadataDirectory: directory.path, metadataURL: "file://\(base)/metadata", fetcher: FileFetcher(), now: now)
        return (client, directory)
    }

    @Test func `ota reads a python-tuf repository: rsa, ecdsa and ed25519 keys, root rotation, delegations`() throws {
        let (client, directory) = try client()
        try client.refresh()
        #expect(client.root.metadata.version == 2)
        let base = "file://" + fixturePath("python-tuf") + "/targets"
        for (name, content) in [
            ("readme.txt", "hello from python-tuf\n"), ("apps/app.bin", String(repeating: "app payload\n", count: 10)),
            ("apps/deep-1.bin", "two levels down\n"), ("hashed/blob.bin", "found by hash prefix\n"),
        ] {
            let file = try #require(try client.target(named: name))
            #expect(String(decoding: try client.fetchTarget(name, file, baseURL: base), as: UTF8.self) == content)
        }
        // Only unversioned metadata files are stored.
        let names = try FileSystem.list(directory.path)
        #expect(
            names == [
                "apps.json", "deep.json", "hashed.json", "root.json", "snapshot.json", "targets.json", "timestamp.json",
            ])
    }

    @Test func `a terminating delegation ends the search`() throws {
        let (client, directory) = try client()
        // "apps" is terminating and covers apps/*: a name it does not list is not searched further.
        #expect(try client.target(named: "apps/missing.bin") == nil)
        withExtendedLifetime(directory) {}
    }

    @Test func `an unknown field is kept under the signature: changing it breaks the signature`() throws {
        let directory = try TemporaryDirectory("pytuf-copy")
        let source = fixturePath("python-tuf/metadata")
        try FileSystem.createDirectory(directory.path + "/metadata")
        for name in try FileSystem.list(source) {
            var bytes = try FileSystem.read("\(source)/\(name)")
            if name == "1.targets.json" {
                let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(
                    of: "python-tuf\"", with: "python-tuX\"")
                bytes = Array(text.utf8)
            }
            try AtomicFileWriter.write(bytes, to: "\(directory.path)/metadata/\(name)")
        }
        let clientDirectory = try TemporaryDirectory("pytuf-client")
        try TUFClient.initialize(
            metadataDirectory: clientDirectory.path, trustedRoot: try FileSystem.read(source + "/1.root.json"))
        let client = try TUFClient(
            metadataDirectory: clientDirectory.path, metadataURL: "file://\(directory.path)/metadata",
            fetcher: FileFetcher(), now: now)
        // The snapshot does not pin targets' hash here, so only the signature can catch it.
        #expect(refusal { try client.refresh() } == .tufSignatureThreshold)
    }
}
