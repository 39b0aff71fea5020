import Crypto
import JesterConfig
import JesterManifest
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One request to the admin API, as ``AdminRoutes`` sees it: the body is never read.
struct AdminRequest: Sendable {
    var method: HTTPMethod
    /// The path without its query.
    var path: String
    /// The `Authorization` header, when sent.
    var authorization: String?
}

/// An answer of the admin API: always a complete body with a length, never cached.
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    var headers: [(name: String, value: String)] = []

    /// Plain text; a newline is added when missing, so that `curl` output ends cleanly.
    static func text(
        _ status: HTTPResponseStatus,
        _ body: String,
        headers: [(name: String, value: String)] = []
    ) -> AdminResponse {
        AdminResponse(
            status: status,
            contentType: "text/plain; charset=utf-8",
            body: body.hasSuffix("\n") ? body : body + "\n",
            headers: headers
        )
    }

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: value.serialized(pretty: true) + "\n")
    }
}

/// An answer now, computed on the event loop (everything but a reload: a few locks and counters),
/// or one that takes a task, so that `/healthz` and `/status` answer even while every thread of
/// Swift's concurrency pool is busy.
enum AdminAnswer: Sendable {
    case now(AdminResponse)
    case later(@Sendable () async -> AdminResponse)
}

/// What the admin API answers, and who may ask: the token check, the endpoints, 404 and 405.
/// The gateway supplies what only it knows as closures, so this stays testable on its own.
struct AdminRoutes: Sendable {
    /// The body of `GET /status`.
    let status: @Sendable () -> JSONValue
    /// Whether the gateway is serving (`GET /healthz` is 200) rather than shutting down (503).
    let serving: @Sendable () -> Bool
    /// `POST /reload`, when the gateway knows how to load its config again; `nil` makes it a 404.
    let reload: (@Sendable () async -> AdminResponse)?

    static let endpoints = "GET /status, GET /healthz, POST /reload"

    func respond(to request: AdminRequest, token: String?) -> AdminAnswer {
        if let token, !Self.authorized(request.authorization, token: token) {
            return .now(
                .text(
                    .unauthorized,
                    "401 unauthorized: send the admin token as Authorization: Bearer TOKEN ([admin] token in the config)",
                    headers: [("www-authenticate", "Bearer realm=\"jester admin\"")]
                )
            )
        }
        switch request.path {
        case "/status":
            guard request.method == .GET else { return .now(Self.methodNotAllowed(request, allow: "GET")) }
            return .now(.json(status()))
        case "/healthz":
            guard request.method == .GET else { return .now(Self.methodNotAllowed(request, allow: "GET")) }
            return .now(serving() ? .text(.ok, "ok") : .text(.serviceUnavailable, "shutting down"))
        case "/reload":
            guard let reload else {
                return .now(
                    .text(
                        .notFound,
                        "404 not found: this gateway cannot reload itself over the admin API (it was started without a way to read its config again, as `jester run` gives it)"
                    )
                )
            }
            guard request.method == .POST else { return .now(Self.methodNotAllowed(request, allow: "POST")) }
            return .later(reload)
        default:
            return .now(
                .text(
                    .notFound,
                    "404 not found: no admin endpoint \(request.path); the endpoints are \(Self.endpoints)"
                )
            )
        }
    }

    private static func methodNotAllowed(_ request: AdminRequest, allow: String) -> AdminResponse {
        .text(
            .methodNotAllowed,
            "405 method not allowed: \(request.path) takes \(allow), not \(request.method)",
            headers: [("allow", allow)]
        )
    }

    /// Whether `header` is `Bearer TOKEN` with the right token. The scheme is case-insensitive
    /// (RFC 9110); the tokens are compared through their SHA-256 digests in constant time, so
    /// neither their content nor their length shows in the time an answer takes.
    static func authorized(_ header: String?, token: String) -> Bool {
        guard let header else { return false }
        let trimmed = header.drop { $0 == " " }
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return false }
        var presented = trimmed.dropFirst(7)
        while presented.first == " " || presented.first == "\t" { presented = presented.dropFirst() }
        while presented.last == " " || presented.last == "\t" { presented = presented.dropLast() }
        let a = Array(SHA256.hash(data: Array(presented.utf8)))
        let b = Array(SHA256.hash(data: Array(token.utf8)))
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// The admin API's listening socket: plaintext HTTP/1.1, one request at a time per connection,
/// at most ``maxConnections`` connections. It is separate from the gateway's listeners so that
/// routes, filters and their limits never apply to it, and a reload that changes no `[admin]`
/// key leaves it alone.
final class AdminServer: Sendable {
    /// Open admin connections; more are closed at accept. Operators and scripts need few.
    static let maxConnections = 64
    /// How long an idle admin connection stays open.
    static let idleTimeout = TimeAmount.seconds(60)

    let channel: any Channel
    let connections: ConnectionRegistry
    private let settings: NIOLockedValueBox<AdminConfig>

    private init(channel: any Channel, connections: ConnectionRegistry, settings: NIOLockedValueBox<AdminConfig>) {
        self.channel = channel
        self.connections = connections
        self.settings = settings
    }

    /// The `[admin]` settings in force.
    var config: AdminConfig { settings.withLockedValue { $0 } }

    /// The address actually bound (the port is known here when the config asked for port 0).
    var localAddress: SocketAddress? { channel.localAddress }

    /// Takes a new token (or none) for the requests that follow, without rebinding.
    func update(_ config: AdminConfig) {
        settings.withLockedValue { $0 = config }
    }

    static func bind(
        _ config: AdminConfig,
        routes: AdminRoutes,
        group: any EventLoopGroup,
        logger: Logger
    ) async throws -> AdminServer {
        let registry = ConnectionRegistry(limit: maxConnections)
        let settings = NIOLockedValueBox(config)
        let idleTimeout = Self.idleTimeout
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard registry.admit(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(allTimeout: idleTimeout))
                    try sync.addHandler(IdleCloser())
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try sync.addHandler(AdminHandler(routes: routes, settings: settings, logger: logger))
                }
            }
        let channel: any Channel
        do {
            if let host = config.listen.host {
                channel = try await bootstrap.bind(host: host, port: config.listen.port).get()
            } else {
                do {
                    channel = try await bootstrap.bind(host: "::", port: config.listen.port).get()
                } catch {
                    // No IPv6 on this machine: every IPv4 address instead.
                    channel = try await bootstrap.bind(host: "0.0.0.0", port: config.listen.port).get()
                }
            }
        } catch {
            throw GatewayError.adminBindFailed(
                address: config.listen.description,
                location: config.location,
                reason: String(describing: error)
            )
        }
        return AdminServer(channel: channel, connections: registry, settings: settings)
    }

    /// Stops accepting; connections already open go on until drained.
    func stopAccepting() async {
        try? await channel.close()
    }
}

/// One admin connection's requests: reads a request (ignoring any body), answers it from
/// ``AdminRoutes`` (a reload in a task, the rest at once), writes the answer back.
final class AdminHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: AdminRoutes
    private let settings: NIOLockedValueBox<AdminConfig>
    private let logger: Logger
    private var head: HTTPRequestHead?

    init(routes: AdminRoutes, settings: NIOLockedValueBox<AdminConfig>, logger: Logger) {
        self.routes = routes
        self.settings = settings
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = String(
                head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            )
            let request = AdminRequest(
                method: head.method,
                path: path,
                authorization: head.headers["authorization"].first
            )
            let token = settings.withLockedValue { $0.token }
            let channel = context.channel
            let keepAlive = head.isKeepAlive
            let version = head.version
            switch routes.respond(to: request, token: token) {
            case .now(let response):
                Self.write(response, version: version, keepAlive: keepAlive, on: channel)
            case .later(let answer):
                let promise = context.eventLoop.makePromise(of: AdminResponse.self)
                promise.completeWithTask { await answer() }
                promise.futureResult.whenSuccess { response in
                    Self.write(response, version: version, keepAlive: keepAlive, on: channel)
                }
            }
            if request.path != "/healthz" {
                logger.debug(
                    "admin request",
                    metadata: ["method": .string("\(request.method)"), "path": .string(request.path)]
                )
            }
        }
    }

    private static func write(_ response: AdminResponse, version: HTTPVersion, keepAlive: Bool, on channel: any Channel)
    {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: response.contentType)
        headers.add(name: "content-length", value: String(response.body.utf8.count))
        headers.add(name: "cache-control", value: "no-store")
        for header in response.headers { headers.add(name: header.name, value: header.value) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        channel.write(
            HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: response.status, headers: headers)),
            promise: nil
        )
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: response.body))), promise: nil)
        let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
        if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
    }
}
