import JesterConfig
import JesterRuntime
import Logging
import NIOCore
import NIOHTTP1

/// What a downstream connection shares with its requests.
final class ConnectionContext: @unchecked Sendable {  // immutable after init except `connectionGuard`, set on the loop
    let core: GatewayCore
    let listener: String
    let settings: HTTPSettings
    let scheme: String
    let pools: LoopPools
    let clientAddress: String
    let protocolName: String
    weak var connectionGuard: ConnectionGuard?

    init(core: GatewayCore, listener: String, settings: HTTPSettings, scheme: String, pools: LoopPools, clientAddress: String, protocolName: String) {
        self.core = core
        self.listener = listener
        self.settings = settings
        self.scheme = scheme
        self.pools = pools
        self.clientAddress = clientAddress
        self.protocolName = protocolName
    }
}

/// Serves the requests of one HTTP/1 connection (one at a time; pipelined requests wait in
/// `HTTPServerPipelineHandler`) or of one HTTP/2 stream: route, then answer locally, from a
/// plugin, or by streaming to and from an upstream with back-pressure both ways.
final class RequestHandler: ChannelDuplexHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// The route's request filters run (or wait for the whole body first).
        case filtering(PendingRequest)
        /// Answering locally once the request ends; the body is read and dropped (or kept for a plugin).
        case local(LocalAnswer)
        case proxying(ProxyExchange)
        /// A response went out before the request ended; the rest of the request is dropped, then the connection closes.
        case discarding
        case closed
    }

    enum LocalAnswer {
        case failure(GatewayFailure)
        case fixed(StaticResponse)
        case plugin(PluginRoute, body: ByteBuffer)
        /// A request filter answered.
        case filtered(FilterResponse)
    }

    /// A request whose request filters are running: where it goes next, and what of its body
    /// arrived meanwhile.
    final class PendingRequest {
        let route: CompiledRoute
        let target: RequestTarget
        /// Body parts held while a filter decides (when no filter buffers the body).
        var heldBody: [ByteBuffer] = []
        var ended = false
        var trailers: HTTPHeaders?
        var started = false
        var done = false

        init(route: CompiledRoute, target: RequestTarget) {
            self.route = route
            self.target = target
        }
    }

    /// How the response of a request with response filters is being handled.
    private enum ResponseMode {
        /// No response filters, or they have run: bodies stream (through any transforms).
        case streaming
        /// Collecting the whole upstream body for filters that asked for it.
        case buffering(ByteBuffer)
        /// The response filters are deciding; body parts are held.
        case waiting(held: [ByteBuffer], ended: Bool)
        /// A filter replaced the body, already sent: the upstream's is read and dropped.
        case dropping
    }

    let connection: ConnectionContext
    private var state = State.idle
    private(set) var context: ChannelHandlerContext?
    private var readsPaused = false
    private var pendingRead = false
    /// The request being served, for the access log and error bodies.
    private(set) var request: RequestInfo?
    /// The filters of the request being served, when its route has any.
    private var filters: FilterRun?
    private var responseMode = ResponseMode.streaming
    /// Whether the response filters have run (or started) for this request.
    private var responsePhaseStarted = false
    /// Reads paused while a request filter decides.
    private var pausedForFilters = false
    /// The whole-exchange deadline a `timeout` filter set.
    private var exchangeTimer: LazyTimer?
    /// A filter replaced the request body and it went upstream whole: the client's is dropped.
    private var dropsRequestBody = false
    /// The request body transforms of the request being served (empty when it has no body).
    private var requestTransforms: [any RequestBodyTransform] = []

    init(connection: ConnectionContext) {
        self.connection = connection
    }

    struct RequestInfo {
        let head: HTTPRequestHead
        let start: NIODeadline
        var route: String?
        var target: String?
        var bodyBytes: Int64 = 0
        var responseBytes: Int64 = 0
        var status: UInt = 0
        var upstreamHeaderTime: NIODeadline?
        var error: String?
        var keepAlive: Bool
        var ended = false

        /// Whether error bodies should be JSON: the client's Accept mentions JSON.
        var acceptJSON: Bool { head.headers["accept"].contains { $0.contains("json") } }
    }

    var isHTTP2: Bool { connection.protocolName == "HTTP/2" }

    /// The upstream response timeout of the exchange in progress, re-armed per request.
    private(set) var responseTimer: LazyTimer?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        responseTimer = LazyTimer(eventLoop: context.eventLoop) { [weak self] in
            guard let self, case .proxying(let exchange) = self.state else { return }
            exchange.responseTimedOut()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        responseTimer?.stop()
        self.context = nil
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if pipelined.isEmpty, acceptsPartNow {
            dispatch(part, context: context)
        } else {
            enqueue(part)
        }
    }

    private func dispatch(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head): receivedHead(head, context: context)
        case .body(let body): receivedBody(body, context: context)
        case .end(let trailers): receivedEnd(trailers, context: context)
        }
    }

    // MARK: pipelining
    //
    // HTTP/1 requests sent before the previous response finished wait here, in order. Reads go
    // on while the queue holds less than one whole request, so an ordinary keep-alive connection
    // never stops and restarts reading (each stop costs two epoll_ctl calls); a client that
    // pipelines more is held back until its queue drains.

    /// Parts of requests that arrived while an earlier request was being answered.
    private var pipelined = CircularBuffer<HTTPServerRequestPart>()
    private var pipelineHoldsReads = false
    /// The connection closes after the response in flight (graceful shutdown).
    private var closeAfterResponse = false

    /// Whether a part belongs to the request being served now (or starts one).
    private var acceptsPartNow: Bool {
        if case .idle = state { return true }
        if let request, !request.ended { return true }
        return false
    }

    private func enqueue(_ part: HTTPServerRequestPart) {
        if case .discarding = state { return }
        if case .closed = state { return }
        pipelined.append(part)
        if case .end = part, !pipelineHoldsReads {
            pipelineHoldsReads = true
            updateReads()
        }
    }

    /// Serves queued requests until one is in progress again.
    private var draining = false

    private func drainPipeline() {
        // Not re-entrant: a queued request answered at once finishes inside this loop, and the
        // loop, not a nested call, takes the next one (no recursion per pipelined request).
        guard !draining, let context else { return }
        draining = true
        defer { draining = false }
        while let part = pipelined.first, acceptsPartNow {
            pipelined.removeFirst()
            dispatch(part, context: context)
        }
        if pipelineHoldsReads, !pipelined.contains(where: { if case .end = $0 { return true } else { return false } }) {
            pipelineHoldsReads = false
            updateReads()
        }
    }

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard case .idle = state else {
            // A head while busy cannot happen with the pipelining handler in front; refuse it.
            writeFailure(GatewayFailure(.badRequest("unexpected request while another is in progress")), close: true)
            return
        }
        connection.connectionGuard?.headReceived()
        request = RequestInfo(head: head, start: .now(), keepAlive: isHTTP2 || head.isKeepAlive)

        // Framing and smuggling checks, before anything is routed.
        let target: RequestTarget
        switch RequestValidation.validate(head, isHTTP2: isHTTP2) {
        case .failure(let rejection):
            request?.keepAlive = false
            state = .local(.failure(GatewayFailure(.badRequest(rejection.reason))))
            respondNow(close: true)
            return
        case .success(let valid):
            target = valid
        }
        if let length = target.contentLength, length > connection.settings.maxRequestBodyBytes {
            request?.keepAlive = false
            state = .local(.failure(GatewayFailure(.bodyTooLarge(limit: connection.settings.maxRequestBodyBytes))))
            respondNow(close: true)
            return
        }

        let table = connection.core.currentTable
        let route = table.router.match(
            listener: connection.listener, host: target.host, path: target.path,
            method: head.method.rawValue, headers: { head.headers[$0] }
        )
        guard let route else {
            state = .local(.failure(GatewayFailure(.noRoute)))
            return
        }
        request?.route = route.name
        if target.expectsContinue {
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
        if let chain = route.filters {
            let exchange = FilterExchange(
                method: head.method, path: Self.pathPart(target.path), query: Self.queryPart(target.path), requestHeaders: head.headers,
                version: head.version, clientAddress: connection.clientAddress, scheme: connection.scheme, route: route.name,
                listener: connection.listener, eventLoop: context.eventLoop)
            filters = FilterRun(chain: chain, exchange: exchange)
            if !chain.requestStages.isEmpty {
                let pending = PendingRequest(route: route, target: target)
                state = .filtering(pending)
                if !chain.buffersRequestBody { runRequestFilters(pending) }
                return
            }
        }
        startAction(route, target: target, pending: nil, context: context)
    }

    static func pathPart(_ target: Substring) -> String {
        String(target[..<(questionMark(in: target) ?? target.endIndex)])
    }

    static func queryPart(_ target: Substring) -> String? {
        questionMark(in: target).map { String(target[target.utf8.index(after: $0)...]) }
    }

    /// The first `?`, found in the contiguous UTF-8 bytes: searching by Character cost about 950
    /// instructions a call, the generic search of the UTF-8 view about 250.
    private static func questionMark(in target: Substring) -> String.Index? {
        let utf8 = target.utf8
        if let offset = utf8.withContiguousStorageIfAvailable({ $0.firstIndex(of: UInt8(ascii: "?")) }) {
            return offset.map { utf8.index(utf8.startIndex, offsetBy: $0) }
        }
        return utf8.firstIndex(of: UInt8(ascii: "?"))
    }

    /// Runs the request filters; the action starts when they pass.
    private func runRequestFilters(_ pending: PendingRequest) {
        guard let filters, !pending.started else { return }
        pending.started = true
        filters.runRequestPhase { [weak self] outcome in
            self?.requestFiltersEnded(outcome, pending)
        }
        if !pending.done, !pending.ended {
            pausedForFilters = true
            setReadsPaused(true)
        }
    }

    private func requestFiltersEnded(_ outcome: FilterRun.Outcome, _ pending: PendingRequest) {
        guard case .filtering(let current) = state, current === pending, let context else { return }
        pending.done = true
        if pausedForFilters {
            pausedForFilters = false
            setReadsPaused(false)
        }
        switch outcome {
        case .proceed:
            startAction(pending.route, target: pending.target, pending: pending, context: context)
        case .respond(let response):
            state = .local(.filtered(response))
            if pending.ended { respondNow(close: false) }
        case .fail(let failure):
            state = .local(.failure(failure))
            if pending.ended { respondNow(close: false) }
        }
    }

    /// Starts the route's action: a local answer, a handler plugin, or the upstream. With
    /// filters, the request is the one they edited, and body that arrived meanwhile follows.
    private func startAction(_ route: CompiledRoute, target: RequestTarget, pending: PendingRequest?, context: ChannelHandlerContext) {
        let ended = pending?.ended ?? false
        if let exchange = filters?.exchange, !exchange.requestBodyTransforms.isEmpty, let head = request?.head,
            Self.hasBody(head, target) || exchange.requestBodyReplaced
        {
            requestTransforms = exchange.requestBodyTransforms
        }
        switch route.action {
        case .respond(let fixed):
            state = .local(.fixed(fixed))
            if ended { respondNow(close: false) }
        case .plugin(let plugin):
            var body = filters?.exchange.bufferedRequestBody ?? context.channel.allocator.buffer(capacity: 0)
            for var part in pending?.heldBody ?? [] { body.writeBuffer(&part) }
            state = .local(.plugin(plugin, body: body))
            if ended { respondNow(close: false) }
        case .proxy(let group):
            let endpoint = group.pick()
            request?.target = endpoint.targetDescription
            guard let original = request?.head else { return }
            var head = original
            var path = String(target.path)
            var replacement: ByteBuffer?
            if let exchange = filters?.exchange {
                head = HTTPRequestHead(version: original.version, method: exchange.method, uri: exchange.uri, headers: exchange.requestHeaders)
                path = exchange.uri
                if exchange.requestBodyReplaced || exchange.bufferedRequestBody != nil {
                    // The body is known whole: send it (through the transforms) with its length.
                    var whole = exchange.bufferedRequestBody ?? context.channel.allocator.buffer(capacity: 0)
                    if !requestTransforms.isEmpty {
                        do {
                            whole = try Self.transformWhole(whole, requestTransforms, allocator: context.channel.allocator)
                        } catch {
                            requestTransforms = []
                            request?.keepAlive = false
                            state = .local(.failure(.bodyTransform(error, route: request?.route)))
                            if ended { respondNow(close: true) }
                            return
                        }
                        requestTransforms = []
                    }
                    replacement = whole
                    head.headers.remove(name: "transfer-encoding")
                    head.headers.replaceOrAdd(name: "content-length", value: String(whole.readableBytes))
                }
            }
            var upstreamHead = ProxyHeaders.upstreamRequest(
                head, path: path, clientAddress: connection.clientAddress, scheme: connection.scheme,
                host: target.host.map(String.init), endpoint: endpoint, via: isHTTP2 ? ProxyHeaders.via2 : ProxyHeaders.via(for: head.version)
            )
            if !requestTransforms.isEmpty {
                // The transforms change the length: the body goes chunked.
                upstreamHead.headers.remove(name: "content-length")
                upstreamHead.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            }
            let exchange = ProxyExchange(
                handler: self, endpoint: endpoint, route: route.name, head: upstreamHead, group: group, retry: filters?.exchange.retryPolicy)
            state = .proxying(exchange)
            if let timeout = filters?.exchange.upstreamTimeout { armExchangeTimer(timeout, context: context) }
            exchange.start()
            if let replacement {
                if replacement.readableBytes > 0 { exchange.forwardBody(replacement) }
                exchange.forwardEnd(nil)
                dropsRequestBody = true
            } else if let pending {
                for part in pending.heldBody {
                    guard forwardRequestBody(part, to: exchange) else { return }
                }
                if ended { forwardRequestEnd(pending.trailers, to: exchange) }
            }
            exchange.flushUpstream()
        }
    }

    private func armExchangeTimer(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        if exchangeTimer == nil {
            exchangeTimer = LazyTimer(eventLoop: context.eventLoop) { [weak self] in
                guard let self, case .proxying(let exchange) = self.state else { return }
                exchange.exchangeTimedOut()
            }
        }
        exchangeTimer?.arm(in: timeout)
    }

    private func receivedBody(_ body: ByteBuffer, context: ChannelHandlerContext) {
        guard var info = request else { return }
        info.bodyBytes += Int64(body.readableBytes)
        request = info
        if info.bodyBytes > connection.settings.maxRequestBodyBytes {
            bodyTooLarge()
            return
        }
        switch state {
        case .local(.plugin(let plugin, var collected)):
            state = .idle  // avoid a copy while appending
            var body = body
            collected.writeBuffer(&body)
            state = .local(.plugin(plugin, body: collected))
        case .proxying(let exchange):
            if !dropsRequestBody { forwardRequestBody(body, to: exchange) }
        case .filtering(let pending):
            guard let filters, !pending.done else { break }
            if filters.chain.buffersRequestBody {
                var body = body
                let limit = filters.chain.maxRequestBufferBytes
                if (filters.exchange.bufferedRequestBody?.readableBytes ?? 0) + body.readableBytes > limit {
                    let label = filters.chain.requestStages.first { $0.filter.requirements.bufferRequestBody }?.label ?? "?"
                    request?.keepAlive = false
                    state = .local(.failure(GatewayFailure(.filterBodyTooLarge(filter: label, limit: limit), route: request?.route)))
                    respondNow(close: true)
                    return
                }
                if filters.exchange.bufferedRequestBody == nil {
                    filters.exchange.bufferedRequestBody = body
                } else {
                    filters.exchange.bufferedRequestBody!.writeBuffer(&body)
                }
            } else {
                pending.heldBody.append(body)
            }
        case .local, .idle, .discarding, .closed:
            break
        }
    }

    private func receivedEnd(_ trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        request?.ended = true
        switch state {
        case .local:
            respondNow(close: false)
        case .proxying(let exchange):
            if !dropsRequestBody { forwardRequestEnd(trailers, to: exchange) }
        case .filtering(let pending):
            pending.ended = true
            pending.trailers = trailers
            if let filters, filters.chain.buffersRequestBody, filters.exchange.bufferedRequestBody == nil {
                filters.exchange.bufferedRequestBody = context.channel.allocator.buffer(capacity: 0)
            }
            runRequestFilters(pending)
        case .discarding:
            state = .closed
            context.close(promise: nil)
        case .idle, .closed:
            break
        }
    }

    /// Forwards a request body chunk to the upstream through the request transforms; false when
    /// a transform failed (the request is then answered or cut).
    @discardableResult
    private func forwardRequestBody(_ body: ByteBuffer, to exchange: ProxyExchange) -> Bool {
        guard !requestTransforms.isEmpty, let context else {
            exchange.forwardBody(body)
            return true
        }
        var out = body
        do {
            for transform in requestTransforms { out = try transform.transform(out, allocator: context.channel.allocator) }
        } catch {
            requestTransformFailed(error, exchange: exchange)
            return false
        }
        if out.readableBytes > 0 { exchange.forwardBody(out) }
        return true
    }

    /// Ends the request body to the upstream, after what the request transforms held back.
    private func forwardRequestEnd(_ trailers: HTTPHeaders?, to exchange: ProxyExchange) {
        if !requestTransforms.isEmpty, let context {
            do {
                try Self.finishTransforms(requestTransforms, allocator: context.channel.allocator) { tail in
                    if tail.readableBytes > 0 { exchange.forwardBody(tail) }
                }
            } catch {
                requestTransformFailed(error, exchange: exchange)
                return
            }
        }
        exchange.forwardEnd(trailers)
    }

    /// A request body transform failed on the way to the upstream: the upstream exchange is
    /// dropped; the client gets the failure (500 or 503), or the connection is cut when the
    /// response had started.
    private func requestTransformFailed(_ error: any Error, exchange: ProxyExchange) {
        requestTransforms = []
        exchange.abort()
        let failure = GatewayFailure.bodyTransform(error, route: request?.route)
        if exchange.responseStarted {
            logBodyFailure(failure)
            finishAbruptly(error: failure.code)
            return
        }
        request?.keepAlive = false
        state = .local(.failure(failure))
        respondNow(close: true)
    }

    /// Logs a body transform's failure that cuts the connection (no error answer carries it).
    private func logBodyFailure(_ failure: GatewayFailure) {
        connection.core.logger.warning(
            "\(failure.message) mid-body; the connection is cut\(failure.detail.map { ": \($0)" } ?? "")",
            metadata: ["route": .string(failure.route ?? request?.route ?? "-")])
    }

    /// Runs `finish` of every request transform, passing each tail through the transforms after
    /// it, and hands each result to `write`, in order (as `exchangeFinished` does for responses).
    static func finishTransforms(_ transforms: [any RequestBodyTransform], allocator: ByteBufferAllocator, write: (ByteBuffer) -> Void) throws {
        for (index, transform) in transforms.enumerated() {
            var tail = try transform.finish(allocator: allocator)
            for later in transforms[(index + 1)...] { tail = try later.transform(tail, allocator: allocator) }
            write(tail)
        }
    }

    /// Whether a request has a body for the request transforms to see: `transfer-encoding`, or a
    /// `content-length` above 0 (HTTP/2 requests with a body get one or the other from NIO's
    /// translation, except GET, HEAD, DELETE, CONNECT and TRACE without `content-length`).
    static func hasBody(_ head: HTTPRequestHead, _ target: RequestTarget) -> Bool {
        if let length = target.contentLength { return length > 0 }
        return head.headers.contains(name: "transfer-encoding")
    }

    private func bodyTooLarge() {
        let failure = GatewayFailure(.bodyTooLarge(limit: connection.settings.maxRequestBodyBytes), route: request?.route, target: request?.target)
        switch state {
        case .proxying(let exchange):
            exchange.abort()
            if exchange.responseStarted {
                finishAbruptly(error: failure.code)
                return
            }
        default: break
        }
        request?.keepAlive = false
        state = .local(.failure(failure))
        respondNow(close: true)
    }

    /// Answers a `.local` state: a failure, a fixed response or a plugin.
    private func respondNow(close: Bool) {
        guard case .local(let answer) = state else { return }
        switch answer {
        case .failure(let failure):
            writeFailure(failure, close: close)
        case .fixed(let fixed):
            var head = HTTPResponseHead(version: responseVersion, status: fixed.status, headers: fixed.headers)
            head.headers.replaceOrAdd(name: "content-length", value: String(fixed.body.readableBytes))
            writeComplete(head: head, body: fixed.body, close: close)
        case .filtered(let response):
            var head = HTTPResponseHead(version: responseVersion, status: response.status, headers: response.headers)
            head.headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
            writeComplete(head: head, body: response.body, close: close, origin: .filter)
        case .plugin(let plugin, var body):
            state = .idle
            if !requestTransforms.isEmpty, let context {
                // The handler gets the collected body through the request transforms.
                do {
                    body = try Self.transformWhole(body, requestTransforms, allocator: context.channel.allocator)
                } catch {
                    requestTransforms = []
                    writeFailure(.bodyTransform(error, route: request?.route), close: close)
                    return
                }
                requestTransforms = []
            }
            runPlugin(plugin, body: body)
        }
    }

    private var responseVersion: HTTPVersion {
        isHTTP2 ? .http2 : (request?.head.version ?? .http1_1)
    }

    private func runPlugin(_ route: PluginRoute, body: ByteBuffer) {
        guard let context else { return }
        let loop = context.eventLoop
        let input = Array(body.readableBytesView)
        let handler = NIOLoopBound(self, eventLoop: loop)
        let promise = loop.makePromise(of: PluginResult.self)
        promise.completeWithTask {
            try await route.plugin.execute(route.export, input: input)
        }
        promise.futureResult.whenComplete { result in
            let this = handler.value
            switch result {
            case .success(let output):
                var head = HTTPResponseHead(version: this.responseVersion, status: .ok, headers: route.headers)
                guard output.success else {
                    let why = output.errors.isEmpty ? "the plugin reported an error" : output.errors.joined(separator: "; ")
                    this.writeFailure(GatewayFailure(.pluginFailed(why), route: this.request?.route), close: false)
                    return
                }
                var buffer = ByteBuffer()
                buffer.writeBytes(output.output)
                head.headers.replaceOrAdd(name: "content-length", value: String(buffer.readableBytes))
                this.writeComplete(head: head, body: buffer, close: false)
            case .failure(let error):
                let kind: GatewayFailure.Kind = PluginFailureClassifier.isUnavailable(error)
                    ? .pluginUnavailable(String(describing: error)) : .pluginFailed(String(describing: error))
                this.writeFailure(GatewayFailure(kind, route: this.request?.route), close: false)
            }
        }
    }

    // MARK: writing responses

    func writeFailure(_ failure: GatewayFailure, close: Bool) {
        var failure = failure
        failure.route = failure.route ?? request?.route
        failure.target = failure.target ?? request?.target
        request?.error = failure.code
        let mustClose = close || !(request?.ended ?? true)
        let (head, body) = failure.response(acceptJSON: request?.acceptJSON ?? false, version: responseVersion, close: mustClose)
        if failure.status.code >= 500 || failure.detail != nil {
            connection.core.logger.warning(
                "\(failure.message)\(failure.detail.map { ": \($0)" } ?? "")",
                metadata: ["route": .string(failure.route ?? "-"), "status": .stringConvertible(failure.status.code)]
            )
        }
        writeComplete(head: head, body: body, close: mustClose, origin: .gatewayError)
    }

    /// Writes a whole response and finishes the request, after the response filters when the
    /// route has any.
    private func writeComplete(head: HTTPResponseHead, body: ByteBuffer, close: Bool, origin: ResponseOrigin = .local) {
        guard let context else { return }
        if let filters, !responsePhaseStarted, !filters.chain.responseStages.isEmpty {
            responsePhaseStarted = true
            let exchange = filters.exchange
            exchange.status = head.status
            exchange.responseHeaders = head.headers
            exchange.bufferedResponseBody = body
            exchange.responseBodyReplaced = false
            exchange.responseOrigin = origin
            runWholeResponsePhase(filters, close: close)
            return
        }
        var head = head
        let closing = close || closeAfterResponse || !(request?.keepAlive ?? false) || !(request?.ended ?? true)
        if closing, !isHTTP2 { head.headers.replaceOrAdd(name: "connection", value: "close") }
        request?.status = head.status.code
        request?.responseBytes = Int64(body.readableBytes)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0, request?.head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        finishResponse(context: context, close: closing)
    }

    /// Runs the response filters on a whole response already in the exchange, then writes what
    /// they leave (or their answer, or the failure).
    private func runWholeResponsePhase(_ filters: FilterRun, close: Bool) {
        filters.runResponsePhase { [weak self] outcome in
            guard let self else { return }
            switch outcome {
            case .proceed:
                self.writeFiltered(close: close)
            case .respond(let response):
                var head = HTTPResponseHead(version: self.responseVersion, status: response.status, headers: response.headers)
                head.headers.replaceOrAdd(name: "content-length", value: String(response.body.readableBytes))
                self.writeComplete(head: head, body: response.body, close: close)
            case .fail(let failure):
                self.writeFailure(failure, close: close)
            }
        }
    }

    /// Writes the whole response the response filters left in the exchange (body transforms
    /// applied at once).
    private func writeFiltered(close: Bool) {
        guard let filters, let context else { return }
        let exchange = filters.exchange
        var body = exchange.bufferedResponseBody ?? context.channel.allocator.buffer(capacity: 0)
        var headers = exchange.responseHeaders
        if !exchange.responseBodyTransforms.isEmpty {
            do {
                body = try Self.transformWhole(body, exchange.responseBodyTransforms, allocator: context.channel.allocator)
            } catch {
                writeFailure(.bodyTransform(error, route: request?.route), close: close)
                return
            }
        }
        headers.remove(name: "transfer-encoding")
        headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        writeComplete(head: HTTPResponseHead(version: responseVersion, status: exchange.status, headers: headers), body: body, close: close)
    }

    /// A whole body through every transform in order, each with its tail.
    static func transformWhole(_ body: ByteBuffer, _ transforms: [any BodyTransform], allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var out = body
        for transform in transforms {
            var next = try transform.transform(out, allocator: allocator)
            var tail = try transform.finish(allocator: allocator)
            next.writeBuffer(&tail)
            out = next
        }
        return out
    }

    /// Ends the response, logs it, and leaves the connection ready for the next request or closing.
    func finishResponse(context: ChannelHandlerContext, close requested: Bool) {
        let close = requested || closeAfterResponse
        let ended = request?.ended ?? true
        logAccess()
        request = nil
        endFilters()
        // The state changes before `.end` is written: writing it lets the pipelining handler
        // deliver the next request at once, re-entrantly.
        if close {
            state = ended || isHTTP2 ? .closed : .discarding
        } else {
            state = .idle
            connection.connectionGuard?.responseFinished()
        }
        setReadsPaused(false)
        if close {
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            drainPipeline()
        }
    }

    /// The response started but cannot finish: cut the connection (HTTP/1) or reset the stream.
    func finishAbruptly(error: String) {
        request?.error = error
        logAccess()
        request = nil
        endFilters()
        state = .closed
        context?.close(promise: nil)
    }

    /// Ends the request's filter run (every filter's `onFinish`) and resets what it changed.
    private func endFilters() {
        guard let run = filters else { return }
        filters = nil
        run.finish()
        responseMode = .streaming
        responsePhaseStarted = false
        dropsRequestBody = false
        requestTransforms = []
        if pausedForFilters {
            pausedForFilters = false
            setReadsPaused(false)
        }
        exchangeTimer?.disarm()
    }

    private func logAccess() {
        guard let info = request else { return }
        connection.pools.counters.requests.add(1, ordering: .relaxed)
        guard let access = connection.core.accessLogger else { return }
        let now = NIODeadline.now()
        var metadata: Logger.Metadata = [
            "method": .string(info.head.method.rawValue),
            "path": .string(info.head.uri),
            "status": .stringConvertible(info.status),
            "route": .string(info.route ?? "-"),
            "upstream": .string(info.target ?? "-"),
            "bytes_in": .stringConvertible(info.bodyBytes),
            "bytes_out": .stringConvertible(info.responseBytes),
            "duration_ms": .string(milliseconds(now - info.start)),
            "client": .string(connection.clientAddress),
            "listener": .string(connection.listener),
            "protocol": .string(connection.protocolName),
        ]
        if let upstreamHead = info.upstreamHeaderTime {
            metadata["upstream_ms"] = .string(milliseconds(upstreamHead - info.start))
        }
        if let error = info.error { metadata["error"] = .string(error) }
        access.info("\(info.head.method.rawValue) \(info.head.uri) \(info.status)", metadata: metadata)
    }

    private func milliseconds(_ amount: TimeAmount) -> String {
        let micros = amount.nanoseconds / 1000
        return "\(micros / 1000).\(String(format: "%03d", Int(micros % 1000)))"
    }

    // MARK: exchange callbacks

    func exchangeResponseHead(_ head: HTTPResponseHead) {
        guard let context else { return }
        request?.upstreamHeaderTime = .now()
        request?.status = head.status.code
        var out = ProxyHeaders.downstreamResponse(head, version: responseVersion)
        if let filters, !filters.chain.responseStages.isEmpty {
            responsePhaseStarted = true
            let exchange = filters.exchange
            exchange.status = out.status
            exchange.responseHeaders = out.headers
            exchange.responseOrigin = .upstream
            if filters.chain.buffersResponseBody {
                responseMode = .buffering(context.channel.allocator.buffer(capacity: 0))
            } else {
                responseMode = .waiting(held: [], ended: false)
                runStreamingResponseFilters()
            }
            return
        }
        if !(request?.keepAlive ?? true) || closeAfterResponse, !isHTTP2 { out.headers.replaceOrAdd(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(out)), promise: nil)
    }

    /// Runs the response filters on a streamed response's head; the body follows once they pass.
    private func runStreamingResponseFilters() {
        guard let filters else { return }
        // Filters that decide at once run inside the upstream's read, whose read-complete flushes
        // the head together with the first body bytes; only a later decision flushes by itself
        // (a flush of the head alone costs a write call: 14-21 % of a small request's time).
        var inline = true
        defer { inline = false }
        filters.runResponsePhase { [weak self] outcome in
            guard let self, let context = self.context, case .waiting(let held, let ended) = self.responseMode else { return }
            let exchange = filters.exchange
            switch outcome {
            case .proceed where exchange.responseBodyReplaced:
                var body = exchange.bufferedResponseBody ?? context.channel.allocator.buffer(capacity: 0)
                if !exchange.responseBodyTransforms.isEmpty {
                    // The replacement is the body the client gets: through the transforms, whole.
                    do {
                        body = try Self.transformWhole(body, exchange.responseBodyTransforms, allocator: context.channel.allocator)
                    } catch {
                        if case .proxying(let proxy) = self.state { proxy.abort() }
                        self.responseMode = .streaming
                        self.writeFailure(.bodyTransform(error, route: self.request?.route), close: true)
                        return
                    }
                }
                self.responseMode = .dropping
                self.writeStreamedHead(status: exchange.status, headers: exchange.responseHeaders, length: body.readableBytes)
                if body.readableBytes > 0 { _ = self.writeResponseChunk(body) }
            case .proceed:
                self.responseMode = .streaming
                self.writeStreamedHead(status: exchange.status, headers: exchange.responseHeaders, length: nil)
                for part in held { _ = self.exchangeResponseBody(part) }
            case .respond(let response):
                self.responseMode = .dropping
                self.writeStreamedHead(status: response.status, headers: response.headers, length: response.body.readableBytes)
                if response.body.readableBytes > 0 { _ = self.writeResponseChunk(response.body) }
            case .fail(let failure):
                // Nothing went to the client yet: answer with the failure instead.
                if case .proxying(let proxy) = self.state { proxy.abort() }
                self.responseMode = .streaming
                self.writeFailure(failure, close: true)
                return
            }
            if !inline { context.flush() }
            if case .proxying(let proxy) = self.state { proxy.downstreamWritabilityChanged(context.channel.isWritable) }
            if ended { self.exchangeFinished() }
        }
    }

    /// Writes a response head from filters: with `length`, a content-length; with transforms, none.
    private func writeStreamedHead(status: HTTPResponseStatus, headers: HTTPHeaders, length: Int?) {
        guard let context else { return }
        var headers = headers
        if let length {
            headers.remove(name: "transfer-encoding")
            headers.replaceOrAdd(name: "content-length", value: String(length))
        } else if let filters, !filters.exchange.responseBodyTransforms.isEmpty {
            headers.remove(name: "content-length")
        }
        if !(request?.keepAlive ?? true) || closeAfterResponse, !isHTTP2 { headers.replaceOrAdd(name: "connection", value: "close") }
        request?.status = status.code
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: responseVersion, status: status, headers: headers))), promise: nil)
    }

    /// Writes body bytes to the client; returns whether the client can take more now.
    private func writeResponseChunk(_ body: ByteBuffer) -> Bool {
        guard let context else { return true }
        request?.responseBytes += Int64(body.readableBytes)
        if body.readableBytes > 0, request?.head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        return context.channel.isWritable
    }

    func exchangeResponseBody(_ body: ByteBuffer) -> Bool {
        switch responseMode {
        case .streaming:
            guard let transforms = filters?.exchange.responseBodyTransforms, !transforms.isEmpty, let context else {
                return writeResponseChunk(body)
            }
            var out = body
            do {
                for transform in transforms { out = try transform.transform(out, allocator: context.channel.allocator) }
            } catch {
                if case .proxying(let proxy) = state { proxy.abort() }
                let failure = GatewayFailure.bodyTransform(error, route: request?.route)
                logBodyFailure(failure)
                // What went out before the failure reaches the client; then the body is cut.
                context.flush()
                finishAbruptly(error: failure.code)
                return true
            }
            return writeResponseChunk(out)
        case .buffering(var collected):
            guard let filters else { return true }
            let limit = filters.chain.maxResponseBufferBytes
            if collected.readableBytes + body.readableBytes > limit {
                if let skipped = filters.chain.skippableResponseBuffering {
                    // Every filter that wanted the body whole is fail_open: skip them, stream the
                    // response through the others, starting with what was collected.
                    filters.chain.logger.warning(
                        "the response body is larger than the filters buffer; skipping them (fail_open)",
                        metadata: ["limit": "\(limit)", "filters": "\(skipped.map(\.label).joined(separator: ", "))", "route": "\(request?.route ?? "-")"])
                    filters.skipsResponseBuffering = true
                    responseMode = .waiting(held: [collected, body], ended: false)
                    runStreamingResponseFilters()
                    if case .streaming = responseMode { return context?.channel.isWritable ?? true }
                    return false
                }
                let label = filters.chain.responseStages.first { $0.filter.requirements.bufferResponseBody }?.label ?? "?"
                if case .proxying(let proxy) = state { proxy.abort() }
                responseMode = .streaming
                writeFailure(GatewayFailure(.filterFailed(filter: label, "the response body is larger than the \(limit) bytes the filter buffers")), close: true)
                return true
            }
            responseMode = .streaming  // avoid a copy while appending
            var body = body
            collected.writeBuffer(&body)
            responseMode = .buffering(collected)
            return true
        case .waiting(var held, let ended):
            held.append(body)
            responseMode = .waiting(held: held, ended: ended)
            return false
        case .dropping:
            return true
        }
    }

    func exchangeFlush() {
        context?.flush()
    }

    func exchangeFinished() {
        guard let context else { return }
        let close = !(request?.keepAlive ?? false) || !(request?.ended ?? true)
        switch responseMode {
        case .buffering(let body):
            // The whole upstream response is here: the filters see it, then it goes out at once.
            guard let filters else { return }
            responseMode = .streaming
            let exchange = filters.exchange
            exchange.bufferedResponseBody = body
            exchange.responseBodyReplaced = false
            runWholeResponsePhase(filters, close: close)
            return
        case .waiting(let held, _):
            responseMode = .waiting(held: held, ended: true)
            return
        case .streaming:
            if let transforms = filters?.exchange.responseBodyTransforms, !transforms.isEmpty {
                do {
                    for (index, transform) in transforms.enumerated() {
                        var tail = try transform.finish(allocator: context.channel.allocator)
                        for later in transforms[(index + 1)...] { tail = try later.transform(tail, allocator: context.channel.allocator) }
                        _ = writeResponseChunk(tail)
                    }
                } catch {
                    let failure = GatewayFailure.bodyTransform(error, route: request?.route)
                    logBodyFailure(failure)
                    context.flush()
                    finishAbruptly(error: failure.code)
                    return
                }
            }
        case .dropping:
            break
        }
        finishResponse(context: context, close: close)
    }

    func exchangeFailedBeforeResponse(_ failure: GatewayFailure) {
        writeFailure(failure, close: false)
    }

    // MARK: back-pressure

    func setReadsPaused(_ paused: Bool) {
        readsPaused = paused
        updateReads()
    }

    private func updateReads() {
        if !readsPaused, !pipelineHoldsReads, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused || pipelineHoldsReads {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state {
            exchange.downstreamWritabilityChanged(context.channel.isWritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state { exchange.flushUpstream() }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state {
            exchange.abort()
            request?.error = "client_closed"
            logAccess()
            request = nil
        }
        endFilters()
        state = .closed
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError {
            let kind: GatewayFailure.Kind = parserError == .headerOverflow ? .headersTooLarge : .badRequest(RequestValidation.describe(parserError))
            switch state {
            case .idle, .local, .filtering:
                if request == nil {
                    request = RequestInfo(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "-"), start: .now(), keepAlive: false)
                }
                request?.keepAlive = false
                request?.ended = true
                state = .local(.failure(GatewayFailure(kind)))
                respondNow(close: true)
            case .proxying(let exchange):
                exchange.abort()
                if exchange.responseStarted {
                    finishAbruptly(error: "bad_request")
                } else {
                    request?.keepAlive = false
                    request?.ended = true
                    writeFailure(GatewayFailure(kind), close: true)
                }
            case .discarding, .closed:
                context.close(promise: nil)
            }
            return
        }
        if case .proxying(let exchange) = state { exchange.abort() }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !isHTTP2 {
            // Graceful shutdown: close now if idle, else after the response in flight.
            if case .idle = state, pipelined.isEmpty {
                state = .closed
                context.close(promise: nil)
            } else {
                closeAfterResponse = true
                pipelined.removeAll()
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Sorts plugin errors into "the plugin is unavailable" (503) and "the plugin failed" (500).
enum PluginFailureClassifier {
    static func isUnavailable(_ error: any Error) -> Bool {
        guard let error = error as? PluginError else { return false }
        return error.code == .busy || error.code == .limitExceeded || error.code == .unloaded
    }
}
