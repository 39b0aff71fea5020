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
        #expect(Set(properties.keys) == ["include", "listeners", "routes", "upstreams", "access_log", "lifecycle"])
    }

    /// Every key of the spec (the one the decoder checks) is in the schema with its description,
    /// and keys not supported yet are not.
    @Test func everyKeyHasItsDescription() throws {
        let text = ConfigSchema.jsonSchema
        var seen = 0
        var missing: [String] = []
        func walk(_ spec: TableSpec) {
            for field in spec.fields {
                if case .unsupported = field.kind {
                    if text.contains("\"\(field.key)\": {") { missing.append("\(field.key) should not be there") }
                    continue
                }
                seen += 1
                if !text.contains("\"\(field.key)\": {\n") { missing.append(field.key) }
                if !text.contains(
                    JSONNode.string(field.summary + (field.requirement == .required ? " Required." : "")).serialized(
                        indent: 0
                    )
                ) {
                    missing.append("description of \(field.key)")
                }
            }
        }
        for spec in [
            ConfigSpec.root, ConfigSpec.listener, ConfigSpec.tls, ConfigSpec.http, ConfigSpec.route,
            ConfigSpec.matchers, ConfigSpec.headerMatcher, ConfigSpec.upstream, ConfigSpec.respond, ConfigSpec.handler,
            ConfigSpec.accessLog, ConfigSpec.lifecycle,
        ] {
            walk(spec)
        }
        #expect(missing == [])
        #expect(seen > 50)
        #expect(text.contains("\"default\": \"32KiB\""))
        #expect(text.contains("\"default\": \"16MiB\""))
        #expect(text.contains("\"default\": \"1m\""))
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
