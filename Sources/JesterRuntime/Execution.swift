public import JesterManifest
import Synchronization

/// Per-call inputs besides the arguments: who is calling, for whom, and with which limits.
///
/// A context can only tighten the plugin's limits, never loosen them.
public struct ExecutionContext: Sendable {
    private enum Identity: Sendable {
        case generated(UInt64)
        case given(String)
    }

    private var identity: Identity
    /// Everything but the id, boxed so that copying a context (the caller's, the session's and
    /// the instance's copy) is one reference count, and nil for the common all-default context.
    private var extras: Extras?

    private final class Extras: Sendable {
        let tenant: String?
        let environment: [String: String]
        let limits: ResourceLimits?
        let deadline: ContinuousClock.Instant?
        let appContext: JSONValue?
        /// `limits.timeout` in nanoseconds, worked out once: `Duration` arithmetic is 128-bit, and
        /// a filter's context is used for every call of every request.
        let limitsTimeoutNanoseconds: UInt64?
        /// Whether `deadline` is set, kept as a flag: testing the optional instant for nil goes
        /// through the standard library's value witnesses, and a filter asks once per request.
        let hasDeadline: Bool

        init(tenant: String?, environment: [String: String], limits: ResourceLimits?, deadline: ContinuousClock.Instant?, appContext: JSONValue?) {
            self.tenant = tenant
            self.environment = environment
            self.limits = limits
            limitsTimeoutNanoseconds = limits.map { Plugin.nanoseconds($0.timeout) }
            self.deadline = deadline
            hasDeadline = deadline != nil
            self.appContext = appContext
        }
    }

    private mutating func update(
        tenant: String?? = nil, environment: [String: String]? = nil, limits: ResourceLimits?? = nil,
        deadline: ContinuousClock.Instant?? = nil, appContext: JSONValue?? = nil
    ) {
        let new = Extras(
            tenant: tenant ?? self.tenant, environment: environment ?? self.environment, limits: limits ?? self.limits,
            deadline: deadline ?? self.deadline, appContext: appContext ?? self.appContext)
        let isDefault = new.tenant == nil && new.environment.isEmpty && new.limits == nil && new.deadline == nil && new.appContext == nil
        extras = isDefault ? nil : new
    }

    /// A unique id for this execution, in logs and in the result. By default a 16-hex-digit id
    /// from a process-wide sequence with a random start, made without a system call.
    public var executionID: String {
        get {
            switch identity {
            case .given(let id): return id
            case .generated(let number):
                let hex = String(number, radix: 16)
                return String(repeating: "0", count: 16 - hex.count) + hex
            }
        }
        set { identity = .given(newValue) }
    }
    /// The tenant or user on whose behalf the call runs: in the plugin's log lines and in
    /// ``HostCall/tenant``.
    public var tenant: String? {
        get { extras?.tenant }
        set { update(tenant: .some(newValue)) }
    }
    /// Environment variables for this call (WASI guests only, and only the names the plugin's
    /// manifest lists and the host grants). A call with an environment runs on a fresh instance.
    public var environment: [String: String] {
        get { extras?.environment ?? [:] }
        set { update(environment: newValue) }
    }
    /// Lower limits for this call (memory, fuel, timeout); higher values are ignored.
    public var limits: ResourceLimits? {
        get { extras?.limits }
        set { update(limits: .some(newValue)) }
    }
    /// An absolute deadline for this call, in addition to the timeout.
    public var deadline: ContinuousClock.Instant? {
        get { extras?.deadline }
        set { update(deadline: .some(newValue)) }
    }
    /// Application data for the host's own capabilities (``HostCall/appContext``), for example to
    /// scope a store by customer. Never visible to the guest.
    public var appContext: JSONValue? {
        get { extras?.appContext }
        set { update(appContext: .some(newValue)) }
    }

    public init(
        executionID: String? = nil, tenant: String? = nil, environment: [String: String] = [:],
        limits: ResourceLimits? = nil, deadline: ContinuousClock.Instant? = nil, appContext: JSONValue? = nil
    ) {
        self.identity = executionID.map(Identity.given) ?? .generated(executionSequence.add(1, ordering: .relaxed).newValue)
        let isDefault = tenant == nil && environment.isEmpty && limits == nil && deadline == nil && appContext == nil
        self.extras = isDefault ? nil : Extras(tenant: tenant, environment: environment, limits: limits, deadline: deadline, appContext: appContext)
    }

    /// Whether the context sets limits or a deadline (the fast path skips them otherwise).
    var hasLimitsOrDeadline: Bool { extras.map { $0.limits != nil || $0.hasDeadline } ?? false }

    /// Whether the context sets a deadline.
    var hasDeadline: Bool { extras?.hasDeadline ?? false }

    /// ``limits``' timeout in nanoseconds.
    var limitsTimeoutNanoseconds: UInt64? { extras?.limitsTimeoutNanoseconds }

    /// A new unique execution id.
    public static func makeID() -> String {
        ExecutionContext().executionID
    }
}

/// Execution ids: a random 64-bit start, then one more per execution.
private let executionSequence = Atomic<UInt64>(UInt64.random(in: .min ... .max))

/// One message a plugin wrote through the log interface or to stdout/stderr.
public struct PluginLogEntry: Sendable, Hashable, CustomStringConvertible {
    public enum Level: String, Sendable, Hashable {
        case trace, debug, info, warn, error

        init(canonical: UInt32) {
            switch canonical {
            case 0: self = .trace
            case 1: self = .debug
            case 2: self = .info
            case 3: self = .warn
            default: self = .error
            }
        }
    }

    /// Where the message came from.
    public enum Source: String, Sendable, Hashable {
        case log, stdout, stderr
    }

    public var level: Level
    public var source: Source
    public var message: String

    public init(level: Level, source: Source, message: String) {
        self.level = level
        self.source = source
        self.message = message
    }

    public var description: String {
        source == .log ? "[\(level.rawValue)] \(message)" : "[\(source.rawValue)] \(message)"
    }
}

/// What one call used.
public struct ResourceUsage: Sendable, Hashable {
    /// Fuel consumed (roughly WebAssembly instructions executed).
    public var fuel: UInt64
    /// The largest the instance's linear memory has been, in bytes.
    public var peakMemoryBytes: Int
    /// Wall-clock time of the call, including waiting for a slot.
    public var duration: Duration

    public init(fuel: UInt64 = 0, peakMemoryBytes: Int = 0, duration: Duration = .zero) {
        self.fuel = fuel
        self.peakMemoryBytes = peakMemoryBytes
        self.duration = duration
    }
}

/// The outcome of ``Plugin/execute(_:input:context:)``: the guest's answer, what it logged, and
/// what it used. A guest that answers with an error is a result with `success == false`; a trap or
/// a limit is thrown instead.
public struct PluginResult: Sendable {
    public var executionID: String
    public var success: Bool
    /// The output bytes (handler output, or a WASI command's stdout).
    public var output: [UInt8]
    /// The results of a core function call.
    public var values: [WasmValue]
    /// Log messages and captured stdout/stderr lines, in order.
    public var logs: [PluginLogEntry]
    /// Error messages the guest returned.
    public var errors: [String]
    /// A WASI command's exit code.
    public var exitCode: UInt32?
    public var usage: ResourceUsage

    public init(
        executionID: String, success: Bool = true, output: [UInt8] = [], values: [WasmValue] = [],
        logs: [PluginLogEntry] = [], errors: [String] = [], exitCode: UInt32? = nil, usage: ResourceUsage = ResourceUsage()
    ) {
        self.executionID = executionID
        self.success = success
        self.output = output
        self.values = values
        self.logs = logs
        self.errors = errors
        self.exitCode = exitCode
        self.usage = usage
    }

    /// The output decoded as UTF-8.
    public var outputText: String { String(decoding: output, as: UTF8.self) }
}
