import JesterConfig
import JesterRuntime
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Everything a request needs from one config generation: the router and what its routes do.
///
/// A new table is built on reload and swapped in atomically; a request takes the table current
/// when its head arrives and finishes on it.
final class RoutingTable: Sendable {
    let generation: Int
    let config: GatewayConfig
    let router: Router
    let upstreams: [String: UpstreamGroup]

    init(generation: Int, config: GatewayConfig, router: Router, upstreams: [String: UpstreamGroup]) {
        self.generation = generation
        self.config = config
        self.router = router
        self.upstreams = upstreams
    }
}

/// A route ready to serve: its filters and what answers it.
final class CompiledRoute: Sendable {
    enum Action: Sendable {
        case proxy(UpstreamGroup)
        case respond(StaticResponse)
        case plugin(PluginRoute)
    }

    let name: String
    let action: Action
    /// The request and response filters; nil when the route has none (the fast path).
    let filters: FilterChain?

    init(name: String, action: Action, filters: FilterChain? = nil) {
        self.name = name
        self.action = action
        self.filters = filters
    }
}

/// A fixed response, encoded once.
struct StaticResponse: Sendable {
    let status: HTTPResponseStatus
    let headers: HTTPHeaders
    let body: ByteBuffer

    init(_ config: StaticResponseConfig) {
        status = HTTPResponseStatus(statusCode: config.status)
        var headers = HTTPHeadersBuilder.make(config.headers)
        if !config.body.isEmpty, !headers.contains(name: "content-type") {
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        }
        self.headers = headers
        body = ByteBuffer(string: config.body)
    }
}

/// A handler plugin answering a route.
struct PluginRoute: Sendable {
    let plugin: Plugin
    let export: String?
    let headers: HTTPHeaders
    let name: String
}

/// An upstream: its targets and how one is picked.
final class UpstreamGroup: Sendable {
    let name: String
    let strategy: UpstreamConfig.Strategy
    let endpoints: [UpstreamEndpoint]
    private let next = Atomic<Int>(0)

    init(name: String, strategy: UpstreamConfig.Strategy, endpoints: [UpstreamEndpoint]) {
        self.name = name
        self.strategy = strategy
        self.endpoints = endpoints
    }

    /// The target for the next request.
    func pick() -> UpstreamEndpoint {
        switch strategy {
        case .single:
            return endpoints[0]
        case .roundRobin:
            let n = next.wrappingAdd(1, ordering: .relaxed).oldValue
            return endpoints[(n & Int.max) % endpoints.count]
        }
    }
}

/// One upstream target with its connection settings. Pools are keyed by ``key``, so a reload that
/// keeps a target with the same settings keeps its warm connections.
final class UpstreamEndpoint: Sendable {
    struct Key: Hashable, Sendable {
        let target: UpstreamTarget
        let tlsVerify: Bool
        let caFile: String?
    }

    let key: Key
    let target: UpstreamTarget
    let upstreamName: String
    let tlsContext: NIOSSLContext?
    let connectTimeout: TimeAmount
    let responseHeaderTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let maxIdle: Int
    /// `host:port` as it goes in a Host header when the client sent none.
    let authority: String
    /// `target.description`, made once: the access log and errors name the target of every
    /// request, and making it anew cost about 4,600 instructions a request.
    let targetDescription: String

    init(target: UpstreamTarget, upstream: UpstreamConfig, tlsContext: NIOSSLContext?) {
        key = Key(target: target, tlsVerify: upstream.tlsVerify, caFile: upstream.caFile)
        self.target = target
        upstreamName = upstream.name
        self.tlsContext = tlsContext
        connectTimeout = .milliseconds(upstream.connectTimeout.milliseconds)
        responseHeaderTimeout = .milliseconds(upstream.responseHeaderTimeout.milliseconds)
        idleTimeout = .milliseconds(upstream.idleTimeout.milliseconds)
        maxIdle = upstream.maxIdlePerTarget
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        let defaultPort = target.tls ? 443 : 80
        authority = target.port == defaultPort ? host : "\(host):\(target.port)"
        targetDescription = target.description
    }
}
