import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Fetches a JSON Web Key Set over HTTP(S): one `GET` on a new connection, the body collected up to
/// a limit, only a 200 accepted, no redirects followed.
struct JWKSFetcher: Sendable {
    /// Where the key set is.
    struct Location: Sendable, Equatable {
        var tls: Bool
        var host: String
        var port: Int
        /// The path and query (`/.well-known/jwks.json`).
        var target: String

        /// Parses `http://host[:port]/path` or `https://…`; nil with anything else.
        init?(_ url: String) {
            let rest: Substring
            if url.hasPrefix("https://") {
                tls = true
                rest = url.dropFirst(8)
            } else if url.hasPrefix("http://") {
                tls = false
                rest = url.dropFirst(7)
            } else {
                return nil
            }
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            let target = rest[authorityEnd...]
            self.target = target.isEmpty ? "/" : (target.hasPrefix("/") ? String(target) : "/" + target)
            guard !authority.isEmpty, !authority.contains("@"), !self.target.contains("#"), !self.target.contains(" ") else { return nil }
            var host = authority
            port = tls ? 443 : 80
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { return nil }
                host = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":"), let port = Int(after.dropFirst()), (1...65535).contains(port) else { return nil }
                    self.port = port
                }
            } else if let colon = authority.lastIndex(of: ":") {
                guard let port = Int(authority[authority.index(after: colon)...]), (1...65535).contains(port) else { return nil }
                self.port = port
                host = authority[..<colon]
            }
            guard !host.isEmpty else { return nil }
            self.host = String(host)
        }

        var hostHeader: String {
            let name = host.contains(":") ? "[\(host)]" : host
            return port == (tls ? 443 : 80) ? name : "\(name):\(port)"
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let location: Location
    let tlsContext: NIOSSLContext?
    let timeout: TimeAmount
    let maxBytes: Int

    init(location: Location, timeout: TimeAmount, maxBytes: Int = 1 << 20) throws {
        self.location = location
        self.timeout = timeout
        self.maxBytes = maxBytes
        tlsContext = location.tls ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
    }

    /// The body of a 200 answer, or a failure saying what went wrong.
    func fetch(on loop: any EventLoop) -> EventLoopFuture<[UInt8]> {
        let promise = loop.makePromise(of: [UInt8].self)
        let location = location
        let tlsContext = tlsContext
        let maxBytes = maxBytes
        let timeoutTask = loop.scheduleTask(in: timeout) {
            promise.fail(Failure(description: "no answer from \(location.hostHeader) within \(timeout.nanoseconds / 1_000_000)ms"))
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tlsContext {
                        try sync.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: location.host.isIPAddress ? nil : location.host))
                    }
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(FetchHandler(location: location, maxBytes: maxBytes, promise: promise))
                }
            }
        bootstrap.connect(host: location.host, port: location.port).whenComplete { result in
            switch result {
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.fail(Failure(description: "cannot connect to \(location.hostHeader): \(error)"))
            }
        }
        promise.futureResult.whenComplete { _ in timeoutTask.cancel() }
        return promise.futureResult
    }
}

/// Sends the `GET` and collects the answer; confined to its channel's event loop.
private final class FetchHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let location: JWKSFetcher.Location
    let maxBytes: Int
    let promise: EventLoopPromise<[UInt8]>
    var body: [UInt8] = []
    var status: HTTPResponseStatus?

    init(location: JWKSFetcher.Location, maxBytes: Int, promise: EventLoopPromise<[UInt8]>) {
        self.location = location
        self.maxBytes = maxBytes
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: location.hostHeader)
        headers.add(name: "accept", value: "application/jwk-set+json, application/json")
        headers.add(name: "user-agent", value: "jester")
        headers.add(name: "connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: location.target, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
            if head.status != .ok {
                promise.fail(JWKSFetcher.Failure(description: "\(location.hostHeader) answered \(head.status.code) \(head.status.reasonPhrase)"))
            }
        case .body(let buffer):
            guard status == .ok else { return }
            guard body.count + buffer.readableBytes <= maxBytes else {
                promise.fail(JWKSFetcher.Failure(description: "the key set from \(location.hostHeader) is larger than \(maxBytes) bytes"))
                status = nil
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            if status == .ok { promise.succeed(body) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(JWKSFetcher.Failure(description: "\(location.hostHeader) closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(JWKSFetcher.Failure(description: "fetching from \(location.hostHeader) failed: \(error)"))
        context.close(promise: nil)
    }
}
