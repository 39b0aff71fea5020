// The `http` interface of `wit/jester.wit`: the request and response a filter sees, as the
// handles the host lends to `on-request` and `on-response`.

/// What the gateway does after a filter hook: the `action` enum of the `http-filter` world.
public enum FilterAction: Int32 {
    /// Go on with the (possibly edited) message.
    case `continue` = 0
    /// In ``OnRequestHook/onRequest(_:_:)``: send the response now instead of calling the
    /// upstream (the response filters still run). In ``OnResponseHook/onResponse(_:_:)``: the
    /// same as ``continue``.
    case respond = 1
}

/// The HTTP request on its way to the upstream, as `on-request` and `on-response` receive it.
///
/// A `Request` is a handle: each property and method asks the host, so only what the filter
/// reads is copied into its memory, and every change is made on the host's request at once.
/// It is only valid during the hook it was passed to; do not keep it for a later call.
///
/// Header names are compared case-insensitively. A setter returns `false` and changes nothing
/// when the host rejects the value (a method that is not a token, a path without a leading `/`,
/// a header value with a line break).
///
/// ```swift
/// if request.header("x-api-key") == nil {
///     response.setStatus(401)
///     return .respond
/// }
/// request.setHeader("x-plugin", "auth")
/// ```
public struct Request {
    /// The host's handle for this request.
    let handle: UInt32

    init(handle: UInt32) { self.handle = handle }

    /// The method, upper-case (`GET`).
    public var method: String { HTTPCalls.string(handle, _jesterHTTPRequestMethod) }

    /// Replaces the method; `false` if it is not a valid token.
    @discardableResult
    public func setMethod(_ method: String) -> Bool {
        HTTPCalls.set(handle, method, _jesterHTTPRequestSetMethod)
    }

    /// The path without the query (`/api/users`).
    public var path: String { HTTPCalls.string(handle, _jesterHTTPRequestPath) }

    /// Replaces the path, which must start with `/`; `false` if it is not a valid path.
    @discardableResult
    public func setPath(_ path: String) -> Bool {
        HTTPCalls.set(handle, path, _jesterHTTPRequestSetPath)
    }

    /// The query without the `?` (`a=1&b=2`), empty when there is none.
    public var query: String { HTTPCalls.string(handle, _jesterHTTPRequestQuery) }

    /// Replaces the query (without the `?`; empty removes it); `false` if it holds a space,
    /// `#` or a control character.
    @discardableResult
    public func setQuery(_ query: String) -> Bool {
        HTTPCalls.set(handle, query, _jesterHTTPRequestSetQuery)
    }

    /// The client's IP address (`203.0.113.7`, `::1`).
    public var clientAddress: String { HTTPCalls.string(handle, _jesterHTTPRequestClientAddress) }

    /// The first value of the header `name`, or `nil` when the request has none.
    public func header(_ name: String) -> String? {
        HTTPCalls.header(handle, name, _jesterHTTPRequestHeader)
    }

    /// Every value of the header `name`, in order; empty when there is none.
    public func headerValues(_ name: String) -> [String] {
        HTTPCalls.headerValues(handle, name, _jesterHTTPRequestHeaderValues)
    }

    /// The name of every header, lower-case, in order, each once.
    public func headerNames() -> [String] {
        HTTPCalls.headerNames(handle, _jesterHTTPRequestHeaderNames)
    }

    /// Sets the header `name` to `value`, replacing every value it had; `false` if the name or
    /// value is not valid HTTP.
    @discardableResult
    public func setHeader(_ name: String, _ value: String) -> Bool {
        HTTPCalls.set(handle, name, value, _jesterHTTPRequestSetHeader)
    }

    /// Adds `value` to the header `name`, keeping the values it had; `false` if invalid.
    @discardableResult
    public func addHeader(_ name: String, _ value: String) -> Bool {
        HTTPCalls.set(handle, name, value, _jesterHTTPRequestAddHeader)
    }

    /// Removes every value of the header `name`.
    public func removeHeader(_ name: String) {
        ABI.withUTF8(name) { address, count in _jesterHTTPRequestRemoveHeader(handle, address, count) }
    }

    /// The whole body, or `nil` when the host has none to give: see ``bodyResult()``.
    public func body() -> [UInt8]? {
        try? bodyResult().get()
    }

    /// The whole body when the manifest asked for request bodies to be buffered
    /// (`"http_filter": {"buffer_request_body": true}`); otherwise ``HostError/unavailable``,
    /// and ``HostError/limitExceeded`` when the body was larger than `max_body_bytes`.
    public func bodyResult() -> Result<[UInt8], HostError> {
        HTTPCalls.body(handle, _jesterHTTPRequestBody)
    }

    /// Replaces the body; the gateway sets `content-length`. Without buffering, the body the
    /// client sends is dropped and this one is sent instead.
    public func setBody(_ body: [UInt8]) {
        HTTPCalls.setBody(handle, body, _jesterHTTPRequestSetBody)
    }

    /// Replaces the body with the UTF-8 of `text`.
    public func setBody(_ text: String) {
        HTTPCalls.setBody(handle, text, _jesterHTTPRequestSetBody)
    }
}

/// The HTTP response: in `on-response` the upstream's (or a short-circuit answer, or the
/// gateway's error answer); in `on-request` a fresh one (status 200, no headers, empty body)
/// that is sent instead of calling the upstream when the hook returns ``FilterAction/respond``.
///
/// Like ``Request``, a handle that is only valid during the hook it was passed to.
///
/// ```swift
/// response.setStatus(403)
/// response.setHeader("content-type", "text/plain; charset=utf-8")
/// response.setBody("forbidden\n")
/// return .respond
/// ```
public struct Response {
    /// The host's handle for this response.
    let handle: UInt32

    init(handle: UInt32) { self.handle = handle }

    /// The status code.
    public var status: UInt16 { UInt16(truncatingIfNeeded: _jesterHTTPResponseStatus(handle)) }

    /// Replaces the status code; `false` unless it is 100 to 999.
    @discardableResult
    public func setStatus(_ status: UInt16) -> Bool {
        _jesterHTTPResponseSetStatus(handle, Int32(status)) != 0
    }

    /// The first value of the header `name`, or `nil` when the response has none.
    public func header(_ name: String) -> String? {
        HTTPCalls.header(handle, name, _jesterHTTPResponseHeader)
    }

    /// Every value of the header `name`, in order; empty when there is none.
    public func headerValues(_ name: String) -> [String] {
        HTTPCalls.headerValues(handle, name, _jesterHTTPResponseHeaderValues)
    }

    /// The name of every header, lower-case, in order, each once.
    public func headerNames() -> [String] {
        HTTPCalls.headerNames(handle, _jesterHTTPResponseHeaderNames)
    }

    /// Sets the header `name` to `value`, replacing every value it had; `false` if the name or
    /// value is not valid HTTP.
    @discardableResult
    public func setHeader(_ name: String, _ value: String) -> Bool {
        HTTPCalls.set(handle, name, value, _jesterHTTPResponseSetHeader)
    }

    /// Adds `value` to the header `name`, keeping the values it had; `false` if invalid.
    @discardableResult
    public func addHeader(_ name: String, _ value: String) -> Bool {
        HTTPCalls.set(handle, name, value, _jesterHTTPResponseAddHeader)
    }

    /// Removes every value of the header `name`.
    public func removeHeader(_ name: String) {
        ABI.withUTF8(name) { address, count in _jesterHTTPResponseRemoveHeader(handle, address, count) }
    }

    /// The whole body, or `nil` when the host has none to give: see ``bodyResult()``.
    public func body() -> [UInt8]? {
        try? bodyResult().get()
    }

    /// The whole body when the manifest asked for response bodies to be buffered
    /// (`"http_filter": {"buffer_response_body": true}`), or in `on-request` what ``setBody(_:)``
    /// set; otherwise ``HostError/unavailable``, and ``HostError/limitExceeded`` when the body was
    /// larger than `max_body_bytes`.
    public func bodyResult() -> Result<[UInt8], HostError> {
        HTTPCalls.body(handle, _jesterHTTPResponseBody)
    }

    /// Replaces the body; the gateway sets `content-length`.
    public func setBody(_ body: [UInt8]) {
        HTTPCalls.setBody(handle, body, _jesterHTTPResponseSetBody)
    }

    /// Replaces the body with the UTF-8 of `text`.
    public func setBody(_ text: String) {
        HTTPCalls.setBody(handle, text, _jesterHTTPResponseSetBody)
    }
}

/// Lowering and lifting for the `http` imports, shared by ``Request`` and ``Response``, which
/// pass their own import functions.
enum HTTPCalls {
    /// `func() -> string`: (pointer, length) at +0 / +4 of an 8-byte area. The host allocated
    /// the string (an empty one has pointer 1 and was not allocated); it is ours to free.
    static func string(_ handle: UInt32, _ call: (UInt32, UInt32) -> Void) -> String {
        ABI.withReturnArea(byteCount: 8, alignment: 4) { area in
            call(handle, area)
            return ABI.takeString(ABI.load32(area, 0), ABI.load32(area, 4))
        }
    }

    /// `func(name: string) -> option<string>`: discriminant at +0 (0 none, 1 some), pointer at
    /// +4, length at +8 of a 12-byte area.
    static func header(
        _ handle: UInt32,
        _ name: String,
        _ call: (UInt32, UInt32, UInt32, UInt32) -> Void
    ) -> String? {
        ABI.withUTF8(name) { nameAddress, nameCount in
            ABI.withReturnArea(byteCount: 12, alignment: 4) { area in
                call(handle, nameAddress, nameCount, area)
                guard ABI.load8(area) == 1 else { return nil }
                return ABI.takeString(ABI.load32(area, 4), ABI.load32(area, 8))
            }
        }
    }

    /// `func(name: string) -> list<string>`.
    static func headerValues(
        _ handle: UInt32,
        _ name: String,
        _ call: (UInt32, UInt32, UInt32, UInt32) -> Void
    ) -> [String] {
        ABI.withUTF8(name) { nameAddress, nameCount in
            ABI.withReturnArea(byteCount: 8, alignment: 4) { area in
                call(handle, nameAddress, nameCount, area)
                return ABI.takeStringList(area)
            }
        }
    }

    /// `func() -> list<string>`.
    static func headerNames(_ handle: UInt32, _ call: (UInt32, UInt32) -> Void) -> [String] {
        ABI.withReturnArea(byteCount: 8, alignment: 4) { area in
            call(handle, area)
            return ABI.takeStringList(area)
        }
    }

    /// `func(value: string) -> bool`.
    static func set(_ handle: UInt32, _ value: String, _ call: (UInt32, UInt32, UInt32) -> Int32) -> Bool {
        ABI.withUTF8(value) { address, count in call(handle, address, count) != 0 }
    }

    /// `func(name: string, value: string) -> bool`.
    static func set(
        _ handle: UInt32,
        _ name: String,
        _ value: String,
        _ call: (UInt32, UInt32, UInt32, UInt32, UInt32) -> Int32
    ) -> Bool {
        ABI.withUTF8(name) { nameAddress, nameCount in
            ABI.withUTF8(value) { valueAddress, valueCount in
                call(handle, nameAddress, nameCount, valueAddress, valueCount) != 0
            }
        }
    }

    /// `func() -> result<list<u8>, error-code>`: discriminant at +0 (0 ok, 1 err); ok: pointer
    /// at +4 and length at +8; err: the code (`u8`) at +4. The host allocated the bytes.
    static func body(_ handle: UInt32, _ call: (UInt32, UInt32) -> Void) -> Result<[UInt8], HostError> {
        ABI.withReturnArea(byteCount: 12, alignment: 4) { area in
            call(handle, area)
            if ABI.load8(area) == 0 {
                return .success(ABI.takeBytes(ABI.load32(area, 4), ABI.load32(area, 8)))
            }
            return .failure(HostError(rawValue: ABI.load8(area, 4)))
        }
    }

    /// `func(body: list<u8>)`: the bytes are borrowed for the call; the host copies them.
    static func setBody(_ handle: UInt32, _ body: [UInt8], _ call: (UInt32, UInt32, UInt32) -> Void) {
        body.withUnsafeBytes { buffer in
            call(
                handle,
                UInt32(truncatingIfNeeded: UInt(bitPattern: buffer.baseAddress)),
                UInt32(truncatingIfNeeded: buffer.count)
            )
        }
    }

    /// `func(body: list<u8>)` with a string's UTF-8.
    static func setBody(_ handle: UInt32, _ text: String, _ call: (UInt32, UInt32, UInt32) -> Void) {
        ABI.withUTF8(text) { address, count in call(handle, address, count) }
    }
}
