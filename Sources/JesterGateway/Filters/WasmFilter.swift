import Dispatch
import JesterManifest
import JesterRuntime
import NIOCore
import NIOHTTP1
import Synchronization

/// A sandboxed filter: a plugin of the `http-filter` world (`wit/jester.wit`).
///
/// Each request gets one instance of the plugin for its whole life (an ``HTTPFilterSession``,
/// opened at its first phase and closed in ``onFinish(_:)``), so `on-request` and `on-response`
/// of one request see the same guest state. Calls run inline on the request's event loop: a
/// filter call is a few microseconds, far less than a hop to another thread and back. The
/// watchdog bounds each call by ``callTimeLimit`` (or the manifest's lower `timeout_ms`), so a
/// guest that loops forever holds its event loop for at most that long, then fails.
///
/// A call that traps or hits a limit throws its instance away; the next request gets a new one.
/// After ``Plugin/degradedAfterFailures`` failures in a row the plugin is degraded (logged,
/// and in its status) and new instances are made with backoff: for a while (1 s, doubling up to
/// 30 s) the filter fails at once, as unavailable, instead of making an instance per request.
final class WasmFilter: GatewayFilter {
    /// The longest one filter call may run.
    static let callTimeLimit: Duration = .milliseconds(250)
    static let firstBackoff: UInt64 = 1_000_000_000
    static let maxBackoff: UInt64 = 30_000_000_000

    /// Failed calls in a row, and until when (monotonic nanoseconds) calls fail at once.
    private let failuresInARow = Atomic<Int>(0)
    private let backoffUntil = Atomic<UInt64>(0)

    let plugin: Plugin
    let requirements: FilterRequirements
    private let context: ExecutionContext
    private let handlesRequests: Bool
    private let handlesResponses: Bool

    init(plugin: Plugin) {
        self.plugin = plugin
        let options = plugin.manifest.httpFilter ?? HTTPFilterOptions()
        requirements = FilterRequirements(
            bufferRequestBody: options.bufferRequestBody, bufferResponseBody: options.bufferResponseBody, maxBodyBytes: options.maxBodyBytes)
        var limits = plugin.limits
        limits.timeout = min(limits.timeout, Self.callTimeLimit)
        context = ExecutionContext(executionID: "filter:\(plugin.id)", limits: limits)
        handlesRequests = plugin.module.functionExport(named: "on-request") != nil
        handlesResponses = plugin.module.functionExport(named: "on-response") != nil
    }

    /// The request's session, opened on first use. Keyed by the plugin, so that a plugin listed
    /// twice in one route (say in `filters` and `response_filters`) uses one instance per request.
    private func session(for exchange: FilterExchange) throws -> HTTPFilterSession {
        let key = ObjectIdentifier(plugin)
        if let open = exchange.state(for: key) as? HTTPFilterSession { return open }
        let session = try plugin.openHTTPFilterSession(context: context)
        exchange.setState(session, for: key)
        return session
    }

    func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        guard handlesRequests else { return .proceed }
        if let waiting = backingOff(exchange) { return .failed(waiting) }
        do {
            let session = try session(for: exchange)
            let response = try ExchangeMessages.requestPhase(exchange) { try session.onRequest($0) }
            succeeded()
            return response.map { .respond($0) } ?? .proceed
        } catch {
            return .failed(failed(error))
        }
    }

    func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        guard handlesResponses else { return .proceed }
        if let waiting = backingOff(exchange) { return .failed(waiting) }
        do {
            _ = try session(for: exchange).onResponse(ExchangeMessages(exchange, phase: .response))
            succeeded()
            return .proceed
        } catch {
            return .failed(failed(error))
        }
    }

    /// A failure to report at once while the plugin is in backoff, unless this request already
    /// holds an instance.
    private func backingOff(_ exchange: FilterExchange) -> FilterFailure? {
        let until = backoffUntil.load(ordering: .relaxed)
        guard until != 0, exchange.state(for: ObjectIdentifier(plugin)) == nil else { return nil }
        let now = Self.now()
        guard now < until else { return nil }
        let failures = failuresInARow.load(ordering: .relaxed)
        return FilterFailure(
            "plugin \(plugin.id) is \(plugin.state) after \(failures) failed calls in a row; it gets a new instance in \((until - now) / 1_000_000) ms",
            unavailable: true)
    }

    private func succeeded() {
        if failuresInARow.load(ordering: .relaxed) != 0 {
            failuresInARow.store(0, ordering: .relaxed)
            backoffUntil.store(0, ordering: .relaxed)
        }
    }

    private func failed(_ error: any Error) -> FilterFailure {
        let failures = failuresInARow.add(1, ordering: .relaxed).newValue
        if plugin.state == .degraded || failures >= Plugin.degradedAfterFailures {
            let doublings = UInt64(min(max(failures - Plugin.degradedAfterFailures, 0), 7))
            backoffUntil.store(Self.now() + min(Self.firstBackoff << doublings, Self.maxBackoff), ordering: .relaxed)
        }
        return Self.failure(error)
    }

    static func now() -> UInt64 {
        UInt64(DispatchTime.now().uptimeNanoseconds)
    }

    func onFinish(_ exchange: FilterExchange) {
        let key = ObjectIdentifier(plugin)
        (exchange.state(for: key) as? HTTPFilterSession)?.close()
        exchange.setState(nil, for: key)
    }

    static func failure(_ error: any Error) -> FilterFailure {
        FilterFailure(String(describing: error), unavailable: PluginFailureClassifier.isUnavailable(error))
    }
}

/// A ``FilterExchange`` as the `http` interface's resources: the request, and the response
/// (the fresh one in `on-request`, the real one in `on-response`).
final class ExchangeMessages: HTTPFilterMessages {
    enum Phase { case request, response }

    private let exchange: FilterExchange
    private let phase: Phase

    init(_ exchange: FilterExchange, phase: Phase) {
        self.exchange = exchange
        self.phase = phase
    }

    /// Runs a filter's request-phase call as the `http-filter` world defines it, for every tier
    /// that speaks it (WASM, dylib): the response side is a fresh response (200, no headers, no
    /// body) that is sent only when the call answers `respond`, and is fresh again afterwards,
    /// whether the call returned or threw.
    /// - Returns: The response the filter set when it answered `respond`; nil for `continue`.
    static func requestPhase<Failure: Error>(
        _ exchange: FilterExchange, _ call: (ExchangeMessages) throws(Failure) -> HTTPFilterAction
    ) throws(Failure) -> FilterResponse? {
        exchange.status = .ok
        exchange.responseHeaders = HTTPHeaders()
        exchange.bufferedResponseBody = nil
        defer {
            exchange.status = .ok
            exchange.responseHeaders = HTTPHeaders()
            exchange.bufferedResponseBody = nil
            exchange.responseBodyReplaced = false
        }
        guard try call(ExchangeMessages(exchange, phase: .request)) == .respond else { return nil }
        var headers = exchange.responseHeaders
        headers.remove(name: "content-length")
        return FilterResponse(status: exchange.status, headers: headers, body: exchange.bufferedResponseBody ?? ByteBuffer())
    }

    var method: String { exchange.method.rawValue }

    func setMethod(_ method: String) -> Bool {
        guard HeaderNames.isToken(method) else { return false }
        exchange.method = HTTPMethod(rawValue: method)
        return true
    }

    var path: String { exchange.path }

    func setPath(_ path: String) -> Bool {
        guard HeaderNames.isPath(path) else { return false }
        exchange.path = path
        return true
    }

    var query: String { exchange.query ?? "" }

    func setQuery(_ query: String) -> Bool {
        guard HeaderNames.isQuery(query) else { return false }
        exchange.query = query.isEmpty ? nil : query
        return true
    }

    var clientAddress: String { exchange.clientAddress }

    var status: Int { Int(exchange.status.code) }

    func setStatus(_ status: Int) -> Bool {
        guard (100...999).contains(status) else { return false }
        exchange.status = HTTPResponseStatus(statusCode: status)
        return true
    }

    private func headers(_ message: HTTPFilterMessage) -> HTTPHeaders {
        message == .request ? exchange.requestHeaders : exchange.responseHeaders
    }

    private func edit(_ message: HTTPFilterMessage, _ body: (inout HTTPHeaders) -> Void) {
        if message == .request { body(&exchange.requestHeaders) } else { body(&exchange.responseHeaders) }
    }

    func header(_ name: String, in message: HTTPFilterMessage) -> String? {
        headers(message).first(name: name)
    }

    func headerValues(_ name: String, in message: HTTPFilterMessage) -> [String] {
        headers(message)[name]
    }

    func headerNames(in message: HTTPFilterMessage) -> [String] {
        var names: [String] = []
        for (name, _) in headers(message) {
            let lower = name.lowercased()
            if !names.contains(lower) { names.append(lower) }
        }
        return names
    }

    func setHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool {
        guard HeaderNames.isToken(name), HeaderNames.isValue(value) else { return false }
        edit(message) { $0.replaceOrAdd(name: name, value: value) }
        return true
    }

    func addHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool {
        guard HeaderNames.isToken(name), HeaderNames.isValue(value) else { return false }
        edit(message) { $0.add(name: name, value: value) }
        return true
    }

    func removeHeader(_ name: String, in message: HTTPFilterMessage) {
        edit(message) { $0.remove(name: name) }
    }

    func withBody(of message: HTTPFilterMessage, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> HTTPFilterBodyUnavailable? {
        let buffer: ByteBuffer?
        if message == .request {
            buffer = exchange.bufferedRequestBody
        } else {
            buffer = exchange.bufferedResponseBody
        }
        guard let buffer else {
            // In on-request, the fresh response has an empty body until the guest sets one.
            if message == .response, phase == .request { try body(UnsafeRawBufferPointer(start: nil, count: 0)); return nil }
            return .notBuffered
        }
        try buffer.withUnsafeReadableBytes { try body($0) }
        return nil
    }

    func setBody(_ bytes: UnsafeRawBufferPointer, of message: HTTPFilterMessage) {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        if message == .request {
            exchange.requestBody = buffer
        } else {
            exchange.responseBody = buffer
        }
    }
}
