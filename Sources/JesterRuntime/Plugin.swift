public import JesterManifest
import Logging
import Synchronization
import WasmKit

/// A plugin's lifecycle state: loading → initializing → ready ⇄ degraded → stopping → stopped,
/// and failed.
public struct PluginState: Sendable, Hashable, CustomStringConvertible {
    private let name: String
    private init(_ name: String) { self.name = name }
    public static let loading = PluginState("loading")
    public static let initializing = PluginState("initializing")
    public static let ready = PluginState("ready")
    /// Serving, but recent calls failed (repeated traps or timeouts) or health reports trouble.
    public static let degraded = PluginState("degraded")
    public static let stopping = PluginState("stopping")
    public static let stopped = PluginState("stopped")
    public static let failed = PluginState("failed")
    public var description: String { name }
    /// Whether calls are accepted.
    public var isServing: Bool { self == .ready || self == .degraded }
}

/// Counters and state of one loaded plugin.
public struct PluginStatus: Sendable {
    public var id: String
    public var version: SemanticVersion
    public var abi: PluginABI
    public var state: PluginState
    public var calls: Int = 0
    /// Calls that ended in an error of any kind (traps, limits, guest errors).
    public var errors: Int = 0
    public var traps: Int = 0
    public var timeouts: Int = 0
    /// Calls refused because every slot was busy.
    public var busyRejections: Int = 0
    public var fuelConsumed: UInt64 = 0
    public var timeSpent: Duration = .zero
    /// The largest linear memory any instance reached, in bytes.
    public var peakMemoryBytes: Int = 0
    public var idleInstances: Int = 0
    public var activeCalls: Int = 0
    public var instancesCreated: Int = 0
    public var lastError: String?
    public var sha256: String
}

/// A loaded plugin: call it, pin an instance for a series of calls, check its health.
///
/// Thread-safe. Each call takes a slot (at most `limits.maxConcurrency` at once), an instance from
/// the warm pool (or a new one), runs within its fuel and deadline, and returns the instance —
/// unless the call trapped or hit a limit, in which case the instance is thrown away.
public final class Plugin: Sendable {
    public var id: String { image.id }
    public var manifest: PluginManifest { image.manifest }
    /// The module's imports, exports and detected ABI.
    public var module: ModuleInfo { image.info }
    /// The limits in force (the manifest's, clamped to the host's).
    public var limits: ResourceLimits { image.limits }
    /// The ABI in force.
    public let abi: PluginABI
    /// Warnings found at load (for example permissions requested but not granted).
    public let warnings: [String]

    let image: PluginImage
    let pool: InstancePool
    let gate: CallGate
    /// The state and the counters of failed calls; those of successful calls are the pool's
    /// (``InstancePool/usage``), counted per thread.
    private let statistics: Locked<PluginStatus>
    /// Consecutive calls that trapped or timed out; five mark the plugin degraded.
    private let failureStreak = Atomic<Int>(0)
    /// Whether the state is ready or degraded, and whether it is degraded, kept beside
    /// `statistics` (and changed only with its lock held) so that a call, once per request,
    /// reads atomics that no call writes instead of taking the statistics lock.
    let isServing = Atomic<Bool>(false)
    private let isDegraded = Atomic<Bool>(false)
    /// Failed calls in a row (traps or limits) after which a plugin is degraded.
    public static let degradedAfterFailures = 5
    @_spi(Testing) public static var degradedAfterFailuresForTesting: Int { degradedAfterFailures }

    /// `limits.timeout` in nanoseconds, computed once.
    private let timeoutNanoseconds: UInt64

    init(image: PluginImage, abi: PluginABI, warnings: [String]) {
        self.image = image
        self.timeoutNanoseconds = Self.nanoseconds(image.limits.timeout)
        self.abi = abi
        self.warnings = warnings
        pool = InstancePool(
            capacity: image.limits.instancePolicy == .freshPerCall ? 0 : image.limits.poolSize, maxOpen: HTTPFilterSession.maxOpenSessions)
        gate = CallGate(limit: image.limits.maxConcurrency)
        statistics = Locked(PluginStatus(id: image.id, version: image.manifest.version, abi: abi, state: .loading, sha256: image.sha256))
    }

    /// Creates the first instance, which runs the start function and `init`, and marks the plugin
    /// ready. A failure marks it failed and is thrown.
    func initialize() throws {
        setState(.initializing)
        do {
            let instance = try makeInstance(budget: budget(for: ExecutionContext()), environment: nil)
            if !pool.put(instance) { shutdownQuietly(instance) }
            setState(.ready)
        } catch {
            setState(.failed)
            statistics.withLock { $0.lastError = String(describing: error) }
            throw error
        }
    }

    // MARK: Calling

    /// Calls a core function export with WebAssembly values.
    ///
    /// ```swift
    /// let sum = try await plugin.call("add", [.i32(2), .i32(3)])  // [.i32(5)]
    /// ```
    /// - Throws: ``PluginError`` (limits, busy, bad arguments) or ``GuestTrap``.
    public func call(_ export: String, _ arguments: [WasmValue] = [], context: ExecutionContext = ExecutionContext()) async throws -> [WasmValue] {
        let engineArguments = arguments.map(\.engineValue)
        return try await withSession(context: context, export: export) { session in
            try session.callEngine(export, engineArguments)
        }.compactMap(WasmValue.init(engineValue:))
    }

    /// Resolves a function export once, for ``call(_:_:context:)-(PluginFunction,_,_)`` and
    /// ``PluginSession/call(_:_:)-(PluginFunction,_)``.
    public func function(_ name: String) throws -> PluginFunction {
        guard let index = image.functionExportIndex[name], let signature = module.functionExport(named: name)?.signature else {
            let available = image.functionExports.map(\.name)
            throw PluginError.missingExport(name, detail: "it exports: \(available.isEmpty ? "no functions" : available.joined(separator: ", "))").with(pluginID: id)
        }
        return PluginFunction(name: name, signature: signature, index: index, image: ObjectIdentifier(image))
    }

    /// Calls a function export resolved with ``function(_:)``.
    public func call(_ function: PluginFunction, _ arguments: [WasmValue] = [], context: ExecutionContext = ExecutionContext()) async throws -> [WasmValue] {
        let engineArguments = arguments.map(\.engineValue)
        return try await withSession(context: context, export: function.name) { session in
            try session.callEngine(function, engineArguments)
        }.compactMap(WasmValue.init(engineValue:))
    }

    /// Runs an export the way its kind says and collects a ``PluginResult``:
    /// a handler gets `input` and returns bytes; a WASI command gets `input` on stdin and its stdout
    /// is the output; a core function with no parameters is called and its results returned.
    public func execute(_ export: String? = nil, input: [UInt8] = [], context: ExecutionContext = ExecutionContext()) async throws -> PluginResult {
        let export = export ?? defaultExport()
        guard let export else {
            throw PluginError.missingExport("handle", detail: "name the export to call; the module exports: \(module.exports.filter { $0.kind == .function }.map(\.name).joined(separator: ", "))").with(pluginID: id)
        }
        let started = ContinuousClock.now
        var result = try await withSession(context: context, export: export) { session in
            try session.execute(export, input: input)
        }
        result.usage.duration = ContinuousClock.now - started
        return result
    }

    /// Checks out one instance for a series of calls (for example every phase of one HTTP request),
    /// holding one call slot throughout. The instance goes back to the pool afterwards unless a
    /// call on it failed.
    public func withSession<T>(context: ExecutionContext = ExecutionContext(), _ body: (inout PluginSession) throws -> T) async throws -> T {
        try await withSession(context: context, export: nil, body)
    }

    func withSession<T>(context: ExecutionContext, export: String?, _ body: (inout PluginSession) throws -> T) async throws -> T {
        guard let executor = image.host.guestExecutor else {
            return try await runSession(context: context, export: export, body)
        }
        return try await withTaskExecutorPreference(executor) {
            try await self.runSession(context: context, export: export, body)
        }
    }

    private func runSession<T>(context: ExecutionContext, export: String?, _ body: (inout PluginSession) throws -> T) async throws -> T {
        guard isServing.load(ordering: .relaxed) else {
            throw PluginError.make(.unloaded, "the plugin is \(state) and takes no calls").with(pluginID: id, export: export)
        }
        let started = ContinuousClock.now
        if !gate.tryAcquire() {
            guard await gate.acquire(timeout: min(limits.queueTimeout, context.remainingTime ?? limits.queueTimeout)) else {
                statistics.withLock {
                    $0.busyRejections += 1
                    $0.errors += 1
                }
                throw PluginError.busy(pluginID: id, export: export, maxConcurrency: limits.maxConcurrency, waited: limits.queueTimeout)
            }
        }
        defer { gate.release() }
        let budget = budget(for: context)
        let environment = image.needsWASI ? filteredEnvironment(context.environment) : nil
        let instance: PluginInstance
        do {
            if environment == nil, let warm = pool.take() {
                instance = warm
            } else {
                instance = try makeInstance(budget: budget, environment: environment)
            }
        } catch {
            record(error: error, fuel: 0, duration: ContinuousClock.now - started, peak: 0)
            throw error
        }
        instance.context.beginCall(context)
        var session = PluginSession(plugin: self, instance: instance, budget: budget, context: context)
        defer { finishSession(instance, failure: session.failure, fuel: session.fuelUsed, duration: ContinuousClock.now - started, usesDedicatedEnvironment: environment != nil) }
        do {
            return try body(&session)
        } catch {
            session.failure = error
            throw error
        }
    }

    /// Records a finished session's outcome and returns its instance to the pool (or shuts it
    /// down when it failed, the pool is full or the plugin stopped).
    ///
    /// `ticket`: the instance was checked out for an ``HTTPFilterSession`` with this ticket, and
    /// goes back with ``InstancePool/checkIn(_:ticket:keep:usage:)``.
    func finishSession(
        _ instance: PluginInstance, failure: (any Error)?, fuel: UInt64, duration: Duration, usesDedicatedEnvironment: Bool,
        ticket: InstancePool.Ticket? = nil
    ) {
        var usage: InstancePool.Usage?
        if let failure {
            record(error: failure, fuel: fuel, duration: duration, peak: instance.limiter.peakMemoryBytes)
        } else {
            // Stores only when there is something to change: every thread finishes sessions, and
            // an unconditional store makes the line bounce between their caches.
            if failureStreak.load(ordering: .relaxed) != 0 { failureStreak.store(0, ordering: .relaxed) }
            if isDegraded.load(ordering: .relaxed) {
                statistics.withLock { status in
                    if status.state == .degraded { transition(&status, to: .ready) }
                }
            }
            usage = InstancePool.Usage(calls: 1, fuel: fuel, time: duration, peakMemoryBytes: instance.limiter.peakMemoryBytes)
        }
        let keep = !instance.isPoisoned && !usesDedicatedEnvironment && isServing.load(ordering: .relaxed)
        let kept: Bool
        if let ticket {
            kept = pool.checkIn(instance, ticket: ticket, keep: keep, usage: usage)
        } else {
            kept = pool.finishCall(instance, keep: keep, usage: usage)
        }
        if !kept, !instance.isPoisoned { shutdownQuietly(instance) }
    }

    private func record(error: any Error, fuel: UInt64, duration: Duration, peak: Int) {
        var isFailure = error is GuestTrap
        var isTimeout = false
        if let pluginError = error as? PluginError, pluginError.code == .limitExceeded {
            isFailure = true
            isTimeout = pluginError.limit == .timeout
        }
        let streak = isFailure ? failureStreak.add(1, ordering: .relaxed).newValue : 0
        if !isFailure, failureStreak.load(ordering: .relaxed) != 0 { failureStreak.store(0, ordering: .relaxed) }
        let becameDegraded = statistics.withLock { status -> Bool in
            status.calls += 1
            status.errors += 1
            if error is GuestTrap { status.traps += 1 }
            if isTimeout { status.timeouts += 1 }
            status.fuelConsumed &+= fuel
            status.timeSpent += duration
            status.peakMemoryBytes = max(status.peakMemoryBytes, peak)
            status.lastError = String(describing: error)
            if streak >= Self.degradedAfterFailures, status.state == .ready {
                transition(&status, to: .degraded)
                return true
            }
            return false
        }
        if becameDegraded {
            image.shared.logger.warning("plugin degraded after \(streak) failed calls in a row", metadata: ["last-error": "\(error)"])
        }
    }

    // MARK: Health and lifecycle

    /// Asks the guest's `health` export (when it has one) on a pooled instance.
    public func health() async -> PluginHealth {
        do {
            let health = try await withSession(context: ExecutionContext(), export: "health") { session in
                try CanonicalABI.callHealth(on: session.instance, budget: session.budget)
            }
            setState(health == .healthy ? .ready : .degraded, onlyIfServing: true)
            return health
        } catch {
            return .unhealthy
        }
    }

    /// The plugin's counters and state.
    public var status: PluginStatus {
        var status = statistics.withLock { $0 }
        let usage = pool.usage
        status.calls += usage.calls
        status.fuelConsumed &+= usage.fuel
        status.timeSpent += usage.time
        status.peakMemoryBytes = max(status.peakMemoryBytes, usage.peakMemoryBytes)
        status.idleInstances = pool.idleCount
        status.activeCalls = gate.activeCount
        return status
    }

    public var state: PluginState { statistics.withLock { $0.state } }

    /// Stops taking calls, runs `shutdown` on the warm instances and releases them. Calls in flight
    /// finish; their instances are shut down as they come back.
    func stop() {
        setState(.stopping)
        for instance in pool.drain() {
            shutdownQuietly(instance)
        }
        setState(.stopped)
    }

    // MARK: Helpers

    func setState(_ state: PluginState, onlyIfServing: Bool = false) {
        statistics.withLock { status in
            if onlyIfServing && !status.state.isServing { return }
            transition(&status, to: state)
        }
    }

    /// Sets the state, and the atomics that mirror it; call with the statistics lock held.
    private func transition(_ status: inout PluginStatus, to state: PluginState) {
        status.state = state
        isServing.store(state.isServing, ordering: .relaxed)
        isDegraded.store(state == .degraded, ordering: .relaxed)
    }

    func makeInstance(budget: CallBudget, environment: [(name: String, value: String)]?) throws -> PluginInstance {
        let instance = try PluginInstance(image: image, budget: budget, environment: environment)
        statistics.withLock {
            $0.instancesCreated += 1
            $0.peakMemoryBytes = max($0.peakMemoryBytes, instance.limiter.peakMemoryBytes)
        }
        return instance
    }

    private func shutdownQuietly(_ instance: PluginInstance) {
        guard abi == .jester, instance.function("shutdown") != nil else { return }
        let budget = budget(for: ExecutionContext())
        do {
            try CanonicalABI.callShutdown(on: instance, budget: budget)
        } catch {
            image.shared.logger.warning("shutdown failed: \(error)")
        }
    }

    func budget(for context: ExecutionContext) -> CallBudget {
        let now = Watchdog.now()
        let allowance = allowance(ignoringDeadlineOf: context)
        guard context.hasDeadline, let remaining = context.remainingTime, remaining < allowance.timeout else {
            return allowance.budget(startingAt: now)
        }
        let timeout = max(remaining, .zero)
        return CallBudget(fuel: allowance.fuel, deadline: now &+ Self.nanoseconds(timeout), timeout: timeout)
    }

    /// The fuel and time of a call in `context`, the plugin's limits tightened by the context's;
    /// nil when the context has a deadline, which shortens the time of later calls.
    func allowance(for context: ExecutionContext) -> CallAllowance? {
        context.hasDeadline ? nil : allowance(ignoringDeadlineOf: context)
    }

    private func allowance(ignoringDeadlineOf context: ExecutionContext) -> CallAllowance {
        guard context.hasLimitsOrDeadline, let tighter = context.limits else {
            return CallAllowance(fuel: limits.fuel, timeout: limits.timeout, nanoseconds: timeoutNanoseconds)
        }
        let fuel = min(limits.fuel, tighter.fuel)
        guard tighter.timeout < limits.timeout, let nanoseconds = context.limitsTimeoutNanoseconds else {
            return CallAllowance(fuel: fuel, timeout: limits.timeout, nanoseconds: timeoutNanoseconds)
        }
        return CallAllowance(fuel: fuel, timeout: tighter.timeout, nanoseconds: nanoseconds)
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(seconds, 0)) &* 1_000_000_000 &+ UInt64(max(attoseconds, 0) / 1_000_000_000)
    }

    private func filteredEnvironment(_ environment: [String: String]) -> [(name: String, value: String)]? {
        guard !environment.isEmpty else { return nil }
        var result = image.wasiGrants.environment
        for name in manifest.permissions.environment where environment[name] != nil {
            result.removeAll { $0.name == name }
            result.append((name, environment[name]!))
        }
        return result
    }

    private func defaultExport() -> String? {
        if let declared = manifest.exports.first(where: { $0.kind == .handler || $0.kind == .command }) { return declared.name }
        if abi == .jester, module.functionExport(named: "handle") != nil { return "handle" }
        if abi == .wasiCommand { return "_start" }
        return manifest.exports.first?.name
    }
}

extension ExecutionContext {
    var remainingTime: Duration? {
        deadline.map { $0 - ContinuousClock.now }
    }
}
