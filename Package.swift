// swift-tools-version: 6.3
import PackageDescription

/// Settings every Jester target shares: Swift 6 language mode comes from the tools version;
/// these two upcoming features keep dependencies explicit and existentials visible.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Jester",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jester", targets: ["jester"]),
        .library(name: "JesterManifest", targets: ["JesterManifest"]),
        .library(name: "JesterRuntime", targets: ["JesterRuntime"]),
        .library(name: "JesterConfig", targets: ["JesterConfig"]),
        .library(name: "JesterGateway", targets: ["JesterGateway"]),
        .library(name: "JesterStore", targets: ["JesterStore"]),
        .library(name: "JesterCLI", targets: ["JesterCLI"]),
        .library(name: "JesterTesting", targets: ["JesterTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swiftwasm/WasmKit", exact: "0.4.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        // SQLite for host state (DESIGN §6); links the system libsqlite3 (Debian: libsqlite3-dev).
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        .target(
            name: "JesterManifest",
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterWASI",
            dependencies: [
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WasmKitWASI", package: "WasmKit"),
                .product(name: "WASI", package: "WasmKit"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterToolchain",
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterRuntime",
            dependencies: [
                "JesterManifest",
                "JesterWASI",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WasmKitWASI", package: "WasmKit"),
                .product(name: "WASI", package: "WasmKit"),
                .product(name: "WasmParser", package: "WasmKit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterStore",
            dependencies: [
                "JesterRuntime",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterConfig",
            dependencies: [
                "JesterManifest",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strictSettings
        ),
        // include/jester_filter.h, the C ABI of dylib filters, as a module the gateway imports.
        .systemLibrary(name: "CJesterFilter", path: "include"),
        .target(
            name: "JesterGateway",
            dependencies: [
                "CJesterFilter",
                "JesterConfig",
                "JesterRuntime",
                "JesterManifest",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterCLI",
            dependencies: [
                "JesterManifest",
                "JesterToolchain",
                "JesterRuntime",
                "JesterConfig",
                "JesterGateway",
                "JesterStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "WAT", package: "WasmKit"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "jester",
            dependencies: ["JesterCLI"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "JesterTesting",
            dependencies: [
                "JesterManifest",
                "JesterToolchain",
                "JesterRuntime",
                "JesterConfig",
                "JesterGateway",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "WAT", package: "WasmKit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterManifestTests",
            dependencies: ["JesterManifest"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterRuntimeTests",
            dependencies: [
                "JesterRuntime", "JesterTesting", "JesterManifest", "JesterWASI",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterWASITests",
            dependencies: [
                "JesterWASI",
                .product(name: "WasmKit", package: "WasmKit"),
                .product(name: "WAT", package: "WasmKit"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterConfigTests",
            dependencies: ["JesterConfig", "JesterTesting"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterGatewayTests",
            dependencies: [
                "JesterGateway", "JesterConfig", "JesterTesting", "JesterRuntime", "JesterManifest", "JesterToolchain", "JesterStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            exclude: ["Fixtures", "Filters/Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterStoreTests",
            dependencies: ["JesterStore", "JesterRuntime", "JesterManifest", "JesterTesting"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterCLITests",
            dependencies: ["JesterCLI", "JesterTesting", "JesterRuntime", "JesterManifest", "JesterStore"],
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "JesterToolchainTests",
            dependencies: ["JesterToolchain", "JesterTesting"],
            swiftSettings: strictSettings
        ),
    ]
)
