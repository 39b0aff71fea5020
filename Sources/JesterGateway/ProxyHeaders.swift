import NIOHTTP1

/// Header rewriting between client and upstream (RFC 9110 §7.6): hop-by-hop headers are dropped,
/// `X-Forwarded-*` and `Via` are added, everything else passes in order, repeats included.
enum ProxyHeaders {
    /// Headers that describe one connection, never forwarded.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Whether `name` is one of ``hopByHop``, compared without allocating.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return name.equalsIgnoringASCIICase("te")
        case 7: return name.equalsIgnoringASCIICase("trailer") || name.equalsIgnoringASCIICase("upgrade")
        case 10: return name.equalsIgnoringASCIICase("connection") || name.equalsIgnoringASCIICase("keep-alive")
        case 16: return name.equalsIgnoringASCIICase("proxy-connection")
        case 17: return name.equalsIgnoringASCIICase("transfer-encoding")
        case 18: return name.equalsIgnoringASCIICase("proxy-authenticate")
        case 19: return name.equalsIgnoringASCIICase("proxy-authorization")
        default: return false
        }
    }

    /// The header names a `Connection` header lists, lower-case.
    static func connectionTokens(_ headers: HTTPHeaders) -> [String] {
        var named: [String] = []
        for value in headers["connection"] {
            for token in value.utf8.split(separator: UInt8(ascii: ",")) {
                let name = Substring(token).trimmingSpaces().lowercased()
                if !name.isEmpty { named.append(name) }
            }
        }
        return named
    }

    /// Removes hop-by-hop headers and the headers the `Connection` header names.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        let named = connectionTokens(headers)
        guard headers.contains(where: { isHopByHop($0.name) }) || !named.isEmpty else { return }
        for name in hopByHop { headers.remove(name: name) }
        for name in named { headers.remove(name: name) }
    }

    /// `Via` values for the common protocol versions, built once.
    static let via11 = "1.1 jester"
    static let via2 = "2 jester"

    static func via(for version: HTTPVersion) -> String {
        if version.major == 1, version.minor == 1 { return via11 }
        if version.major == 2 { return via2 }
        return "\(version.major).\(version.minor) jester"
    }

    /// The request head as it goes to the upstream, built in one pass over the client's headers:
    /// hop-by-hop headers (and those `Connection` names) and `Expect` dropped, `X-Forwarded-For`
    /// merged and appended to, `X-Forwarded-Proto`/`-Host` set, `Via` added, the rest in order.
    static func upstreamRequest(
        _ head: HTTPRequestHead, path: String, clientAddress: String, scheme: String, host: String?,
        endpoint: UpstreamEndpoint, via: String
    ) -> HTTPRequestHead {
        let named = connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 4)
        var forwardedFor: String?
        var sawHost = false
        for (name, value) in head.headers {
            if isHopByHop(name) || name.equalsIgnoringASCIICase("expect") || name.equalsIgnoringASCIICase("x-forwarded-proto") {
                continue
            }
            if host != nil, name.equalsIgnoringASCIICase("x-forwarded-host") { continue }
            if name.equalsIgnoringASCIICase("x-forwarded-for") {
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
                continue
            }
            if !named.isEmpty, named.contains(name.lowercased()) { continue }
            if name.equalsIgnoringASCIICase("host") { sawHost = true }
            headers.add(name: name, value: value)
        }
        if !sawHost { headers.add(name: "host", value: host ?? endpoint.authority) }
        headers.add(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress)
        headers.add(name: "x-forwarded-proto", value: scheme)
        if let host { headers.add(name: "x-forwarded-host", value: host) }
        headers.add(name: "via", value: via)
        let uri = endpoint.target.pathPrefix.isEmpty ? path : endpoint.target.pathPrefix + path
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
    }

    /// The same forwarded request for another target of the upstream (a retry): its path prefix,
    /// and the Host header when it was the old target's (the client sent none).
    static func retarget(_ head: HTTPRequestHead, from old: UpstreamEndpoint, to new: UpstreamEndpoint) -> HTTPRequestHead {
        var head = head
        let path = head.uri.hasPrefix(old.target.pathPrefix) ? String(head.uri.dropFirst(old.target.pathPrefix.count)) : head.uri
        head.uri = new.target.pathPrefix + path
        if head.headers.first(name: "host") == old.authority { head.headers.replaceOrAdd(name: "host", value: new.authority) }
        return head
    }

    /// The response head as it goes back to the client.
    static func downstreamResponse(_ head: HTTPResponseHead, version: HTTPVersion) -> HTTPResponseHead {
        var headers = head.headers
        removeHopByHop(&headers)
        headers.add(name: "via", value: via(for: head.version))
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality with a lower-case `other`, without allocating.
    func equalsIgnoringASCIICase(_ other: StaticString) -> Bool {
        let bytes = UnsafeBufferPointer(start: other.utf8Start, count: other.utf8CodeUnitCount)
        guard utf8.count == bytes.count else { return false }
        for (a, b) in zip(utf8, bytes) where a != b {
            guard a >= 0x41, a <= 0x5A, a | 0x20 == b else { return false }
        }
        return true
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        // By bytes: comparing Characters is far slower, and this runs for every Connection token.
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, utf8[start] == UInt8(ascii: " ") || utf8[start] == UInt8(ascii: "\t") { start = utf8.index(after: start) }
        while end > start {
            let last = utf8.index(before: end)
            guard utf8[last] == UInt8(ascii: " ") || utf8[last] == UInt8(ascii: "\t") else { break }
            end = last
        }
        return self[start..<end]
    }
}
