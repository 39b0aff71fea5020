public import JesterManifest
public import Logging
import WasmKit

/// A group of host functions tied to one permission, which an embedder adds to a ``PluginHost``.
///
/// A plugin that imports a function of a capability it was not granted still loads: the import is
/// linked to the function's ``HostFunction/Denial`` stub, which reports a permission error to the
/// guest. An import that no capability provides makes the load fail.
///
/// ```swift
/// struct Answer: HostCapability {
///     let name = "answer"
///     func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { granted.capabilities.contains(name) }
///     var functions: [HostFunction] {
///         [HostFunction(module: "example:answer", name: "get", parameters: [], results: [.i32]) { call in
///             call.setResult(0, .i32(42))
///         }]
///     }
/// }
/// ```
public protocol HostCapability: Sendable {
    /// A short name for messages and for ``PluginGrants/capabilities`` ("clock", "kv").
    var name: String { get }
    /// Whether a plugin that requested `requested` and was granted `granted` may use this capability.
    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool
    /// The functions, each with the import module and name guests use.
    var functions: [HostFunction] { get }
}

/// One function a host offers to guests.
public struct HostFunction: Sendable {
    /// What a guest gets when it calls this function without the permission.
    public struct Denial: Sendable {
        let apply: @Sendable (borrowing HostCall) throws -> Void

        /// Returns `value` as the function's only result (for example an errno).
        public static func returning(_ value: WasmValue) -> Denial {
            Denial { call in call.setResult(0, value) }
        }

        /// Writes a canonical-ABI `result<_, error-code>` error with `permission-denied` at the
        /// address in parameter `retptrParameter`: discriminant 1 at +0, the code 0 at
        /// `payloadOffset`.
        public static func canonicalError(retptrParameter: Int, payloadOffset: UInt32) -> Denial {
            Denial { call in
                let retptr = call.i32(retptrParameter)
                try call.memory.storeUInt8(1, at: retptr)
                try call.memory.storeUInt8(CanonicalErrorCode.permissionDenied.rawValue, at: retptr &+ payloadOffset)
            }
        }

        /// Does nothing (for functions without results, such as a log write).
        public static let ignore = Denial { _ in }
    }

    public let module: String
    public let name: String
    public let signature: WasmSignature
    let body: @Sendable (borrowing HostCall) throws -> Void
    let denial: Denial

    /// - Parameters:
    ///   - module: The import module (`"jester:plugin/clock@0.1.0"`).
    ///   - name: The import name (`"wall-now"`).
    ///   - whenDenied: What the guest gets without the permission.
    ///   - body: The implementation. Read parameters with `call.i32(n)`, set results with
    ///     `call.setResult(n, value)`, touch guest memory only through `call.memory`.
    public init(
        module: String, name: String, parameters: [WasmValueType], results: [WasmValueType] = [],
        whenDenied: Denial = .ignore, body: @escaping @Sendable (borrowing HostCall) throws -> Void
    ) {
        self.module = module
        self.name = name
        self.signature = WasmSignature(parameters: parameters, results: results)
        self.body = body
        self.denial = whenDenied
    }
}

/// The canonical-ABI `error-code` of `wit/jester.wit`.
public enum CanonicalErrorCode: UInt8, Sendable {
    case permissionDenied = 0
    case invalidArgument = 1
    case notFound = 2
    case limitExceeded = 3
    case unavailable = 4
    case `internal` = 5
}

/// One call of a host function: its parameters, its results, and the calling plugin's memory and
/// context. Valid only during the call.
public struct HostCall: ~Copyable {
    private let parameters: UnsafeBufferPointer<Value>
    private let results: UnsafeMutableBufferPointer<Value>
    let instance: InstanceContext

    init(parameters: UnsafeBufferPointer<Value>, results: UnsafeMutableBufferPointer<Value>, instance: InstanceContext) {
        self.parameters = parameters
        self.results = results
        self.instance = instance
    }

    /// The calling plugin's id.
    public var pluginID: String { instance.plugin.pluginID }
    /// The host's logger, with the plugin id in its metadata.
    public var logger: Logger { instance.plugin.logger }
    /// The configuration of this use of the plugin.
    public var config: [String: String] { instance.plugin.config }
    /// The id of the execution this call belongs to (``ExecutionContext/executionID``).
    public var executionID: String { instance.execution.executionID }
    /// The tenant of the execution, if the caller named one.
    public var tenant: String? { instance.execution.tenant }
    /// The caller's application data for this execution (never visible to the guest).
    public var appContext: JSONValue? { instance.execution.appContext }
    /// The guest's memory, with checked access.
    public var memory: GuestMemoryView { GuestMemoryView(memory: instance.memory) }

    /// Parameter `index` as an unsigned 32-bit integer (also pointers and lengths).
    public func i32(_ index: Int) -> UInt32 {
        if case .i32(let v) = parameters[index] { return v }
        return 0
    }

    /// Parameter `index` as an unsigned 64-bit integer.
    public func i64(_ index: Int) -> UInt64 {
        if case .i64(let v) = parameters[index] { return v }
        return 0
    }

    /// Parameter `index` as a Jester value.
    public func parameter(_ index: Int) -> WasmValue? { WasmValue(engineValue: parameters[index]) }

    /// Sets result `index`.
    public func setResult(_ index: Int, _ value: WasmValue) {
        results[index] = value.engineValue
    }

    /// Allocates `byteCount` bytes in the guest through its `cabi_realloc` export, for returning
    /// lists and strings. Throws when the guest has no `cabi_realloc` or returns a bad pointer.
    public func allocate(byteCount: UInt32, alignment: UInt32) throws -> UInt32 {
        try instance.allocate(byteCount: byteCount, alignment: alignment)
    }

    /// Allocates guest memory for `bytes` and copies them in; returns the guest pointer.
    public func allocateAndWrite(_ bytes: some Collection<UInt8>, alignment: UInt32 = 1) throws -> UInt32 {
        guard bytes.count <= Int(UInt32.max) else { throw PluginError.invalidArgument("\(bytes.count) bytes do not fit in a 32-bit guest") }
        if bytes.isEmpty { return alignment }
        let pointer = try allocate(byteCount: UInt32(bytes.count), alignment: alignment)
        try memory.write(bytes, at: pointer)
        return pointer
    }
}
