import JesterConfig
import Testing

@Suite struct InterpolationTests {
    func expand(_ text: String, _ environment: [String: String] = [:]) -> Result<String, Interpolation.Problem> {
        Interpolation.expand(text, environment: environment).map(\.text)
    }

    @Test func expansion() {
        #expect(expand("${HOST}:${PORT}", ["HOST": "a", "PORT": "1"]) == .success("a:1"))
        #expect(expand("${PORT:8080}") == .success("8080"))
        #expect(expand("${PORT:8080}", ["PORT": "9"]) == .success("9"))
        #expect(expand("${PORT:8080}", ["PORT": ""]) == .success("8080"))
        #expect(expand("${PORT}", ["PORT": ""]) == .success(""))
        #expect(expand("${URL:http://a:1/x}") == .success("http://a:1/x"))
        #expect(expand("${EMPTY:}") == .success(""))
        #expect(expand("$${HOME} costs $5 or $$") == .success("${HOME} costs $5 or $$"))
        #expect(expand("$$${X}", ["X": "y"]) == .success("$${X}"))  // `$${` is the escape, read left to right
        #expect(expand("plain") == .success("plain"))
        #expect(expand("${MISSING}") == .failure(.unset("MISSING")))
        #expect(expand("${OPEN") == .failure(.unterminated))
        #expect(expand("${1X}") == .failure(.badName("1X")))
        #expect(expand("${A B}") == .failure(.badName("A B")))
        #expect(Interpolation.expand("no vars", environment: [:]).map(\.substituted) == .success(false))
        #expect(Interpolation.expand("${A:1}", environment: [:]).map(\.substituted) == .success(true))
        #expect(Interpolation.expand("$${A}", environment: [:]).map(\.substituted) == .success(false))
    }

    @Test func everyStringValueIsInterpolated() throws {
        let config = try load(
            """
            [listeners]
            name = "${NAME:edge}"
            bind = "${HOST:127.0.0.1}:${PORT}"

            [[routes]]
            name = "app"
            [routes.matchers]
            hosts = ["${DOMAIN}", "*.${DOMAIN}"]
            [routes.respond]
            body = "$${NOT_INTERPOLATED}"
            headers = { x-env = "${ENV:dev}" }
            """,
            environment: ["PORT": "8443", "DOMAIN": "example.com", "ENV": "prod"]
        )
        #expect(config.listeners[0].name == "edge")
        #expect(config.listeners[0].bind == BindAddress(host: "127.0.0.1", port: 8443))
        #expect(config.routes[0].matchers.hosts == ["example.com", "*.example.com"])
        #expect(
            config.routes[0].action
                == .respond(
                    StaticResponseConfig(
                        body: "${NOT_INTERPOLATED}",
                        headers: [HeaderField(name: "x-env", value: "prod")]
                    )
                )
        )
    }

    @Test func typedFieldsTakeInterpolatedStrings() throws {
        let toml = """
            [listeners]
            bind = ":8080"
            h2c = "${H2C:true}"
            [listeners.http]
            max_connections = "${MAX_CONN:1024}"
            max_header_bytes = "${HEADERS:64KiB}"
            idle_timeout = "${IDLE:90}"

            [[routes]]
            name = "app"
            [routes.respond]
            status = "${STATUS:204}"
            """
        let config = try load(toml)
        #expect(config.listeners[0].h2c)
        #expect(config.listeners[0].http.maxConnections == 1024)
        #expect(config.listeners[0].http.maxHeaderBytes == 64 * 1024)
        #expect(config.listeners[0].http.idleTimeout == .seconds(90))
        #expect(config.routes[0].action == .respond(StaticResponseConfig(status: 204)))
        let overridden = try load(toml, environment: ["MAX_CONN": "7", "H2C": "false"])
        #expect(overridden.listeners[0].http.maxConnections == 7 && !overridden.listeners[0].h2c)
        expectProblem(
            toml,
            "jester.toml:5: listeners.http.max_connections: expected an integer, found \"many\" (after interpolation)",
            environment: ["MAX_CONN": "many"]
        )
        expectProblem(
            toml,
            "jester.toml:3: listeners.h2c: expected true or false, found \"yes\" (after interpolation)",
            environment: ["H2C": "yes"]
        )
    }

    @Test func unsetVariablesAreErrorsNamingTheVariableAndKey() {
        let found = problems(
            """
            [listeners]
            bind = ":${PORT}"

            [[routes]]
            name = "app"
            upstream = { targets = ["http://${BACKEND}:8080"] }
            """
        )
        #expect(
            found == [
                "jester.toml:2: listeners.bind: environment variable PORT is not set and ${PORT} has no default. Set PORT, or give a default: ${PORT:VALUE}",
                "jester.toml:6: routes[0].upstream.targets[0]: environment variable BACKEND is not set and ${BACKEND} has no default. Set BACKEND, or give a default: ${BACKEND:VALUE}",
            ]
        )
        expectProblem(
            minimalTOML + "\n[lifecycle]\npid_file = \"${RUN\"",
            "jester.toml:8: lifecycle.pid_file: \"${\" has no closing \"}\""
        )
    }
}
