/// Resource limits for one plugin. Every field has a safe default, and `clamped(to:)` keeps a
/// plugin's requests within what a host allows.
///
/// | limit | default | hard maximum |
/// | --- | --- | --- |
/// | memory | 128 MiB | 4 GiB (wasm32) |
/// | fuel per call | 500 000 000 | — |
/// | timeout per call | 30 s | 300 s |
/// | concurrent calls | number of cores | — |
public struct ResourceLimits: Sendable, Hashable {
    /// Largest linear memory (all memories together) and the ceiling on `memory.grow`.
    public var memoryBytes: Int
    /// Largest number of table elements (each table).
    public var tableElements: Int
    /// Fuel per call: roughly one unit per WebAssembly instruction executed.
    public var fuel: UInt64
    /// Wall-clock time a single call may run before it is stopped.
    public var timeout: Duration
    /// Calls that may run at the same time; further callers wait, up to `queueTimeout`.
    public var maxConcurrency: Int
    /// How long a caller waits for a free slot before it gets a "busy" error.
    public var queueTimeout: Duration
    /// Warm instances kept in the pool.
    public var poolSize: Int
    /// Whether instances are reused across calls or made fresh for each call.
    public var instancePolicy: InstancePolicy
    /// Largest module file accepted at load.
    public var maxModuleBytes: Int

    /// The default memory limit: 128 MiB.
    public static let defaultMemoryBytes = 128 << 20
    /// The default fuel per call: 500 million.
    public static let defaultFuel: UInt64 = 500_000_000
    /// The default timeout per call: 30 seconds.
    public static let defaultTimeout: Duration = .seconds(30)
    /// No call may ever run longer than this: 300 seconds.
    public static let maximumTimeout: Duration = .seconds(300)
    /// wasm32 cannot address more than 4 GiB.
    public static let maximumMemoryBytes = 1 << 32

    /// The number of active processor cores, the default concurrency.
    public static var defaultConcurrency: Int { max(1, ProcessInfoShim.activeProcessorCount) }

    public init(
        memoryBytes: Int = ResourceLimits.defaultMemoryBytes,
        tableElements: Int = 100_000,
        fuel: UInt64 = ResourceLimits.defaultFuel,
        timeout: Duration = ResourceLimits.defaultTimeout,
        maxConcurrency: Int = ResourceLimits.defaultConcurrency,
        queueTimeout: Duration = .seconds(1),
        poolSize: Int = ResourceLimits.defaultConcurrency,
        instancePolicy: InstancePolicy = .reuse,
        maxModuleBytes: Int = 64 << 20
    ) {
        self.memoryBytes = memoryBytes
        self.tableElements = tableElements
        self.fuel = fuel
        self.timeout = timeout
        self.maxConcurrency = maxConcurrency
        self.queueTimeout = queueTimeout
        self.poolSize = poolSize
        self.instancePolicy = instancePolicy
        self.maxModuleBytes = maxModuleBytes
    }

    /// These limits, each lowered to at most the corresponding limit of `ceiling`, and the timeout
    /// to at most ``maximumTimeout``. A plugin can ask for less than the host allows, never more.
    public func clamped(to ceiling: ResourceLimits) -> ResourceLimits {
        var result = self
        result.memoryBytes = min(memoryBytes, ceiling.memoryBytes, Self.maximumMemoryBytes)
        result.tableElements = min(tableElements, ceiling.tableElements)
        result.fuel = min(fuel, ceiling.fuel)
        result.timeout = min(timeout, ceiling.timeout, Self.maximumTimeout)
        result.maxConcurrency = max(1, min(maxConcurrency, ceiling.maxConcurrency))
        result.queueTimeout = min(queueTimeout, ceiling.queueTimeout)
        result.poolSize = max(0, min(poolSize, ceiling.poolSize))
        result.maxModuleBytes = min(maxModuleBytes, ceiling.maxModuleBytes)
        if ceiling.instancePolicy == .freshPerCall { result.instancePolicy = .freshPerCall }
        return result
    }
}

/// Whether a plugin's instances are reused or made fresh for every call.
public struct InstancePolicy: Sendable, Hashable, CustomStringConvertible {
    private enum Kind: String { case reuse, fresh }
    private let kind: Kind

    /// Keep warm instances and reuse them; an instance that trapped is thrown away.
    public static let reuse = InstancePolicy(kind: .reuse)
    /// A new instance for every call: no state survives between calls (slower, strongest isolation).
    public static let freshPerCall = InstancePolicy(kind: .fresh)

    /// Parses `"reuse"` or `"fresh"`.
    public init?(name: String) {
        guard let kind = Kind(rawValue: name) else { return nil }
        self.kind = kind
    }

    private init(kind: Kind) { self.kind = kind }

    public var description: String { kind.rawValue }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads the core count without Foundation.
enum ProcessInfoShim {
    static var activeProcessorCount: Int {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
            return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
            return 1
        #endif
    }
}
