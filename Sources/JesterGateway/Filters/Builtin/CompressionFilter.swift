import CompressNIO
public import JesterManifest
import NIOCore
import NIOHTTP1

/// `compression`: gzip or deflate for responses the client accepts compressed.
///
/// The encoding is the one of `algorithms` that `Accept-Encoding` gives the highest q-value (ties
/// go to the earlier in `algorithms`; `q=0` refuses one; `*` stands for any not named). A response
/// is left alone when the request was `HEAD`; when its status is 1xx, 204, 206 or 304; when it has
/// `Content-Encoding`, `Content-Range` or `Cache-Control: no-transform`; when its media type starts
/// with none of `content_types`; or when its length is known and below `min_bytes`. A compressed
/// response gets `Content-Encoding`, loses `Content-Length`, and a strong `ETag` becomes weak.
/// `Vary: Accept-Encoding` is added whenever the media type qualifies, compressed or not.
///
/// Streamed bodies are compressed chunk by chunk as they pass (a ``ResponseBodyTransform``), never
/// collected; each chunk is flushed so that streams such as server-sent events keep their timing.
/// A compressor holds about 256 KiB of zlib state while its response is in flight. (`deflate` is
/// the zlib format, as HTTP defines it.)
///
/// ```toml
/// [[routes.response_filters]]
/// type = "builtin"
/// name = "compression"
/// config = { min_bytes = 1024, algorithms = ["gzip", "deflate"], level = 5 }
/// ```
public struct CompressionFilter: BuiltinFilter {
    public static let name = "compression"
    public static let summary = "Compress responses with gzip or deflate, streaming, as Accept-Encoding allows."

    static let defaultContentTypes: [JSONValue] = ["text/*", "application/json", "application/javascript", "application/xml", "image/svg+xml"]

    public static let configSchema: JSONValue = [
        "type": "object",
        "properties": [
            "algorithms": [
                "type": "array", "items": ["enum": ["gzip", "deflate"]], "minItems": 1, "uniqueItems": true, "default": ["gzip", "deflate"],
                "description": "Encodings offered, most preferred first.",
            ],
            "min_bytes": ["type": "integer", "minimum": 0, "default": 1024, "description": "Responses known to be shorter are sent as they are."],
            "content_types": [
                "type": "array", "items": ["type": "string", "minLength": 1], "uniqueItems": true, "default": .array(defaultContentTypes),
                "description": "Media type prefixes that are compressed (\"text/*\" or \"text/\" for every text type).",
            ],
            "level": ["type": "integer", "minimum": 1, "maximum": 9, "default": 6, "description": "zlib's compression level: 1 fastest, 9 smallest."],
        ],
        "additionalProperties": false,
    ]

    /// A content coding the filter can produce.
    enum Coding: String, Sendable {
        case gzip, deflate

        var zlib: ZlibAlgorithm {
            switch self {
            case .gzip: .gzip
            case .deflate: .zlib  // HTTP's "deflate" is the zlib format (RFC 9110 §8.4.1.2)
            }
        }
    }

    let codings: [Coding]
    let minBytes: Int
    let contentTypePrefixes: [String]
    let level: Int32

    public init(config: JSONValue, setup: FilterSetup) throws(FilterConfigError) {
        codings = (config["algorithms"]?.arrayValue ?? ["gzip", "deflate"]).compactMap { $0.stringValue.flatMap(Coding.init(rawValue:)) }
        minBytes = Int(config["min_bytes"]?.integerValue ?? 1024)
        var prefixes: [String] = []
        for (index, value) in (config["content_types"]?.arrayValue ?? Self.defaultContentTypes).enumerated() {
            var text = (value.stringValue ?? "").lowercased()
            if text.hasSuffix("*") { text.removeLast() }
            guard !text.isEmpty, !text.contains("*"), !text.contains(";"), text.contains("/") || text.hasSuffix("/") else {
                throw FilterConfigError("$.content_types[\(index)]", "\"\(value.stringValue ?? "")\" is not a media type or prefix", fix: "Write it as \"text/*\" or \"application/json\"")
            }
            prefixes.append(text)
        }
        contentTypePrefixes = prefixes
        level = Int32(config["level"]?.integerValue ?? 6)
    }

    /// Whether a `Content-Type` value is one of the compressed types.
    func compresses(contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.strippingSpaces().lowercased() } ?? ""
        return contentTypePrefixes.contains { mediaType.hasPrefix($0) }
    }

    /// The coding to use for an `Accept-Encoding` (all its values), or nil for none.
    func negotiate(_ acceptEncoding: [String]) -> Coding? {
        guard !acceptEncoding.isEmpty else { return nil }
        var explicit: [Coding: Double] = [:]
        var wildcard: Double?
        for value in acceptEncoding {
            for element in value.split(separator: ",") {
                let pieces = element.split(separator: ";")
                guard let first = pieces.first else { continue }
                let name = first.strippingSpaces().lowercased()
                var q = 1.0
                for parameter in pieces.dropFirst() {
                    let pair = parameter.split(separator: "=", maxSplits: 1)
                    if pair.count == 2, pair[0].strippingSpaces().lowercased() == "q" {
                        q = Double(pair[1].strippingSpaces()).map { min(1, max(0, $0)) } ?? 0
                    }
                }
                switch name {
                case "gzip", "x-gzip": explicit[.gzip] = max(explicit[.gzip] ?? 0, q)
                case "deflate": explicit[.deflate] = max(explicit[.deflate] ?? 0, q)
                case "*": wildcard = q
                default: break
                }
            }
        }
        var best: (coding: Coding, q: Double)?
        for coding in codings {
            let q = explicit[coding] ?? wildcard ?? 0
            if q > 0, q > (best?.q ?? 0) { best = (coding, q) }
        }
        return best?.coding
    }

    public func onResponse(_ exchange: FilterExchange) -> FilterVerdict {
        guard exchange.method != .HEAD else { return .proceed }
        let status = exchange.status.code
        guard status >= 200, status != 204, status != 206, status != 304 else { return .proceed }
        let headers = exchange.responseHeaders
        if let encoding = headers.first(name: "content-encoding"), !encoding.strippingSpaces().caseInsensitiveEquals("identity") { return .proceed }
        guard !headers.contains(name: "content-range") else { return .proceed }
        for value in headers["cache-control"] where value.lowercased().contains("no-transform") { return .proceed }
        guard let contentType = headers.first(name: "content-type"), compresses(contentType: contentType) else { return .proceed }

        FilterSupport.addListToken("Accept-Encoding", to: "vary", in: &exchange.responseHeaders)
        let knownLength = exchange.responseBody?.readableBytes ?? headers.first(name: "content-length").flatMap { Int($0) }
        if let knownLength, knownLength < minBytes { return .proceed }
        guard let coding = negotiate(exchange.requestHeaders["accept-encoding"]) else { return .proceed }

        if var body = exchange.responseBody {
            // The whole body is here (a local or buffered response): compress it at once.
            guard let compressed = try? body.compress(with: coding.zlib, configuration: ZlibConfiguration(compressionLevel: level)) else {
                return .proceed
            }
            exchange.responseBody = compressed
            exchange.responseHeaders.replaceOrAdd(name: "content-length", value: String(compressed.readableBytes))
        } else {
            guard let transform = try? ZlibStreamTransform(coding.zlib, level: level) else { return .proceed }
            exchange.transformResponseBody(with: transform)
            exchange.responseHeaders.remove(name: "content-length")
        }
        exchange.responseHeaders.remove(name: "content-encoding")
        exchange.responseHeaders.add(name: "content-encoding", value: coding.rawValue)
        if let etag = exchange.responseHeaders.first(name: "etag"), etag.hasPrefix("\"") {
            exchange.responseHeaders.replaceOrAdd(name: "etag", value: "W/" + etag)
        }
        return .proceed
    }
}

/// Compresses a streamed body chunk by chunk with zlib, flushing after each chunk.
final class ZlibStreamTransform: ResponseBodyTransform {
    private let compressor: ZlibCompressor
    private var finished = false

    init(_ algorithm: ZlibAlgorithm, level: Int32) throws {
        compressor = try ZlibCompressor(algorithm: algorithm, configuration: ZlibConfiguration(compressionLevel: level))
    }

    func transform(_ chunk: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard chunk.readableBytes > 0 else { return allocator.buffer(capacity: 0) }
        var input = chunk
        var output = allocator.buffer(capacity: compressor.maxSize(from: input))
        try deflate(&input, into: &output, flush: .sync)
        return output
    }

    func finish(allocator: ByteBufferAllocator) throws -> ByteBuffer {
        guard !finished else { return allocator.buffer(capacity: 0) }
        finished = true
        var input = ByteBuffer()
        var output = allocator.buffer(capacity: compressor.maxSize(from: input))
        try deflate(&input, into: &output, flush: .finish)
        return output
    }

    /// Runs zlib until `input` is consumed (and, for `.finish`, the stream is ended), growing
    /// `output` when zlib runs out of room.
    private func deflate(_ input: inout ByteBuffer, into output: inout ByteBuffer, flush: CompressNIOFlush) throws {
        while true {
            do {
                try compressor.deflate(from: &input, to: &output, flush: flush)
                if input.readableBytes == 0 { return }
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // zlib stopped for lack of room, or (with room left) had nothing more to do.
                guard output.writableBytes < 64 else {
                    if flush == .finish { throw error }
                    return
                }
            }
            output.reserveCapacity(minimumWritableBytes: max(1024, output.capacity))
        }
    }
}
