// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// How `ota-patch` and `ota-diff` link (docs/PERFORMANCE-LOG.md, "Start-up footprint"). The Swift
// runtime statically: only the pages it touches count, not whole shared libraries (3.8 MiB at
// start against 6.6 MiB). With lld, relative relocations packed (DT_RELR, glibc 2.36 or later at
// run time): the loader reads a 4.6 KB table instead of 23,000 24-byte entries (568 KB), so those
// pages are never resident; 0.5 MiB less at start, ASLR kept (a non-PIE link was the alternative).
//
// The libraries they need linked statically too (docs/PERFORMANCE-LOG.md, "Start-up: the
// libraries linked statically"): `link/` holds linker scripts named libstdc++.so, libgcc_s.so, libcrypto.so
// and liblzma.so that each load the static archive (`-l:libstdc++.a`, libgcc_eh.a, libcrypto.a,
// liblzma.a), and comes first among the -L directories, so the -l options of the toolchain's
// static-stdlib-args.lnk, the clang driver and the module maps find the scripts. At start-up
// the loader then maps libc and libm only and binds ~100 symbols instead of ~5,300 (libcrypto is
// built with BIND_NOW, libstdc++ binds 3,000 of its own): `ota-patch --version` 3.2 → 1.6 ms CPU,
// 6.8 → 4.7 MiB peak. The cost: a libcrypto or liblzma security update needs these two rebuilt.
let leanExecutableLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-static-stdlib"]),
    .unsafeFlags(["-L", Context.packageDirectory + "/link"], .when(platforms: [.linux])),
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux])),
]
// `ota` too packs its relative relocations (18,000 of its 26,000): `ota --version` 0.4 MiB lower.
let packedRelocations: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(platforms: [.linux]))
]
// `ota-patch` also links the functions an apply runs first and together (the list
// bench/symbol-order.sh makes): ~0.3 MiB of code instead of touched pages spread over 4.6 MB of
// text, 1.4-1.8 MiB less peak RSS. Names not found (renamed since) are skipped; SwiftPM does not
// track the file, so touch a source of ota-patch after regenerating it.
let patchOrderFile = Context.packageDirectory + "/Sources/ota-patch/ota-patch.order"
let patchLinkerSettings =
    leanExecutableLinkerSettings + [
        .unsafeFlags(
            ["-Xlinker", "--symbol-ordering-file=\(patchOrderFile)", "-Xlinker", "--no-warn-symbol-ordering"],
            .when(platforms: [.linux]))
    ]

// On Linux, libcrypto and liblzma are found in the default library directories (their headers in
// /usr/include): through pkg-config, their directory would come first among the -L options, and
// `link/` would not be searched before it.
func systemLibraryPkgConfig(_ name: String) -> String? {
    #if os(Linux)
        return nil
    #else
        return name
    #endif
}

let package = Package(
    name: "ota",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "OTACore", targets: ["OTACore"]),
        .library(name: "OTABuilder", targets: ["OTABuilder"]),
        .library(name: "OTADelta", targets: ["OTADelta"]),
        .library(name: "OTARecorder", targets: ["OTARecorder"]),
        .library(name: "OTACompliance", targets: ["OTACompliance"]),
        .library(name: "OTAInstaller", targets: ["OTAInstaller"]),
        .library(name: "OTATUF", targets: ["OTATUF"]),
        .library(name: "OTARepository", targets: ["OTARepository"]),
        .library(name: "OTATransport", targets: ["OTATransport"]),
        .library(name: "OTAAgent", targets: ["OTAAgent"]),
        .library(name: "OTAFleet", targets: ["OTAFleet"]),
        .executable(name: "ota", targets: ["ota"]),
        // The fleet service apart from `ota`, so the vehicle-side binary links no server stack.
        .executable(name: "ota-fleet", targets: ["ota-fleet"]),
        // The vehicle-side patch applier alone (`ota-patch OLD PATCH -o NEW`): OTABase and OTADelta
        // only, no Foundation, libcurl or server stack, so its start-up costs what hpatchz's does.
        .executable(name: "ota-patch", targets: ["ota-patch"]),
        // The builder-side patch maker alone (`ota-diff OLD NEW -o PATCH`, as `ota delta create`):
        // OTABase and OTADelta only, so a diff's peak memory is the encoder's.
        .executable(name: "ota-diff", targets: ["ota-diff"]),
        .executable(name: "ota-tuf-client", targets: ["ota-tuf-client"]),
        // The records test rig (crash-test appender, simulated fleets): tests and benches only, never installed.
        .executable(name: "ota-records-rig", targets: ["ota-records-rig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each; only OTACore imports them.
        // COpenSSL is libcrypto alone (pkg-config's `libcrypto`, not `openssl`, whose flags add
        // -lssl): nothing of ours calls TLS (libcurl brings its own libssl), so `ota-patch` and
        // `ota-diff` do not map and relocate libssl at start-up.
        .systemLibrary(
            name: "COpenSSL", pkgConfig: systemLibraryPkgConfig("libcrypto"),
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"]), .brew(["libarchive"])]),
        .systemLibrary(
            name: "CLZMA", pkgConfig: systemLibraryPkgConfig("liblzma"),
            providers: [.apt(["liblzma-dev"]), .brew(["xz"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]),
        // glibc's <malloc.h> (allocator settings), nothing to link.
        .systemLibrary(name: "CMalloc"),

        // What the vehicle-side patch applier needs and nothing that links Foundation: errors and
        // their registry, hashing (OpenSSL), LZMA2, file I/O through libc. OTACore re-exports it.
        .target(
            name: "OTABase", dependencies: ["COpenSSL", "CLZMA", "CMalloc"],
            swiftSettings: swiftSettings),
        .target(
            name: "OTACore", dependencies: ["OTABase", "COpenSSL", "CArchive", "CLZMA"],
            swiftSettings: swiftSettings),
        .target(
            name: "OTABuilder", dependencies: ["OTACore", "OTADelta", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .target(
            name: "OTARecorder", dependencies: ["OTACore"],
            swiftSettings: swiftSettings),
        .target(
            name: "OTACompliance",
            dependencies: ["OTARecorder", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ota",
            dependencies: [
                "OTACore", "OTABuilder", "OTADelta", "OTARecorder", "OTACompliance", "OTAInstaller", "OTARepository",
                "OTAAgent", "OTACommandLine",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Test rigs (crash injection) exist in debug builds only, never in a release binary.
            swiftSettings: swiftSettings + [.define("OTA_TEST_RIGS", .when(configuration: .debug))],
            linkerSettings: packedRelocations),
        // What `ota` and `ota-fleet` share: output, exit codes, version.
        .target(
            name: "OTACommandLine",
            dependencies: ["OTACore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),
        // The fleet service's executable (`ota fleet ...` execs it): the only one linking the server stack.
        .executableTarget(
            name: "ota-fleet",
            dependencies: [
                "OTACore", "OTACompliance", "OTAFleet", "OTACommandLine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),

        // Shared test helpers (the openssl command line as an independent tool and attacker).
        .target(
            name: "OTATestSupport", dependencies: ["OTACore"], path: "Tests/OTATestSupport",
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTACoreTests", dependencies: ["OTACore", "OTATestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTABundleTests", dependencies: ["OTACore", "OTABuilder", "OTADelta", "OTATestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTACLITests",
            dependencies: [
                "OTACore", "OTABuilder", "OTADelta", "OTARecorder", "OTACompliance", "ota", "ota-fleet",
                "OTATestSupport",
            ],
            swiftSettings: swiftSettings),
        // Foundation-free (OTABase only), so `ota-patch` can link it.
        .target(
            name: "OTADelta", dependencies: ["OTABase", "CMalloc"],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ota-patch", dependencies: ["COpenSSL", "OTABase", "OTADelta"], exclude: ["ota-patch.order"],
            swiftSettings: swiftSettings, linkerSettings: patchLinkerSettings),
        .executableTarget(
            name: "ota-diff", dependencies: ["OTABase", "OTADelta"],
            swiftSettings: swiftSettings, linkerSettings: leanExecutableLinkerSettings),
        // zlib for tests only: it makes the deflate streams the recompressed-streams tests use.
        .systemLibrary(name: "CZlib", path: "Tests/CZlib"),
        .testTarget(
            name: "OTADeltaTests", dependencies: ["OTADelta", "OTACore", "OTATestSupport", "CZlib"],
            swiftSettings: swiftSettings),
        // The records test rig: a separate executable, so the shipped `ota` holds no test command.
        .executableTarget(
            name: "ota-records-rig",
            dependencies: [
                "OTACore", "OTARecorder", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTARecorderTests", dependencies: ["OTACore", "OTARecorder", "OTATestSupport", "ota-records-rig"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTAComplianceTests", dependencies: ["OTACore", "OTARecorder", "OTACompliance", "OTATestSupport"],
            swiftSettings: swiftSettings),

        // The vehicle side: never links OTABuilder (no signing code on the vehicle).
        .target(
            name: "OTAInstaller", dependencies: ["OTACore", "OTADelta", "OTARecorder"], swiftSettings: swiftSettings),
        // TUF client (vehicle side: verification only).
        .target(name: "OTATUF", dependencies: ["OTACore"], swiftSettings: swiftSettings),
        // HTTPS through libcurl (mutual TLS, Range resume): the one module besides OTACore that imports C.
        .target(name: "OTATransport", dependencies: ["CCurl", "OTACore", "OTATUF"], swiftSettings: swiftSettings),
        // The vehicle agent (vehicle side: TUF client, transport, installer; no signing code).
        .target(
            name: "OTAAgent", dependencies: ["OTACore", "OTATUF", "OTATransport", "OTAInstaller", "OTARecorder"],
            swiftSettings: swiftSettings),
        // The TUF client alone, in the command-line shape TUF conformance suites drive.
        .executableTarget(
            name: "ota-tuf-client", dependencies: ["OTACore", "OTATUF", "OTATransport"], swiftSettings: swiftSettings),
        // The fleet service (cloud side): record uploads, compliance queries, the PostgreSQL store.
        .target(
            name: "OTAFleet",
            dependencies: [
                "OTACore", "OTARecorder", "OTACompliance",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTAFleetTests",
            dependencies: [
                "OTACore", "OTARecorder", "OTACompliance", "OTAFleet", "OTATestSupport", "OTAAgent", "OTATransport",
                "ota-fleet", "ota-records-rig",
            ],
            swiftSettings: swiftSettings),
        // TUF repository (cloud side: signs metadata; never a dependency of the vehicle side).
        .target(name: "OTARepository", dependencies: ["OTACore", "OTATUF"], swiftSettings: swiftSettings),
        .testTarget(
            name: "OTATUFTests", dependencies: ["OTACore", "OTATUF", "OTARepository", "OTABuilder", "OTATestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "OTAInstallerTests",
            dependencies: [
                "OTACore", "OTAInstaller", "OTARecorder", "OTACompliance", "OTABuilder", "OTADelta", "ota",
                "OTATestSupport",
                "OTAAgent", "OTARepository", "OTATUF", "OTATransport",
            ],
            swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzzing (`make fuzz`, docs/SECURITY.md): the libFuzzer harnesses exist only when OTA_FUZZ=1, so
// a plain `swift build` never tries to link them without `-sanitize=fuzzer` (Fuzz/README.md).
if Context.environment["OTA_FUZZ"] == "1" {
    package.products.append(.executable(name: "ota-fuzz", targets: ["ota-fuzz"]))
    package.targets.append(
        .executableTarget(
            name: "ota-fuzz",
            dependencies: [
                "OTACore", "OTADelta", "OTARecorder", "OTACompliance", "OTABuilder", "OTAInstaller", "OTATUF",
                "OTARepository", "OTAAgent",
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Fuzz/Sources/ota-fuzz",
            swiftSettings: swiftSettings))
}
