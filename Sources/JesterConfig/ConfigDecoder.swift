import Foundation
import JesterManifest

/// Decodes a ``GatewayConfig`` from the merged located tree, collecting every problem instead of
/// stopping at the first, then checks the config as a whole (names, references, binds).
struct ConfigDecoder {
    var issues: [ConfigError.Issue] = []
    /// The main file, for problems that are about no key in particular ("no routes").
    let mainFile: String

    private var listenerReferences: [(name: String, node: ConfigNode)] = []
    private var upstreamReferences: [(name: String, node: ConfigNode)] = []
    private var inlineUpstreams: [(upstream: UpstreamConfig, node: ConfigNode)] = []
    private var namedUpstreams: [(upstream: UpstreamConfig, node: ConfigNode)] = []
    /// Every listener and upstream name declared, including those that failed to decode, so that a
    /// broken listener does not also make every route that names it an error.
    private var declaredListeners: Set<String> = []
    private var declaredUpstreams: [String: ConfigNode] = [:]
    /// The node each decoded listener and route came from, in the same order as the config's.
    private var listenerNodes: [ConfigNode] = []
    private var routeNodes: [ConfigNode] = []
    /// The `[admin] listen` value, when it decoded.
    private var adminNode: ConfigNode?

    init(mainFile: String) {
        self.mainFile = mainFile
    }

    // MARK: Reporting

    mutating func report(_ location: SourceLocation, _ path: ConfigKeyPath, _ message: String, fix: String? = nil) {
        issues.append(ConfigError.Issue(location, key: path.description, message, fix: fix))
    }

    mutating func report(_ node: ConfigNode, _ message: String, fix: String? = nil) {
        report(node.location, node.path, message, fix: fix)
    }

    mutating func typeMismatch(_ node: ConfigNode, expected: String) {
        var fix: String?
        if case .string = node.value, !node.interpolated,
            expected.hasPrefix("an integer") || expected.hasPrefix("true or false")
        {
            fix = "Write the value without quotes"
        }
        report(node, "expected \(expected), found \(node.kindDescription)", fix: fix)
    }

    // MARK: Values

    mutating func string(_ node: ConfigNode, expected: String) -> String? {
        switch node.value {
        case .string(let text): return text
        case .invalid: return nil
        default:
            typeMismatch(node, expected: expected)
            return nil
        }
    }

    mutating func name(_ node: ConfigNode, expected: String, what: String) -> String? {
        guard let text = string(node, expected: expected) else { return nil }
        guard ValueParsers.isName(text) else {
            report(
                node,
                "\"\(text)\" is not a valid \(what) name",
                fix: "Use letters, digits, '.', '_' and '-' (at most 128)"
            )
            return nil
        }
        return text
    }

    mutating func integer(_ node: ConfigNode, min: Int64, max: Int64) -> Int64? {
        let value: Int64
        switch node.value {
        case .integer(let number):
            value = number
        case .string(let text) where node.interpolated:
            guard let number = Int64(text.trimmingWhitespace()) else {
                report(node, "expected an integer, found \"\(text)\" (after interpolation)")
                return nil
            }
            value = number
        case .invalid:
            return nil
        default:
            typeMismatch(node, expected: "an integer")
            return nil
        }
        guard value >= min, value <= max else {
            report(
                node,
                "\(value) is out of range",
                fix: max == Int64(Int32.max) ? "Use at least \(min)" : "Use \(min) to \(max)"
            )
            return nil
        }
        return value
    }

    mutating func bool(_ node: ConfigNode) -> Bool? {
        switch node.value {
        case .bool(let flag): return flag
        case .string(let text) where node.interpolated:
            switch text.trimmingWhitespace().lowercased() {
            case "true": return true
            case "false": return false
            default:
                report(node, "expected true or false, found \"\(text)\" (after interpolation)")
                return nil
            }
        case .invalid: return nil
        default:
            typeMismatch(node, expected: "true or false")
            return nil
        }
    }

    mutating func size(_ node: ConfigNode, min: Int64) -> Int64? {
        let bytes: Int64
        switch node.value {
        case .integer(let number):
            bytes = number
        case .string(let text):
            switch ValueParsers.size(text) {
            case .success(let parsed): bytes = parsed
            case .failure(let message):
                report(
                    node,
                    message.message,
                    fix:
                        "Write bytes as an integer, or a number with a unit: B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (powers of 1024), e.g. \"32KiB\""
                )
                return nil
            }
        case .invalid:
            return nil
        default:
            typeMismatch(node, expected: ValueKind.size(min: min).expected)
            return nil
        }
        guard bytes >= min else {
            report(
                node,
                "\(ConfigSpec.formatSize(bytes)) is too small",
                fix: "Use at least \(ConfigSpec.formatSize(min))"
            )
            return nil
        }
        return bytes
    }

    mutating func duration(_ node: ConfigNode, allowZero: Bool) -> ConfigDuration? {
        let result: Result<ConfigDuration, ValueProblem>
        switch node.value {
        case .integer(let seconds):
            result = seconds < 0 ? .failure("\(seconds) is negative") : ValueParsers.duration(seconds: Double(seconds))
        case .float(let seconds): result = ValueParsers.duration(seconds: seconds)
        case .string(let text): result = ValueParsers.duration(text)
        case .invalid: return nil
        default:
            typeMismatch(node, expected: ValueKind.duration(allowZero: allowZero).expected)
            return nil
        }
        switch result {
        case .success(let duration):
            guard allowZero || duration.milliseconds > 0 else {
                report(
                    node,
                    "\(node.literal) must be longer than zero",
                    fix: "Use a duration like \"10s\" or \"250ms\""
                )
                return nil
            }
            return duration
        case .failure(let message):
            report(
                node,
                message.message,
                fix:
                    "Write a number with a unit: ms, s, m or h (\"250ms\", \"10s\", \"5m\", \"1h\", \"1m30s\"), or a number of seconds"
            )
            return nil
        }
    }

    mutating func array(_ node: ConfigNode, expected: String) -> [ConfigNode]? {
        switch node.value {
        case .array(let elements): return elements
        case .invalid: return nil
        default:
            typeMismatch(node, expected: expected)
            return nil
        }
    }

    /// An array of strings; elements of the wrong kind are reported and left out.
    mutating func strings(_ node: ConfigNode, kind: ValueKind) -> [(String, ConfigNode)]? {
        guard case .array(let element, let expected) = kind else {
            preconditionFailure("strings(_:kind:) needs an array kind")
        }
        guard let elements = array(node, expected: expected) else { return nil }
        return elements.compactMap { child in string(child, expected: element.expected).map { ($0, child) } }
    }

    /// An absolute path for a path written in the file that holds `node`.
    func resolvePath(_ path: String, relativeTo node: ConfigNode) -> String {
        ConfigLoader.resolve(path, relativeTo: node.location.file)
    }

    /// What a path must name, beyond existing.
    enum PathKind {
        case any
        case file
        case directory
    }

    /// Resolves a path and reports it when nothing is there, or not the kind of thing asked for.
    mutating func existingPath(_ node: ConfigNode, what: String, kind: PathKind = .any, fix: String? = nil) -> String? {
        guard let text = string(node, expected: "a path") else { return nil }
        guard !text.isEmpty else {
            report(node, "the path is empty")
            return nil
        }
        let resolved = resolvePath(text, relativeTo: node)
        let base = (node.location.file as NSString).deletingLastPathComponent
        let relativeFix =
            "relative paths start at the directory of \(node.location.file) (\(base.isEmpty ? "." : base))"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory) else {
            report(node, "\(what) \(resolved) does not exist", fix: fix ?? "Fix the path; " + relativeFix)
            return nil
        }
        switch kind {
        case .any:
            break
        case .file where isDirectory.boolValue:
            report(node, "\(what) \(resolved) is a directory, not a file", fix: fix ?? "Name the file; " + relativeFix)
            return nil
        case .directory where !isDirectory.boolValue:
            report(node, "\(what) \(resolved) is not a directory", fix: fix ?? "Name a directory; " + relativeFix)
            return nil
        case .file, .directory:
            break
        }
        return resolved
    }

    /// One of a string enumeration's raw values (a strategy, a filter type), with the near miss
    /// and the choices when it is none of them.
    mutating func enumeration<Value: RawRepresentable & CaseIterable>(
        _ node: ConfigNode,
        _ type: Value.Type,
        what: String
    ) -> Value? where Value.RawValue == String {
        let options = Value.allCases.map(\.rawValue)
        guard let text = string(node, expected: ValueKind.enumeration(options).expected) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let suggestion = Suggestions.closest(to: text, in: options).map { "Did you mean \"\($0)\"? " } ?? ""
        report(
            node,
            "unknown \(what) \"\(text)\"",
            fix: suggestion + "Use " + TableReader.list(options.map { "\"\($0)\"" })
        )
        return nil
    }

    // MARK: The document

    mutating func decode(_ root: ConfigNode) -> GatewayConfig? {
        guard let reader = TableReader(root, ConfigSpec.root, &self) else { return nil }
        var config = GatewayConfig()
        if let node = reader["upstreams"] { decodeUpstreams(node) }
        if let node = reader["listeners"] { config.listeners = decodeListeners(node) }
        if let node = reader["routes"],
            let elements = array(node, expected: ConfigSpec.root.field("routes")!.kind.expected)
        {
            for element in elements {
                if let route = decodeRoute(element) {
                    config.routes.append(route)
                    routeNodes.append(element)
                }
            }
        }
        if let node = reader["access_log"], let table = TableReader(node, ConfigSpec.accessLog, &self) {
            if let enabled = table["enabled"].flatMap({ bool($0) }) { config.accessLog.enabled = enabled }
        }
        if let node = reader["plugins"], let plugins = decodePlugins(node) { config.plugins = plugins }
        if let node = reader["admin"] { config.admin = decodeAdmin(node) }
        if let node = reader["lifecycle"], let table = TableReader(node, ConfigSpec.lifecycle, &self) {
            if let drain = table["drain_timeout"].flatMap({ duration($0, allowZero: true) }) {
                config.lifecycle.drainTimeout = drain
            }
            if let node = table["pid_file"], let path = string(node, expected: "a path") {
                config.lifecycle.pidFile = resolvePath(path, relativeTo: node)
            }
        }
        config.upstreams = (namedUpstreams + inlineUpstreams).map(\.upstream).sorted { $0.name < $1.name }
        checkWhole(&config, root: root)
        return config
    }

    // MARK: Listeners

    mutating func decodeListeners(_ node: ConfigNode) -> [ListenerConfig] {
        let elements: [ConfigNode]
        switch node.value {
        case .table: elements = [node]
        case .array(let items): elements = items
        case .invalid: return []
        default:
            typeMismatch(node, expected: ConfigSpec.root.field("listeners")!.kind.expected)
            return []
        }
        var listeners: [ListenerConfig] = []
        for (offset, element) in elements.enumerated() {
            if let listener = decodeListener(
                element,
                defaultName: node.table != nil ? "default" : "listener-\(offset + 1)"
            ) {
                listeners.append(listener)
                listenerNodes.append(element)
            }
        }
        return listeners
    }

    mutating func decodeListener(_ node: ConfigNode, defaultName: String) -> ListenerConfig? {
        guard let reader = TableReader(node, ConfigSpec.listener, &self) else { return nil }
        var ok = true
        var name = defaultName
        if let child = reader["name"] {
            if let text = self.name(child, expected: ConfigSpec.nameExpected, what: "listener") {
                name = text
            } else {
                ok = false
            }
        }
        var bind: BindAddress?
        if let child = reader["bind"], let text = string(child, expected: reader.field("bind").kind.expected) {
            switch ValueParsers.bind(text) {
            case .success(let address): bind = address
            case .failure(let message):
                report(
                    child,
                    "invalid bind address: \(message)",
                    fix: "Write \":PORT\" for every address, or HOST:PORT like \"127.0.0.1:8080\" or \"[::1]:8080\""
                )
            }
        }
        declaredListeners.insert(name)
        var listener = ListenerConfig(
            name: name,
            bind: bind ?? BindAddress(host: nil, port: 0),
            location: node.location
        )
        if let child = reader["tls"], let tls = TableReader(child, ConfigSpec.tls, &self) {
            let fix = { (key: String) in
                "Fix the path (relative paths start at the directory of \(child.location.file)); for a local test certificate: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost -keyout key.pem -out cert.pem"
            }
            let cert = tls["cert"].flatMap { existingPath($0, what: "certificate file", fix: fix("cert")) }
            let key = tls["key"].flatMap { existingPath($0, what: "private key file", fix: fix("key")) }
            if let cert, let key {
                listener.tls = TLSConfig(certificatePath: cert, keyPath: key)
            } else {
                ok = false
            }
        }
        if let child = reader["alpn"], let entries = strings(child, kind: reader.field("alpn").kind) {
            var protocols: [String] = []
            for (text, element) in entries {
                guard ["h2", "http/1.1"].contains(text) else {
                    report(element, "unknown ALPN protocol \"\(text)\"", fix: "Use \"h2\" and/or \"http/1.1\"")
                    ok = false
                    continue
                }
                guard !protocols.contains(text) else {
                    report(element, "\"\(text)\" is listed twice")
                    continue
                }
                protocols.append(text)
            }
            if child.array?.isEmpty == true {
                report(child, "offers no protocol", fix: "List \"h2\" and/or \"http/1.1\", or leave alpn out for both")
                ok = false
            }
            listener.alpn = protocols
        }
        if let h2c = reader["h2c"].flatMap({ bool($0) }) { listener.h2c = h2c }
        if let child = reader["http"], let http = TableReader(child, ConfigSpec.http, &self) {
            if let value = http["max_header_bytes"].flatMap({ size($0, min: 1024) }) {
                if value > Int64(Int32.max) {
                    report(
                        http["max_header_bytes"]!,
                        "\(ConfigSpec.formatSize(value)) is too large",
                        fix: "Use at most 2GiB"
                    )
                } else {
                    listener.http.maxHeaderBytes = Int(value)
                }
            }
            if let value = http["max_request_body"].flatMap({ size($0, min: 0) }) {
                listener.http.maxRequestBodyBytes = value
            }
            if let value = http["header_read_timeout"].flatMap({ duration($0, allowZero: false) }) {
                listener.http.headerReadTimeout = value
            }
            if let value = http["idle_timeout"].flatMap({ duration($0, allowZero: false) }) {
                listener.http.idleTimeout = value
            }
            if let value = http["max_connections"].flatMap({ integer($0, min: 1, max: Int64(Int32.max)) }) {
                listener.http.maxConnections = Int(value)
            }
            if let value = http["max_concurrent_streams"].flatMap({ integer($0, min: 1, max: Int64(Int32.max)) }) {
                listener.http.maxConcurrentStreams = Int(value)
            }
        }
        guard ok, bind != nil else { return nil }
        return listener
    }

    // MARK: Routes

    mutating func decodeRoute(_ node: ConfigNode) -> RouteConfig? {
        guard let reader = TableReader(node, ConfigSpec.route, &self) else { return nil }
        let name = reader["name"].flatMap { self.name($0, expected: ConfigSpec.nameExpected, what: "route") }
        var listeners: [String] = []
        if let child = reader["listeners"], let entries = strings(child, kind: reader.field("listeners").kind) {
            for (text, element) in entries where !listeners.contains(text) {
                listeners.append(text)
                listenerReferences.append((text, element))
            }
        }
        var matchers: MatcherConfig? = MatcherConfig()
        if let child = reader["matchers"] {
            matchers = decodeMatchers(child)
        }
        var action: RouteAction?
        if let child = reader["upstream"] {
            switch child.value {
            case .string(let text):
                if ValueParsers.isName(text) {
                    upstreamReferences.append((text, child))
                    action = .upstream(text)
                } else {
                    report(
                        child,
                        "\"\(text)\" is not a valid upstream name",
                        fix: "Name an [upstreams.NAME] entry, or write the upstream inline as [routes.upstream]"
                    )
                }
            case .table:
                if var upstream = decodeUpstream(child, name: name ?? "?"), let name {
                    upstream.location = child.location
                    inlineUpstreams.append((upstream, child))
                    action = .upstream(name)
                }
            case .invalid:
                break
            default:
                typeMismatch(child, expected: reader.field("upstream").kind.expected)
            }
        } else if let child = reader["respond"] {
            action = decodeRespond(child).map { .respond($0) }
        } else if let child = reader["handler"] {
            action = decodeHandler(child).map { .plugin($0) }
        }
        var filters: [FilterConfig]? = []
        if let child = reader["filters"] { filters = decodeFilters(child, kind: reader.field("filters").kind) }
        var responseFilters: [FilterConfig]? = []
        if let child = reader["response_filters"] {
            responseFilters = decodeFilters(child, kind: reader.field("response_filters").kind)
        }
        guard let name, let matchers, let action, let filters, let responseFilters else { return nil }
        return RouteConfig(
            name: name,
            listeners: listeners,
            matchers: matchers,
            action: action,
            filters: filters,
            responseFilters: responseFilters,
            location: node.location
        )
    }

    mutating func decodeMatchers(_ node: ConfigNode) -> MatcherConfig? {
        guard let reader = TableReader(node, ConfigSpec.matchers, &self) else { return nil }
        var matchers = MatcherConfig()
        var ok = true
        if let child = reader["hosts"], let entries = strings(child, kind: reader.field("hosts").kind) {
            for (text, element) in entries {
                switch ValueParsers.hostPattern(text) {
                case .success(let host):
                    if !matchers.hosts.contains(host) { matchers.hosts.append(host) }
                case .failure(let message):
                    report(element, message.message, fix: "Write \"example.com\", \"*.example.com\" or \"*\"")
                    ok = false
                }
            }
        }
        if let child = reader["path_prefix"],
            let text = string(child, expected: reader.field("path_prefix").kind.expected)
        {
            if !text.hasPrefix("/") {
                report(child, "\"\(text)\" does not start with \"/\"", fix: "Write a path like \"/\(text)\"")
                ok = false
            } else if text.contains(where: { $0 == "?" || $0 == "#" || $0.isWhitespace }) {
                report(
                    child,
                    "\"\(text)\" has a query, fragment or whitespace",
                    fix: "A prefix is a path only, like \"/api\""
                )
                ok = false
            } else {
                matchers.pathPrefix = text
            }
        }
        if let child = reader["methods"], let entries = strings(child, kind: reader.field("methods").kind) {
            for (text, element) in entries {
                let method = text.uppercased()
                guard ValueParsers.isToken(method) else {
                    report(
                        element,
                        "\"\(text)\" is not an HTTP method",
                        fix: "Write a method like \"GET\" (letters, digits and !#$%&'*+-.^_`|~)"
                    )
                    ok = false
                    continue
                }
                if !matchers.methods.contains(method) { matchers.methods.append(method) }
            }
        }
        if let child = reader["headers"], let elements = array(child, expected: reader.field("headers").kind.expected) {
            for element in elements {
                if let matcher = decodeHeaderMatcher(element) { matchers.headers.append(matcher) } else { ok = false }
            }
        }
        return ok ? matchers : nil
    }

    mutating func decodeHeaderMatcher(_ node: ConfigNode) -> HeaderMatcher? {
        guard let reader = TableReader(node, ConfigSpec.headerMatcher, &self) else { return nil }
        guard let nameNode = reader["name"], let name = string(nameNode, expected: "a header name") else { return nil }
        guard ValueParsers.isToken(name) else {
            report(
                nameNode,
                "\"\(name)\" is not a header name",
                fix: "Header names are letters, digits and !#$%&'*+-.^_`|~"
            )
            return nil
        }
        var condition: HeaderMatcher.Condition?
        if let child = reader["value"] {
            condition = string(child, expected: "a string").map { .exact($0) }
        } else if let child = reader["present"] {
            condition = bool(child).map { .present($0) }
        } else if let child = reader["regex"], let pattern = string(child, expected: "a regular expression") {
            do {
                _ = try NSRegularExpression(pattern: pattern)
                condition = .regex(pattern)
            } catch {
                report(
                    child,
                    "the regular expression \"\(pattern)\" does not compile",
                    fix:
                        "Check its syntax (ICU regular expressions, as NSRegularExpression takes them); escape a literal . ( [ or * with \\\\"
                )
            }
        }
        guard let condition else { return nil }
        return HeaderMatcher(name: name.lowercased(), condition: condition)
    }

    mutating func decodeRespond(_ node: ConfigNode) -> StaticResponseConfig? {
        guard let reader = TableReader(node, ConfigSpec.respond, &self) else { return nil }
        var response = StaticResponseConfig()
        var ok = true
        if let child = reader["status"] {
            if let status = integer(child, min: 100, max: 599) { response.status = Int(status) } else { ok = false }
        }
        if let child = reader["body"], let body = string(child, expected: "a string") { response.body = body }
        if let child = reader["headers"] {
            if let headers = decodeHeaders(child, kind: reader.field("headers").kind) {
                response.headers = headers
            } else {
                ok = false
            }
        }
        if let child = reader["content_type"],
            let type = string(child, expected: reader.field("content_type").kind.expected)
        {
            if let existing = response.headers.first(where: { $0.name.lowercased() == "content-type" }) {
                report(
                    child,
                    "content_type and a content-type header (\"\(existing.value)\") are both set",
                    fix: "Keep one of them"
                )
                ok = false
            } else if !isHeaderValue(type) || type.isEmpty {
                report(child, "\"\(type)\" is not a valid content type")
                ok = false
            } else {
                response.headers.append(HeaderField(name: "content-type", value: type))
            }
        }
        return ok ? response : nil
    }

    mutating func decodeHandler(_ node: ConfigNode) -> PluginHandlerConfig? {
        guard let reader = TableReader(node, ConfigSpec.handler, &self) else { return nil }
        guard let plugin = reader["plugin"].flatMap({ existingPath($0, what: "plugin") }) else { return nil }
        var handler = PluginHandlerConfig(plugin: plugin)
        var ok = true
        if let child = reader["export"], let export = string(child, expected: reader.field("export").kind.expected) {
            if export.isEmpty {
                report(child, "the export name is empty")
                ok = false
            } else {
                handler.export = export
            }
        }
        if let child = reader["config"] {
            if let table = child.table {
                for (key, value) in table.entries {
                    switch value.value {
                    case .string(let text): handler.config[key] = text
                    case .integer(let number): handler.config[key] = String(number)
                    case .float(let number): handler.config[key] = String(number)
                    case .bool(let flag): handler.config[key] = flag ? "true" : "false"
                    case .invalid: ok = false
                    default:
                        typeMismatch(value, expected: "a string, number or boolean")
                        ok = false
                    }
                }
            } else if case .invalid = child.value {
                ok = false
            } else {
                typeMismatch(child, expected: reader.field("config").kind.expected)
                ok = false
            }
        }
        if let child = reader["headers"] {
            if let headers = decodeHeaders(child, kind: reader.field("headers").kind) {
                handler.headers = headers
            } else {
                ok = false
            }
        }
        return ok ? handler : nil
    }

    // MARK: Filters and plugins

    /// `[[routes.filters]]` or `[[routes.response_filters]]`, in order; nil when an entry is wrong.
    mutating func decodeFilters(_ node: ConfigNode, kind: ValueKind) -> [FilterConfig]? {
        guard case .array(.table(let spec), let expected) = kind else {
            preconditionFailure("decodeFilters(_:kind:) needs an array of tables")
        }
        guard let elements = array(node, expected: expected) else { return nil }
        var filters: [FilterConfig] = []
        var ok = true
        for element in elements {
            if let filter = decodeFilter(element, spec: spec) { filters.append(filter) } else { ok = false }
        }
        return ok ? filters : nil
    }

    mutating func decodeFilter(_ node: ConfigNode, spec: TableSpec) -> FilterConfig? {
        guard let reader = TableReader(node, spec, &self) else { return nil }
        var ok = true
        var kind: FilterConfig.Kind?
        if let child = reader["type"] {
            if child.string == "remote" {
                report(
                    child,
                    "remote filters are not supported yet in this version of Jester",
                    fix: "Use " + TableReader.list(FilterConfig.Kind.allCases.map { "\"\($0.rawValue)\"" })
                )
            } else {
                kind = enumeration(child, FilterConfig.Kind.self, what: "filter type")
            }
        }
        var name: String?
        if let child = reader["name"] {
            name = self.name(child, expected: ConfigSpec.nameExpected, what: "filter")
            if name == nil { ok = false }
        }
        var plugin: String?
        var module: String?
        let pluginNode = reader["plugin"]
        let moduleNode = reader["module"]
        switch kind {
        case .builtin:
            if reader["name"] == nil {
                report(
                    node.location,
                    node.path.appending("name"),
                    "missing required key \"name\" for a builtin filter",
                    fix: "Add the built-in filter's name, like name = \"rate-limit\" (docs/filters.md lists them)"
                )
                ok = false
            }
            for (key, child) in [("plugin", pluginNode), ("module", moduleNode)] {
                guard let child else { continue }
                report(
                    child,
                    "\(key) does not apply to builtin filters",
                    fix: "Remove it, or set type = \"wasm\" or \"dylib\" to load a plugin or a library"
                )
                ok = false
            }
        case .wasm:
            if let pluginNode, let moduleNode {
                report(
                    pluginNode.order < moduleNode.order ? moduleNode : pluginNode,
                    "only one of plugin or module may be set, and plugin and module are",
                    fix: "Keep plugin (a plugin id or directory) or module (a .wasm file)"
                )
                ok = false
            } else if let pluginNode {
                plugin = pluginReference(pluginNode)
                if plugin == nil { ok = false }
            } else if let moduleNode {
                module = existingPath(moduleNode, what: "module", kind: .file)
                if module == nil { ok = false }
            } else {
                report(
                    node,
                    "a wasm filter needs one of plugin or module",
                    fix:
                        "Add plugin = \"auth\" (a plugin id from [plugins] search_paths, or a path) or module = \"filters/auth.wasm\""
                )
                ok = false
            }
        case .dylib:
            if let pluginNode {
                report(
                    pluginNode,
                    "plugin does not apply to dylib filters",
                    fix: "Name the shared library with module = \"lib/libfilter.so\""
                )
                ok = false
            }
            if let moduleNode {
                module = existingPath(moduleNode, what: "shared library", kind: .file)
                if module == nil { ok = false }
            } else if pluginNode == nil {
                report(
                    node.location,
                    node.path.appending("module"),
                    "missing required key \"module\" for a dylib filter",
                    fix: "Add the shared library's path, like module = \"lib/libfilter.so\""
                )
                ok = false
            }
        case nil:
            ok = false
        }
        var config = JSONValue.object([])
        var configLocations: [String: SourceLocation] = [:]
        if let child = reader["config"] {
            switch child.value {
            case .table:
                if let value = json(child, path: "$", locations: &configLocations) {
                    config = value
                } else {
                    ok = false
                }
            case .invalid:
                ok = false
            default:
                typeMismatch(child, expected: reader.field("config").kind.expected)
                ok = false
            }
        }
        var failurePolicy = FilterConfig.FailurePolicy.failClosed
        if let child = reader["failure_policy"] {
            if let policy = enumeration(child, FilterConfig.FailurePolicy.self, what: "failure policy") {
                failurePolicy = policy
            } else {
                ok = false
            }
        }
        var runOnErrors = false
        // Request filters declare run_on_errors as refused, and the reader has reported it.
        if case .bool = reader.field("run_on_errors").kind, let child = reader["run_on_errors"] {
            if let flag = bool(child) { runOnErrors = flag } else { ok = false }
        }
        guard ok, let kind, let label = name ?? plugin.map(Self.label(ofPlugin:)) ?? module.map(Self.label(ofModule:))
        else { return nil }
        return FilterConfig(
            kind: kind,
            name: label,
            plugin: plugin,
            module: module,
            config: config,
            failurePolicy: failurePolicy,
            runOnErrors: runOnErrors,
            location: node.location,
            configLocations: configLocations
        )
    }

    /// A wasm filter's `plugin`: a path when it has a `/`, ends in `.wasm` or `.json`, or names
    /// something next to the declaring file (resolved; it must exist); otherwise a plugin id,
    /// which the gateway looks up in `[plugins] search_paths`.
    mutating func pluginReference(_ node: ConfigNode) -> String? {
        guard let text = string(node, expected: ConfigSpec.requestFilter.field("plugin")!.kind.expected) else {
            return nil
        }
        let isPath =
            text.isEmpty || text.contains("/") || text.hasSuffix(".wasm") || text.hasSuffix(".json")
            || FileManager.default.fileExists(atPath: resolvePath(text, relativeTo: node))
        if isPath { return existingPath(node, what: "plugin") }
        guard PluginManifest.isValidID(text) else {
            report(
                node,
                "\"\(text)\" is neither a plugin id nor a path that exists",
                fix:
                    "A plugin id is lowercase letters, digits, '-', '_' and '.', starting with a letter or digit; a path has a \"/\" or names a file or directory next to \(node.location.file)"
            )
            return nil
        }
        return text
    }

    /// A wasm filter's default name: the plugin id, or the plugin's directory or file name
    /// without `.wasm` / `.json` (`plugins/auth/plugin.json` → `auth`).
    static func label(ofPlugin plugin: String) -> String {
        guard plugin.hasPrefix("/") else { return plugin }
        let path = plugin as NSString
        if path.lastPathComponent == "plugin.json" {
            return (path.deletingLastPathComponent as NSString).lastPathComponent
        }
        if plugin.hasSuffix(".wasm") || plugin.hasSuffix(".json") {
            return (path.lastPathComponent as NSString).deletingPathExtension
        }
        return path.lastPathComponent
    }

    /// A module's default name: its file name without the extension (`lib/libredact.so` → `libredact`).
    static func label(ofModule module: String) -> String {
        ((module as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// A value under a filter's `config` as JSON, noting where it and every value in it were
    /// written, keyed by the path a ``JSONSchemaViolation`` reports (`$`, `$.rps`, `$.key[0]`).
    /// Date-times become their TOML text; NaN and infinities have no JSON form and are errors.
    mutating func json(_ node: ConfigNode, path: String, locations: inout [String: SourceLocation]) -> JSONValue? {
        locations[path] = node.location
        switch node.value {
        case .string(let text): return .string(text)
        case .integer(let number): return .integer(number)
        case .float(let number):
            guard number.isFinite else {
                report(node, "\(node.literal) has no JSON form", fix: "Use a finite number, or a string")
                return nil
            }
            return .double(number)
        case .bool(let flag): return .bool(flag)
        case .dateTime(let text): return .string(text)
        case .array(let elements):
            var values: [JSONValue] = []
            for (offset, element) in elements.enumerated() {
                guard let value = json(element, path: "\(path)[\(offset)]", locations: &locations) else { continue }
                values.append(value)
            }
            return values.count == elements.count ? .array(values) : nil
        case .table(let table):
            var members: [(key: String, value: JSONValue)] = []
            for (key, child) in table.entries {
                guard let value = json(child, path: "\(path).\(key)", locations: &locations) else { continue }
                members.append((key, value))
            }
            return members.count == table.keys.count ? .object(members) : nil
        case .invalid:
            return nil
        }
    }

    mutating func decodePlugins(_ node: ConfigNode) -> PluginsConfig? {
        guard let reader = TableReader(node, ConfigSpec.plugins, &self) else { return nil }
        var plugins = PluginsConfig(location: node.location)
        var ok = true
        if let child = reader["search_paths"], let entries = strings(child, kind: reader.field("search_paths").kind) {
            ok = entries.count == child.array?.count
            for (text, element) in entries {
                guard let path = existingPath(element, what: "plugin search path", kind: .directory) else {
                    ok = false
                    continue
                }
                guard !plugins.searchPaths.contains(path) else {
                    report(element, "\"\(text)\" is listed twice (as \(path))", fix: "List each directory once")
                    ok = false
                    continue
                }
                plugins.searchPaths.append(path)
            }
        }
        if let child = reader["allow_unsafe_dylib"] {
            if let flag = bool(child) { plugins.allowUnsafeDylib = flag } else { ok = false }
        }
        if let child = reader["require_signatures"] {
            if let flag = bool(child) { plugins.requireSignatures = flag } else { ok = false }
        }
        return ok ? plugins : nil
    }

    /// `[admin]`: a listen address (port 0 allowed) and an optional token, which any address but a
    /// loopback one requires.
    mutating func decodeAdmin(_ node: ConfigNode) -> AdminConfig? {
        guard let reader = TableReader(node, ConfigSpec.admin, &self) else { return nil }
        var ok = true
        var token: String?
        if let child = reader["token"] {
            if let text = string(child, expected: reader.field("token").kind.expected) {
                if text.isEmpty {
                    report(
                        child,
                        "the token is empty",
                        fix:
                            "Set a token (for example token = \"${JESTER_ADMIN_TOKEN}\" with the variable exported), or remove token on a loopback listen address"
                    )
                    ok = false
                } else if !text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) {
                    report(
                        child,
                        "the token has a space, a control character or a non-ASCII character, which an Authorization header cannot carry",
                        fix: "Use printable ASCII without spaces, e.g. the output of `openssl rand -hex 32`"
                    )
                    ok = false
                } else {
                    token = text
                }
            } else {
                ok = false
            }
        }
        guard let child = reader["listen"], let text = string(child, expected: reader.field("listen").kind.expected)
        else {
            return nil
        }
        let listen: BindAddress
        switch ValueParsers.bind(text, allowPortZero: true) {
        case .success(let address): listen = address
        case .failure(let message):
            report(
                child,
                "invalid listen address: \(message)",
                fix: "Write HOST:PORT like \"127.0.0.1:9901\" or \"[::1]:9901\" (port 0 picks a free one)"
            )
            return nil
        }
        if !listen.isLoopback, token == nil, reader["token"] == nil {
            report(
                child,
                "\"\(text)\" is not a loopback address and [admin] has no token, so anyone who can reach it could read the gateway's status and reload its config",
                fix:
                    "Set token = \"${JESTER_ADMIN_TOKEN}\" in [admin] (and export JESTER_ADMIN_TOKEN), or listen on a loopback address: listen = \"127.0.0.1:\(listen.port)\""
            )
            return nil
        }
        adminNode = child
        return ok ? AdminConfig(listen: listen, token: token, location: node.location) : nil
    }

    /// `{ cache-control = "no-store" }` or `[{ name = "cache-control", value = "no-store" }]`.
    mutating func decodeHeaders(_ node: ConfigNode, kind: ValueKind) -> [HeaderField]? {
        var fields: [(HeaderField, ConfigNode)] = []
        switch node.value {
        case .table(let table):
            for (name, child) in table.entries {
                if let value = string(child, expected: "a header value") {
                    fields.append((HeaderField(name: name, value: value), child))
                }
            }
        case .array(let elements):
            for element in elements {
                guard let reader = TableReader(element, ConfigSpec.headerField, &self) else { continue }
                guard let nameNode = reader["name"], let name = string(nameNode, expected: "a header name"),
                    let valueNode = reader["value"], let value = string(valueNode, expected: "a string")
                else { continue }
                fields.append((HeaderField(name: name, value: value), nameNode))
            }
        case .invalid:
            return nil
        default:
            typeMismatch(node, expected: kind.expected)
            return nil
        }
        var ok = true
        for (field, child) in fields {
            if !ValueParsers.isToken(field.name) {
                report(
                    child,
                    "\"\(field.name)\" is not a header name",
                    fix: "Header names are letters, digits and !#$%&'*+-.^_`|~"
                )
                ok = false
            } else if !isHeaderValue(field.value) {
                report(child, "the value of \(field.name) holds a line break or NUL", fix: "Header values are one line")
                ok = false
            }
        }
        return ok ? fields.map(\.0) : nil
    }

    func isHeaderValue(_ text: String) -> Bool {
        !text.unicodeScalars.contains { $0 == "\r" || $0 == "\n" || $0 == "\0" }
    }

    // MARK: Upstreams

    mutating func decodeUpstreams(_ node: ConfigNode) {
        guard let table = node.table else {
            if case .invalid = node.value { return }
            typeMismatch(node, expected: ConfigSpec.root.field("upstreams")!.kind.expected)
            return
        }
        for (name, child) in table.entries {
            declaredUpstreams[name] = child
            guard ValueParsers.isName(name) else {
                report(child, "\"\(name)\" is not a valid upstream name", fix: "Use letters, digits, '.', '_' and '-'")
                continue
            }
            if var upstream = decodeUpstream(child, name: name) {
                upstream.location = child.location
                namedUpstreams.append((upstream, child))
            }
        }
    }

    mutating func decodeUpstream(_ node: ConfigNode, name: String) -> UpstreamConfig? {
        guard let reader = TableReader(node, ConfigSpec.upstream, &self) else { return nil }
        var upstream = UpstreamConfig(name: name, targets: [], location: node.location)
        var ok = true
        if let child = reader["strategy"] {
            if let strategy = enumeration(child, UpstreamConfig.Strategy.self, what: "strategy") {
                upstream.strategy = strategy
            } else {
                ok = false
            }
        }
        if let child = reader["targets"], let entries = strings(child, kind: reader.field("targets").kind) {
            for (text, element) in entries {
                switch ValueParsers.target(text) {
                case .success(let target): upstream.targets.append(target)
                case .failure(let message):
                    report(
                        element,
                        "invalid target URL: \(message)",
                        fix: "Write a URL like \"http://127.0.0.1:8080\" or \"https://api.internal:8443/v2\""
                    )
                    ok = false
                }
            }
            if child.array?.isEmpty == true {
                report(child, "has no target", fix: "List at least one URL, like targets = [\"http://127.0.0.1:8080\"]")
                ok = false
            } else if ok, entries.count == child.array?.count, upstream.strategy == .single, upstream.targets.count != 1
            {
                report(
                    child,
                    "strategy \"single\" takes exactly one target, and there are \(upstream.targets.count)",
                    fix: "Set strategy = \"round_robin\" to spread requests over them, or keep one target"
                )
                ok = false
            }
        } else {
            ok = false
        }
        if let value = reader["connect_timeout"].flatMap({ duration($0, allowZero: false) }) {
            upstream.connectTimeout = value
        }
        if let value = reader["response_timeout"].flatMap({ duration($0, allowZero: false) }) {
            upstream.responseHeaderTimeout = value
        }
        if let value = reader["idle_timeout"].flatMap({ duration($0, allowZero: false) }) {
            upstream.idleTimeout = value
        }
        if let value = reader["max_idle_per_target"].flatMap({ integer($0, min: 0, max: Int64(Int32.max)) }) {
            upstream.maxIdlePerTarget = Int(value)
        }
        if let value = reader["tls_verify"].flatMap({ bool($0) }) { upstream.tlsVerify = value }
        if let child = reader["ca_file"] {
            if let path = existingPath(child, what: "CA file") { upstream.caFile = path } else { ok = false }
        }
        return ok ? upstream : nil
    }

    // MARK: The whole config

    mutating func checkWhole(_ config: inout GatewayConfig, root: ConfigNode) {
        let main = SourceLocation(file: mainFile, line: 0)
        if config.listeners.isEmpty, root.table?["listeners"] == nil {
            report(
                main,
                ConfigKeyPath.root.appending("listeners"),
                "no listener is declared",
                fix: "Add a listener: [listeners] with bind = \":8080\""
            )
        }
        if config.routes.isEmpty, root.table?["routes"] == nil {
            report(
                main,
                ConfigKeyPath.root.appending("routes"),
                "no route is declared",
                fix: "Add a route: [[routes]] with a name and an upstream, respond or handler"
            )
        }
        var listenerNames: [String: SourceLocation] = [:]
        for (listener, node) in zip(config.listeners, listenerNodes) {
            if let first = listenerNames[listener.name] {
                report(
                    node.table?["name"] ?? node,
                    "listener name \"\(listener.name)\" is already used at \(first)",
                    fix: "Give each listener its own name"
                )
            } else {
                listenerNames[listener.name] = listener.location
            }
        }
        for (offset, (listener, node)) in zip(config.listeners, listenerNodes).enumerated() {
            if let other = config.listeners[..<offset].first(where: { Self.bindsOverlap($0.bind, listener.bind) }) {
                report(
                    node.table?["bind"] ?? node,
                    "\"\(listener.bind)\" overlaps the bind \"\(other.bind)\" of listener \"\(other.name)\" (\(other.location))",
                    fix: "Use another port, or one listener"
                )
            }
        }
        if let admin = config.admin, let node = adminNode, admin.listen.port != 0,
            let other = config.listeners.first(where: { Self.bindsOverlap($0.bind, admin.listen) })
        {
            report(
                node,
                "\"\(admin.listen)\" overlaps the bind \"\(other.bind)\" of listener \"\(other.name)\" (\(other.location))",
                fix: "Give the admin API its own port, like listen = \"127.0.0.1:9901\""
            )
        }
        var routeNames: [String: SourceLocation] = [:]
        for (route, node) in zip(config.routes, routeNodes) {
            if let first = routeNames[route.name] {
                report(
                    node.table?["name"] ?? node,
                    "route name \"\(route.name)\" is already used at \(first)",
                    fix: "Give each route its own name"
                )
            } else {
                routeNames[route.name] = route.location
            }
        }
        for (name, node) in listenerReferences where !declaredListeners.contains(name) && !declaredListeners.isEmpty {
            let names = config.listeners.map(\.name)
            let suggestion = Suggestions.closest(to: name, in: names).map { "Did you mean \"\($0)\"? " } ?? ""
            report(
                node,
                "no listener is named \"\(name)\"",
                fix: suggestion + "Listeners: " + names.map { "\"\($0)\"" }.joined(separator: ", ")
            )
        }
        let named = declaredUpstreams
        for (upstream, node) in inlineUpstreams {
            if let other = named[upstream.name] {
                report(
                    node,
                    "this inline upstream is named after its route, \"\(upstream.name)\", and [upstreams.\(upstream.name)] (\(other.location)) already has that name",
                    fix: "Rename the route, or use the named upstream with upstream = \"\(upstream.name)\""
                )
            }
        }
        for (name, node) in upstreamReferences where named[name] == nil {
            let suggestion =
                Suggestions.closest(to: name, in: Array(named.keys)).map { "Did you mean \"\($0)\"? " } ?? ""
            report(
                node,
                "no upstream is named \"\(name)\"",
                fix: suggestion + "Declare it as [upstreams.\(name)] with targets = [\"http://…\"]"
            )
        }
    }

    static func bindsOverlap(_ a: BindAddress, _ b: BindAddress) -> Bool {
        guard a.port == b.port else { return false }
        guard let hostA = a.host, let hostB = b.host else { return true }
        return hostA.lowercased() == hostB.lowercased()
    }
}

/// A table checked against its ``TableSpec``: unknown keys, keys not supported yet, required keys and
/// mutually exclusive keys are reported when it is made.
struct TableReader {
    let node: ConfigNode
    let table: ConfigTable
    let spec: TableSpec

    init?(_ node: ConfigNode, _ spec: TableSpec, _ decoder: inout ConfigDecoder) {
        switch node.value {
        case .table(let table):
            self.node = node
            self.table = table
            self.spec = spec
        case .invalid:
            return nil
        default:
            decoder.typeMismatch(node, expected: "a table (\(spec.name))")
            return nil
        }
        for (key, child) in table.entries {
            guard let field = spec.field(key) else {
                decoder.report(
                    child,
                    "unknown key in \(node.path.tableName)",
                    fix: Suggestions.unknownKeyFix(key, in: spec)
                )
                continue
            }
            if case .unsupported(let message, let fix) = field.kind {
                decoder.report(child, message, fix: fix ?? "Remove \(key); it arrives in a later version")
            }
        }
        for field in spec.fields where field.requirement != .optional && table[field.key] == nil {
            decoder.report(
                node.location,
                node.path.appending(field.key),
                "missing required key \"\(field.key)\" in \(node.path.tableName)",
                fix: field.example.map { "Add \($0)" }
            )
        }
        let present = spec.exclusive.compactMap { key in table[key].map { (key, $0) } }.sorted {
            $0.1.order < $1.1.order
        }
        if present.count > 1 {
            let names = present.map(\.0)
            decoder.report(
                present[1].1,
                "only one of \(Self.list(spec.exclusive)) may be set, and \(Self.list(names, conjunction: "and")) are",
                fix: "Keep one of them"
            )
        } else if present.isEmpty, spec.exactlyOne {
            decoder.report(node, "needs one of \(Self.list(spec.exclusive))", fix: spec.exclusiveFix)
        }
    }

    static func list(_ keys: [String], conjunction: String = "or") -> String {
        guard keys.count > 1 else { return keys.first ?? "" }
        return keys.dropLast().joined(separator: ", ") + " \(conjunction) " + keys.last!
    }

    /// The value of a key the spec declares. Reading a key the spec does not declare is a
    /// programming error: the spec is the one list of keys.
    subscript(key: String) -> ConfigNode? {
        precondition(spec.field(key) != nil, "\(key) is not declared in \(spec.name)")
        return table[key]
    }

    func field(_ key: String) -> FieldSpec {
        guard let field = spec.field(key) else { preconditionFailure("\(key) is not declared in \(spec.name)") }
        return field
    }
}

/// "Did you mean …?"
package enum Suggestions {
    /// The known name closest to `text`, when it is close enough to be a typo.
    package static func closest(to text: String, in candidates: [String]) -> String? {
        let normalized = normalize(text)
        if let exact = candidates.first(where: { normalize($0) == normalized }) { return exact }
        let limit = max(1, min(3, text.count / 3))
        let scored = candidates.map { ($0, distance(text.lowercased(), $0.lowercased())) }.filter { $0.1 <= limit }
        return scored.min { $0.1 < $1.1 }?.0
    }

    static func normalize(_ text: String) -> String {
        String(text.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Levenshtein distance with adjacent transpositions.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
                }
            }
        }
        return table[a.count][b.count]
    }

    /// What to say about an unknown key: the near miss, or the table one level down it belongs in,
    /// and the keys this table takes.
    static func unknownKeyFix(_ key: String, in spec: TableSpec) -> String {
        let known = spec.fields.filter { if case .unsupported = $0.kind { return false } else { return true } }.map(
            \.key
        )
        var parts: [String] = []
        if let near = closest(to: key, in: known) {
            parts.append("Did you mean \"\(near)\"?")
        } else if let home = spec.fields.first(where: { field in
            field.kind.tableSpecs.contains { $0.field(key) != nil }
        }) {
            let child = home.kind.tableSpecs.first { $0.field(key) != nil }!
            parts.append("\(key) belongs in \(child.name)")
        }
        parts.append("Keys here: " + known.joined(separator: ", "))
        return parts.joined(separator: " ")
    }
}
