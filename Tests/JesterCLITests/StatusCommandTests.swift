import Foundation
import JesterManifest
import JesterTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `jester status` against a real `jester run` process with `[admin]`.
@Suite(.serialized) struct StatusCommandTests {
    /// A gateway whose `/trap` route runs a filter that always traps (the gateway tests'
    /// `trap-on-request` fixture), with the admin API behind a token from the environment.
    @Test func showsPluginsAndExits2OnceAFilterDegrades() async throws {
        let directory = try JesterFixtures.temporaryDirectory("status")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plugin = directory + "/plugins/trap"
        try FileManager.default.createDirectory(atPath: plugin, withIntermediateDirectories: true)
        let wat = try String(
            contentsOfFile: JesterFixtures.repositoryRoot
                + "/Tests/JesterGatewayTests/Fixtures/filters/trap-on-request.wat",
            encoding: .utf8
        )
        try Data(JesterFixtures.wasm(wat)).write(to: URL(fileURLWithPath: plugin + "/trap.wasm"))
        try """
        { "id": "trap-on-request", "version": "1.2.3", "module": "trap.wasm", "abi": "jester@0.1.0",
          "limits": { "memory_bytes": 1048576, "timeout_ms": 500 } }
        """.write(toFile: plugin + "/plugin.json", atomically: true, encoding: .utf8)
        let port = try JesterFixtures.freePort()
        let adminPort = try JesterFixtures.freePort()
        let config = directory + "/jester.toml"
        try """
        [listeners]
        bind = "127.0.0.1:\(port)"

        [admin]
        listen = "127.0.0.1:\(adminPort)"
        token = "${ADMIN_TOKEN}"

        [[routes]]
        name = "trap"
        matchers = { path_prefix = "/trap" }
        respond = { body = "not reached" }
        [[routes.filters]]
        type = "wasm"
        plugin = "plugins/trap"

        [[routes]]
        name = "home"
        respond = { body = "home" }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let token = "st4tus-t0ken"
        let gateway = try BackgroundProcess(
            JesterFixtures.jesterExecutable,
            ["run", "--config", config, "--log-level", "info"],
            environment: ["ADMIN_TOKEN": token]
        )
        defer { gateway.terminate() }
        #expect(await gateway.waitForOutput { $0.contains("admin API listening") }, "\(gateway.stderr)")

        func status(
            _ arguments: String...,
            environment: [String: String] = ["ADMIN_TOKEN": token]
        ) throws -> (status: Int32, stdout: String, stderr: String) {
            try JesterFixtures.run(JesterFixtures.jesterExecutable, ["status"] + arguments, environment: environment)
        }

        // All ready: exit 0, the token read through the config's ${ADMIN_TOKEN}.
        let ok = try status("--config", config)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.hasPrefix("gateway: ok  generation 1, up "), "\(ok.stdout)")
        #expect(ok.stdout.contains("admin 127.0.0.1:\(adminPort)"))
        #expect(ok.stdout.contains("\nconfig: /") && ok.stdout.contains("/jester.toml\n"), "\(ok.stdout)")
        #expect(ok.stdout.contains("default  127.0.0.1:\(port)  http"), "\(ok.stdout)")
        #expect(ok.stdout.contains("routes (2): trap, home"))
        #expect(
            ok.stdout.contains("ID               VERSION  STATE  CALLS  ERRORS  TRAPS  TIMEOUTS  BUSY"),
            "\(ok.stdout)"
        )
        #expect(
            ok.stdout.contains("trap-on-request  1.2.3    ready      0       0      0         0     0"),
            "\(ok.stdout)"
        )

        // Without the token: 401, exit 1. With --token or JESTER_ADMIN_TOKEN: fine.
        let refused = try status("--admin", "127.0.0.1:\(adminPort)", environment: [:])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refused the request (401): it needs a token"), "\(refused.stderr)")
        let wrong = try status("--admin", "http://127.0.0.1:\(adminPort)/", "--token", "nope", environment: [:])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("the token is wrong"), "\(wrong.stderr)")
        #expect(try status("--admin", "127.0.0.1:\(adminPort)", "--token", token, environment: [:]).status == 0)
        #expect(try status("--admin", "127.0.0.1:\(adminPort)", environment: ["JESTER_ADMIN_TOKEN": token]).status == 0)

        // Five traps: the plugin is degraded, and so is the gateway: exit 2.
        for _ in 0..<5 {
            #expect(
                try JesterFixtures.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/trap"])
                    .stdout == "500"
            )
        }
        let degraded = try status("--config", config)
        #expect(degraded.status == 2, "\(degraded.stderr)")
        #expect(degraded.stdout.hasPrefix("gateway: degraded (not ready: trap-on-request)"), "\(degraded.stdout)")
        #expect(degraded.stdout.contains("trap-on-request  1.2.3    degraded"), "\(degraded.stdout)")
        #expect(degraded.stdout.contains("trap-on-request last error: "), "\(degraded.stdout)")

        let json = try status("--config", config, "--json")
        #expect(json.status == 2)
        let document = try JSONValue.parse(json.stdout)
        #expect(document["status"] == .string("degraded"))
        guard case .array(let plugins) = document["plugins"] else {
            Issue.record("no plugins in \(json.stdout)")
            return
        }
        #expect(plugins.first?["state"] == .string("degraded"))
        #expect(plugins.first?["traps"] == .integer(5))

        // POST /reload goes the way SIGHUP does: the file is read again.
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: "body = \"home\"", with: "body = \"home again\"").write(
            toFile: config,
            atomically: true,
            encoding: .utf8
        )
        let reload = try JesterFixtures.curl([
            "-X", "POST", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(adminPort)/reload",
        ])
        #expect(reload.stdout.contains("\"generation\": 2"), "\(reload.stdout) \(gateway.stderr)")
        #expect(try JesterFixtures.curl(["http://127.0.0.1:\(port)/"]).stdout == "home again")
        try (text + "\n[[routes]]\nname = \"bad\"\nupstream = \"nowhere\"\n").write(
            toFile: config,
            atomically: true,
            encoding: .utf8
        )
        let refusedReload = try JesterFixtures.curl(
            [
                "-w", "\n%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)",
                "http://127.0.0.1:\(adminPort)/reload",
            ])
        #expect(
            refusedReload.stdout.hasPrefix("reload refused; the running configuration (generation 2) keeps serving:"),
            "\(refusedReload.stdout)"
        )
        #expect(
            refusedReload.stdout.contains("jester.toml:21: routes[2].upstream: no upstream is named \"nowhere\""),
            "\(refusedReload.stdout)"
        )
        #expect(refusedReload.stdout.hasSuffix("\n422"))
        #expect(try status("--config", config, "--json").status == 1)  // the config itself is broken now
        #expect(
            try status("--admin", "127.0.0.1:\(adminPort)", "--token", token, "--json").stdout.contains(
                "\"generation\": 2"
            )
        )

        gateway.signal(SIGTERM)
        #expect(await gateway.wait() == 0, "\(gateway.stderr)")
        let gone = try status("--admin", "127.0.0.1:\(adminPort)", "--token", token)
        #expect(gone.status == 1)
    }

    @Test func noGatewayAnsweringExits1WithAHint() throws {
        let port = try JesterFixtures.freePort()
        let result = try jester("status", "--admin", "127.0.0.1:\(port)")
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "error: no gateway answering on 127.0.0.1:\(port) (is `jester run` running with [admin] listen set?): connection refused\n",
            "\(result.stderr)"
        )
        #expect(result.stdout.isEmpty)
    }

    @Test func aConfigWithoutAdminSaysHowToAddIt() throws {
        let directory = try JesterFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "[listeners]\nbind = \"127.0.0.1:8080\"\n[[routes]]\nname = \"a\"\nrespond = {}\n".write(
            toFile: directory + "/jester.toml",
            atomically: true,
            encoding: .utf8
        )
        let result = try jester("status", in: directory)
        #expect(result.status == 1)
        #expect(result.stderr.contains("jester.toml has no [admin] table"), "\(result.stderr)")
        #expect(result.stderr.contains("listen = \"127.0.0.1:9901\""))
        let bad = try jester("status", "--admin", "https://127.0.0.1:9901")
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("plain HTTP"))
    }

    @Test func helpHasExamplesAndTheExitStatus() throws {
        let result = try jester("status", "--help")
        #expect(result.status == 0)
        #expect(result.stdout.contains("jester status --admin 127.0.0.1:9901 --json"))
        #expect(result.stdout.contains("Exit status: 0"))
        #expect(try jester("--help").stdout.contains("status"))
    }
}
