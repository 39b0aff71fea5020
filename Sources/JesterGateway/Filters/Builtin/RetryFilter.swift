public import JesterManifest
import NIOCore
import NIOHTTP1

/// `retry`: retries a failed upstream attempt (``FilterExchange/retryPolicy``).
///
/// An attempt fails when the upstream cannot be connected to (always retried, the request never
/// left) or answers with one of `retry_on`. Methods that are not idempotent (POST, PATCH, …) are
/// retried after a failed response only with `retry_non_idempotent`. With `methods`, requests of
/// other methods get no retries at all. A request whose body is larger than
/// `max_replay_body_bytes` is tried once.
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "retry"
/// config = { attempts = 3, per_try_timeout = "2s", backoff = "50ms", retry_on = [502, 503, 504] }
/// ```
public struct RetryFilter: BuiltinFilter {
    public static let name = "retry"
    public static let summary = "Retry upstream attempts that fail to connect or answer with a retryable status."

    static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]

    public static let configSchema: JSONValue = [
        "type": "object",
        "properties": [
            "attempts": ["type": "integer", "minimum": 2, "maximum": 10, "default": 2, "description": "Tries in all, the first included."],
            "per_try_timeout": FilterSupport.durationSchema("The most one try may take until the response head; default: the upstream's response_timeout."),
            "backoff": FilterSupport.durationSchema("The wait before the first retry, doubled for each further one.", default: "25ms"),
            "retry_on": [
                "type": "array", "items": ["type": "integer", "minimum": 400, "maximum": 599], "uniqueItems": true,
                "default": [502, 503, 504], "description": "Response statuses that are retried.",
            ],
            "methods": [
                "type": "array", "items": ["type": "string", "minLength": 1], "uniqueItems": true, "minItems": 1,
                "description": "Only requests with these methods are retried (default: every method, within retry_non_idempotent).",
            ],
            "retry_non_idempotent": ["type": "boolean", "default": false, "description": "Also retry POST, PATCH and other non-idempotent methods after a failed response."],
            "max_replay_body_bytes": [
                "type": ["integer", "string"], "default": 65536, "description": "The largest request body kept for replay: bytes, or a size such as \"64KiB\".",
            ],
        ],
        "additionalProperties": false,
    ]

    let policy: RetryPolicy
    let methods: Set<String>?

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        let retryNonIdempotent = config["retry_non_idempotent"]?.boolValue ?? false
        if let list = config["methods"]?.arrayValue {
            var methods = Set<String>()
            for (index, value) in list.enumerated() {
                let method = (value.stringValue ?? "").uppercased()
                guard HeaderNames.isToken(method) else {
                    throw FilterConfigError("$.methods[\(index)]", "\"\(value.stringValue ?? "")\" is not an HTTP method")
                }
                if !retryNonIdempotent, !Self.idempotentMethods.contains(method) {
                    throw FilterConfigError(
                        "$.methods[\(index)]", "\(method) is not idempotent and retry_non_idempotent is off",
                        fix: "Set retry_non_idempotent = true to retry \(method) requests, or remove it from methods"
                    )
                }
                methods.insert(method)
            }
            self.methods = methods
        } else {
            methods = nil
        }
        let statuses = (config["retry_on"]?.arrayValue ?? [502, 503, 504]).compactMap { $0.integerValue.map { UInt($0) } }
        let maxReplay = try FilterSupport.size(config["max_replay_body_bytes"], path: "$.max_replay_body_bytes") ?? 65536
        policy = RetryPolicy(
            attempts: Int(config["attempts"]?.integerValue ?? 2),
            perTryTimeout: try FilterSupport.duration(config["per_try_timeout"], path: "$.per_try_timeout"),
            backoff: try FilterSupport.duration(config["backoff"], path: "$.backoff", allowZero: true) ?? .milliseconds(25),
            retryOnStatuses: Set(statuses),
            retryNonIdempotent: retryNonIdempotent,
            maxReplayBodyBytes: maxReplay
        )
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        if let methods, !methods.contains(exchange.method.rawValue) { return .proceed }
        exchange.retryPolicy = policy
        return .proceed
    }
}
