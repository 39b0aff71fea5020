import WasmKit

/// One instance of a plugin, checked out for a series of calls (see ``Plugin/withSession(context:_:)``).
///
/// Each call gets the plugin's full fuel and timeout. After a call traps or hits a limit the
/// instance is unusable and further calls throw.
public struct PluginSession: ~Copyable {
    let plugin: Plugin
    let instance: PluginInstance
    let context: ExecutionContext
    var budget: CallBudget
    var fuelUsed: UInt64 = 0
    private var callsStarted = 0
    var failure: (any Error)?

    init(plugin: Plugin, instance: PluginInstance, budget: CallBudget, context: ExecutionContext) {
        self.plugin = plugin
        self.instance = instance
        self.budget = budget
        self.context = context
    }

    /// The execution id of the context the session was opened with.
    public var executionID: String { context.executionID }

    /// Calls a core function export with WebAssembly values.
    public mutating func call(_ export: String, _ arguments: [WasmValue] = []) throws -> [WasmValue] {
        try callEngine(export, arguments.map(\.engineValue)).compactMap(WasmValue.init(engineValue:))
    }

    /// Calls a function export resolved once with ``Plugin/function(_:)``, without looking its
    /// name up again.
    public mutating func call(_ function: PluginFunction, _ arguments: [WasmValue] = []) throws -> [WasmValue] {
        try callEngine(function, arguments.map(\.engineValue)).compactMap(WasmValue.init(engineValue:))
    }

    /// Calls the handler-world export `export` (default `handle`) with `input`.
    /// Returns the output, or the error message the guest returned.
    public mutating func handle(_ input: [UInt8], export: String = "handle") throws -> Result<[UInt8], PluginGuestError> {
        try prepareCall(export)
        defer { fuelUsed &+= instance.lastFuelUsed }
        do {
            return try CanonicalABI.callHandle(on: instance, export: export, input: input, budget: budget)
                .mapError { PluginGuestError(message: $0.text) }
        } catch {
            failure = error
            throw error
        }
    }

    mutating func callEngine(_ export: String, _ arguments: [Value]) throws -> [Value] {
        guard let index = plugin.image.functionExportIndex[export] else {
            try prepareCall(export)
            let available = plugin.image.functionExports.map(\.name)
            throw PluginError.missingExport(export, detail: "it exports: \(available.isEmpty ? "no functions" : available.joined(separator: ", "))").with(pluginID: plugin.id)
        }
        return try callEngine(at: index, arguments)
    }

    mutating func callEngine(_ function: PluginFunction, _ arguments: [Value]) throws -> [Value] {
        guard function.image == ObjectIdentifier(plugin.image) else { return try callEngine(function.name, arguments) }
        return try callEngine(at: function.index, arguments)
    }

    private mutating func callEngine(at index: Int, _ arguments: [Value]) throws -> [Value] {
        let (export, parameters) = plugin.image.functionExports[index]
        try prepareCall(export)
        guard let function = instance.function(at: index) else {
            throw PluginError.missingExport(export, detail: "the instance does not export it").with(pluginID: plugin.id)
        }
        if let parameters, !Self.matches(arguments, parameters) {
            let given = arguments.compactMap(WasmValue.init(engineValue:)).map(\.type.description)
            let expected = parameters.map { WasmValueType($0).description }
            throw PluginError.invalidArgument("export \(export) takes \(expected.isEmpty ? "no arguments" : "(\(expected.joined(separator: " ")))") but was given (\(given.joined(separator: " ")))").with(pluginID: plugin.id, export: export)
        }
        defer { fuelUsed &+= instance.lastFuelUsed }
        do {
            return try instance.invoke(function, arguments, export: export, budget: budget)
        } catch {
            failure = error
            throw error
        }
    }

    /// Runs `export` according to its kind and collects a result.
    mutating func execute(_ export: String, input: [UInt8]) throws -> PluginResult {
        var result = PluginResult(executionID: context.executionID)
        let kind = plugin.manifest.exports.first(where: { $0.name == export })?.kind
        let isHandler = kind == .handler || (kind == nil && plugin.abi == .jester && export == "handle")
        let isCommand = kind == .command || (kind == nil && export == "_start" && instance.wasi != nil)
        if isHandler {
            switch try handle(input, export: export) {
            case .success(let output):
                result.output = output
            case .failure(let error):
                result.success = false
                result.errors = [error.message]
            }
        } else if isCommand {
            instance.wasi?.stdin = input
            instance.wasi?.collectStdout(limit: Int(CanonicalABI.maxOutputBytes))
            defer { instance.wasi?.stdin = [] }
            do {
                _ = try callEngine(export, [])
                result.exitCode = 0
            } catch let exit as WASIExitRequest {
                failure = nil
                result.exitCode = exit.code
                result.success = exit.code == 0
                if exit.code != 0 { result.errors = ["exited with status \(exit.code)"] }
                instance.isPoisoned = true
            } catch {
                _ = instance.wasi?.takeStdout()
                throw error
            }
            if let (bytes, truncated) = instance.wasi?.takeStdout() {
                result.output = bytes
                if truncated {
                    instance.context.record(PluginLogEntry(level: .warn, source: .log, message: "[stdout truncated at \(CanonicalABI.maxOutputBytes) bytes]"))
                }
            }
        } else {
            if !input.isEmpty {
                throw PluginError.invalidArgument("export \(export) is a core function and takes no input bytes; pass values with call(_:_:) or declare it as a handler in the manifest").with(pluginID: plugin.id, export: export)
            }
            result.values = try call(export, [])
        }
        instance.wasi?.resetCapture()
        result.logs = instance.context.takeLogs()
        result.usage = ResourceUsage(fuel: fuelUsed, peakMemoryBytes: instance.limiter.peakMemoryBytes, duration: .zero)
        return result
    }

    private static func matches(_ arguments: [Value], _ parameters: [ValueType]) -> Bool {
        guard arguments.count == parameters.count else { return false }
        for index in arguments.indices {
            switch (arguments[index], parameters[index]) {
            case (.i32, .i32), (.i64, .i64), (.f32, .f32), (.f64, .f64): continue
            default: return false
            }
        }
        return true
    }

    private mutating func prepareCall(_ export: String) throws {
        if instance.isPoisoned {
            throw PluginError.make(.unloaded, "this session's instance is unusable after an earlier failed call; open a new session").with(pluginID: plugin.id, export: export)
        }
        // The first call uses the budget computed when the session opened; later ones start afresh.
        if callsStarted > 0 { budget = plugin.budget(for: context) }
        callsStarted += 1
    }
}

/// The error message a guest returned from a handler (not a trap: the plugin is fine).
public struct PluginGuestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A function export of one loaded plugin, resolved once so that calls skip the name lookup.
///
/// ```swift
/// let add = try plugin.function("add")
/// for i in 0..<1000 { _ = try await plugin.call(add, [.i32(i), .i32(1)]) }
/// ```
public struct PluginFunction: Sendable, Hashable {
    /// The export's name.
    public let name: String
    /// Its signature.
    public let signature: WasmSignature
    let index: Int
    let image: ObjectIdentifier
}
