// swift-tools-version: 6.1
import PackageDescription

// Module graph (arrows point down only; see ../shared/DESIGN.md §1):
//
//   CLMDB  COpenSSL  CZstd        system libraries (liblmdb-dev, libssl-dev, libzstd-dev)
//   LMDB   TallyCrypto  Zstd      thin, safe Swift wrappers with typed errors
//   Journal                       append-only, signed, hash-chained log of opaque events
//   Ledger                        the domain: commands -> double-entry events, write model
//   Projections                   read models folded from the journal (own LMDB environment)
//   TallyServer                   Hummingbird 2 HTTP API
//   tally, journal-tool           executables
//
// The executables that hold the ledger's work (the server, journal-tool, the ledger benchmark)
// link jemalloc (libjemalloc-dev), which takes malloc over from glibc for the whole process:
// the fold and the request threads allocate and free millions of small objects. A 1M rebuild
// took ~5 % less time and 0.5 GB less memory, decide-and-fold ~13 % less CPU; the HTTP figures
// did not move beyond this machine's noise (Benchmarks/README.md, session 8).
//
// The OpenSSL wrapper is called `TallyCrypto`, not `Crypto`, so that it can never clash with
// swift-crypto's `Crypto` module (pulled in by hummingbird-auth).

/// Links jemalloc, whose malloc and free then serve the whole process (see the top).
let jemalloc: [LinkerSetting] = [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]

let package = Package(
    name: "tally",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tally", targets: ["tally"]),
        .executable(name: "journal-tool", targets: ["journal-tool"]),
        .library(name: "Journal", targets: ["Journal"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "TallyCrypto", dependencies: ["COpenSSL"]),
        .target(name: "Zstd", dependencies: ["CZstd"]),

        .target(
            name: "Journal",
            dependencies: [
                "LMDB", "TallyCrypto",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "Ledger", dependencies: ["Journal", "LMDB", "TallyCrypto"]),
        .target(
            name: "Projections",
            dependencies: [
                "Journal", "Ledger", "LMDB", "TallyCrypto",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "TallyServer",
            dependencies: [
                "Journal", "Ledger", "Projections", "LMDB", "TallyCrypto",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .executableTarget(
            name: "tally",
            dependencies: [
                "TallyServer", "TallyCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: jemalloc
        ),
        .executableTarget(
            name: "journal-tool",
            dependencies: [
                "Journal", "Ledger", "Projections", "LMDB", "TallyCrypto", "Zstd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "journal-tools",
            linkerSettings: jemalloc
        ),
        // What the benchmarks share: the standard workload's generator and totals, clocks,
        // counters, formatting and the machine's facts.
        .target(name: "BenchmarkSupport", path: "Benchmarks/Support"),
        .executableTarget(
            name: "journal-benchmark",
            dependencies: ["Journal", "LMDB", "TallyCrypto", "BenchmarkSupport"],
            path: "Benchmarks/JournalBenchmark"
        ),
        .executableTarget(
            name: "ledger-benchmark",
            dependencies: ["Ledger", "Journal", "TallyCrypto", "BenchmarkSupport"],
            path: "Benchmarks/LedgerBenchmark",
            linkerSettings: jemalloc
        ),
        // The HTTP load generator: the standard purchase workload (../shared/bench/WORKLOAD.md)
        // against a live server, HMAC-signed, over keep-alive HTTP/1.1 connections.
        .executableTarget(
            name: "tally-loadgen",
            dependencies: [
                "TallyCrypto",
                "BenchmarkSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/LoadGenerator"
        ),
        // A child process for the crash tests: appends under load, prints every acknowledged
        // sequence, and is killed with SIGKILL by JournalTests.
        .executableTarget(name: "tally-crash-child", dependencies: ["Journal"], path: "Tests/CrashChild"),

        // What several test targets share: temporary directories, paths of built executables.
        .target(name: "TallyTestSupport", dependencies: ["LMDB"], path: "Tests/TestSupport"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "TallyTestSupport"]),
        .testTarget(
            name: "LedgerTests",
            dependencies: [
                "Ledger", "Journal", "LMDB", "TallyCrypto", "TallyTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(name: "TallyCryptoTests", dependencies: ["TallyCrypto"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd"]),
        .testTarget(name: "BenchmarkSupportTests", dependencies: ["BenchmarkSupport"]),
        .testTarget(
            name: "JournalTests",
            dependencies: [
                "Journal", "LMDB", "TallyCrypto", "tally-crash-child", "journal-tool", "TallyTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(
            name: "ProjectionTests",
            dependencies: [
                "Projections", "Ledger", "Journal", "LMDB", "TallyTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(
            name: "JournalToolTests",
            dependencies: [
                "Journal", "Ledger", "Projections", "LMDB", "TallyCrypto", "Zstd", "journal-tool", "TallyTestSupport",
            ]),
        .testTarget(
            name: "TallyServerTests",
            dependencies: [
                "TallyServer", "Journal", "Ledger", "Projections", "TallyCrypto", "tally", "TallyTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)
