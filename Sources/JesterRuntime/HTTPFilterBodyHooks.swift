import WasmKit

/// Where an `http-filter` module's body hooks sit among its function exports (positions in
/// `PluginImage.functionExports`), resolved once per image so that a chunk call does not hash
/// export names.
struct HTTPFilterBodyExports: Sendable {
    var onRequestBody: Int?
    var onResponseBody: Int?
    var postRequestBody: Int?
    var postResponseBody: Int?

    init(index: [String: Int]) {
        onRequestBody = index[HTTPFilterBodyHooks.requestExport]
        onResponseBody = index[HTTPFilterBodyHooks.responseExport]
        postRequestBody = index["cabi_post_" + HTTPFilterBodyHooks.requestExport]
        postResponseBody = index["cabi_post_" + HTTPFilterBodyHooks.responseExport]
    }
}

/// The guest side of the `http-filter` world's body hooks, lowered with the canonical ABI
/// (`docs/abi.md`, "Body hooks"):
///
/// ```wat
/// (func (export "on-request-body")  (param $req i32) (param $ptr i32) (param $len i32) (param $end i32) (result i32))
/// (func (export "on-response-body") (param $req i32) (param $resp i32) (param $ptr i32) (param $len i32) (param $end i32) (result i32))
/// ```
///
/// The chunk is placed in guest memory with the guest's `cabi_realloc(0, 0, 1, len)` (an empty
/// chunk is `(0, 0)` and not allocated) and belongs to the guest. The result is a pointer to a
/// 12-byte area: a `u8` discriminant at +0 (0 `none`: forward the chunk unchanged; 1 `some`:
/// forward these bytes instead), the list's pointer at +4 and length at +8. The host then calls
/// `cabi_post_<export>(area)` when the guest exports it.
enum HTTPFilterBodyHooks {
    static let requestExport = "on-request-body"
    static let responseExport = "on-response-body"

    /// The most bytes a hook may return for one chunk (64 MiB, as for `handle`'s output).
    static let maxOutputBytes: UInt32 = 64 << 20

    /// Calls the hook `function` (export `export`) with `chunk` within `budget`, then its
    /// `cabi_post_*` export `post` if there is one.
    ///
    /// - Returns: The replacement (`some`), or nil (`none`), and the fuel every guest call used.
    /// - Throws: The call's trap or limit, or ``PluginError`` `badGuestResponse` for a result
    ///   area that is not one (the instance is then poisoned).
    static func call(
        _ function: Function,
        post: Function?,
        export: String,
        message: HTTPFilterMessage,
        chunk: UnsafeRawBufferPointer,
        end: Bool,
        on instance: PluginInstance,
        budget: CallBudget,
        fuel: inout UInt64
    ) throws -> [UInt8]? {
        let memory = GuestMemoryView(memory: instance.context.memory)
        var pointer: UInt32 = 0
        if chunk.count > 0 {
            guard chunk.count <= Int(maxOutputBytes) else {
                throw PluginError.make(
                    .invalidArgument,
                    "a body chunk of \(chunk.count) bytes is more than the \(maxOutputBytes) a hook is given"
                )
                .with(pluginID: instance.image.id, export: export)
            }
            pointer = try instance.run(export: "cabi_realloc", budget: budget) {
                try instance.context.allocate(byteCount: UInt32(chunk.count), alignment: 1)
            }
            fuel &+= instance.lastFuelUsed
            try memory.withMutableBytes(at: pointer, count: UInt32(chunk.count)) { $0.copyMemory(from: chunk) }
        }
        var arguments: [Value] = [.i32(HTTPFilterSession.requestHandle)]
        if message == .response { arguments.append(.i32(HTTPFilterSession.responseHandle)) }
        arguments += [.i32(pointer), .i32(UInt32(chunk.count)), .i32(end ? 1 : 0)]
        let results = try instance.invoke(function, arguments, export: export, budget: budget)
        fuel &+= instance.lastFuelUsed
        guard results.count == 1, case .i32(let area) = results[0] else {
            throw badResponse(
                instance,
                export,
                "\(export) must return one i32: a pointer to its 12-byte result area (option<list<u8>>)"
            )
        }
        let output = try readResult(memory, area: area, instance: instance, export: export)
        if let post {
            _ = try instance.invoke(post, [.i32(area)], export: "cabi_post_\(export)", budget: budget)
            fuel &+= instance.lastFuelUsed
        }
        return output
    }

    /// Reads `option<list<u8>>` from the area at `area`: `(u8 discriminant @0, u32 pointer @4,
    /// u32 length @8)`, checking every part against the guest's memory.
    private static func readResult(
        _ memory: GuestMemoryView,
        area: UInt32,
        instance: PluginInstance,
        export: String
    ) throws -> [UInt8]? {
        let fields: (UInt8, UInt32, UInt32)
        do {
            fields = try memory.withBytes(at: area, count: 12) { buffer in
                (
                    buffer[0],
                    UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                    UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                )
            }
        } catch let fault as GuestMemoryFault {
            throw badResponse(
                instance,
                export,
                "\(export) returned a result area at \(area) that is not inside its memory: \(fault)"
            )
        }
        let (discriminant, pointer, length) = fields
        switch discriminant {
        case 0:
            return nil
        case 1:
            guard length <= maxOutputBytes else {
                throw badResponse(
                    instance,
                    export,
                    "\(export) returned \(length) bytes, more than the \(maxOutputBytes) the host accepts for one chunk"
                )
            }
            do {
                return try memory.read(at: pointer, count: length)
            } catch let fault as GuestMemoryFault {
                throw badResponse(
                    instance,
                    export,
                    "\(export) returned \(length) bytes at \(pointer), which are not inside its memory: \(fault)"
                )
            }
        default:
            throw badResponse(
                instance,
                export,
                "\(export) returned discriminant \(discriminant) at +0 of its result area; expected 0 (none: forward the chunk unchanged) or 1 (some: forward the bytes at +4, +8)"
            )
        }
    }

    private static func badResponse(_ instance: PluginInstance, _ export: String, _ message: String) -> PluginError {
        // The guest's state can no longer be trusted: the instance is thrown away.
        instance.isPoisoned = true
        return PluginError.make(.badGuestResponse, message).with(pluginID: instance.image.id, export: export)
    }
}

/// The request and response as a body hook sees them: readable, not editable. The head of the
/// message whose body streams has gone on already (the request to the upstream, the response to
/// the client), so setters answer `false` and change nothing, `set-body` is ignored, and `body`
/// is `unavailable` (the hook is given the body in chunks instead). Every embedder gets these
/// rules, whatever its ``HTTPFilterMessages`` would allow.
final class BodyHookMessages: HTTPFilterMessages {
    private let view: any HTTPFilterMessages

    init(_ view: any HTTPFilterMessages) {
        self.view = view
    }

    var method: String { view.method }
    func setMethod(_ method: String) -> Bool { false }
    var path: String { view.path }
    func setPath(_ path: String) -> Bool { false }
    var query: String { view.query }
    func setQuery(_ query: String) -> Bool { false }
    var clientAddress: String { view.clientAddress }
    var status: Int { view.status }
    func setStatus(_ status: Int) -> Bool { false }
    func header(_ name: String, in message: HTTPFilterMessage) -> String? { view.header(name, in: message) }
    func headerValues(_ name: String, in message: HTTPFilterMessage) -> [String] { view.headerValues(name, in: message) }
    func headerNames(in message: HTTPFilterMessage) -> [String] { view.headerNames(in: message) }
    func setHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool { false }
    func addHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool { false }
    func removeHeader(_ name: String, in message: HTTPFilterMessage) {}

    func withBody(of message: HTTPFilterMessage, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> HTTPFilterBodyUnavailable? {
        .notBuffered
    }

    func setBody(_ bytes: UnsafeRawBufferPointer, of message: HTTPFilterMessage) {}
}
