import Foundation
import JesterManifest
import JesterTesting
import Testing

/// Runs the real `jester` executable, the way a user does.
func jester(_ arguments: String..., stdin: String = "", in directory: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    try JesterFixtures.run(JesterFixtures.jesterExecutable, arguments, stdin: Array(stdin.utf8), currentDirectory: directory)
}

/// The example plugin, built once into a temporary copy of `examples/hello` with `jester plugin build`.
enum HelloExample {
    struct BuildFailed: Error, CustomStringConvertible { let description: String }

    private static let built: Result<String, any Error> = Result {
        let directory = try JesterFixtures.temporaryDirectory("hello")
        for file in ["hello.swift", "plugin.json"] {
            try FileManager.default.copyItem(atPath: JesterFixtures.repositoryRoot + "/examples/hello/" + file, toPath: directory + "/" + file)
        }
        let result = try jester("plugin", "build", directory, "--pdk-root", JesterFixtures.repositoryRoot)
        guard result.status == 0 else { throw BuildFailed(description: "building the example failed:\n\(result.stdout)\n\(result.stderr)") }
        return directory
    }

    static var directory: String { get throws { try built.get() } }
}

@Suite struct PluginCallCommandTests {
    @Test func buildsAndCallsTheExample() throws {
        let result = try jester("plugin", "call", try HelloExample.directory, "--input", "World")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "Hello, World!")
        #expect(result.stderr.contains("greeting World"))
        let configured = try jester("plugin", "call", try HelloExample.directory, "handle", "--input", "World", "--config", "greeting=Howdy")
        #expect(configured.stdout == "Howdy, World!")
    }

    @Test func guestErrorsExitNonZeroWithTheMessage() throws {
        let result = try jester("plugin", "call", try HelloExample.directory)
        #expect(result.status == 1)
        #expect(result.stderr.contains("empty input: pass --input NAME"))
    }

    @Test func inputFromAFileAndJSONOutput() throws {
        let directory = try JesterFixtures.temporaryDirectory()
        try "Ada".write(toFile: directory + "/name.txt", atomically: true, encoding: .utf8)
        let result = try jester("plugin", "call", try HelloExample.directory, "--input", "@\(directory)/name.txt", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        #expect(json["output"]?.stringValue == "Hello, Ada!")
        #expect(json["success"] == .bool(true))
        #expect((json["usage"]?["fuel"]?.integerValue ?? 0) > 0)
        #expect(json["logs"]?.serialized().contains("greeting Ada") == true)
    }

    @Test func coreFunctionsTakeTypedArguments() throws {
        let directory = try JesterFixtures.temporaryDirectory()
        let path = directory + "/add.wasm"
        try Data(JesterFixtures.wasm(#"(module (func (export "add") (param i32 i64) (result i64) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))) (func (export "spin") (loop (br 0))))"#)).write(to: URL(fileURLWithPath: path))
        let result = try jester("plugin", "call", path, "add", "--", "-2", "40")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "38")
        let bad = try jester("plugin", "call", path, "add", "x", "1")
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("not a valid i32"))
        let start = Date()
        let spin = try jester("plugin", "call", path, "spin", "--timeout", "300ms")
        #expect(spin.status != 0)
        #expect(spin.stderr.contains("timeout") || spin.stderr.contains("deadline"), "\(spin.stderr)")
        #expect(Date().timeIntervalSince(start) < 10)
    }
}

@Suite struct PluginInspectAndCheckTests {
    @Test func inspectPrintsStructureAsJSON() throws {
        let result = try jester("plugin", "inspect", try HelloExample.directory + "/hello.wasm", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue.parse(result.stdout)
        #expect(json["abi"]?.stringValue == "jester")
        let exports = json["exports"]?.serialized() ?? ""
        #expect(exports.contains("\"handle\"") && exports.contains("cabi_realloc"))
        #expect(json["imports"]?.serialized().contains("jester:plugin/log@0.1.0") == true)
        let text = try jester("plugin", "inspect", try HelloExample.directory)
        #expect(text.stdout.contains("abi: jester"))
    }

    @Test func checkPassesTheExample() throws {
        let result = try jester("plugin", "check", try HelloExample.directory)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("ok"))
    }

    @Test func checkReportsEveryManifestProblemAtOnce() throws {
        let directory = try JesterFixtures.temporaryDirectory()
        try """
            {"id": "Bad", "version": "1", "limits": {"fuel": "lots", "timeout_ms": 999999}, "extra": true}
            """.write(toFile: directory + "/plugin.json", atomically: true, encoding: .utf8)
        let result = try jester("plugin", "check", directory)
        #expect(result.status == 1)
        for path in ["$.id", "$.version", "$.limits.fuel", "$.limits.timeout_ms", "$.extra"] {
            #expect(result.stdout.contains(path), "missing \(path) in:\n\(result.stdout)")
        }
    }

    @Test func checkReportsModuleProblems() throws {
        let directory = try JesterFixtures.temporaryDirectory()
        try Data(JesterFixtures.wasm(#"(module (import "env" "evil" (func)) (memory 4000) (func (export "run")))"#)).write(to: URL(fileURLWithPath: directory + "/plugin.wasm"))
        try #"{"id": "m", "version": "1.0.0", "exports": ["run", "missing"], "sha256": "\#(String(repeating: "0", count: 64))", "limits": {"memory_bytes": 1048576}}"#
            .write(toFile: directory + "/plugin.json", atomically: true, encoding: .utf8)
        let result = try jester("plugin", "check", directory, "--json")
        #expect(result.status == 1)
        let json = try JSONValue.parse(result.stdout)
        let codes = Set((json["issues"].map { value -> [String] in
            guard case .array(let items) = value else { return [] }
            return items.compactMap { $0["code"]?.stringValue }
        }) ?? [])
        #expect(codes.isSuperset(of: ["hash-mismatch", "unknown-import", "memory-too-large", "missing-export"]), "\(codes)")
    }

    @Test func helpHasExamples() throws {
        for command in [["plugin"], ["plugin", "call"], ["plugin", "check"], ["plugin", "inspect"], ["plugin", "build"]] {
            let result = try JesterFixtures.run(JesterFixtures.jesterExecutable, command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("jester plugin"), "\(command)")
        }
    }
}

@Suite struct WASICommandTests {
    @Test func wasiCommandWithAPathGrant() throws {
        let directory = try JesterFixtures.temporaryDirectory("cli-wasi")
        try "file says hi\n".write(toFile: directory + "/in.txt", atomically: true, encoding: .utf8)
        let module = directory + "/echo.wasm"
        try Data(JesterFixtures.wasm(#"""
            (module
              (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 200) "in.txt")
              (func $copy (param $fd i32) (local $n i32)
                (loop $again
                  (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 4096))
                  (drop (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
                  (local.set $n (i32.load (i32.const 8)))
                  (if (local.get $n) (then
                    (i32.store (i32.const 16) (i32.const 1024)) (i32.store (i32.const 20) (local.get $n))
                    (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
                    (br $again)))))
              (func (export "_start")
                (call $copy (i32.const 0))
                (if (i32.eqz (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 6) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 300)))
                  (then (call $copy (i32.load (i32.const 300)))))))
            """#)).write(to: URL(fileURLWithPath: module))
        let result = try jester("plugin", "call", module, "--wasi", "--input", "stdin says hi\n", "--allow-path", "\(directory):/data:ro")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "stdin says hi\nfile says hi\n")
        let withoutGrant = try jester("plugin", "call", module, "--wasi", "--input", "only stdin\n")
        #expect(withoutGrant.stdout == "only stdin\n")
    }
}
