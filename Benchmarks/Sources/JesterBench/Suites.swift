import JesterManifest
import JesterRuntime
import WasmKit

// The benchmark groups. Every benchmark is created inside a nonisolated async function, so its
// closure is nonisolated too: an `await plugin.call(...)` in it runs on the caller's thread with
// no actor hop that Jester would not pay in a real embedder.

/// Per-call cost of a trivial export (`nop`, or `add` with two arguments), on every path.
func callSuite(export: String, hosts: JesterHosts) throws -> [Benchmark] {
    let caller = try hosts.callerThread.benchPlugin(Guests.call)
    let dedicated = try hosts.dedicated.benchPlugin(Guests.call)
    let guarded = try hosts.guardPages.benchPlugin(Guests.call)
    let plain = try WasmKitSubject(Guests.call, fuelMetering: false)
    let metered = try WasmKitSubject(Guests.call, fuelMetering: true)
    let isAdd = export == "add"
    // `add(i, 1)`: the argument changes every call so that nothing can be hoisted.
    func jesterArguments(_ i: Int) -> [WasmValue] { isAdd ? [.i32(Int32(truncatingIfNeeded: i)), .i32(1)] : [] }
    func engineArguments(_ i: Int) -> [Value] { isAdd ? [.i32(UInt32(truncatingIfNeeded: i)), .i32(1)] : [] }
    let resolved = try caller.function(export)
    let plainFunction = plain.function(export)
    let meteredFunction = metered.function(export)

    return [
        Benchmark(id: "jester.callerThread.call", label: "Jester plugin.call, callerThread") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try await caller.call(export, jesterArguments(i))) }
            return sum
        },
        Benchmark(id: "jester.resolved.call", label: "Jester plugin.call(resolved function), callerThread") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try await caller.call(resolved, jesterArguments(i))) }
            return sum
        },
        Benchmark(id: "jester.dedicated.call", label: "Jester plugin.call, dedicated threads (default)") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try await dedicated.call(export, jesterArguments(i))) }
            return sum
        },
        Benchmark(id: "jester.guarded.call", label: "Jester plugin.call, callerThread, guard pages") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try await guarded.call(export, jesterArguments(i))) }
            return sum
        },
        Benchmark(id: "jester.guarded.session.call", label: "Jester session.call, guard pages") { n in
            try await guarded.withSession { session in
                var sum: UInt64 = 0
                for i in 0..<n { sum &+= checksum(try session.call(export, jesterArguments(i))) }
                return sum
            }
        },
        Benchmark(id: "jester.session.call", label: "Jester session.call in withSession (pinned instance)") { n in
            try await caller.withSession { session in
                var sum: UInt64 = 0
                for i in 0..<n { sum &+= checksum(try session.call(export, jesterArguments(i))) }
                return sum
            }
        },
        Benchmark(id: "wasmkit.naive", label: "WasmKit invoke (naive), fuel off [baseline]") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try plainFunction.invoke(engineArguments(i))) }
            return sum
        },
        Benchmark(id: "wasmkit.naive.fuel", label: "WasmKit invoke (naive), fuel on") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try meteredFunction.invoke(engineArguments(i))) }
            return sum
        },
        Benchmark(id: "wasmkit.stack", label: "WasmKit invoke(on: reused stack), fuel off") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try plainFunction.invoke(engineArguments(i), on: &plain.stack)) }
            return sum
        },
        Benchmark(id: "wasmkit.stack.fuel", label: "WasmKit invoke(on: reused stack), fuel on") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= checksum(try meteredFunction.invoke(engineArguments(i), on: &metered.stack)) }
            return sum
        },
        Benchmark(id: "wasmkit.stack.fuel.reset", label: "WasmKit reused stack, fuel on, budget set per call") { n in
            // What Jester's engine does per call, without Jester: set the budget, invoke.
            var sum: UInt64 = 0
            for i in 0..<n {
                metered.store.fuel = Fuel(remaining: ResourceLimits.defaultFuel)
                sum &+= checksum(try meteredFunction.invoke(engineArguments(i), on: &metered.stack))
            }
            return sum
        },
    ]
}

/// Guest → host no-op → guest, per host call: a guest loop of `Guests.hostLoopCount` calls.
func hostCallSuite(hosts: JesterHosts) throws -> [Benchmark] {
    let caller = try hosts.callerThread.benchPlugin(Guests.hostCall)
    let plain = try WasmKitSubject(Guests.hostCall, fuelMetering: false)
    let metered = try WasmKitSubject(Guests.hostCall, fuelMetering: true)
    let count = Guests.hostLoopCount
    let perIteration = Int(count)
    func loops(_ subject: WasmKitSubject, _ export: String, id: String, label: String) -> Benchmark {
        let function = subject.function(export)
        return Benchmark(id: id, label: label, operationsPerIteration: perIteration) { n in
            var sum: UInt64 = 0
            for _ in 0..<n { sum &+= checksum(try function.invoke([.i32(UInt32(count))], on: &subject.stack)) }
            return sum
        }
    }
    return [
        Benchmark(id: "jester.hostcall", label: "Jester host function, per call (callerThread)", operationsPerIteration: perIteration) { n in
            try await caller.withSession { session in
                var sum: UInt64 = 0
                for _ in 0..<n { sum &+= checksum(try session.call("hostloop", [.i32(count)])) }
                return sum
            }
        },
        Benchmark(id: "jester.loop", label: "Jester loop without the call, per iteration", operationsPerIteration: perIteration) { n in
            try await caller.withSession { session in
                var sum: UInt64 = 0
                for _ in 0..<n { sum &+= checksum(try session.call("plainloop", [.i32(count)])) }
                return sum
            }
        },
        Benchmark(id: "wasmkit.naive", label: "WasmKit raw host function, fuel off [baseline]", operationsPerIteration: perIteration) { n in
            let function = plain.function("hostloop")
            var sum: UInt64 = 0
            for _ in 0..<n { sum &+= checksum(try function.invoke([.i32(UInt32(count))])) }
            return sum
        },
        loops(metered, "hostloop", id: "wasmkit.hostcall.fuel", label: "WasmKit raw host function, fuel on"),
        loops(plain, "plainloop", id: "wasmkit.loop", label: "WasmKit loop without the call, fuel off"),
        loops(metered, "plainloop", id: "wasmkit.loop.fuel", label: "WasmKit loop without the call, fuel on"),
    ]
}

/// Checking a pooled instance out and back in: `withSession` with an empty body.
func checkoutSuite(hosts: JesterHosts) throws -> [Benchmark] {
    let caller = try hosts.callerThread.benchPlugin(Guests.call)
    let dedicated = try hosts.dedicated.benchPlugin(Guests.call)
    let plain = try WasmKitSubject(Guests.call, fuelMetering: false)
    let nop = plain.function("nop")
    return [
        Benchmark(id: "jester.callerThread.checkout", label: "Jester empty withSession, callerThread") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= try await caller.withSession { _ in UInt64(i) } }
            return sum
        },
        Benchmark(id: "jester.dedicated.checkout", label: "Jester empty withSession, dedicated threads") { n in
            var sum: UInt64 = 0
            for i in 0..<n { sum &+= try await dedicated.withSession { _ in UInt64(i) } }
            return sum
        },
        Benchmark(id: "wasmkit.naive", label: "WasmKit invoke nop (naive), fuel off [baseline]") { n in
            var sum: UInt64 = 0
            for _ in 0..<n { sum &+= checksum(try nop.invoke()) }
            return sum
        },
    ]
}

/// A fresh instance per call, and WasmKit's parse-once instantiate-many.
func instantiationSuite(hosts: JesterHosts) throws -> [Benchmark] {
    let fresh = ResourceLimits(timeout: .seconds(5), instancePolicy: .freshPerCall)
    let callFresh = try hosts.callerThread.benchPlugin(Guests.call, id: "fresh", limits: fresh)
    let pageFresh = try hosts.callerThread.benchPlugin(Guests.memoryPage, id: "fresh-page", limits: fresh)
    let engine = Engine()
    let meteredEngine = Engine(configuration: EngineConfiguration(fuelMetering: true))
    let callModule = try parseWasm(bytes: Guests.call)
    let pageModule = try parseWasm(bytes: Guests.memoryPage)
    func instantiate(_ module: Module, _ engine: Engine, call: Bool, id: String, label: String) -> Benchmark {
        Benchmark(id: id, label: label) { n in
            var sum: UInt64 = 0
            for _ in 0..<n {
                let store = Store(engine: engine)
                let instance = try module.instantiate(store: store)
                if call, let nop = instance.exports[function: "nop"] {
                    sum &+= checksum(try nop.invoke())
                } else {
                    sum &+= 1
                }
            }
            return sum
        }
    }
    return [
        Benchmark(id: "jester.fresh.call", label: "Jester plugin.call, freshPerCall (no memory)") { n in
            var sum: UInt64 = 0
            for _ in 0..<n { sum &+= checksum(try await callFresh.call("nop")) }
            return sum
        },
        Benchmark(id: "jester.fresh.page", label: "Jester plugin.call, freshPerCall (1-page memory)") { n in
            var sum: UInt64 = 0
            for _ in 0..<n { sum &+= checksum(try await pageFresh.call("nop")) }
            return sum
        },
        instantiate(callModule, engine, call: true, id: "wasmkit.naive", label: "WasmKit new Store + instantiate + invoke nop, fuel off [baseline]"),
        instantiate(callModule, meteredEngine, call: true, id: "wasmkit.instantiate.call.fuel", label: "WasmKit new Store + instantiate + invoke nop, fuel on"),
        instantiate(callModule, engine, call: false, id: "wasmkit.instantiate", label: "WasmKit new Store + instantiate only (no memory)"),
        instantiate(pageModule, engine, call: false, id: "wasmkit.instantiate.page", label: "WasmKit new Store + instantiate only (1-page memory)"),
        instantiate(pageModule, engine, call: true, id: "wasmkit.instantiate.page.call", label: "WasmKit new Store + instantiate + invoke nop (1-page memory)"),
    ]
}
