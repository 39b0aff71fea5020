import Foundation
import JesterConfig
import Testing

@Suite struct IncludeTests {
    @Test func globsAreRelativeToTheIncludingFileAndSortedWithNestedIncludes() throws {
        let directory = try ConfigDirectory([
            "conf/jester.toml": """
            include = ["routes/*.toml", "extra.toml"]
            [listeners]
            bind = ":8080"
            [[routes]]
            name = "main"
            respond = {}
            """,
            "conf/routes/b.toml": "[[routes]]\nname = \"b\"\nrespond = {}",
            "conf/routes/a.toml": "include = [\"nested/*.toml\"]\n[[routes]]\nname = \"a\"\nrespond = {}",
            "conf/routes/nested/n.toml": "[[routes]]\nname = \"n\"\nrespond = {}",
            "conf/routes/ignored.txt": "[[routes]]\nname = \"ignored\"",
            "conf/extra.toml":
                "[upstreams.u]\ntargets = [\"http://a\"]\n[[routes]]\nname = \"extra\"\nupstream = \"u\"",
        ])
        let config = try directory.load("conf/jester.toml")
        #expect(config.routes.map(\.name) == ["main", "a", "n", "b", "extra"])
        #expect(
            config.files
                == [
                    "conf/jester.toml", "conf/routes/a.toml", "conf/routes/nested/n.toml", "conf/routes/b.toml",
                    "conf/extra.toml",
                ].map(directory.file)
        )
        #expect(
            config.routes[2].location
                == JesterConfig.SourceLocation(file: directory.file("conf/routes/nested/n.toml"), line: 1)
        )
        #expect(config.upstreams.map(\.name) == ["u"])
    }

    @Test func includesMergeListenersAndTables() throws {
        let directory = try ConfigDirectory([
            "jester.toml":
                "include = [\"more.toml\"]\n[listeners]\nbind = \":8080\"\n[[routes]]\nname = \"r\"\nrespond = {}\n[lifecycle]\ndrain_timeout = \"5s\"",
            "more.toml": "[[listeners]]\nname = \"admin\"\nbind = \":9090\"\n[lifecycle]\npid_file = \"/run/j.pid\"",
        ])
        let config = try directory.load()
        #expect(config.listeners.map(\.name) == ["default", "admin"])
        #expect(config.lifecycle == LifecycleConfig(drainTimeout: .seconds(5), pidFile: "/run/j.pid"))
    }

    @Test func aValueSetInTwoFilesNamesBoth() throws {
        let directory = try ConfigDirectory([
            "jester.toml": "include = [\"other.toml\"]\n" + minimalTOML
                + "\n[access_log]\nenabled = true\n[upstreams.x]\ntargets = [\"http://a\"]",
            "other.toml": "[access_log]\nenabled = false\n\n[upstreams.x]\ntargets = [\"http://b\"]",
        ])
        let main = directory.file("jester.toml")
        let other = directory.file("other.toml")
        #expect(
            directory.problems() == [
                "\(other):2: access_log.enabled: enabled is set in two files: at \(main):9 and here. Set it in one file only; to change a value for one environment, use a profile (--profile)",
                "\(other):4: upstreams.x: \"x\" is defined twice: at \(main):10 and here. Define it in one file only",
            ]
        )
    }

    @Test func cyclesAndMissingFilesAreErrors() throws {
        let directory = try ConfigDirectory([
            "jester.toml": "include = [\"a.toml\"]\n" + minimalTOML,
            "a.toml": "include = [\"sub/b.toml\"]",
            "sub/b.toml": "include = [\"../a.toml\"]",
        ])
        #expect(
            directory.problems() == [
                "\(directory.file("sub/b.toml")):1: include[0]: include cycle: \(directory.file("a.toml")) → \(directory.file("sub/b.toml")) → \(directory.file("a.toml")). Remove the include that leads back to a file already being included"
            ]
        )
        try directory.write("a.toml", "include = [\"jester.toml\"]")
        #expect(
            directory.problems().first?.contains(
                "include cycle: \(directory.file("jester.toml")) → \(directory.file("a.toml")) → "
            ) == true
        )
        try directory.write("a.toml", "include = [\"routes/*.toml\", 5]")
        #expect(
            directory.problems() == [
                "\(directory.file("a.toml")):1: include[0]: \"routes/*.toml\" matches no file (looked for \(directory.file("routes/*.toml"))). Include globs are relative to the directory of \(directory.file("a.toml")); fix the pattern or remove it",
                "\(directory.file("a.toml")):1: include[1]: expected a glob like \"routes/*.toml\", found an integer",
            ]
        )
        try directory.write("a.toml", "include = [\"sub/b.toml\", \"sub/*.toml\"]")
        try directory.write("sub/b.toml", "")
        #expect(
            directory.problems().first?.hasPrefix(
                "\(directory.file("a.toml")):1: include[1]: \(directory.file("sub/b.toml")) is already included (\(directory.file("a.toml")):1)"
            ) == true
        )
    }

    @Test func syntaxErrorsInIncludedFilesNameThatFile() throws {
        let directory = try ConfigDirectory([
            "jester.toml": "include = [\"bad.toml\"]\n" + minimalTOML, "bad.toml": "\n\n[[routes]\nname = 1",
        ])
        let found = directory.problems()
        #expect(found.count == 1 && found[0].hasPrefix("\(directory.file("bad.toml")):3: not valid TOML"), "\(found)")
    }

    @Test func relativePathsStartAtTheDeclaringFile() throws {
        let directory = try ConfigDirectory([
            "jester.toml": "include = [\"tls/listener.toml\"]\n[[routes]]\nname = \"a\"\nrespond = {}",
            "tls/listener.toml": "[listeners]\nbind = \":443\"\ntls = { cert = \"certs/c.pem\", key = \"../k.pem\" }",
            "tls/certs/c.pem": "", "k.pem": "",
        ])
        let config = try directory.load()
        #expect(
            config.listeners[0].tls
                == TLSConfig(
                    certificatePath: directory.resolved("tls/certs/c.pem"),
                    keyPath: directory.resolved("k.pem")
                )
        )
    }
}

@Suite struct ProfileTests {
    static let base = """
        [[listeners]]
        name = "web"
        bind = "127.0.0.1:8080"
        [listeners.http]
        max_connections = 100
        idle_timeout = "10s"

        [upstreams.app]
        targets = ["http://127.0.0.1:3000"]
        connect_timeout = "1s"

        [[routes]]
        name = "static"
        upstream = "app"
        [routes.matchers]
        path_prefix = "/assets"
        methods = ["GET"]

        [[routes]]
        name = "app"
        upstream = "app"

        [lifecycle]
        drain_timeout = "5s"
        """

    @Test func profileOverlaysMergeByNameAndReplaceValues() throws {
        let directory = try ConfigDirectory([
            "jester.toml": Self.base,
            "jester.prod.toml": """
            [[listeners]]
            name = "web"
            bind = ":8443"
            [listeners.http]
            max_connections = 5000

            [[listeners]]
            name = "admin"
            bind = "127.0.0.1:9000"

            [upstreams.app]
            strategy = "round_robin"
            targets = ["http://10.0.0.1:3000", "http://10.0.0.2:3000"]

            [[routes]]
            name = "static"
            [routes.matchers]
            methods = ["GET", "HEAD"]

            [[routes]]
            name = "metrics"
            listeners = ["admin"]
            respond = { body = "ok" }
            """,
        ])
        let dev = try directory.load()
        #expect(dev.files == [directory.file("jester.toml")])
        let prod = try directory.load(profile: "prod")
        #expect(prod.files == [directory.file("jester.toml"), directory.file("jester.prod.toml")])
        #expect(prod.listeners.map(\.name) == ["web", "admin"])
        #expect(prod.listeners[0].bind == BindAddress(host: nil, port: 8443))
        // Tables merge: max_connections replaced, idle_timeout kept.
        #expect(prod.listeners[0].http.maxConnections == 5000 && prod.listeners[0].http.idleTimeout == .seconds(10))
        let app = try #require(prod.upstream(named: "app"))
        #expect(app.strategy == .roundRobin && app.targets.count == 2 && app.connectTimeout == .seconds(1))
        // Routes merge by name (matchers merged, the other keys kept) and new ones are appended.
        #expect(prod.routes.map(\.name) == ["static", "app", "metrics"])
        #expect(prod.routes[0].matchers == MatcherConfig(pathPrefix: "/assets", methods: ["GET", "HEAD"]))
        #expect(prod.routes[0].action == .upstream("app"))
        #expect(prod.lifecycle.drainTimeout == .seconds(5))
    }

    @Test func profileProblemsNameTheProfileFile() throws {
        let directory = try ConfigDirectory([
            "jester.toml": Self.base, "jester.staging.toml": "[[routes]]\nname = \"app\"\nrespond = {}",
        ])
        #expect(
            directory.problems(profile: "nope") == [
                "\(directory.file("jester.nope.toml")): \(directory.file("jester.nope.toml")) does not exist. Create it with the keys that differ in nope, or run without --profile"
            ]
        )
        // Adding a second action to a route through a profile is reported where the profile writes it.
        #expect(
            directory.problems(profile: "staging") == [
                "\(directory.file("jester.staging.toml")):3: routes[0].respond: only one of upstream, respond or handler may be set, and upstream and respond are. Keep one of them"
            ]
        )
        #expect(directory.problems(profile: "../x").first?.contains("is not a profile name") == true)
        #expect(ConfigLoader.profileFile(for: "conf/jester.toml", profile: "prod") == "conf/jester.prod.toml")
        #expect(ConfigLoader.profileFile(for: "gateway", profile: "dev") == "gateway.dev.toml")
    }

    @Test func shorthandListenerOverlaidByShorthand() throws {
        let directory = try ConfigDirectory([
            "jester.toml": minimalTOML,
            "jester.prod.toml": "[listeners]\nbind = \":9999\"\nh2c = true",
        ])
        let config = try directory.load(profile: "prod")
        #expect(config.listeners.count == 1)
        #expect(
            config.listeners[0].name == "default" && config.listeners[0].bind.port == 9999 && config.listeners[0].h2c
        )
    }
}
