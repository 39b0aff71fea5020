import JesterManifest
import Logging
import WasmKit

/// What every instance of one plugin version shares: identity, logger and configuration.
final class PluginShared: Sendable {
    let pluginID: String
    let logger: Logger
    let config: [String: String]
    /// Messages kept per call in the result; more are counted and dropped.
    static let maxLogEntriesPerCall = 1000

    init(pluginID: String, logger: Logger, config: [String: String]) {
        self.pluginID = pluginID
        var logger = logger
        logger[metadataKey: "plugin"] = "\(pluginID)"
        self.logger = logger
        self.config = config
    }
}

/// The per-instance state host functions reach: the guest's memory and allocator, and what the
/// current call has logged.
///
/// Confined to the thread running the instance, like the instance itself.
final class InstanceContext: @unchecked Sendable {
    // @unchecked: used only by the thread that currently owns the instance (host functions and the
    // WASI output callback run on that thread, inside a guest call).
    // `@exclusivity(unchecked)`: these are read and written on every call, only by the thread
    // that owns the instance, never while an `inout` access to the same field is under way, so
    // the runtime's exclusivity check (about 85 instructions an access) finds nothing to catch.
    let plugin: PluginShared
    @exclusivity(unchecked) var memory: Memory?
    var realloc: Function?
    /// The execution stack for calls the host makes into the guest while the guest is calling the
    /// host (`cabi_realloc` for returned lists), so that they do not allocate a stack each time.
    private var reentryStack: StackBox?
    let engine: Engine
    @exclusivity(unchecked) var logs: [PluginLogEntry] = []
    @exclusivity(unchecked) var droppedLogs = 0
    /// The context of the call running now.
    @exclusivity(unchecked) var execution = ExecutionContext(executionID: "")
    /// The request and response of the `http-filter` call running now, if any.
    @exclusivity(unchecked) var httpMessages: (any HTTPFilterMessages)?
    /// When set (by the CLI), messages also go here as they arrive.
    var liveSink: (@Sendable (PluginLogEntry) -> Void)?

    init(plugin: PluginShared, engine: Engine) {
        self.plugin = plugin
        self.engine = engine
    }

    func beginCall(_ context: ExecutionContext) {
        execution = context
        // Writes only when there is something to clear: this runs once per request.
        if !logs.isEmpty { logs.removeAll(keepingCapacity: true) }
        if droppedLogs != 0 { droppedLogs = 0 }
    }

    func record(_ entry: PluginLogEntry) {
        let level: Logger.Level
        switch entry.level {
        case .trace: level = .trace
        case .debug: level = .debug
        case .info: level = .info
        case .warn: level = .warning
        case .error: level = .error
        }
        if plugin.logger.logLevel <= level {
            plugin.logger.log(
                level: level, "\(entry.message)",
                metadata: execution.tenant.map { ["execution": "\(execution.executionID)", "source": "\(entry.source.rawValue)", "tenant": "\($0)"] }
                    ?? ["execution": "\(execution.executionID)", "source": "\(entry.source.rawValue)"])
        }
        liveSink?(entry)
        if logs.count < PluginShared.maxLogEntriesPerCall {
            logs.append(entry)
        } else {
            droppedLogs += 1
        }
    }

    func takeLogs() -> [PluginLogEntry] {
        var result = logs
        if droppedLogs > 0 {
            result.append(PluginLogEntry(level: .warn, source: .log, message: "[\(droppedLogs) more messages dropped: at most \(PluginShared.maxLogEntriesPerCall) are kept per call]"))
        }
        logs.removeAll(keepingCapacity: true)
        droppedLogs = 0
        return result
    }

    /// Calls the guest's `cabi_realloc(0, 0, alignment, byteCount)` and checks the block it returns.
    func allocate(byteCount: UInt32, alignment: UInt32) throws -> UInt32 {
        guard let realloc else {
            throw PluginError.make(.badGuestResponse, "the guest does not export cabi_realloc, so the host cannot return lists or strings to it; build it with the Jester PDK or wit-bindgen")
        }
        let stack: StackBox
        if let reentryStack {
            stack = reentryStack
        } else {
            stack = StackBox(engine: engine)
            reentryStack = stack
        }
        let results = try realloc.invoke([.i32(0), .i32(0), .i32(alignment), .i32(byteCount)], on: &stack.stack)
        guard results.count == 1, case .i32(let pointer) = results[0] else {
            throw PluginError.make(.badGuestResponse, "cabi_realloc must return one i32")
        }
        let size = memory?.byteCount ?? 0
        guard UInt64(pointer) + UInt64(byteCount) <= UInt64(size), alignment == 0 || pointer % max(alignment, 1) == 0 else {
            throw GuestMemoryFault(offset: UInt64(pointer), count: UInt64(byteCount), memorySize: size)
        }
        return pointer
    }
}

/// An execution stack in a class, so that it can be created lazily and kept.
final class StackBox {
    var stack: ExecutionStack

    init(engine: Engine) {
        stack = ExecutionStack(engine: engine)
    }
}
