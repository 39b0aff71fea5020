import Foundation
import JesterConfig
import JesterManifest
import Testing

/// `[[routes.filters]]`, `[[routes.response_filters]]` and `[plugins]`.
@Suite struct FilterTests {
    /// A directory with a plugin search path, plugins by directory, manifest and module, and a
    /// shared library, for configs that name them.
    static func directory(_ toml: String, more: [String: String] = [:]) throws -> ConfigDirectory {
        try ConfigDirectory(
            [
                "plugins/auth/plugin.json": "{}", "plugins/auth/auth.wasm": "", "filters/x.wasm": "",
                "lib/libredact.so": "", "jester.toml": toml,
            ].merging(more) { $1 }
        )
    }

    /// A route with filters, after `[listeners]`; lines 1-6.
    static let route = """
        [listeners]
        bind = ":8080"

        [[routes]]
        name = "api"
        upstream = { targets = ["http://127.0.0.1:9000"] }
        """

    @Test func everyKey() throws {
        let directory = try Self.directory(
            """
            [plugins]
            search_paths = ["plugins", "more/plugins"]
            allow_unsafe_dylib = true

            \(Self.route)
            [[routes.filters]]
            type = "builtin"
            name = "rate-limit"
            config = { rps = 100, burst = 20, key = ["ip"] }
            failure_policy = "fail_open"
            [[routes.filters]]
            type = "wasm"
            plugin = "auth"
            failure_policy = "fail_closed"
            [[routes.filters]]
            type = "wasm"
            name = "auth-by-path"
            plugin = "plugins/auth"
            [[routes.filters]]
            type = "wasm"
            module = "filters/x.wasm"
            [[routes.response_filters]]
            type = "dylib"
            module = "lib/libredact.so"
            run_on_errors = true
            [[routes.response_filters]]
            type = "builtin"
            name = "headers"
            run_on_errors = false
            """,
            more: ["more/plugins/.keep": ""]
        )
        let config = try directory.load()
        let file = directory.file("jester.toml")
        let at = { (line: Int) in JesterConfig.SourceLocation(file: file, line: line) }
        #expect(
            config.plugins
                == PluginsConfig(
                    searchPaths: [directory.resolved("plugins"), directory.resolved("more/plugins")],
                    allowUnsafeDylib: true,
                    location: at(1)
                )
        )
        let route = try #require(config.routes.first)
        #expect(
            route.filters == [
                FilterConfig(
                    kind: .builtin,
                    name: "rate-limit",
                    config: .object([
                        ("rps", .integer(100)), ("burst", .integer(20)), ("key", .array([.string("ip")])),
                    ]),
                    failurePolicy: .failOpen,
                    location: at(11),
                    configLocations: [
                        "$": at(14), "$.rps": at(14), "$.burst": at(14), "$.key": at(14), "$.key[0]": at(14),
                    ]
                ),
                FilterConfig(kind: .wasm, name: "auth", plugin: "auth", location: at(16)),
                FilterConfig(
                    kind: .wasm,
                    name: "auth-by-path",
                    plugin: directory.resolved("plugins/auth"),
                    location: at(20)
                ),
                FilterConfig(kind: .wasm, name: "x", module: directory.resolved("filters/x.wasm"), location: at(24)),
            ]
        )
        #expect(
            route.responseFilters == [
                FilterConfig(
                    kind: .dylib,
                    name: "libredact",
                    module: directory.resolved("lib/libredact.so"),
                    runOnErrors: true,
                    location: at(27)
                ),
                FilterConfig(kind: .builtin, name: "headers", location: at(31)),
            ]
        )
        // Defaults: an empty config, fail closed, not on error answers.
        #expect(route.filters[1].config == .object([]) && route.filters[1].configLocations == [:])
        #expect(route.filters[1].failurePolicy == .failClosed && !route.filters[1].runOnErrors)
    }

    @Test func defaults() throws {
        let config = try load(minimalTOML)
        #expect(config.plugins == PluginsConfig())
        #expect(config.plugins.searchPaths == [] && !config.plugins.allowUnsafeDylib)
        #expect(config.routes[0].filters == [] && config.routes[0].responseFilters == [])
        let empty = try load(minimalTOML + "\nfilters = []\nresponse_filters = []\n[plugins]")
        #expect(empty.routes[0].filters == [] && empty.plugins.searchPaths == [])
        #expect(empty.plugins.location == JesterConfig.SourceLocation(file: "jester.toml", line: 9))
    }

    /// A wasm filter's default name is the plugin id, or the name of what its path points to.
    @Test func defaultNames() throws {
        let directory = try Self.directory(
            Self.route + """

                filters = [
                  { type = "wasm", plugin = "auth.v2" },
                  { type = "wasm", plugin = "plugins/auth" },
                  { type = "wasm", plugin = "plugins/auth/" },
                  { type = "wasm", plugin = "plugins/auth/plugin.json" },
                  { type = "wasm", plugin = "plugins/auth/auth.wasm" },
                  { type = "wasm", plugin = "local" },
                  { type = "wasm", plugin = "~/nonexistent-jester-plugin-id" },
                ]
                """,
            more: ["local/plugin.json": "{}"]
        )
        let problems = directory.problems()
        // "~/…" has a "/": a path, which must exist.
        #expect(problems.count == 1 && problems[0].contains("routes[0].filters[6].plugin: plugin "), "\(problems)")
        try directory.write(
            "jester.toml",
            try String(contentsOfFile: directory.file("jester.toml"), encoding: .utf8).replacingOccurrences(
                of: "  { type = \"wasm\", plugin = \"~/nonexistent-jester-plugin-id\" },\n",
                with: ""
            )
        )
        let filters = try directory.load().routes[0].filters
        #expect(filters.map(\.name) == ["auth.v2", "auth", "auth", "auth", "auth", "local"])
        #expect(
            filters.map(\.plugin) == [
                "auth.v2", directory.resolved("plugins/auth"), directory.resolved("plugins/auth"),
                directory.resolved("plugins/auth/plugin.json"), directory.resolved("plugins/auth/auth.wasm"),
                // Not an id: a name that exists next to the file is a path.
                directory.resolved("local"),
            ]
        )
        // Each inline entry is located on its own line.
        #expect(filters.map(\.location.line) == [8, 9, 10, 11, 12, 13])
        #expect(filters.allSatisfy { $0.module == nil && $0.kind == .wasm })
    }

    /// Every value under `config`, nested ones and array elements included, has its own line,
    /// keyed by the JSON path a schema violation names.
    @Test func nestedConfigAsJSONWithLocations() throws {
        let config = try load(
            Self.route + """

                [[routes.filters]]
                type = "builtin"
                name = "transform"
                [routes.filters.config]
                rps = 1.5
                enabled = true
                when = 1979-05-27T07:32:00Z
                day = 1979-05-27
                list = [
                  1,
                  "two",
                  [3],
                  { four = 4 },
                ]
                "odd key" = "${GREETING:hi}"
                [routes.filters.config.limits]
                max = 10
                nested = { deeper = { deepest = false } }
                [[routes.filters.config.rules]]
                field = "email"
                [[routes.filters.config.rules]]
                field = "phone"
                mask = "*"
                """
        )
        let filter = try #require(config.routes.first?.filters.first)
        #expect(
            filter.config
                == .object([
                    ("rps", .double(1.5)), ("enabled", .bool(true)), ("when", .string("1979-05-27T07:32:00Z")),
                    ("day", .string("1979-05-27")),
                    (
                        "list",
                        .array([.integer(1), .string("two"), .array([.integer(3)]), .object([("four", .integer(4))])])
                    ),
                    ("odd key", .string("hi")),
                    (
                        "limits",
                        .object([
                            ("max", .integer(10)),
                            ("nested", .object([("deeper", .object([("deepest", .bool(false))]))])),
                        ])
                    ),
                    (
                        "rules",
                        .array([
                            .object([("field", .string("email"))]),
                            .object([("field", .string("phone")), ("mask", .string("*"))]),
                        ])
                    ),
                ])
        )
        // Members keep the order they were written in.
        guard case .object(let members) = filter.config else {
            Issue.record("config is not an object: \(filter.config)")
            return
        }
        #expect(members.map(\.key) == ["rps", "enabled", "when", "day", "list", "odd key", "limits", "rules"])
        let lines = filter.configLocations.mapValues(\.line)
        #expect(
            lines == [
                "$": 10, "$.rps": 11, "$.enabled": 12, "$.when": 13, "$.day": 14, "$.list": 15, "$.list[0]": 16,
                "$.list[1]": 17, "$.list[2]": 18, "$.list[2][0]": 18, "$.list[3]": 19, "$.list[3].four": 19,
                "$.odd key": 21, "$.limits": 22, "$.limits.max": 23, "$.limits.nested": 24,
                "$.limits.nested.deeper": 24, "$.limits.nested.deeper.deepest": 24, "$.rules": 25, "$.rules[0]": 25,
                "$.rules[0].field": 26, "$.rules[1]": 27, "$.rules[1].field": 28, "$.rules[1].mask": 29,
            ]
        )
        #expect(filter.configLocations.values.allSatisfy { $0.file == "jester.toml" })
        // What the gateway does with a schema violation's path: the value's line, or the closest
        // enclosing one that has a line.
        #expect(filter.location(ofConfig: "$.rules[1].mask").line == 29)
        #expect(filter.location(ofConfig: "$.limits.nested.deeper.unknown").line == 24)
        #expect(filter.location(ofConfig: "$").line == 10)
        #expect(filter.location(ofConfig: "$.absent").line == 10)
    }

    @Test func configTypes() {
        let base = Self.route + "\n[[routes.filters]]\ntype = \"builtin\"\nname = \"x\"\n"
        expectProblem(
            base + "config = \"rps=1\"",
            #"jester.toml:10: routes[0].filters[0].config: expected a table like { rps = 100, key = ["ip"] }, found a string"#
        )
        expectProblem(
            base + "config = { limits = { ratio = nan } }",
            "jester.toml:10: routes[0].filters[0].config.limits.ratio: nan has no JSON form. Use a finite number, or a string"
        )
        expectProblem(
            base + "config = { list = [1, -inf] }",
            "jester.toml:10: routes[0].filters[0].config.list[1]: -inf has no JSON form"
        )
        // An unset variable is reported once, by interpolation.
        let found = problems(base + "config = { key = \"${JESTER_TEST_UNSET_FILTER_KEY}\" }")
        #expect(found.count == 1 && found[0].hasPrefix("jester.toml:10: routes[0].filters[0].config.key: "), "\(found)")
    }

    @Test func typeAndNameErrors() {
        let base = Self.route + "\n[[routes.filters]]\n"
        expectProblem(
            base + "name = \"rate-limit\"",
            #"jester.toml:7: routes[0].filters[0].type: missing required key "type" in [routes.filters]. Add type = "builtin""#
        )
        expectProblem(
            base + "type = \"remote\"\nname = \"x\"",
            #"jester.toml:8: routes[0].filters[0].type: remote filters are not supported yet in this version of Jester. Use "builtin", "wasm" or "dylib""#
        )
        expectProblem(
            base + "type = \"wsam\"\nname = \"x\"",
            #"jester.toml:8: routes[0].filters[0].type: unknown filter type "wsam". Did you mean "wasm"? Use "builtin", "wasm" or "dylib""#
        )
        expectProblem(
            base + "type = 1",
            #"jester.toml:8: routes[0].filters[0].type: expected one of "builtin", "wasm", "dylib", found an integer"#
        )
        expectProblem(
            base + "type = \"builtin\"",
            #"jester.toml:7: routes[0].filters[0].name: missing required key "name" for a builtin filter. Add the built-in filter's name, like name = "rate-limit" (docs/filters.md lists them)"#
        )
        expectProblem(
            base + "type = \"builtin\"\nname = \"rate limit\"",
            #"jester.toml:9: routes[0].filters[0].name: "rate limit" is not a valid filter name. Use letters, digits, '.', '_' and '-' (at most 128)"#
        )
        expectProblem(
            base + "type = \"builtin\"\nname = \"x\"\nfailure_policy = \"fail-open\"",
            #"jester.toml:10: routes[0].filters[0].failure_policy: unknown failure policy "fail-open". Did you mean "fail_open"? Use "fail_closed" or "fail_open""#
        )
        expectProblem(
            base + "type = \"builtin\"\nname = \"x\"\nfailure_polcy = \"fail_open\"",
            #"jester.toml:10: routes[0].filters[0].failure_polcy: unknown key in [routes.filters]. Did you mean "failure_policy"? Keys here: type, name, plugin, module, config, failure_policy"#
        )
        expectProblem(
            base + "type = \"builtin\"\nname = \"x\"\nrun_on_errors = true",
            "jester.toml:10: routes[0].filters[0].run_on_errors: run_on_errors only applies to response_filters. Remove it, or move the filter to [[routes.response_filters]]"
        )
        expectProblem(
            Self.route + "\n[[routes.response_filters]]\ntype = \"builtin\"\nname = \"x\"\nrun_on_errors = \"yes\"",
            "jester.toml:10: routes[0].response_filters[0].run_on_errors: expected true or false, found a string. Write the value without quotes"
        )
        expectProblem(
            Self.route + "\n[[routes.response_filters]]\ntype = \"builtin\"\nname = \"x\"\nrun_on_error = true",
            #"jester.toml:10: routes[0].response_filters[0].run_on_error: unknown key in [routes.response_filters]. Did you mean "run_on_errors"? Keys here: type, name, plugin, module, config, failure_policy, run_on_errors"#
        )
        expectProblem(
            Self.route + "\nfilters = { type = \"builtin\", name = \"x\" }",
            "jester.toml:7: routes[0].filters: expected an array of tables ([[routes.filters]]), found a table"
        )
        expectProblem(
            Self.route + "\nresponse_filters = [\"headers\"]",
            "jester.toml:7: routes[0].response_filters[0]: expected a table ([[routes.response_filters]]), found a string"
        )
        // A filter key one table too high says where it belongs.
        expectProblem(
            Self.route + "\nfailure_policy = \"fail_open\"",
            "jester.toml:7: routes[0].failure_policy: unknown key in [routes]. failure_policy belongs in [[routes.filters]]"
        )
    }

    @Test func pluginAndModuleErrors() throws {
        let directory = try Self.directory(
            Self.route + """

                [[routes.filters]]
                type = "builtin"
                name = "x"
                plugin = "auth"
                module = "filters/x.wasm"
                [[routes.filters]]
                type = "wasm"
                module = "filters/x.wasm"
                plugin = "auth"
                [[routes.filters]]
                type = "wasm"
                failure_policy = "fail_open"
                [[routes.filters]]
                type = "wasm"
                plugin = "Auth"
                [[routes.filters]]
                type = "wasm"
                plugin = "plugins/missing"
                [[routes.filters]]
                type = "wasm"
                module = "filters"
                [[routes.response_filters]]
                type = "dylib"
                [[routes.response_filters]]
                type = "dylib"
                plugin = "auth"
                [[routes.response_filters]]
                type = "dylib"
                module = "lib/libmissing.so"
                [[routes.response_filters]]
                type = "dylib"
                plugin = "auth"
                module = "lib/libredact.so"
                """
        )
        let file = directory.file("jester.toml")
        let found = directory.problems()
        let expected = [
            "\(file):10: routes[0].filters[0].plugin: plugin does not apply to builtin filters. Remove it, or set type = \"wasm\" or \"dylib\" to load a plugin or a library",
            "\(file):11: routes[0].filters[0].module: module does not apply to builtin filters. Remove it, or set type = \"wasm\" or \"dylib\" to load a plugin or a library",
            "\(file):15: routes[0].filters[1].plugin: only one of plugin or module may be set, and plugin and module are. Keep plugin (a plugin id or directory) or module (a .wasm file)",
            "\(file):16: routes[0].filters[2]: a wasm filter needs one of plugin or module. Add plugin = \"auth\" (a plugin id from [plugins] search_paths, or a path) or module = \"filters/auth.wasm\"",
            "\(file):21: routes[0].filters[3].plugin: \"Auth\" is neither a plugin id nor a path that exists. A plugin id is lowercase letters, digits, '-', '_' and '.', starting with a letter or digit; a path has a \"/\" or names a file or directory next to \(file)",
            "\(file):24: routes[0].filters[4].plugin: plugin \(directory.resolved("plugins/missing")) does not exist. Fix the path; relative paths start at the directory of \(file) (\(directory.path))",
            "\(file):27: routes[0].filters[5].module: module \(directory.resolved("filters")) is a directory, not a file. Name the file; relative paths start at the directory of \(file) (\(directory.path))",
            "\(file):28: routes[0].response_filters[0].module: missing required key \"module\" for a dylib filter. Add the shared library's path, like module = \"lib/libfilter.so\"",
            "\(file):32: routes[0].response_filters[1].plugin: plugin does not apply to dylib filters. Name the shared library with module = \"lib/libfilter.so\"",
            "\(file):35: routes[0].response_filters[2].module: shared library \(directory.resolved("lib/libmissing.so")) does not exist. Fix the path; relative paths start at the directory of \(file) (\(directory.path))",
            "\(file):38: routes[0].response_filters[3].plugin: plugin does not apply to dylib filters. Name the shared library with module = \"lib/libfilter.so\"",
        ]
        #expect(found == expected)
        for (line, prefix) in zip(found, expected) where line != prefix {
            #expect(line == prefix)
        }
    }

    @Test func pluginsTable() throws {
        let directory = try Self.directory(
            """
            [plugins]
            search_paths = [
              "plugins",
              "nowhere",
              "lib/libredact.so",
              "./plugins/",
              7,
            ]
            allow_unsafe_dylib = "no"
            search_path = ["plugins"]

            \(minimalTOML)
            """
        )
        let file = directory.file("jester.toml")
        #expect(
            directory.problems() == [
                "\(file):4: plugins.search_paths[1]: plugin search path \(directory.resolved("nowhere")) does not exist. Fix the path; relative paths start at the directory of \(file) (\(directory.path))",
                "\(file):5: plugins.search_paths[2]: plugin search path \(directory.resolved("lib/libredact.so")) is not a directory. Name a directory; relative paths start at the directory of \(file) (\(directory.path))",
                "\(file):6: plugins.search_paths[3]: \"./plugins/\" is listed twice (as \(directory.resolved("plugins"))). List each directory once",
                "\(file):7: plugins.search_paths[4]: expected a directory like \"plugins\", found an integer",
                "\(file):9: plugins.allow_unsafe_dylib: expected true or false, found a string. Write the value without quotes",
                "\(file):10: plugins.search_path: unknown key in [plugins]. Did you mean \"search_paths\"? Keys here: search_paths, allow_unsafe_dylib, require_signatures",
            ]
        )
        expectProblem(
            "plugins = [\"x\"]\n" + minimalTOML,
            "jester.toml:1: plugins: expected a table ([plugins]), found an array"
        )
        expectProblem(
            "search_paths = [\"x\"]\n" + minimalTOML,
            "jester.toml:1: search_paths: unknown key in the top level. search_paths belongs in [plugins]"
        )
        // Interpolated booleans, as everywhere.
        let config = try load("[plugins]\nallow_unsafe_dylib = \"${UNSAFE:true}\"\n" + minimalTOML)
        #expect(config.plugins.allowUnsafeDylib)
        #expect(!config.plugins.requireSignatures)
        #expect(try load("[plugins]\nrequire_signatures = true\n" + minimalTOML).plugins.requireSignatures)
        expectProblem(
            "[plugins]\nrequire_signatures = \"yes\"\n" + minimalTOML,
            "jester.toml:2: plugins.require_signatures: expected true or false, found a string. Write the value without quotes"
        )
    }

    /// Every broken filter in a file is reported, not only the first.
    @Test func everyProblemAtOnce() {
        let found = problems(
            Self.route + """

                [[routes.filters]]
                type = "builtin"
                [[routes.filters]]
                type = "dylib"
                module = "nope.so"
                [[routes.response_filters]]
                type = "wasm"
                plugin = "BAD"
                failure_policy = "open"
                """
        )
        #expect(
            found.map { $0.prefix(while: { $0 != " " }) } == [
                "jester.toml:7:", "jester.toml:11:", "jester.toml:14:", "jester.toml:15:",
            ],
            "\(found)"
        )
    }
}

@Suite struct FilterIncludeAndProfileTests {
    @Test func includedFilesResolvePathsAgainstThemselves() throws {
        let directory = try ConfigDirectory([
            "jester.toml": "include = [\"conf.d/*.toml\"]\n[listeners]\nbind = \":8080\"",
            "conf.d/plugins.toml": "[plugins]\nsearch_paths = [\"../plugins\", \"local\"]\nallow_unsafe_dylib = true",
            "conf.d/routes.toml": """
            [[routes]]
            name = "api"
            respond = {}
            [[routes.filters]]
            type = "wasm"
            module = "filters/a.wasm"
            config = { greeting = "hi" }
            [[routes.response_filters]]
            type = "dylib"
            module = "../lib/libx.so"
            """,
            "plugins/.keep": "", "conf.d/local/.keep": "", "conf.d/filters/a.wasm": "", "lib/libx.so": "",
        ])
        let config = try directory.load()
        #expect(config.plugins.searchPaths == [directory.resolved("plugins"), directory.resolved("conf.d/local")])
        #expect(config.plugins.allowUnsafeDylib)
        #expect(config.plugins.location.file == directory.file("conf.d/plugins.toml"))
        let route = try #require(config.routes.first)
        let routes = directory.file("conf.d/routes.toml")
        #expect(route.filters.map(\.module) == [directory.resolved("conf.d/filters/a.wasm")])
        #expect(route.filters[0].location == JesterConfig.SourceLocation(file: routes, line: 4))
        #expect(route.filters[0].configLocations["$.greeting"] == JesterConfig.SourceLocation(file: routes, line: 7))
        #expect(route.responseFilters.map(\.module) == [directory.resolved("lib/libx.so")])

        // [plugins] keys set in two files are an error, like any other value.
        try directory.write(
            "jester.toml",
            "include = [\"conf.d/*.toml\"]\n[listeners]\nbind = \":8080\"\n[plugins]\nallow_unsafe_dylib = false"
        )
        #expect(
            directory.problems() == [
                "\(directory.file("conf.d/plugins.toml")):3: plugins.allow_unsafe_dylib: allow_unsafe_dylib is set in two files: at \(directory.file("jester.toml")):5 and here. Set it in one file only; to change a value for one environment, use a profile (--profile)"
            ]
        )
    }

    static let base = """
        [listeners]
        bind = ":8080"

        [[routes]]
        name = "api"
        upstream = { targets = ["http://127.0.0.1:9000"] }
        [[routes.filters]]
        type = "builtin"
        name = "request-id"
        [[routes.filters]]
        type = "builtin"
        name = "rate-limit"
        config = { rps = 10 }
        [[routes.response_filters]]
        type = "builtin"
        name = "headers"

        [[routes]]
        name = "static"
        respond = {}
        [routes.matchers]
        headers = [{ name = "x-env", value = "dev" }, { name = "x-debug", present = true }]
        [[routes.filters]]
        type = "builtin"
        name = "cors"
        """

    /// A profile route that sets `filters` replaces the route's whole list (entries are not
    /// merged by name: the list is one ordered chain); a route that does not set them keeps them.
    @Test func aProfileReplacesAWholeFilterList() throws {
        let directory = try ConfigDirectory([
            "jester.toml": Self.base,
            "jester.prod.toml": """
            [plugins]
            allow_unsafe_dylib = true

            [[routes]]
            name = "api"
            [[routes.filters]]
            type = "builtin"
            name = "rate-limit"
            config = { burst = 5 }
            [[routes.filters]]
            type = "dylib"
            module = "lib/libprod.so"

            [[routes]]
            name = "static"
            filters = []
            [routes.matchers]
            headers = [{ name = "x-env", regex = "^prod" }]
            """,
            "lib/libprod.so": "",
        ])
        let dev = try directory.load()
        #expect(dev.routes[0].filters.map(\.name) == ["request-id", "rate-limit"])
        let prod = try directory.load(profile: "prod")
        let api = prod.routes[0]
        // Replaced, not merged: rate-limit has only the profile's config, request-id is gone.
        #expect(api.filters.map(\.name) == ["rate-limit", "libprod"])
        #expect(api.filters[0].config == .object([("burst", .integer(5))]))
        #expect(
            api.filters[0].location == JesterConfig.SourceLocation(file: directory.file("jester.prod.toml"), line: 6)
        )
        #expect(api.filters[1].module == directory.resolved("lib/libprod.so"))
        // Not set in the profile: kept.
        #expect(api.responseFilters.map(\.name) == ["headers"])
        #expect(prod.plugins.allowUnsafeDylib)
        // filters = [] empties the list; header conditions are replaced whole too.
        #expect(prod.routes[1].filters == [])
        #expect(prod.routes[1].matchers.headers == [HeaderMatcher(name: "x-env", condition: .regex("^prod"))])
    }
}
