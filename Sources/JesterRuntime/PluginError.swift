/// A limit that stopped a call.
public struct LimitKind: Sendable, Hashable, CustomStringConvertible {
    private let name: String
    private init(_ name: String) { self.name = name }

    /// Linear memory grew past `ResourceLimits.memoryBytes`.
    public static let memory = LimitKind("memory")
    /// A table grew past `ResourceLimits.tableElements`.
    public static let table = LimitKind("table")
    /// The call used up its fuel (`ResourceLimits.fuel`).
    public static let fuel = LimitKind("fuel")
    /// The call ran past its wall-clock deadline (`ResourceLimits.timeout`).
    public static let timeout = LimitKind("timeout")
    /// All call slots were busy for longer than `ResourceLimits.queueTimeout`.
    public static let concurrency = LimitKind("concurrency")
    /// The guest recursed deeper than the interpreter's stack.
    public static let stack = LimitKind("stack")
    /// The module is larger than `ResourceLimits.maxModuleBytes`.
    public static let moduleSize = LimitKind("module-size")
    /// The guest logged or printed more than the host keeps.
    public static let output = LimitKind("output")

    public var description: String { name }
}

/// Everything that can go wrong loading or calling a plugin, except a guest trap (``GuestTrap``).
///
/// The message says what failed, where (plugin id, export, import, file) and what to do.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    /// The category of an error, for code that reacts differently to each.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public static let invalidModule = Code("invalid-module")
        public static let invalidManifest = Code("invalid-manifest")
        public static let hashMismatch = Code("hash-mismatch")
        /// Signatures are required and the plugin is not signed.
        public static let unsigned = Code("unsigned")
        /// The signature does not match the plugin's module and manifest.
        public static let badSignature = Code("bad-signature")
        /// The plugin is signed by a key that is not trusted: unknown, revoked or expired.
        public static let untrustedSigner = Code("untrusted-signer")
        public static let unknownImport = Code("unknown-import")
        public static let missingExport = Code("missing-export")
        public static let limitExceeded = Code("limit-exceeded")
        public static let busy = Code("busy")
        public static let notFound = Code("not-found")
        public static let alreadyLoaded = Code("already-loaded")
        public static let invalidArgument = Code("invalid-argument")
        public static let instantiationFailed = Code("instantiation-failed")
        public static let initFailed = Code("init-failed")
        public static let unsupportedABI = Code("unsupported-abi")
        public static let badGuestResponse = Code("bad-guest-response")
        public static let unloaded = Code("unloaded")
        public static let io = Code("io")
        public var description: String { name }
    }

    public let code: Code
    /// The plugin concerned, when known.
    public internal(set) var pluginID: String?
    /// The export being called, when the error happened during a call.
    public internal(set) var export: String?
    /// The limit that was hit, for ``Code/limitExceeded`` and ``Code/busy``.
    public let limit: LimitKind?
    /// What happened and what to do.
    public let message: String

    init(code: Code, message: String, pluginID: String? = nil, export: String? = nil, limit: LimitKind? = nil) {
        self.code = code
        self.message = message
        self.pluginID = pluginID
        self.export = export
        self.limit = limit
    }

    public var description: String {
        var where_ = ""
        if let pluginID { where_ += "plugin \(pluginID)" }
        if let export { where_ += where_.isEmpty ? "export \(export)" : ", export \(export)" }
        return where_.isEmpty ? message : "\(where_): \(message)"
    }

    func with(pluginID: String?, export: String? = nil) -> PluginError {
        var copy = self
        if copy.pluginID == nil { copy.pluginID = pluginID }
        if copy.export == nil { copy.export = export }
        return copy
    }

    static func invalidModule(_ message: String) -> PluginError {
        PluginError(code: .invalidModule, message: message)
    }

    static func invalidManifest(_ message: String) -> PluginError {
        PluginError(code: .invalidManifest, message: message)
    }

    static func limitExceeded(_ limit: LimitKind, _ message: String) -> PluginError {
        PluginError(code: .limitExceeded, message: message, limit: limit)
    }

    static func busy(pluginID: String, export: String?, maxConcurrency: Int, waited: Duration) -> PluginError {
        PluginError(
            code: .busy,
            message: "all \(maxConcurrency) call slots stayed busy for \(waited); retry later, or raise limits.max_concurrency / queue_timeout_ms",
            pluginID: pluginID, export: export, limit: .concurrency)
    }

    static func notFound(_ message: String) -> PluginError {
        PluginError(code: .notFound, message: message)
    }

    static func invalidArgument(_ message: String) -> PluginError {
        PluginError(code: .invalidArgument, message: message)
    }

    static func missingExport(_ name: String, detail: String) -> PluginError {
        PluginError(code: .missingExport, message: "the module has no function export \"\(name)\"; \(detail)", export: name)
    }

    static func io(_ message: String) -> PluginError {
        PluginError(code: .io, message: message)
    }

    static func make(_ code: Code, _ message: String) -> PluginError {
        PluginError(code: code, message: message)
    }
}

/// A guest that trapped: `unreachable`, an out-of-bounds access, a division by zero, a bad indirect
/// call, or a host function that refused a bad pointer. The instance is thrown away; the plugin and
/// the host go on.
public struct GuestTrap: Error, Sendable, CustomStringConvertible {
    public let pluginID: String
    /// The export that was running (or `"(start)"` / `"(instantiate)"` during instantiation).
    public let export: String
    /// The engine's description of the trap.
    public let reason: String
    /// The guest call stack, innermost first, when the engine captured one.
    public let backtrace: String?

    public var description: String {
        "plugin \(pluginID), export \(export): guest trapped: \(reason)" + (backtrace.map { "\n\($0)" } ?? "")
    }
}
