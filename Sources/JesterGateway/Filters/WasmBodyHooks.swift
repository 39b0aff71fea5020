import JesterConfig
import JesterRuntime
import Logging
import NIOCore
import NIOHTTP1

/// A ``WasmFilter`` whose plugin also exports `on-request-body` and/or `on-response-body`: the
/// body hooks of the `http-filter` world (`wit/jester.wit`). It runs the plugin's `on-request`
/// and `on-response` as ``WasmFilter`` does, then, when the phase passed, streams the body of
/// that side through the plugin: a ``RequestBodyTransform`` installed in the request phase, a
/// ``ResponseBodyTransform`` in the response phase. Each chunk is one guest call on the request's
/// ``HTTPFilterSession`` (the instance `on-request` and `on-response` ran on), which stays open
/// until ``onFinish(_:)``.
///
/// A hook does not run for a body the manifest buffers (`http_filter.buffer_request_body`,
/// `buffer_response_body`): the plugin gets that body whole instead.
///
/// It knows its entry's failure policy, because a chunk fails after its phase's verdict was
/// given: with `fail_open` a failed chunk call is logged once and the rest of the body passes
/// unchanged; with `fail_closed` the transform throws, and the gateway answers 500 or 503 if
/// nothing was sent yet, or cuts the connection.
final class WasmBodyHookFilter: GatewayFilter {
    let inner: WasmFilter
    let label: String
    let failurePolicy: FilterConfig.FailurePolicy
    let logger: Logger
    private let streamsRequestBody: Bool
    private let streamsResponseBody: Bool
    /// The context sessions are opened with when the plugin has neither `on-request` nor
    /// `on-response` (so ``WasmFilter`` opened none): the same limits ``WasmFilter`` uses.
    private let context: ExecutionContext

    var requirements: FilterRequirements { inner.requirements }

    init(inner: WasmFilter, label: String, failurePolicy: FilterConfig.FailurePolicy, logger: Logger) {
        self.inner = inner
        self.label = label
        self.failurePolicy = failurePolicy
        self.logger = logger
        let plugin = inner.plugin
        streamsRequestBody = Self.exportsRequestBodyHook(plugin) && !inner.requirements.bufferRequestBody
        streamsResponseBody = Self.exportsResponseBodyHook(plugin) && !inner.requirements.bufferResponseBody
        var limits = plugin.limits
        limits.timeout = min(limits.timeout, WasmFilter.callTimeLimit)
        context = ExecutionContext(executionID: "filter:\(plugin.id)", limits: limits)
    }

    static func exportsRequestBodyHook(_ plugin: Plugin) -> Bool {
        plugin.module.functionExport(named: "on-request-body") != nil
    }

    static func exportsResponseBodyHook(_ plugin: Plugin) -> Bool {
        plugin.module.functionExport(named: "on-response-body") != nil
    }

    func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        let verdict = inner.onRequest(exchange)
        guard streamsRequestBody, case .proceed = verdict else { return verdict }
        return install(.request, in: exchange)
    }

    func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        let verdict = inner.onResponse(exchange)
        guard streamsResponseBody, case .proceed = verdict,
            HTTPFilterSession.responseMayHaveBody(status: Int(exchange.status.code), method: exchange.method.rawValue)
        else { return verdict }
        return install(.response, in: exchange)
    }

    func onFinish(_ exchange: FilterExchange) {
        inner.onFinish(exchange)
    }

    /// Installs the transform that calls the hook of `message`, on the request's session.
    private func install(_ message: HTTPFilterMessage, in exchange: FilterExchange) -> FilterVerdict {
        let session: HTTPFilterSession
        do {
            session = try self.session(for: exchange)
        } catch {
            return .failed(WasmFilter.failure(error))
        }
        let transform = WasmBodyTransform(session: session, message: message, exchange: exchange, filter: self)
        if message == .request {
            exchange.transformRequestBody(with: transform)
        } else {
            exchange.transformResponseBody(with: transform)
        }
        return .proceed
    }

    /// The request's session: the one ``WasmFilter`` opened (same key), or a new one for a
    /// plugin that exports only body hooks. ``WasmFilter/onFinish(_:)`` closes either.
    private func session(for exchange: FilterExchange) throws -> HTTPFilterSession {
        let key = ObjectIdentifier(inner.plugin)
        if let open = exchange.state(for: key) as? HTTPFilterSession { return open }
        let session = try inner.plugin.openHTTPFilterSession(context: context)
        exchange.setState(session, for: key)
        return session
    }
}

/// One body of one request streamed through a plugin's body hook, chunk by chunk.
final class WasmBodyTransform: RequestBodyTransform, ResponseBodyTransform {
    private let session: HTTPFilterSession
    private let message: HTTPFilterMessage
    /// Weak: the exchange holds this transform.
    private weak var exchange: FilterExchange?
    private let filter: WasmBodyHookFilter
    /// Set after a failed call under `fail_open`: the rest of the body passes unchanged.
    private var bypassed = false

    init(session: HTTPFilterSession, message: HTTPFilterMessage, exchange: FilterExchange, filter: WasmBodyHookFilter) {
        self.session = session
        self.message = message
        self.exchange = exchange
        self.filter = filter
    }

    func transform(_ chunk: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        // An empty chunk in the middle of a body carries nothing to show the guest.
        guard chunk.readableBytes > 0 else { return chunk }
        return try call(chunk, end: false, allocator: allocator)
    }

    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try call(allocator.buffer(capacity: 0), end: true, allocator: allocator)
    }

    private func call(_ chunk: ByteBuffer, end: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard !bypassed else { return chunk }
        do {
            guard let exchange else {
                throw FilterFailure("the request this body belongs to is over")
            }
            let messages = ExchangeMessages(exchange, phase: .response)
            let replacement = try chunk.withUnsafeReadableBytes { bytes in
                try session.onBody(message, chunk: bytes, end: end, messages: messages)
            }
            guard let replacement else { return chunk }
            var out = allocator.buffer(capacity: replacement.count)
            out.writeBytes(replacement)
            return out
        } catch {
            let failure = WasmFilter.failure(error)
            let hook = message == .request ? "on-request-body" : "on-response-body"
            switch filter.failurePolicy {
            case .failOpen:
                bypassed = true
                filter.logger.warning(
                    "filter body hook failed; the rest of the body passes unchanged (fail_open)",
                    metadata: [
                        "route": .string(exchange?.route ?? "-"), "filter": .string(filter.label),
                        "hook": .string(hook),
                        "error": .string(failure.message),
                    ]
                )
                return chunk
            case .failClosed:
                throw FilterBodyFailure(filter: filter.label, failure: failure)
            }
        }
    }
}

/// A body transform of a known filter failed (`fail_closed`): the gateway answers as for a
/// failed filter (500, or 503 when it was a limit), or cuts the connection if the response
/// started.
struct FilterBodyFailure: Error, CustomStringConvertible {
    /// The filter's label (`wasm:redact`).
    let filter: String
    let failure: FilterFailure

    var description: String { "\(filter): \(failure.message)" }
}

extension GatewayFailure {
    /// What the client gets when a request or response body transform throws `error` before
    /// anything was sent: the failed filter by name when known, 503 for limits.
    static func bodyTransform(_ error: any Error, route: String?) -> GatewayFailure {
        let filter: String
        let failure: FilterFailure
        if let known = error as? FilterBodyFailure {
            filter = known.filter
            failure = known.failure
        } else if let plain = error as? FilterFailure {
            filter = "body transform"
            failure = plain
        } else {
            filter = "body transform"
            failure = FilterFailure(String(describing: error))
        }
        let kind: Kind =
            failure.unavailable
            ? .filterUnavailable(filter: filter, failure.message) : .filterFailed(filter: filter, failure.message)
        return GatewayFailure(kind, route: route)
    }
}
