public import JesterManifest
import NIOCore
import NIOHTTP1
import Synchronization

/// `rate-limit`: a token bucket per key, local to this gateway process.
///
/// Each key (by default the client's IP address) has a bucket of `burst` tokens that refills at
/// `rps` (or `rpm`) tokens a second; a request takes one token, or gets 429 with `Retry-After`
/// (whole seconds until a token is back, at least 1). `key` combines parts: `"ip"`, `"route"` and
/// `"header:NAME"` (a request without the header counts under an empty value for that part).
///
/// Memory is bounded: a bucket that has refilled completely is forgotten (it is the same as a new
/// one), idle buckets are swept as they refill, and at most `max_keys` buckets are kept; when that
/// many keys are busy at once the least recently used are dropped, which gives them a fresh bucket.
/// The buckets are spread over 16 independently locked shards, and are not shared between gateway
/// processes.
///
/// The buckets survive a config reload as long as the route keeps its name and the entry its
/// `key` (and its place among the route's rate-limit entries): a client cannot get a fresh limit by
/// having the config reloaded. A reload that changes `rps`/`rpm`, `burst` or `max_keys` keeps every
/// bucket with its tokens; they refill at the new rate, never beyond the new burst (a smaller
/// burst cuts fuller buckets down to it), and the new bound applies as buckets are added. A changed
/// `key` means other buckets: they start full.
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "rate-limit"
/// config = { rps = 100, burst = 20, key = ["ip", "header:x-api-key"], headers = true }
/// ```
public struct RateLimitFilter: BuiltinFilter {
    public static let name = "rate-limit"
    public static let summary = "Limit request rates per client IP, route or header with a local token bucket."

    public static let configSchema: JSONValue = [
        "type": "object",
        "description": "Exactly one of rps and rpm.",
        "properties": [
            "rps": ["type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000, "description": "Tokens added per second."],
            "rpm": ["type": "number", "exclusiveMinimum": 0, "maximum": 60_000_000, "description": "Tokens added per minute."],
            "burst": ["type": "integer", "minimum": 1, "maximum": 1_000_000, "description": "The bucket's size: requests allowed at once (default: one second's worth, at least 1)."],
            "key": [
                "type": "array", "items": ["type": "string", "minLength": 1], "minItems": 1, "uniqueItems": true, "default": ["ip"],
                "description": "What a bucket is per: \"ip\", \"route\", \"header:NAME\", combined.",
            ],
            "max_keys": ["type": "integer", "minimum": 16, "maximum": 10_000_000, "default": 100_000, "description": "The most buckets kept."],
            "headers": ["type": "boolean", "default": false, "description": "Add X-RateLimit-Limit and X-RateLimit-Remaining to responses."],
        ],
        "additionalProperties": false,
    ]

    enum KeyPart: Sendable, Hashable {
        case ip
        case route
        case header(String)
    }

    let parts: [KeyPart]
    let limiter: TokenBuckets
    let headers: Bool
    private let limitValue: String

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        let perSecond: Double
        switch (config["rps"]?.doubleValue, config["rpm"]?.doubleValue) {
        case (let rps?, nil): perSecond = rps
        case (nil, let rpm?): perSecond = rpm / 60
        case (nil, nil): throw FilterConfigError("$", "needs a rate", fix: "Set rps = 100 (per second) or rpm = 600 (per minute)")
        case (.some, .some): throw FilterConfigError("$", "sets both rps and rpm", fix: "Keep one of them")
        }
        let burst = Int(config["burst"]?.integerValue ?? Int64(max(1, perSecond.rounded(.up))))
        var parts: [KeyPart] = []
        for (index, value) in (config["key"]?.arrayValue ?? ["ip"]).enumerated() {
            let text = value.stringValue ?? ""
            switch text {
            case "ip": parts.append(.ip)
            case "route": parts.append(.route)
            default:
                guard text.hasPrefix("header:") else {
                    throw FilterConfigError("$.key[\(index)]", "\"\(text)\" is not a key part", fix: "Use \"ip\", \"route\" or \"header:NAME\"")
                }
                parts.append(.header(try FilterSupport.headerName(String(text.dropFirst(7)), path: "$.key[\(index)]")))
            }
        }
        self.parts = parts
        // The buckets are kept across reloads for the same key parts; the rate, burst and bound
        // are this config's and apply to them as they are.
        let shards = setup.state(key: parts) { BucketShards() }
        limiter = TokenBuckets(perSecond: perSecond, burst: burst, maxKeys: Int(config["max_keys"]?.integerValue ?? 100_000), shards: shards)
        headers = config["headers"]?.boolValue ?? false
        limitValue = String(burst)
    }

    /// The bucket key of a request.
    func key(for exchange: FilterExchange) -> String {
        func part(_ part: KeyPart) -> String {
            switch part {
            case .ip: exchange.clientAddress
            case .route: exchange.route
            case .header(let name): exchange.requestHeaders.first(name: name) ?? ""
            }
        }
        if parts.count == 1 { return part(parts[0]) }
        // U+001F cannot appear in an address, a route name or a header value, so the parts stay apart.
        return parts.map(part).joined(separator: "\u{1F}")
    }

    /// The remaining tokens of an admitted request, for the response headers.
    final class Remaining {
        let count: Int
        init(_ count: Int) { self.count = count }
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        let decision = limiter.take(key(for: exchange))
        if let retryAfter = decision.retryAfterSeconds {
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "retry-after", value: String(retryAfter))
            if headers {
                responseHeaders.add(name: "x-ratelimit-limit", value: limitValue)
                responseHeaders.add(name: "x-ratelimit-remaining", value: "0")
            }
            return .respond(.text(.tooManyRequests, "Too Many Requests", headers: responseHeaders))
        }
        if headers { exchange.setState(Remaining(decision.remaining), for: ObjectIdentifier(limiter.shards)) }
        return .proceed
    }

    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        if headers, let remaining = exchange.state(for: ObjectIdentifier(limiter.shards)) as? Remaining {
            exchange.responseHeaders.replaceOrAdd(name: "x-ratelimit-limit", value: limitValue)
            exchange.responseHeaders.replaceOrAdd(name: "x-ratelimit-remaining", value: String(remaining.count))
        }
        return .proceed
    }
}

/// Token buckets by key with one entry's rate, burst and bound. The buckets themselves are in
/// ``BucketShards``, which a reload hands to the new filter; the rate, burst and bound are applied
/// whenever a bucket is used, so a changed config takes effect on the buckets as they are.
struct TokenBuckets: Sendable {
    struct Decision: Equatable {
        /// Whole tokens left after this request.
        var remaining: Int
        /// For a refused request: seconds until a token is back (at least 1).
        var retryAfterSeconds: Int?
    }

    let perNanosecond: Double
    let perSecond: Double
    let burst: Double
    let shardCapacity: Int
    /// How often a shard drops its refilled buckets: the time a bucket takes to refill, at least a
    /// second and at most a minute.
    let sweepInterval: Int64
    let shards: BucketShards

    init(perSecond: Double, burst: Int, maxKeys: Int, shards: BucketShards) {
        self.perSecond = perSecond
        perNanosecond = perSecond / 1e9
        self.burst = Double(burst)
        shardCapacity = max(1, maxKeys / BucketShards.shardCount)
        let refill = Double(burst) / perSecond * 1e9
        sweepInterval = Int64(min(60e9, max(1e9, refill)))
        self.shards = shards
    }

    /// Buckets of their own, on `clock`.
    init(perSecond: Double, burst: Int, maxKeys: Int, clock: @escaping @Sendable () -> Int64 = BucketShards.uptime) {
        self.init(perSecond: perSecond, burst: burst, maxKeys: maxKeys, shards: BucketShards(clock: clock))
    }

    /// Takes a token from `key`'s bucket if it has one.
    func take(_ key: String) -> Decision {
        let now = shards.clock()
        return shards.shard(for: key).mutex.withLock { shard in
            var bucket: BucketShards.Bucket
            if let existing = shard.buckets[key] {
                bucket = existing
                let elapsed = Double(max(0, now - bucket.stamp))
                bucket.tokens = min(burst, bucket.tokens + elapsed * perNanosecond)
            } else {
                if shard.buckets.count >= shardCapacity { makeRoom(in: &shard, now: now) }
                bucket = BucketShards.Bucket(tokens: burst, stamp: now)
            }
            bucket.stamp = now
            let decision: Decision
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                decision = Decision(remaining: Int(bucket.tokens), retryAfterSeconds: nil)
            } else {
                let wait = ((1 - bucket.tokens) / perSecond).rounded(.up)
                decision = Decision(remaining: 0, retryAfterSeconds: max(1, Int(min(wait, 86_400))))
            }
            shard.buckets[key] = bucket
            if now - shard.lastSweep >= sweepInterval {
                sweep(&shard, now: now)
            }
            return decision
        }
    }

    /// Drops the buckets that have refilled completely (at this rate and burst).
    private func sweep(_ shard: inout BucketShards.Shard, now: Int64) {
        shard.lastSweep = now
        shard.buckets = shard.buckets.filter { $0.value.tokens + Double(max(0, now - $0.value.stamp)) * perNanosecond < burst }
    }

    /// Frees room for a new bucket: first the refilled ones, then the least recently used eighth.
    private func makeRoom(in shard: inout BucketShards.Shard, now: Int64) {
        sweep(&shard, now: now)
        guard shard.buckets.count >= shardCapacity else { return }
        let stamps = shard.buckets.values.map(\.stamp).sorted()
        let cutoff = stamps[min(stamps.count - 1, max(0, stamps.count / 8))]
        shard.buckets = shard.buckets.filter { $0.value.stamp > cutoff }
    }

    /// Buckets held, for tests.
    var count: Int { shards.count }
}

/// The token buckets of one rate-limit entry, by key, in shards that lock independently: the state
/// a reload keeps (``FilterSetup/state(key:make:)``). A bucket is its tokens and when they were
/// counted; what refills it and how far is ``TokenBuckets``'.
final class BucketShards: Sendable {
    struct Bucket {
        var tokens: Double
        var stamp: Int64
    }

    struct Shard {
        var buckets: [String: Bucket] = [:]
        var lastSweep: Int64 = 0
    }

    /// One shard behind its own lock (a class: `Mutex` cannot sit in an array).
    final class Locked: Sendable {
        let mutex = Mutex(Shard())
    }

    static let shardCount = 16

    /// Nanoseconds of monotonic time.
    static let uptime: @Sendable () -> Int64 = { Int64(NIODeadline.now().uptimeNanoseconds) }

    let clock: @Sendable () -> Int64
    private let shards: [Locked]

    init(clock: @escaping @Sendable () -> Int64 = BucketShards.uptime) {
        self.clock = clock
        shards = (0..<Self.shardCount).map { _ in Locked() }
    }

    func shard(for key: String) -> Locked {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(Self.shardCount))]
    }

    /// Buckets held.
    var count: Int { shards.reduce(0) { total, shard in total + shard.mutex.withLock { $0.buckets.count } } }
}
