import Foundation
import JesterConfig
import JesterGateway
import JesterManifest
import JesterTesting
import JesterToolchain
import NIOHTTP1
import Testing

/// Hand-written guests of the `http-filter` world's body hooks (docs/abi.md, "Body hooks"), one
/// behaviour per direction:
///
/// | mode        | a chunk                                   | the end call                      |
/// | ----------- | ----------------------------------------- | --------------------------------- |
/// | `upper`     | upper-cased in place, `some(chunk)`       | `some("[N]")`, N the chunk calls  |
/// | `none`      | `none`                                    | `none`                            |
/// | `trap`      | traps                                     | traps                             |
/// | `trapAtEnd` | as `upper`                                | traps                             |
/// | `loop`      | never returns                             | never returns                     |
/// | `badArea`   | returns a result area outside memory      | the same                          |
/// | `badDiscriminant` | returns discriminant 7              | the same                          |
///
/// With `headHooks`, the module also exports `on-request` (which marks the instance) and
/// `on-response`; the end tail then closes with `)` instead of `]` when the body hook ran on an
/// instance `on-request` did not run on.
enum BodyHookGuest {
    enum Mode: Equatable {
        case upper, none, trap, trapAtEnd, loop, badArea, badDiscriminant
    }

    static func wat(request: Mode? = nil, response: Mode? = nil, headHooks: Bool = true) -> String {
        var functions: [String] = []
        if let request {
            functions.append(
                hook("on-request-body", parameters: "(param $req i32)", counter: "$reqCalls", mode: request, atEnd: "")
            )
        }
        if let response {
            // The response's end is the request's end: the next request starts unmarked.
            let reset = headHooks ? "(global.set $pinned (i32.const 0))" : ""
            functions.append(
                hook(
                    "on-response-body",
                    parameters: "(param $req i32) (param $resp i32)",
                    counter: "$respCalls",
                    mode: response,
                    atEnd: reset
                )
            )
        }
        if headHooks {
            functions.append(
                #"(func (export "on-request") (param i32 i32) (result i32) (global.set $pinned (i32.const 1)) (i32.const 0))"#
            )
            functions.append(#"(func (export "on-response") (param i32 i32) (result i32) (i32.const 0))"#)
        }
        return """
            (module
              (memory (export "memory") 2)
              (global $heap (mut i32) (i32.const 8192))
              (global $pinned (mut i32) (i32.const \(headHooks ? 0 : 1)))
              (global $reqCalls (mut i32) (i32.const 0))
              (global $respCalls (mut i32) (i32.const 0))
              ;; A bump allocator that starts over when it reaches the end, and grows memory for
              ;; a block that does not fit.
              (func $alloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
                (local $p i32)
                (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.shl (memory.size) (i32.const 16)))
                  (then (global.set $heap (i32.const 8192))))
                (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.shl (memory.size) (i32.const 16)))
                  (then (drop (memory.grow (i32.add (i32.shr_u (local.get 3) (i32.const 16)) (i32.const 1))))))
                (local.set $p (global.get $heap))
                (global.set $heap (i32.add (global.get $heap) (local.get 3)))
                (local.get $p))
              (func $upper (param $p i32) (param $n i32)
                (local $i i32) (local $c i32)
                (block $done
                  (loop $l
                    (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                    (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
                    (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
                      (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $l))))
              ;; The result area is at 512: some(p, n), or none.
              (func $some (param $p i32) (param $n i32) (result i32)
                (i32.store8 (i32.const 512) (i32.const 1))
                (i32.store (i32.const 516) (local.get $p))
                (i32.store (i32.const 520) (local.get $n))
                (i32.const 512))
              (func $none (result i32)
                (i32.store8 (i32.const 512) (i32.const 0))
                (i32.const 512))
              ;; "[N]" at 300: N the number of chunk calls (at most 9); ")" instead of "]" when
              ;; on-request did not run on this instance.
              (func $tail (param $calls i32) (result i32)
                (i32.store8 (i32.const 300) (i32.const 91))
                (i32.store8 (i32.const 301)
                  (i32.add (i32.const 48) (select (local.get $calls) (i32.const 9) (i32.lt_u (local.get $calls) (i32.const 10)))))
                (i32.store8 (i32.const 302) (select (i32.const 93) (i32.const 41) (global.get $pinned)))
                (call $some (i32.const 300) (i32.const 3)))
              \(functions.joined(separator: "\n  "))
            )
            """
    }

    private static func hook(
        _ name: String,
        parameters: String,
        counter: String,
        mode: Mode,
        atEnd reset: String
    ) -> String {
        let body: String
        switch mode {
        case .upper, .trapAtEnd:
            let atEnd =
                mode == .trapAtEnd
                ? "unreachable"
                : "(local.set $calls (global.get \(counter))) (global.set \(counter) (i32.const 0)) (local.set $calls (call $tail (local.get $calls))) \(reset) (return (local.get $calls))"
            body = """
                (if (local.get $end) (then \(atEnd)))
                    (global.set \(counter) (i32.add (global.get \(counter)) (i32.const 1)))
                    (call $upper (local.get $p) (local.get $n))
                    (call $some (local.get $p) (local.get $n))
                """
        case .none:
            body = "(call $none)"
        case .trap:
            body = "unreachable"
        case .loop:
            body = "(loop $forever (br $forever)) (i32.const 0)"
        case .badArea:
            body = "(i32.const 0x7FFF0000)"
        case .badDiscriminant:
            body = "(i32.store8 (i32.const 512) (i32.const 7)) (i32.const 512)"
        }
        return """
            (func (export "\(name)") \(parameters) (param $p i32) (param $n i32) (param $end i32) (result i32)
                (local $calls i32)
                \(body))
            """
    }

    /// A plugin directory for a guest, with `extra` manifest keys (`, "http_filter": {...}`).
    static func plugin(
        _ id: String,
        request: Mode? = nil,
        response: Mode? = nil,
        headHooks: Bool = true,
        extra: String = ""
    ) throws -> String {
        try FilterGuest.plugin(
            id: id,
            wat: wat(request: request, response: response, headHooks: headHooks),
            extra: extra
        )
    }

    /// A route `name` on `/name` to upstream `app` with the wasm filter of `plugin`.
    static func route(
        _ name: String,
        _ plugin: String,
        policy: FilterConfig.FailurePolicy = .failClosed,
        response: Bool = false
    ) -> RouteConfig {
        var filter = FilterConfig(kind: .wasm, name: name, plugin: plugin)
        filter.failurePolicy = policy
        return RouteConfig(
            name: name,
            matchers: MatcherConfig(pathPrefix: "/\(name)"),
            action: .upstream("app"),
            filters: response ? [] : [filter],
            responseFilters: response ? [filter] : []
        )
    }

    /// Sends a chunked request whose body arrives in `parts`, `gap` apart, and returns the raw
    /// response (read until the peer closes or `timeout`).
    static func sendChunked(
        port: Int,
        path: String,
        parts: [String],
        gap: Duration = .milliseconds(30),
        timeout: Double = 5
    ) async throws -> String {
        let client = try RawClient(port: port)
        client.send("POST \(path) HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for part in parts {
            client.send(String(part.utf8.count, radix: 16) + "\r\n" + part + "\r\n")
            try await Task.sleep(for: gap)
        }
        client.send("0\r\n\r\n")
        return client.readAll(timeout: timeout)
    }

    /// The body of a raw HTTP/1.1 response: after the head, with chunked framing removed.
    static func body(ofRaw response: String) -> String {
        guard let split = response.range(of: "\r\n\r\n") else { return "" }
        let head = response[..<split.lowerBound].lowercased()
        var rest = Substring(response[split.upperBound...])
        guard head.contains("transfer-encoding: chunked") else { return String(rest) }
        var body = ""
        while let line = rest.range(of: "\r\n"), let size = Int(rest[..<line.lowerBound], radix: 16), size > 0 {
            let start = line.upperBound
            guard let end = rest.index(start, offsetBy: size, limitedBy: rest.endIndex) else { break }
            body += rest[start..<end]
            rest = rest[end...].dropFirst(2)
        }
        return body
    }
}

@Suite(.serialized) struct BodyHookTests {
    @Test func responseChunksAreTransformedAsTheyStreamWithTheEndTailAppended() async throws {
        let origin = try await TestOrigin()
        let plugin = try BodyHookGuest.plugin("upper", response: .upper)
        let (gw, port) = try await gateway(
            routes: [BodyHookGuest.route("upper", plugin)],
            upstreams: [upstream("app", [origin])]
        )
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        // Three chunks, 60 ms apart: each is its own hook call; the end call appends "[N]".
        let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/upper/chunks/60/hello/%20big/%20world"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout)")
        let head = result.stdout.lowercased()
        #expect(head.contains("transfer-encoding: chunked"))
        #expect(!head.contains("content-length"))
        let body = try #require(result.stdout.components(separatedBy: "\r\n\r\n").last)
        #expect(body.hasPrefix("HELLO BIG WORLD["), "\(body)")
        #expect(body.hasSuffix("]"), "on-request and the body hook ran on one instance: \(body)")
        let calls = Int(String(body.dropFirst(16).prefix(1))) ?? 0
        #expect(calls >= 2 && calls <= 3, "the chunks went through one call each: \(body)")

        // A response with a content-length loses it: the hook may change the length.
        let sized = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/upper/path"])
        #expect(sized.stdout.hasSuffix("\r\n\r\nGET /UPPER/PATH 0[1]"), "\(sized.stdout)")
        #expect(!sized.stdout.lowercased().contains("content-length"))
        // A HEAD response has no body: no hook call, and the head is left as it was.
        let head2 = try JesterFixtures.curl(["-sI", "http://127.0.0.1:\(port)/upper/path"])
        #expect(head2.stdout.lowercased().contains("content-length: 18"), "\(head2.stdout)")
    }

    @Test func requestBodyIsTransformedBeforeReachingTheOrigin() async throws {
        let origin = try await TestOrigin()
        let plugin = try BodyHookGuest.plugin("upper", request: .upper)
        let (gw, port) = try await gateway(
            routes: [BodyHookGuest.route("upper", plugin)],
            upstreams: [upstream("app", [origin])]
        )
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        let streamed = try await BodyHookGuest.sendChunked(port: port, path: "/upper/in", parts: ["hello", " world"])
        #expect(streamed.hasPrefix("HTTP/1.1 200"), "\(streamed)")
        let seen = try #require(origin.requests.last)
        #expect(String(decoding: seen.body, as: UTF8.self).hasPrefix("HELLO WORLD["), "\(seen.body)")
        #expect(String(decoding: seen.body, as: UTF8.self).hasSuffix("]"))
        #expect(seen.head.headers["transfer-encoding"] == ["chunked"])

        // A body with a content-length goes upstream chunked: the hook changes its length.
        _ = try JesterFixtures.curl(["-s", "-d", "abc", "http://127.0.0.1:\(port)/upper/sized"])
        let sized = try #require(origin.requests.last)
        #expect(String(decoding: sized.body, as: UTF8.self) == "ABC[1]")
        #expect(sized.head.headers["content-length"].isEmpty)
        #expect(sized.head.headers["transfer-encoding"] == ["chunked"])

        // A request without a body gets no hook call and no framing headers.
        _ = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/upper/empty"])
        let empty = try #require(origin.requests.last)
        #expect(empty.body.isEmpty)
        #expect(empty.head.headers["transfer-encoding"].isEmpty)
    }

    @Test func noneForwardsEveryChunkUnchanged() async throws {
        let origin = try await TestOrigin { request in
            (.ok, HTTPHeaders([("content-type", "text/plain")]), Array("echo:".utf8) + request.body)
        }
        let plugin = try BodyHookGuest.plugin(
            "none",
            request: BodyHookGuest.Mode.none,
            response: BodyHookGuest.Mode.none
        )
        let (gw, port) = try await gateway(
            routes: [BodyHookGuest.route("none", plugin)],
            upstreams: [upstream("app", [origin])]
        )
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        let payload = String(repeating: "abc-", count: 5000)
        let result = try JesterFixtures.curl(["-s", "--data-binary", payload, "http://127.0.0.1:\(port)/none"])
        #expect(result.stdout == "echo:" + payload)
        #expect(origin.requests.last?.body == Array(payload.utf8))
        let streamed = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/none/chunks/20/a/b/c"])
        #expect(streamed.stdout == "abc")
    }

    @Test func aHandlerRouteGetsTheTransformedBody() async throws {
        let handler = try FilterGuest.plugin(id: "echo-handler", wat: BodyHookTests.echoHandler)
        let plugin = try BodyHookGuest.plugin("upper", request: .upper)
        let route = RouteConfig(
            name: "handler",
            action: .plugin(PluginHandlerConfig(plugin: handler)),
            filters: [FilterConfig(kind: .wasm, name: "upper", plugin: plugin)]
        )
        let (gw, port) = try await gateway(routes: [route], upstreams: [])
        defer { Task { await gw.shutdown() } }

        let result = try JesterFixtures.curl(["-s", "-d", "shout this", "http://127.0.0.1:\(port)/"])
        #expect(result.stdout == "SHOUT THIS[1]", "\(result.stdout)")
    }

    /// `handle` answers `ok(input)`.
    static let echoHandler = """
        (module
          (memory (export "memory") 1)
          (global $heap (mut i32) (i32.const 1024))
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $p))
          (func (export "handle") (param $ptr i32) (param $len i32) (result i32)
            (i32.store8 (i32.const 32) (i32.const 0))
            (i32.store (i32.const 36) (local.get $ptr))
            (i32.store (i32.const 40) (local.get $len))
            (i32.const 32)))
        """

    @Test func aFailingHookFailsClosedBeforeAnythingWasSentAndCutsTheConnectionAfter() async throws {
        let origin = try await TestOrigin()
        let requestTrap = try BodyHookGuest.plugin("reqtrap", request: .trap)
        let responseTrap = try BodyHookGuest.plugin("resptrap", response: .trapAtEnd)
        let wholeTrap = try BodyHookGuest.plugin("wholetrap", response: .trap)
        var fixed = RouteConfig(
            name: "fixed",
            matchers: MatcherConfig(pathPrefix: "/fixed"),
            action: .respond(StaticResponseConfig(body: "fixed answer"))
        )
        fixed.responseFilters = [FilterConfig(kind: .wasm, name: "wholetrap", plugin: wholeTrap)]
        let routes = [
            BodyHookGuest.route("reqtrap", requestTrap), BodyHookGuest.route("resptrap", responseTrap), fixed,
            RouteConfig(name: "plain", action: .upstream("app")),
        ]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        // The request hook traps before the response started: 500, naming the filter.
        let request = try JesterFixtures.curl([
            "-s", "-w", "\n%{http_code}", "-d", "payload", "http://127.0.0.1:\(port)/reqtrap",
        ])
        #expect(request.stdout.hasSuffix("\n500"), "\(request.stdout)")
        #expect(request.stdout.contains("filter wasm:reqtrap failed"))
        #expect(!request.stdout.contains("unreachable"))
        // A whole response (a fixed answer) goes through the hook before anything is sent: 500.
        let whole = try JesterFixtures.curl(["-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/fixed"])
        #expect(whole.stdout.hasSuffix("\n500"), "\(whole.stdout)")
        #expect(whole.stdout.contains("filter wasm:wholetrap failed"))
        // A streamed response's head went out before the hook failed at the end: cut.
        let streamed = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/resptrap/chunks/10/abc/def"])
        #expect(streamed.stdout.hasPrefix("HTTP/1.1 200"), "\(streamed.stdout)")
        #expect(streamed.stdout.contains("ABC"))
        #expect(streamed.status != 0, "curl saw the response cut before its end")
        // The gateway serves on, the failing routes too.
        #expect(
            try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/hello"])
                .stdout == "200"
        )
        #expect(
            try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/reqtrap"])
                .stdout == "200"
        )
    }

    @Test func aFailingHookFailsOpenAndTheBodyPassesUnchanged() async throws {
        let origin = try await TestOrigin { request in (.ok, HTTPHeaders(), Array("got:".utf8) + request.body) }
        let both = try BodyHookGuest.plugin("traps", request: .trap, response: .trap)
        let atEnd = try BodyHookGuest.plugin("trapsatend", response: .trapAtEnd)
        let routes = [
            BodyHookGuest.route("traps", both, policy: .failOpen),
            BodyHookGuest.route("trapsatend", atEnd, policy: .failOpen),
        ]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        for _ in 0..<3 {
            let result = try JesterFixtures.curl([
                "-s", "-w", "\n%{http_code}", "-d", "as sent", "http://127.0.0.1:\(port)/traps",
            ])
            #expect(result.stdout == "got:as sent\n200", "\(result.stdout)")
            #expect(origin.requests.last?.body == Array("as sent".utf8))
        }
        // The hook ran on the chunks, then failed at the end: the tail is skipped, the body ends.
        let late = try JesterFixtures.curl([
            "-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/trapsatend/chunks/10/abc/def",
        ])
        #expect(late.stdout == "ABCDEF\n200", "\(late.stdout)")
    }

    @Test func aHookPastItsDeadlineIsStopped() async throws {
        let origin = try await TestOrigin()
        let requestLoop = try BodyHookGuest.plugin("reqloop", request: .loop)
        let responseLoop = try BodyHookGuest.plugin("resploop", response: .loop)
        let routes = [BodyHookGuest.route("reqloop", requestLoop), BodyHookGuest.route("resploop", responseLoop)]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        let started = Date()
        // The manifest's timeout_ms is 200: a limit, so 503.
        let request = try JesterFixtures.curl([
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "x", "http://127.0.0.1:\(port)/reqloop",
        ])
        #expect(request.stdout == "503")
        let response = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/resploop/chunks/10/abc"])
        #expect(response.status != 0, "the streamed response is cut")
        #expect(Date().timeIntervalSince(started) < 3)
    }

    @Test func aBadResultAreaFailsTheRequestWithAClearError() async throws {
        let origin = try await TestOrigin()
        let area = try BodyHookGuest.plugin("badarea", request: .badArea)
        let discriminant = try BodyHookGuest.plugin("baddisc", request: .badDiscriminant)
        let routes = [BodyHookGuest.route("badarea", area), BodyHookGuest.route("baddisc", discriminant)]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        for name in ["badarea", "baddisc"] {
            let result = try JesterFixtures.curl([
                "-s", "-w", "\n%{http_code}", "-d", "x", "http://127.0.0.1:\(port)/\(name)",
            ])
            #expect(result.stdout.hasSuffix("\n500"), "\(name): \(result.stdout)")
            #expect(result.stdout.contains("filter wasm:\(name) failed"))
        }
        #expect(origin.requests.isEmpty)
    }

    @Test func aPluginThatBuffersABodyDoesNotGetItsHook() async throws {
        let origin = try await TestOrigin()
        // Both hooks would trap; the manifest buffers both bodies, so neither runs.
        let plugin = try BodyHookGuest.plugin(
            "buffered",
            request: .trap,
            response: .trap,
            extra: #", "http_filter": { "buffer_request_body": true, "buffer_response_body": true }"#
        )
        let (gw, port) = try await gateway(
            routes: [BodyHookGuest.route("buffered", plugin)],
            upstreams: [upstream("app", [origin])]
        )
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        let result = try JesterFixtures.curl(["-si", "-d", "kept", "http://127.0.0.1:\(port)/buffered/x"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout)")
        #expect(result.stdout.hasSuffix("POST /buffered/x 4"))
        #expect(result.stdout.lowercased().contains("content-length: 18"))
        #expect(origin.requests.last?.body == Array("kept".utf8))
    }

    @Test func aPluginWithOnlyBodyHooksIsAFilter() async throws {
        let origin = try await TestOrigin()
        let plugin = try BodyHookGuest.plugin("bodyonly", request: .upper, response: .upper, headHooks: false)
        let (gw, port) = try await gateway(
            routes: [BodyHookGuest.route("bodyonly", plugin)],
            upstreams: [upstream("app", [origin])]
        )
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        let result = try JesterFixtures.curl(["-s", "-d", "data", "http://127.0.0.1:\(port)/bodyonly/x"])
        // The origin saw "DATA[1]" (7 bytes); its answer goes through the response hook.
        #expect(result.stdout == "POST /BODYONLY/X 7[1]", "\(result.stdout)")
        #expect(origin.requests.last?.body == Array("DATA[1]".utf8))
    }
}

/// `examples/filters/stream-redact`, built from source with the C PDK, in the gateway.
@Suite(.serialized) struct StreamRedactExampleTests {
    @Test func theExampleMasksAWordAcrossChunksAndCountsTheRequestBody() async throws {
        let directory = try JesterFixtures.temporaryDirectory("stream-redact") + "/stream-redact"
        try FileManager.default.copyItem(
            atPath: JesterFixtures.repositoryRoot + "/examples/filters/stream-redact",
            toPath: directory
        )
        let root = JesterFixtures.repositoryRoot
        _ = try GuestToolchain().buildC(
            sources: [directory + "/stream_redact.c"],
            output: directory + "/stream-redact.wasm",
            includeDirectories: [try #require(GuestToolchain.cPDKIncludeDirectory(root: root))]
        )
        let origin = try await TestOrigin { request in
            (.ok, HTTPHeaders([("content-type", "text/plain")]), Array("origin got: ".utf8) + request.body)
        }
        var filter = FilterConfig(kind: .wasm, name: "redact", plugin: directory)
        filter.config = ["word": "secret"]
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer {
            Task {
                await gw.shutdown()
                await origin.stop()
            }
        }

        // "sec" and "ret" arrive in separate chunks: the filter holds "sec" back, then masks both.
        let streamed = try JesterFixtures.curl([
            "-s", "http://127.0.0.1:\(port)/chunks/40/the%20sec/ret%20is%20se/cret%20se",
        ])
        #expect(streamed.stdout == "the ****** is ****** se", "\(streamed.stdout)")

        // The request body is masked on its way up, split across chunks too, and counted.
        let raw = try await BodyHookGuest.sendChunked(port: port, path: "/up", parts: ["my secr", "et and secret"])
        #expect(raw.lowercased().contains("x-request-body-bytes: 20"), "\(raw)")
        #expect(BodyHookGuest.body(ofRaw: raw) == "origin got: my ****** and ******", "\(raw)")
        #expect(origin.requests.last?.body == Array("my ****** and ******".utf8))
    }
}
