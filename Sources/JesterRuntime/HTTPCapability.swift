import JesterManifest

/// `jester:plugin/http`: the `request` and `response` resources of the `http-filter` world.
/// Always granted: a filter's job is the message it is given. Outside a filter call (in `init`,
/// say) there is no message, and a call traps.
///
/// Every function takes the resource handle first; the host passes the request as handle
/// ``HTTPFilterSession/requestHandle`` and the response as ``HTTPFilterSession/responseHandle``
/// to `on-request` and `on-response`, and a call with any other handle traps (the canonical ABI's
/// rule for a bad handle). `docs/abi.md` gives every core signature and layout.
struct HTTPCapability: HostCapability {
    let name = "http"
    /// Longest header name, method or similar token accepted from a guest.
    static let maxNameBytes: UInt32 = 1024
    /// Longest header value, path or query accepted from a guest.
    static let maxValueBytes: UInt32 = 64 << 10
    /// Largest body a guest may set.
    static let maxBodyBytes: UInt32 = 64 << 20

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { true }

    var functions: [HostFunction] {
        var functions: [HostFunction] = []
        for (resource, message) in [("request", HTTPFilterMessage.request), ("response", .response)] {
            functions += headerAndBodyFunctions(resource, message)
            functions.append(HostFunction(module: Self.module, name: "[resource-drop]\(resource)", parameters: [.i32]) { _ in })
        }
        functions += requestFunctions + responseFunctions
        return functions
    }

    static let module = BuiltinCapabilities.module("http")

    private func function(
        _ resource: String, _ method: String, _ parameters: [WasmValueType], _ results: [WasmValueType] = [],
        _ body: @escaping @Sendable (borrowing HostCall) throws -> Void
    ) -> HostFunction {
        HostFunction(module: Self.module, name: "[method]\(resource).\(method)", parameters: [.i32] + parameters, results: results, body: body)
    }

    private var requestFunctions: [HostFunction] {
        [
            function("request", "method", [.i32]) { call in
                try Self.writeString(Self.messages(call, .request).method, at: call.i32(1), call: call)
            },
            function("request", "set-method", [.i32, .i32], [.i32]) { call in
                let messages = try Self.messages(call, .request)
                let text = try Self.readString(call, 1, limit: Self.maxNameBytes)
                call.setResult(0, .i32(text.map { messages.setMethod($0) ? 1 : 0 } ?? 0))
            },
            function("request", "path", [.i32]) { call in
                try Self.writeString(Self.messages(call, .request).path, at: call.i32(1), call: call)
            },
            function("request", "set-path", [.i32, .i32], [.i32]) { call in
                let messages = try Self.messages(call, .request)
                let text = try Self.readString(call, 1, limit: Self.maxValueBytes)
                call.setResult(0, .i32(text.map { messages.setPath($0) ? 1 : 0 } ?? 0))
            },
            function("request", "query", [.i32]) { call in
                try Self.writeString(Self.messages(call, .request).query, at: call.i32(1), call: call)
            },
            function("request", "set-query", [.i32, .i32], [.i32]) { call in
                let messages = try Self.messages(call, .request)
                let text = try Self.readString(call, 1, limit: Self.maxValueBytes)
                call.setResult(0, .i32(text.map { messages.setQuery($0) ? 1 : 0 } ?? 0))
            },
            function("request", "client-address", [.i32]) { call in
                try Self.writeString(Self.messages(call, .request).clientAddress, at: call.i32(1), call: call)
            },
        ]
    }

    private var responseFunctions: [HostFunction] {
        [
            function("response", "status", [], [.i32]) { call in
                call.setResult(0, .i32(Int32(clamping: try Self.messages(call, .response).status)))
            },
            function("response", "set-status", [.i32], [.i32]) { call in
                let messages = try Self.messages(call, .response)
                let status = call.i32(1)
                call.setResult(0, .i32((100...999).contains(status) && messages.setStatus(Int(status)) ? 1 : 0))
            },
        ]
    }

    /// The header and body functions, the same for both resources.
    private func headerAndBodyFunctions(_ resource: String, _ message: HTTPFilterMessage) -> [HostFunction] {
        [
            function(resource, "header", [.i32, .i32, .i32]) { call in
                let messages = try Self.messages(call, message)
                let retptr = call.i32(3)
                try call.memory.check(at: retptr, count: 12)
                guard let name = try Self.readString(call, 1, limit: Self.maxNameBytes), let value = messages.header(name, in: message) else {
                    try call.memory.storeUInt8(0, at: retptr)
                    return
                }
                try call.memory.storeUInt8(1, at: retptr)
                try Self.writeString(value, at: retptr + 4, call: call)
            },
            function(resource, "header-values", [.i32, .i32, .i32]) { call in
                let messages = try Self.messages(call, message)
                let values = try Self.readString(call, 1, limit: Self.maxNameBytes).map { messages.headerValues($0, in: message) } ?? []
                try Self.writeStringList(values, at: call.i32(3), call: call)
            },
            function(resource, "header-names", [.i32]) { call in
                try Self.writeStringList(Self.messages(call, message).headerNames(in: message), at: call.i32(1), call: call)
            },
            function(resource, "set-header", [.i32, .i32, .i32, .i32], [.i32]) { call in
                let messages = try Self.messages(call, message)
                guard let name = try Self.readString(call, 1, limit: Self.maxNameBytes), let value = try Self.readString(call, 3, limit: Self.maxValueBytes) else {
                    call.setResult(0, .i32(0))
                    return
                }
                call.setResult(0, .i32(messages.setHeader(name, value, in: message) ? 1 : 0))
            },
            function(resource, "add-header", [.i32, .i32, .i32, .i32], [.i32]) { call in
                let messages = try Self.messages(call, message)
                guard let name = try Self.readString(call, 1, limit: Self.maxNameBytes), let value = try Self.readString(call, 3, limit: Self.maxValueBytes) else {
                    call.setResult(0, .i32(0))
                    return
                }
                call.setResult(0, .i32(messages.addHeader(name, value, in: message) ? 1 : 0))
            },
            function(resource, "remove-header", [.i32, .i32]) { call in
                let messages = try Self.messages(call, message)
                if let name = try Self.readString(call, 1, limit: Self.maxNameBytes) { messages.removeHeader(name, in: message) }
            },
            function(resource, "body", [.i32]) { call in
                let messages = try Self.messages(call, message)
                let retptr = call.i32(1)
                try call.memory.check(at: retptr, count: 12)
                let unavailable = try messages.withBody(of: message) { bytes in
                    let pointer = try call.allocateAndWrite(bytes)
                    try call.memory.withMutableBytes(at: retptr, count: 12) { area in
                        area[0] = 0
                        area.storeBytes(of: pointer.littleEndian, toByteOffset: 4, as: UInt32.self)
                        area.storeBytes(of: UInt32(bytes.count).littleEndian, toByteOffset: 8, as: UInt32.self)
                    }
                }
                if let unavailable {
                    try call.memory.storeUInt8(1, at: retptr)
                    let code: CanonicalErrorCode = unavailable == .tooLarge ? .limitExceeded : .unavailable
                    try call.memory.storeUInt8(code.rawValue, at: retptr + 4)
                }
            },
            function(resource, "set-body", [.i32, .i32]) { call in
                let messages = try Self.messages(call, message)
                let length = call.i32(2)
                guard length <= Self.maxBodyBytes else {
                    throw HostTrapReason("set-body was given \(length) bytes, more than the \(Self.maxBodyBytes) a body may hold")
                }
                try call.memory.withBytes(at: call.i32(1), count: length) { messages.setBody($0, of: message) }
            },
        ]
    }

    // MARK: Helpers

    /// The messages of the filter call running now, after checking the handle.
    static func messages(_ call: borrowing HostCall, _ message: HTTPFilterMessage) throws -> any HTTPFilterMessages {
        let expected = message == .request ? HTTPFilterSession.requestHandle : HTTPFilterSession.responseHandle
        let handle = call.i32(0)
        guard handle == expected else {
            throw HostTrapReason("\(message) handle \(handle) is not valid here; use the handle on-request or on-response was given")
        }
        guard let messages = call.instance.httpMessages else {
            throw HostTrapReason("there is no HTTP \(message) outside on-request and on-response")
        }
        return messages
    }

    /// The string at parameters (`index`, `index + 1`), or nil when it is longer than `limit`.
    static func readString(_ call: borrowing HostCall, _ index: Int, limit: UInt32) throws -> String? {
        let length = call.i32(index + 1)
        let memory = call.memory
        try memory.check(at: call.i32(index), count: length)
        guard length <= limit else { return nil }
        return try memory.readString(at: call.i32(index), count: length)
    }

    /// Allocates `text` in the guest and writes `(pointer, length)` at `address`.
    static func writeString(_ text: String, at address: UInt32, call: borrowing HostCall) throws {
        try call.memory.check(at: address, count: 8)
        let pointer = try call.allocateAndWrite(text.utf8)
        try call.memory.storeUInt32(pointer, at: address)
        try call.memory.storeUInt32(UInt32(text.utf8.count), at: address + 4)
    }

    /// Allocates a `list<string>` in the guest and writes `(pointer, count)` at `address`.
    static func writeStringList(_ strings: [String], at address: UInt32, call: borrowing HostCall) throws {
        try call.memory.check(at: address, count: 8)
        var pairs: [UInt8] = []
        pairs.reserveCapacity(strings.count * 8)
        for text in strings {
            let pointer = try call.allocateAndWrite(text.utf8)
            withUnsafeBytes(of: pointer.littleEndian) { pairs.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian) { pairs.append(contentsOf: $0) }
        }
        let array = try call.allocateAndWrite(pairs, alignment: 4)
        try call.memory.storeUInt32(array, at: address)
        try call.memory.storeUInt32(UInt32(strings.count), at: address + 4)
    }
}

/// A guest misused a host function in a way that the canonical ABI treats as a trap (a bad
/// handle); the call fails as a trap with this reason.
struct HostTrapReason: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
