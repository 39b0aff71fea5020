public import JesterManifest
public import Logging
import WasmKit

/// The environment plugins run in: the engine, the host functions on offer, the limits no plugin
/// may exceed, and the logger plugin messages go to. Embedders make one and share it.
///
/// ```swift
/// let host = PluginHost(logger: logger)
/// try host.register(MyKVCapability())
/// let manager = PluginManager(host: host)
/// ```
public final class PluginHost: Sendable {
    /// Host-wide settings.
    public struct Configuration: Sendable {
        /// The most any plugin may have; a manifest may ask for less, never more.
        public var limits: ResourceLimits
        /// The interpreter stack per call, which bounds guest recursion. Default 512 KiB.
        public var stackSize: Int
        /// Where guest code runs. Default: a dedicated thread per core.
        public var execution: GuestExecution
        /// How out-of-bounds memory accesses of guests are caught. Default: explicit checks,
        /// which make a call about 0.3 µs cheaper than guard pages (see BENCHMARKS.md).
        public var memoryProtection: MemoryProtection
        /// Whether plugins must be signed by a trusted key to load (docs/signing.md). Default:
        /// not required.
        public var signatures: SignaturePolicy

        public init(
            limits: ResourceLimits = ResourceLimits(), stackSize: Int = 512 << 10, execution: GuestExecution = .dedicatedThreads(),
            memoryProtection: MemoryProtection = .explicitChecks, signatures: SignaturePolicy = .notRequired
        ) {
            self.limits = limits
            self.stackSize = stackSize
            self.execution = execution
            self.memoryProtection = memoryProtection
            self.signatures = signatures
        }
    }

    /// How out-of-bounds memory accesses of guests are caught. Either way a bad access traps the
    /// guest, never the host.
    public struct MemoryProtection: Sendable, Hashable {
        let usesGuardPages: Bool

        /// Guard pages around each linear memory and a signal handler: accesses are not checked one
        /// by one, but every call into a guest saves and restores the signal mask (a system call).
        /// Best for guests that compute a lot per call.
        public static let guardPages = MemoryProtection(usesGuardPages: true)
        /// An explicit bounds check on every access: no system call per call, so the cheapest for
        /// many short calls; guest code that touches memory a lot runs somewhat slower.
        public static let explicitChecks = MemoryProtection(usesGuardPages: false)
    }

    /// Where guest code runs.
    public struct GuestExecution: Sendable {
        let threads: Int?

        /// On threads of a ``GuestExecutor`` reserved for guests (default: one per core). A guest
        /// that runs to its timeout then never holds a thread of Swift's cooperative pool. Each
        /// call pays a hop to a guest thread and back (a few microseconds).
        public static func dedicatedThreads(_ count: Int? = nil) -> GuestExecution {
            GuestExecution(threads: max(1, count ?? ResourceLimits.defaultConcurrency))
        }

        /// On the calling task's thread: no hop, the lowest latency. Use it when every plugin has
        /// tight timeouts, or when the caller already runs on threads meant for guests.
        public static let callerThread = GuestExecution(threads: nil)
    }

    public let configuration: Configuration
    public let logger: Logger
    let engine: Engine
    let watchdog = Watchdog()
    /// The threads guest code runs on, unless the configuration says `callerThread`.
    public let guestExecutor: GuestExecutor?
    private let registry: Locked<[String: (capability: any HostCapability, function: HostFunction)]>

    public init(logger: Logger = Logger(label: "jester.plugins"), configuration: Configuration = Configuration()) {
        self.logger = logger
        self.configuration = configuration
        self.engine = Engine(
            configuration: EngineConfiguration(
                stackSize: configuration.stackSize, features: ModuleInfo.features,
                memoryBoundsChecking: configuration.memoryProtection.usesGuardPages ? .mprotect : .software,
                fuelMetering: true))
        self.guestExecutor = configuration.execution.threads.map { GuestExecutor(threadCount: $0) }
        var functions: [String: (capability: any HostCapability, function: HostFunction)] = [:]
        for capability in BuiltinCapabilities.all {
            for function in capability.functions {
                functions[Self.key(function.module, function.name)] = (capability, function)
            }
        }
        registry = Locked(functions)
    }

    deinit {
        guestExecutor?.shutdown()
    }

    private static func key(_ module: String, _ name: String) -> String { module + "\u{0}" + name }

    /// Adds a capability. Its functions become importable by plugins loaded afterwards.
    /// Throws when one of its functions is already provided.
    public func register(_ capability: any HostCapability) throws(PluginError) {
        let conflict = registry.withLock { registry -> String? in
            for function in capability.functions where registry[Self.key(function.module, function.name)] != nil {
                return "\(function.module).\(function.name)"
            }
            for function in capability.functions {
                registry[Self.key(function.module, function.name)] = (capability, function)
            }
            return nil
        }
        if let conflict {
            throw PluginError.invalidArgument("capability \(capability.name): the host already provides \(conflict)")
        }
    }

    func hostFunction(module: String, name: String) -> (capability: any HostCapability, function: HostFunction)? {
        registry.withLock { $0[Self.key(module, name)] }
    }

    /// Every host function on offer (module, name, signature), sorted, for documentation and `inspect`.
    public var providedFunctions: [(module: String, name: String, signature: WasmSignature, capability: String)] {
        registry.withLock { registry in
            registry.values.map { ($0.function.module, $0.function.name, $0.function.signature, $0.capability.name) }
        }.sorted { ($0.module, $0.name) < ($1.module, $1.name) }
    }
}
