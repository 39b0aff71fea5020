import Foundation
import JesterManifest
import JesterTesting
import Testing

/// Runs the real `jester` executable with extra environment variables (and some removed).
private func jesterConfig(
    _ arguments: [String],
    environment: [String: String] = [:],
    removing: [String] = [],
    in directory: String? = nil
) throws -> (status: Int32, stdout: String, stderr: String) {
    try run(JesterFixtures.jesterExecutable, arguments, environment: environment, removing: removing, in: directory)
}

private func run(
    _ executable: String,
    _ arguments: [String],
    environment: [String: String] = [:],
    removing: [String] = [],
    in directory: String? = nil
) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    for name in removing { merged[name] = nil }
    process.environment = merged
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    // Files rather than pipes, so that a large output on one stream cannot block the other.
    let scratch = try JesterFixtures.temporaryDirectory("jester-output")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    _ = FileManager.default.createFile(atPath: scratch + "/out", contents: nil)
    _ = FileManager.default.createFile(atPath: scratch + "/err", contents: nil)
    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + "/out"))
    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch + "/err"))
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    let stdout = try String(contentsOfFile: scratch + "/out", encoding: .utf8)
    let stderr = try String(contentsOfFile: scratch + "/err", encoding: .utf8)
    return (process.terminationStatus, stdout, stderr)
}

extension JSONValue {
    fileprivate subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }
}

private let fixtures = JesterFixtures.repositoryRoot + "/Tests/JesterConfigTests/Fixtures"
private let examples = JesterFixtures.repositoryRoot + "/examples/configs"

/// `${JESTER_TLS_CERT}` and `${JESTER_TLS_KEY}` pointing at files that exist, for the TLS examples.
private func exampleEnvironment() throws -> [String: String] {
    let directory = try JesterFixtures.temporaryDirectory("example-certs")
    for name in ["cert.pem", "key.pem"] {
        try "placeholder".write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
    }
    return ["JESTER_TLS_CERT": directory + "/cert.pem", "JESTER_TLS_KEY": directory + "/key.pem"]
}

@Suite struct ConfigCommandTests {
    /// Every broken config in `Fixtures/broken` says which problems it has in `# expect:` lines; the
    /// CLI must report exactly those, in that order, each starting with the expected text.
    @Test func brokenConfigsReportFileLineAndKey() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures + "/broken").filter {
            $0.hasSuffix(".toml")
        }.sorted()
        #expect(files.count >= 25)
        for file in files {
            let text = try String(contentsOfFile: fixtures + "/broken/" + file, encoding: .utf8)
            let expected = text.split(separator: "\n").filter { $0.hasPrefix("# expect: ") }.map {
                String($0.dropFirst("# expect: ".count))
            }
            #expect(!expected.isEmpty, "\(file) has no # expect: line")
            let result = try jesterConfig(
                ["config", "validate", "--config", "broken/" + file],
                removing: ["JESTER_TEST_UNSET_PORT_7F3A"],
                in: fixtures
            )
            #expect(result.status == 1, "\(file) exited \(result.status)")
            #expect(result.stdout.isEmpty)
            var lines = result.stderr.split(separator: "\n").map(String.init)
            #expect(
                lines.last == "broken/\(file): \(expected.count) problem\(expected.count == 1 ? "" : "s")",
                "\(file):\n\(result.stderr)"
            )
            lines = Array(lines.dropLast())
            #expect(lines.count == expected.count, "\(file):\n\(result.stderr)")
            for (line, prefix) in zip(lines, expected) {
                #expect(line.hasPrefix(prefix), "\(file): expected\n  \(prefix)\nfound\n  \(line)")
            }
        }
    }

    @Test func validateSummarizesEveryExample() throws {
        let environment = try exampleEnvironment()
        // validate loads the plugins routes use, as jester run does: a copy of examples/ with the
        // hello plugin built (building in the tree would write its digest into plugin.json).
        let root = try JesterFixtures.temporaryDirectory("examples-validate")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.copyItem(atPath: JesterFixtures.repositoryRoot + "/examples", toPath: root + "/examples")
        let build = try jesterConfig(["plugin", "build", "examples/hello"], environment: ["JESTER_HOME": JesterFixtures.repositoryRoot], in: root)
        try #require(build.status == 0, "\(build.stderr)")
        for (file, profile, summary) in [
            ("minimal.toml", nil, "ok: 1 listener, 1 route, 1 upstream (examples/configs/minimal.toml)"),
            (
                "api-gateway.toml", nil,
                "ok: 2 listeners, 6 routes, 3 upstreams (examples/configs/api-gateway.toml, examples/configs/routes/10-users.toml, examples/configs/routes/20-orders.toml)"
            ),
            ("edge.toml", nil, "ok: 1 listener, 2 routes, 2 upstreams (examples/configs/edge.toml)"),
            (
                "edge.toml", "prod",
                "ok: 2 listeners, 3 routes, 2 upstreams (examples/configs/edge.toml, examples/configs/edge.prod.toml)"
            ),
        ] as [(String, String?, String)] {
            let arguments =
                ["config", "validate", "--config", "examples/configs/" + file]
                + (profile.map { ["--profile", $0] } ?? [])
            let result = try jesterConfig(arguments, environment: environment, in: root)
            #expect(result.status == 0, "\(file): \(result.stderr)")
            #expect(result.stdout == summary + "\n")
            let lint = try jesterConfig(
                ["config", "lint", "--strict"] + arguments.dropFirst(2),
                environment: environment,
                in: root
            )
            #expect(lint.status == 0, "\(file): \(lint.stdout)\(lint.stderr)")
        }
    }

    @Test func validateReadsJesterTomlFromTheCurrentDirectory() throws {
        let directory = try JesterFixtures.temporaryDirectory("config-cwd")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = try jesterConfig(["config", "validate"], in: directory)
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("jester.toml: jester.toml does not exist"), "\(missing.stderr)")
        try "[listeners]\nbind = \":8080\"\n[[routes]]\nname = \"hi\"\nrespond = { body = \"hi\" }\n".write(
            toFile: directory + "/jester.toml",
            atomically: true,
            encoding: .utf8
        )
        let ok = try jesterConfig(["config", "validate"], in: directory)
        #expect(
            ok.status == 0 && ok.stdout == "ok: 1 listener, 1 route, 0 upstreams (jester.toml)\n",
            "\(ok.stdout)\(ok.stderr)"
        )
    }

    /// What only building the routes shows (built-in filter names, filter configs against their
    /// schemas) fails `validate` the way it fails `jester run`, with file and line.
    @Test func validateChecksFiltersAgainstTheirSchemas() throws {
        let directory = try JesterFixtures.temporaryDirectory("config-filters")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        /// A route answering "hi" with `filters` after its header (line 8 on).
        func write(_ filters: String) throws {
            try "[listeners]\nbind = \"127.0.0.1:18999\"\n\n[[routes]]\nname = \"api\"\nrespond = { body = \"hi\" }\n\n\(filters)"
                .write(toFile: directory + "/jester.toml", atomically: true, encoding: .utf8)
        }
        try write("""
            [[routes.filters]]
            type = "builtin"
            name = "rate-limt"

            [[routes.filters]]
            type = "builtin"
            name = "headers"
            config = { request = { sett = { "x-a" = "1" } } }
            """)
        let result = try jesterConfig(["config", "validate"], in: directory)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stderr)")
        #expect(lines.first?.hasPrefix("jester.toml:8: route 'api' filters[0] (builtin:rate-limt): name: there is no built-in filter \"rate-limt\". Did you mean \"rate-limit\"?") == true, "\(result.stderr)")
        #expect(lines.dropFirst().first?.hasPrefix("jester.toml:15: route 'api' filters[1] (builtin:headers): config.request.sett:") == true, "\(result.stderr)")
        #expect(lines.last == "jester.toml: 2 problems")

        try write("[[routes.filters]]\ntype = \"builtin\"\nname = \"headers\"\nconfig = { request = { set = { \"x-a\" = \"1\" } } }\n")
        let fixed = try jesterConfig(["config", "validate"], in: directory)
        #expect(fixed.status == 0, "\(fixed.stderr)")
    }

    @Test func validateAsJSON() throws {
        let valid = try jesterConfig(
            ["config", "validate", "--config", "examples/configs/edge.toml", "--json"],
            in: JesterFixtures.repositoryRoot
        )
        #expect(valid.status == 0)
        let json = try JSONValue.parse(valid.stdout)
        #expect(json["valid"] == .bool(true))
        #expect(json["routes"] == .array([.string("static"), .string("app")]))
        let invalid = try jesterConfig(
            ["config", "validate", "--config", "broken/unknown-key.toml", "--json"],
            in: fixtures
        )
        #expect(invalid.status == 1)
        let errors = try JSONValue.parse(invalid.stdout)
        #expect(errors["valid"] == .bool(false))
        let first = errors["errors"]?[0]
        #expect(first?["file"]?.stringValue == "broken/unknown-key.toml")
        #expect(first?["line"]?.integerValue == 10)
        #expect(first?["key"]?.stringValue == "routes[0].matchers.path_prefx")
        #expect(first?["fix"]?.stringValue?.hasPrefix("Did you mean \"path_prefix\"?") == true)
    }

    @Test func lintWarnsAndStrictFails() throws {
        let directory = try JesterFixtures.temporaryDirectory("config-lint")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
        [listeners]
        bind = ":443"

        [upstreams.spare]
        targets = ["http://127.0.0.1:1"]

        [[routes]]
        name = "all"
        respond = {}

        [[routes]]
        name = "api"
        respond = {}
        matchers = { path_prefix = "/api" }
        """.write(toFile: directory + "/jester.toml", atomically: true, encoding: .utf8)
        let lint = try jesterConfig(["config", "lint"], in: directory)
        #expect(lint.status == 0)
        #expect(
            lint.stdout == """
                jester.toml:7: warning[catch-all-not-last]: route "all" matches every request, so the 1 route after it never match; move it last
                jester.toml:11: warning[dead-route]: route "api" is never reached: route "all" (jester.toml:7) comes first and matches every request it would
                jester.toml:1: warning[plaintext-on-443]: listener "default" serves plaintext HTTP on port 443, where clients speak TLS; add [listeners.tls] or use another port
                jester.toml:4: warning[unused-upstream]: no route uses upstream "spare"; remove it or route to it
                4 warnings, 0 infos

                """
        )
        let strict = try jesterConfig(["config", "lint", "--strict"], in: directory)
        #expect(strict.status == 1)
        let json = try JSONValue.parse(try jesterConfig(["config", "lint", "--json"], in: directory).stdout)
        #expect(json["warnings"]?[1]?["id"]?.stringValue == "dead-route")
        #expect(json["warnings"]?[1]?["line"]?.integerValue == 11)
        // Errors stop lint the way they stop validate.
        let broken = try jesterConfig(["config", "lint", "--config", "broken/two-actions.toml"], in: fixtures)
        #expect(broken.status == 1 && broken.stderr.contains("broken/two-actions.toml:9: routes[0].respond"))
    }

    @Test func helpHasExamples() throws {
        for command in [["config"], ["config", "validate"], ["config", "lint"], ["config", "schema"]] {
            let result = try jesterConfig(command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("Example"), "\(command)")
            #expect(result.stdout.contains("jester config "), "\(command)")
        }
    }

    /// Converts every example config to JSON with Python's tomllib and validates it against
    /// `jester config schema` with the jsonschema package; broken configs the schema can see must fail.
    /// Needs python3 (3.11+) with jsonschema: required under CI=true, skipped locally without them.
    @Test func examplesValidateAgainstTheJSONSchema() throws {
        let python = try? run(
            "/usr/bin/env",
            ["python3", "-c", "import sys, tomllib, jsonschema; assert sys.version_info >= (3, 11)"]
        )
        guard python?.status == 0 else {
            let reason =
                "python3 3.11+ with jsonschema is needed (python3 -m pip install jsonschema): \(python?.stderr ?? "python3 not found")"
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record(Comment(rawValue: reason))
                return
            }
            try Test.cancel(Comment(rawValue: reason))
        }
        let directory = try JesterFixtures.temporaryDirectory("config-schema")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let schema = try jesterConfig(["config", "schema"])
        #expect(schema.status == 0)
        try schema.stdout.write(toFile: directory + "/schema.json", atomically: true, encoding: .utf8)
        try """
        import json, sys, tomllib
        from jsonschema import Draft202012Validator
        schema = json.load(open(sys.argv[1]))
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        for path in sys.argv[2:]:
            with open(path, "rb") as f:
                document = json.loads(json.dumps(tomllib.load(f), default=str))
            errors = list(validator.iter_errors(document))
            detail = "; ".join("/".join(map(str, e.absolute_path)) + ": " + e.message[:200] for e in errors[:3])
            print(("invalid " if errors else "valid ") + path + (" " + detail if errors else ""))
        """.write(toFile: directory + "/check.py", atomically: true, encoding: .utf8)

        let exampleFiles = try FileManager.default.subpathsOfDirectory(atPath: examples).filter {
            $0.hasSuffix(".toml")
        }.sorted().map { examples + "/" + $0 }
        #expect(exampleFiles.count >= 6)
        let schemaVisible = [
            "unknown-key", "wrong-type", "filters", "unknown-table", "string-for-number", "header-conditions",
            "bad-size", "two-actions", "bad-duration",
        ]
        let brokenFiles = schemaVisible.map { fixtures + "/broken/\($0).toml" }
        let result = try run(
            "/usr/bin/env",
            ["python3", directory + "/check.py", directory + "/schema.json"] + exampleFiles + brokenFiles
        )
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == exampleFiles.count + brokenFiles.count, "\(result.stdout)\(result.stderr)")
        for file in exampleFiles {
            #expect(lines.contains("valid " + file), "\(file): \(lines.first { $0.contains(file) } ?? "no output")")
        }
        for file in brokenFiles {
            #expect(lines.contains { $0.hasPrefix("invalid " + file) }, "the schema accepts \(file)")
        }
    }
}
