/// The one description of the config's keys: the decoder checks keys and value kinds against it,
/// and ``ConfigSchema`` generates the JSON Schema (with each key's description) from it, so the two
/// cannot drift apart.
package struct FieldSpec: Sendable {
    package enum Requirement: Sendable {
        case optional
        /// Must be present once includes and the profile are merged (the decoder checks it; the
        /// JSON Schema does not, since a profile or included file may leave it to another file).
        case required
        /// Must be present in every file that writes the table (checked by the schema too): a
        /// route's `name`, which profiles merge by.
        case always
    }

    package var key: String
    package var kind: ValueKind
    package var summary: String
    package var requirement: Requirement
    /// The default, as JSON text for the schema (`"\"single\""`, `true`).
    package var defaultJSON: String?
    /// An example of the key written out, for "missing key" fixes: `bind = ":8080"`.
    package var example: String?

    package init(
        _ key: String,
        _ kind: ValueKind,
        _ summary: String,
        requirement: Requirement = .optional,
        defaultJSON: String? = nil,
        example: String? = nil
    ) {
        self.key = key
        self.kind = kind
        self.summary = summary
        self.requirement = requirement
        self.defaultJSON = defaultJSON
        self.example = example
    }
}

/// What a key's value may be.
package indirect enum ValueKind: Sendable {
    /// Any string; `expected` says what kind (`a bind address like ":443"`).
    case string(expected: String)
    case enumeration([String])
    case integer(min: Int64, max: Int64)
    case bool
    /// Bytes: an integer, or a string with a unit (`"32KiB"`, `"10MB"`).
    case size(min: Int64)
    /// `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"1m30s"` or a number of seconds.
    case duration(allowZero: Bool)
    case array(ValueKind, expected: String)
    case table(TableSpec)
    /// A table whose keys are names the user picks, every value of one kind.
    case map(ValueKind, expected: String)
    /// One of several shapes.
    case either([ValueKind], expected: String)
    /// A string, number or boolean.
    case scalar
    /// A table of any keys and values, nested tables and arrays included, passed on as JSON (a
    /// filter's `config`, which the filter's own JSON Schema checks).
    case openTable(expected: String)
    /// A key Jester knows and does not take here: not supported yet (the default fix), or not in
    /// this table (`run_on_errors` in a request filter). Using it is an error with this message and fix.
    case unsupported(String, fix: String? = nil)

    /// The tables a value of this kind may be, through `either` and arrays.
    package var tableSpecs: [TableSpec] {
        switch self {
        case .table(let spec): return [spec]
        case .either(let kinds, _): return kinds.flatMap(\.tableSpecs)
        case .array(let element, _): return element.tableSpecs
        default: return []
        }
    }

    /// How a type error names what was expected.
    package var expected: String {
        switch self {
        case .string(let expected): return expected
        case .enumeration(let values): return "one of " + values.map { "\"\($0)\"" }.joined(separator: ", ")
        case .integer: return "an integer"
        case .bool: return "true or false"
        case .size: return "a size like 1048576 or \"32KiB\""
        case .duration: return "a duration like \"10s\", \"250ms\" or a number of seconds"
        case .array(_, let expected), .map(_, let expected), .either(_, let expected): return expected
        case .table(let spec): return "a table (\(spec.name))"
        case .scalar: return "a string, number or boolean"
        case .openTable(let expected): return expected
        case .unsupported: return "nothing (not supported here)"
        }
    }
}

/// The keys one table may hold.
package struct TableSpec: Sendable {
    /// How messages name the table: `[routes.matchers]`.
    package var name: String
    package var summary: String
    package var fields: [FieldSpec]
    /// Keys of which at most one may be set (a route's action, a header matcher's condition).
    package var exclusive: [String]
    /// Whether exactly one of ``exclusive`` must be set.
    package var exactlyOne: Bool
    /// What to tell a user who set none of ``exclusive``.
    package var exclusiveFix: String?
    /// Whether a profile merges an array of these tables element by element, matching `name`
    /// (`[[routes]]`, `[[listeners]]`). A profile replaces any other array of tables whole: a
    /// route's `filters` are one ordered chain, and header lists are one set of conditions.
    package var mergesByName: Bool

    package init(
        _ name: String,
        _ summary: String,
        fields: [FieldSpec],
        exclusive: [String] = [],
        exactlyOne: Bool = false,
        exclusiveFix: String? = nil,
        mergesByName: Bool = false
    ) {
        self.name = name
        self.summary = summary
        self.fields = fields
        self.exclusive = exclusive
        self.exactlyOne = exactlyOne
        self.exclusiveFix = exclusiveFix
        self.mergesByName = mergesByName
    }

    package func field(_ key: String) -> FieldSpec? {
        fields.first { $0.key == key }
    }
}

/// The config's keys, table by table.
package enum ConfigSpec {
    static let nameExpected = "a name like \"api\" (letters, digits, '.', '_' and '-')"

    package static let tls = TableSpec(
        "[listeners.tls]",
        "Terminate TLS with a certificate chain and private key, both PEM files.",
        fields: [
            FieldSpec(
                "cert",
                .string(expected: "a path like \"certs/fullchain.pem\""),
                "The certificate chain (PEM), relative to the file that declares it. The file must exist.",
                requirement: .required,
                example: "cert = \"certs/fullchain.pem\""
            ),
            FieldSpec(
                "key",
                .string(expected: "a path like \"certs/privkey.pem\""),
                "The private key (PEM), relative to the file that declares it. The file must exist.",
                requirement: .required,
                example: "key = \"certs/privkey.pem\""
            ),
        ]
    )

    package static let http = TableSpec(
        "[listeners.http]",
        "Limits and timeouts for connections and requests on this listener.",
        fields: [
            FieldSpec(
                "max_header_bytes",
                .size(min: 1024),
                "The request line plus all headers, in bytes or with a unit (\"32KiB\"). Over it: 431.",
                defaultJSON: json(size: Int64(HTTPSettings().maxHeaderBytes))
            ),
            FieldSpec(
                "max_request_body",
                .size(min: 0),
                "The request body, in bytes or with a unit (\"16MiB\", \"10MB\" is 10^6), checked as it streams. Over it: 413.",
                defaultJSON: json(size: HTTPSettings().maxRequestBodyBytes)
            ),
            FieldSpec(
                "header_read_timeout",
                .duration(allowZero: false),
                "Time to receive a request's complete head. Over it: 408.",
                defaultJSON: json(HTTPSettings().headerReadTimeout)
            ),
            FieldSpec(
                "idle_timeout",
                .duration(allowZero: false),
                "How long an idle keep-alive connection stays open.",
                defaultJSON: json(HTTPSettings().idleTimeout)
            ),
            FieldSpec(
                "max_connections",
                .integer(min: 1, max: Int64(Int32.max)),
                "Open connections on this listener; more are closed at accept.",
                defaultJSON: "\(HTTPSettings().maxConnections)"
            ),
            FieldSpec(
                "max_concurrent_streams",
                .integer(min: 1, max: Int64(Int32.max)),
                "Concurrent HTTP/2 streams per connection.",
                defaultJSON: "\(HTTPSettings().maxConcurrentStreams)"
            ),
        ]
    )

    package static let listener = TableSpec(
        "[[listeners]]",
        "A listening socket and the protocols it speaks.",
        fields: [
            FieldSpec(
                "name",
                .string(expected: nameExpected),
                "The listener's name, which routes' `listeners` refer to. Default \"default\" for the one-listener [listeners] table, \"listener-N\" (1-based) in [[listeners]].",
                example: "name = \"edge\""
            ),
            FieldSpec(
                "bind",
                .string(expected: "a bind address like \":443\", \"127.0.0.1:8080\" or \"[::1]:8080\""),
                "Where to listen: \":443\" (every address), \"127.0.0.1:8080\", \"[::1]:8080\", \"localhost:8080\". Port 1-65535.",
                requirement: .required,
                example: "bind = \":8080\""
            ),
            FieldSpec("tls", .table(tls), "TLS termination; plaintext when absent."),
            FieldSpec(
                "alpn",
                .array(
                    .enumeration(["h2", "http/1.1"]),
                    expected: "an array of ALPN protocols like [\"h2\", \"http/1.1\"]"
                ),
                "ALPN protocols offered on TLS, in preference order.",
                defaultJSON: "[\"h2\", \"http/1.1\"]"
            ),
            FieldSpec(
                "h2c",
                .bool,
                "Whether a plaintext listener accepts HTTP/2 with prior knowledge (h2c).",
                defaultJSON: "false"
            ),
            FieldSpec("http", .table(http), "Limits and timeouts."),
        ],
        mergesByName: true
    )

    package static let headerMatcher = TableSpec(
        "[[routes.matchers.headers]]",
        "A header condition: exactly one of `value`, `present` or `regex`.",
        fields: [
            FieldSpec(
                "name",
                .string(expected: "a header name like \"x-env\""),
                "The header name (case-insensitive).",
                requirement: .always,
                example: "name = \"x-env\""
            ),
            FieldSpec("value", .string(expected: "a string"), "Matches when some value of the header is exactly this."),
            FieldSpec("present", .bool, "Matches when the header is present (true) or absent (false)."),
            FieldSpec(
                "regex",
                .string(expected: "a regular expression"),
                "Matches when some value of the header matches this regular expression (searched, not anchored)."
            ),
        ],
        exclusive: ["value", "present", "regex"],
        exactlyOne: true,
        exclusiveFix: "Add value = \"…\", present = true or regex = \"…\""
    )

    package static let matchers = TableSpec(
        "[routes.matchers]",
        "What requests the route takes; every matcher present must accept the request.",
        fields: [
            FieldSpec(
                "hosts",
                .array(
                    .string(expected: "a host name like \"example.com\" or \"*.example.com\""),
                    expected: "an array of host names like [\"example.com\", \"*.example.com\"]"
                ),
                "Host names: \"example.com\" (exact, case-insensitive, port ignored), \"*.example.com\" (any name ending in .example.com), \"*\" (any). Empty or absent: any host."
            ),
            FieldSpec(
                "path_prefix",
                .string(expected: "a path like \"/api\""),
                "A path prefix starting with \"/\", matched on whole segments: \"/api\" matches /api and /api/x, not /apix.",
                defaultJSON: "\"/\""
            ),
            FieldSpec(
                "methods",
                .array(
                    .string(expected: "a method like \"GET\""),
                    expected: "an array of methods like [\"GET\", \"POST\"]"
                ),
                "HTTP methods (upper-cased). Empty or absent: any method."
            ),
            FieldSpec(
                "headers",
                .array(
                    .table(headerMatcher),
                    expected: "an array of header conditions like [{ name = \"x-env\", value = \"prod\" }]"
                ),
                "Header conditions, all of which must hold: { name, value }, { name, present = true|false } or { name, regex }."
            ),
        ]
    )

    package static let upstream = TableSpec(
        "[upstreams.NAME]",
        "Where to forward requests: one or more targets and how to pick one.",
        fields: [
            FieldSpec(
                "strategy",
                .enumeration(UpstreamConfig.Strategy.allCases.map(\.rawValue)),
                "How a target is picked: \"single\" (exactly one target) or \"round_robin\".",
                defaultJSON: "\"single\""
            ),
            FieldSpec(
                "targets",
                .array(
                    .string(expected: "a URL like \"http://127.0.0.1:8080\""),
                    expected: "an array of URLs like \"http://127.0.0.1:8080\""
                ),
                "Target URLs: http:// or https://, a host, an optional port (default 80 or 443) and an optional path prefix put in front of every forwarded path. No query, fragment or user info.",
                requirement: .required,
                example: "targets = [\"http://127.0.0.1:8080\"]"
            ),
            FieldSpec(
                "connect_timeout",
                .duration(allowZero: false),
                "Time to open a connection to a target. Over it: 502.",
                defaultJSON: json(UpstreamConfig(name: "", targets: []).connectTimeout)
            ),
            FieldSpec(
                "response_timeout",
                .duration(allowZero: false),
                "Time from sending the request to receiving the response head. Over it: 504.",
                defaultJSON: json(UpstreamConfig(name: "", targets: []).responseHeaderTimeout)
            ),
            FieldSpec(
                "idle_timeout",
                .duration(allowZero: false),
                "How long a pooled idle connection is kept.",
                defaultJSON: json(UpstreamConfig(name: "", targets: []).idleTimeout)
            ),
            FieldSpec(
                "max_idle_per_target",
                .integer(min: 0, max: Int64(Int32.max)),
                "Idle connections kept per target and event loop.",
                defaultJSON: "\(UpstreamConfig(name: "", targets: []).maxIdlePerTarget)"
            ),
            FieldSpec("tls_verify", .bool, "Whether https:// targets' certificates are verified.", defaultJSON: "true"),
            FieldSpec(
                "ca_file",
                .string(expected: "a path like \"certs/internal-ca.pem\""),
                "Extra trust roots (PEM) for https:// targets, relative to the file that declares it. The file must exist."
            ),
        ]
    )

    static let headerField = TableSpec(
        "header",
        "A response header.",
        fields: [
            FieldSpec(
                "name",
                .string(expected: "a header name like \"cache-control\""),
                "The header name.",
                requirement: .always,
                example: "name = \"cache-control\""
            ),
            FieldSpec(
                "value",
                .string(expected: "a string"),
                "The header value.",
                requirement: .always,
                example: "value = \"no-store\""
            ),
        ]
    )

    static let responseHeaders = ValueKind.either(
        [
            .map(.string(expected: "a header value"), expected: "a table of header values"),
            .array(
                .table(headerField),
                expected: "an array of headers like [{ name = \"cache-control\", value = \"no-store\" }]"
            ),
        ],
        expected:
            "a table like { cache-control = \"no-store\" } or an array like [{ name = \"cache-control\", value = \"no-store\" }]"
    )

    package static let respond = TableSpec(
        "[routes.respond]",
        "Answer with a fixed response.",
        fields: [
            FieldSpec("status", .integer(min: 100, max: 599), "The status code, 100-599.", defaultJSON: "200"),
            FieldSpec("body", .string(expected: "a string"), "The response body.", defaultJSON: "\"\""),
            FieldSpec(
                "headers",
                responseHeaders,
                "Response headers, as a table ({ cache-control = \"no-store\" }) or an array of { name, value }."
            ),
            FieldSpec(
                "content_type",
                .string(expected: "a media type like \"application/json\""),
                "Shorthand for a content-type header. Default text/plain; charset=utf-8 when there is a body."
            ),
        ]
    )

    package static let handler = TableSpec(
        "[routes.handler]",
        "Answer from a handler plugin.",
        fields: [
            FieldSpec(
                "plugin",
                .string(expected: "a path like \"plugins/hello\""),
                "A plugin directory, plugin.json or .wasm file, relative to the file that declares it. It must exist.",
                requirement: .required,
                example: "plugin = \"plugins/hello\""
            ),
            FieldSpec(
                "export",
                .string(expected: "an export name like \"handle\""),
                "The export to call. Default: the plugin's handler."
            ),
            FieldSpec(
                "config",
                .map(.scalar, expected: "a table of strings, numbers or booleans like { greeting = \"Hi\" }"),
                "Config values passed to the plugin; numbers and booleans are passed as their text."
            ),
            FieldSpec("headers", responseHeaders, "Response headers, as a table or an array of { name, value }."),
        ]
    )

    /// The keys of one filter entry; `run_on_errors` is refused in request filters.
    static func filter(_ name: String, response: Bool) -> TableSpec {
        TableSpec(
            name,
            "A filter: a built-in one by name, a sandboxed WebAssembly plugin, or a native shared library.",
            fields: [
                FieldSpec(
                    "type",
                    .enumeration(FilterConfig.Kind.allCases.map(\.rawValue)),
                    "Which tier runs the filter: \"builtin\" (compiled into Jester), \"wasm\" (a sandboxed plugin) or \"dylib\" (a native library, refused unless [plugins] allow_unsafe_dylib or jester run --allow-unsafe-dylib).",
                    requirement: .always,
                    example: "type = \"builtin\""
                ),
                FieldSpec(
                    "name",
                    .string(expected: nameExpected),
                    "For builtin, the filter to run (required; docs/filters.md lists them). For wasm and dylib, a label for logs and errors; default the plugin id, or the plugin's or library's file name without extension.",
                    example: "name = \"rate-limit\""
                ),
                FieldSpec(
                    "plugin",
                    .string(expected: "a plugin id like \"auth\" or a path like \"plugins/auth\""),
                    "wasm only: a plugin id found under [plugins] search_paths, or a plugin directory, plugin.json or .wasm path (one with a \"/\", ending in .wasm or .json, or existing next to the file that declares it), relative to that file; a path must exist.",
                    example: "plugin = \"auth\""
                ),
                FieldSpec(
                    "module",
                    .string(expected: "a path like \"lib/libfilter.so\""),
                    "dylib: the shared library (required). wasm: a .wasm file, instead of plugin. Relative to the file that declares it; it must exist.",
                    example: "module = \"lib/libfilter.so\""
                ),
                FieldSpec(
                    "config",
                    .openTable(expected: "a table like { rps = 100, key = [\"ip\"] }"),
                    "The filter's settings: any table (nested tables and arrays too), passed to the filter as a JSON object and checked against its schema. Date-times become strings.",
                    defaultJSON: "{}"
                ),
                FieldSpec(
                    "failure_policy",
                    .enumeration(FilterConfig.FailurePolicy.allCases.map(\.rawValue)),
                    "When the filter fails (a trap, a limit, a busy plugin, a bad answer): \"fail_closed\" answers 500 (503 for a limit or a busy plugin); \"fail_open\" logs it and goes on as if the filter had passed the message on unchanged.",
                    defaultJSON: "\"\(FilterConfig.FailurePolicy.failClosed.rawValue)\""
                ),
                response
                    ? FieldSpec(
                        "run_on_errors",
                        .bool,
                        "Also run on the gateway's own error answers (502, 504, …).",
                        defaultJSON: "false"
                    )
                    : FieldSpec(
                        "run_on_errors",
                        .unsupported(
                            "run_on_errors only applies to response_filters",
                            fix: "Remove it, or move the filter to [[routes.response_filters]]"
                        ),
                        "Response filters only."
                    ),
            ]
        )
    }

    package static let requestFilter = filter("[[routes.filters]]", response: false)

    package static let responseFilter = filter("[[routes.response_filters]]", response: true)

    package static let plugins = TableSpec(
        "[plugins]",
        "Plugin discovery, signatures and the unsafe dylib tier.",
        fields: [
            FieldSpec(
                "search_paths",
                .array(
                    .string(expected: "a directory like \"plugins\""),
                    expected: "an array of directories like [\"plugins\", \"/opt/jester/plugins\"]"
                ),
                "Directories scanned for plugins, so that a wasm filter's plugin may be a plugin id. Relative to the file that declares them; each must be an existing directory."
            ),
            FieldSpec(
                "allow_unsafe_dylib",
                .bool,
                "Whether dylib filters may load: native code runs unsandboxed in the gateway. jester run --allow-unsafe-dylib also allows them.",
                defaultJSON: "\(PluginsConfig().allowUnsafeDylib)"
            ),
            FieldSpec(
                "require_signatures",
                .bool,
                "Whether WASM plugins (filters and handlers) load only when signed by a key in the trust store of the data directory (jester trust add); an unsigned, tampered or untrusted plugin fails start and reload. jester run --require-signatures also turns it on.",
                defaultJSON: "\(PluginsConfig().requireSignatures)"
            ),
        ]
    )

    package static let route = TableSpec(
        "[[routes]]",
        "A route: what requests it takes and what answers them. Exactly one of `upstream`, `respond` or `handler`.",
        fields: [
            FieldSpec(
                "name",
                .string(expected: nameExpected),
                "The route's unique name; profiles merge routes by it.",
                requirement: .always,
                example: "name = \"api\""
            ),
            FieldSpec(
                "listeners",
                .array(.string(expected: "a listener name"), expected: "an array of listener names like [\"edge\"]"),
                "The listeners this route serves, by name. Empty or absent: every listener."
            ),
            FieldSpec("matchers", .table(matchers), "What requests the route takes. Absent: every request."),
            FieldSpec(
                "upstream",
                .either(
                    [.string(expected: "an upstream name"), .table(upstream)],
                    expected: "an upstream name like \"api\" or a table ([routes.upstream])"
                ),
                "Forward to an upstream: the name of an [upstreams.NAME] entry, or an inline table (which becomes an upstream named after the route)."
            ),
            FieldSpec("respond", .table(respond), "Answer with a fixed response."),
            FieldSpec("handler", .table(handler), "Answer from a handler plugin."),
            FieldSpec(
                "filters",
                .array(.table(requestFilter), expected: "an array of tables ([[routes.filters]])"),
                "Request filters, run in order before the action. A profile that sets them replaces the route's whole list."
            ),
            FieldSpec(
                "response_filters",
                .array(.table(responseFilter), expected: "an array of tables ([[routes.response_filters]])"),
                "Response filters, run in order on the response before it goes to the client. A profile that sets them replaces the route's whole list."
            ),
        ],
        exclusive: ["upstream", "respond", "handler"],
        exactlyOne: true,
        exclusiveFix: "Add upstream = \"NAME\", [routes.upstream], [routes.respond] or [routes.handler]",
        mergesByName: true
    )

    package static let accessLog = TableSpec(
        "[access_log]",
        "Access logging.",
        fields: [
            FieldSpec(
                "enabled",
                .bool,
                "Whether a line is logged per request.",
                defaultJSON: "\(AccessLogConfig().enabled)"
            )
        ]
    )

    package static let lifecycle = TableSpec(
        "[lifecycle]",
        "Graceful shutdown and reload.",
        fields: [
            FieldSpec(
                "drain_timeout",
                .duration(allowZero: true),
                "How long a graceful shutdown waits for requests in flight.",
                defaultJSON: json(LifecycleConfig().drainTimeout)
            ),
            FieldSpec(
                "pid_file",
                .string(expected: "a path like \"/run/jester.pid\""),
                "Where `jester run` writes its process id for `jester reload`, relative to the file that declares it."
            ),
        ]
    )

    package static let admin = TableSpec(
        "[admin]",
        "The admin API (GET /status, GET /healthz, POST /reload) on its own plaintext HTTP/1.1 socket.",
        fields: [
            FieldSpec(
                "listen",
                .string(expected: "an address like \"127.0.0.1:9901\" or \"[::1]:9901\""),
                "Where the admin API listens: \"127.0.0.1:9901\", \"[::1]:9901\", \"localhost:9901\", or \":9901\" (every address). Port 0 picks a free port. Anything but a loopback address needs a token.",
                requirement: .required,
                example: "listen = \"127.0.0.1:9901\""
            ),
            FieldSpec(
                "token",
                .string(expected: "a token like \"${JESTER_ADMIN_TOKEN}\""),
                "A bearer token every admin request must carry (Authorization: Bearer TOKEN). Required when listen is not a loopback address. Printable ASCII without spaces; read it from the environment with \"${JESTER_ADMIN_TOKEN}\" rather than writing it in the file."
            ),
        ]
    )

    package static let root = TableSpec(
        "the top level",
        "A Jester gateway config.",
        fields: [
            FieldSpec(
                "include",
                .array(
                    .string(expected: "a glob like \"routes/*.toml\""),
                    expected: "an array of globs like [\"routes/*.toml\"]"
                ),
                "Files to merge into this one: glob patterns relative to this file, each file of one glob in name order. Tables merge, [[routes]] and [[listeners]] append, a key set in two files is an error."
            ),
            FieldSpec(
                "listeners",
                .either(
                    [.table(listener), .array(.table(listener), expected: "an array of tables ([[listeners]])")],
                    expected: "a table ([listeners]) or an array of tables ([[listeners]])"
                ),
                "The listeners: one [listeners] table, or several [[listeners]]."
            ),
            FieldSpec(
                "routes",
                .array(.table(route), expected: "an array of tables ([[routes]])"),
                "The routes, matched in order: the first whose matchers accept a request serves it."
            ),
            FieldSpec(
                "upstreams",
                .map(.table(upstream), expected: "a table of upstreams ([upstreams.NAME])"),
                "Named upstreams that routes refer to."
            ),
            FieldSpec("access_log", .table(accessLog), "Access logging."),
            FieldSpec("lifecycle", .table(lifecycle), "Graceful shutdown and reload."),
            FieldSpec("plugins", .table(plugins), "Plugin discovery, signatures and the unsafe dylib tier."),
            FieldSpec("admin", .table(admin), "The admin API: gateway status, health and reload over HTTP."),
        ]
    )

    static func json(_ duration: ConfigDuration) -> String { "\"\(duration)\"" }

    static func json(size: Int64) -> String { "\"\(formatSize(size))\"" }

    /// `32768` → `32KiB`, `10000000` → `10MB`, `512` → `512B`.
    package static func formatSize(_ bytes: Int64) -> String {
        let units: [(String, Int64)] = [
            ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10),
            ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000),
        ]
        for (unit, factor) in units where bytes > 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(unit)"
        }
        return "\(bytes)B"
    }

    /// The kind of the value at a path, walking tables, arrays and maps; nil when unknown.
    package static func kind(at path: ConfigKeyPath) -> ValueKind? {
        var kind = ValueKind.table(root)
        for component in path.components {
            guard let next = step(kind, component) else { return nil }
            kind = next
        }
        return kind
    }

    private static func step(_ kind: ValueKind, _ component: ConfigKeyPath.Component) -> ValueKind? {
        switch (kind, component) {
        case (.table(let spec), .key(let key)): return spec.field(key)?.kind
        case (.map(let value, _), .key): return value
        case (.array(let element, _), .index): return element
        case (.either(let kinds, _), _):
            for candidate in kinds {
                if let next = step(candidate, component) { return next }
            }
            return nil
        default: return nil
        }
    }
}
