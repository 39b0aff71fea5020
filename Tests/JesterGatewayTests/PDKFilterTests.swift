import Foundation
import JesterConfig
import JesterGateway
import JesterManifest
import JesterRuntime
import JesterTesting
import JesterToolchain
import NIOHTTP1
import Testing

/// The http filters of `Fixtures/pdk`, one per PDK, built from source with the toolchain API and
/// run in the gateway over loopback. Both do the same (the comment at the top of each source).
enum PDKFilters {
    static let rustAvailable = (try? RustToolchain()) != nil

    /// Copies fixture `name` to a temporary directory, builds its module there, and returns the
    /// plugin directory and the module's size.
    static func build(_ name: String) throws -> (directory: String, bytes: Int) {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pdk/\(name)").path
        let directory = try JesterFixtures.temporaryDirectory(name) + "/" + name
        try FileManager.default.copyItem(atPath: source, toPath: directory)
        let manifest = try PluginBundle.readManifest(directory + "/plugin.json")
        let output = directory + "/" + (manifest.module ?? "plugin.wasm")
        let root = JesterFixtures.repositoryRoot
        let result: GuestBuildResult
        if let crateRoot = RustToolchain.crateRoot(ofPluginDirectory: directory) {
            result = try RustToolchain().buildRust(
                crateRoot: crateRoot, pdkSource: RustToolchain.rustPDKSource(root: root), output: output,
                crateName: RustToolchain.crateName(forPluginID: manifest.id))
        } else {
            result = try GuestToolchain().buildC(
                sources: [directory + "/filter.c"], output: output,
                includeDirectories: [try #require(GuestToolchain.cPDKIncludeDirectory(root: root))])
        }
        return (directory, result.byteCount)
    }

    /// Runs the filter of `directory` on a route in front of an origin that answers "hello ",
    /// and checks every edit of the fixtures' contract. `tag` is the filter's config (nil: none,
    /// so the filter uses `defaultTag`).
    static func exercise(_ directory: String, tag: String?, defaultTag: String) async throws {
        let origin = try await TestOrigin { _ in
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain")
            return (.ok, headers, Array("hello ".utf8))
        }
        let config: JSONValue = tag.map { .object([("tag", .string($0))]) } ?? .object([])
        let filter = FilterConfig(kind: .wasm, name: "pdk", plugin: directory, config: config)
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter])
        let (gw, port) = try await gateway(routes: [route], upstreams: [upstream("app", [origin])])
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let expected = tag ?? defaultTag

        let result = try JesterFixtures.curl([
            "-si", "http://127.0.0.1:\(port)/items/7?full=1",
            "-H", "x-multi: a", "-H", "x-multi: b", "-H", "x-secret: hunter2",
        ])
        #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout)")
        let seen = try #require(origin.requests.last?.head.headers)
        #expect(seen["x-pdk-filter"] == [expected])
        #expect(seen["x-pdk-request"] == ["GET /items/7?full=1"])
        #expect(seen["x-pdk-multi"] == ["a,b"])
        // The gateway grants no clock or random: the host call answers permission-denied.
        #expect(seen["x-pdk-random"] == ["permission-denied"])
        #expect(seen["x-secret"].isEmpty)
        let response = result.stdout.lowercased()
        #expect(response.contains("x-pdk-status: 200"), "\(result.stdout)")
        #expect(response.contains("x-pdk-clock: permission-denied"))
        #expect(response.contains("x-pdk-names: "))
        #expect(result.stdout.hasSuffix("hello [filtered by \(expected)]"), "\(result.stdout)")

        let requestsBefore = origin.requests.count
        let denied = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/", "-H", "x-deny: 1"])
        #expect(denied.stdout.hasPrefix("HTTP/1.1 403"), "\(denied.stdout)")
        #expect(denied.stdout.lowercased().contains("x-denied-by: \(expected)"))
        // The response filter still ran on the short-circuit answer.
        #expect(denied.stdout.hasSuffix("denied by \(expected)\n[filtered by \(expected)]"), "\(denied.stdout)")
        #expect(origin.requests.count == requestsBefore)

        // on-request-body streams the request body up, upper-cased, with its end tail; the
        // response body is buffered, so on-response-body (which would trap) is never called.
        let posted = try JesterFixtures.curl(["-si", "-d", "make it loud", "http://127.0.0.1:\(port)/loud"])
        #expect(posted.stdout.hasPrefix("HTTP/1.1 200"), "\(posted.stdout)")
        #expect(posted.stdout.hasSuffix("hello [filtered by \(expected)]"), "\(posted.stdout)")
        let loud = try #require(origin.requests.last)
        #expect(String(decoding: loud.body, as: UTF8.self) == "MAKE IT LOUD[end \(expected)]")
        #expect(loud.head.headers["transfer-encoding"] == ["chunked"])
    }
}

@Suite(.serialized) struct PDKFilterTests {
    @Test func aCFilterBuiltWithTheCPDKRunsInTheGateway() async throws {
        let plugin = try PDKFilters.build("c-filter")
        try await PDKFilters.exercise(plugin.directory, tag: nil, defaultTag: "c")
        try await PDKFilters.exercise(plugin.directory, tag: "edge", defaultTag: "c")
    }

    @Test(.enabled(if: PDKFilters.rustAvailable, "no rustc with the wasm32-unknown-unknown std: apt-get install rustc libstd-rust-dev-wasm32 lld-14"))
    func aRustFilterBuiltWithTheRustPDKRunsInTheGateway() async throws {
        let plugin = try PDKFilters.build("rust-filter")
        try await PDKFilters.exercise(plugin.directory, tag: nil, defaultTag: "rust")
        try await PDKFilters.exercise(plugin.directory, tag: "edge", defaultTag: "rust")
    }
}
