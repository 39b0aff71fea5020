// api-key-auth: an API-key check in Embedded Swift, as a gateway filter. A request goes on only with
// one of the configured keys, in the configured header (default x-api-key) or as
// `Authorization: Bearer KEY`; otherwise the filter answers 401 and the upstream is never called.
// The key is removed before the request goes upstream, and `x-api-key-index` says which key matched.
//
//   jester plugin build && jester plugin test
//
// In a gateway config:
//   [[routes.filters]]
//   type = "wasm"
//   plugin = "path/to/api-key-auth"
//   config = { keys = "${API_KEYS}" }

extension Plugin {
    static func onRequest(_ request: Request, _ response: Response) -> FilterAction {
        let header = Config.get("header") ?? "x-api-key"
        guard let presented = request.header(header) ?? bearerToken(request.header("authorization")) else {
            return unauthorized(response, "no API key: send it in \(header), or as Authorization: Bearer KEY")
        }
        // Byte-wise: Embedded Swift's Character operations (split on a Character) carry the
        // Unicode tables into the module, and are slow in an interpreter.
        let keys = Array((Config.get("keys") ?? "").utf8).split(separator: UInt8(ascii: ",")).map { trimmed(Array($0)) }
        guard !presented.isEmpty, let index = keys.firstIndex(where: { constantTimeEquals($0, presented) }) else {
            Log.info("refused \(request.method) \(request.path): unknown API key")
            return unauthorized(response, "the API key is not valid")
        }
        request.removeHeader(header)
        if request.header("authorization").flatMap(bearerToken) != nil { request.removeHeader("authorization") }
        request.setHeader("x-api-key-index", String(index))
        return .continue
    }

    static func unauthorized(_ response: Response, _ reason: String) -> FilterAction {
        response.setStatus(401)
        response.setHeader("www-authenticate", "Bearer")
        response.setHeader("content-type", "application/json")
        response.setBody("{\"error\":\"unauthorized\",\"reason\":\"\(reason)\"}\n")
        return .respond
    }
}

/// The token of an `Authorization: Bearer TOKEN` value.
func bearerToken(_ value: String?) -> String? {
    guard let value else { return nil }
    let bytes = Array(value.utf8)
    let prefix = Array("bearer ".utf8)
    guard bytes.count > prefix.count else { return nil }
    for index in 0..<prefix.count where bytes[index] | 0x20 != prefix[index] { return nil }
    return trimmed(Array(bytes[prefix.count...]))
}

/// `bytes` without leading and trailing spaces, as a string.
func trimmed(_ bytes: [UInt8]) -> String {
    var start = 0
    var end = bytes.count
    while start < end, bytes[start] == 0x20 { start += 1 }
    while end > start, bytes[end - 1] == 0x20 { end -= 1 }
    return String(decoding: bytes[start..<end], as: UTF8.self)
}

/// Compares two keys in time that depends only on their lengths, not on where they differ.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8)
    let y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for index in 0..<x.count { difference |= x[index] ^ y[index] }
    return difference == 0
}
