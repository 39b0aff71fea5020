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

/// The hooks of the `handler` world. ``Plugin`` conforms; you implement them in an extension
/// of ``Plugin``:
///
/// ```swift
/// extension Plugin {
///     static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] {
///         Array("Hello, \(String(decoding: input, as: UTF8.self))!".utf8)
///     }
/// }
/// ```
///
/// Only ``handle(_:)`` is required; the others have defaults that do nothing.
protocol PluginHooks {
    /// Handles one request: bytes in, bytes out. A thrown ``PluginFailure`` fails the call with
    /// its message.
    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8]

    /// Runs once on every new instance before its first call. A thrown failure fails the
    /// instance. Default: nothing.
    static func initialize() throws(PluginFailure)

    /// Answers the host's health checks. Default: ``HealthStatus/healthy``.
    static func health() -> HealthStatus

    /// Runs before an instance is thrown away at unload or reload. Default: nothing.
    static func shutdown()
}

extension PluginHooks {
    static func initialize() throws(PluginFailure) {}
    static func health() -> HealthStatus { .healthy }
    static func shutdown() {}
}

/// Your plugin. Extend it with `static func handle(_:)` (and optionally `initialize()`,
/// `health()`, `shutdown()`); the PDK's exports call them.
///
/// The PDK is compiled into your module (Embedded Swift builds a guest as one module), so
/// `Plugin` and your extension are in the same module and your methods need no `public`.
enum Plugin: PluginHooks {}

// MARK: - Exports

/// Calls the hooks through the protocol, so that a plugin without `handle` gets one clear
/// error ("does not conform to protocol 'PluginHooks'") instead of several.
enum Hooks<Implementation: PluginHooks> {
    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] { try Implementation.handle(input) }
    static func initialize() throws(PluginFailure) { try Implementation.initialize() }
    static func health() -> HealthStatus { Implementation.health() }
    static func shutdown() { Implementation.shutdown() }
}

/// `handle(ptr, len) -> retptr`: `handle: func(input: list<u8>) -> result<list<u8>, string>`.
///
/// The input was allocated by the host with `cabi_realloc(0, 0, 1, len)` (or is `(0, 0)` when
/// empty) and belongs to the guest, which frees it. The return area holds a `u8` discriminant
/// at +0 (0 ok, 1 err) and the output or message as (pointer, length) at +4 / +8, until
/// `cabi_post_handle`.
@_expose(wasm, "handle")
@_cdecl("handle")
public func _jesterExportHandle(_ input: UInt32, _ inputLength: UInt32) -> UInt32 {
    let bytes = ABI.takeBytes(input, inputLength)
    let area = ABI.exportReturnArea()
    let discriminant: UInt8
    let payload: (address: UInt32, count: UInt32)
    do {
        payload = ABI.giveBytes(try Hooks<Plugin>.handle(bytes))
        discriminant = 0
    } catch {
        payload = ABI.giveString(error.message)
        discriminant = 1
    }
    ABI.store8(area, 0, discriminant)
    ABI.store32(area, 4, payload.address)
    ABI.store32(area, 8, payload.count)
    StandardOutput.flush()
    return area
}

/// `cabi_post_handle(retptr)`: frees the output or message `handle` returned.
@_expose(wasm, "cabi_post_handle")
@_cdecl("cabi_post_handle")
public func _jesterExportPostHandle(_ area: UInt32) {
    GuestHeap.free(UInt(ABI.load32(area, 4)))
}

/// `init() -> retptr`: `init: func() -> result<_, string>`. Discriminant at +0; on error the
/// message as (pointer, length) at +4 / +8, until `cabi_post_init`.
@_expose(wasm, "init")
@_cdecl("init")
public func _jesterExportInit() -> UInt32 {
    let area = ABI.exportReturnArea()
    do {
        try Hooks<Plugin>.initialize()
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
    let status = Hooks<Plugin>.health()
    StandardOutput.flush()
    return status.rawValue
}

/// `shutdown()`: `shutdown: func()`.
@_expose(wasm, "shutdown")
@_cdecl("shutdown")
public func _jesterExportShutdown() {
    Hooks<Plugin>.shutdown()
    StandardOutput.flush()
}
