import JesterManifest
import JesterRuntime
import JesterTesting
import Synchronization
import Testing

@Suite struct ConcurrencyTests {
    @Test func manyTasksCallOnePluginAtOnce() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(timeout: .seconds(10), maxConcurrency: 4, queueTimeout: .seconds(10), poolSize: 4))
        let results = try await withThrowingTaskGroup(of: (Int32, [WasmValue]).self) { group in
            for i in 0..<400 {
                group.addTask { (Int32(i), try await plugin.call("add", [.i32(Int32(i)), .i32(1000)])) }
            }
            var all: [(Int32, [WasmValue])] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 400)
        for (i, values) in results { #expect(values == [.i32(i + 1000)]) }
        let status = plugin.status
        #expect(status.calls == 400)
        #expect(status.errors == 0)
        #expect(status.instancesCreated <= 4)
        #expect(status.activeCalls == 0)
    }

    @Test func excessCallersGetBusyAfterTheQueueTimeout() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(timeout: .milliseconds(600), maxConcurrency: 1, queueTimeout: .milliseconds(50)))
        async let spinning: [WasmValue] = plugin.call("spin")
        while plugin.status.activeCalls == 0 { try await Task.sleep(for: .milliseconds(5)) }
        let start = ContinuousClock.now
        let busy = try await #require(throws: PluginError.self) { _ = try await plugin.call("ok") }
        #expect(busy.code == .busy)
        #expect(busy.limit == .concurrency)
        #expect(ContinuousClock.now - start < .milliseconds(400))
        _ = try? await spinning
        #expect(try await plugin.call("ok") == [.i32(42)])
        #expect(plugin.status.busyRejections == 1)
    }

    @Test func waitingCallersGetTheSlotInTurn() async throws {
        let plugin = try Guests.load(limits: ResourceLimits(timeout: .seconds(5), maxConcurrency: 1, queueTimeout: .seconds(5)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask { _ = try await plugin.call("count", [.i32(10_000)]) }
            }
            try await group.waitForAll()
        }
        #expect(plugin.status.calls == 20)
    }

    @Test func freshPerCallPolicyKeepsNoState() async throws {
        let counter = JesterFixtures.wasm("""
            (module (global $n (mut i32) (i32.const 0))
              (func (export "next") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
            """)
        let reused = try Guests.load(counter, limits: ResourceLimits(maxConcurrency: 1, poolSize: 1))
        _ = try await reused.call("next")
        #expect(try await reused.call("next") == [.i32(2)])
        let fresh = try Guests.load(counter, limits: ResourceLimits(maxConcurrency: 1, instancePolicy: .freshPerCall))
        _ = try await fresh.call("next")
        #expect(try await fresh.call("next") == [.i32(1)])
    }

    @Test func sessionPinsOneInstance() async throws {
        let counter = JesterFixtures.wasm("""
            (module (global $n (mut i32) (i32.const 0))
              (func (export "next") (result i32) (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
            """)
        let plugin = try Guests.load(counter, limits: ResourceLimits(instancePolicy: .freshPerCall))
        let values = try await plugin.withSession { session in
            [try session.call("next"), try session.call("next"), try session.call("next")]
        }
        #expect(values == [[.i32(1)], [.i32(2)], [.i32(3)]])
    }
}

@Suite struct ManagerTests {
    static func versioned(_ version: Int32) -> [UInt8] {
        JesterFixtures.wasm("(module (func (export \"version\") (result i32) (i32.const \(version))) (func (export \"slow\") (result i32) (local $i i32) (loop (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if 0 (i32.lt_u (local.get $i) (i32.const 3000000)))) (i32.const \(version))))")
    }

    @Test func loadCallListStatusUnload() async throws {
        let manager = PluginManager(host: PluginHost(logger: JesterFixtures.logger))
        try await manager.load(manifest: JesterFixtures.manifest(id: "v"), wasm: Self.versioned(1))
        #expect(try await manager.call("v", "version") == [.i32(1)])
        #expect(manager.list().map(\.id) == ["v"])
        #expect(manager.list().first?.state == .ready)
        let status = try manager.status("v")
        #expect(status.calls == 1)
        #expect(status.fuelConsumed > 0)
        await #expect(throws: PluginError.self) { try await manager.load(manifest: JesterFixtures.manifest(id: "v"), wasm: Self.versioned(1)) }
        try await manager.unload("v")
        #expect(manager.list().isEmpty)
        let error = try await #require(throws: PluginError.self) { _ = try await manager.call("v", "version") }
        #expect(error.code == .notFound)
    }

    @Test func reloadSwapsAtomicallyAndInFlightCallsFinishOnTheOldVersion() async throws {
        let manager = PluginManager(host: PluginHost(logger: JesterFixtures.logger))
        let manifest = JesterFixtures.manifest(id: "v", limits: ResourceLimits(timeout: .seconds(20)))
        let old = try await manager.load(manifest: manifest, wasm: Self.versioned(1))
        async let inFlight = old.call("slow")
        while old.status.activeCalls == 0 { try await Task.sleep(for: .milliseconds(1)) }
        try await manager.reload(manifest: manifest, wasm: Self.versioned(2))
        #expect(try await manager.call("v", "version") == [.i32(2)])
        #expect(try await inFlight == [.i32(1)])
        #expect(old.state == .stopped)
        #expect(try manager.status("v").state == .ready)
    }

    @Test func brokenReloadKeepsTheOldVersion() async throws {
        let manager = PluginManager(host: PluginHost(logger: JesterFixtures.logger))
        let manifest = JesterFixtures.manifest(id: "v")
        try await manager.load(manifest: manifest, wasm: Self.versioned(1))
        await #expect(throws: PluginError.self) { try await manager.reload(manifest: manifest, wasm: [0, 1, 2]) }
        #expect(try await manager.call("v", "version") == [.i32(1)])
    }

    @Test func executionContextTightensLimits() async throws {
        let manager = PluginManager(host: PluginHost(logger: JesterFixtures.logger))
        try await manager.load(manifest: JesterFixtures.manifest(id: "h", limits: ResourceLimits(timeout: .seconds(10))), wasm: Guests.hostile)
        let start = ContinuousClock.now
        var context = ExecutionContext(tenant: "acme")
        context.limits = ResourceLimits(timeout: .milliseconds(100))
        let error = try await #require(throws: PluginError.self) { _ = try await manager.call("h", "spin", context: context) }
        #expect(error.limit == .timeout)
        #expect(ContinuousClock.now - start < .milliseconds(150))
        let result = try await manager.execute("h", export: "ok", context: ExecutionContext(executionID: "abc"))
        #expect(result.executionID == "abc")
        #expect(result.values == [.i32(42)])
    }
}

@Suite struct ResolvedFunctionTests {
    @Test func resolvedFunctionsCallWithoutTheNameAndSurviveAReload() async throws {
        let manager = PluginManager(host: PluginHost(logger: JesterFixtures.logger))
        let manifest = JesterFixtures.manifest(id: "v")
        let first = try await manager.load(manifest: manifest, wasm: ManagerTests.versioned(1))
        let version = try first.function("version")
        #expect(version.signature == WasmSignature(parameters: [], results: [.i32]))
        #expect(try await first.call(version) == [.i32(1)])
        #expect(try await first.withSession { try $0.call(version) } == [.i32(1)])
        let missing = try #require(throws: PluginError.self) { try first.function("nope") }
        #expect(missing.code == .missingExport)
        let second = try await manager.reload(manifest: manifest, wasm: ManagerTests.versioned(2))
        #expect(try await second.call(version) == [.i32(2)], "a function resolved on the old version is found by name")
    }
}
