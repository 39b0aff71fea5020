public import JesterManifest

/// The gateway's configuration after loading: every include merged, the profile overlaid,
/// `${ENV:DEFAULT}` interpolated, every value checked. The gateway only ever sees this form.
///
/// Routes are matched in the order of ``routes``: the main file's routes first, in file order,
/// then each included file's routes in the order the `include` globs list them (files of one glob
/// sorted by name). The first route whose matchers all accept a request serves it.
public struct GatewayConfig: Sendable, Equatable {
    /// The listeners, in config order; names are unique.
    public var listeners: [ListenerConfig]
    /// The routes in match order; names are unique.
    public var routes: [RouteConfig]
    /// Upstreams declared under `[upstreams.NAME]`, sorted by name. Routes refer to them by name
    /// or declare their own inline (which then appear here under the route's name).
    public var upstreams: [UpstreamConfig]
    /// Access logging.
    public var accessLog: AccessLogConfig
    /// Graceful shutdown and reload.
    public var lifecycle: LifecycleConfig
    /// `[plugins]`: discovery and the unsafe tier.
    public var plugins: PluginsConfig
    /// `[admin]`: the admin API (`GET /status`, `GET /healthz`, `POST /reload`); `nil` when the
    /// config has no `[admin]` table, and then nothing listens for it.
    public var admin: AdminConfig?
    /// Every file that contributed to this config, main file first.
    public var files: [String]

    public init(
        listeners: [ListenerConfig] = [],
        routes: [RouteConfig] = [],
        upstreams: [UpstreamConfig] = [],
        accessLog: AccessLogConfig = AccessLogConfig(),
        lifecycle: LifecycleConfig = LifecycleConfig(),
        plugins: PluginsConfig = PluginsConfig(),
        admin: AdminConfig? = nil,
        files: [String] = []
    ) {
        self.listeners = listeners
        self.routes = routes
        self.upstreams = upstreams
        self.accessLog = accessLog
        self.lifecycle = lifecycle
        self.plugins = plugins
        self.admin = admin
        self.files = files
    }

    /// The upstream with this name.
    public func upstream(named name: String) -> UpstreamConfig? {
        upstreams.first { $0.name == name }
    }
}

/// Where a value came from: a file and a 1-based line (0 when not known).
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }
}

/// A length of time, written in config as `"250ms"`, `"10s"`, `"5m"`, `"1h"` or a number of seconds.
public struct ConfigDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public static func seconds(_ s: Int64) -> ConfigDuration { ConfigDuration(milliseconds: s * 1000) }
    public static func milliseconds(_ ms: Int64) -> ConfigDuration { ConfigDuration(milliseconds: ms) }

    public var nanoseconds: Int64 { milliseconds * 1_000_000 }

    public static func < (a: ConfigDuration, b: ConfigDuration) -> Bool { a.milliseconds < b.milliseconds }

    public var description: String {
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}

/// A host and port to listen on: `":443"` (every address), `"127.0.0.1:8080"`, `"[::1]:8080"`,
/// `"localhost:8080"`.
public struct BindAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host, or `nil` for every address (IPv4 and IPv6).
    public var host: String?
    public var port: Int

    public init(host: String?, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        guard let host else { return ":\(port)" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension BindAddress {
    /// Whether only this machine can connect: `127.0.0.0/8`, `::1` (or `::ffff:127.x.y.z`) and
    /// `localhost`. Every address (`":9901"`) and any other name or address is not.
    public var isLoopback: Bool {
        guard let host = host?.lowercased() else { return false }
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        if ValueParsers.isIPv4(host) { return host.hasPrefix("127.") }
        guard ValueParsers.isIPv6(host) else { return false }
        let groups = Self.ipv6Groups(host)
        guard groups.count == 8 else { return false }
        if groups[0..<7].allSatisfy({ $0 == 0 }) { return groups[7] == 1 }
        // ::ffff:127.0.0.1, the IPv4-mapped form.
        return groups[0..<5].allSatisfy { $0 == 0 } && groups[5] == 0xFFFF && groups[6] >> 8 == 127
    }

    /// The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail counts as two);
    /// fewer when the text is malformed.
    private static func ipv6Groups(_ text: String) -> [UInt16] {
        func parse(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var groups: [UInt16] = []
            for piece in part.split(separator: ":", omittingEmptySubsequences: false) {
                if piece.contains(".") {
                    let octets = piece.split(separator: ".").compactMap { UInt16($0) }
                    guard octets.count == 4, octets.allSatisfy({ $0 <= 255 }) else { return nil }
                    groups += [octets[0] << 8 | octets[1], octets[2] << 8 | octets[3]]
                } else {
                    guard piece.count <= 4, let group = UInt16(piece, radix: 16) else { return nil }
                    groups.append(group)
                }
            }
            return groups
        }
        let halves = text.components(separatedBy: "::")
        guard let head = parse(Substring(halves[0])) else { return [] }
        guard halves.count == 2 else { return head }
        guard let tail = parse(Substring(halves[1])), head.count + tail.count < 8 else { return [] }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
}

/// `[admin]`: where the admin API listens and the token it asks for.
///
/// ```toml
/// [admin]
/// listen = "127.0.0.1:9901"
/// token = "${JESTER_ADMIN_TOKEN}"   # required when listen is not a loopback address
/// ```
public struct AdminConfig: Sendable, Equatable {
    /// Where to listen (`listen`, required): host and port; port 0 picks a free port (for tests).
    public var listen: BindAddress
    /// The bearer token every request must carry (`Authorization: Bearer TOKEN`), or `nil` for
    /// none. The loader refuses a `listen` that is not a loopback address without a token.
    public var token: String?
    /// Where the `[admin]` table was written.
    public var location: SourceLocation

    public init(
        listen: BindAddress,
        token: String? = nil,
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.listen = listen
        self.token = token
        self.location = location
    }
}

/// One listening socket and the protocols it speaks.
public struct ListenerConfig: Sendable, Equatable {
    public var name: String
    public var bind: BindAddress
    /// TLS from PEM files; `nil` for plaintext.
    public var tls: TLSConfig?
    /// ALPN protocols offered on TLS, in preference order: `h2`, `http/1.1`. Default both.
    public var alpn: [String]
    /// Whether a plaintext listener accepts HTTP/2 with prior knowledge (h2c). Default `false`.
    public var h2c: Bool
    /// Limits and timeouts for connections and requests on this listener.
    public var http: HTTPSettings
    public var location: SourceLocation

    public init(
        name: String,
        bind: BindAddress,
        tls: TLSConfig? = nil,
        alpn: [String] = ["h2", "http/1.1"],
        h2c: Bool = false,
        http: HTTPSettings = HTTPSettings(),
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.name = name
        self.bind = bind
        self.tls = tls
        self.alpn = alpn
        self.h2c = h2c
        self.http = http
        self.location = location
    }
}

/// A certificate chain and private key, both PEM files.
public struct TLSConfig: Sendable, Hashable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}

/// Per-listener HTTP limits (`[listeners.http]`). Every limit has a safe default.
public struct HTTPSettings: Sendable, Hashable {
    /// The request line plus all headers, in bytes (`max_header_bytes`, default 32 KiB). Over it: 431.
    public var maxHeaderBytes: Int
    /// The request body, in bytes (`max_request_body`, default 16 MiB), checked as it streams. Over it: 413.
    public var maxRequestBodyBytes: Int64
    /// Time to receive a request's complete head (`header_read_timeout`, default 10 s). Over it: 408.
    public var headerReadTimeout: ConfigDuration
    /// How long an idle keep-alive connection stays open (`idle_timeout`, default 60 s).
    public var idleTimeout: ConfigDuration
    /// Open connections on this listener (`max_connections`, default 10000); more are closed at accept.
    public var maxConnections: Int
    /// Concurrent HTTP/2 streams per connection (`max_concurrent_streams`, default 128).
    public var maxConcurrentStreams: Int

    public init(
        maxHeaderBytes: Int = 32 * 1024,
        maxRequestBodyBytes: Int64 = 16 * 1024 * 1024,
        headerReadTimeout: ConfigDuration = .seconds(10),
        idleTimeout: ConfigDuration = .seconds(60),
        maxConnections: Int = 10_000,
        maxConcurrentStreams: Int = 128
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxConcurrentStreams = maxConcurrentStreams
    }
}

/// One route: what requests it takes and what answers them.
public struct RouteConfig: Sendable, Equatable {
    public var name: String
    /// Listener names this route serves; empty means every listener.
    public var listeners: [String]
    public var matchers: MatcherConfig
    public var action: RouteAction
    /// `[[routes.filters]]`: run in order before the action (upstream, respond or handler).
    public var filters: [FilterConfig]
    /// `[[routes.response_filters]]`: run in order on the response before it goes to the client.
    public var responseFilters: [FilterConfig]
    public var location: SourceLocation

    public init(
        name: String,
        listeners: [String] = [],
        matchers: MatcherConfig = MatcherConfig(),
        action: RouteAction,
        filters: [FilterConfig] = [],
        responseFilters: [FilterConfig] = [],
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.name = name
        self.listeners = listeners
        self.matchers = matchers
        self.action = action
        self.filters = filters
        self.responseFilters = responseFilters
        self.location = location
    }
}

/// What a route does with a request it matched.
public enum RouteAction: Sendable, Equatable {
    /// Forward to an upstream, by the name of an entry in ``GatewayConfig/upstreams``.
    case upstream(String)
    /// Answer with a fixed response (`[routes.respond]`).
    case respond(StaticResponseConfig)
    /// Answer from a handler plugin (`[routes.handler]`).
    case plugin(PluginHandlerConfig)
}

/// `[routes.matchers]`: every matcher present must accept the request.
public struct MatcherConfig: Sendable, Equatable {
    /// Hosts; empty means any. `example.com` matches exactly (case-insensitive, port ignored);
    /// `*.example.com` matches any name ending in `.example.com`; `*` matches any.
    public var hosts: [String]
    /// A path prefix (default `/`), matched on whole segments: `/api` matches `/api` and `/api/x`,
    /// not `/apix`. A prefix ending in `/` matches any path starting with it.
    public var pathPrefix: String
    /// Methods, upper-case; empty means any.
    public var methods: [String]
    public var headers: [HeaderMatcher]

    public init(hosts: [String] = [], pathPrefix: String = "/", methods: [String] = [], headers: [HeaderMatcher] = []) {
        self.hosts = hosts
        self.pathPrefix = pathPrefix
        self.methods = methods
        self.headers = headers
    }
}

/// A header condition: `{ name = "x-env", value = "prod" }`, `{ name = "x-debug", present = true }`,
/// `{ name = "user-agent", regex = "^curl/" }`.
public struct HeaderMatcher: Sendable, Equatable {
    public enum Condition: Sendable, Equatable {
        /// The header is present with exactly this value (any of its values, if repeated).
        case exact(String)
        /// The header is present (`true`) or absent (`false`).
        case present(Bool)
        /// Some value of the header matches this regular expression (searched, not anchored).
        case regex(String)
    }

    /// The header name, lower-case.
    public var name: String
    public var condition: Condition

    public init(name: String, condition: Condition) {
        self.name = name
        self.condition = condition
    }
}

/// `[upstreams.NAME]` or a route's inline `[routes.upstream]`.
public struct UpstreamConfig: Sendable, Equatable {
    public enum Strategy: String, Sendable, Equatable, CaseIterable {
        case single
        case roundRobin = "round_robin"
    }

    public var name: String
    public var strategy: Strategy
    public var targets: [UpstreamTarget]
    /// Time to open a connection (`connect_timeout`, default 5 s). Over it: 502.
    public var connectTimeout: ConfigDuration
    /// Time from sending the request to the response head (`response_timeout`, default 60 s). Over it: 504.
    public var responseHeaderTimeout: ConfigDuration
    /// How long a pooled idle connection is kept (`idle_timeout`, default 60 s).
    public var idleTimeout: ConfigDuration
    /// Idle connections kept per target and event loop (`max_idle_per_target`, default 64).
    public var maxIdlePerTarget: Int
    /// Whether `https://` targets' certificates are verified (`tls_verify`, default `true`).
    public var tlsVerify: Bool
    /// Extra trust roots (PEM) for `https://` targets (`ca_file`).
    public var caFile: String?
    public var location: SourceLocation

    public init(
        name: String,
        strategy: Strategy = .single,
        targets: [UpstreamTarget],
        connectTimeout: ConfigDuration = .seconds(5),
        responseHeaderTimeout: ConfigDuration = .seconds(60),
        idleTimeout: ConfigDuration = .seconds(60),
        maxIdlePerTarget: Int = 64,
        tlsVerify: Bool = true,
        caFile: String? = nil,
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.name = name
        self.strategy = strategy
        self.targets = targets
        self.connectTimeout = connectTimeout
        self.responseHeaderTimeout = responseHeaderTimeout
        self.idleTimeout = idleTimeout
        self.maxIdlePerTarget = maxIdlePerTarget
        self.tlsVerify = tlsVerify
        self.caFile = caFile
        self.location = location
    }
}

/// `http://host:port` or `https://host:port`, optionally with a path prefix that is put in front
/// of every forwarded path.
public struct UpstreamTarget: Sendable, Hashable, CustomStringConvertible {
    public var tls: Bool
    public var host: String
    public var port: Int
    /// A prefix for forwarded paths, `""` or starting with `/` and not ending with one.
    public var pathPrefix: String

    public init(tls: Bool, host: String, port: Int, pathPrefix: String = "") {
        self.tls = tls
        self.host = host
        self.port = port
        self.pathPrefix = pathPrefix
    }

    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(tls ? "https" : "http")://\(h):\(port)\(pathPrefix)"
    }
}

/// `[routes.respond]`: a fixed answer, for health checks, redirects and the quick start.
public struct StaticResponseConfig: Sendable, Equatable {
    public var status: Int
    public var body: String
    /// Response headers in order; `content-type` defaults to `text/plain; charset=utf-8` when a body is set.
    public var headers: [HeaderField]

    public init(status: Int = 200, body: String = "", headers: [HeaderField] = []) {
        self.status = status
        self.body = body
        self.headers = headers
    }
}

/// A header name and value, in order.
public struct HeaderField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// `[routes.handler]`: a handler plugin answers the request.
public struct PluginHandlerConfig: Sendable, Equatable {
    /// A plugin directory, `plugin.json` or `.wasm` path, relative to the config file's directory.
    public var plugin: String
    /// The export to call (default: the plugin's handler).
    public var export: String?
    /// Config values passed to the plugin (`config = { greeting = "Hi" }`).
    public var config: [String: String]
    /// Response headers; `content-type` defaults to `text/plain; charset=utf-8`.
    public var headers: [HeaderField]

    public init(plugin: String, export: String? = nil, config: [String: String] = [:], headers: [HeaderField] = []) {
        self.plugin = plugin
        self.export = export
        self.config = config
        self.headers = headers
    }
}

/// One entry of `[[routes.filters]]` or `[[routes.response_filters]]`.
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "rate-limit"
/// config = { rps = 100, burst = 20, key = ["ip"] }
///
/// [[routes.filters]]
/// type = "wasm"
/// name = "auth"
/// plugin = "plugins/auth"          # a plugin id from [plugins] search_paths, or a path
/// failure_policy = "fail_open"
/// config = { header = "x-api-key" }
/// ```
public struct FilterConfig: Sendable, Equatable {
    /// Which tier runs the filter.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A Swift filter compiled into Jester (`name` picks it).
        case builtin
        /// A sandboxed WebAssembly plugin of the `http-filter` world.
        case wasm
        /// A native shared library behind `include/jester_filter.h`; needs `--allow-unsafe-dylib`.
        case dylib
    }

    /// What happens when the filter fails (a trap, a limit, a busy plugin, a bad answer).
    public enum FailurePolicy: String, Sendable, Equatable, CaseIterable {
        /// Answer 500, or 503 when the plugin hit a limit or was busy (the default).
        case failClosed = "fail_closed"
        /// Log the failure and go on as if the filter had passed the message on unchanged.
        case failOpen = "fail_open"
    }

    public var kind: Kind
    /// For `builtin`, the filter's name (`headers`, `rate-limit`, …), which the loader requires and
    /// does not check against the built-in list; for `wasm` and `dylib`, a label for logs and errors.
    /// When unset in TOML: the plugin id; else the name of what the plugin path points to without
    /// `.wasm` / `.json` (`plugins/auth`, `plugins/auth/plugin.json` and `auth.wasm` give `auth`);
    /// else the module's file name without its extension (`lib/libredact.so` gives `libredact`).
    public var name: String
    /// For `wasm` (exactly one of this and ``module``): a plugin id (lowercase, no `/`; see
    /// `PluginManifest.isValidID`) to look up under `[plugins] search_paths`, or an absolute path
    /// (it starts with `/`) to a plugin directory, `plugin.json` or `.wasm` that existed at load.
    /// `nil` for `builtin` and `dylib`.
    public var plugin: String?
    /// For `dylib` (always set): the shared library's absolute path. For `wasm`, the alternative to
    /// ``plugin``: a `.wasm` file's absolute path. Either was a file, not a directory, at load. `nil` for `builtin`.
    public var module: String?
    /// The filter's `config` table as JSON: always an object (empty when absent), members in written
    /// order. TOML date-times are strings; interpolated (`${…}`) values are strings.
    public var config: JSONValue
    public var failurePolicy: FailurePolicy
    /// For response filters: also run on the gateway's own error answers (502, 504, …). Always
    /// `false` for request filters (the loader refuses `run_on_errors` there).
    public var runOnErrors: Bool
    /// Where the entry starts: its `[[routes.filters]]` header, or its line in an inline array.
    public var location: SourceLocation
    /// Where each value under `config` was written, keyed by the path a ``JSONSchemaViolation``
    /// reports (`$` for the table, `$.rps`, `$.key[0]`, `$.a.b`; keys as written, unquoted), so that
    /// an error names the file and line. Every value has an entry when `config` was set; empty when not.
    public var configLocations: [String: SourceLocation]

    public init(
        kind: Kind,
        name: String,
        plugin: String? = nil,
        module: String? = nil,
        config: JSONValue = .object([]),
        failurePolicy: FailurePolicy = .failClosed,
        runOnErrors: Bool = false,
        location: SourceLocation = SourceLocation(file: "", line: 0),
        configLocations: [String: SourceLocation] = [:]
    ) {
        self.kind = kind
        self.name = name
        self.plugin = plugin
        self.module = module
        self.config = config
        self.failurePolicy = failurePolicy
        self.runOnErrors = runOnErrors
        self.location = location
        self.configLocations = configLocations
    }

    /// Where the config value at `path` (`$.rps`, `$.key[0]`) was written: the closest enclosing
    /// value that has a location, else the entry itself.
    public func location(ofConfig path: String) -> SourceLocation {
        var path = path
        while true {
            if let found = configLocations[path] { return found }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { return location }
            path = String(path[..<cut])
        }
    }
}

/// `[plugins]`.
public struct PluginsConfig: Sendable, Equatable {
    /// Directories scanned at start and on reload for plugins (`plugin.json` next to a `.wasm`,
    /// or one directory per plugin); a filter's `plugin` may then name a plugin by its id.
    /// Absolute, resolved against the declaring file's directory; each was an existing directory at
    /// load, listed once, in config order.
    public var searchPaths: [String]
    /// Whether `dylib` filters may load (`allow_unsafe_dylib`, default `false`; `jester run
    /// --allow-unsafe-dylib` also allows them). Native code runs unsandboxed in the gateway.
    public var allowUnsafeDylib: Bool
    /// Whether every WASM plugin (filters and handlers) must be signed by a key in the host's trust
    /// store to load (`require_signatures`, default `false`; `jester run --require-signatures` also
    /// turns it on). See docs/signing.md.
    public var requireSignatures: Bool
    public var location: SourceLocation

    public init(
        searchPaths: [String] = [], allowUnsafeDylib: Bool = false, requireSignatures: Bool = false,
        location: SourceLocation = SourceLocation(file: "", line: 0)
    ) {
        self.searchPaths = searchPaths
        self.allowUnsafeDylib = allowUnsafeDylib
        self.requireSignatures = requireSignatures
        self.location = location
    }
}

/// `[access_log]`.
public struct AccessLogConfig: Sendable, Equatable {
    /// Whether a line is logged per request (`enabled`, default `true`).
    public var enabled: Bool

    public init(enabled: Bool = true) {
        self.enabled = enabled
    }
}

/// `[lifecycle]`.
public struct LifecycleConfig: Sendable, Equatable {
    /// How long a graceful shutdown waits for in-flight requests (`drain_timeout`, default 30 s).
    public var drainTimeout: ConfigDuration
    /// Where `jester run` writes its process id for `jester reload` (`pid_file`, optional).
    public var pidFile: String?

    public init(drainTimeout: ConfigDuration = .seconds(30), pidFile: String? = nil) {
        self.drainTimeout = drainTimeout
        self.pidFile = pidFile
    }
}
