import Foundation
import JesterConfig
import JesterGateway
import JesterTesting
import Testing

/// Requests that break HTTP framing are refused with 400 and the connection closed, before
/// anything reaches an upstream.
@Suite(.serialized) struct ProtocolSafetyTests {
    static let cases: [(String, String)] = [
        ("content-length and transfer-encoding", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("two different content-lengths", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"),
        ("content-length list that disagrees", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\nabcde"),
        ("invalid chunk size", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        ("obs-fold", "GET /x HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"),
        ("bare CR in a header", "GET /x HTTP/1.1\r\nHost: a\r\nX-Bad: a\rb\r\n\r\n"),
        ("bare LF line ending", "GET /x HTTP/1.1\nHost: a\nX-Bad: b\n\n"),
        ("absolute-form host mismatch", "GET http://evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        ("two host headers", "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        ("missing host", "GET /x HTTP/1.1\r\n\r\n"),
        ("transfer-encoding not chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
        ("chunked then identity", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"),
        ("space before colon", "GET /x HTTP/1.1\r\nHost : a\r\n\r\n"),
    ]

    @Test(arguments: cases.indices)
    func refusesAmbiguousFraming(_ index: Int) async throws {
        let (name, request) = Self.cases[index]
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let client = try RawClient(port: port)
        client.send(request)
        let answer = client.readAll(timeout: 3)
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request"), "\(name): \(answer)")
        #expect(client.closedByPeer, "\(name): the connection stays open")
        #expect(origin.requests.isEmpty, "\(name): reached the upstream")
    }

    @Test func absoluteFormThatAgreesIsServed() async throws {
        let origin = try await TestOrigin()
        let (gw, port) = try await gateway(routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let client = try RawClient(port: port)
        client.send("GET http://a.example/x?q=1 HTTP/1.1\r\nHost: a.example\r\n\r\n")
        let answer = client.read(until: { $0.contains("GET /x?q=1 0") })
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        #expect(origin.requests.first?.head.uri == "/x?q=1")
    }
}

@Suite(.serialized) struct LimitTests {
    func start(_ http: HTTPSettings) async throws -> (Gateway, Int, TestOrigin) {
        let origin = try await TestOrigin(keepBody: false)
        let (gw, port) = try await gateway(
            routes: [RouteConfig(name: "app", action: .upstream("app"))], upstreams: [upstream("app", [origin])],
            listener: JesterFixtures.listener(http: http)
        )
        return (gw, port, origin)
    }

    @Test func oversizedHeadersGet431() async throws {
        let (gw, port, origin) = try await start(HTTPSettings(maxHeaderBytes: 4096))
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let client = try RawClient(port: port)
        client.send("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "a", count: 8000))\r\n\r\n")
        let answer = client.readAll(timeout: 3)
        #expect(answer.hasPrefix("HTTP/1.1 431"), "\(answer)")
        #expect(origin.requests.isEmpty)
        // A long request line counts too.
        let second = try RawClient(port: port)
        second.send("GET /\(String(repeating: "p", count: 8000)) HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(second.readAll(timeout: 3).hasPrefix("HTTP/1.1 431"))
    }

    @Test func declaredAndStreamedBodiesOverTheLimitGet413() async throws {
        let (gw, port, origin) = try await start(HTTPSettings(maxRequestBodyBytes: 1000))
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let declared = try RawClient(port: port)
        declared.send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n")
        let first = declared.readAll(timeout: 3)
        #expect(first.hasPrefix("HTTP/1.1 413"), "\(first)")
        #expect(declared.closedByPeer)

        let chunked = try RawClient(port: port)
        chunked.send("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in 0..<3 { chunked.send("1f4\r\n" + String(repeating: "b", count: 500) + "\r\n") }
        let second = chunked.readAll(timeout: 3)
        #expect(second.hasPrefix("HTTP/1.1 413"), "\(second)")
        #expect(chunked.closedByPeer)
        // A body under the limit goes through.
        let ok = try JesterFixtures.curl(["http://127.0.0.1:\(port)/small", "--data-binary", String(repeating: "c", count: 900)])
        #expect(ok.stdout == "POST /small 900")
    }

    @Test func slowHeadersGet408() async throws {
        let (gw, port, origin) = try await start(HTTPSettings(headerReadTimeout: .milliseconds(300)))
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let client = try RawClient(port: port)
        let start = Date()
        client.send("GET /x HTTP/1.1\r\nHost: a\r\n")
        try await Task.sleep(for: .milliseconds(100))
        client.send("X-Slow: 1\r\n")
        let answer = client.readAll(timeout: 3)
        #expect(answer.hasPrefix("HTTP/1.1 408"), "\(answer)")
        #expect(client.closedByPeer)
        #expect(Date().timeIntervalSince(start) < 1.5)
        #expect(origin.requests.isEmpty)
    }

    @Test func connectionsOverTheLimitAreClosed() async throws {
        let (gw, port, origin) = try await start(HTTPSettings(maxConnections: 2))
        defer { Task { await gw.shutdown(); await origin.stop() } }
        var a: RawClient? = try RawClient(port: port)
        let b = try RawClient(port: port)
        a!.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        b.send("GET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(a!.read(until: { $0.contains("GET /a 0") }).contains("200 OK"))
        #expect(b.read(until: { $0.contains("GET /b 0") }).contains("200 OK"))
        let c = try RawClient(port: port)
        c.send("GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(c.readAll(timeout: 2) == "")
        #expect(c.closedByPeer)
        // Once one closes, a new connection is admitted.
        a = nil
        try await Task.sleep(for: .milliseconds(200))
        let d = try RawClient(port: port)
        d.send("GET /d HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(d.read(until: { $0.contains("GET /d 0") }).contains("200 OK"))
        withExtendedLifetime(b) {}
    }
}
