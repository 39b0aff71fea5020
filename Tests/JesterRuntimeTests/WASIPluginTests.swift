import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import Testing

/// WASI guests through the runtime: grants from the manifest and the host, stdin/stdout, exit codes.
enum WASIGuests {
    /// `_start` copies stdin to stdout, then opens `/data/in.txt` (fd 3 is the first preopen) and
    /// copies it to stdout too; exits with status 7 when the input is "fail".
    static let echo = JesterFixtures.wasm("""
        (module
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 200) "in.txt")
          (func $copy (param $fd i32)
            (local $n i32)
            (loop $again
              (i32.store (i32.const 0) (i32.const 1024))
              (i32.store (i32.const 4) (i32.const 4096))
              (drop (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
              (local.set $n (i32.load (i32.const 8)))
              (if (local.get $n)
                (then
                  (i32.store (i32.const 16) (i32.const 1024))
                  (i32.store (i32.const 20) (local.get $n))
                  (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
                  (br $again)))))
          (func (export "_start")
            (call $copy (i32.const 0))
            (if (i32.eq (i32.load (i32.const 1024)) (i32.const 0x6c696166)) (then (call $proc_exit (i32.const 7))))
            (if (i32.eqz (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 6) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 300)))
              (then (call $copy (i32.load (i32.const 300))))))
          (func (export "env_count") (result i32)
            (drop (call $environ_sizes_get (i32.const 400) (i32.const 404)))
            (i32.load (i32.const 400)))
        )
        """)

    static func dataDirectory() throws -> String {
        let directory = try JesterFixtures.temporaryDirectory("wasi-data")
        try "from file\n".write(toFile: directory + "/in.txt", atomically: true, encoding: .utf8)
        return directory
    }
}

@Suite struct WASIPluginTests {
    @Test func commandGetsStdinAndAGrantedDirectory() async throws {
        let data = try WASIGuests.dataDirectory()
        let manifest = JesterFixtures.manifest(id: "echo", permissions: Permissions(readPaths: ["/data"]))
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: manifest, wasm: WASIGuests.echo, grants: PluginGrants(paths: [.init(guestPath: "/data", hostPath: data)]))
        #expect(plugin.abi == .wasiCommand)
        let result = try await plugin.execute(input: Array("hello\n".utf8))
        #expect(result.success)
        #expect(result.exitCode == 0)
        #expect(result.outputText == "hello\nfrom file\n")
    }

    @Test func withoutTheGrantTheDirectoryIsInvisible() async throws {
        let data = try WASIGuests.dataDirectory()
        // Granted by the host but not requested by the manifest: not given.
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: JesterFixtures.manifest(id: "echo"), wasm: WASIGuests.echo, grants: PluginGrants(paths: [.init(guestPath: "/data", hostPath: data)]))
        let result = try await plugin.execute(input: Array("hi\n".utf8))
        #expect(result.outputText == "hi\n")
    }

    @Test func exitStatusIsReportedAndTheNextCallWorks() async throws {
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: JesterFixtures.manifest(id: "echo"), wasm: WASIGuests.echo)
        let failed = try await plugin.execute(input: Array("fail".utf8))
        #expect(!failed.success)
        #expect(failed.exitCode == 7)
        let ok = try await plugin.execute(input: [0, 255, 10, 10, 65])
        #expect(ok.output == [0, 255, 10, 10, 65], "stdout is the output byte for byte")
    }

    @Test func sleepingInPollOneoffEndsAtTheDeadline() async throws {
        // One relative clock subscription of 10 s: the host must not sleep past the call's 300 ms.
        let sleeper = JesterFixtures.wasm("""
            (module
              (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (func (export "sleep") (result i32)
                (i32.store8 (i32.const 8) (i32.const 0))
                (i32.store (i32.const 16) (i32.const 1))
                (i64.store (i32.const 24) (i64.const 10000000000))
                (i32.store16 (i32.const 40) (i32.const 0))
                (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
                (loop (br 0))
                (i32.const 0)))
            """)
        let manifest = JesterFixtures.manifest(id: "sleeper", permissions: Permissions(clock: true), limits: ResourceLimits(timeout: .milliseconds(300)))
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: manifest, wasm: sleeper, grants: PluginGrants(clock: true))
        let elapsed = try await expectLimit(.timeout) { _ = try await plugin.call("sleep") }
        #expect(elapsed < .milliseconds(350), "returned after \(elapsed)")
    }

    @Test func environmentIsTheAllowListOnly() async throws {
        let manifest = JesterFixtures.manifest(id: "env", permissions: Permissions(environment: ["LANG", "TZ"]))
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: manifest, wasm: WASIGuests.echo, grants: PluginGrants(environment: ["LANG": "C", "SECRET": "x"]))
        #expect(try await plugin.call("env_count") == [.i32(1)])
        var context = ExecutionContext()
        context.environment = ["TZ": "UTC", "SECRET": "y"]
        #expect(try await plugin.withSession(context: context) { try $0.call("env_count") } == [.i32(2)])
    }
}
