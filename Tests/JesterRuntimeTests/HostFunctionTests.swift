import JesterManifest
import JesterRuntime
import JesterTesting
import Testing

/// A hand-written guest of the `handler` world: `handle` upper-cases its input, logs, reads config,
/// and answers "err" to an empty input.
enum HandlerGuest {
    static let wat = """
        (module
          (import "jester:plugin/log@0.1.0" "write" (func $log (param i32 i32 i32)))
          (import "jester:plugin/config@0.1.0" "get" (func $config_get (param i32 i32 i32)))
          (import "jester:plugin/clock@0.1.0" "wall-now" (func $wall_now (param i32)))
          (import "jester:plugin/random@0.1.0" "get-bytes" (func $random (param i32 i32)))
          (memory (export "memory") 2)
          (global $heap (mut i32) (i32.const 4096))
          (data (i32.const 16) "handling")
          (data (i32.const 32) "suffix")
          (data (i32.const 48) "empty input")
          (func $alloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))
            (local.get $p))
          ;; handle(ptr, len) -> retptr: upper-case the input, append config "suffix" if set
          (func (export "handle") (param $ptr i32) (param $len i32) (result i32)
            (local $i i32) (local $c i32) (local $out i32) (local $total i32)
            (call $log (i32.const 2) (i32.const 16) (i32.const 8))
            (if (i32.eqz (local.get $len))
              (then
                (i32.store8 (i32.const 512) (i32.const 1))
                (i32.store (i32.const 516) (i32.const 48))
                (i32.store (i32.const 520) (i32.const 11))
                (return (i32.const 512))))
            (call $config_get (i32.const 32) (i32.const 6) (i32.const 600))
            (local.set $total (local.get $len))
            (if (i32.load8_u (i32.const 600)) (then (local.set $total (i32.add (local.get $total) (i32.load (i32.const 608))))))
            (local.set $out (call $alloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $total)))
            (loop $l
              (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
              (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
                (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
              (i32.store8 (i32.add (local.get $out) (local.get $i)) (local.get $c))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $l (i32.lt_u (local.get $i) (local.get $len))))
            (if (i32.load8_u (i32.const 600))
              (then (memory.copy (i32.add (local.get $out) (local.get $len)) (i32.load (i32.const 604)) (i32.load (i32.const 608)))))
            (i32.store8 (i32.const 512) (i32.const 0))
            (i32.store (i32.const 516) (local.get $out))
            (i32.store (i32.const 520) (local.get $total))
            (i32.const 512))
          ;; clock() -> the discriminant wall-now wrote (0 ok, 1 err) * 1000 + error code
          (func (export "clock") (result i32)
            (call $wall_now (i32.const 704))
            (if (result i32) (i32.load8_u (i32.const 704))
              (then (i32.add (i32.const 1000) (i32.load8_u (i32.const 712))))
              (else (i32.wrap_i64 (i64.div_u (i64.load (i32.const 712)) (i64.const 1000000000000000000))))))
          (func (export "random") (result i32)
            (call $random (i32.const 16) (i32.const 720))
            (i32.add (i32.mul (i32.load8_u (i32.const 720)) (i32.const 1000)) (i32.load (i32.const 728))))
          ;; log with a caller-chosen pointer and length
          (func (export "log_raw") (param i32 i32) (call $log (i32.const 2) (local.get 0) (local.get 1)))
          (func (export "config_raw") (param i32 i32 i32) (call $config_get (local.get 0) (local.get 1) (local.get 2)))
        )
        """
    static let wasm = JesterFixtures.wasm(wat)

    static func load(permissions: Permissions = .none, grants: PluginGrants = .none, config: [String: String] = [:]) throws -> Plugin {
        let manifest = JesterFixtures.manifest(
            id: "upper", exports: [ExportDeclaration(name: "handle", kind: .handler)], permissions: permissions)
        return try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: manifest, wasm: wasm, config: config, grants: grants)
    }
}

@Suite struct HandlerWorldTests {
    @Test func handleRoundTripsBytesLogsAndConfig() async throws {
        let plugin = try HandlerGuest.load(config: ["suffix": "!!"])
        #expect(plugin.abi == .jester)
        let result = try await plugin.execute(input: Array("hello".utf8))
        #expect(result.success)
        #expect(result.outputText == "HELLO!!")
        #expect(result.logs == [PluginLogEntry(level: .info, source: .log, message: "handling")])
        #expect(result.usage.fuel > 0)
        #expect(result.usage.peakMemoryBytes == 2 * 65536)
    }

    @Test func guestErrorIsAResultNotAThrow() async throws {
        let plugin = try HandlerGuest.load()
        let result = try await plugin.execute("handle", input: [])
        #expect(!result.success)
        #expect(result.errors == ["empty input"])
        #expect(plugin.state == .ready)
    }

    @Test func ungrantedCapabilitiesReturnPermissionDenied() async throws {
        // Requested but not granted, and granted but not requested: both denied, neither traps.
        let requested = try HandlerGuest.load(permissions: Permissions(clock: true, random: true))
        #expect(try await requested.call("clock") == [.i32(1000)])
        #expect(try await requested.call("random") == [.i32(1000)])
        #expect(requested.warnings.contains { $0.contains("permission-denied") || $0.contains("not granted") })
        let unrequested = try HandlerGuest.load(grants: PluginGrants(clock: true, random: true))
        #expect(try await unrequested.call("clock") == [.i32(1000)])
        let both = try HandlerGuest.load(permissions: Permissions(clock: true, random: true), grants: PluginGrants(clock: true, random: true))
        #expect(try await both.call("clock") == [.i32(1)])  // ok, and 10^18 ns since 1970 = 2001..2033
        #expect(try await both.call("random") == [.i32(16)])
    }

    @Test(arguments: [
        (UInt32(65536 * 2 - 4), UInt32(8)),  // runs past the end of memory
        (UInt32.max - 3, UInt32(8)),  // wraps around 2^32
        (UInt32(0), UInt32.max),  // longer than memory
        (UInt32(100), UInt32.max - 50),  // pointer + length wraps
    ])
    func hostCallsWithBadPointersTrapTheGuestOnly(pointer: UInt32, length: UInt32) async throws {
        let plugin = try HandlerGuest.load()
        let trap = try await #require(throws: GuestTrap.self) {
            _ = try await plugin.call("log_raw", [.i32(Int32(bitPattern: pointer)), .i32(Int32(bitPattern: length))])
        }
        #expect(trap.reason.contains("bad pointer") || trap.reason.contains("outside"), "\(trap.reason)")
        let configTrap = try await #require(throws: GuestTrap.self) {
            _ = try await plugin.call("config_raw", [.i32(Int32(bitPattern: pointer)), .i32(Int32(bitPattern: length)), .i32(600)])
        }
        #expect(configTrap.export == "config_raw")
        #expect(try await plugin.execute(input: Array("ok".utf8)).outputText == "OK")
    }
}

@Suite struct LoadValidationTests {
    @Test func unknownImportIsRefusedNamingModuleFieldAndSignature() throws {
        let wasm = JesterFixtures.wasm(#"(module (import "env" "system" (func (param i32 i32) (result i32))) (func (export "x")))"#)
        let error = try #require(throws: PluginError.self) { try Guests.load(wasm) }
        #expect(error.code == .unknownImport)
        #expect(error.message.contains("env.system"))
        #expect(error.message.contains("(param i32 i32) (result i32)"))
    }

    @Test func knownImportWithTheWrongSignatureIsRefused() throws {
        let wasm = JesterFixtures.wasm(#"(module (import "jester:plugin/log@0.1.0" "write" (func (param i32))) (func (export "x")))"#)
        let error = try #require(throws: PluginError.self) { try Guests.load(wasm) }
        #expect(error.message.contains("host defines it as (param i32 i32 i32)"), "\(error)")
    }

    @Test func hashMismatchAndMissingExportsAreReportedTogether() throws {
        var manifest = JesterFixtures.manifest(exports: [ExportDeclaration(name: "missing", kind: .handler)])
        manifest.sha256 = String(repeating: "0", count: 64)
        let report = PluginHost(logger: JesterFixtures.logger).validate(manifest: manifest, wasm: Guests.hostile)
        #expect(!report.isValid)
        #expect(Set(report.errors.map(\.code)).isSuperset(of: ["hash-mismatch", "missing-export"]))
        #expect(throws: PluginError.self) { try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: manifest, wasm: Guests.hostile) }
    }

    /// `jester plugin check` tells a permission the module cannot use from one it calls.
    @Test func permissionsNoImportUsesAreReported() throws {
        let wasm = JesterFixtures.wasm(#"(module (import "jester:plugin/clock@0.1.0" "wall-now" (func (param i32))) (func (export "x")))"#)
        var manifest = JesterFixtures.manifest()
        manifest.permissions.clock = true
        manifest.permissions.random = true
        manifest.permissions.environment = ["HOME"]
        let report = PluginHost(logger: JesterFixtures.logger).validate(manifest: manifest, wasm: wasm, grants: .asRequested(by: manifest.permissions, environment: [:]))
        let unused = report.issues.filter { $0.code == "unused-permission" }.map(\.message)
        #expect(unused.count == 2, "\(report.issues)")
        #expect(unused.contains { $0.hasPrefix("the manifest asks for random, but the module imports nothing that uses it") })
        #expect(unused.contains { $0.hasPrefix("the manifest asks for environment,") })
        #expect(report.isValid)
    }

    @Test func moduleSizeLimitAndGarbageBytes() throws {
        #expect(throws: PluginError.self) { try Guests.load(Guests.hostile, limits: ResourceLimits(maxModuleBytes: 64)) }
        let error = try #require(throws: PluginError.self) { try Guests.load([0, 0x61, 0x73, 0x6D, 1, 0, 0, 0, 0xFF, 0xFF]) }
        #expect(error.code == .invalidModule)
        #expect(error.message.contains("byte offset"))
    }

    @Test func sharedAndMultipleMemoriesAreRefused() throws {
        let report = PluginHost(logger: JesterFixtures.logger).validate(
            manifest: JesterFixtures.manifest(),
            wasm: JesterFixtures.wasm(#"(module (import "env" "memory" (memory 1)) (func (export "x")))"#))
        #expect(report.errors.contains { $0.code == "unknown-import" && $0.message.contains("memory") })
    }
}

@Suite struct ABIDetectionTests {
    @Test(arguments: [
        (#"(module (func (export "proxy_abi_version_0_2_1")) (func (export "proxy_on_context_create") (param i32 i32)))"#, "proxy-wasm"),
        (#"(module (import "http_handler" "log" (func (param i32 i32 i32))) (func (export "handle_request") (result i64)))"#, "http-wasm"),
        (#"(module (import "extism:host/env" "input_length" (func (result i64))) (func (export "greet") (result i32) (i32.const 0)))"#, "extism"),
        (#"(module (import "jester:plugin/log@0.1.0" "write" (func (param i32 i32 i32))) (memory (export "memory") 1))"#, "jester"),
        (#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1) (func (export "_start")))"#, "wasi-command"),
        (#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))) (memory (export "memory") 1) (func (export "_initialize")))"#, "wasi-reactor"),
        (#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#, "core"),
    ])
    func detectsTheABI(wat: String, abi: String) throws {
        let info = try ModuleInfo(bytes: JesterFixtures.wasm(wat))
        #expect(info.abi.description == abi, "\(info.abiEvidence)")
    }

    @Test func proxyWasmVersionIsRead() throws {
        let info = try ModuleInfo(bytes: JesterFixtures.wasm(#"(module (func (export "proxy_abi_version_0_2_1")))"#))
        #expect(info.abiVersion == SemanticVersion(0, 2, 1))
    }
}

/// An embedder's own capability: returns the call's app-context number, or -1 without the grant.
struct AnswerCapability: HostCapability {
    let name = "answer"

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool {
        granted.capabilities.contains(name)
    }

    var functions: [HostFunction] {
        [
            HostFunction(module: "example:answer", name: "get", parameters: [], results: [.i32], whenDenied: .returning(.i32(-1))) { call in
                let base = Int32(call.appContext?["answer"]?.integerValue ?? 0)
                call.setResult(0, .i32(base + Int32(call.tenant?.count ?? 0)))
            }
        ]
    }
}

@Suite struct EmbedderCapabilityTests {
    static let wasm = JesterFixtures.wasm(#"(module (import "example:answer" "get" (func $get (result i32))) (func (export "ask") (result i32) (call $get)))"#)

    @Test func capabilitiesSeeTheExecutionContextAndNeedTheirGrant() async throws {
        let host = PluginHost(logger: JesterFixtures.logger)
        try host.register(AnswerCapability())
        let granted = try host.makePlugin(manifest: JesterFixtures.manifest(id: "asker"), wasm: Self.wasm, grants: PluginGrants(capabilities: ["answer"]))
        let context = ExecutionContext(tenant: "acme", appContext: .object([("answer", .integer(40))]))
        #expect(try await granted.call("ask", context: context) == [.i32(44)])
        let denied = try host.makePlugin(manifest: JesterFixtures.manifest(id: "asker2"), wasm: Self.wasm)
        #expect(try await denied.call("ask", context: context) == [.i32(-1)])
        #expect(throws: PluginError.self) { try host.register(AnswerCapability()) }
        #expect(host.providedFunctions.contains { $0.module == "example:answer" && $0.capability == "answer" })
    }

    @Test func withoutTheCapabilityTheImportIsRefused() throws {
        let error = try #require(throws: PluginError.self) { try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: JesterFixtures.manifest(), wasm: Self.wasm) }
        #expect(error.message.contains("example:answer.get"))
    }
}
