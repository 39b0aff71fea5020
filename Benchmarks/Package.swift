// swift-tools-version: 6.3
import PackageDescription

/// Jester's benchmarks: a separate package so that the main package's build and tests never pay for
/// them. `JesterBench` measures Jester's call paths and WasmKit's (the baseline) in one process;
/// `run.sh` runs it together with the Python peers and writes the tables in BENCHMARKS.md.
let package = Package(
    name: "JesterBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Jester", path: ".."),
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CBenchSupport"),
        .executableTarget(
            name: "JesterBench",
            dependencies: [
                "CBenchSupport",
                .product(name: "JesterRuntime", package: "Jester"),
                .product(name: "JesterManifest", package: "Jester"),
                .product(name: "JesterTesting", package: "Jester"),
                .product(name: "JesterConfig", package: "Jester"),
                .product(name: "JesterGateway", package: "Jester"),
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        )
    ]
)
