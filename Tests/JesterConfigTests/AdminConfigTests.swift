import JesterConfig
import Testing

/// `[admin]`: where the admin API listens, and the token any address but loopback needs.
@Suite struct AdminConfigTests {
    @Test func aLoopbackListenNeedsNoToken() throws {
        for (listen, host, port) in [
            ("127.0.0.1:9901", "127.0.0.1", 9901), ("[::1]:9901", "::1", 9901), ("localhost:0", "localhost", 0),
            ("127.1.2.3:9901", "127.1.2.3", 9901), ("[::ffff:127.0.0.1]:9901", "::ffff:127.0.0.1", 9901),
        ] {
            let config = try load("[admin]\nlisten = \"\(listen)\"\n" + minimalTOML)
            let admin = try #require(config.admin, "\(listen)")
            #expect(admin.listen == BindAddress(host: host, port: port))
            #expect(admin.token == nil)
            #expect(admin.location.line == 1)
        }
        #expect(try load(minimalTOML).admin == nil)
    }

    @Test func theTokenIsInterpolatedLikeEveryString() throws {
        let config = try load(
            "[admin]\nlisten = \":9901\"\ntoken = \"${ADMIN_TOKEN}\"\n" + minimalTOML,
            environment: ["ADMIN_TOKEN": "s3cr3t-t0ken"]
        )
        #expect(config.admin?.token == "s3cr3t-t0ken")
        #expect(config.admin?.listen == BindAddress(host: nil, port: 9901))
        let defaulted = try load(
            "[admin]\nlisten = \"0.0.0.0:9901\"\ntoken = \"${ADMIN_TOKEN:fallback}\"\n" + minimalTOML
        )
        #expect(defaulted.admin?.token == "fallback")
    }

    @Test func aNonLoopbackListenWithoutATokenIsRefused() {
        expectProblem(
            "[admin]\nlisten = \"0.0.0.0:9901\"\n" + minimalTOML,
            #"jester.toml:2: admin.listen: "0.0.0.0:9901" is not a loopback address and [admin] has no token, so anyone who can reach it could read the gateway's status and reload its config. Set token = "${JESTER_ADMIN_TOKEN}" in [admin] (and export JESTER_ADMIN_TOKEN), or listen on a loopback address: listen = "127.0.0.1:9901""#
        )
        for listen in [":9901", "10.0.0.5:9901", "[::]:9901", "admin.example.com:9901", "128.0.0.1:9901"] {
            expectProblem(
                "[admin]\nlisten = \"\(listen)\"\n" + minimalTOML,
                "jester.toml:2: admin.listen: \"\(listen)\" is not a loopback address and [admin] has no token"
            )
        }
    }

    @Test func badListenAddressesAndTokensNameTheKey() {
        expectProblem(
            "[admin]\nlisten = \"9901\"\n" + minimalTOML,
            #"jester.toml:2: admin.listen: invalid listen address: "9901" has no port. Write HOST:PORT like "127.0.0.1:9901""#
        )
        expectProblem(
            "[admin]\nlisten = \"127.0.0.1:70000\"\n" + minimalTOML,
            #"jester.toml:2: admin.listen: invalid listen address: "70000" is not a port (0-65535)"#
        )
        expectProblem(
            "[admin]\nlisten = 9901\n" + minimalTOML,
            #"jester.toml:2: admin.listen: expected an address like "127.0.0.1:9901" or "[::1]:9901", found an integer"#
        )
        expectProblem(
            "[admin]\ntoken = \"abc\"\n" + minimalTOML,
            #"jester.toml:1: admin.listen: missing required key "listen" in [admin]. Add listen = "127.0.0.1:9901""#
        )
        expectProblem(
            "[admin]\nlisten = \"127.0.0.1:9901\"\ntoken = \"\"\n" + minimalTOML,
            "jester.toml:3: admin.token: the token is empty"
        )
        expectProblem(
            "[admin]\nlisten = \"127.0.0.1:9901\"\ntoken = \"two words\"\n" + minimalTOML,
            "jester.toml:3: admin.token: the token has a space"
        )
        // A bad token is one problem, not also "no token".
        expectProblem(
            "[admin]\nlisten = \":9901\"\ntoken = \"\"\n" + minimalTOML,
            "jester.toml:3: admin.token: the token is empty"
        )
    }

    @Test func unknownKeysAreRefused() {
        expectProblem(
            "[admin]\nlisten = \"127.0.0.1:9901\"\ntokne = \"x\"\n" + minimalTOML,
            #"jester.toml:3: admin.tokne: unknown key in [admin]. Did you mean "token"? Keys here: listen, token"#
        )
        let found = problems("[admin]\nbind = \"127.0.0.1:9901\"\n" + minimalTOML)
        #expect(found.contains { $0.hasPrefix("jester.toml:2: admin.bind: unknown key in [admin]") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("jester.toml:1: admin.listen: missing required key") }, "\(found)")
    }

    @Test func theAdminPortMayNotBeAListenersPort() {
        expectProblem(
            "[admin]\nlisten = \"127.0.0.1:8080\"\n" + minimalTOML,
            #"jester.toml:2: admin.listen: "127.0.0.1:8080" overlaps the bind ":8080" of listener "default" (jester.toml:3)"#
        )
    }

    @Test func theSchemaAndThePlanShowIt() throws {
        #expect(ConfigSchema.jsonSchema.contains("\"admin\""))
        #expect(ConfigSchema.jsonSchema.contains("Anything but a loopback address needs a token."))
        let plan = describePlan(try load("[admin]\nlisten = \"127.0.0.1:9901\"\n" + minimalTOML))
        #expect(plan.contains("admin API: 127.0.0.1:9901, no token (loopback only)"), "\(plan)")
    }
}
