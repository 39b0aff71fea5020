import Foundation
import JesterConfig
import Testing

@Suite struct LintTests {
    /// The lint ids for a config, with the line each is reported at.
    func lint(_ toml: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> [String] {
        let config = try load(toml)
        return ConfigLinter.lint(config).map { "\($0.id)@\($0.location.line)" }
    }

    func expectLint(
        _ toml: String,
        _ expected: [String],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let found = try lint(toml)
        #expect(found == expected, sourceLocation: sourceLocation)
    }

    static let listeners = """
        [[listeners]]
        name = "web"
        bind = ":8080"
        """ + "\n"

    @Test func aCleanConfigHasNoWarnings() throws {
        try expectLint(minimalTOML, [])
    }

    @Test func deadRoutes() throws {
        // An earlier route with the same host, a segment prefix and no method restriction.
        try expectLint(
            Self.listeners + """
                [[routes]]
                name = "api"
                respond = {}
                matchers = { hosts = ["api.example.com"], path_prefix = "/api" }
                [[routes]]
                name = "users"
                respond = {}
                matchers = { hosts = ["api.example.com"], path_prefix = "/api/users", methods = ["GET"] }
                [[routes]]
                name = "apix"
                respond = {}
                matchers = { hosts = ["api.example.com"], path_prefix = "/apix" }
                [[routes]]
                name = "other-host"
                respond = {}
                matchers = { hosts = ["www.example.com"], path_prefix = "/api/x" }
                """,
            ["dead-route@8"]
        )
        // Narrower earlier routes shadow nothing: methods, headers, hosts.
        try expectLint(
            Self.listeners + """
                [[routes]]
                name = "get"
                respond = {}
                matchers = { methods = ["GET"], headers = [{ name = "x", present = true }] }
                [[routes]]
                name = "all"
                respond = {}
                """,
            []
        )
        // A wildcard host and a superset of methods and a subset of headers do.
        try expectLint(
            Self.listeners + """
                [[routes]]
                name = "wild"
                respond = {}
                matchers = { hosts = ["*.example.com"], methods = ["GET", "POST"], headers = [{ name = "x", present = true }] }
                [[routes]]
                name = "narrow"
                respond = {}
                matchers = { hosts = ["a.example.com", "*.b.example.com"], path_prefix = "/x", methods = ["GET"], headers = [{ name = "x", present = true }, { name = "y", value = "1" }] }
                """,
            ["dead-route@8"]
        )
        // A route on another listener is not shadowed.
        try expectLint(
            Self.listeners + """
                [[listeners]]
                name = "admin"
                bind = ":9090"
                [[routes]]
                name = "web"
                listeners = ["web"]
                respond = {}
                [[routes]]
                name = "admin"
                listeners = ["admin"]
                respond = {}
                """,
            []
        )
    }

    @Test func catchAllNotLast() throws {
        try expectLint(
            Self.listeners + """
                [[routes]]
                name = "everything"
                respond = {}
                [[routes]]
                name = "never"
                respond = {}
                matchers = { path_prefix = "/x" }
                """,
            ["catch-all-not-last@4", "dead-route@7"]
        )
    }

    @Test func shadowedHost() throws {
        try expectLint(
            Self.listeners + """
                [[routes]]
                name = "wild"
                respond = {}
                matchers = { hosts = ["*.example.com"], path_prefix = "/api" }
                [[routes]]
                name = "two-hosts"
                respond = {}
                matchers = { hosts = ["api.example.com", "example.org"], path_prefix = "/api/v1" }
                """,
            ["shadowed-host@8"]
        )
    }

    @Test func unusedUpstreamsAndListenersWithoutRoutes() throws {
        try expectLint(
            Self.listeners + """
                [[listeners]]
                name = "lonely"
                bind = ":9090"
                [upstreams.used]
                targets = ["http://127.0.0.1:1"]
                [upstreams.unused]
                targets = ["http://127.0.0.1:2"]
                [[routes]]
                name = "r"
                listeners = ["web"]
                upstream = "used"
                """,
            ["listener-without-routes@4", "unused-upstream@9"]
        )
    }

    @Test func listenerSettings() throws {
        let directory = try ConfigDirectory([
            "c.pem": "", "k.pem": "",
            "jester.toml": """
            [[listeners]]
            name = "plain443"
            bind = ":443"
            [[listeners]]
            name = "tls80"
            bind = ":80"
            tls = { cert = "c.pem", key = "k.pem" }
            h2c = true
            [[routes]]
            name = "r"
            respond = {}
            """,
        ])
        let ids = ConfigLinter.lint(try directory.load()).map { "\($0.id)@\($0.location.line)" }
        #expect(ids == ["plaintext-on-443@1", "tls-on-80@4", "h2c-on-tls@4"])
    }

    @Test func upstreamSettings() throws {
        try expectLint(
            Self.listeners + """
                [upstreams.a]
                strategy = "round_robin"
                targets = ["http://127.0.0.1:1"]
                connect_timeout = "10s"
                response_timeout = "5s"
                [upstreams.b]
                strategy = "round_robin"
                targets = ["https://x.internal", "https://x.internal:443", "http://127.0.0.1:2"]
                tls_verify = false
                [upstreams.c]
                targets = ["http://127.0.0.1:3"]
                tls_verify = false
                [[routes]]
                name = "a"
                upstream = "a"
                matchers = { path_prefix = "/a" }
                [[routes]]
                name = "b"
                upstream = "b"
                matchers = { path_prefix = "/b" }
                [[routes]]
                name = "c"
                upstream = "c"
                """,
            [
                "round-robin-one-target@4", "response-timeout-below-connect@4", "duplicate-target@9",
                "tls-verify-disabled@9", "tls-verify-disabled@13",
            ]
        )
        let warnings = ConfigLinter.lint(
            try load(
                Self.listeners
                    + "[upstreams.c]\ntargets = [\"http://127.0.0.1:3\"]\ntls_verify = false\n[[routes]]\nname = \"c\"\nupstream = \"c\""
            )
        )
        #expect(warnings.first?.message.contains("has no effect") == true)
    }

    @Test func plaintextUpstreamBehindTLSIsInfo() throws {
        let directory = try ConfigDirectory([
            "c.pem": "", "k.pem": "",
            "jester.toml": """
            [listeners]
            bind = ":443"
            tls = { cert = "c.pem", key = "k.pem" }
            [[routes]]
            name = "remote"
            upstream = { strategy = "round_robin", targets = ["http://10.0.0.1", "http://10.0.0.2", "http://127.0.0.1:8080"] }
            matchers = { path_prefix = "/remote" }
            [[routes]]
            name = "local"
            upstream = { targets = ["http://localhost:8080"] }
            """,
        ])
        let warnings = ConfigLinter.lint(try directory.load())
        #expect(warnings.map(\.id) == ["plaintext-upstream-behind-tls"])
        #expect(warnings.first?.severity == .info)
        #expect(warnings.first?.message.contains("http://10.0.0.1:80, http://10.0.0.2:80;") == true)
        #expect(
            warnings.first?.description.hasPrefix(
                "\(directory.file("jester.toml")):4: info[plaintext-upstream-behind-tls]: route \"remote\""
            ) == true
        )
    }

    @Test func dylibWithoutAllowAndDuplicateFilters() throws {
        let directory = try FilterTests.directory(
            FilterTests.route + """

                [[routes.filters]]
                type = "builtin"
                name = "rate-limit"
                [[routes.filters]]
                type = "dylib"
                module = "lib/libredact.so"
                [[routes.filters]]
                type = "builtin"
                name = "rate-limit"
                config = { rps = 5 }
                [[routes.response_filters]]
                type = "builtin"
                name = "rate-limit"
                [[routes.response_filters]]
                type = "wasm"
                plugin = "auth"
                [[routes.response_filters]]
                type = "wasm"
                plugin = "auth"
                """
        )
        let file = directory.file("jester.toml")
        let warnings = ConfigLinter.lint(try directory.load())
        #expect(warnings.map { "\($0.id)@\($0.location.line)" } == ["dylib-without-allow@10", "duplicate-filter@13"])
        #expect(
            warnings.map(\.description) == [
                "\(file):10: warning[dylib-without-allow]: route \"api\" loads the native library \(directory.resolved("lib/libredact.so")) unsandboxed, and [plugins] allow_unsafe_dylib is false: jester run refuses it unless started with --allow-unsafe-dylib; set allow_unsafe_dylib = true if you mean it",
                "\(file):13: warning[duplicate-filter]: route \"api\" runs the builtin filter \"rate-limit\" twice in its filters (first at \(file):7); merge their config into one entry",
            ]
        )
        try directory.write(
            "jester.toml",
            "[plugins]\nallow_unsafe_dylib = true\n"
                + FilterTests.route
                + "\n[[routes.filters]]\ntype = \"dylib\"\nmodule = \"lib/libredact.so\""
        )
        #expect(ConfigLinter.lint(try directory.load()).isEmpty)
    }

    @Test func everyRuleIsListedOnce() {
        let ids = ConfigLinter.rules.map(\.id)
        #expect(Set(ids).count == ids.count)
        #expect(ids.count == 15)
    }
}
