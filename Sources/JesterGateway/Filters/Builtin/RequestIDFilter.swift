public import JesterManifest

/// `request-id`: gives every request an id, passed to the upstream and returned to the client.
///
/// An id the client sent is kept when `trust_incoming` is on and it is well formed (1 to
/// `max_length` characters of letters, digits and `-_.:/+=@~`); otherwise a random one replaces
/// it: a UUID (version 4) or 32 hex digits (`format = "hex"`), both 122 or 128 bits from the
/// system's random source.
///
/// ```toml
/// [[routes.filters]]
/// type = "builtin"
/// name = "request-id"
/// config = { header = "x-request-id", trust_incoming = false, format = "hex" }
/// ```
public struct RequestIDFilter: BuiltinFilter {
    public static let name = "request-id"
    public static let summary = "Keep or assign a request id, sent to the upstream and back to the client."

    public static let configSchema: JSONValue = [
        "type": "object",
        "properties": [
            "header": ["type": "string", "minLength": 1, "default": "x-request-id", "description": "The header that carries the id."],
            "trust_incoming": ["type": "boolean", "default": true, "description": "Keep a well-formed id the client sent."],
            "max_length": ["type": "integer", "minimum": 1, "maximum": 1024, "default": 128, "description": "The longest incoming id kept."],
            "format": ["enum": ["uuid", "hex"], "default": "uuid", "description": "How new ids are written: a UUID v4, or 32 hex digits."],
            "response_header": ["type": "boolean", "default": true, "description": "Also set the header on the response."],
        ],
        "additionalProperties": false,
    ]

    enum Format: String, Sendable {
        case uuid, hex
    }

    let header: String
    let trustIncoming: Bool
    let maxLength: Int
    let format: Format
    let responseHeader: Bool

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        header = try FilterSupport.headerName(config["header"]?.stringValue ?? "x-request-id", path: "$.header")
        trustIncoming = config["trust_incoming"]?.boolValue ?? true
        maxLength = Int(config["max_length"]?.integerValue ?? 128)
        format = Format(rawValue: config["format"]?.stringValue ?? "uuid") ?? .uuid
        responseHeader = config["response_header"]?.boolValue ?? true
    }

    public func onRequest(_ exchange: FilterExchange) -> FilterVerdict {
        let incoming = exchange.requestHeaders[header]
        if trustIncoming, incoming.count == 1, isValid(incoming[0]) { return .proceed }
        exchange.requestHeaders.replaceOrAdd(name: header, value: Self.generate(format))
        return .proceed
    }

    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        if responseHeader, let id = exchange.requestHeaders.first(name: header) {
            exchange.responseHeaders.replaceOrAdd(name: header, value: id)
        }
        return .proceed
    }

    /// Whether an incoming id is kept: 1 to `maxLength` characters of letters, digits and `-_.:/+=@~`.
    func isValid(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "+"),
                UInt8(ascii: "="), UInt8(ascii: "@"), UInt8(ascii: "~"):
                true
            default:
                false
            }
        }
    }

    /// A new random id.
    static func generate(_ format: Format) -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: high >> (8 * UInt64(index)))
            bytes[index + 8] = UInt8(truncatingIfNeeded: low >> (8 * UInt64(index)))
        }
        switch format {
        case .hex:
            return FilterSupport.hex(bytes)
        case .uuid:
            bytes[6] = bytes[6] & 0x0F | 0x40  // version 4
            bytes[8] = bytes[8] & 0x3F | 0x80  // RFC 9562 variant
            let hex = Array(FilterSupport.hex(bytes).utf8)
            var out: [UInt8] = []
            out.reserveCapacity(36)
            for (index, digit) in hex.enumerated() {
                if index == 8 || index == 12 || index == 16 || index == 20 { out.append(UInt8(ascii: "-")) }
                out.append(digit)
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
