import Foundation
import JesterConfig
import JesterGateway
import JesterTesting
import NIOHTTP1
import Testing

/// A gateway with one listener and routes to the given origins.
func gateway(routes: [RouteConfig], upstreams: [UpstreamConfig], listener: ListenerConfig = JesterFixtures.listener()) async throws -> (Gateway, Int) {
    let config = GatewayConfig(listeners: [listener], routes: routes, upstreams: upstreams)
    let gateway = try await JesterFixtures.startGateway(config)
    return (gateway, try #require(gateway.port(of: listener.name)))
}

func upstream(_ name: String, _ origins: [TestOrigin], strategy: UpstreamConfig.Strategy = .single, responseTimeout: ConfigDuration = .seconds(10)) -> UpstreamConfig {
    UpstreamConfig(
        name: name, strategy: strategy, targets: origins.map { UpstreamTarget(tls: false, host: "127.0.0.1", port: $0.port) },
        responseHeaderTimeout: responseTimeout
    )
}

@Suite(.serialized) struct ProxyTests {
    @Test func forwardsWithProxyHeadersAndStripsHopByHop() async throws {
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let result = try JesterFixtures.curl([
            "-i", "http://127.0.0.1:\(port)/hello?x=1", "-H", "Connection: keep-alive, x-secret", "-H", "x-secret: 1",
            "-H", "Keep-Alive: timeout=5", "-H", "x-repeat: a", "-H", "x-repeat: b", "-H", "X-Forwarded-For: 10.0.0.1",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("HTTP/1.1 200 OK"))
        #expect(result.stdout.contains("GET /hello?x=1 0"))
        #expect(result.stdout.lowercased().contains("x-origin: origin"))
        #expect(result.stdout.lowercased().contains("via: 1.1 jester"))
        let seen = try #require(origin.requests.first).head.headers
        #expect(seen["x-secret"].isEmpty)
        #expect(seen["keep-alive"].isEmpty)
        #expect(seen["connection"].isEmpty)
        #expect(seen["x-repeat"] == ["a", "b"])
        #expect(seen["x-forwarded-for"] == ["10.0.0.1, 127.0.0.1"])
        #expect(seen["x-forwarded-proto"] == ["http"])
        #expect(seen["x-forwarded-host"] == ["127.0.0.1:\(port)"])
        #expect(seen["host"] == ["127.0.0.1:\(port)"])
        #expect(seen["via"] == ["1.1 jester"])
    }

    @Test func routesByHostPathMethodAndHeader() async throws {
        let a = try await TestOrigin(name: "a")
        let b = try await TestOrigin(name: "b")
        let c = try await TestOrigin(name: "c")
        let routes = [
            RouteConfig(name: "api-post", matchers: MatcherConfig(hosts: ["api.example.com"], pathPrefix: "/v1", methods: ["POST"]), action: .upstream("c")),
            RouteConfig(name: "api", matchers: MatcherConfig(hosts: ["api.example.com"], pathPrefix: "/v1"), action: .upstream("a")),
            RouteConfig(name: "canary", matchers: MatcherConfig(hosts: ["*.example.com"], headers: [HeaderMatcher(name: "x-canary", condition: .regex("^(yes|1)$"))]), action: .upstream("c")),
            RouteConfig(name: "wild", matchers: MatcherConfig(hosts: ["*.example.com"]), action: .upstream("b")),
            RouteConfig(name: "health", matchers: MatcherConfig(pathPrefix: "/healthz"), action: .respond(StaticResponseConfig(status: 200, body: "ok"))),
        ]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("a", [a]), upstream("b", [b]), upstream("c", [c])])
        defer { Task { await gw.shutdown(); await a.stop(); await b.stop(); await c.stop() } }

        func origin(_ host: String, _ path: String, _ extra: [String] = []) throws -> String {
            let r = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)\(path)", "-H", "Host: \(host)"] + extra)
            if let line = r.stdout.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("x-origin:") }) {
                return String(line.dropFirst(10))
            }
            return String(r.stdout.prefix(12))
        }
        #expect(try origin("api.example.com", "/v1/users") == "a")
        #expect(try origin("API.example.com:8080", "/v1") == "a")
        #expect(try origin("api.example.com", "/v1/users", ["-X", "POST"]) == "c")
        #expect(try origin("api.example.com", "/v1x") == "b")  // segment match: /v1x is not under /v1
        #expect(try origin("x.y.example.com", "/") == "b")
        #expect(try origin("x.example.com", "/", ["-H", "x-canary: yes"]) == "c")
        #expect(try origin("example.com", "/") == "HTTP/1.1 404")
        let health = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)/healthz"])
        #expect(health.stdout.hasPrefix("HTTP/1.1 200"))
        #expect(health.stdout.hasSuffix("\r\n\r\nok"))
        let missing = try JesterFixtures.curl(["http://127.0.0.1:\(port)/", "-H", "Host: other.org"])
        #expect(missing.stdout.contains("404 Not Found: no route matches this request"))
    }

    @Test func severalListenersAndRoutesBoundToOne() async throws {
        let origin = try await TestOrigin()
        let routes = [
            RouteConfig(name: "admin-only", listeners: ["admin"], matchers: MatcherConfig(pathPrefix: "/admin"), action: .respond(StaticResponseConfig(body: "admin"))),
            RouteConfig(name: "app", action: .upstream("app")),
        ]
        let config = GatewayConfig(
            listeners: [JesterFixtures.listener(name: "public"), JesterFixtures.listener(name: "admin")],
            routes: routes, upstreams: [upstream("app", [origin])]
        )
        let gw = try await JesterFixtures.startGateway(config)
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let publicPort = try #require(gw.port(of: "public"))
        let adminPort = try #require(gw.port(of: "admin"))
        #expect(publicPort != adminPort)
        #expect(try JesterFixtures.curl(["http://127.0.0.1:\(adminPort)/admin"]).stdout == "admin")
        #expect(try JesterFixtures.curl(["http://127.0.0.1:\(publicPort)/admin"]).stdout == "GET /admin 0")
    }

    @Test func roundRobinSpreadsAndConnectionsAreReused() async throws {
        let a = try await TestOrigin(name: "a")
        let b = try await TestOrigin(name: "b")
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [a, b], strategy: .roundRobin)])
        defer { Task { await gw.shutdown(); await a.stop(); await b.stop() } }
        let client = try RawClient(port: port)
        var answers = ""
        for i in 0..<20 {
            client.send("GET /r\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
            answers += client.read(until: { $0.contains("GET /r\(i) 0") })
        }
        #expect(a.requests.count == 10)
        #expect(b.requests.count == 10)
        #expect(a.connectionCount == 1)
        #expect(b.connectionCount == 1)
        #expect(gw.statistics.upstreamRequests == 20)
        #expect(gw.statistics.reusedUpstreamRequests == 18)
    }

    @Test func pipelinedRequestsAnswerInOrder() async throws {
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let client = try RawClient(port: port)
        client.send("GET /slow/200 HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = client.read(until: { $0.contains("GET /three 0") })
        let first = try #require(text.range(of: "GET /slow/200 0"))
        let second = try #require(text.range(of: "GET /two 0"))
        let third = try #require(text.range(of: "GET /three 0"))
        #expect(first.lowerBound < second.lowerBound && second.lowerBound < third.lowerBound)
    }

    @Test func thousandsOfPipelinedRequestsInOnePacket() async throws {
        let origin = try await TestOrigin()
        let routes = [
            RouteConfig(name: "ping", matchers: MatcherConfig(pathPrefix: "/ping"), action: .respond(StaticResponseConfig(body: "p"))),
            RouteConfig(name: "app", action: .upstream("app")),
        ]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let client = try RawClient(port: port)
        var batch = ""
        for i in 0..<3000 { batch += i % 500 == 499 ? "GET /up\(i) HTTP/1.1\r\nHost: a\r\n\r\n" : "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n" }
        client.send(batch)
        let text = client.read(until: { $0.contains("GET /up2999 0") }, timeout: 20)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count - 1 == 3000)
        #expect(origin.requests.map(\.head.uri) == stride(from: 499, to: 3000, by: 500).map { "/up\($0)" })
    }

    @Test func badGatewayAndGatewayTimeoutNameRouteAndTarget() async throws {
        let origin = try await TestOrigin()
        let dead = UpstreamConfig(name: "dead", targets: [UpstreamTarget(tls: false, host: "127.0.0.1", port: 9)], connectTimeout: .seconds(2))
        let routes = [
            RouteConfig(name: "down", matchers: MatcherConfig(pathPrefix: "/down"), action: .upstream("dead")),
            RouteConfig(name: "slow", action: .upstream("slow")),
        ]
        let (gw, port) = try await gateway(routes: routes, upstreams: [dead, upstream("slow", [origin], responseTimeout: .milliseconds(300))])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let down = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)/down", "-H", "Accept: application/json"])
        #expect(down.stdout.hasPrefix("HTTP/1.1 502"))
        #expect(down.stdout.contains(#""error":"upstream_connect_failed""#))
        #expect(down.stdout.contains(#""route":"down""#))
        #expect(down.stdout.contains(#""upstream":"http://127.0.0.1:9""#))

        let start = Date()
        let slow = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)/slow/3000"])
        #expect(slow.stdout.hasPrefix("HTTP/1.1 504"))
        #expect(slow.stdout.contains("route 'slow'"))
        #expect(Date().timeIntervalSince(start) < 2.5)
        // The gateway keeps serving.
        let fine = try JesterFixtures.curl(["http://127.0.0.1:\(port)/fine"])
        #expect(fine.stdout == "GET /fine 0")
    }

    @Test func staleKeepAliveConnectionIsRetried() async throws {
        let origin = try await TestOrigin { request in
            var headers = HTTPHeaders()
            if request.head.uri == "/bye" { headers.add(name: "connection", value: "close") }
            return (.ok, headers, Array("ok \(request.head.uri)".utf8))
        }
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }
        for path in ["/a", "/bye", "/b", "/c"] {
            let r = try JesterFixtures.curl(["http://127.0.0.1:\(port)\(path)"])
            #expect(r.stdout == "ok \(path)")
        }
    }
}
