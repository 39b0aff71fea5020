import JesterManifest
@_spi(Testing) import JesterRuntime
import JesterTesting
import Testing

/// Shared fixtures: a module with a well-behaved export next to each hostile one, so every test can
/// prove the plugin still works after the hostile call.
enum Guests {
    static let hostile = JesterFixtures.wasm("""
        (module
          (memory (export "memory") 1)
          (table 1 funcref)
          (func (export "ok") (result i32) (i32.const 42))
          (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
          (func (export "spin") (loop (br 0)))
          (func (export "grow_memory") (result i32)
            (loop (br_if 0 (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
            unreachable)
          (func (export "grow_table") (result i32)
            (loop (br_if 0 (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))
            unreachable)
          (func $recurse (export "recurse") (param i32) (result i32) (call $recurse (i32.add (local.get 0) (i32.const 1))))
          (func (export "oob") (result i32) (i32.load (i32.const 1000000)))
          (func (export "crash") unreachable)
          (func (export "divide") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
          (func (export "count") (param i32) (result i32) (local $i i32)
            (loop (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if 0 (i32.lt_u (local.get $i) (local.get 0))))
            (local.get $i))
        )
        """)

    static func load(_ wasm: [UInt8] = hostile, limits: ResourceLimits = ResourceLimits(timeout: .milliseconds(300)), permissions: Permissions = .none, grants: PluginGrants = .none, id: String = "hostile") throws -> Plugin {
        try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: JesterFixtures.manifest(id: id, permissions: permissions, limits: limits), wasm: wasm, grants: grants)
    }
}

/// Runs `body`, expecting a `PluginError` for `limit`, and returns how long it took.
func expectLimit(_ limit: LimitKind, _ body: () async throws -> Void) async throws -> Duration {
    let start = ContinuousClock.now
    do {
        try await body()
        Issue.record("expected the \(limit) limit to stop the call")
    } catch let error as PluginError {
        #expect(error.code == .limitExceeded, "\(error)")
        #expect(error.limit == limit, "\(error)")
        #expect(error.pluginID != nil && error.export != nil, "\(error)")
    }
    return ContinuousClock.now - start
}

@Suite struct HostileGuestTests {
    @Test func infiniteLoopIsStoppedAtTheDeadline() async throws {
        let plugin = try Guests.load()
        let elapsed = try await expectLimit(.timeout) { _ = try await plugin.call("spin") }
        #expect(elapsed < .milliseconds(300 + 50), "stopped after \(elapsed)")
        #expect(try await plugin.call("ok") == [.i32(42)])
        #expect(plugin.status.timeouts == 1)
    }

    @Test func infiniteLoopInStartFunctionIsStopped() async throws {
        let wasm = JesterFixtures.wasm("(module (func $start (loop (br 0))) (start $start) (func (export \"ok\") (result i32) (i32.const 1)))")
        let start = ContinuousClock.now
        #expect(throws: PluginError.self) { try Guests.load(wasm) }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .milliseconds(300 + 50), "stopped after \(elapsed)")
        let healthy = try Guests.load()
        #expect(try await healthy.call("ok") == [.i32(42)])
    }

    @Test func fuelRunsOut() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(fuel: 10_000, timeout: .seconds(5)))
        #expect(try await plugin.call("count", [.i32(100)]) == [.i32(100)])
        _ = try await expectLimit(.fuel) { _ = try await plugin.call("count", [.i32(10_000_000)]) }
        #expect(try await plugin.call("ok") == [.i32(42)])
    }

    @Test func unboundedMemoryGrowthHitsTheMemoryLimit() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(memoryBytes: 4 << 20, timeout: .seconds(5)))
        _ = try await expectLimit(.memory) { _ = try await plugin.call("grow_memory") }
        #expect(try await plugin.call("ok") == [.i32(42)])
        #expect(plugin.status.peakMemoryBytes <= 4 << 20)
    }

    @Test func unboundedTableGrowthHitsTheTableLimit() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(tableElements: 5000, timeout: .seconds(5)))
        _ = try await expectLimit(.table) { _ = try await plugin.call("grow_table") }
        #expect(try await plugin.call("ok") == [.i32(42)])
    }

    @Test func unboundedRecursionHitsTheStackLimit() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(timeout: .seconds(5)))
        _ = try await expectLimit(.stack) { _ = try await plugin.call("recurse", [.i32(0)]) }
        #expect(try await plugin.call("ok") == [.i32(42)])
    }

    @Test(arguments: ["oob", "crash"])
    func trapsAreGuestTrapsAndTheInstanceIsReplaced(export: String) async throws {
        let plugin = try Guests.load()
        let error = try await #require(throws: GuestTrap.self) { _ = try await plugin.call(export) }
        #expect(error.pluginID == "hostile")
        #expect(error.export == export)
        #expect(error.reason.contains(export == "oob" ? "out of bounds" : "unreachable"), "\(error.reason)")
        #expect(try await plugin.call("ok") == [.i32(42)])
        #expect(plugin.status.traps == 1)
        #expect(plugin.status.instancesCreated == 2)
    }

    @Test func divisionByZeroTraps() async throws {
        let plugin = try Guests.load()
        await #expect(throws: GuestTrap.self) { _ = try await plugin.call("divide", [.i32(0)]) }
        #expect(try await plugin.call("divide", [.i32(1)]) == [.i32(1)])
    }

    @Test func hugeInitialMemoryIsRefusedAtLoad() throws {
        let wasm = JesterFixtures.wasm("(module (memory 30000) (func (export \"ok\")))")
        let error = try #require(throws: PluginError.self) { try Guests.load(wasm, limits: ResourceLimits(memoryBytes: 64 << 20)) }
        #expect(error.message.contains("30000 pages"), "\(error)")
    }

    @Test func repeatedFailuresMarkThePluginDegradedUntilACallSucceeds() async throws {
        let plugin = try Guests.load()
        for _ in 0..<Plugin.degradedAfterFailuresForTesting {
            _ = try? await plugin.call("crash")
        }
        #expect(plugin.state == .degraded)
        _ = try await plugin.call("ok")
        #expect(plugin.state == .ready)
    }

    @Test func wrongArgumentTypesAreRefusedBeforeTheCall() async throws {
        let plugin = try Guests.load()
        let error = try await #require(throws: PluginError.self) { _ = try await plugin.call("add", [.i64(1)]) }
        #expect(error.code == .invalidArgument)
        let missing = try await #require(throws: PluginError.self) { _ = try await plugin.call("nope") }
        #expect(missing.code == .missingExport)
        #expect(missing.message.contains("spin"))
    }
}

@Suite struct MemoryProtectionTests {
    @Test(arguments: [PluginHost.MemoryProtection.guardPages, .explicitChecks])
    func outOfBoundsAccessTrapsWithEitherProtection(protection: PluginHost.MemoryProtection) async throws {
        let host = PluginHost(logger: JesterFixtures.logger, configuration: .init(memoryProtection: protection))
        let plugin = try host.makePlugin(manifest: JesterFixtures.manifest(id: "hostile"), wasm: Guests.hostile)
        let trap = try await #require(throws: GuestTrap.self) { _ = try await plugin.call("oob") }
        #expect(trap.reason.contains("out of bounds"))
        #expect(try await plugin.call("ok") == [.i32(42)])
    }
}
