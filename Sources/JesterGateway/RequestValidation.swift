import NIOHTTP1

/// Where a request goes, read from its head once it passed the framing checks.
struct RequestTarget {
    /// The host the client asked for (Host header or absolute-form authority), port included.
    var host: Substring?
    /// The origin-form path and query.
    var path: Substring
    var contentLength: Int64?
    var expectsContinue: Bool
}

/// Checks that a request head is unambiguous before anything routes it: one framing
/// (Content-Length xor Transfer-Encoding: chunked), no header with CR, LF or NUL, one Host that
/// agrees with an absolute-form target. The HTTP/1 parser (llhttp, strict mode) already refuses
/// invalid chunk sizes, obs-fold and bare CR/LF in the head; these checks repeat what must never
/// reach an upstream, whichever parser ran.
enum RequestValidation {
    struct Rejection: Error { let reason: String }

    static func validate(_ head: HTTPRequestHead, isHTTP2: Bool) -> Result<RequestTarget, Rejection> {
        var hosts: [String] = []
        var contentLengths: [String] = []
        var transferEncodings: [String] = []
        var expectsContinue = false
        for (name, value) in head.headers {
            if name.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 || $0 == 0x20 || $0 == 0x09 || $0 == 0x3A }) || name.isEmpty {
                return .failure(Rejection(reason: "invalid header name \(quoted(name))"))
            }
            if value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) {
                return .failure(Rejection(reason: "header \(name) contains CR, LF or NUL"))
            }
            if name.equalsIgnoringASCIICase("host") {
                hosts.append(value)
            } else if name.equalsIgnoringASCIICase("content-length") {
                contentLengths.append(value)
            } else if name.equalsIgnoringASCIICase("transfer-encoding") {
                transferEncodings.append(value)
            } else if name.equalsIgnoringASCIICase("expect"), value.equalsIgnoringASCIICase("100-continue") {
                expectsContinue = true
            }
        }

        var contentLength: Int64?
        if !contentLengths.isEmpty {
            let values = contentLengths.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() } }
            guard let first = values.first, values.allSatisfy({ $0 == first }) else {
                return .failure(Rejection(reason: "conflicting Content-Length values"))
            }
            guard !first.isEmpty, first.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), first.utf8.count <= 18, let length = Int64(first) else {
                return .failure(Rejection(reason: "invalid Content-Length \(quoted(String(first)))"))
            }
            contentLength = length
        }
        if !transferEncodings.isEmpty {
            if isHTTP2 { return .failure(Rejection(reason: "Transfer-Encoding is not allowed in HTTP/2")) }
            if contentLength != nil { return .failure(Rejection(reason: "both Content-Length and Transfer-Encoding are present")) }
            if head.version.major == 1, head.version.minor == 0 { return .failure(Rejection(reason: "Transfer-Encoding in an HTTP/1.0 request")) }
            let codings = transferEncodings.flatMap { $0.split(separator: ",").map { $0.trimmingSpaces().lowercased() } }
            guard codings.last == "chunked", codings.filter({ $0 == "chunked" }).count == 1 else {
                return .failure(Rejection(reason: "Transfer-Encoding must end in a single chunked coding"))
            }
        }
        if hosts.count > 1 { return .failure(Rejection(reason: "more than one Host header")) }
        if let host = hosts.first, !isValidAuthority(host) { return .failure(Rejection(reason: "invalid Host header \(quoted(host))")) }
        if !isHTTP2, head.version == .http1_1, hosts.isEmpty { return .failure(Rejection(reason: "missing Host header")) }

        var host = hosts.first.map { Substring($0) }
        var path = Substring(head.uri)
        let lower = head.uri.prefix(8).lowercased()
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            let afterScheme = head.uri[head.uri.index(head.uri.startIndex, offsetBy: lower.hasPrefix("http://") ? 7 : 8)...]
            let slash = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
            let authority = afterScheme[..<slash]
            guard !authority.isEmpty, !authority.contains("@"), isValidAuthority(String(authority)) else {
                return .failure(Rejection(reason: "invalid absolute-form request target"))
            }
            if let header = host, !sameAuthority(header, authority, https: lower.hasPrefix("https://")) {
                return .failure(Rejection(reason: "request target host \(quoted(String(authority))) does not match the Host header \(quoted(String(header)))"))
            }
            host = authority
            let rest = afterScheme[slash...]
            path = rest.isEmpty ? "/" : (rest.first == "?" ? Substring("/" + rest) : rest)
        } else if head.method == .OPTIONS, head.uri == "*" {
            path = "*"
        } else if head.method == .CONNECT {
            return .failure(Rejection(reason: "CONNECT is not supported"))
        } else if !head.uri.hasPrefix("/") {
            return .failure(Rejection(reason: "request target must start with /"))
        }
        if path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) { return .failure(Rejection(reason: "request target contains control characters or spaces")) }
        return .success(RequestTarget(host: host, path: path, contentLength: contentLength, expectsContinue: expectsContinue && !isHTTP2))
    }

    private static func isValidAuthority(_ value: String) -> Bool {
        !value.isEmpty && HeaderNames.allBytes(value) { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "_"): true
            default: false
            }
        }
    }

    private static func sameAuthority(_ a: Substring, _ b: Substring, https: Bool) -> Bool {
        func normalized(_ s: Substring) -> String {
            let lower = s.lowercased()
            let defaultPort = https ? ":443" : ":80"
            return lower.hasSuffix(defaultPort) ? String(lower.dropLast(defaultPort.count)) : lower
        }
        return normalized(a) == normalized(b)
    }

    private static func quoted(_ s: String) -> String {
        "\"" + String(s.prefix(80)) + (s.count > 80 ? "…" : "") + "\""
    }

    /// A parser error in words a client developer understands.
    static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidChunkSize: return "invalid chunk size"
        case .unexpectedContentLength: return "Content-Length together with Transfer-Encoding, or repeated"
        case .invalidContentLength: return "invalid Content-Length"
        case .invalidHeaderToken: return "invalid character in a header"
        case .lfExpected: return "bare CR in the request head (CR must be followed by LF)"
        case .headerOverflow: return "request headers too large"
        case .invalidVersion: return "invalid HTTP version"
        case .invalidMethod: return "invalid method"
        case .invalidURL: return "invalid request target"
        default: return "malformed request (\(error))"
        }
    }
}
