/// Parsers for the config's string forms; each returns the value or a message saying what is wrong.
package enum ValueParsers {
    // MARK: Sizes and durations

    /// `"32KiB"`, `"16MiB"`, `"1GiB"`, `"512B"`, `"10MB"` (10^6), `"1.5GiB"`, `"1024"`. Units are case-insensitive.
    package static func size(_ text: String) -> Result<Int64, ValueProblem> {
        let trimmed = text.trimmingWhitespace()
        var number = ""
        var rest = Substring(trimmed)
        while let first = rest.first, first.isASCII, first.isNumber || first == "." {
            number.append(first)
            rest = rest.dropFirst()
        }
        let unit = rest.trimmingWhitespace().lowercased()
        let factors: [String: Double] = [
            "": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
            "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
        ]
        guard !number.isEmpty, let value = Double(number), let factor = factors[unit] else {
            return .failure("\"\(text)\" is not a size")
        }
        let bytes = (value * factor).rounded()
        guard bytes < 9.0e18 else { return .failure("\"\(text)\" is too large") }
        return .success(Int64(bytes))
    }

    /// `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"1m30s"`, `"1.5s"`, or `"30"` (seconds).
    package static func duration(_ text: String) -> Result<ConfigDuration, ValueProblem> {
        let trimmed = text.trimmingWhitespace()
        if let seconds = Double(trimmed), seconds.isFinite {
            return duration(seconds: seconds).mapError { _ in "\"\(text)\" is not a duration" }
        }
        var total = 0.0
        var rest = Substring(trimmed)
        var parts = 0
        while !rest.isEmpty {
            var number = ""
            while let first = rest.first, first.isASCII, first.isNumber || first == "." {
                number.append(first)
                rest = rest.dropFirst()
            }
            rest = rest.drop { $0 == " " }
            var unit = ""
            while let first = rest.first, first.isASCII, first.isLetter {
                unit.append(first)
                rest = rest.dropFirst()
            }
            rest = rest.drop { $0 == " " }
            let factors: [String: Double] = ["ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000]
            guard let value = Double(number), let factor = factors[unit] else {
                return .failure("\"\(text)\" is not a duration")
            }
            total += value * factor
            parts += 1
        }
        guard parts > 0, total < 9.0e15 else { return .failure("\"\(text)\" is not a duration") }
        return .success(ConfigDuration(milliseconds: Int64(total.rounded())))
    }

    package static func duration(seconds: Double) -> Result<ConfigDuration, ValueProblem> {
        guard seconds.isFinite, seconds >= 0, seconds < 9.0e12 else { return .failure("\(seconds) is not a duration") }
        return .success(ConfigDuration(milliseconds: Int64((seconds * 1000).rounded())))
    }

    // MARK: Addresses

    /// `":443"`, `"127.0.0.1:8080"`, `"[::1]:8080"`, `"localhost:8080"`. With `allowPortZero`, port
    /// 0 (any free port, for tests) too.
    package static func bind(_ text: String, allowPortZero: Bool = false) -> Result<BindAddress, ValueProblem> {
        guard let colon = text.lastIndex(of: ":") else {
            return .failure("\"\(text)\" has no port")
        }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        let ports = allowPortZero ? 0...65535 : 1...65535
        guard let port = Int(portText), ports.contains(port), portText.allSatisfy(\.isASCII) else {
            return .failure("\"\(portText)\" is not a port (\(ports.lowerBound)-65535)")
        }
        if host.isEmpty { return .success(BindAddress(host: nil, port: port)) }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else {
                return .failure("\"\(host)\" is not a bracketed IPv6 address")
            }
            host = String(host.dropFirst().dropLast())
            guard isIPv6(host) else { return .failure("\"\(host)\" is not an IPv6 address") }
            return .success(BindAddress(host: host, port: port))
        }
        if host.contains(":") { return .failure("an IPv6 address must be in brackets, like \"[::1]:\(port)\"") }
        guard isIPv4(host) || isHostName(host) else { return .failure("\"\(host)\" is not an IP address or host name") }
        return .success(BindAddress(host: host, port: port))
    }

    /// `http://host[:port][/prefix]` or `https://…`.
    package static func target(_ text: String) -> Result<UpstreamTarget, ValueProblem> {
        let lower = text.lowercased()
        let tls: Bool
        let rest: Substring
        if lower.hasPrefix("http://") {
            tls = false
            rest = text.dropFirst(7)
        } else if lower.hasPrefix("https://") {
            tls = true
            rest = text.dropFirst(8)
        } else {
            return .failure("\"\(text)\" is not an http:// or https:// URL")
        }
        if text.contains("?") || text.contains("#") {
            return .failure("\"\(text)\" has a query or fragment; a target is scheme, host, port and path prefix only")
        }
        if text.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            return .failure("\"\(text)\" contains whitespace")
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if authority.contains("@") {
            return .failure("\"\(text)\" has user info; credentials do not belong in a target URL")
        }
        var host: String
        var port = tls ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure("\"\(text)\" has an unclosed \"[\"")
            }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            guard isIPv6(host) else { return .failure("\"\(host)\" is not an IPv6 address") }
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = Int(after.dropFirst()), (1...65535).contains(parsed) else {
                    return .failure("\"\(after.dropFirst())\" is not a port (1-65535)")
                }
                port = parsed
            }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                return .failure("an IPv6 host must be in brackets, like \"http://[::1]:8080\"")
            }
            host = String(parts[0])
            if parts.count == 2 {
                guard let parsed = Int(parts[1]), (1...65535).contains(parsed) else {
                    return .failure("\"\(parts[1])\" is not a port (1-65535)")
                }
                port = parsed
            }
            guard !host.isEmpty else { return .failure("\"\(text)\" has no host") }
            guard isIPv4(host) || isHostName(host) else {
                return .failure("\"\(host)\" is not a host name or IP address")
            }
            host = host.lowercased()
        }
        while path.hasSuffix("/") { path.removeLast() }
        return .success(UpstreamTarget(tls: tls, host: host, port: port, pathPrefix: path))
    }

    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
            }
    }

    static func isIPv6(_ text: String) -> Bool {
        guard text.contains(":"), text.count >= 2 else { return false }
        let allowed = Set("0123456789abcdefABCDEF:.")
        return text.allSatisfy { allowed.contains($0) } && text.components(separatedBy: "::").count <= 2
    }

    /// Letters, digits, `-`, `_` and dots between labels.
    static func isHostName(_ text: String) -> Bool {
        guard !text.isEmpty, text.count <= 253 else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        }
    }

    // MARK: Matchers

    /// `example.com`, `*.example.com` or `*`, lower-cased.
    package static func hostPattern(_ text: String) -> Result<String, ValueProblem> {
        let lower = text.lowercased()
        if lower == "*" { return .success(lower) }
        if lower.contains(":") {
            return .failure("\"\(text)\" has a port or scheme; hosts match the name only (the port is ignored)")
        }
        if lower.hasPrefix("*.") {
            let suffix = String(lower.dropFirst(2))
            guard isHostName(suffix) else { return .failure("\"\(text)\" is not a wildcard like \"*.example.com\"") }
            return .success(lower)
        }
        if lower.contains("*") {
            return .failure(
                "\"\(text)\" has a \"*\" that is not a leading \"*.\" label; write \"*.example.com\" or \"*\""
            )
        }
        let name = lower.hasSuffix(".") ? String(lower.dropLast()) : lower
        guard isHostName(name) || isIPv4(name) else { return .failure("\"\(text)\" is not a host name") }
        return .success(name)
    }

    /// RFC 9110 token characters: what method and header names are made of.
    package static func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII
                    && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                        || "!#$%&'*+-.^_`|~".unicodeScalars.contains(scalar))
            }
    }

    /// Names of listeners, routes and upstreams.
    package static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 128
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
    }
}

/// What is wrong with a value, as a sentence fragment: `"x" is not a size`.
package struct ValueProblem: Error, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    package var message: String

    package init(stringLiteral value: String) {
        message = value
    }

    package var description: String { message }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
