public import JesterManifest
import NIOHTTP1

/// `headers`: sets, adds and removes request headers (before the upstream) and response headers
/// (before the client).
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "headers"
/// config = { request = { set = { x-env = "prod" }, remove = ["x-debug"] }, response = { add = { x-served-by = "jester" } } }
/// ```
public struct HeadersFilter: BuiltinFilter {
    public static let name = "headers"
    public static let summary = "Set, add and remove request and response headers."

    private static let edits: JSONValue = [
        "type": "object",
        "description": "Edits applied in order: remove, then set (replacing every value), then add.",
        "properties": [
            "set": ["type": "object", "additionalProperties": ["type": "string"], "description": "Headers to set, replacing any value they had."],
            "add": ["type": "object", "additionalProperties": ["type": "string"], "description": "Headers to add, keeping values they had."],
            "remove": ["type": "array", "items": ["type": "string", "minLength": 1], "description": "Header names to remove."],
        ],
        "additionalProperties": false,
    ]

    public static let configSchema: JSONValue = [
        "type": "object",
        "properties": ["request": edits, "response": edits],
        "additionalProperties": false,
    ]

    struct Edits: Sendable {
        var remove: [String] = []
        var set: [(String, String)] = []
        var add: [(String, String)] = []

        var isEmpty: Bool { remove.isEmpty && set.isEmpty && add.isEmpty }

        init(_ config: JSONValue?, path: String) throws(FilterConfigError) {
            guard let config else { return }
            for (index, name) in (config["remove"]?.arrayValue ?? []).enumerated() {
                let text = name.stringValue ?? ""
                try Self.checkName(text, path: "\(path).remove[\(index)]")
                remove.append(text)
            }
            for (key, list) in [("set", \Edits.set), ("add", \Edits.add)] as [(String, WritableKeyPath<Edits, [(String, String)]>)] {
                for member in config[key]?.objectValue ?? [] {
                    let value = member.value.stringValue ?? ""
                    try Self.checkName(member.key, path: "\(path).\(key).\(member.key)")
                    guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                        throw FilterConfigError("\(path).\(key).\(member.key)", "the value holds a line break or NUL", fix: "Header values are one line")
                    }
                    self[keyPath: list].append((member.key, value))
                }
            }
        }

        private static func checkName(_ name: String, path: String) throws(FilterConfigError) {
            guard HeaderNames.isToken(name) else {
                throw FilterConfigError(path, "\"\(name)\" is not a header name", fix: "Header names are letters, digits and !#$%&'*+-.^_`|~")
            }
        }

        func apply(to headers: inout HTTPHeaders) {
            for name in remove { headers.remove(name: name) }
            for (name, value) in set { headers.replaceOrAdd(name: name, value: value) }
            for (name, value) in add { headers.add(name: name, value: value) }
        }
    }

    let request: Edits
    let response: Edits

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        request = try Edits(config["request"], path: "$.request")
        response = try Edits(config["response"], path: "$.response")
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        if !request.isEmpty { request.apply(to: &exchange.requestHeaders) }
        return .proceed
    }

    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        if !response.isEmpty { response.apply(to: &exchange.responseHeaders) }
        return .proceed
    }
}
