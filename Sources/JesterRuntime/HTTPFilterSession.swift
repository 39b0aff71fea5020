import JesterManifest
import Synchronization
import WasmKit

/// Which message of an exchange a host function of the `http` interface works on.
public enum HTTPFilterMessage: Sendable {
    case request
    case response
}

/// The request and response an `http-filter` plugin reads and edits, provided by the embedder
/// (the gateway) for the duration of one filter call. The plugin asks for single fields through
/// the `http` interface of `wit/jester.wit`; nothing is copied into the guest that it does not
/// ask for.
///
/// Methods run on the thread making the filter call, inside the guest's call. A setter returns
/// `false` when the value is not valid HTTP, and changes nothing then.
public protocol HTTPFilterMessages: AnyObject {
    var method: String { get }
    func setMethod(_ method: String) -> Bool
    /// The path without the query.
    var path: String { get }
    func setPath(_ path: String) -> Bool
    /// The query without `?`; empty when there is none.
    var query: String { get }
    func setQuery(_ query: String) -> Bool
    /// The client's IP address.
    var clientAddress: String { get }
    /// The response status.
    var status: Int { get }
    func setStatus(_ status: Int) -> Bool

    func header(_ name: String, in message: HTTPFilterMessage) -> String?
    func headerValues(_ name: String, in message: HTTPFilterMessage) -> [String]
    /// Every header name, lower-case, in order, each once.
    func headerNames(in message: HTTPFilterMessage) -> [String]
    func setHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool
    func addHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool
    func removeHeader(_ name: String, in message: HTTPFilterMessage)

    /// Calls `body` with the whole body of `message` and returns `nil`, or returns why there is
    /// none to give: ``HTTPFilterBodyUnavailable/notBuffered`` or ``HTTPFilterBodyUnavailable/tooLarge``.
    func withBody(of message: HTTPFilterMessage, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> HTTPFilterBodyUnavailable?
    /// Replaces the body of `message`.
    func setBody(_ bytes: UnsafeRawBufferPointer, of message: HTTPFilterMessage)
}

/// Why ``HTTPFilterMessages/withBody(of:_:)`` has no body to give.
public enum HTTPFilterBodyUnavailable: Sendable {
    /// The plugin's manifest did not ask for this body to be buffered.
    case notBuffered
    /// The body was larger than the buffer limit.
    case tooLarge
}

/// What an `http-filter` plugin answered: the `action` enum of `wit/jester.wit`.
public enum HTTPFilterAction: Sendable, Hashable {
    /// Go on with the (possibly edited) messages.
    case `continue`
    /// Send the response now (from `on-request`: instead of calling the upstream).
    case respond
}

/// One instance of an `http-filter` plugin, checked out for one HTTP request: `on-request` and
/// `on-response` of that request run on the same instance, so the guest may keep per-request
/// state between them.
///
/// Calls run on the calling thread (the gateway's event loop), synchronously, each within the
/// plugin's fuel and a deadline that the watchdog enforces; they never wait for a slot. A session
/// is used by one thread at a time. Call ``close()`` when the request is over: the instance goes
/// back to the pool, unless a call on it failed.
public final class HTTPFilterSession: @unchecked Sendable {
    // @unchecked: confined to one thread at a time (the request's event loop).
    /// The request's handle in the guest; the response's is ``responseHandle``.
    static let requestHandle: UInt32 = 1
    static let responseHandle: UInt32 = 2
    /// The most sessions one plugin may have open at once; more are refused as busy.
    public static let maxOpenSessions = 4096

    public let plugin: Plugin
    // `@exclusivity(unchecked)` on the fields every call writes: the session is confined to one
    // thread and none is touched while an `inout` access to it is under way, so the runtime's
    // exclusivity check (about 85 instructions an access) finds nothing to catch.
    @exclusivity(unchecked) private var instance: PluginInstance?
    /// The pool slot the instance came from, and goes back to.
    private let ticket: InstancePool.Ticket
    /// Where `on-request` and `on-response` sit among the image's exports, copied here so that a
    /// call does not touch the plugin and its image, which every event loop shares (their
    /// reference counts would bounce between cores).
    private let exports: (onRequest: Int?, onResponse: Int?)
    private let context: ExecutionContext
    /// When the session opened, in `Watchdog.now()` nanoseconds (cheaper than `ContinuousClock`
    /// instants, whose difference is 128-bit arithmetic).
    private let started: UInt64
    @exclusivity(unchecked) private var fuelUsed: UInt64 = 0
    @exclusivity(unchecked) private var failure: (any Error)?

    /// The fuel and time of every call, worked out once: only the deadline moves from call to
    /// call (nil when the context has a deadline of its own, which shortens later calls).
    private let allowance: CallAllowance?

    init(plugin: Plugin, instance: PluginInstance, ticket: InstancePool.Ticket, context: ExecutionContext) {
        self.plugin = plugin
        self.instance = instance
        self.ticket = ticket
        self.exports = plugin.image.httpFilterExports
        self.context = context
        self.started = Watchdog.now()
        allowance = plugin.allowance(for: context)
    }

    deinit {
        close()
    }

    /// Whether the plugin exports `on-request`.
    public var handlesRequests: Bool { exports.onRequest != nil }
    /// Whether the plugin exports `on-response`.
    public var handlesResponses: Bool { exports.onResponse != nil }

    /// Calls `on-request` with `messages` (the request, and the empty response a `respond`
    /// sends). Returns `.continue` when the plugin does not export it.
    /// - Throws: ``PluginError`` (limits) or ``GuestTrap``; the session is unusable afterwards.
    public func onRequest(_ messages: any HTTPFilterMessages) throws -> HTTPFilterAction {
        try call(exports.onRequest, "on-request", messages)
    }

    /// Calls `on-response` with `messages`. Returns `.continue` when the plugin does not export it.
    public func onResponse(_ messages: any HTTPFilterMessages) throws -> HTTPFilterAction {
        try call(exports.onResponse, "on-response", messages)
    }

    /// Calls the export at `index` of the image's function exports (resolved once per image, so a
    /// call does not hash the export's name).
    private func call(_ index: Int?, _ export: String, _ messages: any HTTPFilterMessages) throws -> HTTPFilterAction {
        guard let instance else {
            throw PluginError.make(.unloaded, "this filter session is closed or its instance failed earlier in the request").with(pluginID: plugin.id, export: export)
        }
        guard let index, let function = instance.function(at: index) else { return .continue }
        let budget = allowance?.budget(startingAt: Watchdog.now()) ?? plugin.budget(for: context)
        instance.context.httpMessages = messages
        defer {
            instance.context.httpMessages = nil
            fuelUsed &+= instance.lastFuelUsed
        }
        let results: [Value]
        do {
            results = try instance.invoke(function, instance.filterHandles, export: export, budget: budget)
        } catch {
            failure = error
            end()
            throw error
        }
        guard results.count == 1, case .i32(let action) = results[0], action <= 1 else {
            let error = PluginError.make(.badGuestResponse, "\(export) must return one i32, the action: 0 (continue) or 1 (respond)").with(pluginID: plugin.id, export: export)
            instance.isPoisoned = true
            failure = error
            end()
            throw error
        }
        return action == 0 ? .continue : .respond
    }

    /// The log messages the guest wrote so far in this session.
    public func takeLogs() -> [PluginLogEntry] {
        instance?.context.takeLogs() ?? []
    }

    /// Returns the instance to the pool (or throws it away after a failure). Idempotent.
    public func close() {
        end()
    }

    private func end() {
        guard let instance else { return }
        self.instance = nil
        let elapsed = Duration.nanoseconds(Int64(clamping: Watchdog.now() &- started))
        plugin.finishSession(instance, failure: failure, fuel: fuelUsed, duration: elapsed, usesDedicatedEnvironment: false, ticket: ticket)
    }
}

extension Plugin {
    /// Checks out an instance for one HTTP request's filter calls, without waiting: a warm one
    /// that the calling thread used before, or a new one made here. The pool keeps for each
    /// thread as many warm instances as it had sessions open at once (in all at most
    /// ``HTTPFilterSession/maxOpenSessions``), so a steady load does not create instances, and
    /// an event loop's requests keep to instances that are in its core's cache.
    ///
    /// - Throws: ``PluginError`` `busy` when ``HTTPFilterSession/maxOpenSessions`` are open,
    ///   `unloaded` when the plugin is not serving, or the error of making an instance.
    public func openHTTPFilterSession(context: ExecutionContext = ExecutionContext()) throws -> HTTPFilterSession {
        guard isServing.load(ordering: .relaxed) else {
            throw PluginError.make(.unloaded, "the plugin is \(state) and takes no calls").with(pluginID: id)
        }
        let instance: PluginInstance
        let ticket: InstancePool.Ticket
        switch pool.checkOut() {
        case .warm(let warm, let checkedOut):
            instance = warm
            ticket = checkedOut
        case .empty(let checkedOut):
            do {
                instance = try makeInstance(budget: budget(for: context), environment: nil)
            } catch {
                pool.abandonCheckOut(checkedOut)
                throw error
            }
            ticket = checkedOut
        case .busy:
            throw PluginError.busy(pluginID: id, export: "on-request", maxConcurrency: HTTPFilterSession.maxOpenSessions, waited: .zero)
        }
        instance.context.beginCall(context)
        return HTTPFilterSession(plugin: self, instance: instance, ticket: ticket, context: context)
    }
}

// MARK: - Body hooks (on-request-body, on-response-body)

extension HTTPFilterSession {
    /// Whether the plugin exports `on-request-body`.
    public var handlesRequestBodies: Bool { plugin.image.httpFilterBodyExports.onRequestBody != nil }
    /// Whether a response can have a body for a body hook to see: not one to HEAD, nor a 1xx,
    /// 204 or 304. Embedders call `on-response-body` only when this holds.
    public static func responseMayHaveBody(status: Int, method: String) -> Bool {
        method != "HEAD" && status >= 200 && status != 204 && status != 304
    }

    /// Whether the plugin exports `on-response-body`.
    public var handlesResponseBodies: Bool { plugin.image.httpFilterBodyExports.onResponseBody != nil }

    /// Calls `on-request-body` (for `.request`) or `on-response-body` (for `.response`) with one
    /// chunk of a streamed body, on this session's instance: the same one `on-request` and
    /// `on-response` of the request ran on. Each call has the plugin's fuel and deadline, as
    /// every hook call does.
    ///
    /// During the call the guest may read the request (and, in `on-response-body`, the
    /// response) through `messages`; the host passes no response handle to `on-request-body`.
    /// Edits are refused (setters answer `false`, `set-body` is ignored) and `body` is
    /// unavailable, whatever `messages` allows: the head has gone on before its body streams.
    ///
    /// ```swift
    /// let out = try session.onBody(.response, chunk: bytes, end: false, messages: messages)
    /// forward(out ?? Array(bytes))
    /// ```
    ///
    /// - Parameters:
    ///   - chunk: The bytes as they arrived; empty for the call that only says the body ended.
    ///   - end: Whether this is the last call for the body.
    /// - Returns: nil to forward `chunk` unchanged (`none`, or the plugin does not export the
    ///   hook); otherwise the bytes to forward instead, possibly none.
    /// - Throws: ``PluginError`` (a limit, or `badGuestResponse` for a malformed result area
    ///   naming the export) or ``GuestTrap``; the session is unusable afterwards, as after a
    ///   failed `on-request`.
    public func onBody(_ message: HTTPFilterMessage, chunk: UnsafeRawBufferPointer, end: Bool, messages: any HTTPFilterMessages) throws -> [UInt8]? {
        let exports = plugin.image.httpFilterBodyExports
        let export = message == .request ? HTTPFilterBodyHooks.requestExport : HTTPFilterBodyHooks.responseExport
        guard let instance else {
            throw PluginError.make(.unloaded, "this filter session is closed or its instance failed earlier in the request").with(pluginID: plugin.id, export: export)
        }
        guard let index = message == .request ? exports.onRequestBody : exports.onResponseBody, let function = instance.function(at: index) else {
            return nil
        }
        let post = (message == .request ? exports.postRequestBody : exports.postResponseBody).flatMap { instance.function(at: $0) }
        let budget = allowance?.budget(startingAt: Watchdog.now()) ?? plugin.budget(for: context)
        instance.context.httpMessages = BodyHookMessages(messages)
        defer { instance.context.httpMessages = nil }
        do {
            return try HTTPFilterBodyHooks.call(
                function, post: post, export: export, message: message, chunk: chunk, end: end, on: instance, budget: budget, fuel: &fuelUsed)
        } catch {
            failure = error
            self.end()
            throw error
        }
    }
}
