import Foundation
import JesterConfig
import JesterGateway
import JesterManifest
import JesterRuntime
import JesterTesting
import Synchronization
import Testing

/// One answer of the admin API, through curl.
struct AdminAnswer {
    var code: Int
    var headers: String
    var body: String

    var json: JSONValue? { try? JSONValue.parse(body) }

    func header(_ name: String) -> String? {
        for line in headers.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}

func adminRequest(
    _ port: Int,
    _ path: String,
    method: String = "GET",
    authorization: String? = nil
) throws -> AdminAnswer {
    var arguments = ["-i", "-X", method, "http://127.0.0.1:\(port)\(path)"]
    if let authorization { arguments += ["-H", "Authorization: \(authorization)"] }
    let result = try JesterFixtures.curl(arguments)
    guard let split = result.stdout.range(of: "\r\n\r\n") else {
        return AdminAnswer(code: 0, headers: "", body: result.stderr)
    }
    let headers = String(result.stdout[..<split.lowerBound])
    let code = Int(headers.split(separator: " ").dropFirst().first ?? "") ?? 0
    return AdminAnswer(code: code, headers: headers, body: String(result.stdout[split.upperBound...]))
}

/// The config the next `POST /reload` loads: a config, or an error to throw.
final class NextReload: Sendable {
    struct Refused: Error, CustomStringConvertible { let description: String }
    private let next: Mutex<Result<GatewayConfig, Refused>>

    init(_ config: GatewayConfig) { next = Mutex(.success(config)) }

    func set(_ value: Result<GatewayConfig, Refused>) { next.withLock { $0 = value } }

    func load() throws -> GatewayConfig { try next.withLock { $0 }.get() }
}

let loopbackAdmin = AdminConfig(listen: BindAddress(host: "127.0.0.1", port: 0))

func startAdminGateway(
    _ config: GatewayConfig,
    reload: NextReload? = nil
) async throws -> (gateway: Gateway, port: Int, admin: Int) {
    var reloadConfig: (@Sendable () async throws -> GatewayConfig)?
    if let reload { reloadConfig = { try reload.load() } }
    let gateway = Gateway(
        config: config,
        logger: JesterFixtures.logger,
        accessLogger: JesterFixtures.logger,
        reloadConfig: reloadConfig
    )
    try await gateway.start()
    let port = try #require(gateway.port(of: config.listeners[0].name))
    let admin = try #require(gateway.adminAddress?.port)
    return (gateway, port, admin)
}

@Suite(.serialized) struct AdminServerTests {
    @Test func statusReportsTheGatewayAndAFilterPluginThatTrapsIntoDegraded() async throws {
        let origin = try await TestOrigin()
        let plugin = try FilterGuest.plugin(id: "trap-on-request", wat: try FilterFixtures.source("trap-on-request"))
        let routes = [
            RouteConfig(
                name: "home",
                matchers: MatcherConfig(pathPrefix: "/home"),
                action: .respond(StaticResponseConfig(body: "home"))
            ),
            RouteConfig(
                name: "app",
                action: .upstream("app"),
                filters: [FilterConfig(kind: .wasm, name: "trap", plugin: plugin)]
            ),
        ]
        let config = GatewayConfig(
            listeners: [JesterFixtures.listener()],
            routes: routes,
            upstreams: [upstream("app", [origin])],
            admin: loopbackAdmin
        )
        let (gw, port, adminPort) = try await startAdminGateway(config)
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        let before = try adminRequest(adminPort, "/status")
        #expect(before.code == 200, "\(before.body)")
        #expect(before.header("content-type") == "application/json")
        #expect(before.header("cache-control") == "no-store")
        let status = try #require(before.json, "\(before.body)")
        #expect(status["status"] == .string("ok"))
        #expect(status["shutting_down"] == .bool(false))
        #expect(status["generation"] == .integer(1))
        #expect(status["uptime_seconds"]?.isNonNegativeNumber == true)
        #expect(status["config_file"] == .null)
        #expect(
            status["listeners"]
                == .array([
                    .object([
                        ("name", .string("test")), ("bind", .string("127.0.0.1:0")),
                        ("address", .string("127.0.0.1:\(port)")),
                        ("tls", .bool(false)), ("h2c", .bool(false)),
                    ])
                ])
        )
        #expect(
            status["admin"]
                == .object([
                    ("listen", .string("127.0.0.1:0")), ("address", .string("127.0.0.1:\(adminPort)")),
                    ("token_required", .bool(false)),
                ])
        )
        #expect(
            status["routes"]
                == .object([("count", .integer(2)), ("names", .array([.string("home"), .string("app")]))])
        )
        let ready = try #require(status["plugins"]?.arrayElements?.first)
        #expect(status["plugins"]?.arrayElements?.count == 1)
        #expect(ready["id"] == .string("trap-on-request"))
        #expect(ready["version"] == .string("1.0.0"))
        #expect(ready["abi"] == .string("jester"))
        #expect(ready["state"] == .string("ready"))
        #expect(ready["traps"] == .integer(0))
        #expect(ready["module"]?.stringValue?.hasSuffix("trap-on-request.wasm") == true, "\(ready)")
        #expect(ready["last_error"] == .null)
        let keys = ready.objectKeys
        #expect(
            keys == [
                "id", "version", "abi", "state", "module", "sha256", "calls", "errors", "traps", "timeouts",
                "busy_rejections",
                "active_calls", "idle_instances", "instances_created", "fuel_consumed", "time_spent_ms",
                "peak_memory_bytes",
                "last_error",
            ]
        )
        #expect(
            status.objectKeys == [
                "status", "shutting_down", "generation", "uptime_seconds", "config_file", "listeners", "admin",
                "routes", "requests", "plugins",
            ]
        )

        // Five traps in a row mark the plugin degraded, and the gateway with it.
        for _ in 0..<Plugin.degradedAfterFailures {
            #expect(
                try JesterFixtures.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).stdout
                    == "500"
            )
        }
        #expect(try JesterFixtures.curl(["http://127.0.0.1:\(port)/home"]).stdout == "home")
        let after = try #require(try adminRequest(adminPort, "/status").json)
        #expect(after["status"] == .string("degraded"))
        let degraded = try #require(after["plugins"]?.arrayElements?.first)
        #expect(degraded["state"] == .string("degraded"))
        #expect(degraded["traps"] == .integer(5))
        #expect(degraded["errors"] == .integer(5))
        #expect((degraded["calls"]?.integerValue ?? 0) >= 5)
        #expect(degraded["last_error"]?.stringValue?.isEmpty == false, "\(degraded)")
        #expect((after["requests"]?["total"]?.integerValue ?? 0) >= 6)
    }

    @Test func aTokenIsNeededOnEveryRequest() async throws {
        var admin = loopbackAdmin
        admin.token = "t0ken-abc"
        let config = GatewayConfig(
            listeners: [JesterFixtures.listener()],
            routes: [RouteConfig(name: "home", action: .respond(StaticResponseConfig(body: "home")))],
            admin: admin
        )
        let (gw, _, adminPort) = try await startAdminGateway(config)
        defer { Task { await gw.shutdown() } }

        for (path, authorization) in [
            ("/status", nil), ("/status", "Bearer wrong"), ("/status", "Bearer t0ken-ab"),
            ("/status", "Bearer t0ken-abcd"),
            ("/status", "Basic t0ken-abc"), ("/status", "t0ken-abc"), ("/healthz", nil), ("/nope", nil),
        ] {
            let answer = try adminRequest(adminPort, path, authorization: authorization)
            #expect(answer.code == 401, "\(path) \(authorization ?? "-"): \(answer.code)")
            #expect(answer.header("www-authenticate") == "Bearer realm=\"jester admin\"")
            #expect(!answer.body.contains("\"plugins\""))
        }
        #expect(try adminRequest(adminPort, "/status", authorization: "Bearer t0ken-abc").code == 200)
        #expect(try adminRequest(adminPort, "/status", authorization: "bearer t0ken-abc").code == 200)
        #expect(try adminRequest(adminPort, "/healthz", authorization: "Bearer t0ken-abc").body == "ok\n")
        #expect(try adminRequest(adminPort, "/nope", authorization: "Bearer t0ken-abc").code == 404)
    }

    @Test func unknownPathsAre404AndWrongMethods405WithAllow() async throws {
        let config = GatewayConfig(
            listeners: [JesterFixtures.listener()],
            routes: [RouteConfig(name: "home", action: .respond(StaticResponseConfig(body: "home")))],
            admin: loopbackAdmin
        )
        let (gw, _, adminPort) = try await startAdminGateway(config)
        defer { Task { await gw.shutdown() } }

        let missing = try adminRequest(adminPort, "/metrics")
        #expect(missing.code == 404)
        #expect(missing.body.contains("GET /status, GET /healthz, POST /reload"))
        let post = try adminRequest(adminPort, "/status", method: "POST")
        #expect(post.code == 405)
        #expect(post.header("allow") == "GET")
        let delete = try adminRequest(adminPort, "/healthz", method: "DELETE")
        #expect(delete.code == 405)
        #expect(delete.header("allow") == "GET")
        // No way to load the config again was given: /reload is not there.
        #expect(try adminRequest(adminPort, "/reload", method: "POST").code == 404)
        // A query does not change the endpoint.
        #expect(try adminRequest(adminPort, "/status?verbose=1").code == 200)
        let health = try adminRequest(adminPort, "/healthz")
        #expect(health.code == 200)
        #expect(health.body == "ok\n")
        // Keep-alive: two requests on one connection.
        let client = try RawClient(port: adminPort)
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let both = client.read { $0.components(separatedBy: "HTTP/1.1 200 OK").count == 3 }
        #expect(both.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(both)")
    }

    @Test func healthzAnswers503WhileTheGatewayDrains() async throws {
        let origin = try await TestOrigin()
        let config = GatewayConfig(
            listeners: [JesterFixtures.listener()],
            routes: [RouteConfig(name: "app", action: .upstream("app"))],
            upstreams: [upstream("app", [origin])],
            admin: loopbackAdmin
        )
        let (gw, port, adminPort) = try await startAdminGateway(config)
        defer { Task { await origin.stop() } }

        // A request in flight keeps the drain going for a while. (curl blocks its thread: run it
        // off Swift's small concurrency pool, which the shutdown needs.)
        let slow = Task {
            try await offThePool { try JesterFixtures.curl(["http://127.0.0.1:\(port)/slow/1500"]).stdout }
        }
        try await Task.sleep(for: .milliseconds(300))
        let shutdown = Task { await gw.shutdown(drainTimeout: .seconds(5)) }
        var codes: [Int] = []
        for _ in 0..<40 {
            let answer = try adminRequest(adminPort, "/healthz")
            codes.append(answer.code)
            if answer.code == 503 {
                #expect(answer.body == "shutting down\n")
                let status = try adminRequest(adminPort, "/status")
                #expect(status.json?["shutting_down"] == .bool(true), "\(status.code) \(status.body)")
                break
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(codes.last == 503, "\(codes)")
        #expect(try await slow.value == "GET /slow/1500 0")
        await shutdown.value
        #expect(gw.adminAddress == nil)
        #expect(try adminRequest(adminPort, "/healthz").code == 0)
    }

    @Test func reloadKeepsTheAdminSocketUnlessListenChanges() async throws {
        let home = RouteConfig(name: "home", action: .respond(StaticResponseConfig(body: "home")))
        var config = GatewayConfig(listeners: [JesterFixtures.listener()], routes: [home], admin: loopbackAdmin)
        let (gw, _, adminPort) = try await startAdminGateway(config)
        defer { Task { await gw.shutdown() } }

        // Routes change, [admin] does not: the same socket (port 0 would pick a new port).
        config.routes.append(
            RouteConfig(
                name: "other",
                matchers: MatcherConfig(pathPrefix: "/other"),
                action: .respond(StaticResponseConfig())
            )
        )
        try await gw.reload(config)
        #expect(gw.adminAddress?.port == adminPort)
        let status = try #require(try adminRequest(adminPort, "/status").json)
        #expect(status["generation"] == .integer(2))
        #expect(status["routes"]?["count"] == .integer(2))

        // A new token applies on the same socket.
        config.admin?.token = "n3w-token"
        try await gw.reload(config)
        #expect(gw.adminAddress?.port == adminPort)
        #expect(try adminRequest(adminPort, "/status").code == 401)
        #expect(try adminRequest(adminPort, "/status", authorization: "Bearer n3w-token").code == 200)

        // A new address: bound there, and the old one is closed.
        let newPort = try JesterFixtures.freePort()
        config.admin?.listen = BindAddress(host: "127.0.0.1", port: newPort)
        try await gw.reload(config)
        #expect(gw.adminAddress?.port == newPort)
        #expect(try adminRequest(newPort, "/healthz", authorization: "Bearer n3w-token").code == 200)
        #expect(try adminRequest(adminPort, "/healthz", authorization: "Bearer n3w-token").code == 0)

        // No [admin]: no admin socket.
        config.admin = nil
        try await gw.reload(config)
        #expect(gw.adminAddress == nil)
        #expect(try adminRequest(newPort, "/healthz", authorization: "Bearer n3w-token").code == 0)
    }

    @Test func postReloadLoadsTheConfigAgainAndAnswersWithTheGenerationOrTheErrors() async throws {
        let home = RouteConfig(name: "home", action: .respond(StaticResponseConfig(body: "home")))
        var config = GatewayConfig(listeners: [JesterFixtures.listener()], routes: [home], admin: loopbackAdmin)
        let next = NextReload(config)
        let (gw, port, adminPort) = try await startAdminGateway(config, reload: next)
        defer { Task { await gw.shutdown() } }

        config.routes = [RouteConfig(name: "home", action: .respond(StaticResponseConfig(body: "reloaded")))]
        next.set(.success(config))
        let reloaded = try adminRequest(adminPort, "/reload", method: "POST")
        #expect(reloaded.code == 200, "\(reloaded.body)")
        #expect(reloaded.json == .object([("status", .string("reloaded")), ("generation", .integer(2))]))
        #expect(try JesterFixtures.curl(["http://127.0.0.1:\(port)/"]).stdout == "reloaded")
        #expect(try adminRequest(adminPort, "/reload").header("allow") == "POST")

        // A config that does not load: 422 with its errors, and the running one keeps serving.
        next.set(.failure(.init(description: "jester.toml:3: routes[0].name: missing required key")))
        let broken = try adminRequest(adminPort, "/reload", method: "POST")
        #expect(broken.code == 422)
        #expect(
            broken.body
                == "reload refused; the running configuration (generation 2) keeps serving:\njester.toml:3: routes[0].name: missing required key\n"
        )

        // A config that loads but does not build: 422 with the gateway's problems.
        config.routes = [RouteConfig(name: "app", action: .upstream("nowhere"))]
        next.set(.success(config))
        let unbuildable = try adminRequest(adminPort, "/reload", method: "POST")
        #expect(unbuildable.code == 422)
        #expect(unbuildable.body.contains("route 'app': no upstream named 'nowhere'"), "\(unbuildable.body)")
        #expect(try JesterFixtures.curl(["http://127.0.0.1:\(port)/"]).stdout == "reloaded")
        #expect(try adminRequest(adminPort, "/status").json?["generation"] == .integer(2))
    }

    @Test func anAdminPortInUseFailsTheStartAndLeavesNothingBound() async throws {
        let home = RouteConfig(name: "home", action: .respond(StaticResponseConfig(body: "home")))
        let first = GatewayConfig(listeners: [JesterFixtures.listener()], routes: [home], admin: loopbackAdmin)
        let (gw, _, adminPort) = try await startAdminGateway(first)
        defer { Task { await gw.shutdown() } }

        let second = Gateway(
            config: GatewayConfig(
                listeners: [JesterFixtures.listener()],
                routes: [home],
                admin: AdminConfig(
                    listen: BindAddress(host: "127.0.0.1", port: adminPort),
                    location: JesterConfig.SourceLocation(file: "/etc/jester/jester.toml", line: 12)
                )
            ),
            logger: JesterFixtures.logger
        )
        await #expect {
            try await second.start()
        } throws: { error in
            String(describing: error).hasPrefix(
                "/etc/jester/jester.toml:12: admin.listen: the admin API cannot listen on 127.0.0.1:\(adminPort)"
            )
        }
        #expect(second.boundAddresses.isEmpty)
        #expect(second.adminAddress == nil)
        await second.shutdown()
    }
}

/// Runs blocking work on a Dispatch thread instead of one of the concurrency pool's few.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

extension JSONValue {
    var arrayElements: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    var isNonNegativeNumber: Bool {
        switch self {
        case .integer(let i): return i >= 0
        case .double(let d): return d >= 0
        default: return false
        }
    }

    var objectKeys: [String] {
        if case .object(let members) = self { return members.map(\.key) }
        return []
    }
}
