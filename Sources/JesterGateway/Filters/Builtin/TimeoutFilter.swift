public import JesterManifest
import NIOCore

/// `timeout`: the most the upstream exchange of a request may take, from the end of the request
/// phase to the last byte of the response (``FilterExchange/upstreamTimeout``). Over it the client
/// gets a 504, or the connection is cut if the response had started. When several entries set it,
/// the shortest wins.
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "timeout"
/// config = { duration = "5s" }     # or { ms = 5000 }
/// ```
public struct TimeoutFilter: BuiltinFilter {
    public static let name = "timeout"
    public static let summary = "Bound the time the upstream may take to answer a request in full."

    /// The longest timeout accepted: a day.
    static let maximumMilliseconds: Int64 = 86_400_000

    public static let configSchema: JSONValue = [
        "type": "object",
        "description": "Exactly one of duration and ms.",
        "properties": [
            "duration": FilterSupport.durationSchema("The timeout: \"250ms\", \"10s\", \"1m\", \"1m30s\"."),
            "ms": ["type": "integer", "minimum": 1, "maximum": .integer(maximumMilliseconds), "description": "The timeout in milliseconds."],
        ],
        "additionalProperties": false,
    ]

    let timeout: TimeAmount

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        let duration = try FilterSupport.duration(config["duration"], path: "$.duration")
        let ms = config["ms"]?.integerValue
        switch (duration, ms) {
        case (let duration?, nil):
            guard duration.nanoseconds <= Self.maximumMilliseconds * 1_000_000 else {
                throw FilterConfigError("$.duration", "must be at most 24h")
            }
            timeout = duration
        case (nil, let ms?):
            timeout = .milliseconds(ms)
        case (nil, nil):
            throw FilterConfigError("$", "needs the timeout", fix: "Set duration = \"5s\" or ms = 5000")
        case (.some, .some):
            throw FilterConfigError("$", "sets both duration and ms", fix: "Keep one of them")
        }
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        // Several timeout entries on one route: the shortest wins.
        exchange.upstreamTimeout = exchange.upstreamTimeout.map { min($0, timeout) } ?? timeout
        return .proceed
    }
}
