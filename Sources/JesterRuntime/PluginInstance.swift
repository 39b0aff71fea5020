import JesterManifest
import JesterWASI
import Logging
@_spi(Fuzzing) import WasmKit

/// Refuses memory and table growth past the plugin's limits, and remembers the peak and whether
/// it refused anything (so that a trap that follows can be reported as the limit it was).
final class InstanceLimiter: ResourceLimiter, @unchecked Sendable {
    // @unchecked: called only by the engine on the thread running the instance. The fields every
    // call resets or reads skip the runtime's exclusivity check, as `PluginInstance`'s do.
    var memoryLimit: Int
    var tableLimit: Int
    @exclusivity(unchecked) private(set) var peakMemoryBytes = 0
    @exclusivity(unchecked) var refusedMemory: Int?
    @exclusivity(unchecked) var refusedTable: Int?

    init(memoryLimit: Int, tableLimit: Int) {
        self.memoryLimit = memoryLimit
        self.tableLimit = tableLimit
    }

    func limitMemoryGrowth(to desired: Int) throws -> Bool {
        guard desired <= memoryLimit else {
            refusedMemory = desired
            return false
        }
        peakMemoryBytes = max(peakMemoryBytes, desired)
        return true
    }

    func limitTableGrowth(to desired: Int) throws -> Bool {
        guard desired <= tableLimit else {
            refusedTable = desired
            return false
        }
        return true
    }
}

/// The fuel and deadline of one call.
struct CallBudget {
    var fuel: UInt64
    /// Monotonic nanoseconds (see `Watchdog.now()`).
    var deadline: UInt64
    var timeout: Duration
}

/// The fuel and time of a call, before it starts: a ``CallBudget`` without the deadline, which
/// is the moment the call starts plus `nanoseconds`.
struct CallAllowance {
    let fuel: UInt64
    let timeout: Duration
    /// `timeout` in nanoseconds.
    let nanoseconds: UInt64

    @inline(__always)
    func budget(startingAt now: UInt64) -> CallBudget {
        CallBudget(fuel: fuel, deadline: now &+ nanoseconds, timeout: timeout)
    }
}

/// One instance of a plugin: its store, memory, stack and host-function state.
///
/// Used by one thread at a time (the instance pool hands it to one caller), which is what
/// WasmKit's `Store` requires.
final class PluginInstance: @unchecked Sendable {
    // @unchecked: confined; the pool transfers ownership between threads, never shares it.
    let image: PluginImage
    let store: Store
    let storeBox: StoreBox
    let watch: Watchdog.Slot
    let limiter: InstanceLimiter
    let context: InstanceContext
    private(set) var instance: Instance?
    private let stack: StackBox
    let wasi: WASISession?
    /// Resolved exported functions, by position in `image.functionExports`.
    // `@exclusivity(unchecked)`: these are read and written on every call, only by the thread
    // that owns the instance, never while an `inout` access to the same field is under way, so
    // the runtime's exclusivity check (about 85 instructions an access) finds nothing to catch.
    @exclusivity(unchecked) private var exportSlots: [Function?]
    /// Set when a call trapped or hit a limit: the instance's state can no longer be trusted.
    @exclusivity(unchecked) var isPoisoned = false
    @exclusivity(unchecked) var callCount = 0
    @exclusivity(unchecked) var lastFuelUsed: UInt64 = 0

    /// Creates and initialises an instance: links imports, runs the start function, then
    /// `_initialize` (WASI reactors, and jester-ABI modules built as reactors, such as C with
    /// wasi-libc, so their constructors run) and `init` (jester ABI), all within `budget`.
    init(image: PluginImage, budget: CallBudget, environment: [(name: String, value: String)]? = nil) throws {
        self.image = image
        store = Store(engine: image.host.engine)
        storeBox = StoreBox(store)
        limiter = InstanceLimiter(memoryLimit: image.limits.memoryBytes, tableLimit: image.limits.tableElements)
        store.resourceLimiter = limiter
        context = InstanceContext(plugin: image.shared, engine: image.host.engine)
        stack = StackBox(engine: image.host.engine)
        exportSlots = Array(repeating: nil, count: image.functionExports.count)
        if image.needsWASI {
            var grants = image.wasiGrants
            if let environment { grants.environment = environment }
            let context = self.context
            do {
                wasi = try WASISession(grants: grants) { stream, line in
                    context.record(PluginLogEntry(level: stream == .stderr ? .warn : .info, source: stream == .stderr ? .stderr : .stdout, message: line))
                }
            } catch {
                throw PluginError.make(.instantiationFailed, "cannot set up WASI: \(error)").with(pluginID: image.id)
            }
        } else {
            wasi = nil
        }
        watch = image.host.watchdog.register(store: storeBox)
        var imports = Imports()
        image.link(into: &imports, store: store, context: context, wasi: wasi)
        let module = image.module
        let store = self.store
        do {
            instance = try run(export: "(start)", budget: budget) {
                try module.instantiate(store: store, imports: imports)
            }
        } catch {
            wasi?.close()
            throw error
        }
        context.memory = instance?.exports[memory: "memory"]
        context.realloc = instance?.exports[function: "cabi_realloc"]
        do {
            // The reactor model: `_initialize` runs once, before any other export (as
            // `wasm-tools component new` arranges for components too).
            if image.info.abi == .wasiReactor || image.info.abi == .jester, let initialize = function("_initialize") {
                _ = try invoke(initialize, [], export: "_initialize", budget: budget)
            }
            if image.info.abi == .jester, image.info.functionExport(named: "init") != nil {
                try CanonicalABI.callInit(on: self, budget: budget)
            }
        } catch {
            wasi?.close()
            throw error
        }
        _ = context.takeLogs()
    }

    deinit {
        image.host.watchdog.unregister(watch)
        wasi?.close()
    }

    /// The arguments of the `http-filter` hooks: the request's handle, then the response's. One
    /// array per instance rather than one shared by all, whose reference count every call on
    /// every event loop would write.
    let filterHandles: [Value] = [.i32(HTTPFilterSession.requestHandle), .i32(HTTPFilterSession.responseHandle)]

    /// The exported function `name`, cached.
    func function(_ name: String) -> Function? {
        guard let index = image.functionExportIndex[name] else { return nil }
        return function(at: index)
    }

    /// The exported function at `index` of `image.functionExports`, cached.
    @inline(__always)
    func function(at index: Int) -> Function? {
        if let cached = exportSlots[index] { return cached }
        let function = instance?.exports[function: image.functionExports[index].name]
        exportSlots[index] = function
        return function
    }

    /// Calls `function` within `budget`, mapping traps and limits to Jester's errors.
    func invoke(_ function: Function, _ arguments: [Value], export: String, budget: CallBudget) throws -> [Value] {
        let stack = self.stack
        return try run(export: export, budget: budget) {
            try function.invoke(arguments, on: &stack.stack)
        }
    }

    /// Runs guest code with the call's fuel and deadline.
    func run<T>(export: String, budget: CallBudget, _ body: () throws -> T) throws -> T {
        store.fuel = Fuel(remaining: budget.fuel)
        wasi?.deadline = budget.deadline
        limiter.refusedMemory = nil
        limiter.refusedTable = nil
        watch.arm(deadline: budget.deadline)
        let result: T
        do {
            result = try body()
        } catch {
            let timedOut = watch.disarm()
            lastFuelUsed = budget.fuel - min(budget.fuel, store.fuel?.remaining ?? budget.fuel)
            isPoisoned = true
            throw classify(error, export: export, timedOut: timedOut, budget: budget)
        }
        // A deadline that passed just as the call returned does not undo its result.
        _ = watch.disarm()
        lastFuelUsed = budget.fuel - min(budget.fuel, store.fuel?.remaining ?? budget.fuel)
        callCount += 1
        return result
    }

    /// Turns an engine error into a typed Jester error naming the plugin, the export and the limit.
    private func classify(_ error: any Error, export: String, timedOut: Bool, budget: CallBudget) -> any Error {
        let id = image.id
        if let pluginError = error as? PluginError { return pluginError.with(pluginID: id, export: export) }
        if let code = WASISession.exitCode(of: error) {
            return WASIExitRequest(code: code)
        }
        let text = String(describing: error)
        if timedOut {
            return PluginError.limitExceeded(.timeout, "the call ran past its \(budget.timeout) deadline and was stopped; raise limits.timeout_ms (at most 300 s) or make the guest faster")
                .with(pluginID: id, export: export)
        }
        if text.contains("out of fuel") {
            return PluginError.limitExceeded(.fuel, "the call used all of its \(budget.fuel) fuel (about one unit per instruction) and was stopped; raise limits.fuel or make the guest do less")
                .with(pluginID: id, export: export)
        }
        if let refused = limiter.refusedMemory {
            return PluginError.limitExceeded(.memory, "the guest asked for \(refused) bytes of memory, over its limit of \(limiter.memoryLimit) bytes, and could not continue (\(Self.trapReason(text))); raise limits.memory_bytes or use less memory")
                .with(pluginID: id, export: export)
        }
        if let refused = limiter.refusedTable {
            return PluginError.limitExceeded(.table, "the guest asked for a table of \(refused) elements, over its limit of \(limiter.tableLimit), and could not continue (\(Self.trapReason(text)))")
                .with(pluginID: id, export: export)
        }
        if text.contains("call stack exhausted") {
            return PluginError.limitExceeded(.stack, "the guest recursed deeper than the interpreter's \(image.host.configuration.stackSize / 1024) KiB stack allows and was stopped")
                .with(pluginID: id, export: export)
        }
        if let fault = error as? GuestMemoryFault {
            return GuestTrap(pluginID: id, export: export, reason: "a host function was given a bad pointer: \(fault)", backtrace: nil)
        }
        let reason = Self.trapReason(text)
        let lines = reason.split(separator: "\n", maxSplits: 1)
        return GuestTrap(pluginID: id, export: export, reason: String(lines.first ?? ""), backtrace: lines.count > 1 ? String(lines[1]) : nil)
    }

    private static func trapReason(_ text: String) -> String {
        text.hasPrefix("Trap: ") ? String(text.dropFirst(6)) : text
    }
}

/// A WASI guest called `proc_exit`. Not an error for a command: it is its exit status.
struct WASIExitRequest: Error {
    let code: UInt32
}
