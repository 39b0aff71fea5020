public import JesterManifest
import NIOHTTP1

/// `cors`: Cross-Origin Resource Sharing for a route.
///
/// A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered by the
/// gateway: 204 with the `Access-Control-Allow-*` headers when the origin, the method and every
/// requested header are allowed, 403 otherwise; it never reaches the upstream. Other requests go
/// on; their responses get `Access-Control-Allow-Origin` (and `-Credentials`, `-Expose-Headers`)
/// when the origin is allowed, and lose any such headers the upstream set when it is not: the
/// filter owns the route's CORS policy. `Vary: Origin` is added unless the answer is the same for
/// every origin.
///
/// Origins are `https://app.example.com` (exact), `*` (any), `https://*.example.com` (any
/// subdomain, at any depth, not the domain itself), or without a scheme (`*.example.com`,
/// `example.com`: http and https). A port must be written to be matched (`http://localhost:3000`).
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "cors"
/// config = { allowed_origins = ["https://app.example.com", "https://*.example.com"], allow_credentials = true, max_age = 600 }
/// ```
public struct CORSFilter: BuiltinFilter {
    public static let name = "cors"
    public static let summary = "Answer CORS preflights and add CORS headers to responses for allowed origins."

    private static func list(_ description: String, default value: [JSONValue]? = nil) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("type", "array"), ("items", ["type": "string", "minLength": 1]), ("uniqueItems", true), ("description", .string(description)),
        ]
        if let value { members.append(("default", .array(value))) }
        return .object(members)
    }

    public static let configSchema: JSONValue = [
        "type": "object",
        "properties": [
            "allowed_origins": [
                "type": "array", "items": ["type": "string", "minLength": 1], "minItems": 1, "uniqueItems": true,
                "description": "Origins allowed: exact (\"https://app.example.com\"), \"*\", or wildcard subdomains (\"https://*.example.com\").",
            ],
            "allowed_methods": list("Methods a preflight may ask for; \"*\" for any.", default: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"]),
            "allowed_headers": list("Request headers a preflight may ask for; \"*\" allows (and echoes) any.", default: ["*"]),
            "exposed_headers": list("Response headers scripts may read (Access-Control-Expose-Headers).", default: []),
            "allow_credentials": ["type": "boolean", "default": false, "description": "Allow cookies and HTTP authentication (Access-Control-Allow-Credentials)."],
            "max_age": ["type": "integer", "minimum": 0, "maximum": 86400, "default": 600, "description": "Seconds a browser may cache a preflight answer."],
        ],
        "required": ["allowed_origins"],
        "additionalProperties": false,
    ]

    /// One entry of `allowed_origins`.
    struct OriginPattern: Sendable, Equatable {
        enum Host: Sendable, Equatable {
            case exact(String)
            /// `*.example.com` as the suffix `.example.com`.
            case subdomains(String)
        }

        /// `http` or `https` (any other scheme as written); nil for both http and https.
        var scheme: String?
        var host: Host
        var port: String?

        /// Parses `[scheme://]host[:port]` with an optional leading `*.` on the host.
        init?(_ text: String) {
            var rest = Substring(text.lowercased())
            if let range = rest.range(of: "://") {
                let scheme = rest[..<range.lowerBound]
                guard HeaderNames.isToken(scheme), !scheme.contains("*") else { return nil }
                self.scheme = String(scheme)
                rest = rest[range.upperBound...]
            }
            if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") || rest[..<colon].hasSuffix("]") {
                let port = rest[rest.index(after: colon)...]
                guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
                self.port = String(port)
                rest = rest[..<colon]
            }
            guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@") else { return nil }
            if rest.hasPrefix("*.") {
                let suffix = rest.dropFirst()  // ".example.com"
                guard suffix.count > 1, !suffix.contains("*") else { return nil }
                host = .subdomains(String(suffix))
            } else {
                guard !rest.contains("*") else { return nil }
                host = .exact(String(rest))
            }
        }

        func matches(scheme originScheme: Substring, host originHost: Substring, port originPort: Substring?) -> Bool {
            if let scheme {
                guard originScheme == scheme else { return false }
            } else {
                guard originScheme == "http" || originScheme == "https" else { return false }
            }
            guard port.map({ originPort == Substring($0) }) ?? (originPort == nil) else { return false }
            switch host {
            case .exact(let name): return originHost == name
            case .subdomains(let suffix): return originHost.count > suffix.count && originHost.hasSuffix(suffix)
            }
        }
    }

    let anyOrigin: Bool
    let patterns: [OriginPattern]
    /// Literal origins such as `null`, compared as written.
    let literals: Set<String>
    let allowedMethods: Set<String>
    let anyMethod: Bool
    let methodsValue: String
    let allowedHeaders: Set<String>
    let anyHeader: Bool
    let headersValue: String
    let exposedValue: String?
    let allowCredentials: Bool
    let maxAge: String

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        allowCredentials = config["allow_credentials"]?.boolValue ?? false
        var anyOrigin = false
        var patterns: [OriginPattern] = []
        var literals = Set<String>()
        for (index, value) in (config["allowed_origins"]?.arrayValue ?? []).enumerated() {
            let text = value.stringValue ?? ""
            let path = "$.allowed_origins[\(index)]"
            if text == "*" {
                guard !allowCredentials else {
                    throw FilterConfigError(
                        path, "\"*\" cannot be combined with allow_credentials = true (browsers refuse credentials for a wildcard origin)",
                        fix: "List the origins that may send credentials, such as \"https://app.example.com\" or \"https://*.example.com\""
                    )
                }
                anyOrigin = true
            } else if text == "null" {
                literals.insert(text)
            } else if let pattern = OriginPattern(text) {
                patterns.append(pattern)
            } else {
                throw FilterConfigError(
                    path, "\"\(text)\" is not an origin",
                    fix: "Write an origin as scheme://host[:port], for example \"https://app.example.com\", \"https://*.example.com\" or \"*\""
                )
            }
        }
        guard anyOrigin || !patterns.isEmpty || !literals.isEmpty else {
            throw FilterConfigError("$.allowed_origins", "allows no origin", fix: "List at least one origin")
        }
        self.anyOrigin = anyOrigin
        self.patterns = patterns
        self.literals = literals

        func tokens(_ key: String, default defaults: [String], uppercase: Bool) throws(FilterConfigError) -> (Set<String>, Bool, [String]) {
            var set = Set<String>()
            var written: [String] = []
            var any = false
            let values = config[key]?.arrayValue?.map { $0.stringValue ?? "" } ?? defaults
            for (index, text) in values.enumerated() {
                if text == "*" {
                    any = true
                    continue
                }
                guard HeaderNames.isToken(text) else {
                    throw FilterConfigError("$.\(key)[\(index)]", "\"\(text)\" is not a valid \(uppercase ? "method" : "header name")")
                }
                set.insert(uppercase ? text.uppercased() : text.lowercased())
                written.append(uppercase ? text.uppercased() : text)
            }
            return (set, any, written)
        }

        let methods = try tokens("allowed_methods", default: ["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"], uppercase: true)
        (allowedMethods, anyMethod) = (methods.0, methods.1)
        methodsValue = methods.2.joined(separator: ", ")
        let headers = try tokens("allowed_headers", default: ["*"], uppercase: false)
        (allowedHeaders, anyHeader) = (headers.0, headers.1)
        headersValue = headers.2.joined(separator: ", ")
        let exposed = try tokens("exposed_headers", default: [], uppercase: false)
        if exposed.1 {
            guard !allowCredentials else {
                throw FilterConfigError(
                    "$.exposed_headers", "\"*\" is not a wildcard when allow_credentials = true (browsers read it as a header named *)",
                    fix: "List the response headers scripts may read"
                )
            }
        }
        exposedValue = exposed.1 ? "*" : (exposed.2.isEmpty ? nil : exposed.2.joined(separator: ", "))
        maxAge = String(config["max_age"]?.integerValue ?? 600)
    }

    /// Whether `origin` (an `Origin` header value) is allowed.
    func allows(origin: String) -> Bool {
        if anyOrigin { return true }
        if literals.contains(origin) { return true }
        let lower = origin.lowercased()
        guard let separator = lower.range(of: "://") else { return false }
        let scheme = lower[..<separator.lowerBound]
        var host = lower[separator.upperBound...]
        var port: Substring?
        if let colon = host.lastIndex(of: ":"), !host.hasPrefix("[") || host[..<colon].hasSuffix("]") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains("/") else { return false }
        return patterns.contains { $0.matches(scheme: scheme, host: host, port: port) }
    }

    /// Whether responses differ by origin (then caches need `Vary: Origin`).
    var variesByOrigin: Bool { !(anyOrigin && !allowCredentials) }

    private func allowOriginValue(_ origin: String) -> String {
        anyOrigin && !allowCredentials ? "*" : origin
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        guard exchange.method == .OPTIONS, let origin = exchange.requestHeaders.first(name: "origin"),
            let requestedMethod = exchange.requestHeaders.first(name: "access-control-request-method")
        else { return .proceed }

        var headers = HTTPHeaders()
        headers.add(name: "vary", value: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        guard allows(origin: origin) else {
            return .respond(.text(.forbidden, "CORS preflight refused: origin \(origin) is not allowed", headers: headers))
        }
        let method = requestedMethod.strippingSpaces()
        guard anyMethod || allowedMethods.contains(method.uppercased()) else {
            return .respond(.text(.forbidden, "CORS preflight refused: method \(method) is not allowed", headers: headers))
        }
        var requestedHeaders: [Substring] = []
        for value in exchange.requestHeaders["access-control-request-headers"] {
            for name in value.split(separator: ",") {
                let trimmed = name.strippingSpaces()
                if !trimmed.isEmpty { requestedHeaders.append(Substring(trimmed)) }
            }
        }
        if !anyHeader, let refused = requestedHeaders.first(where: { !allowedHeaders.contains($0.lowercased()) }) {
            return .respond(.text(.forbidden, "CORS preflight refused: header \(refused) is not allowed", headers: headers))
        }

        headers.add(name: "access-control-allow-origin", value: allowOriginValue(origin))
        if allowCredentials { headers.add(name: "access-control-allow-credentials", value: "true") }
        headers.add(name: "access-control-allow-methods", value: anyMethod ? String(method) : methodsValue)
        if anyHeader {
            if !requestedHeaders.isEmpty {
                headers.add(name: "access-control-allow-headers", value: requestedHeaders.joined(separator: ", "))
            }
        } else if !headersValue.isEmpty {
            headers.add(name: "access-control-allow-headers", value: headersValue)
        }
        headers.add(name: "access-control-max-age", value: maxAge)
        return .respond(FilterResponse(status: .noContent, headers: headers))
    }

    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        let request = exchange.requestHeaders
        // A preflight was answered (or refused) in the request phase.
        if exchange.method == .OPTIONS, request.contains(name: "access-control-request-method"), request.contains(name: "origin") {
            return .proceed
        }
        if variesByOrigin { FilterSupport.addListToken("Origin", to: "vary", in: &exchange.responseHeaders) }
        guard let origin = request.first(name: "origin") else { return .proceed }
        if allows(origin: origin) {
            exchange.responseHeaders.replaceOrAdd(name: "access-control-allow-origin", value: allowOriginValue(origin))
            if allowCredentials {
                exchange.responseHeaders.replaceOrAdd(name: "access-control-allow-credentials", value: "true")
            } else {
                exchange.responseHeaders.remove(name: "access-control-allow-credentials")
            }
            if let exposedValue {
                exchange.responseHeaders.replaceOrAdd(name: "access-control-expose-headers", value: exposedValue)
            }
        } else {
            exchange.responseHeaders.remove(name: "access-control-allow-origin")
            exchange.responseHeaders.remove(name: "access-control-allow-credentials")
            exchange.responseHeaders.remove(name: "access-control-expose-headers")
        }
        return .proceed
    }
}
