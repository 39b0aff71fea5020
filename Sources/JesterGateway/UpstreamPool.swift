import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The upstream connection pools of one event loop. Every downstream connection on that loop
/// borrows from them, so a request and its upstream connection never change threads.
///
/// Used only on `eventLoop`.
final class LoopPools: @unchecked Sendable {  // confined to `eventLoop`; checked in debug builds
    let eventLoop: any EventLoop
    private var pools: [UpstreamEndpoint.Key: EndpointPool] = [:]
    /// This loop's traffic counters: each loop writes its own, so no cache line bounces between cores.
    let counters: LoopCounters

    init(eventLoop: any EventLoop, statistics: GatewayStatistics) {
        self.eventLoop = eventLoop
        counters = statistics.makeStripe()
    }

    func pool(for endpoint: UpstreamEndpoint) -> EndpointPool {
        eventLoop.assertInEventLoop()
        if let pool = pools[endpoint.key] { return pool }
        let pool = EndpointPool(eventLoop: eventLoop, counters: counters)
        pools[endpoint.key] = pool
        return pool
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        eventLoop.assertInEventLoop()
        for pool in pools.values { pool.closeIdle() }
        pools.removeAll()
    }
}

/// Finds the ``LoopPools`` of an event loop.
final class PoolRegistry: Sendable {
    private let pools = NIOLockedValueBox<[ObjectIdentifier: LoopPools]>([:])
    let statistics: GatewayStatistics

    init(statistics: GatewayStatistics) { self.statistics = statistics }

    func pools(for eventLoop: any EventLoop) -> LoopPools {
        let id = ObjectIdentifier(eventLoop)
        return pools.withLockedValue { pools in
            if let existing = pools[id] { return existing }
            let created = LoopPools(eventLoop: eventLoop, statistics: statistics)
            pools[id] = created
            return created
        }
    }

    func closeAll() {
        for loopPools in pools.withLockedValue({ Array($0.values) }) {
            loopPools.eventLoop.execute { loopPools.closeAll() }
        }
    }
}

/// Idle keep-alive connections to one target on one event loop, most recently used first.
final class EndpointPool: @unchecked Sendable {  // confined to `eventLoop`
    let eventLoop: any EventLoop
    let counters: LoopCounters
    private var idle: [UpstreamConnection] = []

    init(eventLoop: any EventLoop, counters: LoopCounters) {
        self.eventLoop = eventLoop
        self.counters = counters
    }

    /// The most recently used open idle connection, if any.
    func takeIdle() -> UpstreamConnection? {
        while let connection = idle.popLast() {
            connection.idleTimer.disarm()
            if connection.channel.isActive {
                connection.reused = true
                return connection
            }
        }
        return nil
    }

    /// A new connection (when no idle one is open, or to retry after a stale pooled one).
    func connect(_ endpoint: UpstreamEndpoint) -> EventLoopFuture<UpstreamConnection> {
        counters.opened.add(1, ordering: .relaxed)
        let handler = UpstreamClientHandler()
        let target = endpoint.target
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(endpoint.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls = endpoint.tlsContext {
                        let sni = target.host.isIPAddress ? nil : target.host
                        try sync.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: sni))
                    }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(handler)
                }
            }
        return bootstrap.connect(host: target.host, port: target.port).map { channel in
            UpstreamConnection(channel: channel, handler: handler)
        }
    }

    /// Returns a connection whose exchange finished cleanly, or closes it when the pool is full.
    func release(_ connection: UpstreamConnection, endpoint: UpstreamEndpoint) {
        guard connection.channel.isActive, idle.count < endpoint.maxIdle else {
            connection.channel.close(promise: nil)
            return
        }
        idle.append(connection)
        connection.handler.onIdleClose = { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.remove(connection)
        }
        connection.onIdleTimeout = { [weak self, weak connection] in
            guard let self, let connection else { return }
            self.remove(connection)
            connection.channel.close(promise: nil)
        }
        connection.idleTimer.arm(in: endpoint.idleTimeout)
    }

    private func remove(_ connection: UpstreamConnection) {
        connection.idleTimer.disarm()
        idle.removeAll { $0 === connection }
    }

    func closeIdle() {
        for connection in idle {
            connection.idleTimer.stop()
            connection.channel.close(promise: nil)
        }
        idle.removeAll()
    }
}

/// One pooled HTTP/1.1 connection to an upstream target.
final class UpstreamConnection: @unchecked Sendable {  // confined to its channel's event loop
    let channel: any Channel
    let handler: UpstreamClientHandler
    /// Closes the connection when it sat idle in the pool for the upstream's `idle_timeout`.
    private(set) lazy var idleTimer = LazyTimer(eventLoop: channel.eventLoop) { [weak self] in self?.onIdleTimeout?() }
    var onIdleTimeout: (() -> Void)?
    /// Whether this connection served an earlier request.
    var reused = false

    init(channel: any Channel, handler: UpstreamClientHandler) {
        self.channel = channel
        self.handler = handler
        channel.closeFuture.whenComplete { [weak self] _ in self?.idleTimer.stop() }
    }
}

/// What the upstream side of an exchange reports to the downstream side.
protocol UpstreamDelegate: AnyObject {
    func upstreamResponseHead(_ head: HTTPResponseHead)
    func upstreamResponseBody(_ body: ByteBuffer)
    func upstreamResponseEnd(_ trailers: HTTPHeaders?)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(_ writable: Bool)
    func upstreamFailed(_ error: any Error)
    func upstreamClosed()
}

/// The handler on an upstream connection: hands response parts to the exchange that owns the
/// connection, and holds reads while the client cannot take more (back-pressure).
final class UpstreamClientHandler: ChannelDuplexHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var delegate: (any UpstreamDelegate)?
    /// Called when an idle (pooled) connection closes or gets unexpected data.
    var onIdleClose: (() -> Void)?
    private var readsPaused = false
    private var pendingRead = false
    private(set) var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let delegate else {
            // Data on an idle connection: it cannot be reused.
            onIdleClose?()
            onIdleClose = nil
            context.close(promise: nil)
            return
        }
        switch part {
        case .head(let head): delegate.upstreamResponseHead(head)
        case .body(let body): delegate.upstreamResponseBody(body)
        case .end(let trailers): delegate.upstreamResponseEnd(trailers)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let delegate {
            delegate.upstreamFailed(error)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let delegate {
            delegate.upstreamClosed()
        } else {
            onIdleClose?()
            onIdleClose = nil
        }
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// Stops or resumes reading from the upstream.
    func setReadsPaused(_ paused: Bool) {
        readsPaused = paused
        if !paused, pendingRead, let context {
            pendingRead = false
            context.read()
        }
    }

    /// Attaches an exchange; returns the handler to a clean state.
    func attach(_ delegate: any UpstreamDelegate) {
        self.delegate = delegate
        onIdleClose = nil
        setReadsPaused(false)
    }

    func detach() {
        delegate = nil
        setReadsPaused(false)
    }
}

/// One event loop's traffic counters.
final class LoopCounters: Sendable {
    let requests = Atomic<Int>(0)
    let upstream = Atomic<Int>(0)
    let reused = Atomic<Int>(0)
    let opened = Atomic<Int>(0)
    /// Keeps two loops' counters off one cache line.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

    func upstreamRequest(reused wasReused: Bool) {
        upstream.add(1, ordering: .relaxed)
        if wasReused { reused.add(1, ordering: .relaxed) }
    }
}

/// Counters about the gateway's traffic, readable at any time (sums over the event loops).
public final class GatewayStatistics: Sendable {
    private let stripes = NIOLockedValueBox<[LoopCounters]>([])

    init() {}

    func makeStripe() -> LoopCounters {
        let counters = LoopCounters()
        stripes.withLockedValue { $0.append(counters) }
        return counters
    }

    private func sum(_ value: (LoopCounters) -> Int) -> Int {
        stripes.withLockedValue { $0.reduce(0) { $0 + value($1) } }
    }

    /// Requests answered (by any route or error).
    public var requests: Int { sum { $0.requests.load(ordering: .relaxed) } }
    /// Requests sent to an upstream.
    public var upstreamRequests: Int { sum { $0.upstream.load(ordering: .relaxed) } }
    /// Upstream requests sent on a pooled (reused) connection.
    public var reusedUpstreamRequests: Int { sum { $0.reused.load(ordering: .relaxed) } }
    /// Upstream connections opened.
    public var upstreamConnectionsOpened: Int { sum { $0.opened.load(ordering: .relaxed) } }
}

extension String {
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
