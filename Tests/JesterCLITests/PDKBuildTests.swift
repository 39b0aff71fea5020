import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import JesterToolchain
import Testing

/// Which guest toolchains this machine has. `.ci/run` installs them all; a test that needs one
/// is skipped, saying what to install, only when it is truly absent.
enum PDKToolchains {
    static let rust = (try? RustToolchain()) != nil
    static let wasiC = (try? WASICToolchain()) != nil
    static let rustMissing: Comment = "no rustc with the wasm32-unknown-unknown std: apt-get install rustc libstd-rust-dev-wasm32 lld-14"
    static let wasiCMissing: Comment = "no clang with wasi-libc: apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32"
}

/// A fixture plugin of `Fixtures/pdk`, copied to a temporary directory and built with
/// `jester plugin build DIR ARGUMENTS...`.
struct PDKFixture {
    let directory: String
    let build: (status: Int32, stdout: String, stderr: String)

    init(_ name: String, _ arguments: String...) throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pdk/\(name)").path
        directory = try JesterFixtures.temporaryDirectory(name) + "/" + name
        try FileManager.default.copyItem(atPath: source, toPath: directory)
        build = try Self.rebuild(directory, arguments)
    }

    static func rebuild(_ directory: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try JesterFixtures.run(
            JesterFixtures.jesterExecutable, ["plugin", "build", directory, "--pdk-root", JesterFixtures.repositoryRoot] + arguments)
    }

    var manifest: PluginManifest { get throws { try PluginBundle.readManifest(directory + "/plugin.json") } }

    var modulePath: String { get throws { directory + "/" + (try manifest.module ?? "plugin.wasm") } }

    func module() throws -> ModuleInfo {
        try ModuleInfo(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: try modulePath))))
    }

    func call(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try jester(["plugin", "call", directory] + arguments)
    }

    /// What every handler fixture answers (the comment at the top of each fixture's source):
    /// greets with the configured word, fails on empty input, and reports what the host gave it
    /// for "probe": clock and random only when granted, config keys, and one `init`.
    func checkHandlerContract(probeSuffix: String = "") throws {
        let hello = try call("--input", "World")
        #expect(hello.status == 0, "\(hello.stderr)")
        #expect(hello.stdout == "Hello, World!")
        #expect(hello.stderr.contains("greeting World"), "\(hello.stderr)")
        #expect(try call("--input", "World", "--config", "greeting=Howdy").stdout == "Howdy, World!")

        let empty = try call()
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("empty input: pass --input NAME"), "\(empty.stderr)")

        let denied = try call("--input", "probe")
        #expect(denied.status == 0, "\(denied.stderr)")
        #expect(denied.stdout == "wall=permission-denied monotonic=permission-denied random=permission-denied keys=0 init=1" + probeSuffix)

        let granted = try call("--input", "probe", "--allow-clock", "--allow-random", "--config", "a=1", "--config", "b=2")
        #expect(granted.status == 0, "\(granted.stderr)")
        let pattern = #/wall=ok monotonic=ok random=([0-9a-f]{32}) keys=2 init=1(.*)/#
        let match = try #require(granted.stdout.wholeMatch(of: pattern), "\(granted.stdout)")
        #expect(String(match.output.2) == probeSuffix)
        let again = try call("--input", "probe", "--allow-random")
        #expect(!again.stdout.contains(String(match.output.1)), "two calls gave the same random bytes")
    }
}

/// Runs `jester` with an argument array.
func jester(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try JesterFixtures.run(JesterFixtures.jesterExecutable, arguments)
}

@Suite struct CPDKHandlerTests {
    @Test func aFreestandingCHandlerBuildsAndUsesEveryHostInterface() throws {
        let plugin = try PDKFixture("c-handler")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let info = try plugin.module()
        #expect(Set(info.exports.map(\.name)) == ["memory", "cabi_realloc", "handle", "cabi_post_handle", "init", "health"])
        #expect(info.imports.allSatisfy { $0.module.hasPrefix("jester:plugin/") }, "\(info.imports)")
        #expect(Set(info.imports.map(\.module)).count == 4)  // log, config, clock, random
        #expect(info.abi == .jester)
        try plugin.checkHandlerContract()
    }

    @Test(.enabled(if: PDKToolchains.wasiC, PDKToolchains.wasiCMissing))
    func aCHandlerWithWASILibcRunsWithoutWASIGrants() throws {
        let plugin = try PDKFixture("c-libc-handler", "--libc")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let info = try plugin.module()
        // printf imports WASI; Jester provides it without any grant: stdout goes to the log.
        #expect(info.imports.contains { $0.module == "wasi_snapshot_preview1" && $0.name == "fd_write" }, "\(info.imports)")
        #expect(info.functionExport(named: "_initialize") != nil)
        #expect(info.abi == .jester)
        try plugin.checkHandlerContract(probeSuffix: " libc=yes ctor=yes")
        let hello = try plugin.call("--input", "Ada", "--json")
        let logs = try JSONValue.parse(hello.stdout)["logs"]?.serialized() ?? ""
        #expect(logs.contains(#""source":"stdout""#) && logs.contains("greeting Ada"), "\(logs)")
        let check = try jester(["plugin", "check", plugin.directory])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
    }

    @Test func aSourceThatNeedsTheCLibraryFailsFreestandingWithWhatToDo() throws {
        let plugin = try PDKFixture("c-libc-handler")
        #expect(plugin.build.status != 0)
        #expect(plugin.build.stderr.contains("'stdio.h' file not found"), "\(plugin.build.stderr)")
        #expect(plugin.build.stderr.contains("--libc"))
    }

    @Test func libcIsOnlyForC() throws {
        let plugin = try PDKFixture("rust-handler", "--libc")
        #expect(plugin.build.status != 0)
        #expect(plugin.build.stderr.contains("--libc is for C plugins"), "\(plugin.build.stderr)")
    }
}

@Suite struct RustPDKHandlerTests {
    @Test(.enabled(if: PDKToolchains.rust, PDKToolchains.rustMissing))
    func aRustHandlerBuildsWithRustcAndUsesEveryHostInterface() throws {
        let plugin = try PDKFixture("rust-handler")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let info = try plugin.module()
        let functions = Set(info.exports.filter { $0.kind == .function }.map(\.name))
        #expect(functions == ["cabi_realloc", "handle", "cabi_post_handle", "init", "cabi_post_init", "health"])
        #expect(info.imports.allSatisfy { $0.module.hasPrefix("jester:plugin/") }, "\(info.imports)")
        #expect(info.abi == .jester)
        try plugin.checkHandlerContract()
    }

    @Test(.enabled(if: PDKToolchains.rust, PDKToolchains.rustMissing))
    func aPanicFailsTheCallAndLogsWhere() throws {
        let plugin = try PDKFixture("rust-handler")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let panic = try plugin.call("--input", "panic")
        #expect(panic.status != 0)
        #expect(panic.stderr.contains("asked to panic"), "\(panic.stderr)")
        #expect(panic.stderr.contains("./src/lib.rs:"), "the source path is relative to the plugin: \(panic.stderr)")
        #expect(panic.stderr.contains("trap"), "\(panic.stderr)")
    }

    @Test(.enabled(if: PDKToolchains.rust, PDKToolchains.rustMissing))
    func theRustcUsedIsOneWithTheWasmTarget() throws {
        let toolchain = try RustToolchain()
        #expect(FileManager.default.fileExists(atPath: toolchain.sysroot + "/lib/rustlib/wasm32-unknown-unknown/lib"))
        // A rustup rustc without the target may come first on PATH; it must not be chosen.
        let probe = try JesterFixtures.run(toolchain.rustc, ["--print", "target-libdir", "--target", "wasm32-unknown-unknown"])
        #expect(probe.status == 0, "\(probe.stderr)")
    }
}

@Suite struct PluginBuildManifestTests {
    @Test func theBuildRecordsTheModulesDigestAndReleaseStripsNames() throws {
        let plugin = try PDKFixture("c-handler")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        #expect(plugin.build.stdout.contains("updated"), "\(plugin.build.stdout)")
        let wasm = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try plugin.modulePath)))
        #expect(try plugin.manifest.sha256 == PluginBundle.sha256(of: wasm))
        #expect(try plugin.module().customSections.contains { $0.name == "name" })
        let check = try jester(["plugin", "check", plugin.directory])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")

        // The same build again changes nothing.
        let before = try String(contentsOfFile: plugin.directory + "/plugin.json", encoding: .utf8)
        let again = try PDKFixture.rebuild(plugin.directory, [])
        #expect(again.status == 0)
        #expect(!again.stdout.contains("updated"), "\(again.stdout)")
        #expect(try String(contentsOfFile: plugin.directory + "/plugin.json", encoding: .utf8) == before)

        let release = try PDKFixture.rebuild(plugin.directory, ["--release"])
        #expect(release.status == 0, "\(release.stderr)")
        let stripped = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try plugin.modulePath)))
        #expect(stripped.count < wasm.count)
        #expect(try plugin.module().customSections.isEmpty)
        #expect(try plugin.manifest.sha256 == PluginBundle.sha256(of: stripped))
        // Only the digest changed: the rest of the file is as the author wrote it.
        let after = try String(contentsOfFile: plugin.directory + "/plugin.json", encoding: .utf8)
        #expect(after.replacingOccurrences(of: PluginBundle.sha256(of: stripped), with: PluginBundle.sha256(of: wasm)) == before)
        try plugin.checkHandlerContract()
    }

    @Test func aRebuildDropsTheSignatureAndSaysToSignAgain() throws {
        let plugin = try PDKFixture("c-handler")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let path = plugin.directory + "/plugin.json"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: #""id": "c-handler","#, with: #""id": "c-handler", "signature": {"public_key": "0000000000000000000000000000000000000000000000000000000000000000", "value": "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"},"#)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try plugin.manifest.signature != nil)
        // The module did not change: its signature still holds.
        #expect(try PDKFixture.rebuild(plugin.directory, []).status == 0)
        #expect(try plugin.manifest.signature != nil)

        let debug = try PDKFixture.rebuild(plugin.directory, ["--debug"])
        #expect(debug.status == 0, "\(debug.stderr)")
        #expect(debug.stderr.contains("removed the signature"), "\(debug.stderr)")
        #expect(debug.stderr.contains("sign the plugin again"))
        let manifest = try plugin.manifest
        #expect(manifest.signature == nil)
        #expect(manifest.permissions.clock && manifest.permissions.random)
        #expect(manifest.exports.map(\.name) == ["handle"])
    }

    @Test func releaseAndDebugExcludeEachOther() throws {
        let plugin = try PDKFixture("c-handler", "--release", "--debug")
        #expect(plugin.build.status != 0)
        #expect(plugin.build.stderr.contains("--release and --debug exclude each other"), "\(plugin.build.stderr)")
    }
}
