/// Something in a valid config that is probably not what its author meant.
public struct ConfigWarning: Sendable, Hashable, CustomStringConvertible {
    /// How sure the linter is that something is wrong.
    public enum Severity: String, Sendable, Hashable {
        /// Probably a mistake.
        case warning
        /// Worth a look; often deliberate.
        case info
    }

    /// A short stable id, e.g. `dead-route`; ``ConfigLinter/rules`` lists them all.
    public var id: String
    public var severity: Severity
    /// The route, listener or upstream it is about.
    public var location: SourceLocation
    public var message: String

    /// A finding; ``ConfigLinter/lint(_:)`` makes these.
    public init(id: String, severity: Severity = .warning, location: SourceLocation, message: String) {
        self.id = id
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `FILE:LINE: warning[dead-route]: message`
    public var description: String {
        "\(location): \(severity.rawValue)[\(id)]: \(message)"
    }
}

/// Looks for routes that can never match, unused upstreams, filters that will not load or run twice,
/// and risky settings in a loaded config.
///
/// ```swift
/// for warning in ConfigLinter.lint(config) { print(warning) }
/// ```
public enum ConfigLinter {
    /// Every lint: its id and what it finds.
    public static let rules: [(id: String, summary: String)] = [
        (
            "dead-route",
            "A route no request reaches: an earlier route matches everything it would (same or more listeners and hosts, a segment prefix of its path, no method or header restriction it lacks)."
        ),
        ("catch-all-not-last", "A route that matches every request is followed by other routes, which it shadows."),
        (
            "shadowed-host",
            "One of a route's hosts never reaches it: an earlier route (a wildcard, say) takes that host with the same or a shorter prefix."
        ),
        ("unused-upstream", "An [upstreams.NAME] entry no route uses."),
        ("listener-without-routes", "A listener that no route serves: every request on it gets 404."),
        ("plaintext-on-443", "A listener without TLS on port 443, where clients speak TLS."),
        ("tls-on-80", "A TLS listener on port 80, where clients speak plaintext HTTP."),
        ("h2c-on-tls", "h2c set on a TLS listener, where it is ignored (ALPN chooses HTTP/2)."),
        ("round-robin-one-target", "An upstream with strategy round_robin and a single target."),
        ("duplicate-target", "The same target listed twice in one upstream, which doubles its share."),
        ("response-timeout-below-connect", "An upstream whose response_timeout is shorter than its connect_timeout."),
        ("tls-verify-disabled", "tls_verify = false: https:// targets' certificates are not checked."),
        (
            "plaintext-upstream-behind-tls",
            "(info) A route served on a TLS listener forwards over plain http:// to a host that is not loopback."
        ),
        (
            "dylib-without-allow",
            "A dylib filter while [plugins] allow_unsafe_dylib is false: jester run refuses it unless started with --allow-unsafe-dylib."
        ),
        ("duplicate-filter", "The same builtin filter twice in one route's filters or response_filters."),
    ]

    /// The warnings for a config, in route, listener, upstream and filter order.
    public static func lint(_ config: GatewayConfig) -> [ConfigWarning] {
        var warnings: [ConfigWarning] = []
        let allListeners = Set(config.listeners.map(\.name))
        let routes = config.routes

        // Routes.
        for (index, route) in routes.enumerated() {
            let earlier = routes[..<index]
            if let shadow = earlier.first(where: { covers($0, route, listeners: allListeners) }) {
                warnings.append(
                    ConfigWarning(
                        id: "dead-route",
                        location: route.location,
                        message:
                            "route \"\(route.name)\" is never reached: route \"\(shadow.name)\" (\(shadow.location)) comes first and matches every request it would"
                    )
                )
            } else if route.matchers.hosts.count > 1, !route.matchers.hosts.contains("*") {
                for host in route.matchers.hosts {
                    var narrowed = route
                    narrowed.matchers.hosts = [host]
                    if let shadow = earlier.first(where: { covers($0, narrowed, listeners: allListeners) }) {
                        warnings.append(
                            ConfigWarning(
                                id: "shadowed-host",
                                location: route.location,
                                message:
                                    "host \"\(host)\" of route \"\(route.name)\" never reaches it: route \"\(shadow.name)\" (\(shadow.location)) takes it first"
                            )
                        )
                    }
                }
            }
            if isCatchAll(route, listeners: allListeners), index < routes.count - 1 {
                let after = routes.count - 1 - index
                warnings.append(
                    ConfigWarning(
                        id: "catch-all-not-last",
                        location: route.location,
                        message:
                            "route \"\(route.name)\" matches every request, so the \(after) route\(after == 1 ? "" : "s") after it never match; move it last"
                    )
                )
            }
        }

        // Listeners.
        for listener in config.listeners {
            let served = routes.contains { $0.listeners.isEmpty || $0.listeners.contains(listener.name) }
            if !served {
                warnings.append(
                    ConfigWarning(
                        id: "listener-without-routes",
                        location: listener.location,
                        message:
                            "no route serves listener \"\(listener.name)\" (\(listener.bind)); every request on it gets 404"
                    )
                )
            }
            if listener.tls == nil, listener.bind.port == 443 {
                warnings.append(
                    ConfigWarning(
                        id: "plaintext-on-443",
                        location: listener.location,
                        message:
                            "listener \"\(listener.name)\" serves plaintext HTTP on port 443, where clients speak TLS; add [listeners.tls] or use another port"
                    )
                )
            }
            if listener.tls != nil, listener.bind.port == 80 {
                warnings.append(
                    ConfigWarning(
                        id: "tls-on-80",
                        location: listener.location,
                        message:
                            "listener \"\(listener.name)\" serves TLS on port 80, where clients speak plaintext HTTP; use port 443 or drop tls"
                    )
                )
            }
            if listener.tls != nil, listener.h2c {
                warnings.append(
                    ConfigWarning(
                        id: "h2c-on-tls",
                        location: listener.location,
                        message:
                            "h2c is ignored on TLS listener \"\(listener.name)\": ALPN negotiates HTTP/2 there; remove h2c"
                    )
                )
            }
        }

        // Upstreams.
        var used = Set<String>()
        for route in routes {
            if case .upstream(let name) = route.action { used.insert(name) }
        }
        for upstream in config.upstreams {
            if !used.contains(upstream.name) {
                warnings.append(
                    ConfigWarning(
                        id: "unused-upstream",
                        location: upstream.location,
                        message: "no route uses upstream \"\(upstream.name)\"; remove it or route to it"
                    )
                )
            }
            if upstream.strategy == .roundRobin, upstream.targets.count == 1 {
                warnings.append(
                    ConfigWarning(
                        id: "round-robin-one-target",
                        location: upstream.location,
                        message:
                            "upstream \"\(upstream.name)\" is round_robin over one target; add targets or use strategy = \"single\""
                    )
                )
            }
            var seen = Set<UpstreamTarget>()
            for target in upstream.targets where !seen.insert(target).inserted {
                warnings.append(
                    ConfigWarning(
                        id: "duplicate-target",
                        location: upstream.location,
                        message:
                            "upstream \"\(upstream.name)\" lists \(target) twice, which gives it twice the share of requests"
                    )
                )
            }
            if upstream.responseHeaderTimeout < upstream.connectTimeout {
                warnings.append(
                    ConfigWarning(
                        id: "response-timeout-below-connect",
                        location: upstream.location,
                        message:
                            "upstream \"\(upstream.name)\" waits \(upstream.responseHeaderTimeout) for a response but \(upstream.connectTimeout) to connect; response_timeout is usually the longer"
                    )
                )
            }
            if !upstream.tlsVerify {
                let https = upstream.targets.contains { $0.tls }
                warnings.append(
                    ConfigWarning(
                        id: "tls-verify-disabled",
                        location: upstream.location,
                        message: https
                            ? "upstream \"\(upstream.name)\" does not verify its https:// targets' certificates (tls_verify = false); prefer ca_file with the issuing CA"
                            : "tls_verify = false on upstream \"\(upstream.name)\" has no effect: it has no https:// target"
                    )
                )
            }
        }

        // Plaintext hops behind TLS.
        let tlsListeners = Set(config.listeners.filter { $0.tls != nil }.map(\.name))
        for route in routes {
            guard case .upstream(let name) = route.action, let upstream = config.upstream(named: name) else { continue }
            let servedNames = route.listeners.isEmpty ? allListeners : Set(route.listeners)
            guard !servedNames.isDisjoint(with: tlsListeners) else { continue }
            let plaintext = upstream.targets.filter { !$0.tls && !isLoopback($0.host) }
            guard !plaintext.isEmpty else { continue }
            warnings.append(
                ConfigWarning(
                    id: "plaintext-upstream-behind-tls",
                    severity: .info,
                    location: route.location,
                    message:
                        "route \"\(route.name)\" takes TLS traffic and forwards it unencrypted to \(plaintext.map(\.description).joined(separator: ", ")); fine on a private network, otherwise use https://"
                )
            )
        }

        // Filters.
        for route in routes {
            for (chain, filters) in [("filters", route.filters), ("response_filters", route.responseFilters)] {
                var builtins: [String: SourceLocation] = [:]
                for filter in filters {
                    if filter.kind == .dylib, !config.plugins.allowUnsafeDylib {
                        warnings.append(
                            ConfigWarning(
                                id: "dylib-without-allow",
                                location: filter.location,
                                message:
                                    "route \"\(route.name)\" loads the native library \(filter.module ?? filter.name) unsandboxed, and [plugins] allow_unsafe_dylib is false: jester run refuses it unless started with --allow-unsafe-dylib; set allow_unsafe_dylib = true if you mean it"
                            )
                        )
                    }
                    guard filter.kind == .builtin else { continue }
                    if let first = builtins[filter.name] {
                        warnings.append(
                            ConfigWarning(
                                id: "duplicate-filter",
                                location: filter.location,
                                message:
                                    "route \"\(route.name)\" runs the builtin filter \"\(filter.name)\" twice in its \(chain) (first at \(first)); merge their config into one entry"
                            )
                        )
                    } else {
                        builtins[filter.name] = filter.location
                    }
                }
            }
        }
        return warnings
    }

    // MARK: Matching

    /// Whether `a` matches every request `b` matches.
    static func covers(_ a: RouteConfig, _ b: RouteConfig, listeners all: Set<String>) -> Bool {
        let listenersA = a.listeners.isEmpty ? all : Set(a.listeners)
        let listenersB = b.listeners.isEmpty ? all : Set(b.listeners)
        guard listenersB.isSubset(of: listenersA) else { return false }
        guard hostsCover(a.matchers.hosts, b.matchers.hosts) else { return false }
        if !a.matchers.methods.isEmpty {
            guard !b.matchers.methods.isEmpty, Set(b.matchers.methods).isSubset(of: Set(a.matchers.methods)) else {
                return false
            }
        }
        guard a.matchers.headers.allSatisfy({ b.matchers.headers.contains($0) }) else { return false }
        return pathCovers(a.matchers.pathPrefix, b.matchers.pathPrefix)
    }

    static func hostsCover(_ a: [String], _ b: [String]) -> Bool {
        if a.isEmpty || a.contains("*") { return true }
        if b.isEmpty || b.contains("*") { return false }
        return b.allSatisfy { host in a.contains { hostCovers($0, host) } }
    }

    /// `*.example.com` covers `api.example.com` and `*.api.example.com`, not `example.com`.
    static func hostCovers(_ pattern: String, _ host: String) -> Bool {
        if pattern == host { return true }
        guard pattern.hasPrefix("*.") else { return false }
        let suffix = String(pattern.dropFirst(1))  // ".example.com"
        return host.hasSuffix(suffix) && host.count > suffix.count
    }

    /// Whether every path `b` matches, `a` matches too (prefixes match whole segments).
    static func pathCovers(_ a: String, _ b: String) -> Bool {
        if a == "/" || a == b { return true }
        if a.hasSuffix("/") { return b.hasPrefix(a) }
        return b.hasPrefix(a + "/")
    }

    static func isCatchAll(_ route: RouteConfig, listeners all: Set<String>) -> Bool {
        let m = route.matchers
        let listeners = route.listeners.isEmpty ? all : Set(route.listeners)
        return (m.hosts.isEmpty || m.hosts.contains("*")) && m.pathPrefix == "/" && m.methods.isEmpty
            && m.headers.isEmpty && listeners == all
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasSuffix(".localhost") || host == "::1" || host.hasPrefix("127.")
    }
}
