import Foundation
import JesterTesting
import JesterToolchain
import Testing

/// How `RustToolchain` picks a rustc, with fake `rustc` scripts that print a version and a
/// sysroot: the first on PATH may lack the wasm32 target (rustup's, here), and must be passed
/// over for one that has it.
@Suite struct RustToolchainSelectionTests {
    /// Writes `directory/rustc`, a script answering `--version` and `--print sysroot`, with a
    /// sysroot that has the wasm32 target's library when `withTarget`.
    static func fakeRustc(in directory: String, version: String, withTarget: Bool) throws -> String {
        let sysroot = directory + "/sysroot"
        let library = sysroot + "/lib/rustlib/" + (withTarget ? RustToolchain.target : "x86_64-unknown-linux-gnu") + "/lib"
        try FileManager.default.createDirectory(atPath: library, withIntermediateDirectories: true)
        let script = """
            #!/bin/sh
            case "$1" in
              --version) echo "rustc \(version)" ;;
              --print) echo "\(sysroot)" ;;
              *) exit 1 ;;
            esac
            """
        let path = directory + "/rustc"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    @Test func passesOverARustcWithoutTheWasmTarget() throws {
        let root = try JesterFixtures.temporaryDirectory("rustc-pick")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/rustup", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/debian", withIntermediateDirectories: true)
        _ = try Self.fakeRustc(in: root + "/rustup", version: "1.95.0", withTarget: false)
        let debian = try Self.fakeRustc(in: root + "/debian", version: "1.63.0", withTarget: true)
        let toolchain = try RustToolchain(environment: ["PATH": "\(root)/rustup:\(root)/debian", "HOME": root])
        #expect(toolchain.rustc == debian)
        #expect(toolchain.version == "rustc 1.63.0")
    }

    @Test func theEnvironmentVariableWinsAndMustHaveTheTarget() throws {
        let root = try JesterFixtures.temporaryDirectory("rustc-env")
        defer { try? FileManager.default.removeItem(atPath: root) }
        for name in ["a", "b"] { try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true) }
        let first = try Self.fakeRustc(in: root + "/a", version: "1.80.0", withTarget: true)
        let chosen = try Self.fakeRustc(in: root + "/b", version: "1.70.0", withTarget: true)
        let toolchain = try RustToolchain(environment: ["PATH": "\(root)/a", "JESTER_RUSTC": chosen])
        #expect(toolchain.rustc == chosen)
        #expect(toolchain.rustc != first)

        let bare = root + "/c"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        let without = try Self.fakeRustc(in: bare, version: "1.95.0", withTarget: false)
        #expect(throws: GuestBuildError.self) { try RustToolchain(environment: ["PATH": "\(root)/a", "JESTER_RUSTC": without]) }
    }

    @Test func noneWithTheTargetIsAnErrorNamingEachAndWhatToInstall() throws {
        let root = try JesterFixtures.temporaryDirectory("rustc-none")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let rustc = try Self.fakeRustc(in: root, version: "1.95.0", withTarget: false)
        do {
            _ = try RustToolchain(environment: ["PATH": root, "HOME": root])
            // /usr/bin/rustc may have the target on this machine; then it was found instead.
            #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/rustc"))
        } catch {
            #expect(error.isToolMissing)
            #expect(error.description.contains(rustc))
            #expect(error.description.contains("rustc 1.95.0"))
            #expect(error.description.contains("libstd-rust-dev-wasm32"))
        }
    }

    @Test(arguments: [("redact-json", "redact_json"), ("9lives", "plugin_9lives"), ("a.b_c", "a_b_c")])
    func crateNamesComeFromPluginIDs(_ id: String, _ name: String) {
        #expect(RustToolchain.crateName(forPluginID: id) == name)
    }
}
