public import JesterManifest
import JWTKit
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `jwt-auth`: requires a valid JSON Web Token (JWS compact form).
///
/// Keys: an HMAC `secret` (or `secret_env`, the name of an environment variable) for HS256/384/512,
/// or a JSON Web Key Set for RS*, PS* and ES*: a local `jwks_file`, or a `jwks_url` fetched when the
/// filter is made, again after `jwks_cache_ttl` (in the background, the old keys serving meanwhile),
/// and when a token names an unknown `kid` (at most once per `jwks_refetch_interval`). Requests that
/// arrive before the first key set wait for it.
///
/// A fetched key set survives a config reload when the route keeps its name, the entry its place,
/// and `jwks_url` and `algorithms` are unchanged: no refetch, and an issuer that is down during the
/// reload does not matter. A changed `jwks_cache_ttl`, `jwks_refetch_interval` or `jwks_timeout`
/// applies to the kept set (its age is measured from when it was fetched). A `jwks_file` is read
/// again on every reload, so a changed file takes effect.
///
/// The token's `alg` must be one of `algorithms` and match its key; `exp` (required unless
/// `require_exp = false`) and `nbf` are checked with `leeway`, then `issuer` and `audience` when set.
/// The token comes from `Authorization: Bearer`, or from the configured `header`, `query` parameter
/// or `cookie` (tried in that order). A request without a token, or with a bad one, gets 401 with
/// `WWW-Authenticate: Bearer` (and `error="invalid_token"` for a bad one); a key set that cannot be
/// fetched is a filter failure (503). `claims_to_headers` copies claims into request headers (strings
/// as they are, other values as JSON); a client's own copies of those headers are always removed.
///
/// Verification is synchronous on the event loop: jwt-kit turns the keys into verifiers once, when
/// they are loaded, and each request only checks a signature (microseconds for HMAC and ECDSA/RSA
/// public keys) and reads the claims.
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "jwt-auth"
/// config = { jwks_url = "https://login.example.com/.well-known/jwks.json", issuer = "https://login.example.com/", audience = "api", claims_to_headers = { sub = "x-user" } }
/// ```
public struct JWTAuthFilter: BuiltinFilter {
    public static let name = "jwt-auth"
    public static let summary = "Require a valid JWT (HMAC secret or JWKS keys), check its claims and pass some on as headers."

    static let hmacAlgorithms = ["HS256", "HS384", "HS512"]
    static let publicKeyAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

    private static let stringOrList: JSONValue = [
        "anyOf": [["type": "string", "minLength": 1], ["type": "array", "items": ["type": "string", "minLength": 1], "minItems": 1]],
    ]

    public static let configSchema: JSONValue = [
        "type": "object",
        "description": "Exactly one key source: secret, secret_env, jwks_file or jwks_url.",
        "properties": [
            "secret": ["type": "string", "minLength": 1, "description": "The HMAC key (HS256/384/512)."],
            "secret_env": ["type": "string", "minLength": 1, "description": "An environment variable that holds the HMAC key."],
            "secret_encoding": ["enum": ["utf8", "base64"], "default": "utf8", "description": "How the secret is written: text, or base64/base64url bytes."],
            "jwks_file": ["type": "string", "minLength": 1, "description": "A JSON Web Key Set file, relative to the config file."],
            "jwks_url": ["type": "string", "minLength": 1, "description": "An http(s) URL of a JSON Web Key Set."],
            "jwks_cache_ttl": FilterSupport.durationSchema("How long a fetched key set is used before it is fetched again.", default: "10m"),
            "jwks_refetch_interval": FilterSupport.durationSchema("The least time between fetches caused by an unknown kid or a failed fetch.", default: "30s"),
            "jwks_timeout": FilterSupport.durationSchema("The most a key set fetch may take.", default: "5s"),
            "algorithms": [
                "type": "array", "items": ["enum": .array((hmacAlgorithms + publicKeyAlgorithms).map { .string($0) })], "minItems": 1, "uniqueItems": true,
                "description": "Accepted alg values (default: HS256 with a secret, RS256 and ES256 with a key set).",
            ],
            "issuer": stringOrList,
            "audience": stringOrList,
            "leeway": FilterSupport.durationSchema("Clock skew allowed when checking exp and nbf.", default: "30s"),
            "require_exp": ["type": "boolean", "default": true, "description": "Refuse tokens without an exp claim."],
            "header": ["type": "string", "minLength": 1, "description": "A header that carries the token (\"Bearer \" is optional)."],
            "query": ["type": "string", "minLength": 1, "description": "A query parameter that carries the token."],
            "cookie": ["type": "string", "minLength": 1, "description": "A cookie that carries the token."],
            "claims_to_headers": [
                "type": "object", "additionalProperties": ["type": "string", "minLength": 1],
                "description": "Claims copied to request headers: { sub = \"x-user\" }.",
            ],
            "realm": ["type": "string", "minLength": 1, "description": "The realm in WWW-Authenticate."],
        ],
        "additionalProperties": false,
    ]

    /// Where the token is looked for, in order.
    enum TokenSource: Sendable, Equatable {
        /// `Authorization: Bearer <token>`.
        case bearer
        /// A header's value, with an optional `Bearer ` prefix.
        case header(String)
        case query(String)
        case cookie(String)
    }

    let sources: [TokenSource]
    let algorithms: Set<String>
    let issuers: [String]?
    let audiences: [String]?
    let leeway: Double
    let requireExp: Bool
    let claimHeaders: [(claim: String, header: String)]
    let realm: String?
    let keys: JWTKeys
    /// Seconds since the epoch; replaced in tests.
    var now: @Sendable () -> Double = FilterSupport.wallClock

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        let given = ["secret", "secret_env", "jwks_file", "jwks_url"].filter { config[$0] != nil }
        guard given.count == 1 else {
            throw FilterConfigError(
                "$", given.isEmpty ? "has no key source" : "has more than one key source (\(given.joined(separator: ", ")))",
                fix: "Set exactly one of secret, secret_env, jwks_file and jwks_url"
            )
        }
        let usesSecret = given[0] == "secret" || given[0] == "secret_env"

        // Algorithms.
        if let list = config["algorithms"]?.arrayValue {
            var algorithms = Set<String>()
            for (index, value) in list.enumerated() {
                let alg = value.stringValue ?? ""
                if usesSecret != Self.hmacAlgorithms.contains(alg) {
                    throw FilterConfigError(
                        "$.algorithms[\(index)]", usesSecret ? "\(alg) needs a key set, not a secret" : "\(alg) needs a secret, not a key set",
                        fix: usesSecret ? "With a secret, use HS256, HS384 or HS512" : "With jwks_file or jwks_url, use RS*, PS* or ES* algorithms"
                    )
                }
                algorithms.insert(alg)
            }
            self.algorithms = algorithms
        } else {
            algorithms = usesSecret ? ["HS256"] : ["RS256", "ES256"]
        }

        // Claims.
        func strings(_ key: String) -> [String]? {
            guard let value = config[key] else { return nil }
            if let text = value.stringValue { return [text] }
            return value.arrayValue?.compactMap(\.stringValue)
        }
        issuers = strings("issuer")
        audiences = strings("audience")
        leeway = Double(try FilterSupport.duration(config["leeway"], path: "$.leeway", allowZero: true)?.nanoseconds ?? 30_000_000_000) / 1e9
        requireExp = config["require_exp"]?.boolValue ?? true
        var claimHeaders: [(String, String)] = []
        for member in config["claims_to_headers"]?.objectValue ?? [] {
            let header = try FilterSupport.headerName(member.value.stringValue ?? "", path: "$.claims_to_headers.\(member.key)")
            claimHeaders.append((member.key, header))
        }
        self.claimHeaders = claimHeaders
        if let realm = config["realm"]?.stringValue {
            guard realm.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) else {
                throw FilterConfigError("$.realm", "a realm cannot hold quotes, backslashes or control characters")
            }
            self.realm = realm
        } else {
            realm = nil
        }

        // Token sources.
        var sources: [TokenSource] = []
        if let header = config["header"]?.stringValue {
            let name = try FilterSupport.headerName(header, path: "$.header")
            sources.append(name == "authorization" ? .bearer : .header(name))
        }
        if let query = config["query"]?.stringValue { sources.append(.query(query)) }
        if let cookie = config["cookie"]?.stringValue {
            guard HeaderNames.isToken(cookie) else { throw FilterConfigError("$.cookie", "\"\(cookie)\" is not a cookie name") }
            sources.append(.cookie(cookie))
        }
        self.sources = sources.isEmpty ? [.bearer] : sources

        // Keys.
        let refetch = try FilterSupport.duration(config["jwks_refetch_interval"], path: "$.jwks_refetch_interval") ?? .seconds(30)
        let source: JWTKeyStore.Source
        switch given[0] {
        case "secret", "secret_env":
            let text: String
            if let secret = config["secret"]?.stringValue {
                text = secret
            } else {
                let variable = config["secret_env"]?.stringValue ?? ""
                guard let value = getenv(variable) else {
                    throw FilterConfigError("$.secret_env", "the environment variable \(variable) is not set", fix: "Export \(variable) before starting the gateway")
                }
                text = String(cString: value)
            }
            let path = config["secret"] != nil ? "$.secret" : "$.secret_env"
            let bytes: [UInt8]
            if config["secret_encoding"]?.stringValue == "base64" {
                guard let decoded = FilterSupport.base64Decode(text.utf8) else { throw FilterConfigError(path, "the secret is not valid base64") }
                bytes = decoded
            } else {
                bytes = Array(text.utf8)
            }
            // jwt-kit (and RFC 7518 §3.2) want a key at least as long as the hash.
            let needed = algorithms.map { $0 == "HS512" ? 64 : ($0 == "HS384" ? 48 : 32) }.max() ?? 32
            guard bytes.count >= needed else {
                throw FilterConfigError(
                    path, "the secret is \(bytes.count) bytes; \(algorithms.sorted().joined(separator: ", ")) needs at least \(needed)",
                    fix: "Use a random secret of at least \(needed) bytes, for example from `openssl rand -base64 \(needed)` with secret_encoding = \"base64\""
                )
            }
            source = .keys(algorithms.sorted().map { .hmac(secret: bytes, alg: $0) })
        case "jwks_file":
            let file = FilterSupport.resolve(config["jwks_file"]?.stringValue ?? "", in: setup.directory)
            let bytes: [UInt8]
            switch FilterSupport.readFile(file, limit: 1 << 20) {
            case .success(let read): bytes = read
            case .failure(let problem): throw FilterConfigError("$.jwks_file", problem.message)
            }
            let parsed = JWTKeyStore.specs(fromJWKS: bytes, algorithms: algorithms)
            if let problem = parsed.problems.first, parsed.specs.isEmpty || parsed.fatal {
                throw FilterConfigError("$.jwks_file", "\(file): \(problem)", fix: "A key set is {\"keys\": [{\"kty\": \"RSA\", \"kid\": …, \"n\": …, \"e\": …}, …]}")
            }
            guard !parsed.specs.isEmpty else {
                throw FilterConfigError("$.jwks_file", "\(file) holds no key for \(algorithms.sorted().joined(separator: ", "))")
            }
            for problem in parsed.problems { setup.logger.warning("jwt-auth: \(file): \(problem)") }
            source = .keys(parsed.specs)
        case "jwks_url":
            let url = config["jwks_url"]?.stringValue ?? ""
            guard let location = JWKSFetcher.Location(url) else {
                throw FilterConfigError("$.jwks_url", "\"\(url)\" is not an http or https URL", fix: "Write it as https://host/path")
            }
            let fetcher: JWKSFetcher
            do {
                fetcher = try JWKSFetcher(location: location, timeout: try FilterSupport.duration(config["jwks_timeout"], path: "$.jwks_timeout") ?? .seconds(5))
            } catch let error as FilterConfigError {
                throw error
            } catch {
                throw FilterConfigError("$.jwks_url", "cannot set up TLS: \(error)")
            }
            let ttl = try FilterSupport.duration(config["jwks_cache_ttl"], path: "$.jwks_cache_ttl") ?? .minutes(10)
            // The fetched set is kept across reloads for the same URL and algorithms (which keys of
            // the set are used); the fetch settings are this config's and apply to the kept set.
            var made = false
            let accepted = algorithms
            let store = setup.state(key: KeySetIdentity(url: url, algorithms: accepted.sorted())) {
                made = true
                return JWTKeyStore(algorithms: accepted, group: setup.eventLoopGroup, logger: setup.logger)
            }
            let keys = JWTKeys(store: store, source: .remote(fetcher, ttl: ttl), refetchInterval: refetch)
            self.keys = keys
            // A new set is fetched once the route serves, not for a check or a reload that fails.
            if made { setup.whenServing { keys.store.loadUnlessTried(keys.source) } }
            return
        default:
            throw FilterConfigError("$", "has no key source")
        }
        // A secret or a file: loaded afresh with every config.
        keys = JWTKeys(
            store: JWTKeyStore(algorithms: algorithms, group: setup.eventLoopGroup, logger: setup.logger), source: source, refetchInterval: refetch)
        keys.load()
    }

    /// What a kept key set is for: the same URL and the same usable algorithms.
    struct KeySetIdentity: Hashable, Sendable {
        var url: String
        var algorithms: [String]
    }

    // MARK: Request phase

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        for (_, header) in claimHeaders { exchange.requestHeaders.remove(name: header) }
        guard let token = token(in: exchange) else { return challenge(nil) }
        let parsed: ParsedToken
        switch ParsedToken.parse(token) {
        case .success(let token): parsed = token
        case .failure(let rejection): return challenge(rejection.reason)
        }
        guard algorithms.contains(parsed.alg) else { return challenge("the token's alg is not accepted") }
        return verify(parsed, exchange, mayRefetch: true)
    }

    /// Checks the token against the keys, waiting for them (or for a fetch a new `kid` calls for)
    /// when needed.
    func verify(_ token: ParsedToken, _ exchange: FilterExchange, mayRefetch: Bool) -> FilterVerdict {
        switch keys.lookup(kid: token.kid, alg: token.alg, mayRefetch: mayRefetch, on: exchange.eventLoop) {
        case .keys(let candidates):
            guard !candidates.isEmpty else { return challenge("no key matches the token's kid and alg") }
            return check(token, candidates, exchange)
        case .unavailable(let reason):
            return .failed(FilterFailure("jwt-auth: no keys to check tokens with: \(reason)", unavailable: true))
        case .wait(let ready):
            return .later(
                ready.assumeIsolated().map { () -> FilterVerdict in
                    let verdict = self.verify(token, exchange, mayRefetch: false)
                    if case .later = verdict { return .failed(FilterFailure("jwt-auth: keys still loading")) }
                    return verdict
                }.nonisolated()
            )
        }
    }

    func check(_ token: ParsedToken, _ candidates: [JWTKeyStore.Verifier], _ exchange: FilterExchange) -> FilterVerdict {
        let signed = candidates.contains { verifier in
            (try? verifier.algorithm.verify(token.signature, signs: token.signingInput)) ?? false
        }
        guard signed else { return challenge("the signature does not verify") }
        if let reason = claimProblem(token.payload, now: now()) { return challenge(reason) }
        for (claim, header) in claimHeaders {
            guard let value = token.payload[claim] else { continue }
            let text: String
            switch value {
            case .string(let string): text = string
            case .null: continue
            default: text = value.serialized()
            }
            if HeaderNames.isValue(text), text.utf8.count <= 8192 { exchange.requestHeaders.add(name: header, value: text) }
        }
        return .proceed
    }

    /// Why the claims are not acceptable at `now`, or nil.
    func claimProblem(_ payload: JSONValue, now: Double) -> String? {
        if let exp = payload["exp"] {
            guard let seconds = exp.doubleValue else { return "the exp claim is not a number" }
            if now > seconds + leeway { return "the token has expired" }
        } else if requireExp {
            return "the token has no exp claim"
        }
        if let nbf = payload["nbf"] {
            guard let seconds = nbf.doubleValue else { return "the nbf claim is not a number" }
            if now + leeway < seconds { return "the token is not valid yet" }
        }
        if let issuers {
            guard let issuer = payload["iss"]?.stringValue, issuers.contains(issuer) else { return "the token's issuer is not accepted" }
        }
        if let audiences {
            let values: [String]
            switch payload["aud"] {
            case .string(let one)?: values = [one]
            case .array(let list)?: values = list.compactMap(\.stringValue)
            default: values = []
            }
            guard values.contains(where: audiences.contains) else { return "the token's audience is not accepted" }
        }
        return nil
    }

    /// The 401 answer; `reason` is nil when no token was sent.
    func challenge(_ reason: String?) -> FilterVerdict {
        var parameters: [String] = []
        if let realm { parameters.append("realm=\"\(realm)\"") }
        if let reason {
            parameters.append("error=\"invalid_token\"")
            parameters.append("error_description=\"\(reason)\"")
        }
        var headers = HTTPHeaders()
        headers.add(name: "www-authenticate", value: parameters.isEmpty ? "Bearer" : "Bearer " + parameters.joined(separator: ", "))
        return .respond(.text(.unauthorized, "Unauthorized", headers: headers))
    }

    /// The token the request carries, from the first source that has one.
    func token(in exchange: FilterExchange) -> String? {
        for source in sources {
            switch source {
            case .bearer:
                let values = exchange.requestHeaders["authorization"]
                guard values.count == 1 else { continue }
                let value = values[0].strippingSpaces()
                if value.hasCaseInsensitivePrefix("bearer ") {
                    let token = value.dropFirst(7).strippingSpaces()
                    if !token.isEmpty { return String(token) }
                }
            case .header(let name):
                guard let value = exchange.requestHeaders.first(name: name)?.strippingSpaces(), !value.isEmpty else { continue }
                return String(value.hasCaseInsensitivePrefix("bearer ") ? value.dropFirst(7).strippingSpaces() : value)
            case .query(let name):
                guard let query = exchange.query else { continue }
                for pair in query.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    if parts.count == 2, parts[0] == name, !parts[1].isEmpty { return String(parts[1]) }
                }
            case .cookie(let name):
                for header in exchange.requestHeaders["cookie"] {
                    for pair in header.split(separator: ";") {
                        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                        if parts.count == 2, parts[0].strippingSpaces() == name {
                            var value = parts[1].strippingSpaces()
                            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
                            if !value.isEmpty { return String(value) }
                        }
                    }
                }
            }
        }
        return nil
    }
}

/// A JWS in compact form, split and decoded but not verified.
struct ParsedToken: Sendable {
    var alg: String
    var kid: String?
    var payload: JSONValue
    /// `header.payload` as sent: what the signature signs.
    var signingInput: ArraySlice<UInt8>
    var signature: [UInt8]

    struct Rejection: Error {
        var reason: String
    }

    /// The longest token accepted.
    static let maxBytes = 16 << 10

    static func parse(_ token: String) -> Result<ParsedToken, Rejection> {
        let bytes = Array(token.utf8)
        guard bytes.count <= maxBytes else { return .failure(Rejection(reason: "the token is too long")) }
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2 else { return .failure(Rejection(reason: "the token is not a signed JWT")) }
        guard let headerBytes = FilterSupport.base64Decode(bytes[..<dots[0]]),
            let payloadBytes = FilterSupport.base64Decode(bytes[(dots[0] + 1)..<dots[1]]),
            let signature = FilterSupport.base64Decode(bytes[(dots[1] + 1)...])
        else { return .failure(Rejection(reason: "the token is not valid base64url")) }
        guard let header = try? JSONValue.parse(bytes: headerBytes, maxDepth: 8), case .object = header else {
            return .failure(Rejection(reason: "the token's header is not a JSON object"))
        }
        guard let payload = try? JSONValue.parse(bytes: payloadBytes, maxDepth: 32), case .object = payload else {
            return .failure(Rejection(reason: "the token's payload is not a JSON object"))
        }
        guard let alg = header["alg"]?.stringValue else { return .failure(Rejection(reason: "the token has no alg")) }
        // Extensions the verifier must understand (RFC 7515 §4.1.11): none are.
        guard header["crit"] == nil else { return .failure(Rejection(reason: "the token has critical extensions")) }
        let kid: String?
        switch header["kid"] {
        case nil: kid = nil
        case .string(let value)?: kid = value
        default: return .failure(Rejection(reason: "the token's kid is not a string"))
        }
        guard !signature.isEmpty else { return .failure(Rejection(reason: "the token is not signed")) }
        return .success(ParsedToken(alg: alg, kid: kid, payload: payload, signingInput: bytes[..<dots[1]], signature: signature))
    }
}

/// One `jwt-auth` filter's keys: its store (for a `jwks_url`, kept across reloads) used with this
/// config's source and refetch interval.
struct JWTKeys: Sendable {
    let store: JWTKeyStore
    let source: JWTKeyStore.Source
    let refetchInterval: TimeAmount

    /// The verifiers for a token's `kid` and `alg`, or a future to wait on, or why there are none.
    func lookup(kid: String?, alg: String, mayRefetch: Bool, on loop: any EventLoop) -> JWTKeyStore.Lookup {
        store.lookup(kid: kid, alg: alg, mayRefetch: mayRefetch, on: loop, source: source, refetchInterval: refetchInterval)
    }

    /// Starts loading the keys unless a load is under way.
    func load() { store.load(source) }

    /// Waits until no load is under way (for tests).
    func loaded() async { await store.loaded() }

    /// Whether keys are loaded.
    var isLoaded: Bool { store.isLoaded }
}

/// The keys of a `jwt-auth` filter: loaded once (a secret, a file) or fetched and refreshed (a
/// URL), turned into jwt-kit verifiers off the event loop, and read by every request under a lock.
/// How they are loaded and when a fetched set is stale comes with each call, from the filter using
/// the store, so that a reload changing only those settings keeps the store and its keys.
final class JWTKeyStore: Sendable {
    /// A key as configured or found in a key set, before jwt-kit made a verifier of it.
    enum KeySpec: Sendable, Equatable {
        case hmac(secret: [UInt8], alg: String)
        case rsa(kid: String?, n: String, e: String, alg: String)
        case ec(kid: String?, x: String, y: String, alg: String)

        var kid: String? {
            switch self {
            case .hmac: nil
            case .rsa(let kid, _, _, _), .ec(let kid, _, _, _): kid
            }
        }

        var alg: String {
            switch self {
            case .hmac(_, let alg), .rsa(_, _, _, let alg), .ec(_, _, _, let alg): alg
            }
        }
    }

    /// A key ready to check signatures.
    struct Verifier: Sendable {
        var kid: String?
        var alg: String
        var algorithm: any JWTAlgorithm
    }

    struct KeySet: Sendable {
        var byKid: [String: [Verifier]] = [:]
        var all: [Verifier] = []
        /// An HMAC secret: the token's kid does not matter.
        var ignoresKid = false
    }

    enum Source: Sendable {
        case keys([KeySpec])
        case remote(JWKSFetcher, ttl: TimeAmount)
    }

    enum Lookup {
        case keys([Verifier])
        case wait(EventLoopFuture<Void>)
        case unavailable(String)
    }

    struct State {
        var keys: KeySet?
        var loading: Task<Void, Never>?
        var waiters: [EventLoopPromise<Void>] = []
        var lastAttempt: NIODeadline?
        /// When the keys were fetched (a remote set).
        var fetchedAt: NIODeadline?
        var lastError: String?
    }

    let algorithms: Set<String>
    let group: any EventLoopGroup
    let logger: Logger
    private let state = Mutex(State())

    init(algorithms: Set<String>, group: any EventLoopGroup, logger: Logger) {
        self.algorithms = algorithms
        self.group = group
        self.logger = logger
    }

    /// The verifiers for a token's `kid` and `alg`, or a future to wait on, or why there are none.
    /// A fetch it starts loads from `source`; fetches it asks for are at least `refetchInterval` apart.
    func lookup(kid: String?, alg: String, mayRefetch: Bool, on loop: any EventLoop, source: Source, refetchInterval: TimeAmount) -> Lookup {
        let now = NIODeadline.now()
        enum Step {
            case found([Verifier], refresh: Bool)
            case wait(EventLoopFuture<Void>, start: Bool)
            case unavailable(String)
        }
        let step: Step = state.withLock { state in
            if let keys = state.keys {
                let ttl: TimeAmount?
                if case .remote(_, let cacheTTL) = source { ttl = cacheTTL } else { ttl = nil }
                let isRemote = ttl != nil
                // Refresh an expired set in the background; the old keys serve meanwhile.
                let expired = ttl.flatMap { ttl in state.fetchedAt.map { now >= $0 + ttl } } ?? false
                let refresh = isRemote && state.loading == nil && expired && canRetry(state, now, refetchInterval)
                let candidates: [Verifier]
                if keys.ignoresKid {
                    candidates = keys.all.filter { $0.alg == alg }
                } else if let kid {
                    guard let known = keys.byKid[kid] else {
                        // An unknown kid may be a new key: fetch the set again, once in a while.
                        if isRemote, mayRefetch, state.loading != nil || canRetry(state, now, refetchInterval) {
                            let promise = loop.makePromise(of: Void.self)
                            state.waiters.append(promise)
                            return .wait(promise.futureResult, start: state.loading == nil)
                        }
                        return .found([], refresh: false)
                    }
                    candidates = known.filter { $0.alg == alg }
                } else {
                    candidates = keys.all.filter { $0.alg == alg }
                }
                return .found(candidates, refresh: refresh)
            }
            // No keys yet: wait for the load under way, or start one when the last failed long enough ago.
            if state.loading != nil || (mayRefetch && canRetry(state, now, refetchInterval)) {
                let promise = loop.makePromise(of: Void.self)
                state.waiters.append(promise)
                return .wait(promise.futureResult, start: state.loading == nil)
            }
            return .unavailable(state.lastError ?? "the keys are not loaded")
        }
        switch step {
        case .found(let verifiers, let refresh):
            if refresh { load(source) }
            return .keys(verifiers)
        case .wait(let future, let start):
            if start { load(source) }
            return .wait(future)
        case .unavailable(let reason):
            return .unavailable(reason)
        }
    }

    private func canRetry(_ state: State, _ now: NIODeadline, _ refetchInterval: TimeAmount) -> Bool {
        guard let last = state.lastAttempt else { return true }
        return now - last >= refetchInterval
    }

    /// Starts loading the keys from `source` unless a load is under way.
    func load(_ source: Source) { load(source, unlessTried: false) }

    /// Starts the first load, unless a request already started one.
    func loadUnlessTried(_ source: Source) { load(source, unlessTried: true) }

    private func load(_ source: Source, unlessTried: Bool) {
        state.withLock { state in
            guard state.loading == nil, !unlessTried || state.lastAttempt == nil else { return }
            state.lastAttempt = .now()
            state.loading = Task { await self.runLoad(source) }
        }
    }

    /// Waits until no load is under way (for tests).
    func loaded() async {
        while let task = state.withLock({ $0.loading }) {
            await task.value
        }
    }

    /// Whether keys are loaded.
    var isLoaded: Bool { state.withLock { $0.keys != nil } }

    private func runLoad(_ source: Source) async {
        var result: Result<(KeySet, [String]), JWKSFetcher.Failure>
        let remote: Bool
        switch source {
        case .keys(let specs):
            remote = false
            result = .success(await Self.verifiers(for: specs))
        case .remote(let fetcher, _):
            remote = true
            do {
                let body = try await fetcher.fetch(on: group.next()).get()
                let parsed = Self.specs(fromJWKS: body, algorithms: algorithms)
                if parsed.specs.isEmpty {
                    result = .failure(JWKSFetcher.Failure(description: "the key set from \(fetcher.location.hostHeader) holds no usable key: \(parsed.problems.joined(separator: "; "))"))
                } else {
                    let (keys, problems) = await Self.verifiers(for: parsed.specs)
                    result = .success((keys, parsed.problems + problems))
                }
            } catch let failure as JWKSFetcher.Failure {
                result = .failure(failure)
            } catch {
                result = .failure(JWKSFetcher.Failure(description: "\(error)"))
            }
        }
        if case .success(let (keys, _)) = result, keys.all.isEmpty {
            result = .failure(JWKSFetcher.Failure(description: "no key could be loaded"))
        }
        switch result {
        case .success(let (_, problems)):
            for problem in problems { logger.warning("jwt-auth: skipped a key: \(problem)") }
        case .failure(let failure):
            logger.error("jwt-auth: cannot load keys: \(failure.description)")
        }
        let waiters: [EventLoopPromise<Void>] = state.withLock { state in
            switch result {
            case .success(let (keys, _)):
                state.keys = keys
                state.lastError = nil
                state.fetchedAt = remote ? .now() : nil
            case .failure(let failure):
                state.lastError = failure.description
            }
            state.loading = nil
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.succeed() }
    }

    // MARK: Keys

    /// Makes verifiers of `specs` with jwt-kit; keys it refuses are reported, not fatal.
    static func verifiers(for specs: [KeySpec]) async -> (KeySet, [String]) {
        var set = KeySet()
        var problems: [String] = []
        for spec in specs {
            do {
                let collection = JWTKeyCollection()
                let kid = JWKIdentifier(string: spec.kid ?? "jester-unnamed")
                switch spec {
                case .hmac(let secret, let alg):
                    let digest: DigestAlgorithm = alg == "HS512" ? .sha512 : (alg == "HS384" ? .sha384 : .sha256)
                    await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: digest, kid: kid)
                    set.ignoresKid = true
                case .rsa(_, let n, let e, let alg):
                    try await collection.add(jwk: .rsa(JWK.Algorithm(rawValue: alg), identifier: kid, modulus: n, exponent: e))
                case .ec(_, let x, let y, let alg):
                    let curve: ECDSACurve = alg == "ES512" ? .p521 : (alg == "ES384" ? .p384 : .p256)
                    try await collection.add(jwk: .ecdsa(JWK.Algorithm(rawValue: alg), identifier: kid, x: x, y: y, curve: curve))
                }
                let algorithm = try await collection.getKey(for: kid, alg: spec.alg)
                guard algorithm.name == spec.alg else {
                    problems.append("key \(spec.kid ?? "without kid"): jwt-kit made a \(algorithm.name) key for \(spec.alg)")
                    continue
                }
                let verifier = Verifier(kid: spec.kid, alg: spec.alg, algorithm: algorithm)
                set.all.append(verifier)
                if let kid = spec.kid { set.byKid[kid, default: []].append(verifier) }
            } catch {
                problems.append("key \(spec.kid ?? "without kid") (\(spec.alg)): \(error)")
            }
        }
        return (set, problems)
    }

    /// The keys of a JSON Web Key Set usable with `algorithms`; `fatal` when the set itself is malformed.
    static func specs(fromJWKS bytes: [UInt8], algorithms: Set<String>) -> (specs: [KeySpec], problems: [String], fatal: Bool) {
        guard let json = try? JSONValue.parse(bytes: bytes, maxDepth: 16) else { return ([], ["not valid JSON"], true) }
        guard let keys = json["keys"]?.arrayValue else { return ([], ["no \"keys\" array"], true) }
        var specs: [KeySpec] = []
        var problems: [String] = []
        for (index, key) in keys.enumerated() {
            let kid = key["kid"]?.stringValue
            let label = "key \(index)" + (kid.map { " (kid \($0))" } ?? "")
            if let use = key["use"]?.stringValue, use != "sig" { continue }
            let declared = key["alg"]?.stringValue
            if let declared, !algorithms.contains(declared) { continue }
            switch key["kty"]?.stringValue {
            case "RSA":
                guard let n = key["n"]?.stringValue, let e = key["e"]?.stringValue else {
                    problems.append("\(label): an RSA key needs n and e")
                    continue
                }
                let candidates = declared.map { [$0] } ?? ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
                for alg in candidates where algorithms.contains(alg) && (alg.hasPrefix("RS") || alg.hasPrefix("PS")) {
                    specs.append(.rsa(kid: kid, n: n, e: e, alg: alg))
                }
            case "EC":
                guard let x = key["x"]?.stringValue, let y = key["y"]?.stringValue, let curve = key["crv"]?.stringValue else {
                    problems.append("\(label): an EC key needs crv, x and y")
                    continue
                }
                let alg: String
                switch curve {
                case "P-256": alg = "ES256"
                case "P-384": alg = "ES384"
                case "P-521": alg = "ES512"
                default:
                    problems.append("\(label): curve \(curve) is not supported")
                    continue
                }
                guard declared == nil || declared == alg else {
                    problems.append("\(label): alg \(declared ?? "") does not fit curve \(curve)")
                    continue
                }
                if algorithms.contains(alg) { specs.append(.ec(kid: kid, x: x, y: y, alg: alg)) }
            case let kty?:
                problems.append("\(label): key type \(kty) is not supported")
            case nil:
                problems.append("\(label): no kty")
            }
        }
        return (specs, problems, false)
    }
}
