public import JesterManifest
public import Logging
public import NIOCore
public import NIOHTTP1

/// A request or response filter: one entry of a route's `[[routes.filters]]` or
/// `[[routes.response_filters]]`, whichever tier runs it (built-in Swift, WASM, dylib).
///
/// A filter is made once per route entry (and again on reload) and shared by every request of the
/// route, on every event loop: it must be thread-safe. Per-request state goes in the exchange
/// (``FilterExchange/state(for:)``); a built-in filter's state that should outlive a reload in an
/// object from ``FilterSetup/state(key:make:)``. Both phases run on the request's event loop and must not
/// block it; work that waits returns ``FilterVerdict/later(_:)``.
public protocol GatewayFilter: Sendable {
    /// What the filter needs from the gateway before it runs (whole bodies).
    var requirements: FilterRequirements { get }

    /// The request phase, before the route's action. Default: ``FilterVerdict/proceed``.
    func onRequest(_ exchange: FilterExchange) -> FilterVerdict

    /// The response phase, before the response goes to the client. Default: ``FilterVerdict/proceed``.
    func onResponse(_ exchange: FilterExchange) -> FilterVerdict

    /// Called once when the request is over (answered, failed or abandoned by the client), for
    /// filters that hold per-request resources. Default: nothing.
    func onFinish(_ exchange: FilterExchange)
}

extension GatewayFilter {
    public var requirements: FilterRequirements { FilterRequirements() }
    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict { .proceed }
    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict { .proceed }
    public func onFinish(_ exchange: FilterExchange) {}
}

/// A filter of the built-in tier: a Swift type named in config by ``name``.
///
/// Adding one is one file (the type) and one line in ``BuiltinFilters/all``.
///
/// ```swift
/// struct PoweredBy: BuiltinFilter {
///     static let name = "powered-by"
///     static let configSchema: JSONValue = ["type": "object", "properties": ["value": ["type": "string", "default": "Jester"]], "additionalProperties": false]
///     let value: String
///     init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) { value = config["value"]?.stringValue ?? "Jester" }
///     func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
///         exchange.responseHeaders.replaceOrAdd(name: "x-powered-by", value: value)
///         return .proceed
///     }
/// }
/// ```
public protocol BuiltinFilter: GatewayFilter {
    /// The name in config: `type = "builtin", name = "rate-limit"`.
    static var name: String { get }
    /// A one-line description for docs and `jester config schema`.
    static var summary: String { get }
    /// The JSON Schema (draft 2020-12, the keywords ``JSONSchema`` supports) of the entry's
    /// `config` table. The gateway checks each entry against it, and fills in defaults, before
    /// calling ``init(config:setup:)``.
    static var configSchema: JSONValue { get }

    /// Makes the filter for one route entry. `config` is valid against ``configSchema`` and has
    /// its defaults applied; throw ``FilterConfigError`` for what the schema cannot express.
    init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError)
}

/// What a filter is made with, besides its config.
public struct FilterSetup: Sendable {
    /// The route the entry belongs to.
    public var route: String
    /// The directory of the config file that declared the entry, for relative paths in config.
    public var directory: String
    /// The gateway's logger, with the route and filter in its metadata.
    public var logger: Logger
    /// The gateway's event loops, for filters that do I/O of their own (fetching a JWKS).
    public var eventLoopGroup: any EventLoopGroup
    /// Where ``state(key:make:)`` looks.
    let stateScope: FilterStateScope

    /// A setup outside a gateway (tests, tools): ``state(key:make:)`` always makes a new object
    /// and ``whenServing(_:)`` runs its action at once.
    public init(route: String, directory: String, logger: Logger, eventLoopGroup: any EventLoopGroup) {
        self.init(route: route, directory: directory, logger: logger, eventLoopGroup: eventLoopGroup, stateScope: .standalone(route: route))
    }

    init(route: String, directory: String, logger: Logger, eventLoopGroup: any EventLoopGroup, stateScope: FilterStateScope) {
        self.route = route
        self.directory = directory
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        self.stateScope = stateScope
    }

    /// State that outlives this filter value across config reloads: the object kept under `key` for
    /// this entry, or a new one from `make`.
    ///
    /// A reload gets the same object back when the route keeps its name, the entry keeps its
    /// filter name and its place among the entries of that name in the route's `filters` (or
    /// `response_filters`), and the filter asks for an equal `key`; anything else gets a new
    /// object, and objects no route of the new config asks for are dropped once it serves. So put in
    /// `key` what gives the state its meaning (rate-limit's key parts, a key set's URL and
    /// algorithms), and keep settings that can apply to existing state (a rate, a TTL) in the filter,
    /// passing them to the object when it is used.
    ///
    /// The object is shared by every event loop, and by the old and new filter while requests on
    /// the old routes finish: it must be thread-safe. Making the filter must not change it, since the
    /// config being built may yet be refused (`jester config validate`, a reload with an error
    /// elsewhere) and the running routes go on using it; work to start once the filter serves goes in
    /// ``whenServing(_:)``.
    ///
    /// ```swift
    /// let buckets = setup.state(key: parts) { BucketShards() }
    /// ```
    public func state<State: AnyObject & Sendable, Failure: Error>(
        key: some Hashable & Sendable, make: () throws(Failure) -> State
    ) throws(Failure) -> State {
        let stateKey = FilterStateStore.Key(route: stateScope.route, entry: stateScope.entry, identity: FilterStateStore.Identity(key))
        return try stateScope.build.state(at: stateKey, make: make)
    }

    /// Runs `action` once the routes holding this filter serve: when the gateway has started, or a
    /// reload has swapped them in. Never for a config that is only checked or whose reload fails.
    /// Outside a gateway (``init(route:directory:logger:eventLoopGroup:)``), at once. For work with
    /// effects beyond the filter, such as a first fetch of a key set.
    public func whenServing(_ action: @escaping @Sendable () -> Void) {
        stateScope.build.whenServing(action)
    }
}

/// A problem with a filter's config that its schema could not catch, at a path into the `config`
/// table (`$.jwks_file`); the gateway reports it with the file and line of that key.
public struct FilterConfigError: Error, Sendable, CustomStringConvertible {
    /// The path into the entry's `config` as the schema validator writes it: `$` for the table
    /// itself, `$.jwks_file`, `$.keys[0]`.
    public var path: String
    public var message: String
    /// How to fix it.
    public var fix: String?

    public init(_ path: String, _ message: String, fix: String? = nil) {
        self.path = path
        self.message = message
        self.fix = fix
    }

    public var description: String { fix.map { "\(message). \($0)" } ?? message }
}

/// What a filter needs from the gateway before it runs.
public struct FilterRequirements: Sendable, Hashable {
    /// Collect the whole request body before the request phase (``FilterExchange/requestBody``).
    public var bufferRequestBody: Bool
    /// Collect the whole response body before the response phase (``FilterExchange/responseBody``).
    public var bufferResponseBody: Bool
    /// The most a buffered body may hold; a larger one is a filter failure (413 for requests).
    public var maxBodyBytes: Int

    public init(bufferRequestBody: Bool = false, bufferResponseBody: Bool = false, maxBodyBytes: Int = 1 << 20) {
        self.bufferRequestBody = bufferRequestBody
        self.bufferResponseBody = bufferResponseBody
        self.maxBodyBytes = maxBodyBytes
    }
}

/// What the gateway does after a filter ran.
public enum FilterVerdict: Sendable {
    /// Go on with the (possibly edited) exchange.
    case proceed
    /// Answer now with this response (request phase: the action is skipped and the response
    /// filters run on it; response phase: it replaces the response).
    case respond(FilterResponse)
    /// The filter failed; its entry's failure policy decides (500/503, or skip and log).
    case failed(FilterFailure)
    /// The verdict arrives later, on the exchange's event loop.
    case later(EventLoopFuture<FilterVerdict>)
}

/// A response a filter answers with.
public struct FilterResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text answer (`text/plain; charset=utf-8`).
    public static func text(_ status: HTTPResponseStatus, _ text: String, headers: HTTPHeaders = HTTPHeaders()) -> FilterResponse {
        var headers = headers
        if !headers.contains(name: "content-type") { headers.add(name: "content-type", value: "text/plain; charset=utf-8") }
        return FilterResponse(status: status, headers: headers, body: ByteBuffer(string: text.hasSuffix("\n") ? text : text + "\n"))
    }
}

/// Why a filter failed.
public struct FilterFailure: Error, Sendable, CustomStringConvertible {
    /// Whether the failure is the filter being unavailable (busy, over a limit): 503 rather than 500.
    public var unavailable: Bool
    public var message: String

    public init(_ message: String, unavailable: Bool = false) {
        self.message = message
        self.unavailable = unavailable
    }

    public var description: String { message }
}

/// Changes a streamed response body chunk by chunk (compression). Installed by a response filter
/// with ``FilterExchange/transformResponseBody(with:)``; the gateway then drops `content-length`
/// and streams what the transform returns.
public protocol ResponseBodyTransform: BodyTransform {}

/// What request and response body transforms have in common: a body changed chunk by chunk.
public protocol BodyTransform: AnyObject {
    /// Transforms one chunk; may return an empty buffer (to drop bytes, or hold them back for a
    /// later call).
    func transform(_ chunk: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer
    /// The bytes that end the body (what was held back, a compressor's trailer).
    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer
}

/// Changes a streamed request body chunk by chunk on its way to the upstream (or to a handler
/// plugin). Installed by a request filter with ``FilterExchange/transformRequestBody(with:)``;
/// the gateway then drops `content-length` and sends the body to the upstream chunked
/// (HTTP/1.1), since its length is no longer known.
///
/// The gateway calls ``transform(_:allocator:)`` for every chunk as it arrives, then
/// ``finish(allocator:)`` once after the last. A request without a body calls neither: one
/// with no `transfer-encoding` and no (or a zero) `content-length` (over HTTP/2, a GET, HEAD,
/// DELETE, CONNECT or TRACE request without `content-length` counts as one). A request body
/// the gateway holds whole (a filter buffered or replaced it, or the route's action is a
/// handler plugin) goes through both at once. Calls run on the request's event loop and must not
/// block it; back-pressure stays the gateway's: a transform only sees what was read.
///
/// Throwing fails the request: before the response started, the client gets 503 when the error
/// is a ``FilterFailure`` with `unavailable` set and 500 otherwise; after it started, the
/// connection is cut. A transform that wants `fail_open` behaviour catches its own errors.
///
/// ```swift
/// final class CountBytes: RequestBodyTransform {
///     var count = 0
///     func transform(_ chunk: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
///         count += chunk.readableBytes
///         return chunk
///     }
///     func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer { allocator.buffer(capacity: 0) }
/// }
/// ```
public protocol RequestBodyTransform: BodyTransform {}

/// Where the response a response filter sees came from.
public enum ResponseOrigin: Sendable, Hashable {
    /// The upstream answered.
    case upstream
    /// The route answers locally (a fixed response or a handler plugin).
    case local
    /// A request filter answered (a short-circuit).
    case filter
    /// The gateway answered with an error (502, 504, 500 for a failed filter, …); response
    /// filters see it only when their entry sets `run_on_errors`.
    case gatewayError
}

/// One request as filters see and edit it, and later its response.
///
/// Confined to the request's event loop: every filter of the request runs there, one after
/// another. Edits made in the request phase are what the upstream receives; edits made in the
/// response phase are what the client receives.
public final class FilterExchange {
    // MARK: Request

    /// The request method.
    public var method: HTTPMethod
    /// The path, without the query (`/api/users`); always starts with `/`.
    public var path: String
    /// The query, without `?`; nil when the target had none.
    public var query: String?
    /// The request headers (hop-by-hop headers are removed later, when the request is forwarded).
    public var requestHeaders: HTTPHeaders
    /// The whole request body: set when a filter of the route asked for buffering, or when a
    /// filter replaced it (the gateway then sends this body with a matching `content-length`).
    public var requestBody: ByteBuffer? {
        get { bufferedRequestBody }
        set {
            bufferedRequestBody = newValue
            requestBodyReplaced = true
        }
    }
    /// The body as the gateway buffered it (setting it does not count as a replacement).
    var bufferedRequestBody: ByteBuffer?
    /// Whether ``requestBody`` was assigned by a filter.
    public internal(set) var requestBodyReplaced = false
    /// The HTTP version the client spoke.
    public let version: HTTPVersion
    /// The client's IP address (`203.0.113.7`, `::1`).
    public let clientAddress: String
    /// `http` or `https`, as the client connected.
    public let scheme: String
    /// The route serving the request.
    public let route: String
    /// The listener the request arrived on.
    public let listener: String
    /// The request's event loop.
    public let eventLoop: any EventLoop

    // MARK: Response (the response phase)

    /// The response status.
    public var status: HTTPResponseStatus = .ok
    /// The response headers.
    public var responseHeaders = HTTPHeaders()
    /// The whole response body: set when a response filter asked for buffering, for local and
    /// short-circuit answers, or when a filter replaced it.
    public var responseBody: ByteBuffer? {
        get { bufferedResponseBody }
        set {
            bufferedResponseBody = newValue
            responseBodyReplaced = true
        }
    }
    /// The body as the gateway buffered it (setting it does not count as a replacement).
    var bufferedResponseBody: ByteBuffer?
    /// Whether ``responseBody`` was assigned by a filter.
    public internal(set) var responseBodyReplaced = false
    /// Where the response came from.
    public internal(set) var responseOrigin = ResponseOrigin.upstream

    // MARK: Controls for the proxy

    /// The most the whole upstream exchange may take, from the end of the request phase to the
    /// last byte of the response (set by the `timeout` filter); over it: 504, or the connection
    /// is cut if the response had started.
    public var upstreamTimeout: TimeAmount?
    /// How a failed upstream attempt is retried (set by the `retry` filter).
    public var retryPolicy: RetryPolicy?

    /// Transforms installed by response filters, applied in order to every body chunk.
    public internal(set) var responseBodyTransforms: [any ResponseBodyTransform] = []

    /// Streams the response body through `transform` (and drops `content-length`).
    public func transformResponseBody(with transform: any ResponseBodyTransform) {
        responseBodyTransforms.append(transform)
    }

    /// Transforms installed by request filters, applied in order to every request body chunk.
    public internal(set) var requestBodyTransforms: [any RequestBodyTransform] = []

    /// Streams the request body through `transform` on its way to the upstream or handler (and
    /// sends it chunked, without `content-length`). Call it in the request phase; transforms
    /// apply in the order they were installed, to whatever body goes on (a replaced one too).
    public func transformRequestBody(with transform: any RequestBodyTransform) {
        requestBodyTransforms.append(transform)
    }

    // MARK: Per-request state of filters

    // Most chains have at most one filter with per-request state (a WASM or dylib filter): its
    // state sits in the first slot, and a dictionary is only made for a second one (a dictionary
    // per request cost about 1,000 instructions and an allocation on the WASM filter's path).
    private var firstStateKey: ObjectIdentifier?
    private var firstState: AnyObject?
    private var moreStates: [ObjectIdentifier: AnyObject]?

    /// State a filter keeps for this request between its phases, keyed by the filter's identity.
    public func state(for key: ObjectIdentifier) -> AnyObject? {
        if firstStateKey == key { return firstState }
        return moreStates?[key]
    }

    /// Stores state for ``state(for:)``; nil removes it.
    public func setState(_ value: AnyObject?, for key: ObjectIdentifier) {
        if firstStateKey == key || (firstStateKey == nil && value != nil && moreStates?[key] == nil) {
            firstStateKey = value == nil ? nil : key
            firstState = value
        } else if value != nil || moreStates != nil {
            if moreStates == nil { moreStates = [:] }
            moreStates![key] = value
        }
    }

    public init(
        method: HTTPMethod, path: String, query: String?, requestHeaders: HTTPHeaders, version: HTTPVersion,
        clientAddress: String, scheme: String, route: String, listener: String, eventLoop: any EventLoop
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.requestHeaders = requestHeaders
        self.version = version
        self.clientAddress = clientAddress
        self.scheme = scheme
        self.route = route
        self.listener = listener
        self.eventLoop = eventLoop
    }

    /// The request target as it goes upstream: path plus `?query`.
    public var uri: String { query.map { "\(path)?\($0)" } ?? path }
}

/// How the `retry` filter retries: which failures, how often, how long each try may take.
public struct RetryPolicy: Sendable, Hashable {
    /// Tries in all, the first included (2 means one retry).
    public var attempts: Int
    /// The most one try may take until the response head; nil: the upstream's `response_timeout`.
    public var perTryTimeout: TimeAmount?
    /// The wait before the first retry; doubled for each further one.
    public var backoff: TimeAmount
    /// Response statuses that count as failures and are retried (for example 502, 503, 504).
    public var retryOnStatuses: Set<UInt>
    /// Retry non-idempotent methods (POST, PATCH) too. Default: only GET, HEAD, OPTIONS, PUT,
    /// DELETE and TRACE are retried.
    public var retryNonIdempotent: Bool
    /// The largest request body kept for replay; a request with a larger body is tried once.
    public var maxReplayBodyBytes: Int

    public init(
        attempts: Int, perTryTimeout: TimeAmount? = nil, backoff: TimeAmount = .milliseconds(25),
        retryOnStatuses: Set<UInt> = [502, 503, 504], retryNonIdempotent: Bool = false, maxReplayBodyBytes: Int = 64 << 10
    ) {
        self.attempts = attempts
        self.perTryTimeout = perTryTimeout
        self.backoff = backoff
        self.retryOnStatuses = retryOnStatuses
        self.retryNonIdempotent = retryNonIdempotent
        self.maxReplayBodyBytes = maxReplayBodyBytes
    }
}
