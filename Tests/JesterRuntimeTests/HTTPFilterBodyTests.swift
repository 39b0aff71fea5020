import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import Testing

/// A hand-written guest of the `http-filter` world's body hooks (docs/abi.md, "Body hooks").
///
/// `on-response-body` looks at a chunk's first byte: `!` returns a result area outside memory,
/// `?` discriminant 7, `@` a list outside memory, `#` traps, `~` loops forever, `=` answers
/// `none`; anything else is upper-cased in place and returned. The end call returns the request
/// header `x-tail` when there is one, else `posts=N`, N the `cabi_post_on-response-body` calls
/// so far. `on-request-body` answers `none`, and `some("end")` at the end.
enum BodyHookRuntimeGuest {
    static let wat = """
        (module
          (import "jester:plugin/http@0.1.0" "[method]request.header" (func $req_header (param i32 i32 i32 i32)))
          (memory (export "memory") 1)
          (global $heap (mut i32) (i32.const 4096))
          (global $posts (mut i32) (i32.const 0))
          (data (i32.const 16) "x-tail")
          (data (i32.const 32) "posts=")
          (data (i32.const 48) "end")
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (if (i32.gt_u (i32.add (global.get $heap) (local.get 3)) (i32.const 60000)) (then (global.set $heap (i32.const 4096))))
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $p))
          (func $some (param $p i32) (param $n i32) (result i32)
            (i32.store8 (i32.const 512) (i32.const 1))
            (i32.store (i32.const 516) (local.get $p))
            (i32.store (i32.const 520) (local.get $n))
            (i32.const 512))
          (func (export "on-request-body") (param $req i32) (param $p i32) (param $n i32) (param $end i32) (result i32)
            (if (result i32) (local.get $end)
              (then (call $some (i32.const 48) (i32.const 3)))
              (else (i32.store8 (i32.const 512) (i32.const 0)) (i32.const 512))))
          (func (export "on-response-body") (param $req i32) (param $resp i32) (param $p i32) (param $n i32) (param $end i32) (result i32)
            (local $c i32) (local $i i32)
            (if (local.get $end)
              (then
                (call $req_header (local.get $req) (i32.const 16) (i32.const 6) (i32.const 600))
                (if (i32.load8_u (i32.const 600))
                  (then (return (call $some (i32.load (i32.const 604)) (i32.load (i32.const 608))))))
                (i32.store8 (i32.const 38) (i32.add (i32.const 48) (global.get $posts)))
                (return (call $some (i32.const 32) (i32.const 7)))))
            (local.set $c (i32.load8_u (local.get $p)))
            (if (i32.eq (local.get $c) (i32.const 33)) (then (return (i32.const 0x7FFF0000))))
            (if (i32.eq (local.get $c) (i32.const 63)) (then (i32.store8 (i32.const 512) (i32.const 7)) (return (i32.const 512))))
            (if (i32.eq (local.get $c) (i32.const 64)) (then (return (call $some (i32.const 0xFFF0) (i32.const 0x100000)))))
            (if (i32.eq (local.get $c) (i32.const 35)) (then unreachable))
            (if (i32.eq (local.get $c) (i32.const 126)) (then (loop $forever (br $forever))))
            (if (i32.eq (local.get $c) (i32.const 61)) (then (i32.store8 (i32.const 512) (i32.const 0)) (return (i32.const 512))))
            (block $done
              (loop $l
                (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
                (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
                  (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $l)))
            (call $some (local.get $p) (local.get $n)))
          (func (export "cabi_post_on-response-body") (param i32)
            (global.set $posts (i32.add (global.get $posts) (i32.const 1))))
        )
        """

    /// The guest with a deadline of `timeout` per call: generous by default, for a debug build of
    /// the interpreter on a busy machine.
    static func load(
        wat: String = wat, exports: [String] = ["on-request-body", "on-response-body"], timeout: Duration = .seconds(5)
    ) throws -> Plugin {
        let manifest = JesterFixtures.manifest(
            id: "body-hooks",
            exports: exports.map { ExportDeclaration(name: $0, kind: .httpFilter) },
            limits: ResourceLimits(timeout: timeout)
        )
        return try PluginHost(logger: JesterFixtures.logger).makePlugin(
            manifest: manifest,
            wasm: JesterFixtures.wasm(wat)
        )
    }
}

/// The request and response of a body hook call: a request header map, nothing editable.
final class FixedMessages: HTTPFilterMessages {
    var requestHeaders: [String: String]

    init(requestHeaders: [String: String] = [:]) {
        self.requestHeaders = requestHeaders
    }

    var method: String { "POST" }
    func setMethod(_ method: String) -> Bool { false }
    var path: String { "/" }
    func setPath(_ path: String) -> Bool { false }
    var query: String { "" }
    func setQuery(_ query: String) -> Bool { false }
    var clientAddress: String { "127.0.0.1" }
    var status: Int { 200 }
    func setStatus(_ status: Int) -> Bool { false }
    func header(_ name: String, in message: HTTPFilterMessage) -> String? {
        message == .request ? requestHeaders[name] : nil
    }
    func headerValues(_ name: String, in message: HTTPFilterMessage) -> [String] {
        header(name, in: message).map { [$0] } ?? []
    }
    func headerNames(in message: HTTPFilterMessage) -> [String] {
        message == .request ? Array(requestHeaders.keys) : []
    }
    func setHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool { false }
    func addHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool { false }
    func removeHeader(_ name: String, in message: HTTPFilterMessage) {}
    func withBody(
        of message: HTTPFilterMessage,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> HTTPFilterBodyUnavailable? { .notBuffered }
    func setBody(_ bytes: UnsafeRawBufferPointer, of message: HTTPFilterMessage) {}
}

extension HTTPFilterSession {
    /// `onBody` with a string chunk, for tests.
    func body(
        _ message: HTTPFilterMessage,
        _ chunk: String,
        end: Bool = false,
        messages: any HTTPFilterMessages = FixedMessages()
    ) throws -> String? {
        try Array(chunk.utf8).withUnsafeBytes { try onBody(message, chunk: $0, end: end, messages: messages) }.map {
            String(decoding: $0, as: UTF8.self)
        }
    }
}

@Suite struct HTTPFilterBodyTests {
    @Test func chunksGoThroughTheHooksOnOneInstance() throws {
        let plugin = try BodyHookRuntimeGuest.load()
        let session = try plugin.openHTTPFilterSession()
        defer { session.close() }
        #expect(session.handlesRequestBodies)
        #expect(session.handlesResponseBodies)
        #expect(!session.handlesRequests)

        #expect(try session.body(.request, "as is") == nil)
        #expect(try session.body(.request, "", end: true) == "end")
        #expect(try session.body(.response, "hello, ") == "HELLO, ")
        #expect(try session.body(.response, "=unchanged") == nil)
        #expect(try session.body(.response, "world") == "WORLD")
        // cabi_post_on-response-body ran after each of the three calls (none included).
        #expect(try session.body(.response, "", end: true) == "posts=3")
        // The request is readable during a body hook.
        #expect(
            try session.body(.response, "", end: true, messages: FixedMessages(requestHeaders: ["x-tail": "<tail>"]))
                == "<tail>"
        )
        // A chunk bigger than one page of the guest's bump allocator.
        let big = String(repeating: "abcdefgh", count: 4096)
        #expect(try session.body(.response, big) == big.uppercased())
        session.close()
        #expect(plugin.status.calls == 1)
        #expect(plugin.status.instancesCreated == 1)
    }

    @Test func aPluginWithoutBodyHooksForwardsChunksUnchanged() throws {
        let wat =
            #"(module (memory (export "memory") 1) (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64)) (func (export "on-request") (param i32 i32) (result i32) (i32.const 0)))"#
        let session = try BodyHookRuntimeGuest.load(wat: wat, exports: ["on-request"]).openHTTPFilterSession()
        defer { session.close() }
        #expect(!session.handlesRequestBodies && !session.handlesResponseBodies)
        #expect(try session.body(.response, "x") == nil)
        #expect(try session.body(.request, "", end: true) == nil)
    }

    @Test(arguments: [
        ("!", "returned a result area at 2147418112 that is not inside its memory"),
        ("?", "returned discriminant 7 at +0 of its result area; expected 0 (none"),
        ("@", "returned 1048576 bytes at 65520, which are not inside its memory"),
    ])
    func aMalformedResultIsABadGuestResponseNamingTheExport(_ chunk: String, _ message: String) throws {
        let plugin = try BodyHookRuntimeGuest.load()
        let session = try plugin.openHTTPFilterSession()
        defer { session.close() }
        #expect(try session.body(.response, "fine") == "FINE")
        let error = try #require(throws: PluginError.self) { try session.body(.response, chunk) }
        #expect(error.code == .badGuestResponse)
        #expect(error.export == "on-response-body")
        #expect(error.description.contains(message), "\(error)")
        #expect(error.description.contains("on-response-body"))
        // The session is unusable afterwards, and its instance was thrown away.
        #expect(throws: PluginError.self) { try session.body(.response, "again") }
        #expect(plugin.status.instancesCreated == 1)
        let next = try plugin.openHTTPFilterSession()
        defer { next.close() }
        #expect(try next.body(.response, "ok") == "OK")
        #expect(plugin.status.instancesCreated == 2)
    }

    @Test func aTrapOrALoopFailsTheCallWithItsKind() throws {
        let plugin = try BodyHookRuntimeGuest.load(timeout: .milliseconds(100))
        let trapping = try plugin.openHTTPFilterSession()
        let trap = try #require(throws: GuestTrap.self) { try trapping.body(.response, "#") }
        #expect(trap.export == "on-response-body")
        trapping.close()

        let looping = try plugin.openHTTPFilterSession()
        let started = ContinuousClock.now
        let limit = try #require(throws: PluginError.self) { try looping.body(.response, "~") }
        #expect(limit.limit == .timeout)
        #expect(ContinuousClock.now - started < .seconds(2))
        looping.close()
        #expect(plugin.status.traps == 1)
        #expect(plugin.status.timeouts == 1)
    }

    @Test func checkReportsWrongBodyHookSignaturesAndUnusedHooks() throws {
        let wat = """
            (module (memory (export "memory") 1)
              (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (i32.const 64))
              (func (export "on-request-body") (param i32 i32 i32) (result i32) (i32.const 0))
              (func (export "on-response-body") (param i32 i32 i32 i32 i32) (result i32) (i32.const 0)))
            """
        var manifest = JesterFixtures.manifest(id: "hooks")
        manifest.abi = .jester
        manifest.httpFilter = HTTPFilterOptions(bufferResponseBody: true)
        let report = PluginHost(logger: JesterFixtures.logger).validate(
            manifest: manifest,
            wasm: JesterFixtures.wasm(wat)
        )
        let signature = report.issues.first { $0.code == "export-signature" }
        #expect(
            signature?.message.contains("\"on-request-body\" has signature (param i32 i32 i32) (result i32)") == true,
            "\(report.issues)"
        )
        #expect(signature?.message.contains("(param i32 i32 i32 i32) (result i32)") == true)
        #expect(
            report.issues.contains {
                $0.code == "body-hook-unused" && $0.severity == .warning && $0.message.contains("on-response-body")
            }
        )
        #expect(!report.issues.contains { $0.message.contains("\"on-response-body\" has signature") })
    }
}

/// The Swift PDK's body hooks, built from source with Embedded Swift.
@Suite struct SwiftPDKBodyHookTests {
    static let source = """
        extension Plugin {
            static func onRequestBody(_ request: Request, _ chunk: [UInt8], end: Bool) -> [UInt8]? {
                end ? Array("[end]".utf8) : nil
            }

            static func onResponseBody(_ request: Request, _ response: Response, _ chunk: [UInt8], end: Bool) -> [UInt8]? {
                if end { return Array((request.header("x-tail") ?? "<none>").utf8) }
                return chunk.map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }
            }
        }
        """

    @Test func theSwiftPDKExportsBodyHooks() throws {
        let directory = try JesterFixtures.temporaryDirectory("swift-body-hooks")
        try Self.source.write(toFile: directory + "/Hooks.swift", atomically: true, encoding: .utf8)
        let exports = ["on-request-body", "on-response-body"]
        let wasm = try JesterFixtures.buildSwiftPlugin(
            directory: directory,
            exports: exports,
            output: directory + "/hooks.wasm"
        )
        let manifest = JesterFixtures.manifest(
            id: "swift-hooks",
            exports: exports.map { ExportDeclaration(name: $0, kind: .httpFilter) }
        )
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: manifest, wasm: wasm)
        let info = try ModuleInfo(bytes: wasm)
        #expect(info.functionExport(named: "cabi_post_on-response-body") != nil)

        let session = try plugin.openHTTPFilterSession()
        defer { session.close() }
        #expect(try session.body(.request, "as is") == nil)
        #expect(try session.body(.request, "", end: true) == "[end]")
        #expect(try session.body(.response, "shout, please") == "SHOUT, PLEASE")
        #expect(
            try session.body(.response, "", end: true, messages: FixedMessages(requestHeaders: ["x-tail": "bye"]))
                == "bye"
        )
        #expect(try session.body(.response, "", end: true) == "<none>")
    }
}
