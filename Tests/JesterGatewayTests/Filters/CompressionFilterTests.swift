import CompressNIO
@testable import JesterGateway
import JesterTesting
import NIOCore
import NIOHTTP1
import Testing

@Suite struct CompressionFilterTests {
    /// A response exchange: the request's headers, then the response's.
    static func response(
        _ method: HTTPMethod = .GET, accept: String? = "gzip, deflate", status: HTTPResponseStatus = .ok, headers: [(String, String)] = [("Content-Type", "text/html; charset=utf-8")]
    ) -> FilterExchange {
        let exchange = FilterTests.exchange(method, headers: accept.map { [("Accept-Encoding", $0)] } ?? [])
        exchange.status = status
        exchange.responseHeaders = HTTPHeaders(headers)
        return exchange
    }

    /// About 200 KiB of text that compresses well but not trivially.
    static let text: String = (0..<4000).map { "line \($0): the quick brown fox jumps over the lazy dog \($0 * 7919 % 1000)\n" }.joined()

    /// Streams `text` through the exchange's transforms in uneven chunks.
    static func stream(_ exchange: FilterExchange, chunkSizes: [Int] = [1, 700, 16_384, 3, 65_536, 40_000]) throws -> [UInt8] {
        let transform = try #require(exchange.responseBodyTransforms.first)
        let allocator = ByteBufferAllocator()
        var input = ByteBuffer(string: text)
        var output: [UInt8] = []
        var index = 0
        while input.readableBytes > 0 {
            let size = min(chunkSizes[index % chunkSizes.count], input.readableBytes)
            index += 1
            let chunk = input.readSlice(length: size)!
            output += Array(buffer: try transform.transform(chunk, allocator: allocator))
        }
        output += Array(buffer: try transform.transform(ByteBuffer(), allocator: allocator))
        output += Array(buffer: try transform.finish(allocator: allocator))
        return output
    }

    static func inflate(_ bytes: [UInt8], _ algorithm: ZlibAlgorithm) throws -> String {
        var compressed = ByteBuffer(bytes: bytes)
        var output = try compressed.decompress(with: algorithm, maxSize: 1 << 24)
        return output.readString(length: output.readableBytes) ?? ""
    }

    @Test func streamsGzipThatGzipCanRead() throws {
        let filter = try FilterTests.make(CompressionFilter.self, "{}")
        let exchange = Self.response(headers: [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "204800"), ("ETag", "\"v1\"")])
        #expect(filter.onResponse(exchange).isProceed)
        #expect(exchange.responseHeaders["content-encoding"] == ["gzip"])
        #expect(!exchange.responseHeaders.contains(name: "content-length"))
        #expect(exchange.responseHeaders["vary"] == ["Accept-Encoding"])
        #expect(exchange.responseHeaders["etag"] == ["W/\"v1\""])
        #expect(exchange.responseBodyTransforms.count == 1)

        let compressed = try Self.stream(exchange)
        #expect(compressed.count < Self.text.utf8.count / 4)
        #expect(try Self.inflate(compressed, .gzip) == Self.text)
        // And the real gzip agrees.
        let gunzip = try JesterFixtures.run("/bin/sh", ["-c", "gzip -dc"], stdin: compressed)
        #expect(gunzip.status == 0, "\(gunzip.stderr)")
        #expect(gunzip.stdout == Self.text)
    }

    @Test func deflateIsTheZlibFormat() throws {
        let filter = try FilterTests.make(CompressionFilter.self, #"{"algorithms": ["deflate", "gzip"], "level": 1}"#)
        let exchange = Self.response(accept: "gzip, deflate")
        _ = filter.onResponse(exchange)
        #expect(exchange.responseHeaders["content-encoding"] == ["deflate"])
        let compressed = try Self.stream(exchange, chunkSizes: [4096])
        #expect(compressed.first == 0x78)  // a zlib header, not raw deflate
        #expect(try Self.inflate(compressed, .zlib) == Self.text)
    }

    @Test func eachChunkIsFlushed() throws {
        let filter = try FilterTests.make(CompressionFilter.self, "{}")
        let exchange = Self.response(headers: [("Content-Type", "text/event-stream")])
        _ = filter.onResponse(exchange)
        let transform = try #require(exchange.responseBodyTransforms.first)
        var first = try transform.transform(ByteBuffer(string: "data: hello\n\n"), allocator: ByteBufferAllocator())
        // What was sent so far decompresses to the whole event, before the stream ends.
        let decompressor = try ZlibDecompressor(algorithm: .gzip)
        var out = ByteBuffer()
        out.reserveCapacity(1024)
        try decompressor.inflate(from: &first, to: &out)
        #expect(String(buffer: out) == "data: hello\n\n")
    }

    @Test func negotiatesWithQValues() throws {
        let filter = try FilterTests.make(CompressionFilter.self, "{}")
        #expect(filter.negotiate(["gzip"]) == .gzip)
        #expect(filter.negotiate(["deflate, gzip"]) == .gzip)  // equal q: the configured order
        #expect(filter.negotiate(["gzip;q=0.5, deflate;q=0.8"]) == .deflate)
        #expect(filter.negotiate(["gzip;q=0, deflate"]) == .deflate)
        #expect(filter.negotiate(["gzip;q=0", "deflate; q=0"]) == nil)
        #expect(filter.negotiate(["*"]) == .gzip)
        #expect(filter.negotiate(["*;q=0.1, gzip;q=0"]) == .deflate)
        #expect(filter.negotiate(["br, identity"]) == nil)
        #expect(filter.negotiate(["X-GZIP"]) == .gzip)
        #expect(filter.negotiate(["gzip;q=nonsense"]) == nil)
        #expect(filter.negotiate([]) == nil)
        let gzipOnly = try FilterTests.make(CompressionFilter.self, #"{"algorithms": ["gzip"]}"#)
        #expect(gzipOnly.negotiate(["deflate"]) == nil)
    }

    @Test func leavesResponsesAloneWhenItShould() throws {
        let filter = try FilterTests.make(CompressionFilter.self, #"{"min_bytes": 100}"#)
        let html = ("Content-Type", "text/html")
        let cases: [(String, FilterExchange)] = [
            ("HEAD", Self.response(.HEAD)),
            ("204", Self.response(status: .noContent)),
            ("304", Self.response(status: .notModified)),
            ("206", Self.response(status: .partialContent, headers: [html, ("Content-Range", "bytes 0-99/1000")])),
            ("encoded", Self.response(headers: [html, ("Content-Encoding", "br")])),
            ("no-transform", Self.response(headers: [html, ("Cache-Control", "public, no-transform")])),
            ("image", Self.response(headers: [("Content-Type", "image/png")])),
            ("no type", Self.response(headers: [])),
            ("short", Self.response(headers: [html, ("Content-Length", "99")])),
            ("not accepted", Self.response(accept: nil)),
            ("identity", Self.response(accept: "identity")),
        ]
        for (name, exchange) in cases {
            #expect(filter.onResponse(exchange).isProceed)
            #expect(!exchange.responseHeaders.contains(name: "content-encoding") || name == "encoded", "\(name)")
            #expect(exchange.responseBodyTransforms.isEmpty, "\(name)")
        }
        // Vary is set whenever the answer depends on Accept-Encoding.
        #expect(cases[9].1.responseHeaders["vary"] == ["Accept-Encoding"])
        #expect(!cases[6].1.responseHeaders.contains(name: "vary"))
        // JSON with parameters and SVG are compressed by default.
        for type in ["application/json; charset=utf-8", "image/svg+xml", "TEXT/CSS"] {
            let exchange = Self.response(headers: [("Content-Type", type)])
            _ = filter.onResponse(exchange)
            #expect(exchange.responseHeaders["content-encoding"] == ["gzip"], "\(type)")
        }
    }

    @Test func compressesAWholeBodyAtOnce() throws {
        let filter = try FilterTests.make(CompressionFilter.self, "{}")
        let exchange = Self.response()
        exchange.responseBody = ByteBuffer(string: Self.text)
        _ = filter.onResponse(exchange)
        #expect(exchange.responseBodyTransforms.isEmpty)
        let body = try #require(exchange.responseBody)
        #expect(exchange.responseHeaders["content-length"] == [String(body.readableBytes)])
        #expect(try Self.inflate(Array(buffer: body), .gzip) == Self.text)

        let small = Self.response()
        small.responseBody = ByteBuffer(string: "tiny")
        _ = filter.onResponse(small)
        #expect(String(buffer: small.responseBody!) == "tiny")
        #expect(!small.responseHeaders.contains(name: "content-encoding"))
    }

    @Test func configErrors() {
        #expect(FilterTests.problem(CompressionFilter.self, #"{"algorithms": ["br"]}"#)?.path == "$.algorithms[0]")
        #expect(FilterTests.problem(CompressionFilter.self, #"{"algorithms": []}"#)?.path == "$.algorithms")
        #expect(FilterTests.problem(CompressionFilter.self, #"{"level": 10}"#)?.path == "$.level")
        let type = FilterTests.problem(CompressionFilter.self, #"{"content_types": ["text"]}"#)
        #expect(type?.path == "$.content_types[0]")
        #expect(type?.message.contains("not a media type") == true)
    }
}
