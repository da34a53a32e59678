import ArgumentParser
import Foundation
import OTACore
import OTARepository
import OTATUF

/// `ota repo`: the TUF repository a web server hosts (cloud side; signs metadata).
struct RepoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo",
        abstract: "Keep a TUF repository (static files for nginx, a CDN or an object store) of verified bundles.",
        discussion: """
            DIR/metadata and DIR/targets are what the web server serves; DIR/keys, DIR/staged and
            DIR/repository.json stay private. See docs/FORMAT.md ("Repository").
            """,
        subcommands: [
            RepoInitCommand.self, RepoAddCommand.self, RepoAddTrustCommand.self, RepoRemoveCommand.self,
            RepoDelegateCommand.self, RepoPublishCommand.self,
            RepoTimestampCommand.self, RepoRotateCommand.self, RepoVerifyCommand.self,
        ]
    )
}

struct RepoInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a repository: keys per role, root version 1, empty targets, snapshot and timestamp.")

    @Argument(help: "Repository directory (created).") var directory: String
    @Option(help: "Suite: intl (ECDSA P-256 keys) or gm (SM2 keys, scheme sm2-sm3).") var suite = "intl"
    @Option(name: .customLong("key-type"), help: "p256 or ed25519 for intl (default p256); sm2 for gm.") var keyType:
        String?
    @Option(name: .customLong("threshold"), help: "ROLE=N: signatures (and keys) a role needs; repeatable. Default 1.")
    var thresholds: [String] = []
    @Option(name: .customLong("expires"), help: "ROLE=DAYS: how long each new version of a role is valid; repeatable.")
    var expiries: [String] = []
    @OptionGroup var output: OutputOptions

    func run() throws {
        let suite = try Suite.parse(suite)
        var type: KeyType? = nil
        if let keyType {
            guard let parsed = KeyType(rawValue: keyType) else {
                throw OTAError(.usageInvalid, "--key-type: p256, ed25519 or sm2")
            }
            type = parsed
        }
        let repository = Repository(directory: directory)
        try repository.initialize(
            suite: suite, keyType: type, thresholds: try Self.pairs(thresholds, "--threshold").mapValues { Int($0) },
            lifetimes: try Self.pairs(expiries, "--expires").mapValues { $0 * 86_400 })
        Output.succeed(
            ["directory": directory, "suite": suite.rawValue],
            human: "repository created in \(directory) (serve \(directory)/metadata and \(directory)/targets)",
            json: output.json)
    }

    static func pairs(_ items: [String], _ option: String) throws(OTAError) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Int64(parts[1]), value > 0, value < 100_000 else {
                throw OTAError(.usageInvalid, "\(option) \(item): expected ROLE=N with N a positive number")
            }
            result[parts[0]] = value
        }
        return result
    }
}

struct RepoAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add bundles as targets (staged; run publish). Each must verify against the release trust store.",
        discussion:
            "The target entry carries length, sha256 (and sm3 for gm), the signed chunk list and custom fields from the verified manifest."
    )

    @Argument(help: "Repository directory.") var directory: String
    @Argument(help: "Bundle files.") var bundles: [String]
    @Option(help: "Release trust store (the vehicle's trust/ directory layout).") var trust: String
    @Option(name: .customLong("release-threshold"), help: "Distinct release signers a bundle needs.")
    var releaseThreshold = 1
    @Option(help: "Targets role to add to (a delegated role, or targets).") var role = "targets"
    @Option(name: .customLong("name"), help: "Target name per bundle, in order (default: the file name).") var names:
        [String] = []
    @OptionGroup var output: OutputOptions

    func run() throws {
        guard names.isEmpty || names.count == bundles.count else {
            throw OTAError(.usageInvalid, "give one --name per bundle, or none")
        }
        let added = try Repository(directory: directory).add(
            bundles: bundles, trust: trust, releaseThreshold: releaseThreshold, role: role,
            names: names.isEmpty ? nil : names)
        Output.succeed(
            added,
            human: added.map {
                "staged \($0.name): \($0.length) bytes, bundle \($0.bundleId), manifest \($0.manifestDigest)"
            }.joined(separator: "\n"),
            json: output.json)
    }
}

struct RepoAddTrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-trust",
        abstract:
            "Add trust material for vehicles (staged; run publish): signed trust updates and CA CRLs, listed under trust/.",
        discussion: """
            The agent fetches them at each refresh and the vehicle applies what its own trust store accepts (a threshold of its
            root keys for an update; a newer CRL signed by one of its CAs). A CA's next CRL replaces its entry.
            Example: ota repo add-trust repo signing-ca-2.crl trust-update-2.json && ota repo publish repo
            """)
    @Argument(help: "Repository directory.") var directory: String
    @Argument(help: "Trust update (.json) or CRL (PEM or DER) files.") var files: [String]
    @Option(
        name: .customLong("ca"),
        help: "Certificate of an intermediate CA whose CRL is added, for vehicles to check it (repeatable).")
    var issuers: [String] = []
    @Option(help: "Targets role to add to.") var role = "targets"
    @OptionGroup var output: OutputOptions

    func run() throws {
        var certificates: [Certificate] = []
        for path in issuers { certificates += try Certificate.load(contentsOf: path) }
        let added = try Repository(directory: directory).addTrust(files, issuers: certificates, role: role)
        Output.succeed(
            added, human: added.map { "staged \($0.name) (\($0.kind))" }.joined(separator: "\n"), json: output.json)
    }
}

struct RepoRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove targets from a role (staged; run publish).")
    @Argument(help: "Repository directory.") var directory: String
    @Argument(help: "Target names.") var names: [String]
    @Option(help: "Targets role.") var role = "targets"
    @OptionGroup var output: OutputOptions

    func run() throws {
        try Repository(directory: directory).remove(names: names, role: role)
        Output.succeed(
            ["removed": names], human: "staged removal of \(names.joined(separator: ", "))", json: output.json)
    }
}

struct RepoDelegateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delegate",
        abstract: "Delegate target paths to a new role with its own keys (staged; run publish).")
    @Argument(help: "Repository directory.") var directory: String
    @Option(help: "New role name (A-Z a-z 0-9 . _ -).") var role: String
    @Option(help: "Delegating role.") var from = "targets"
    @Option(name: .customLong("path"), help: "Path pattern (repeatable), e.g. 'x1/*'.") var paths: [String] = []
    @Option(name: .customLong("hash-prefix"), help: "SHA-256 path hash prefix (repeatable), instead of paths.")
    var prefixes: [String] = []
    @Flag(help: "Stop the client's search at this role.") var terminating = false
    @Option(help: "Signatures the role needs.") var threshold = 1
    @OptionGroup var output: OutputOptions

    func run() throws {
        try Repository(directory: directory).delegate(
            role: role, from: from, paths: paths.isEmpty ? nil : paths,
            pathHashPrefixes: prefixes.isEmpty ? nil : prefixes, terminating: terminating,
            threshold: threshold)
        Output.succeed(["role": role], human: "delegated to \(role) from \(from)", json: output.json)
    }
}

struct RepoPublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Sign new versions of the changed targets roles, then a new snapshot and timestamp.")
    @Argument(help: "Repository directory.") var directory: String
    @Flag(help: "Re-sign every targets role even if unchanged.") var force = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        let published = try Repository(directory: directory).publish(force: force)
        let roles = published.targets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        Output.succeed(
            published,
            human:
                "published \(roles.isEmpty ? "no targets change" : roles); snapshot \(published.snapshot.map(String.init) ?? "unchanged"), timestamp \(published.timestamp)",
            json: output.json)
    }
}

struct RepoTimestampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timestamp",
        abstract: "Re-sign the timestamp only (run every few hours so vehicles see fresh repository time).")
    @Argument(help: "Repository directory.") var directory: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let published = try Repository(directory: directory).timestamp()
        Output.succeed(published, human: "timestamp \(published.timestamp)", json: output.json)
    }
}

struct RepoRotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Replace a top-level role's keys; the new root is signed by the old and the new root keys.")
    @Argument(help: "Repository directory.") var directory: String
    @Option(help: "root, targets, snapshot or timestamp.") var role: String
    @Option(
        name: .customLong("key"),
        help: "A PKCS#11 URI of the role's new key, its PIN by pin-source (repeatable); default: new key files.")
    var tokenKeys: [String] = []
    @OptionGroup var output: OutputOptions

    func run() throws {
        try Repository(directory: directory).rotate(role: role, tokenKeys: tokenKeys)
        Output.succeed(["role": role], human: "rotated the \(role) keys", json: output.json)
    }
}

struct RepoVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Read the repository as a vehicle would (from 1.root.json) and check every target file.")
    @Argument(help: "Repository directory.") var directory: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        let result = try Repository(directory: directory).verify()
        Output.succeed(
            result,
            human:
                "repository verifies: root \(result.rootVersion), timestamp \(result.timestampVersion), snapshot \(result.snapshotVersion), \(result.targets) targets (\(result.bytes) bytes)",
            json: output.json)
    }
}
