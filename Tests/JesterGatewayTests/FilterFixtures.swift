import Foundation
import JesterManifest
import JesterTesting
import Testing

/// The http-filter guests in `Fixtures/filters`, kept as WAT and assembled when a test asks:
///
/// | name              | what it does                                                                  |
/// | ----------------- | ----------------------------------------------------------------------------- |
/// | `trap-on-request` | `on-request` traps (`unreachable`); `on-response` continues                   |
/// | `loop-forever`    | `on-request` never returns                                                    |
/// | `grow-memory`     | `on-request` grows memory 1 MiB at a time until refused, then traps           |
/// | `bad-action`      | `on-request` returns 7, which is not an `action`                              |
/// | `echo-header`     | copies request header `x-echo` to request header `x-echo-seen` (on-request) and to response header `x-echoed` (on-response) |
enum FilterFixtures {
    static let names = ["trap-on-request", "loop-forever", "grow-memory", "bad-action", "echo-header"]

    /// The directory holding the `.wat` files.
    static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/filters").path
    }

    /// The WAT source of fixture `name`.
    static func source(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/\(name).wat", encoding: .utf8)
    }

    /// The module of fixture `name`, assembled with WasmKit's WAT parser.
    static func wasm(_ name: String) throws -> [UInt8] {
        JesterFixtures.wasm(try source(name))
    }

    /// A manifest for fixture `name` with its `on-request` (and, for `echo-header` and
    /// `trap-on-request`, `on-response`) declared as `http-filter` exports.
    static func manifest(_ name: String, limits: ResourceLimits = ResourceLimits(timeout: .milliseconds(500))) -> PluginManifest {
        var exports = [ExportDeclaration(name: "on-request", kind: .httpFilter)]
        if name == "echo-header" || name == "trap-on-request" {
            exports.append(ExportDeclaration(name: "on-response", kind: .httpFilter))
        }
        return PluginManifest(
            id: name, abi: .jester, abiVersion: SemanticVersion(0, 1, 0), exports: exports, limits: limits
        )
    }
}

@Suite struct FilterFixtureTests {
    @Test(arguments: FilterFixtures.names)
    func everyFixtureAssembles(_ name: String) throws {
        let wasm = try FilterFixtures.wasm(name)
        #expect(Array(wasm.prefix(4)) == [0x00, 0x61, 0x73, 0x6D])
    }
}
