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

    /// Removes hop-by-hop headers and the headers the `Connection` header names.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        var named: [String] = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                let name = token.trimmingSpaces().lowercased()
                if !name.isEmpty { named.append(name) }
            }
        }
        guard headers.contains(where: { isHopByHop($0.name) }) || !named.isEmpty else { return }
        for name in hopByHop { headers.remove(name: name) }
        for name in named { headers.remove(name: name) }
    }

    /// The request head as it goes to the upstream.
    static func upstreamRequest(
        _ head: HTTPRequestHead, path: String, clientAddress: String, scheme: String, host: String?,
        endpoint: UpstreamEndpoint, viaVersion: String
    ) -> HTTPRequestHead {
        var headers = head.headers
        removeHopByHop(&headers)
        headers.remove(name: "expect")
        if host == nil || !headers.contains(name: "host") {
            headers.replaceOrAdd(name: "host", value: host ?? endpoint.authority)
        }
        if let existing = headers.first(name: "x-forwarded-for") {
            headers.replaceOrAdd(name: "x-forwarded-for", value: "\(existing), \(clientAddress)")
        } else {
            headers.add(name: "x-forwarded-for", value: clientAddress)
        }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: scheme)
        if let host { headers.replaceOrAdd(name: "x-forwarded-host", value: host) }
        headers.add(name: "via", value: "\(viaVersion) jester")
        var upstream = HTTPRequestHead(version: .http1_1, method: head.method, uri: endpoint.target.pathPrefix + path, headers: headers)
        upstream.version = .http1_1
        return upstream
    }

    /// The response head as it goes back to the client.
    static func downstreamResponse(_ head: HTTPResponseHead, version: HTTPVersion) -> HTTPResponseHead {
        var headers = head.headers
        removeHopByHop(&headers)
        headers.add(name: "via", value: "\(head.version.major).\(head.version.minor) jester")
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
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
