import Foundation
import JesterTesting
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What `jester plugin new` makes builds and passes its own tests, for every language and
/// template, and the example plugins (the auth and header-filter templates) work in a gateway.
@Suite(.serialized) struct TemplateTests {
    static let languages = ["swift", "c", "rust"]
    static let templates = ["basic", "handler", "http-filter", "auth"]

    static func jester(_ arguments: [String], in directory: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try JesterFixtures.run(JesterFixtures.jesterExecutable, arguments, currentDirectory: directory, environment: ["JESTER_HOME": JesterFixtures.repositoryRoot])
    }

    /// Whether the tree has this language's templates yet.
    static func hasTemplates(_ language: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(JesterFixtures.repositoryRoot)/templates/\(language)/basic/plugin.json")
    }

    @Test(arguments: languages)
    func everyTemplateBuildsAndPassesItsTests(language: String) throws {
        try #require(Self.hasTemplates(language), "templates/\(language) is missing")
        let directory = try JesterFixtures.temporaryDirectory("templates-\(language)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The builds' own temporary directory: nothing may be left in it.
        let temporary = directory + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        for template in Self.templates {
            let name = "t-\(template)"
            let created = try Self.jester(["plugin", "new", name, "--lang", language, "--template", template], in: directory)
            #expect(created.status == 0, "\(language) \(template): \(created.stderr)")
            let project = directory + "/" + name
            let manifest = try String(contentsOfFile: project + "/plugin.json", encoding: .utf8)
            #expect(manifest.contains("\"id\": \"\(name)\""), "\(manifest)")
            let build = try JesterFixtures.run(
                JesterFixtures.jesterExecutable, ["plugin", "build"], currentDirectory: project,
                environment: ["JESTER_HOME": JesterFixtures.repositoryRoot, "TMPDIR": temporary])
            #expect(build.status == 0, "\(language) \(template): \(build.stdout)\(build.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: temporary) == [], "\(language) \(template): the build left files in TMPDIR")
            let test = try Self.jester(["plugin", "test"], in: project)
            #expect(test.status == 0, "\(language) \(template): \(test.stdout)\(test.stderr)")
            #expect(test.stdout.hasSuffix(" 0 failed\n"), "\(test.stdout)")
            #expect(test.stdout.contains("\(name): "), "\(test.stdout)")
        }
    }

    @Test func newRefusesBadInput() throws {
        let directory = try JesterFixtures.temporaryDirectory("templates-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let badName = try Self.jester(["plugin", "new", "My Plugin"], in: directory)
        #expect(badName.status != 0)
        #expect(badName.stderr.contains("is not a valid plugin id"), "\(badName.stderr)")
        let badLanguage = try Self.jester(["plugin", "new", "x", "--lang", "cobol"], in: directory)
        #expect(badLanguage.stderr.contains("--lang cobol: expected one of swift, c, rust"), "\(badLanguage.stderr)")
        let badTemplate = try Self.jester(["plugin", "new", "x", "--template", "kv"], in: directory)
        #expect(badTemplate.stderr.contains("--template kv: expected one of basic, handler, http-filter, auth"), "\(badTemplate.stderr)")
        try FileManager.default.createDirectory(atPath: directory + "/taken", withIntermediateDirectories: true)
        try "x".write(toFile: directory + "/taken/file", atomically: true, encoding: .utf8)
        let taken = try Self.jester(["plugin", "new", "taken"], in: directory)
        #expect(taken.status != 0)
        #expect(taken.stderr.contains("taken already exists and is not empty"), "\(taken.stderr)")
    }

    /// A failing case fails `jester plugin test` with what differed, and a bad test file is
    /// refused naming the key.
    @Test func testReportsFailuresAndBadFiles() throws {
        let directory = try JesterFixtures.temporaryDirectory("templates-fail")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try Self.jester(["plugin", "new", "gate", "--template", "auth"], in: directory).status == 0)
        let project = directory + "/gate"
        #expect(try Self.jester(["plugin", "build"], in: project).status == 0)
        try """
            { "config": { "keys": "a" }, "cases": [
              { "name": "wrong on purpose", "request": { "headers": { "x-api-key": "a" } }, "expect": { "action": "respond", "status": 401 } },
              { "name": "right", "request": { "headers": { "x-api-key": "b" } }, "expect": { "status": 401 } }
            ] }
            """.write(toFile: project + "/tests.json", atomically: true, encoding: .utf8)
        let failing = try Self.jester(["plugin", "test"], in: project)
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("FAIL  wrong on purpose\n        action: expected respond, got continue\n        status: expected 401, got 200"), "\(failing.stdout)")
        #expect(failing.stdout.contains("pass  right"), "\(failing.stdout)")
        #expect(failing.stdout.hasSuffix("gate: 1 passed, 1 failed\n"), "\(failing.stdout)")

        try #"{ "cases": [ { "name": "x", "input": "a", "expect": { "outptu": "b" } } ] }"#
            .write(toFile: project + "/tests.json", atomically: true, encoding: .utf8)
        let bad = try Self.jester(["plugin", "test"], in: project)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("tests.json: cases[0].expect.outptu: unknown key"), "\(bad.stderr)")

        try #"{ "cases": [ { "name": "x", "request": {}, "config": { "keys": 5 }, "expect": {} } ] }"#
            .write(toFile: project + "/tests.json", atomically: true, encoding: .utf8)
        let schema = try Self.jester(["plugin", "test"], in: project)
        #expect(schema.status == 1)
        #expect(schema.stdout.contains("config.keys:"), "\(schema.stdout)")
    }

    /// `jester plugin test` streams bodies through a plugin's body hooks, chunk by chunk, as the
    /// gateway does: the `stream-redact` example passes its own `tests.json` (a word split
    /// between chunks, the request body, a 304 without one), and an expectation that only holds
    /// without the hooks fails.
    @Test func testDrivesBodyHooks() throws {
        let directory = try JesterFixtures.temporaryDirectory("plugin-test-hooks")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let project = directory + "/stream-redact"
        try FileManager.default.copyItem(atPath: JesterFixtures.repositoryRoot + "/examples/filters/stream-redact", toPath: project)
        let build = try Self.jester(["plugin", "build"], in: project)
        try #require(build.status == 0, "\(build.stdout)\(build.stderr)")
        let passing = try Self.jester(["plugin", "test"], in: project)
        #expect(passing.status == 0, "\(passing.stdout)\(passing.stderr)")
        #expect(passing.stdout.hasSuffix("stream-redact: 6 passed, 0 failed\n"), "\(passing.stdout)")

        try """
            { "cases": [
              { "name": "unmasked", "request": {}, "response": { "body_chunks": ["a sec", "ret"] }, "expect": { "body": "a secret" } },
              { "name": "request unmasked", "request": { "method": "PUT", "body": "secret" }, "expect": { "request_body": "secret" } }
            ] }
            """.write(toFile: project + "/tests.json", atomically: true, encoding: .utf8)
        let failing = try Self.jester(["plugin", "test"], in: project)
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("FAIL  unmasked\n        body: expected \"a secret\", got \"a ******\""), "\(failing.stdout)")
        #expect(failing.stdout.contains("FAIL  request unmasked\n        request_body: expected \"secret\", got \"******\""), "\(failing.stdout)")

        try #"{ "cases": [ { "name": "x", "request": { "body": "a", "body_chunks": ["a"] }, "expect": {} } ] }"#
            .write(toFile: project + "/tests.json", atomically: true, encoding: .utf8)
        let both = try Self.jester(["plugin", "test"], in: project)
        #expect(both.status != 0)
        #expect(both.stderr.contains("tests.json: cases[0].request.body_chunks: give either body or body_chunks, not both"), "\(both.stderr)")
    }

    /// `examples/plugins/jester.toml` as its comments say to run it: the same API-key check and
    /// header filter in every language, one route each.
    @Test func examplePluginsServeThroughTheGateway() async throws {
        let languages = Self.languages.filter(Self.hasTemplates)
        let directory = try JesterFixtures.temporaryDirectory("plugins-example")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Copies, so that building does not touch the tree; the links become directories.
        let examples = directory + "/plugins"
        try FileManager.default.createDirectory(atPath: examples, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: JesterFixtures.repositoryRoot + "/examples/plugins/jester.toml", toPath: examples + "/jester.toml")
        for language in Self.languages {
            for (kind, template) in [("auth", "auth"), ("header-filter", "http-filter")] {
                let source = "\(JesterFixtures.repositoryRoot)/templates/\(language)/\(template)"
                let target = "\(examples)/\(language)-\(kind)"
                if languages.contains(language) {
                    try FileManager.default.copyItem(atPath: source, toPath: target)
                    let build = try Self.jester(["plugin", "build", target], in: directory)
                    #expect(build.status == 0, "\(language)-\(kind): \(build.stderr)")
                }
            }
        }
        let origin = try await TestOrigin { request in
            let seen = ["x-filter", "x-api-key", "x-api-key-index", "authorization"].map { "\($0)=\(request.head.headers.first(name: $0) ?? "-")" }
            var headers = HTTPHeaders()
            headers.add(name: "server", value: "origin/1.0")
            return (.ok, headers, Array(seen.joined(separator: " ").utf8))
        }
        defer { Task { await origin.stop() } }
        // Only the languages built here have routes (a route whose plugin is missing would fail the config).
        var config = try String(contentsOfFile: examples + "/jester.toml", encoding: .utf8)
        for language in Self.languages where !languages.contains(language) {
            config = Self.removingRoute(language, from: config)
        }
        try config.write(toFile: examples + "/jester.toml", atomically: true, encoding: .utf8)
        let port = try JesterFixtures.freePort()
        let gateway = try BackgroundProcess(
            JesterFixtures.jesterExecutable, ["run", "--config", "plugins/jester.toml"],
            environment: ["BIND": "127.0.0.1:\(port)", "ORIGIN": origin.url, "API_KEYS": "k-one,k-two"], currentDirectory: directory
        )
        defer { gateway.terminate() }
        try #require(await gateway.waitForOutput { $0.contains("listening") }, "\(gateway.stderr)")

        for language in languages {
            let url = "http://127.0.0.1:\(port)/\(language)/orders"
            let refused = try JesterFixtures.curl(["-si", url])
            #expect(refused.stdout.hasPrefix("HTTP/1.1 401"), "\(language): \(refused.stdout)")
            #expect(refused.stdout.lowercased().contains("www-authenticate: bearer"), "\(language): \(refused.stdout)")
            // The header filter runs on the short-circuit answer too.
            #expect(refused.stdout.lowercased().contains("x-filtered-by: \(language)"), "\(language): \(refused.stdout)")
            let wrong = try JesterFixtures.curl(["-si", "-H", "x-api-key: k-alpha", url])
            #expect(wrong.stdout.hasPrefix("HTTP/1.1 401"), "\(language): \(wrong.stdout)")

            let allowed = try JesterFixtures.curl(["-si", "-H", "x-api-key: k-two", url])
            #expect(allowed.stdout.hasPrefix("HTTP/1.1 200"), "\(language): \(allowed.stdout) \(gateway.stderr)")
            let lower = allowed.stdout.lowercased()
            #expect(lower.contains("x-filtered-by: \(language)"), "\(language): \(allowed.stdout)")
            #expect(!lower.contains("server: origin"), "\(language): the filter hides the upstream's server header: \(allowed.stdout)")
            #expect(allowed.stdout.hasSuffix("x-filter=\(language) x-api-key=- x-api-key-index=1 authorization=-"), "\(language): \(allowed.stdout)")

            let bearer = try JesterFixtures.curl(["-si", "-H", "authorization: Bearer k-one", url])
            #expect(bearer.stdout.hasSuffix("x-filter=\(language) x-api-key=- x-api-key-index=0 authorization=-"), "\(language): \(bearer.stdout)")
        }
        gateway.signal(SIGTERM)
        #expect(await gateway.wait() == 0, "\(gateway.stderr)")
    }

    /// The config without the route named `name` (from its `[[routes]]` to the next).
    static func removingRoute(_ name: String, from config: String) -> String {
        var blocks = config.components(separatedBy: "[[routes]]\n")
        blocks.removeAll { $0.hasPrefix("name = \"\(name)\"") }
        return blocks.joined(separator: "[[routes]]\n")
    }
}
