/// An error a plugin returns from a hook: the call fails with `message`, and the plugin stays
/// healthy (a trap, by contrast, throws the instance away).
///
/// ```swift
/// throw PluginFailure("empty input: pass --input NAME")
/// ```
public struct PluginFailure: Error, CustomStringConvertible {
    /// What went wrong, for the caller.
    public var message: String

    /// A failure with `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// What `health` reports: the `health-status` enum of `wit/jester.wit`.
public enum HealthStatus: Int32 {
    case healthy = 0
    case degraded = 1
    case unhealthy = 2
}

/// The lifecycle hooks every plugin has, whatever it exports. ``Plugin`` conforms with defaults
/// that do nothing; implement any of them in an extension of ``Plugin`` to replace the default:
///
/// ```swift
/// extension Plugin {
///     static func initialize() throws(PluginFailure) {
///         guard Config.get("api-base") != nil else { throw PluginFailure("set config key api-base") }
///     }
/// }
/// ```
protocol LifecycleHooks {
    /// Runs once on every new instance before its first call. A thrown failure fails the
    /// instance. Default: nothing.
    static func initialize() throws(PluginFailure)

    /// Answers the host's health checks. Default: ``HealthStatus/healthy``.
    static func health() -> HealthStatus

    /// Runs before an instance is thrown away at unload or reload. Default: nothing.
    static func shutdown()
}

extension LifecycleHooks {
    static func initialize() throws(PluginFailure) {}
    static func health() -> HealthStatus { .healthy }
    static func shutdown() {}
}

/// The `handler` world's hook: a plugin that declares the export `handle` (kind `handler`)
/// implements it in an extension of ``Plugin``:
///
/// ```swift
/// extension Plugin {
///     static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] {
///         Array("Hello, \(String(decoding: input, as: UTF8.self))!".utf8)
///     }
/// }
/// ```
///
/// The build compiles `Exports/handle.swift`, which declares the conformance and the export,
/// only when the manifest declares `handle`.
protocol HandleHook {
    /// Handles one request: bytes in, bytes out. A thrown ``PluginFailure`` fails the call with
    /// its message.
    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8]
}

/// The `http-filter` world's `on-request` hook, built when the manifest declares the export
/// `on-request` (kind `http-filter`):
///
/// ```swift
/// extension Plugin {
///     static func onRequest(_ request: Request, _ response: Response) -> FilterAction {
///         request.setHeader("x-plugin", "mine")
///         return .continue
///     }
/// }
/// ```
protocol OnRequestHook {
    /// Called with the request before it goes upstream. `response` is empty (status 200) and is
    /// only sent if this returns ``FilterAction/respond``; then the upstream is not called.
    static func onRequest(_ request: Request, _ response: Response) -> FilterAction
}

/// The `http-filter` world's `on-response` hook, built when the manifest declares the export
/// `on-response` (kind `http-filter`). It runs on the same instance as `on-request` for one
/// request, so state kept between the two in module-level variables belongs to that request.
protocol OnResponseHook {
    /// Called with the request (as the upstream saw it) and the response before it goes to
    /// the client. ``FilterAction/respond`` is the same as ``FilterAction/continue`` here.
    static func onResponse(_ request: Request, _ response: Response) -> FilterAction
}

/// The `http-filter` world's `on-request-body` hook, built when the manifest declares the export
/// `on-request-body` (kind `http-filter`): it sees the request body chunk by chunk as it streams
/// to the upstream, and may change it, without the gateway buffering it.
///
/// ```swift
/// extension Plugin {
///     static func onRequestBody(_ request: Request, _ chunk: [UInt8], end: Bool) -> [UInt8]? {
///         nil  // forward every chunk unchanged
///     }
/// }
/// ```
protocol OnRequestBodyHook {
    /// Called with each chunk of the request body, then once with `end` true (and usually an
    /// empty chunk). Return nil to forward the chunk unchanged, or the bytes to forward instead
    /// (fewer, more, or none: hold bytes back for a later call). The request is readable, not
    /// editable: its head went upstream already. Not called when the manifest buffers request
    /// bodies (`http_filter.buffer_request_body`).
    static func onRequestBody(_ request: Request, _ chunk: [UInt8], end: Bool) -> [UInt8]?
}

/// The `http-filter` world's `on-response-body` hook, built when the manifest declares the
/// export `on-response-body`: the same as ``OnRequestBodyHook`` for the response body on its way
/// to the client. It runs on the instance `on-request` and `on-response` of the request ran on.
protocol OnResponseBodyHook {
    /// Called with each chunk of the response body, then once with `end` true. Return nil to
    /// forward the chunk unchanged, or the bytes to forward instead. The request and response
    /// are readable, not editable (the response head went to the client already).
    static func onResponseBody(_ request: Request, _ response: Response, _ chunk: [UInt8], end: Bool) -> [UInt8]?
}

/// Your plugin. Extend it with the hooks of the exports your manifest declares: `handle(_:)`
/// for `handle`, `onRequest(_:_:)` for `on-request`, `onResponse(_:_:)` for `on-response`,
/// `onRequestBody(_:_:end:)` for `on-request-body`, `onResponseBody(_:_:_:end:)` for
/// `on-response-body`, and optionally `initialize()`, `health()`, `shutdown()`. The PDK's
/// exports call them.
///
/// The PDK is compiled into your module (Embedded Swift builds a guest as one module), so
/// `Plugin` and your extension are in the same module and your methods need no `public`.
enum Plugin: LifecycleHooks {}

// MARK: - Lifecycle exports

/// Calls the lifecycle hooks through the protocol, so that a plugin's own implementations
/// replace the defaults.
enum Lifecycle<Implementation: LifecycleHooks> {
    static func initialize() throws(PluginFailure) { try Implementation.initialize() }
    static func health() -> HealthStatus { Implementation.health() }
    static func shutdown() { Implementation.shutdown() }
}

/// `init() -> retptr`: `init: func() -> result<_, string>`. Discriminant at +0; on error the
/// message as (pointer, length) at +4 / +8, until `cabi_post_init`.
@_expose(wasm, "init")
@_cdecl("init")
public func _jesterExportInit() -> UInt32 {
    let area = ABI.exportReturnArea()
    do {
        try Lifecycle<Plugin>.initialize()
        ABI.store8(area, 0, 0)
        ABI.store32(area, 4, 0)
        ABI.store32(area, 8, 0)
    } catch {
        let message = ABI.giveString(error.message)
        ABI.store8(area, 0, 1)
        ABI.store32(area, 4, message.address)
        ABI.store32(area, 8, message.count)
    }
    StandardOutput.flush()
    return area
}

/// `cabi_post_init(retptr)`: frees the message of a failed `init`.
@_expose(wasm, "cabi_post_init")
@_cdecl("cabi_post_init")
public func _jesterExportPostInit(_ area: UInt32) {
    if ABI.load8(area) == 1 {
        GuestHeap.free(UInt(ABI.load32(area, 4)))
    }
}

/// `health() -> i32`: `health: func() -> health-status` (0 healthy, 1 degraded, 2 unhealthy).
@_expose(wasm, "health")
@_cdecl("health")
public func _jesterExportHealth() -> Int32 {
    let status = Lifecycle<Plugin>.health()
    StandardOutput.flush()
    return status.rawValue
}

/// `shutdown()`: `shutdown: func()`.
@_expose(wasm, "shutdown")
@_cdecl("shutdown")
public func _jesterExportShutdown() {
    Lifecycle<Plugin>.shutdown()
    StandardOutput.flush()
}
