import JesterManifest

/// The resolved plan of a config, for `jester run --dry`: listeners with their protocols and limits,
/// routes in match order with their matchers, filters and action, upstreams with targets and
/// timeouts, and plugin discovery when it is set.
///
/// ```text
/// listeners (1):
///   edge  :443  TLS, ALPN h2, http/1.1
///     cert /etc/jester/fullchain.pem, key /etc/jester/privkey.pem
///     limits: headers 32KiB, body 16MiB, header read 10s, idle 1m, 10000 connections, 128 streams per connection
/// routes, in match order (1):
///   1. app  (jester.toml:12)
///        match: host example.com; path /
///        filter rate-limit (builtin), config {"rps":100}
///        → upstream app: http://127.0.0.1:8080
///        response filter redact (wasm plugin redact), fail open
/// …
/// ```
public func describePlan(_ config: GatewayConfig) -> String {
    var lines: [String] = []
    let nameWidth = config.listeners.map(\.name.count).max() ?? 0
    lines.append("listeners (\(config.listeners.count)):")
    for listener in config.listeners {
        var protocols: String
        if let tls = listener.tls {
            protocols = "TLS, ALPN " + listener.alpn.joined(separator: ", ")
            lines.append("  \(pad(listener.name, nameWidth))  \(listener.bind)  \(protocols)")
            lines.append("    cert \(tls.certificatePath), key \(tls.keyPath)")
        } else {
            protocols = "plaintext HTTP/1.1" + (listener.h2c ? ", HTTP/2 (h2c)" : "")
            lines.append("  \(pad(listener.name, nameWidth))  \(listener.bind)  \(protocols)")
        }
        let http = listener.http
        lines.append(
            "    limits: headers \(ConfigSpec.formatSize(Int64(http.maxHeaderBytes))), body \(ConfigSpec.formatSize(http.maxRequestBodyBytes)), "
                + "header read \(http.headerReadTimeout), idle \(http.idleTimeout), \(http.maxConnections) connections, "
                + "\(http.maxConcurrentStreams) streams per connection"
        )
    }
    lines.append("routes, in match order (\(config.routes.count)):")
    for (index, route) in config.routes.enumerated() {
        let on = route.listeners.isEmpty ? "" : "  on " + route.listeners.joined(separator: ", ")
        lines.append("  \(index + 1). \(route.name)\(on)  (\(route.location))")
        lines.append("       match: " + describe(route.matchers))
        for filter in route.filters { lines.append("       filter " + describe(filter)) }
        switch route.action {
        case .upstream(let name):
            let targets =
                config.upstream(named: name).map { ": " + $0.targets.map(\.description).joined(separator: ", ") } ?? ""
            lines.append("       → upstream \(name)\(targets)")
        case .respond(let response):
            var text = "       → respond \(response.status)"
            if !response.body.isEmpty { text += ", \(response.body.utf8.count)-byte body" }
            if !response.headers.isEmpty {
                text += ", headers " + response.headers.map { "\($0.name): \($0.value)" }.joined(separator: "; ")
            }
            lines.append(text)
        case .plugin(let handler):
            var text = "       → plugin \(handler.plugin)"
            if let export = handler.export { text += ", export \(export)" }
            if !handler.config.isEmpty {
                text +=
                    ", config "
                    + handler.config.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            }
            lines.append(text)
        }
        for filter in route.responseFilters { lines.append("       response filter " + describe(filter)) }
    }
    lines.append("upstreams (\(config.upstreams.count)):")
    for upstream in config.upstreams {
        lines.append(
            "  \(upstream.name)  \(upstream.strategy.rawValue): "
                + upstream.targets.map(\.description).joined(separator: ", ")
        )
        var details =
            "    connect \(upstream.connectTimeout), response \(upstream.responseHeaderTimeout), idle \(upstream.idleTimeout), "
            + "\(upstream.maxIdlePerTarget) idle connections per target"
        if upstream.targets.contains(where: \.tls) {
            details += upstream.tlsVerify ? ", certificates verified" : ", certificates NOT verified"
            if let ca = upstream.caFile { details += " (CA \(ca))" }
        }
        lines.append(details)
    }
    let plugins = config.plugins
    let dylibs = config.routes.contains { ($0.filters + $0.responseFilters).contains { $0.kind == .dylib } }
    if !plugins.searchPaths.isEmpty || plugins.allowUnsafeDylib || dylibs || plugins.requireSignatures {
        let paths = plugins.searchPaths.isEmpty ? "none" : plugins.searchPaths.joined(separator: ", ")
        let unsafe =
            plugins.allowUnsafeDylib ? "allowed (unsandboxed)" : "refused unless jester run --allow-unsafe-dylib"
        let signatures = plugins.requireSignatures ? "; signatures required (trust store of the data directory)" : ""
        lines.append("plugins: search paths \(paths); dylib filters \(unsafe)\(signatures)")
    }
    lines.append("access log: \(config.accessLog.enabled ? "on" : "off")")
    lines.append(
        "drain timeout: \(config.lifecycle.drainTimeout)" + (config.lifecycle.pidFile.map { ", pid file \($0)" } ?? "")
    )
    if let admin = config.admin {
        lines.append(
            "admin API: \(admin.listen), " + (admin.token == nil ? "no token (loopback only)" : "bearer token required")
        )
    }
    if !config.files.isEmpty { lines.append("files: " + config.files.joined(separator: ", ")) }
    return lines.joined(separator: "\n")
}

/// `rate-limit (builtin), config {"rps":100}`, `auth (wasm plugin auth), fail open`.
private func describe(_ filter: FilterConfig) -> String {
    var text = "\(filter.name) (\(filter.kind.rawValue)"
    if let plugin = filter.plugin { text += " plugin \(plugin)" }
    if let module = filter.module { text += " module \(module)" }
    text += ")"
    if filter.failurePolicy == .failOpen { text += ", fail open" }
    if filter.runOnErrors { text += ", also on error answers" }
    if case .object(let members) = filter.config, !members.isEmpty { text += ", config " + filter.config.serialized() }
    return text
}

private func describe(_ matchers: MatcherConfig) -> String {
    var parts: [String] = []
    if matchers.hosts.isEmpty || matchers.hosts.contains("*") {
        parts.append("any host")
    } else {
        parts.append((matchers.hosts.count == 1 ? "host " : "hosts ") + matchers.hosts.joined(separator: ", "))
    }
    parts.append("path \(matchers.pathPrefix)")
    if !matchers.methods.isEmpty { parts.append("methods " + matchers.methods.joined(separator: ", ")) }
    for header in matchers.headers {
        switch header.condition {
        case .exact(let value): parts.append("header \(header.name) = \"\(value)\"")
        case .present(let present): parts.append("header \(header.name) \(present ? "present" : "absent")")
        case .regex(let pattern): parts.append("header \(header.name) ~ /\(pattern)/")
        }
    }
    return parts.joined(separator: "; ")
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
