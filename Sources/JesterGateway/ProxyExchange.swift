import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One request forwarded to an upstream: the client side is a ``RequestHandler``, the upstream
/// side a pooled ``UpstreamConnection`` on the same event loop. Bodies stream both ways; each side
/// stops reading while the other cannot write.
final class ProxyExchange: UpstreamDelegate {
    private let handler: RequestHandler
    private(set) var endpoint: UpstreamEndpoint
    private let route: String
    private var head: HTTPRequestHead
    /// Where retries pick their target; nil without a retry policy.
    private let group: UpstreamGroup?
    private let retry: RetryPolicy?
    /// The request body kept for a retry, while it fits the policy's `max_replay_body_bytes`.
    private var replay: [ByteBuffer] = []
    private var replayBytes = 0
    private var replayable = true
    private var attempts = 1
    private var waitingToRetry = false
    /// Whether a try that reached the upstream may be repeated (idempotent method, or allowed).
    private let mayResend: Bool
    private var connection: UpstreamConnection?
    private var pending: [ByteBuffer] = []
    private var pendingTrailers: HTTPHeaders?
    private var requestEnded = false
    private var bodySent = false
    private(set) var responseStarted = false
    private var upstreamKeepAlive = true
    private var finished = false
    private var retried = false

    init(handler: RequestHandler, endpoint: UpstreamEndpoint, route: String, head: HTTPRequestHead, group: UpstreamGroup? = nil, retry: RetryPolicy? = nil) {
        self.handler = handler
        self.endpoint = endpoint
        self.route = route
        self.head = head
        if let retry, retry.attempts > 1 {
            self.retry = retry
            self.group = group
        } else {
            self.retry = nil
            self.group = nil
        }
        mayResend = retry?.retryNonIdempotent == true || Self.isIdempotent(head.method)
    }

    /// GET, HEAD, OPTIONS, PUT, DELETE and TRACE: safe to send twice.
    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: return true
        default: return false
        }
    }

    private var pools: LoopPools { handler.connection.pools }

    func start() {
        let pool = pools.pool(for: endpoint)
        if let idle = pool.takeIdle() {
            attach(idle)
        } else {
            connectNew()
        }
    }

    /// Opens a new connection; the client's reads wait until it is ready.
    private func connectNew() {
        handler.setReadsPaused(true)
        pools.pool(for: endpoint).connect(endpoint).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                if self.finished {
                    connection.channel.close(promise: nil)
                } else {
                    self.attach(connection)
                }
            case .failure(let error):
                guard !self.finished else { return }
                if self.retryIfAllowed() { return }
                self.fail(GatewayFailure(.upstreamConnect(Self.describe(error))))
            }
        }
    }

    private func attach(_ connection: UpstreamConnection) {
        self.connection = connection
        connection.handler.attach(self)
        pools.counters.upstreamRequest(reused: connection.reused)
        let channel = connection.channel
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        for body in pending {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
            bodySent = true
        }
        pending.removeAll()
        if requestEnded {
            channel.write(HTTPClientRequestPart.end(pendingTrailers), promise: nil)
            armResponseTimer()
        }
        channel.flush()
        handler.setReadsPaused(!channel.isWritable)
    }

    private func armResponseTimer() {
        handler.responseTimer?.arm(in: retry?.perTryTimeout ?? endpoint.responseHeaderTimeout)
    }

    private func disarmResponseTimer() {
        handler.responseTimer?.disarm()
    }

    /// The response head did not arrive within `response_timeout`.
    func responseTimedOut() {
        guard !responseStarted, !finished, !waitingToRetry else { return }
        if mayResend, retryIfAllowed() { return }
        fail(GatewayFailure(.upstreamTimeout))
    }

    /// The whole exchange ran past the deadline a `timeout` filter set: 504, or the connection is
    /// cut if the response had started.
    func exchangeTimedOut() {
        guard !finished else { return }
        fail(GatewayFailure(.upstreamTimeout))
    }

    // MARK: client side

    func forwardBody(_ body: ByteBuffer) {
        guard !finished else { return }
        if let retry, replayable {
            replayBytes += body.readableBytes
            if replayBytes <= retry.maxReplayBodyBytes { replay.append(body) } else { replayable = false; replay = [] }
        }
        guard let connection else {
            pending.append(body)
            return
        }
        bodySent = true
        connection.channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        if !connection.channel.isWritable { handler.setReadsPaused(true) }
    }

    func forwardEnd(_ trailers: HTTPHeaders?) {
        requestEnded = true
        guard !finished else { return }
        guard let connection else {
            pendingTrailers = trailers
            return
        }
        connection.channel.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
        if !responseStarted { armResponseTimer() }
    }

    func flushUpstream() {
        connection?.channel.flush()
    }

    func downstreamWritabilityChanged(_ writable: Bool) {
        connection?.handler.setReadsPaused(!writable)
    }

    /// The client went away or broke the request: drop the upstream connection.
    func abort() {
        guard !finished else { return }
        dropConnection()
    }

    /// Ends the exchange and closes its upstream connection, which cannot be reused.
    private func dropConnection() {
        finished = true
        disarmResponseTimer()
        if let connection {
            connection.handler.detach()
            connection.channel.close(promise: nil)
        }
        connection = nil
    }

    // MARK: upstream side

    func upstreamResponseHead(_ head: HTTPResponseHead) {
        guard !finished else { return }
        disarmResponseTimer()
        if let retry, mayResend, retry.retryOnStatuses.contains(head.status.code), retryIfAllowed() { return }
        responseStarted = true
        upstreamKeepAlive = head.isKeepAlive
        // Response phase: the route's post-upstream filter chain runs here (issue 4).
        handler.exchangeResponseHead(head)
    }

    func upstreamResponseBody(_ body: ByteBuffer) {
        guard !finished else { return }
        if !handler.exchangeResponseBody(body) {
            connection?.handler.setReadsPaused(true)
        }
    }

    func upstreamReadComplete() {
        guard !finished else { return }
        handler.exchangeFlush()
    }

    func upstreamResponseEnd(_ trailers: HTTPHeaders?) {
        guard !finished else { return }
        finished = true
        disarmResponseTimer()
        if let connection {
            connection.handler.detach()
            if upstreamKeepAlive, requestEnded {
                pools.pool(for: endpoint).release(connection, endpoint: endpoint)
            } else {
                connection.channel.close(promise: nil)
            }
        }
        connection = nil
        handler.exchangeFinished()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        guard !finished else { return }
        handler.setReadsPaused(!writable)
    }

    func upstreamFailed(_ error: any Error) {
        guard !finished else { return }
        if error is HTTPParserError {
            fail(GatewayFailure(.upstreamProtocol(Self.describe(error))))
        } else if let tls = error as? NIOSSLError {
            fail(GatewayFailure(.upstreamConnect("TLS handshake failed: \(tls)")))
        } else {
            lost(Self.describe(error))
        }
    }

    func upstreamClosed() {
        guard !finished else { return }
        lost("connection closed")
    }

    /// The connection died. A pooled connection the upstream closed while idle is retried once
    /// on a fresh one, when nothing of the body went out.
    private func lost(_ why: String) {
        if let connection, connection.reused, !responseStarted, !bodySent, requestEnded, !retried {
            retried = true
            connection.handler.detach()
            self.connection = nil
            disarmResponseTimer()
            connectNew()
            return
        }
        if mayResend, retryIfAllowed() { return }
        fail(GatewayFailure(.upstreamClosed(why)))
    }

    /// Tries again under the route's retry policy, when this try failed before anything went to
    /// the client, the whole request is known and tries are left: after the backoff (doubled
    /// each time), on the next target the upstream picks. A connect failure is always retried (the
    /// upstream saw nothing); other failures only for idempotent methods or when the policy allows.
    private func retryIfAllowed() -> Bool {
        guard let retry, let group, attempts < retry.attempts, requestEnded, replayable, !responseStarted, !finished else { return false }
        attempts += 1
        if let connection {
            connection.handler.detach()
            connection.channel.close(promise: nil)
            self.connection = nil
        }
        disarmResponseTimer()
        waitingToRetry = true
        let delay = TimeAmount.nanoseconds(retry.backoff.nanoseconds << Int64(min(attempts - 2, 16)))
        handler.setReadsPaused(true)
        handler.connection.pools.eventLoop.assumeIsolated().scheduleTask(in: delay) {
            self.waitingToRetry = false
            guard !self.finished else { return }
            let next = group.pick()
            if next !== self.endpoint {
                self.head = ProxyHeaders.retarget(self.head, from: self.endpoint, to: next)
                self.endpoint = next
            }
            self.pending = self.replay
            self.bodySent = false
            self.connectNew()
        }
        return true
    }

    private func fail(_ failure: GatewayFailure) {
        dropConnection()
        if responseStarted {
            handler.finishAbruptly(error: failure.code)
        } else {
            var failure = failure
            failure.route = route
            failure.target = endpoint.targetDescription
            handler.exchangeFailedBeforeResponse(failure)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? ChannelError, case .connectTimeout(let amount) = error {
            return "connect timed out after \(amount.nanoseconds / 1_000_000) ms"
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve \(error.host)" }
        }
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode)).lowercased()
        }
        return String(describing: error)
    }
}
