import Foundation
import JesterConfig
import JesterTesting
import Testing

@Suite struct SchemaTests {
    func schema() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(ConfigSchema.jsonSchema.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func isDraft2020JSONWithTheTopLevelKeys() throws {
        let root = try schema()
        #expect(root["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
        #expect(root["additionalProperties"] as? Bool == false)
        let properties = try #require(root["properties"] as? [String: Any])
        #expect(
            Set(properties.keys) == [
                "include", "listeners", "routes", "upstreams", "access_log", "lifecycle", "plugins", "admin",
            ]
        )
    }

    /// Every key of the spec (the one the decoder checks) is in the schema, in the table it belongs
    /// to, with its description; keys the table refuses are not.
    @Test func everyKeyHasItsDescription() throws {
        var seen = 0
        var missing: [String] = []
        var visited: Set<String> = []
        func walk(_ kind: ValueKind, _ node: [String: Any], at path: String) {
            switch kind {
            case .table(let spec):
                visited.insert(spec.name)
                guard let properties = node["properties"] as? [String: Any] else {
                    missing.append("\(path): no properties")
                    return
                }
                for field in spec.fields {
                    let property = properties[field.key] as? [String: Any]
                    if case .unsupported = field.kind {
                        if property != nil { missing.append("\(path).\(field.key) should not be there") }
                        continue
                    }
                    seen += 1
                    guard let property else {
                        missing.append("\(path).\(field.key)")
                        continue
                    }
                    let description = field.summary + (field.requirement == .required ? " Required." : "")
                    if property["description"] as? String != description {
                        missing.append("description of \(path).\(field.key)")
                    }
                    walk(field.kind, property, at: "\(path).\(field.key)")
                }
            case .array(let element, _):
                guard let items = node["items"] as? [String: Any] else { return missing.append("\(path): no items") }
                walk(element, items, at: path + "[]")
            case .map(let value, _):
                guard let values = node["additionalProperties"] as? [String: Any] else {
                    return missing.append("\(path): no additionalProperties")
                }
                walk(value, values, at: path + ".*")
            case .either(let kinds, _):
                guard let options = node["anyOf"] as? [[String: Any]], options.count == kinds.count else {
                    return missing.append("\(path): no anyOf")
                }
                for (kind, option) in zip(kinds, options) { walk(kind, option, at: path) }
            default:
                break
            }
        }
        walk(.table(ConfigSpec.root), try schema(), at: "$")
        #expect(missing == [])
        #expect(seen > 60)
        #expect(
            visited.isSuperset(of: [
                "[[listeners]]", "[listeners.tls]", "[listeners.http]", "[[routes]]", "[routes.matchers]",
                "[[routes.matchers.headers]]", "[upstreams.NAME]", "[routes.respond]", "[routes.handler]",
                "[[routes.filters]]", "[[routes.response_filters]]", "[plugins]", "[access_log]", "[lifecycle]", "[admin]",
            ])
        )
        let text = ConfigSchema.jsonSchema
        #expect(text.contains("\"default\": \"32KiB\""))
        #expect(text.contains("\"default\": \"16MiB\""))
        #expect(text.contains("\"default\": \"1m\""))
    }

    /// A filter's `config` is an open object; `type` is required in every entry; `run_on_errors`
    /// only in response filters.
    @Test func filterEntries() throws {
        let routes = try #require((try schema()["properties"] as? [String: Any])?["routes"] as? [String: Any])
        let route = try #require(routes["items"] as? [String: Any])
        let properties = try #require(route["properties"] as? [String: Any])
        for (key, runOnErrors) in [("filters", false), ("response_filters", true)] {
            let entry = try #require((properties[key] as? [String: Any])?["items"] as? [String: Any])
            let fields = try #require(entry["properties"] as? [String: Any])
            #expect(entry["required"] as? [String] == ["type"])
            #expect(entry["additionalProperties"] as? Bool == false)
            let config = try #require(fields["config"] as? [String: Any])
            #expect(config["type"] as? String == "object" && config["additionalProperties"] == nil)
            #expect((fields["run_on_errors"] != nil) == runOnErrors)
            let type = try #require(fields["type"] as? [String: Any])
            let anyOf = try #require(type["anyOf"] as? [[String: Any]])
            #expect(anyOf.first?["enum"] as? [String] == ["builtin", "wasm", "dylib"])
        }
    }
}

@Suite struct PlanTests {
    @Test func describesListenersRoutesAndUpstreams() throws {
        let config = try load(
            """
            [[listeners]]
            name = "web"
            bind = "127.0.0.1:8080"
            h2c = true

            [upstreams.pool]
            strategy = "round_robin"
            targets = ["http://10.0.0.1:8080", "http://10.0.0.2:8080"]

            [[routes]]
            name = "api"
            upstream = "pool"
            [routes.matchers]
            hosts = ["api.example.com"]
            path_prefix = "/v1"
            methods = ["GET"]
            headers = [{ name = "x-env", value = "prod" }]

            [[routes]]
            name = "health"
            respond = { status = 204 }
            """
        )
        let plan = describePlan(config)
        for line in [
            "listeners (1):",
            "  web  127.0.0.1:8080  plaintext HTTP/1.1, HTTP/2 (h2c)",
            "    limits: headers 32KiB, body 16MiB, header read 10s, idle 1m, 10000 connections, 128 streams per connection",
            "routes, in match order (2):",
            "  1. api  (jester.toml:10)",
            "       match: host api.example.com; path /v1; methods GET; header x-env = \"prod\"",
            "       → upstream pool: http://10.0.0.1:8080, http://10.0.0.2:8080",
            "  2. health  (jester.toml:19)",
            "       match: any host; path /",
            "       → respond 204",
            "upstreams (1):",
            "  pool  round_robin: http://10.0.0.1:8080, http://10.0.0.2:8080",
            "    connect 5s, response 1m, idle 1m, 64 idle connections per target",
            "access log: on",
            "drain timeout: 30s",
            "files: jester.toml",
        ] {
            #expect(plan.split(separator: "\n").contains(Substring(line)), "missing line \(line) in\n\(plan)")
        }
    }

    @Test func planListsEachRoutesFilters() throws {
        let directory = try FilterTests.directory(
            """
            [plugins]
            search_paths = ["plugins"]

            \(FilterTests.route)
            [[routes.filters]]
            type = "builtin"
            name = "rate-limit"
            config = { rps = 100, key = ["ip"] }
            [[routes.filters]]
            type = "wasm"
            plugin = "auth"
            failure_policy = "fail_open"
            [[routes.response_filters]]
            type = "dylib"
            module = "lib/libredact.so"
            run_on_errors = true
            """
        )
        let plan = describePlan(try directory.load())
        let lines = plan.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex { $0.hasPrefix("  1. api") })
        #expect(
            Array(lines[(start + 1)...(start + 5)]) == [
                "       match: any host; path /",
                "       filter rate-limit (builtin), config {\"rps\":100,\"key\":[\"ip\"]}",
                "       filter auth (wasm plugin auth), fail open",
                "       → upstream api: http://127.0.0.1:9000",
                "       response filter libredact (dylib module \(directory.resolved("lib/libredact.so"))), also on error answers",
            ],
            "\(plan)"
        )
        #expect(
            lines.contains(
                "plugins: search paths \(directory.resolved("plugins")); dylib filters refused unless jester run --allow-unsafe-dylib"
            ),
            "\(plan)"
        )
        // No plugins line when there is nothing to say.
        #expect(!describePlan(try load(minimalTOML)).contains("plugins:"))
    }
}

@Suite struct ExampleConfigTests {
    /// The examples' TLS files come from `${JESTER_TLS_CERT}` and `${JESTER_TLS_KEY}`; these exist.
    static func environment() throws -> [String: String] {
        let directory = try JesterFixtures.temporaryDirectory("example-certs")
        for name in ["cert.pem", "key.pem"] {
            try "placeholder".write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return ["JESTER_TLS_CERT": directory + "/cert.pem", "JESTER_TLS_KEY": directory + "/key.pem"]
    }

    static let examples: [(file: String, profile: String?)] = [
        ("minimal.toml", nil), ("api-gateway.toml", nil), ("edge.toml", nil), ("edge.toml", "prod"),
    ]

    @Test(arguments: examples)
    func examplesLoadAndLintWithoutWarnings(file: String, profile: String?) throws {
        let path = JesterFixtures.repositoryRoot + "/examples/configs/" + file
        let config = try ConfigLoader.load(file: path, profile: profile, environment: try Self.environment())
        #expect(!config.routes.isEmpty)
        let warnings = ConfigLinter.lint(config).filter { $0.severity == .warning }
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(describePlan(config).contains(config.routes[0].name))
    }

    @Test func everyTopLevelExampleIsCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(
            atPath: JesterFixtures.repositoryRoot + "/examples/configs"
        )
        .filter { $0.hasSuffix(".toml") && $0.split(separator: ".").count == 2 }
        #expect(Set(files) == Set(Self.examples.map(\.file)))
    }

    @Test func apiGatewayExampleShape() throws {
        let config = try ConfigLoader.load(
            file: JesterFixtures.repositoryRoot + "/examples/configs/api-gateway.toml",
            environment: try Self.environment()
        )
        #expect(
            config.routes.map(\.name) == [
                "health", "hello", "users-canary", "users", "orders", "orders-unauthenticated",
            ]
        )
        #expect(config.files.count == 3)
        #expect(config.listeners[0].http.maxConnections == 20000)
        let prod = try ConfigLoader.load(
            file: JesterFixtures.repositoryRoot + "/examples/configs/edge.toml",
            profile: "prod",
            environment: try Self.environment()
        )
        #expect(prod.listeners.map(\.name) == ["web", "redirect"])
        #expect(prod.listeners[0].tls != nil && prod.listeners[0].bind.port == 443)
        #expect(prod.upstream(named: "app")?.targets.count == 2)
    }
}

/// The generated schema checked by an independent validator, Python's jsonschema: every example
/// config and configs with filters and `[plugins]` pass, filter entries it can see are wrong fail.
/// Needs python3 (3.11+, for tomllib) with jsonschema: required under CI=true, skipped locally without.
@Suite struct SchemaValidationTests {
    static let valid: [String: String] = [
        "filters.toml": """
        [plugins]
        search_paths = ["plugins", "${PLUGINS:/opt/jester/plugins}"]
        allow_unsafe_dylib = false
        require_signatures = true

        [listeners]
        bind = ":8080"

        [[routes]]
        name = "api"
        upstream = "api"
        [[routes.filters]]
        type = "builtin"
        name = "rate-limit"
        config = { rps = 100, burst = 20, key = ["ip"] }
        failure_policy = "fail_open"
        [[routes.filters]]
        type = "wasm"
        plugin = "auth"
        [routes.filters.config]
        since = 1979-05-27T07:32:00Z
        ratio = 0.5
        [[routes.filters.config.rules]]
        field = "email"
        [[routes.response_filters]]
        type = "dylib"
        module = "lib/libredact.so"
        run_on_errors = true
        """,
        // A profile overlay names the route and replaces its filters.
        "filters.prod.toml": """
        [[routes]]
        name = "api"
        filters = [{ type = "builtin", name = "rate-limit", failure_policy = "${POLICY:fail_closed}" }]
        """,
    ]

    static let invalid: [String: String] = [
        "remote.toml": "[[routes]]\nname = \"a\"\n[[routes.filters]]\ntype = \"remote\"",
        "no-type.toml": "[[routes]]\nname = \"a\"\n[[routes.filters]]\nname = \"x\"",
        "run-on-errors.toml": "[[routes]]\nname = \"a\"\n[[routes.filters]]\ntype = \"builtin\"\nrun_on_errors = true",
        "config-string.toml":
            "[[routes]]\nname = \"a\"\n[[routes.response_filters]]\ntype = \"builtin\"\nconfig = \"x\"",
        "unknown-key.toml": "[[routes]]\nname = \"a\"\n[[routes.response_filters]]\ntype = \"wasm\"\nplugins = \"x\"",
        "policy.toml": "[[routes]]\nname = \"a\"\n[[routes.filters]]\ntype = \"wasm\"\nfailure_policy = \"open\"",
        "search-paths.toml": "[plugins]\nsearch_paths = \"plugins\"",
        "plugins-key.toml": "[plugins]\nallow_unsafe = true",
    ]

    @Test func examplesAndFilterConfigsAgainstPythonJSONSchema() throws {
        let check = try? JesterFixtures.run(
            "/usr/bin/env",
            ["python3", "-c", "import sys, tomllib, jsonschema; assert sys.version_info >= (3, 11)"]
        )
        guard check?.status == 0 else {
            let reason =
                "python3 3.11+ with jsonschema is needed (python3 -m pip install jsonschema): \(check?.stderr ?? "python3 not found")"
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record(Comment(rawValue: reason))
                return
            }
            try Test.cancel(Comment(rawValue: reason))
        }
        let directory = try ConfigDirectory(
            Self.valid.merging(Self.invalid.map { ("invalid/" + $0.key, $0.value) }) { $1 }
        )
        try directory.write("schema.json", ConfigSchema.jsonSchema)
        try directory.write(
            "check.py",
            """
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
            """
        )
        let examples = JesterFixtures.repositoryRoot + "/examples/configs"
        let exampleFiles = try FileManager.default.subpathsOfDirectory(atPath: examples).filter {
            $0.hasSuffix(".toml")
        }.sorted().map { examples + "/" + $0 }
        let fixtures = JesterFixtures.repositoryRoot + "/Tests/JesterConfigTests/Fixtures/broken"
        let validFiles = exampleFiles + Self.valid.keys.sorted().map(directory.file)
        let invalidFiles =
            Self.invalid.keys.sorted().map { directory.file("invalid/" + $0) } + [fixtures + "/filters.toml"]
        let result = try JesterFixtures.run(
            "/usr/bin/env",
            ["python3", directory.file("check.py"), directory.file("schema.json")] + validFiles + invalidFiles
        )
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == validFiles.count + invalidFiles.count, "\(result.stdout)\(result.stderr)")
        for file in validFiles {
            #expect(lines.contains("valid " + file), "\(lines.first { $0.contains(file) } ?? "no output for \(file)")")
        }
        for file in invalidFiles {
            #expect(lines.contains { $0.hasPrefix("invalid " + file) }, "the schema accepts \(file)")
        }
    }
}

/// The `Fixtures/broken` corpus loaded in process (the CLI test runs the same files through
/// `jester config validate`): each file reports exactly its `# expect:` lines, in order.
@Suite struct BrokenCorpusTests {
    @Test func everyBrokenConfigReportsItsExpectedLines() throws {
        let fixtures = JesterFixtures.repositoryRoot + "/Tests/JesterConfigTests/Fixtures/"
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures + "broken").filter {
            $0.hasSuffix(".toml")
        }.sorted()
        #expect(files.count >= 27)
        var environment = ProcessInfo.processInfo.environment
        environment["JESTER_TEST_UNSET_PORT_7F3A"] = nil
        for file in files {
            let text = try String(contentsOfFile: fixtures + "broken/" + file, encoding: .utf8)
            let expected = text.split(separator: "\n").filter { $0.hasPrefix("# expect: ") }.map {
                String($0.dropFirst("# expect: ".count))
            }
            var found: [String] = []
            do {
                _ = try ConfigLoader.load(file: fixtures + "broken/" + file, environment: environment)
            } catch {
                // Files named as the CLI names them, run from the Fixtures directory.
                found = error.issues.map { $0.description.replacingOccurrences(of: fixtures, with: "") }
            }
            #expect(found.count == expected.count, "\(file):\n\(found.joined(separator: "\n"))")
            for (line, prefix) in zip(found, expected) {
                #expect(line.hasPrefix(prefix), "\(file): expected\n  \(prefix)\nfound\n  \(line)")
            }
        }
    }
}
