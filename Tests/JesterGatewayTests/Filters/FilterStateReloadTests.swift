import Crypto
import Foundation
import JesterConfig
import JesterManifest
@_spi(Testing) @testable import JesterGateway
import JesterTesting
import NIOConcurrencyHelpers
import NIOHTTP1
import Testing

/// The store itself: what a build reuses, makes, keeps and drops.
@Suite struct FilterStateStoreTests {
    final class Counter: Sendable {
        let value = NIOLockedValueBox(0)
    }

    static func key(_ route: String, _ identity: String, entry: String = "filters/rate-limit#0") -> FilterStateStore.Key {
        FilterStateStore.Key(route: route, entry: entry, identity: FilterStateStore.Identity(identity))
    }

    @Test func aCommittedBuildReplacesTheStoreAndAnUncommittedOneChangesNothing() {
        let store = FilterStateStore()
        let first = store.makeBuild()
        let a = first.state(at: Self.key("api", "ip")) { Counter() }
        #expect(first.state(at: Self.key("api", "ip")) { Counter() } === a)  // the same entry asked twice
        let ran = NIOLockedValueBox(0)
        first.whenServing { ran.withLockedValue { $0 += 1 } }
        #expect(store.count == 0 && ran.withLockedValue { $0 } == 0)  // nothing is live before the commit
        first.commit()
        #expect(store.count == 1 && ran.withLockedValue { $0 } == 1)
        first.commit()  // a second commit does nothing
        #expect(ran.withLockedValue { $0 } == 1)

        // A build that is never committed (a failed reload) may make and reuse; the store stays.
        let failed = store.makeBuild()
        #expect(failed.state(at: Self.key("api", "ip")) { Counter() } === a)
        _ = failed.state(at: Self.key("api", "header:x")) { Counter() }
        failed.whenServing { ran.withLockedValue { $0 += 1 } }
        #expect(store.count == 1)

        // A check sees nothing live and keeps nothing.
        let check = FilterStateStore.Build(mode: .dryRun)
        #expect(check.state(at: Self.key("api", "ip")) { Counter() } !== a)
        check.whenServing { ran.withLockedValue { $0 += 1 } }
        check.commit()
        #expect(store.count == 1 && ran.withLockedValue { $0 } == 1)

        // The next table renames the route: its state is new, the old one is dropped.
        let renamed = store.makeBuild()
        let b = renamed.state(at: Self.key("api-v2", "ip")) { Counter() }
        #expect(b !== a)
        renamed.commit()
        #expect(store.count == 1)
        #expect(store.makeBuild().state(at: Self.key("api-v2", "ip")) { Counter() } === b)
    }

    @Test func anObjectOfAnotherTypeUnderTheKeyIsReplaced() {
        final class Other: Sendable {}
        let store = FilterStateStore()
        let build = store.makeBuild()
        _ = build.state(at: Self.key("r", "k")) { Other() }
        build.commit()
        let next = store.makeBuild()
        let counter = next.state(at: Self.key("r", "k")) { Counter() }
        next.commit()
        #expect(store.makeBuild().state(at: Self.key("r", "k")) { Counter() } === counter)
    }

    @Test func aStandaloneSetupMakesItsOwnStateAndRunsActionsAtOnce() {
        let setup = FilterTests.setup()
        let a = setup.state(key: "k") { Counter() }
        #expect(setup.state(key: "k") { Counter() } === a)  // one setup is one entry
        #expect(FilterTests.setup().state(key: "k") { Counter() } !== a)
        let ran = NIOLockedValueBox(false)
        setup.whenServing { ran.withLockedValue { $0 = true } }
        #expect(ran.withLockedValue { $0 })
    }

    @Test func sharedBucketsTakeTheRateAndBurstOfTheirUser() {
        let clock = ManualClock()
        let shards = BucketShards(clock: clock.read)
        let old = TokenBuckets(perSecond: 1.0 / 60, burst: 10, maxKeys: 1000, shards: shards)
        for _ in 0..<3 { _ = old.take("a") }  // 7 left
        // A smaller burst cuts the bucket down to it; a faster rate refills it faster.
        let smaller = TokenBuckets(perSecond: 1, burst: 2, maxKeys: 1000, shards: shards)
        #expect(smaller.take("a") == .init(remaining: 1, retryAfterSeconds: nil))
        #expect(smaller.take("a") == .init(remaining: 0, retryAfterSeconds: nil))
        #expect(smaller.take("a") == .init(remaining: 0, retryAfterSeconds: 1))
        // The old filter, still finishing requests, sees the same bucket at its own rate.
        #expect(old.take("a").retryAfterSeconds == 60)
        clock.advance(seconds: 1)
        #expect(smaller.take("a").retryAfterSeconds == nil)
    }
}

/// Built-in filter state across `Gateway.reload` on a real gateway.
@Suite(.serialized) struct FilterStateReloadTests {
    static func rateLimit(_ config: JSONValue) -> FilterConfig { FilterConfig(kind: .builtin, name: "rate-limit", config: config) }

    static func config(_ routes: [RouteConfig], listener: ListenerConfig) -> GatewayConfig {
        GatewayConfig(listeners: [listener], routes: routes)
    }

    static func route(_ name: String, _ prefix: String = "/", filters: [FilterConfig]) -> RouteConfig {
        RouteConfig(name: name, matchers: MatcherConfig(pathPrefix: prefix), action: .respond(StaticResponseConfig(body: "ok")), filters: filters)
    }

    static func status(_ port: Int, _ path: String = "/", headers: [String] = []) throws -> String {
        try JesterFixtures.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"] + headers.flatMap { ["-H", $0] }).stdout
    }

    static func retryAfter(_ port: Int, _ path: String = "/") throws -> Int? {
        let head = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)\(path)"]).stdout
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("retry-after:") {
            return Int(line.dropFirst("retry-after:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    @Test func anExhaustedRateLimitStaysExhaustedAcrossReloads() async throws {
        let listener = JesterFixtures.listener()
        let limit = Self.rateLimit(["rpm": 1, "burst": 2])
        let other = Self.route("other", "/other", filters: [])
        var config = Self.config([Self.route("api", "/api", filters: [limit]), other], listener: listener)
        let gw = try await JesterFixtures.startGateway(config)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown() } }

        #expect(try Self.status(port, "/api") == "200")
        #expect(try Self.status(port, "/api") == "200")
        #expect(try Self.status(port, "/api") == "429")

        // The same config again.
        try await gw.reload(config)
        #expect(try Self.status(port, "/api") == "429")
        // Another route changes, and a filter is put before the rate limit on this one.
        config.routes[1] = Self.route("other", "/elsewhere", filters: [FilterConfig(kind: .builtin, name: "headers", config: ["request": ["set": ["x-a": "1"]]])])
        config.routes[0].filters = [FilterConfig(kind: .builtin, name: "request-id"), limit]
        try await gw.reload(config)
        #expect(try Self.status(port, "/api") == "429")
        #expect(gw.filterStateCount == 1)

        // A slower-than-before rate (2 a minute) applies to the kept, empty bucket: a token is at
        // most 30 s away, not 60.
        config.routes[0].filters[1] = Self.rateLimit(["rpm": 2, "burst": 2])
        try await gw.reload(config)
        let wait = try #require(try Self.retryAfter(port, "/api"))
        #expect((1...30).contains(wait), "retry-after \(wait)")

        // A fast rate refills it within milliseconds.
        config.routes[0].filters[1] = Self.rateLimit(["rpm": 600_000, "burst": 2])
        try await gw.reload(config)
        try await Task.sleep(for: .milliseconds(20))
        #expect(try Self.status(port, "/api") == "200")

        // Back to slow: the bucket was used, not reset; a changed key gives new, full buckets.
        config.routes[0].filters[1] = Self.rateLimit(["rpm": 1, "burst": 2])
        try await gw.reload(config)
        _ = try Self.status(port, "/api")
        _ = try Self.status(port, "/api")
        #expect(try Self.status(port, "/api") == "429")
        config.routes[0].filters[1] = Self.rateLimit(["rpm": 1, "burst": 2, "key": ["ip", "header:x-api-key"]])
        try await gw.reload(config)
        #expect(try Self.status(port, "/api") == "200")
        #expect(gw.filterStateCount == 1)
    }

    @Test func aFailedReloadAndACheckLeaveTheStateAlone() async throws {
        let listener = JesterFixtures.listener()
        let config = Self.config([Self.route("api", filters: [Self.rateLimit(["rpm": 1, "burst": 1])])], listener: listener)
        let gw = try await JesterFixtures.startGateway(config)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown() } }
        #expect(try Self.status(port) == "200")
        #expect(try Self.status(port) == "429")

        // The new config renames the route and changes the key (new state), but another route is broken.
        var broken = config
        broken.routes[0] = Self.route("api-v2", filters: [Self.rateLimit(["rpm": 1, "burst": 1, "key": ["route"]])])
        broken.routes.append(Self.route("bad", "/bad", filters: [Self.rateLimit(["rps": 1, "rpm": 60])]))
        await #expect(throws: GatewayError.self) { try await gw.reload(broken) }
        #expect(try Self.status(port) == "429")
        #expect(gw.filterStateCount == 1)

        try await gw.check()
        #expect(try Self.status(port) == "429")
        #expect(gw.filterStateCount == 1)

        // The unchanged config still finds the state the failed reload did not replace.
        try await gw.reload(config)
        #expect(try Self.status(port) == "429")
    }

    @Test func manyReloadsWithRenamedRoutesDoNotGrowTheStore() async throws {
        let listener = JesterFixtures.listener()
        func config(_ index: Int) -> GatewayConfig {
            Self.config(
                [
                    Self.route("api-\(index)", "/api", filters: [Self.rateLimit(["rps": 100]), Self.rateLimit(["rps": 100, "key": ["route"]])]),
                    Self.route("stateless-\(index)", filters: [FilterConfig(kind: .builtin, name: "request-id")]),
                ], listener: listener)
        }
        let gw = try await JesterFixtures.startGateway(config(0))
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown() } }
        #expect(gw.filterStateCount == 2)
        for index in 1...30 {
            try await gw.reload(config(index))
            #expect(try Self.status(port, "/api") == "200")
            #expect(gw.filterStateCount == 2, "after reload \(index)")
        }
        // Without any stateful filter, nothing is kept.
        try await gw.reload(Self.config([Self.route("plain", filters: [])], listener: listener))
        #expect(gw.filterStateCount == 0)
    }

    // MARK: jwt-auth

    /// A token valid now (the gateway checks `exp` against the wall clock), kid `ec-1`.
    static func token(key: P256.Signing.PrivateKey = TestTokens.ecKey) -> String {
        TestTokens.es256(TestTokens.claims(exp: Date().timeIntervalSince1970 + 600), kid: "ec-1", key: key)
    }

    @Test func aFetchedKeySetSurvivesReloadsWithoutRefetching() async throws {
        let keySet = NIOLockedValueBox((HTTPResponseStatus.ok, TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"))))
        let issuer = try await JWTKeySetURLTests.origin(keySet)
        defer { Task { await issuer.stop() } }
        let listener = JesterFixtures.listener()
        func jwt(_ extra: [String: JSONValue] = [:], path: String = "/jwks.json") -> FilterConfig {
            var config: [(key: String, value: JSONValue)] = [(key: "jwks_url", value: .string(issuer.url + path))]
            for (key, value) in extra.sorted(by: { $0.key < $1.key }) { config.append((key: key, value: value)) }
            return FilterConfig(kind: .builtin, name: "jwt-auth", config: .object(config))
        }
        var config = Self.config([Self.route("api", filters: [jwt()])], listener: listener)
        let gw = try await JesterFixtures.startGateway(config)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown() } }
        let bearer = "Authorization: Bearer \(Self.token())"

        #expect(try Self.status(port, headers: [bearer]) == "200")
        #expect(issuer.requests.count == 1)

        // Unchanged: no fetch. Changed fetch settings, an unrelated route: no fetch either.
        try await gw.reload(config)
        #expect(try Self.status(port, headers: [bearer]) == "200")
        config.routes[0].filters = [jwt(["jwks_cache_ttl": "5m", "jwks_timeout": "2s", "jwks_refetch_interval": "1m"])]
        config.routes.append(Self.route("health", "/health", filters: []))
        try await gw.reload(config)
        #expect(try Self.status(port, headers: [bearer]) == "200")
        #expect(issuer.requests.count == 1)

        // The issuer goes down; reloads go on, and so does auth, on the kept keys.
        keySet.withLockedValue { $0 = (.serviceUnavailable, "down") }
        config.routes[1] = Self.route("health", "/healthz", filters: [])
        try await gw.reload(config)
        #expect(try Self.status(port, headers: [bearer]) == "200")
        #expect(try Self.status(port) == "401")
        #expect(issuer.requests.count == 1)

        // A failed reload that points the filter at another URL fetches nothing and keeps the keys.
        var broken = config
        broken.routes[0].filters = [jwt(path: "/other.json")]
        broken.routes[1].filters = [Self.rateLimit([:])]
        await #expect(throws: GatewayError.self) { try await gw.reload(broken) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(issuer.requests.count == 1)
        #expect(try Self.status(port, headers: [bearer]) == "200")

        // Another URL is another key set: fetched once the new routes serve.
        keySet.withLockedValue { $0 = (.ok, TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1"))) }
        config.routes[0].filters = [jwt(path: "/other.json")]
        try await gw.reload(config)
        #expect(try Self.status(port, headers: [bearer]) == "200")
        #expect(issuer.requests.count == 2)
        #expect(issuer.requests.last?.head.uri == "/other.json")
        #expect(gw.filterStateCount == 1)
    }

    @Test func aKeySetFileIsReadAgainOnReload() async throws {
        let directory = try JesterFixtures.temporaryDirectory("jwks-reload")
        let file = directory + "/keys.json"
        try TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1")).write(toFile: file, atomically: true, encoding: .utf8)
        let listener = JesterFixtures.listener()
        let config = Self.config([Self.route("api", filters: [FilterConfig(kind: .builtin, name: "jwt-auth", config: ["jwks_file": .string(file)])])], listener: listener)
        let gw = try await JesterFixtures.startGateway(config)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown() } }
        #expect(try Self.status(port, headers: ["Authorization: Bearer \(Self.token())"]) == "200")
        #expect(try Self.status(port, headers: ["Authorization: Bearer \(Self.token(key: TestTokens.otherECKey))"]) == "401")

        // The key is rotated in the file: the same config, reloaded, uses the new one.
        try TestTokens.jwks(TestTokens.ecJWK(kid: "ec-1", key: TestTokens.otherECKey)).write(toFile: file, atomically: true, encoding: .utf8)
        try await gw.reload(config)
        #expect(try Self.status(port, headers: ["Authorization: Bearer \(Self.token(key: TestTokens.otherECKey))"]) == "200")
        #expect(try Self.status(port, headers: ["Authorization: Bearer \(Self.token())"]) == "401")
        #expect(gw.filterStateCount == 0)
    }
}
