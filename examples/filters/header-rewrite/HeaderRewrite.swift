// An http-filter in Embedded Swift: rewrites request headers on the way in, tags the response
// on the way out, and refuses requests that lack a configured header.
//
//   jester plugin build examples/filters/header-rewrite
//
// Config (see config_schema in plugin.json):
//   tag             the value of `x-plugin` on requests and `x-filtered-by` on responses
//                   (default "header-rewrite")
//   require_header  when set, a request without this header is answered 403 here and never
//                   reaches the upstream
//   rename          an object {"from": "to", ...}: each `from` header's values move to `to`

extension Plugin {
    static func onRequest(_ request: Request, _ response: Response) -> FilterAction {
        if let required = Config.get("require_header"), !required.isEmpty, request.header(required) == nil {
            Log.info("refused \(request.method) \(request.path): no \(required) header")
            response.setStatus(403)
            response.setHeader("content-type", "text/plain; charset=utf-8")
            response.setBody("forbidden: the request has no \(required) header\n")
            return .respond
        }

        request.setHeader("x-plugin", tag)

        // The client as the first proxy saw it, or the address of the connection.
        let forwarded = request.header("x-forwarded-for").flatMap(firstListElement)
        request.setHeader("x-client-ip", forwarded ?? request.clientAddress)

        if let rules = Config.get("rename") {
            for (from, to) in parseStringObject(rules) {
                let values = request.headerValues(from)
                guard !values.isEmpty else { continue }
                request.removeHeader(from)
                request.removeHeader(to)
                for value in values { request.addHeader(to, value) }
            }
        }
        return .continue
    }

    static func onResponse(_ request: Request, _ response: Response) -> FilterAction {
        response.setHeader("x-filtered-by", tag)
        return .continue
    }

    /// The configured tag, or the plugin's name.
    static var tag: String {
        guard let tag = Config.get("tag"), !tag.isEmpty else { return "header-rewrite" }
        return tag
    }
}

/// The first element of a comma-separated header value (`203.0.113.7, 10.0.0.1`), trimmed;
/// `nil` when it is empty.
func firstListElement(_ value: String) -> String? {
    let bytes = Array(value.utf8)
    var end = bytes.firstIndex(of: UInt8(ascii: ",")) ?? bytes.count
    var start = 0
    while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
    while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
    return start == end ? nil : String(decoding: bytes[start..<end], as: UTF8.self)
}
