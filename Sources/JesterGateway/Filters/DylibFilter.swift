import CJesterFilter
public import JesterManifest
import JesterRuntime
public import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A native filter: a shared library behind the C ABI of `include/jester_filter.h`, loaded with
/// `dlopen` and called in the gateway process, unsandboxed. The gateway loads one only when
/// `--allow-unsafe-dylib` (or `[plugins] allow_unsafe_dylib`) allows it.
///
/// One filter is one instance of the library (its `create`), made per route entry, kept across
/// reloads while the entry, the library and its config stay the same (``Identity``), and shared by
/// every request of the route on every event loop: the library promises
/// that `on_request` and `on_response` are thread-safe for different exchanges. Each request gets
/// one exchange handle for both phases, kept in the exchange and dropped in ``onFinish(_:)``.
/// Calls run inline on the request's event loop, like WASM filters, but without a time limit:
/// a library that loops holds its event loop.
///
/// The instance is destroyed when the last reference goes (after a reload dropped the route
/// entry, once its last request is over); the library itself is never unloaded (see
/// ``DylibLibrary``).
@_spi(Testing) public final class DylibFilter: GatewayFilter, @unchecked Sendable {
    // @unchecked: the instance pointer, callbacks and host table are set in init and never
    // changed; the library's contract makes concurrent calls on the instance safe.

    /// The label of the route entry (`dylib:api-key`), for logs and errors.
    public let label: String
    /// The name the library gives itself in its descriptor.
    public let name: String
    /// The library's real path.
    public let path: String
    public let requirements: FilterRequirements

    private let library: DylibLibrary
    private let instance: UnsafeMutableRawPointer?
    private let callbacks: Callbacks
    private let host: DylibHost
    private let api: UnsafeMutablePointer<jester_host_api>

    private init(
        label: String, name: String, library: DylibLibrary, requirements: FilterRequirements, instance: UnsafeMutableRawPointer?,
        callbacks: Callbacks, host: DylibHost, api: UnsafeMutablePointer<jester_host_api>
    ) {
        self.label = label
        self.name = name
        self.path = library.path
        self.library = library
        self.requirements = requirements
        self.instance = instance
        self.callbacks = callbacks
        self.host = host
        self.api = api
    }

    /// What an instance is kept across reloads by (with its route and entry): the library's real
    /// path and the config `create` was given.
    struct Identity: Hashable, Sendable {
        let path: String
        let config: String
    }

    deinit {
        if callbacks.create != nil { callbacks.destroy?(instance) }
        api.deinitialize(count: 1)
        api.deallocate()
    }

    /// Loads the library at `path` (once per real path; later loads share it), checks its
    /// descriptor and makes an instance from `config`.
    ///
    /// - Parameters:
    ///   - path: The library's path, absolute or relative to the working directory.
    ///   - config: The route entry's `config` table, passed to the library's `create` as JSON.
    ///   - label: The entry's label (`dylib:api-key`), for errors and as the `filter` of log lines.
    ///   - logger: Where the library's `log` calls go.
    /// - Throws: ``DylibFilterError`` when the file is missing, is not a loadable shared library,
    ///   lacks `jester_filter_v1`, speaks another ABI major, has a bad descriptor, or `create`
    ///   refused the config.
    public static func load(path: String, config: JSONValue, label: String, logger: Logger) throws(DylibFilterError) -> DylibFilter {
        let library = try DylibLibrary.open(path, label: label)
        let name = try checkDescriptor(library, label: label)
        let descriptor = library.descriptor.pointee
        let requirements = FilterRequirements(
            bufferRequestBody: descriptor.flags & UInt32(JESTER_FILTER_BUFFER_REQUEST_BODY) != 0,
            bufferResponseBody: descriptor.flags & UInt32(JESTER_FILTER_BUFFER_RESPONSE_BODY) != 0,
            maxBodyBytes: descriptor.max_body_bytes == 0 ? FilterRequirements().maxBodyBytes : Int(clamping: descriptor.max_body_bytes))
        let callbacks = Callbacks(descriptor)

        var logger = logger
        logger[metadataKey: "filter"] = "\(label)"
        let host = DylibHost(logger: logger)
        let api = UnsafeMutablePointer<jester_host_api>.allocate(capacity: 1)
        api.initialize(to: DylibHost.api(for: host))

        var instance: UnsafeMutableRawPointer?
        if let create = callbacks.create {
            let json = config.serialized()
            var message = [CChar](repeating: 0, count: 1024)
            instance = json.withCString { text in
                message.withUnsafeMutableBufferPointer { create(api, text, json.utf8.count, $0.baseAddress, $0.count) }
            }
            if instance == nil {
                api.deinitialize(count: 1)
                api.deallocate()
                let text = message.withUnsafeBytes { bytes in
                    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                throw .createFailed(label: label, path: library.path, message: text)
            }
        }
        return DylibFilter(
            label: label, name: name, library: library, requirements: requirements, instance: instance, callbacks: callbacks,
            host: host, api: api)
    }

    /// Checks what the gateway reads of the descriptor, and returns the library's name.
    private static func checkDescriptor(_ library: DylibLibrary, label: String) throws(DylibFilterError) -> String {
        // The version and size first, on their own: a descriptor of another major or an older
        // layout may be shorter than this gateway's.
        let raw = UnsafeRawPointer(library.descriptor)
        let layout = MemoryLayout<jester_filter_descriptor>.self
        let major = Int(raw.load(fromByteOffset: layout.offset(of: \.abi_major)!, as: UInt16.self))
        let minor = Int(raw.load(fromByteOffset: layout.offset(of: \.abi_minor)!, as: UInt16.self))
        guard major == Int(JESTER_FILTER_ABI_VERSION_MAJOR) else {
            throw .abiMismatch(label: label, path: library.path, library: "\(major).\(minor)")
        }
        let size = Int(raw.load(fromByteOffset: layout.offset(of: \.size)!, as: UInt32.self))
        guard size >= layout.size else {
            throw .badDescriptor(
                label: label, path: library.path,
                "its descriptor says it is \(size) bytes, but ABI \(DylibFilterError.hostABI) needs \(layout.size): set `.size = sizeof(jester_filter_descriptor)`")
        }
        let descriptor = library.descriptor.pointee
        guard let name = descriptor.name else {
            throw .badDescriptor(label: label, path: library.path, "its descriptor has no name: set `.name` to a short NUL-terminated string")
        }
        let known = UInt32(JESTER_FILTER_BUFFER_REQUEST_BODY) | UInt32(JESTER_FILTER_BUFFER_RESPONSE_BODY)
        guard descriptor.flags & ~known == 0 else {
            let unknown = "0x" + String(descriptor.flags & ~known, radix: 16)
            throw .badDescriptor(
                label: label, path: library.path,
                "its descriptor sets flags \(unknown) that ABI \(DylibFilterError.hostABI) does not know (it was built for \(major).\(minor)): use only JESTER_FILTER_BUFFER_* flags of this gateway's jester_filter.h")
        }
        return String(decoding: UnsafeRawBufferPointer(start: name, count: strnlen(name, 256)), as: UTF8.self)
    }

    // MARK: Phases

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        guard let onRequest = callbacks.onRequest else { return .proceed }
        do {
            let response = try ExchangeMessages.requestPhase(exchange) { (messages) throws(FilterFailure) in
                try run(onRequest, "on_request", exchange: exchange, messages: messages)
            }
            return response.map { .respond($0) } ?? .proceed
        } catch {
            return .failed(error)
        }
    }

    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        guard let onResponse = callbacks.onResponse else { return .proceed }
        do {
            // `respond` in on_response is the same as `continue`: the response was edited in place.
            _ = try run(onResponse, "on_response", exchange: exchange, messages: ExchangeMessages(exchange, phase: .response))
            return .proceed
        } catch {
            return .failed(error)
        }
    }

    public func onFinish(_ exchange: FilterExchange) {
        let key = ObjectIdentifier(self)
        guard let handle = exchange.state(for: key) as? DylibExchange else { return }
        exchange.setState(nil, for: key)
        if let data = handle.requestData { callbacks.onFinish?(instance, data) }
    }

    /// Calls one phase callback with the request's exchange handle and maps what it returned.
    private func run(_ callback: Callbacks.Phase, _ callbackName: String, exchange: FilterExchange, messages: ExchangeMessages) throws(FilterFailure) -> HTTPFilterAction {
        let key = ObjectIdentifier(self)
        let handle: DylibExchange
        if let open = exchange.state(for: key) as? DylibExchange {
            handle = open
        } else {
            handle = DylibExchange(exchange)
            exchange.setState(handle, for: key)
        }
        let result = handle.during(messages) { callback(instance, $0) }
        switch result.code {
        case JESTER_CONTINUE: return .continue
        case JESTER_RESPOND: return .respond
        case JESTER_FAIL, JESTER_UNAVAILABLE:
            let reason = result.error ?? "no reason given (call set_error before returning)"
            let returned = result.code == JESTER_FAIL ? "JESTER_FAIL" : "JESTER_UNAVAILABLE"
            throw FilterFailure("\(callbackName) of '\(name)' returned \(returned): \(reason)", unavailable: result.code == JESTER_UNAVAILABLE)
        default:
            throw FilterFailure(
                "\(callbackName) of '\(name)' returned \(result.code), which is not JESTER_CONTINUE (0), JESTER_RESPOND (1), JESTER_FAIL (2) or JESTER_UNAVAILABLE (3)")
        }
    }

    /// The descriptor's callbacks, copied out of it once.
    private struct Callbacks {
        typealias Phase = @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Int32
        let create: (@convention(c) (UnsafePointer<jester_host_api>?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, Int) -> UnsafeMutableRawPointer?)?
        let onRequest: Phase?
        let onResponse: Phase?
        let onFinish: (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void)?
        let destroy: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?

        init(_ descriptor: jester_filter_descriptor) {
            create = descriptor.create
            onRequest = descriptor.on_request
            onResponse = descriptor.on_response
            onFinish = descriptor.on_finish
            destroy = descriptor.destroy
        }
    }
}

// MARK: - Libraries

/// A shared library holding dylib filters, opened once per real path and never closed: a request
/// may be inside the library's code at any time while the gateway runs, and a filter made from
/// it lives until its last request is over. Reloading a config that names the same file reuses
/// the loaded code; a new build under a new file name (or behind a symlink now pointing to a new
/// file) is loaded anew.
final class DylibLibrary: @unchecked Sendable {
    // @unchecked: the handle is never closed, and the descriptor is static data of the library
    // that nothing writes.

    /// The real path (symlinks resolved).
    let path: String
    let descriptor: UnsafePointer<jester_filter_descriptor>

    private init(path: String, descriptor: UnsafePointer<jester_filter_descriptor>) {
        self.path = path
        self.descriptor = descriptor
    }

    /// `path` with symlinks resolved: the key libraries are opened under.
    static func realPath(_ path: String, label: String) throws(DylibFilterError) -> String {
        guard let resolved = realpath(path, nil) else {
            let error = errno
            if error == ENOENT || error == ENOTDIR { throw .fileMissing(label: label, path: path) }
            throw .notLoadable(label: label, path: path, String(cString: strerror(error)))
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Every library opened so far, by real path.
    private static let opened = NIOLockedValueBox<[String: DylibLibrary]>([:])

    /// The library at `path`, opened now or earlier.
    static func open(_ path: String, label: String) throws(DylibFilterError) -> DylibLibrary {
        let real = try realPath(path, label: label)
        let result: Result<DylibLibrary, DylibFilterError> = opened.withLockedValue { opened in
            if let library = opened[real] { return .success(library) }
            // Under the lock: dlopen runs the library's constructors once, and dlerror is per thread.
            guard let handle = dlopen(real, RTLD_NOW | RTLD_LOCAL) else {
                let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed without a reason"
                return .failure(.notLoadable(label: label, path: real, reason))
            }
            guard let entry = dlsym(handle, JESTER_FILTER_ENTRY_NAME) else {
                let other = (2...9).first { dlsym(handle, "jester_filter_v\($0)") != nil }
                dlclose(handle)
                return .failure(.noEntry(label: label, path: real, otherMajor: other))
            }
            let function = unsafeBitCast(entry, to: (@convention(c) () -> UnsafePointer<jester_filter_descriptor>?).self)
            guard let descriptor = function() else {
                return .failure(.badDescriptor(label: label, path: real, "\(JESTER_FILTER_ENTRY_NAME)() returned NULL; return a pointer to a static jester_filter_descriptor"))
            }
            let library = DylibLibrary(path: real, descriptor: descriptor)
            opened[real] = library
            return .success(library)
        }
        return try result.get()
    }
}

// MARK: - The host's side

/// The gateway's side of one filter instance: what `jester_host *` points to.
final class DylibHost: Sendable {
    /// The most of one log message that is kept, as for WASM plugins.
    static let maxLogBytes = 8 << 10

    let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// The host table for a filter whose host is `host` (unretained: the filter keeps it).
    static func api(for host: DylibHost) -> jester_host_api {
        var api = jester_host_api()
        api.size = UInt32(MemoryLayout<jester_host_api>.size)
        api.abi_major = UInt16(JESTER_FILTER_ABI_VERSION_MAJOR)
        api.abi_minor = UInt16(JESTER_FILTER_ABI_VERSION_MINOR)
        api.host = OpaquePointer(Unmanaged.passUnretained(host).toOpaque())
        api.log = { host, level, message, length in
            guard let host else { return }
            Unmanaged<DylibHost>.fromOpaque(UnsafeRawPointer(host)).takeUnretainedValue().log(level, message, length)
        }

        api.get_method = { x, pointer, length in DylibExchange.get(x, pointer, length) { $0.method } }
        api.set_method = { x, pointer, length in DylibExchange.set(x, pointer, length) { $0.setMethod($1) } }
        api.get_path = { x, pointer, length in DylibExchange.get(x, pointer, length) { $0.path } }
        api.set_path = { x, pointer, length in DylibExchange.set(x, pointer, length) { $0.setPath($1) } }
        api.get_query = { x, pointer, length in DylibExchange.get(x, pointer, length) { $0.query } }
        api.set_query = { x, pointer, length in DylibExchange.set(x, pointer, length) { $0.setQuery($1) } }
        api.get_client_address = { x, pointer, length in DylibExchange.get(x, pointer, length) { $0.clientAddress } }

        api.get_header = { x, message, name, nameLength, value, valueLength in
            DylibExchange.with(x, message) { handle, messages, message in
                guard let value, let valueLength else { return JESTER_INVALID }
                guard let name = DylibExchange.string(name, nameLength), let found = messages.header(name, in: message) else { return JESTER_NOT_FOUND }
                (value.pointee, valueLength.pointee) = handle.copy(found)
                return JESTER_OK
            }
        }
        api.each_header_value = { x, message, name, nameLength, function, context in
            DylibExchange.with(x, message) { _, messages, message in
                guard let function else { return JESTER_INVALID }
                guard let name = DylibExchange.string(name, nameLength) else { return JESTER_OK }
                DylibExchange.each(messages.headerValues(name, in: message), function, context)
                return JESTER_OK
            }
        }
        api.each_header_name = { x, message, function, context in
            DylibExchange.with(x, message) { _, messages, message in
                guard let function else { return JESTER_INVALID }
                DylibExchange.each(messages.headerNames(in: message), function, context)
                return JESTER_OK
            }
        }
        api.set_header = { x, message, name, nameLength, value, valueLength in
            DylibExchange.with(x, message) { _, messages, message in
                guard let name = DylibExchange.string(name, nameLength), let value = DylibExchange.string(value, valueLength),
                    messages.setHeader(name, value, in: message)
                else { return JESTER_INVALID }
                return JESTER_OK
            }
        }
        api.add_header = { x, message, name, nameLength, value, valueLength in
            DylibExchange.with(x, message) { _, messages, message in
                guard let name = DylibExchange.string(name, nameLength), let value = DylibExchange.string(value, valueLength),
                    messages.addHeader(name, value, in: message)
                else { return JESTER_INVALID }
                return JESTER_OK
            }
        }
        api.remove_header = { x, message, name, nameLength in
            DylibExchange.with(x, message) { _, messages, message in
                guard let name = DylibExchange.string(name, nameLength) else { return JESTER_INVALID }
                messages.removeHeader(name, in: message)
                return JESTER_OK
            }
        }

        api.get_body = { x, message, pointer, length in
            DylibExchange.with(x, message) { handle, messages, message in
                guard let pointer, let length else { return JESTER_INVALID }
                do {
                    let unavailable = try messages.withBody(of: message) { bytes in
                        let copy = handle.copy(bytes)
                        (pointer.pointee, length.pointee) = (copy.pointer.assumingMemoryBound(to: UInt8.self), copy.count)
                    }
                    switch unavailable {
                    case nil: return JESTER_OK
                    case .notBuffered: return JESTER_NOT_BUFFERED
                    case .tooLarge: return JESTER_TOO_LARGE
                    }
                } catch {
                    return JESTER_INVALID
                }
            }
        }
        api.set_body = { x, message, pointer, length in
            DylibExchange.with(x, message) { _, messages, message in
                guard length >= 0, pointer != nil || length == 0 else { return JESTER_INVALID }
                messages.setBody(UnsafeRawBufferPointer(start: pointer, count: length), of: message)
                return JESTER_OK
            }
        }

        api.get_status = { x, status in
            DylibExchange.with(x) { _, messages in
                guard let status else { return JESTER_INVALID }
                status.pointee = Int32(clamping: messages.status)
                return JESTER_OK
            }
        }
        api.set_status = { x, status in
            DylibExchange.with(x) { _, messages in messages.setStatus(Int(status)) ? JESTER_OK : JESTER_INVALID }
        }

        api.set_error = { x, message, length in
            DylibExchange.with(x) { handle, _ in
                guard length >= 0, message != nil || length == 0 else { return JESTER_INVALID }
                let bytes = UnsafeRawBufferPointer(start: message, count: min(length, DylibHost.maxLogBytes))
                handle.error = String(decoding: bytes, as: UTF8.self)
                return JESTER_OK
            }
        }
        api.set_request_data = { x, data in
            DylibExchange.with(x) { handle, _ in
                handle.requestData = data
                return JESTER_OK
            }
        }
        api.get_request_data = { x, data in
            DylibExchange.with(x) { handle, _ in
                guard let data else { return JESTER_INVALID }
                data.pointee = handle.requestData
                return JESTER_OK
            }
        }
        return api
    }

    /// `log()`: any thread, any time.
    func log(_ level: Int32, _ message: UnsafePointer<CChar>?, _ length: Int) {
        let level: Logger.Level =
            switch level {
            case JESTER_LOG_TRACE: .trace
            case JESTER_LOG_DEBUG: .debug
            case JESTER_LOG_INFO: .info
            case JESTER_LOG_WARN: .warning
            default: .error
            }
        guard logger.logLevel <= level else { return }
        let text = message.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: max(0, min(length, Self.maxLogBytes))), as: UTF8.self) } ?? ""
        logger.log(level: level, "\(text)")
    }
}

/// What `jester_exchange *` points to: one request as one dylib filter sees it, from its first
/// phase to ``DylibFilter/onFinish(_:)``. Usable only during a phase call, on the request's
/// event loop; the strings it hands out live until the call returns.
final class DylibExchange {
    /// Unowned: the exchange holds this handle in its filter state, not the other way round.
    private unowned let exchange: FilterExchange
    /// The messages of the phase call running now; nil between calls.
    private var messages: ExchangeMessages?
    /// What the library set with `set_request_data`.
    var requestData: UnsafeMutableRawPointer?
    /// What the library set with `set_error` in the call running now.
    var error: String?
    /// The copies handed out in the call running now, freed when it returns.
    private var copies: [UnsafeMutableRawPointer] = []

    init(_ exchange: FilterExchange) {
        self.exchange = exchange
    }

    deinit {
        freeCopies()
    }

    /// Runs `body` (the library's callback) with this exchange's handle live and `messages` as
    /// what it edits; returns what it returned and the error it set.
    func during(_ messages: ExchangeMessages, _ body: (OpaquePointer) -> Int32) -> (code: Int32, error: String?) {
        self.messages = messages
        error = nil
        defer {
            self.messages = nil
            freeCopies()
        }
        let code = withExtendedLifetime(self) { body(OpaquePointer(Unmanaged.passUnretained(self).toOpaque())) }
        return (code, error)
    }

    /// A copy of `bytes` followed by a NUL, valid until the call returns.
    func copy(_ bytes: UnsafeRawBufferPointer) -> (pointer: UnsafeRawPointer, count: Int) {
        let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + 1, alignment: 1)
        if let base = bytes.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
        copy.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
        copies.append(copy)
        return (UnsafeRawPointer(copy), bytes.count)
    }

    /// A copy of `text` for the library, as `get_*` returns it.
    func copy(_ text: String) -> (UnsafePointer<CChar>, Int) {
        var text = text
        let copy = text.withUTF8 { self.copy(UnsafeRawBufferPointer($0)) }
        return (copy.pointer.assumingMemoryBound(to: CChar.self), copy.count)
    }

    private func freeCopies() {
        for copy in copies { copy.deallocate() }
        copies.removeAll(keepingCapacity: true)
    }

    // MARK: Host functions

    /// The handle behind `x` and the messages of its running call, or nil when the handle is
    /// used outside its call or from another thread.
    private static func live(_ x: OpaquePointer?) -> (DylibExchange, ExchangeMessages)? {
        guard let x else { return nil }
        let handle = Unmanaged<DylibExchange>.fromOpaque(UnsafeRawPointer(x)).takeUnretainedValue()
        // The thread first: `messages` may only be read on the request's event loop.
        guard handle.exchange.eventLoop.inEventLoop, let messages = handle.messages else { return nil }
        return (handle, messages)
    }

    static func with(_ x: OpaquePointer?, _ body: (DylibExchange, ExchangeMessages) -> Int32) -> Int32 {
        guard let (handle, messages) = live(x) else { return JESTER_BAD_CALL }
        return body(handle, messages)
    }

    static func with(_ x: OpaquePointer?, _ message: Int32, _ body: (DylibExchange, ExchangeMessages, HTTPFilterMessage) -> Int32) -> Int32 {
        guard let (handle, messages) = live(x) else { return JESTER_BAD_CALL }
        let which: HTTPFilterMessage
        switch message {
        case JESTER_REQUEST: which = .request
        case JESTER_RESPONSE: which = .response
        default: return JESTER_INVALID
        }
        return body(handle, messages, which)
    }

    /// A `get_*` of the request line.
    static func get(
        _ x: OpaquePointer?, _ pointer: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ length: UnsafeMutablePointer<Int>?,
        _ value: (ExchangeMessages) -> String
    ) -> Int32 {
        with(x) { handle, messages in
            guard let pointer, let length else { return JESTER_INVALID }
            (pointer.pointee, length.pointee) = handle.copy(value(messages))
            return JESTER_OK
        }
    }

    /// A `set_*` of the request line.
    static func set(_ x: OpaquePointer?, _ pointer: UnsafePointer<CChar>?, _ length: Int, _ apply: (ExchangeMessages, String) -> Bool) -> Int32 {
        with(x) { _, messages in
            guard let text = string(pointer, length), apply(messages, text) else { return JESTER_INVALID }
            return JESTER_OK
        }
    }

    /// The UTF-8 string at (`pointer`, `length`); nil when it is not UTF-8 or the pair is invalid.
    static func string(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
        guard length > 0 else { return length == 0 ? "" : nil }
        guard let pointer else { return nil }
        return String(validating: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    /// Calls `function` with each of `strings`; the pointer it gets is valid during the call.
    static func each(_ strings: [String], _ function: jester_string_fn, _ context: UnsafeMutableRawPointer?) {
        for text in strings {
            text.withCString { function(context, $0, text.utf8.count) }
        }
    }
}

// MARK: - Errors

/// Why a dylib filter could not be loaded; the description names the entry's label, the library,
/// what failed and what to do.
@_spi(Testing) public struct DylibFilterError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable { case fileMissing, notLoadable, noEntry, abiMismatch, badDescriptor, createFailed }
    private let code: Code
    public let description: String

    private init(_ code: Code, label: String, path: String, _ text: String) {
        self.code = code
        self.description = "dylib filter '\(label)' (\(path)): \(text)"
    }

    /// The ABI version this gateway speaks, `1.0`.
    static var hostABI: String { "\(JESTER_FILTER_ABI_VERSION_MAJOR).\(JESTER_FILTER_ABI_VERSION_MINOR)" }

    static func fileMissing(label: String, path: String) -> DylibFilterError {
        DylibFilterError(.fileMissing, label: label, path: path, "no such file; check the entry's `module` path (relative paths start at the config file's directory)")
    }

    static func notLoadable(label: String, path: String, _ reason: String) -> DylibFilterError {
        DylibFilterError(
            .notLoadable, label: label, path: path,
            "cannot be loaded as a shared library: \(reason). Build it with `cc -shared -fPIC -I include -o lib<name>.so <name>.c` for this machine's architecture")
    }

    static func noEntry(label: String, path: String, otherMajor: Int?) -> DylibFilterError {
        if let otherMajor {
            return DylibFilterError(
                .noEntry, label: label, path: path,
                "it exports jester_filter_v\(otherMajor), so it was built for filter ABI \(otherMajor).x, but this gateway speaks ABI \(hostABI) and looks for \(JESTER_FILTER_ENTRY_NAME). Rebuild it against this gateway's include/jester_filter.h, or run a gateway that speaks ABI \(otherMajor)")
        }
        return DylibFilterError(
            .noEntry, label: label, path: path,
            "it does not export \(JESTER_FILTER_ENTRY_NAME). Define `JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void)` (include/jester_filter.h); in C++ declare it extern \"C\", and with -fvisibility=hidden keep JESTER_FILTER_EXPORT on it")
    }

    static func abiMismatch(label: String, path: String, library: String) -> DylibFilterError {
        DylibFilterError(
            .abiMismatch, label: label, path: path,
            "it was built for filter ABI \(library), but this gateway speaks ABI \(hostABI) and the major versions differ. Rebuild it against this gateway's include/jester_filter.h")
    }

    static func badDescriptor(label: String, path: String, _ reason: String) -> DylibFilterError {
        DylibFilterError(.badDescriptor, label: label, path: path, reason)
    }

    static func createFailed(label: String, path: String, message: String) -> DylibFilterError {
        DylibFilterError(
            .createFailed, label: label, path: path,
            message.isEmpty ? "create() refused the config and gave no message" : "create() refused the config: \(message)")
    }
}
