import Foundation
import JesterTesting
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `examples/filters/jester.toml` as its comments say to run it: the two WASM examples built with
/// `jester plugin build`, the dylib with `make`, then `jester run --allow-unsafe-dylib`.
@Suite(.serialized) struct FilterExampleTests {
    @Test func allThreeTiersRunOnOneRoute() async throws {
        let directory = try JesterFixtures.temporaryDirectory("filters-example")
        let examples = directory + "/examples/filters"
        try FileManager.default.createDirectory(atPath: directory + "/examples", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: JesterFixtures.repositoryRoot + "/examples/filters", toPath: examples)
        try FileManager.default.createSymbolicLink(atPath: directory + "/include", withDestinationPath: JesterFixtures.repositoryRoot + "/include")
        try FileManager.default.createSymbolicLink(atPath: directory + "/pdk", withDestinationPath: JesterFixtures.repositoryRoot + "/pdk")
        for plugin in ["header-rewrite", "redact-json"] {
            let build = try JesterFixtures.run(JesterFixtures.jesterExecutable, ["plugin", "build", "examples/filters/\(plugin)"], currentDirectory: directory)
            #expect(build.status == 0, "\(plugin): \(build.stderr)")
        }
        let make = try JesterFixtures.run("/usr/bin/env", ["make", "-C", "examples/filters/dylib-header"], currentDirectory: directory)
        #expect(make.status == 0, "\(make.stderr)")

        let origin = try await TestOrigin { request in
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            let seen = ["x-tier-a", "x-plugin", "x-gateway", "x-request-id"].map { "\"\($0)\":\"\(request.head.headers.first(name: $0) ?? "")\"" }
            let body = #"{"user":"ada","password":"hunter2","nested":{"ssn":"123-45-6789"},"# + seen.joined(separator: ",") + "}"
            return (.ok, headers, Array(body.utf8))
        }
        defer { Task { await origin.stop() } }
        let port = try JesterFixtures.freePort()
        let gateway = try BackgroundProcess(
            JesterFixtures.jesterExecutable, ["run", "--config", "examples/filters/jester.toml", "--allow-unsafe-dylib"],
            environment: ["BIND": "127.0.0.1:\(port)", "ORIGIN": origin.url], currentDirectory: directory
        )
        defer { gateway.terminate() }
        #expect(await gateway.waitForOutput { $0.contains("listening") }, "\(gateway.stderr)")

        // The WASM filter refuses a request without x-api-key; the upstream never sees it.
        let refused = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/api/users/1"])
        #expect(refused.stdout.hasPrefix("HTTP/1.1 403"), "\(refused.stdout) \(gateway.stderr)")
        #expect(refused.stdout.lowercased().contains("x-served-by: jester"))
        #expect(origin.requests.isEmpty)

        let result = try JesterFixtures.curl(["-si", "-H", "x-api-key: k", "http://127.0.0.1:\(port)/api/users/1"])
        let text = result.stdout.lowercased()
        #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout) \(gateway.stderr)")
        #expect(text.contains("x-served-by: jester"))  // built-in, response side
        #expect(text.contains("x-filtered-by: edge"))  // wasm header-rewrite, on-response
        #expect(text.contains("x-gateway: jester"))  // dylib, on_response
        #expect(result.stdout.contains(#""password":"[redacted]""#))  // wasm redact-json
        #expect(result.stdout.contains(#""ssn":"[redacted]""#))
        #expect(!result.stdout.contains("hunter2"))
        #expect(result.stdout.contains(#""x-tier-a":"builtin""#))
        #expect(result.stdout.contains(#""x-plugin":"edge""#))
        #expect(result.stdout.contains(#""x-gateway":"jester""#))

        gateway.signal(SIGTERM)
        #expect(await gateway.wait() == 0, "\(gateway.stderr)")
    }
}
