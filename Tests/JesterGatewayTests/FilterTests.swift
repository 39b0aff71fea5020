import Foundation
import JesterConfig
import JesterGateway
import JesterManifest
import JesterTesting
import NIOHTTP1
import Testing

/// A hand-written guest of the `http-filter` world (docs/abi.md): a request with `x-deny` is
/// answered 403 by the filter; otherwise `x-user` is copied into `x-filtered` (or `none`).
/// `on-response` adds `x-wasm: on-response` and `x-pinned: yes` when `on-request` of the same
/// request ran on the same instance. (Misbehaving guests are in `Fixtures/filters`.)
enum FilterGuest {
    static let wat = """
        (module
          (import "jester:plugin/http@0.1.0" "[method]request.header" (func $req_header (param i32 i32 i32 i32)))
          (import "jester:plugin/http@0.1.0" "[method]request.set-header" (func $req_set (param i32 i32 i32 i32 i32) (result i32)))
          (import "jester:plugin/http@0.1.0" "[method]response.set-status" (func $resp_status (param i32 i32) (result i32)))
          (import "jester:plugin/http@0.1.0" "[method]response.set-header" (func $resp_set (param i32 i32 i32 i32 i32) (result i32)))
          (import "jester:plugin/http@0.1.0" "[method]response.set-body" (func $resp_body (param i32 i32 i32)))
          (memory (export "memory") 2)
          (global $heap (mut i32) (i32.const 8192))
          (global $pinned (mut i32) (i32.const 0))
          (data (i32.const 16) "x-user")
          (data (i32.const 32) "x-filtered")
          (data (i32.const 48) "none")
          (data (i32.const 64) "x-deny")
          (data (i32.const 80) "x-denied-by")
          (data (i32.const 96) "wasm")
          (data (i32.const 112) "denied\\n")
          (data (i32.const 176) "x-wasm")
          (data (i32.const 192) "on-response")
          (data (i32.const 208) "x-pinned")
          (data (i32.const 224) "yes")
          (func $alloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))
            (if (i32.gt_u (global.get $heap) (i32.const 120000)) (then (global.set $heap (i32.const 8192)) (local.set $p (i32.const 8192))
              (global.set $heap (i32.add (i32.const 8192) (i32.and (i32.add (local.get 3) (i32.const 7)) (i32.const -8))))))
            (local.get $p))
          (func (export "on-request") (param $req i32) (param $resp i32) (result i32)
            (global.set $pinned (i32.const 1))
            (call $req_header (local.get $req) (i32.const 64) (i32.const 6) (i32.const 1040))
            (if (i32.load8_u (i32.const 1040))
              (then
                (drop (call $resp_status (local.get $resp) (i32.const 403)))
                (drop (call $resp_set (local.get $resp) (i32.const 80) (i32.const 11) (i32.const 96) (i32.const 4)))
                (call $resp_body (local.get $resp) (i32.const 112) (i32.const 7))
                (return (i32.const 1))))
            (call $req_header (local.get $req) (i32.const 16) (i32.const 6) (i32.const 1056))
            (if (i32.load8_u (i32.const 1056))
              (then (drop (call $req_set (local.get $req) (i32.const 32) (i32.const 10) (i32.load (i32.const 1060)) (i32.load (i32.const 1064)))))
              (else (drop (call $req_set (local.get $req) (i32.const 32) (i32.const 10) (i32.const 48) (i32.const 4)))))
            (i32.const 0))
          (func (export "on-response") (param $req i32) (param $resp i32) (result i32)
            (drop (call $resp_set (local.get $resp) (i32.const 176) (i32.const 6) (i32.const 192) (i32.const 11)))
            (if (global.get $pinned)
              (then (drop (call $resp_set (local.get $resp) (i32.const 208) (i32.const 8) (i32.const 224) (i32.const 3)))))
            (global.set $pinned (i32.const 0))
            (i32.const 0)))
        """

    /// A response-body filter: buffers the response and upper-cases it.
    static let upperWAT = """
        (module
          (import "jester:plugin/http@0.1.0" "[method]response.body" (func $body (param i32 i32)))
          (import "jester:plugin/http@0.1.0" "[method]response.set-body" (func $set_body (param i32 i32 i32)))
          (memory (export "memory") 4)
          (global $heap (mut i32) (i32.const 4096))
          (func $alloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $p))
          (func (export "on-response") (param $req i32) (param $resp i32) (result i32)
            (local $p i32) (local $n i32) (local $i i32) (local $c i32)
            (global.set $heap (i32.const 4096))
            (call $body (local.get $resp) (i32.const 64))
            (if (i32.load8_u (i32.const 64)) (then unreachable))
            (local.set $p (i32.load (i32.const 68)))
            (local.set $n (i32.load (i32.const 72)))
            (block $done
              (loop $l
                (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
                (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
                  (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l)))
            (call $set_body (local.get $resp) (local.get $p) (local.get $n))
            (i32.const 0)))
        """

    /// Writes a plugin directory (plugin.json + module) and returns its path.
    static func plugin(id: String, wat: String, extra: String = "") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jester-filter-\(id)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(JesterFixtures.wasm(wat)).write(to: URL(fileURLWithPath: directory + "/\(id).wasm"))
        let manifest = """
            { "id": "\(id)", "version": "1.0.0", "module": "\(id).wasm", "abi": "jester@0.1.0",
              "limits": { "memory_bytes": 1048576, "timeout_ms": 200 }\(extra) }
            """
        try manifest.write(toFile: directory + "/plugin.json", atomically: true, encoding: .utf8)
        return directory
    }
}

@Suite(.serialized) struct WasmAndBuiltinFilterTests {
    @Test func wasmFilterEditsRequestAndResponseOnOneInstance() async throws {
        let origin = try await TestOrigin()
        let plugin = try FilterGuest.plugin(id: "echo", wat: FilterGuest.wat)
        let filter = FilterConfig(kind: .wasm, name: "echo", plugin: plugin)
        // In `filters`, a filter runs both ways: on-request, then on-response on the way back.
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        for round in 0..<3 {
            let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/hello", "-H", "x-user: alice\(round)"])
            #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout)")
            #expect(result.stdout.lowercased().contains("x-wasm: on-response"))
            #expect(result.stdout.lowercased().contains("x-pinned: yes"))
        }
        let seen = origin.requests.map { $0.head.headers["x-filtered"] }
        #expect(seen == [["alice0"], ["alice1"], ["alice2"]])
        _ = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/"])
        #expect(origin.requests.last?.head.headers["x-filtered"] == ["none"])
    }

    @Test func wasmFilterShortCircuitsAndResponseFiltersStillRun() async throws {
        let origin = try await TestOrigin()
        let plugin = try FilterGuest.plugin(id: "deny", wat: FilterGuest.wat)
        let filter = FilterConfig(kind: .wasm, name: "deny", plugin: plugin)
        let headers = FilterConfig(kind: .builtin, name: "headers", config: ["response": ["set": ["x-after": "yes"]]])
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter], responseFilters: [headers])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/x", "-H", "x-deny: 1"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 403"), "\(result.stdout)")
        #expect(result.stdout.lowercased().contains("x-denied-by: wasm"))
        #expect(result.stdout.lowercased().contains("x-after: yes"))
        #expect(result.stdout.hasSuffix("denied\n"))
        #expect(origin.requests.isEmpty)
    }

    @Test func misbehavingWasmFiltersFailPerPolicyAndTheGatewayKeepsServing() async throws {
        let origin = try await TestOrigin()
        var routes: [RouteConfig] = []
        for name in ["trap-on-request", "loop-forever", "grow-memory", "bad-action"] {
            let plugin = try FilterGuest.plugin(id: name, wat: try FilterFixtures.source(name))
            let closed = FilterConfig(kind: .wasm, name: name, plugin: plugin)
            var open = closed
            open.failurePolicy = .failOpen
            routes.append(RouteConfig(name: "open-\(name)", matchers: MatcherConfig(pathPrefix: "/open/\(name)"), action: .upstream("app"), filters: [open]))
            routes.append(RouteConfig(name: name, matchers: MatcherConfig(pathPrefix: "/\(name)"), action: .upstream("app"), filters: [closed]))
        }
        routes.append(RouteConfig(name: "plain", action: .upstream("app")))
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        func status(_ path: String) throws -> (Int, String) {
            let result = try JesterFixtures.curl(["-s", "-o", "/dev/stderr", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"])
            return (Int(result.stdout) ?? 0, result.stderr)
        }
        let started = Date()
        #expect(try status("/trap-on-request").0 == 500)
        #expect(try status("/loop-forever").0 == 503)  // the 200 ms deadline is a limit
        #expect(try status("/grow-memory").0 == 503)  // so is memory
        #expect(try status("/bad-action").0 == 500)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(try status("/hello").0 == 200)
        // fail_open: the request goes on without the filter.
        for name in ["trap-on-request", "loop-forever", "grow-memory", "bad-action"] {
            #expect(try status("/open/\(name)").0 == 200, "\(name)")
        }
        // The body names the filter, not the trap's details.
        let (_, body) = try status("/trap-on-request")
        #expect(body.contains("filter wasm:trap-on-request failed"))
        #expect(!body.contains("unreachable"))
    }

    @Test func bufferedResponseBodyIsRewritten() async throws {
        let origin = try await TestOrigin()
        let plugin = try FilterGuest.plugin(id: "upper", wat: FilterGuest.upperWAT, extra: #", "http_filter": { "buffer_response_body": true }"#)
        let route = RouteConfig(name: "app", action: .upstream("app"), responseFilters: [FilterConfig(kind: .wasm, name: "upper", plugin: plugin)])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/some/path"])
        #expect(result.stdout.hasSuffix("GET /SOME/PATH 0"), "\(result.stdout)")
        #expect(result.stdout.lowercased().contains("content-length: 16"))
        // Over HTTP/2 too (h2c prior knowledge is off here, so HTTP/1.1 keep-alive twice).
        let twice = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/a", "http://127.0.0.1:\(port)/b"])
        #expect(twice.stdout == "GET /A 0GET /B 0")
    }

    /// A body over the buffer of a filter that wants it whole: with fail_open the filter is
    /// skipped and the response streams through the others; with fail_closed the answer is 500.
    @Test func anOversizedBodySkipsFailOpenBufferingFilters() async throws {
        let big = String(repeating: "x", count: 5000)
        let origin = try await TestOrigin { _ in (.ok, HTTPHeaders(), Array(big.utf8)) }
        let plugin = try FilterGuest.plugin(
            id: "upper", wat: FilterGuest.upperWAT, extra: #", "http_filter": { "buffer_response_body": true, "max_body_bytes": 1024 }"#)
        var upper = FilterConfig(kind: .wasm, name: "upper", plugin: plugin)
        upper.failurePolicy = .failOpen
        let tag = FilterConfig(kind: .builtin, name: "headers", config: ["response": ["set": ["x-tag": "1"]]])
        var closed = upper
        closed.failurePolicy = .failClosed
        let routes = [
            RouteConfig(name: "open", matchers: MatcherConfig(pathPrefix: "/open"), action: .upstream("app"), responseFilters: [upper, tag]),
            RouteConfig(name: "closed", action: .upstream("app"), responseFilters: [closed, tag]),
        ]
        let (gw, port) = try await gateway(routes: routes, upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let open = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/open"])
        #expect(open.stdout.hasPrefix("HTTP/1.1 200"), "\(open.stdout)")
        #expect(open.stdout.lowercased().contains("x-tag: 1"), "\(open.stdout)")
        #expect(open.stdout.hasSuffix("\r\n\r\n" + big), "the body streams unchanged: \(open.stdout.suffix(200))")
        let closedResult = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/closed"])
        #expect(closedResult.stdout.hasPrefix("HTTP/1.1 500"), "\(closedResult.stdout)")
    }

    @Test func builtinHeadersFilterEditsBothWays() async throws {
        let origin = try await TestOrigin()
        let filter = FilterConfig(
            kind: .builtin, name: "headers",
            config: ["request": ["set": ["x-env": "prod"], "remove": ["x-debug"]], "response": ["add": ["x-served-by": "jester"], "remove": ["x-origin"]]])
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/", "-H", "x-debug: 1", "-H", "x-env: dev"])
        #expect(result.stdout.lowercased().contains("x-served-by: jester"))
        #expect(!result.stdout.lowercased().contains("x-origin:"))
        let seen = try #require(origin.requests.first).head.headers
        #expect(seen["x-env"] == ["prod"])
        #expect(seen["x-debug"].isEmpty)
    }

    @Test func badFilterConfigNamesFileLineAndKey() async throws {
        let location = SourceLocation(file: "/etc/jester/jester.toml", line: 12)
        let filter = FilterConfig(
            kind: .builtin, name: "headers", config: ["request": ["sett": [:]]], location: location,
            configLocations: ["$.request": SourceLocation(file: "/etc/jester/jester.toml", line: 14)])
        let unknown = FilterConfig(kind: .builtin, name: "header", location: location)
        let route = RouteConfig(name: "app", action: .respond(StaticResponseConfig()), filters: [filter, unknown])
        let config = GatewayConfig(listeners: [JesterFixtures.listener()], routes: [route])
        await #expect {
            try await JesterFixtures.startGateway(config)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("/etc/jester/jester.toml:14: route 'app' filters[0] (builtin:headers): config.request.sett: unknown property \"sett\"")
                && text.contains("/etc/jester/jester.toml:12: route 'app' filters[1] (builtin:header): name: there is no built-in filter \"header\". Did you mean \"headers\"?")
        }
    }

    @Test func dylibFiltersAreRefusedUnlessAllowed() async throws {
        let filter = FilterConfig(kind: .dylib, name: "native", module: "/tmp/libnative.so", location: SourceLocation(file: "/x/jester.toml", line: 3))
        let route = RouteConfig(name: "app", action: .respond(StaticResponseConfig()), filters: [filter])
        let config = GatewayConfig(listeners: [JesterFixtures.listener()], routes: [route])
        await #expect {
            try await JesterFixtures.startGateway(config)
        } throws: { error in
            String(describing: error).contains("/x/jester.toml:3: route 'app' filters[0] (dylib:native): type: dylib filters run native code unsandboxed")
                && String(describing: error).contains("--allow-unsafe-dylib")
        }
    }
}

@Suite(.serialized) struct FilterDegradationTests {
    @Test func repeatedTrapsDegradeThePluginAndBackOff() async throws {
        let origin = try await TestOrigin()
        let plugin = try FilterGuest.plugin(id: "trap-on-request", wat: try FilterFixtures.source("trap-on-request"))
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [FilterConfig(kind: .wasm, name: "trap", plugin: plugin)])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }

        var codes: [String] = []
        for _ in 0..<8 {
            codes.append(try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).stdout)
        }
        // Five traps (500) degrade the plugin; then it is in backoff and fails at once (503).
        #expect(codes == ["500", "500", "500", "500", "500", "503", "503", "503"])
        let status = try #require(gw.pluginStatuses.first { $0.id == "trap-on-request" })
        #expect(status.state == .degraded)
        #expect(status.traps == 5)
        // After the backoff the plugin is tried again (and traps again).
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).stdout == "500")
        #expect(gw.pluginStatuses.first { $0.id == "trap-on-request" }?.traps == 6)
    }
}

@Suite(.serialized) struct DylibGatewayTests {
    @Test func dylibFilterRunsWhenAllowed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jester-dylib-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let library = directory + "/libheader.so"
        let root = JesterFixtures.repositoryRoot
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compile.arguments = ["cc", "-shared", "-fPIC", "-O2", "-I", root + "/include", "-o", library, root + "/examples/filters/dylib-header/header.c"]
        try compile.run()
        compile.waitUntilExit()
        #expect(compile.terminationStatus == 0)

        let origin = try await TestOrigin()
        let filter = FilterConfig(
            kind: .dylib, name: "api-key", module: library, config: ["require": "x-api-key", "add_header": "x-gateway", "add_value": "jester"])
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter])
        let listener = JesterFixtures.listener()
        let config = GatewayConfig(listeners: [listener], routes: [route], upstreams: [upstream("app", [origin])])
        let gw = try await JesterFixtures.startGateway(config, allowUnsafeDylib: true)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown(); await origin.stop() } }

        let denied = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/"])
        #expect(denied.stdout.hasPrefix("HTTP/1.1 401"), "\(denied.stdout)")
        let allowed = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/", "-H", "x-api-key: k"])
        #expect(allowed.stdout.hasPrefix("HTTP/1.1 200"))
        #expect(allowed.stdout.lowercased().contains("x-gateway: jester"))
        #expect(origin.requests.count == 1)
        #expect(origin.requests.first?.head.headers["x-gateway"] == ["jester"])
    }
}

extension DylibGatewayTests {
    /// A library whose every instance numbers itself (`x-instance` on the response) and says
    /// what config it was made from.
    static let countingFilter = """
        #include <jester_filter.h>
        #include <stdio.h>
        #include <string.h>
        #include <stdlib.h>
        typedef struct { const jester_host_api *api; char number[16]; } instance_t;
        static int made;
        static void *create(const jester_host_api *api, const char *config, size_t len, char *err, size_t err_len) {
            instance_t *instance = calloc(1, sizeof *instance);
            instance->api = api;
            snprintf(instance->number, sizeof instance->number, "%d", ++made);
            return instance;
        }
        static int on_response(void *p, jester_exchange *x) {
            instance_t *instance = p;
            instance->api->set_header(x, JESTER_RESPONSE, "x-instance", 10, instance->number, strlen(instance->number));
            return JESTER_CONTINUE;
        }
        static void destroy(void *p) { free(p); }
        static const jester_filter_descriptor descriptor = {
            .abi_major = JESTER_FILTER_ABI_VERSION_MAJOR, .abi_minor = JESTER_FILTER_ABI_VERSION_MINOR,
            .size = sizeof(jester_filter_descriptor), .name = "counting",
            .create = create, .on_response = on_response, .destroy = destroy,
        };
        JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void) { return &descriptor; }
        """

    /// A reload keeps an unchanged dylib entry's instance (no new `create`), makes a new one for
    /// a changed config or a renamed route, and a check (`jester config validate`) leaves the
    /// serving instance alone.
    @Test func reloadKeepsAnUnchangedDylibInstance() async throws {
        let directory = try JesterFixtures.temporaryDirectory("dylib-reload")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.countingFilter.write(toFile: directory + "/counting.c", atomically: true, encoding: .utf8)
        let library = directory + "/libcounting.so"
        let compiled = try JesterFixtures.run(
            "/usr/bin/env", ["cc", "-shared", "-fPIC", "-O2", "-I", JesterFixtures.repositoryRoot + "/include", "-o", library, directory + "/counting.c"])
        try #require(compiled.status == 0, "\(compiled.stderr)")

        let origin = try await TestOrigin()
        let listener = JesterFixtures.listener()
        func config(route: String = "app", setting: String = "a") -> GatewayConfig {
            let filter = FilterConfig(kind: .dylib, name: "count", module: library, config: ["setting": .string(setting)])
            return GatewayConfig(
                listeners: [listener], routes: [RouteConfig(name: route, action: .upstream("app"), filters: [filter])],
                upstreams: [upstream("app", [origin])])
        }
        let gw = try await JesterFixtures.startGateway(config(), allowUnsafeDylib: true)
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let port = try #require(gw.port(of: listener.name))
        func instance() throws -> String {
            let response = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/"]).stdout.lowercased()
            return response.split(separator: "\r\n").first { $0.hasPrefix("x-instance: ") }.map { String($0.dropFirst(12)) } ?? "none"
        }
        let first = try instance()
        #expect(first != "none")
        try await gw.reload(config())
        #expect(try instance() == first)
        try await gw.reload(config())
        #expect(try instance() == first)
        // A check makes an instance of its own and the served one stays.
        try await Gateway(config: config(), logger: JesterFixtures.logger, allowUnsafeDylib: true).check()
        #expect(try instance() == first)
        try await gw.reload(config(setting: "b"))
        let changed = try instance()
        #expect(changed != first && changed != "none")
        try await gw.reload(config(route: "renamed", setting: "b"))
        let renamed = try instance()
        #expect(renamed != changed && renamed != "none")
    }
}

@Suite(.serialized) struct FilterReloadTests {
    @Test func reloadPicksUpAChangedPluginAndKeepsUnchangedOnes() async throws {
        let origin = try await TestOrigin()
        let echo = try FilterGuest.plugin(id: "echo", wat: FilterGuest.wat)
        let trap = try FilterGuest.plugin(id: "swap", wat: try FilterFixtures.source("echo-header"))
        let routes = [
            RouteConfig(name: "a", matchers: MatcherConfig(pathPrefix: "/a"), action: .upstream("app"), filters: [FilterConfig(kind: .wasm, name: "echo", plugin: echo)]),
            RouteConfig(name: "b", action: .upstream("app"), filters: [FilterConfig(kind: .wasm, name: "swap", plugin: trap)]),
        ]
        let listener = JesterFixtures.listener()
        let config = GatewayConfig(listeners: [listener], routes: routes, upstreams: [upstream("app", [origin])])
        let gw = try await JesterFixtures.startGateway(config)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown(); await origin.stop() } }

        #expect(try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/b"]).stdout == "200")
        _ = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/a", "-H", "x-user: u"])
        let echoBefore = try #require(gw.pluginStatuses.first { $0.id == "echo" })

        // The plugin file of route b changes (now it traps); route a's stays as it was.
        try Data(JesterFixtures.wasm(try FilterFixtures.source("trap-on-request"))).write(to: URL(fileURLWithPath: trap + "/swap.wasm"))
        try await gw.reload(config)
        #expect(try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/b"]).stdout == "500")
        _ = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/a", "-H", "x-user: u"])
        let echoAfter = try #require(gw.pluginStatuses.first { $0.id == "echo" })
        // The same plugin object, warm instances and counters included.
        #expect(echoAfter.instancesCreated == echoBefore.instancesCreated)
        #expect(echoAfter.calls > echoBefore.calls)
        #expect(gw.pluginStatuses.filter { $0.id == "swap" }.count == 1)
    }

    @Test func aBrokenFilterConfigOnReloadKeepsTheOldChain() async throws {
        let origin = try await TestOrigin()
        let good = FilterConfig(kind: .builtin, name: "headers", config: ["request": ["set": ["x-v": "1"]]])
        let listener = JesterFixtures.listener()
        let config = GatewayConfig(listeners: [listener], routes: [RouteConfig(name: "app", action: .upstream("app"), filters: [good])], upstreams: [upstream("app", [origin])])
        let gw = try await JesterFixtures.startGateway(config)
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown(); await origin.stop() } }

        var broken = config
        broken.routes[0].filters = [FilterConfig(kind: .builtin, name: "headers", config: ["request": ["set": ["x-v": 2]]])]
        await #expect(throws: (any Error).self) { try await gw.reload(broken) }
        _ = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/"])
        #expect(origin.requests.last?.head.headers["x-v"] == ["1"])
    }
}

@Suite(.serialized) struct ProxyControlFilterTests {
    @Test func retryMovesToTheNextTargetAndTimeoutBoundsTheExchange() async throws {
        let failing = try await TestOrigin(name: "failing") { _ in (.serviceUnavailable, HTTPHeaders(), Array("down".utf8)) }
        let healthy = try await TestOrigin(name: "healthy")
        let retry = FilterConfig(kind: .builtin, name: "retry", config: ["attempts": 3, "backoff": "5ms"])
        let timeout = FilterConfig(kind: .builtin, name: "timeout", config: ["duration": "300ms"])
        let routes = [
            RouteConfig(name: "slow", matchers: MatcherConfig(pathPrefix: "/slow"), action: .upstream("one"), filters: [timeout]),
            RouteConfig(name: "app", action: .upstream("two"), filters: [retry]),
        ]
        let (gw, port) = try await gateway(
            routes: routes, upstreams: [upstream("two", [failing, healthy], strategy: .roundRobin), upstream("one", [healthy])])
        defer { Task { await gw.shutdown(); await failing.stop(); await healthy.stop() } }

        // Round robin alternates; every request ends on the healthy origin after at most one retry.
        for _ in 0..<4 {
            let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/x"])
            #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout)")
            #expect(result.stdout.lowercased().contains("x-origin: healthy"))
        }
        #expect(failing.requests.count >= 1)
        // A POST is not re-sent after the upstream saw it.
        let post = try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "x", "http://127.0.0.1:\(port)/x", "http://127.0.0.1:\(port)/x"])
        #expect(post.stdout.contains("503"))

        let started = Date()
        let slow = try JesterFixtures.curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/slow/2000"])
        #expect(slow.stdout == "504")
        #expect(Date().timeIntervalSince(started) < 1.5)
    }
}
