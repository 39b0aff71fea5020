import JesterManifest
import JesterRuntime
import JesterTesting
import Logging
import WasmKit

/// The host function the host-call benchmarks call: returns its argument.
struct BenchCapability: HostCapability {
    let name = "bench"

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { true }

    var functions: [JesterRuntime.HostFunction] {
        [
            JesterRuntime.HostFunction(module: "bench", name: "noop", parameters: [.i32], results: [.i32]) { call in
                call.setResult(0, .i32(Int32(bitPattern: call.i32(0))))
            }
        ]
    }
}

/// The hosts' logger: warnings and errors only (the hello guest logs every call at info).
let quietLogger: Logger = {
    var logger = Logger(label: "jester.bench")
    logger.logLevel = .warning
    return logger
}()

/// A plugin host of each kind, with the bench capability registered.
struct JesterHosts {
    /// Guest code on the calling thread.
    let callerThread: PluginHost
    /// Guest code on a `GuestExecutor` (the default).
    let dedicated: PluginHost
    /// Guest code on the calling thread, guest memory behind guard pages (a signal-mask system
    /// call per call instead of a check per access).
    let guardPages: PluginHost

    init() throws {
        callerThread = PluginHost(logger: quietLogger, configuration: .init(execution: .callerThread))
        dedicated = PluginHost(logger: quietLogger)
        guardPages = PluginHost(logger: quietLogger, configuration: .init(execution: .callerThread, memoryProtection: .guardPages))
        try guardPages.register(BenchCapability())
        try callerThread.register(BenchCapability())
        try dedicated.register(BenchCapability())
    }
}

extension PluginHost {
    func benchPlugin(_ wasm: [UInt8], id: String = "bench", limits: ResourceLimits = ResourceLimits(timeout: .seconds(5))) throws -> Plugin {
        try makePlugin(manifest: JesterFixtures.manifest(id: id, limits: limits), wasm: wasm)
    }
}

/// The first i32 result as a checksum.
@inline(__always)
func checksum(_ values: [WasmValue]) -> UInt64 {
    if case .i32(let value)? = values.first { return UInt64(UInt32(bitPattern: value)) }
    return 0
}

@inline(__always)
func checksum(_ values: [Value]) -> UInt64 {
    if case .i32(let value)? = values.first { return UInt64(value) }
    return 0
}

/// A WasmKit instance set up the way an embedder without Jester would: one engine, one store,
/// the module parsed once. The baseline every ratio is taken against.
final class WasmKitSubject {
    let engine: Engine
    let store: Store
    let module: Module
    let instance: Instance
    /// The reused stack for `invoke(_:on:)`.
    var stack: ExecutionStack
    let fuelMetering: Bool

    /// - Parameters:
    ///   - fuelMetering: as Jester's engine has it (on) or WasmKit's default (off). With metering
    ///     on, the store gets a budget that the benchmark never exhausts.
    init(_ wasm: [UInt8], fuelMetering: Bool) throws {
        self.fuelMetering = fuelMetering
        engine = Engine(configuration: EngineConfiguration(fuelMetering: fuelMetering))
        store = Store(engine: engine)
        if fuelMetering { store.fuel = Fuel(remaining: 1 << 62) }
        module = try parseWasm(bytes: wasm)
        instance = try module.instantiate(store: store, imports: Self.imports(for: module, store: store))
        stack = ExecutionStack(engine: engine)
    }

    func function(_ name: String) -> Function {
        guard let function = instance.exports[function: name] else { fatalError("the guest exports no function \(name)") }
        return function
    }

    /// The bench guests' host function (`bench.noop`, returns its argument, raw form so that it
    /// does not allocate), and no-op stubs for the two functions the hello example imports.
    static func imports(for module: Module, store: Store) -> Imports {
        var imports = Imports()
        for entry in module.imports {
            guard case .function = entry.descriptor else { continue }
            switch (entry.module, entry.name) {
            case ("bench", "noop"):
                imports.define(
                    module: entry.module, name: entry.name,
                    Function(store: store, parameters: [.i32], results: [.i32], raw: { _, parameters, results in
                        results[0] = parameters[0]
                    }))
            case ("jester:plugin/config@0.1.0", "get"):
                // Answers `option::none` (discriminant 0 at the return pointer): no such key.
                imports.define(
                    module: entry.module, name: entry.name,
                    Function(store: store, parameters: [.i32, .i32, .i32], results: [], raw: { caller, parameters, _ in
                        guard case .i32(let retptr) = parameters[2], let memory = caller.instance?.exports[memory: "memory"] else { return }
                        memory.withUnsafeMutableBufferPointer(offset: UInt(retptr), count: 1) { $0[0] = 0 }
                    }))
            case ("jester:plugin/log@0.1.0", "write"):
                // Drops the line.
                imports.define(
                    module: entry.module, name: entry.name,
                    Function(store: store, parameters: [.i32, .i32, .i32], results: [], raw: { _, _, _ in }))
            default:
                fatalError("no stub for import \(entry.module).\(entry.name)")
            }
        }
        return imports
    }
}
