import Foundation
import JesterConfig
import JesterGateway
import JesterTesting
import Testing

@Suite(.serialized) struct ProtocolTests {
    @Test func http2AndHTTP1OverTLSWithALPN() async throws {
        let certs = try JesterFixtures.makeTestCertificates()
        let origin = try await TestOrigin()
        let listener = JesterFixtures.listener(tls: TLSConfig(certificatePath: certs.cert, keyPath: certs.key))
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])], listener: listener)
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let h2 = try JesterFixtures.curl(["-i", "--http2", "--cacert", certs.ca, "https://localhost:\(port)/h2?a=b", "--data-binary", "12345"])
        #expect(h2.status == 0, "\(h2.stderr)")
        #expect(h2.stdout.hasPrefix("HTTP/2 200"), "\(h2.stdout)")
        #expect(h2.stdout.contains("POST /h2?a=b 5"))
        let seen = try #require(origin.requests.first).head.headers
        #expect(seen["x-forwarded-proto"] == ["https"])
        #expect(seen["host"] == ["localhost:\(port)"])
        #expect(seen["via"] == ["2 jester"])

        let h1 = try JesterFixtures.curl(["-i", "--http1.1", "--cacert", certs.ca, "https://localhost:\(port)/h1"])
        #expect(h1.stdout.hasPrefix("HTTP/1.1 200"), "\(h1.stdout) \(h1.stderr)")
        #expect(h1.stdout.contains("GET /h1 0"))

        // Several streams on one connection.
        let many = try JesterFixtures.curl(["--http2", "--cacert", certs.ca, "-Z"] + (0..<10).flatMap { ["https://localhost:\(port)/s\($0)", "-o", "/dev/null", "-w", "%{http_version} %{response_code} %{num_connects}\\n"] })
        let lines = many.stdout.split(separator: "\n")
        #expect(lines.count == 10)
        #expect(lines.allSatisfy { $0.hasPrefix("2 200") })
    }

    @Test func h2cWithPriorKnowledgeAndHTTP1OnTheSameListener() async throws {
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(
            routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])],
            listener: JesterFixtures.listener(h2c: true)
        )
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let h2c = try JesterFixtures.curl(["-i", "--http2-prior-knowledge", "http://127.0.0.1:\(port)/c"])
        #expect(h2c.stdout.hasPrefix("HTTP/2 200"), "\(h2c.stdout) \(h2c.stderr)")
        #expect(h2c.stdout.contains("GET /c 0"))
        let h1 = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)/one"])
        #expect(h1.stdout.hasPrefix("HTTP/1.1 200"))
    }

    @Test func httpsUpstreamWithACAFile() async throws {
        // A TLS gateway in front, used here as an https origin for a second gateway.
        let certs = try JesterFixtures.makeTestCertificates()
        let origin = try await TestOrigin()
        let front = JesterFixtures.listener(name: "tls", tls: TLSConfig(certificatePath: certs.cert, keyPath: certs.key))
        let (inner, innerPort) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])], listener: front)
        let secure = UpstreamConfig(name: "secure", targets: [UpstreamTarget(tls: true, host: "localhost", port: innerPort)], caFile: certs.ca)
        let (outer, outerPort) = try await gateway(routes: [RouteConfig(name: "secure", action: .upstream("secure"))], upstreams: [secure])
        let untrusted = UpstreamConfig(name: "untrusted", targets: [UpstreamTarget(tls: true, host: "localhost", port: innerPort)])
        let (third, thirdPort) = try await gateway(routes: [RouteConfig(name: "untrusted", action: .upstream("untrusted"))], upstreams: [untrusted])
        defer { Task { await inner.shutdown(); await outer.shutdown(); await third.shutdown(); await origin.stop() } }

        let ok = try JesterFixtures.curl(["http://127.0.0.1:\(outerPort)/through-tls"])
        #expect(ok.stdout == "GET /through-tls 0")
        let refused = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(thirdPort)/x"])
        #expect(refused.stdout.hasPrefix("HTTP/1.1 502"), "\(refused.stdout)")
    }
}

@Suite(.serialized) struct StreamingTests {
    @Test func largeBodiesStreamBothWays() async throws {
        let origin = try await TestOrigin(keepBody: false)
        let (gw, port) = try await gateway(
            routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])],
            listener: JesterFixtures.listener(http: HTTPSettings(maxRequestBodyBytes: 1 << 30))
        )
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let size = 64 << 20
        let download = try JesterFixtures.curl(["http://127.0.0.1:\(port)/download/\(size)", "-o", "/dev/null", "-w", "%{size_download}"])
        #expect(download.stdout == "\(size)")
        let upload = try JesterFixtures.run("/bin/sh", ["-c", "head -c \(size) /dev/zero | curl -s -T - http://127.0.0.1:\(port)/upload"])
        #expect(upload.stdout == "PUT /upload \(size)", "\(upload.stderr)")
    }
}

@Suite(.serialized) struct LifecycleTests {
    @Test func reloadWhileServingDropsNothingAndRefusesABrokenConfig() async throws {
        let a = try await TestOrigin(name: "a")
        let b = try await TestOrigin(name: "b")
        let listener = JesterFixtures.listener()
        let first = GatewayConfig(listeners: [listener], routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [a])])
        let gw = try await JesterFixtures.startGateway(first)
        let port = try #require(gw.port(of: "test"))
        defer { Task { await gw.shutdown(); await a.stop(); await b.stop() } }

        // Keep requests flowing (some slow, in flight across the reload) while reloading.
        let load = Task.detached { () -> (ok: Int, failed: [String]) in
            var ok = 0
            var failed: [String] = []
            for i in 0..<60 {
                let path = i % 10 == 0 ? "/slow/150" : "/r\(i)"
                let r = try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"])
                if r.stdout == "200" { ok += 1 } else { failed.append("\(path): \(r.stdout) \(r.stderr)") }
            }
            return (ok, failed)
        }
        try await Task.sleep(for: .milliseconds(100))
        var broken = first
        broken.routes = [RouteConfig(name: "app", action: .upstream("missing"))]
        await #expect(throws: GatewayError.self) { try await gw.reload(broken) }
        var second = first
        second.upstreams = [upstream("app", [b])]
        try await gw.reload(second)
        let result = try await load.value
        #expect(result.failed.isEmpty, "\(result.failed)")
        #expect(result.ok == 60)
        let after = try JesterFixtures.curl(["-i", "http://127.0.0.1:\(port)/after"])
        #expect(after.stdout.lowercased().contains("x-origin: b"))
        #expect(gw.port(of: "test") == port)
    }

    @Test func reloadRebindsAChangedListener() async throws {
        let origin = try await TestOrigin()
        let config = GatewayConfig(listeners: [JesterFixtures.listener()], routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        let gw = try await JesterFixtures.startGateway(config)
        defer { Task { await gw.shutdown(); await origin.stop() } }
        var changed = config
        changed.listeners = [JesterFixtures.listener(name: "second")]
        try await gw.reload(changed)
        let port = try #require(gw.port(of: "second"))
        #expect(gw.port(of: "test") == nil)
        let r = try JesterFixtures.curl(["http://127.0.0.1:\(port)/x"])
        #expect(r.stdout == "GET /x 0")
    }

    @Test func shutdownFinishesInFlightRequestsAndStopsAccepting() async throws {
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await origin.stop() } }
        let client = try RawClient(port: port)
        client.send("GET /slow/400 HTTP/1.1\r\nHost: a\r\n\r\n")
        try await Task.sleep(for: .milliseconds(100))
        let started = Date()
        let shutdown = Task { await gw.shutdown(drainTimeout: .seconds(5)) }
        let answer = client.read(until: { $0.contains("GET /slow/400 0") })
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        await shutdown.value
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(throws: (any Error).self) { _ = try RawClient(port: port) }
    }

    @Test func shutdownCutsRequestsThatOutliveTheDrainDeadline() async throws {
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await origin.stop() } }
        let client = try RawClient(port: port)
        client.send("GET /slow/5000 HTTP/1.1\r\nHost: a\r\n\r\n")
        try await Task.sleep(for: .milliseconds(100))
        let started = Date()
        await gw.shutdown(drainTimeout: .milliseconds(300))
        #expect(Date().timeIntervalSince(started) < 2)
        _ = client.readAll(timeout: 1)
        #expect(client.closedByPeer)
    }
}
