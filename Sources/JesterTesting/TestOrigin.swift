import Foundation
import NIOCore
import NIOConcurrencyHelpers
public import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 origin server on loopback for gateway tests.
///
/// Each request is answered by the `respond` closure once its body has been read; the body is
/// counted, not kept, unless `keepBody` is set. Special paths give streaming behaviour:
/// `/download/N` streams N bytes (respecting back-pressure), `/slow/MS` answers after MS ms,
/// `/close` closes the connection without answering, and `/chunks/MS/A/B/C` (after any prefix,
/// such as a route's: `/api/chunks/...`) answers 200 with a chunked body written as separate
/// parts `A`, `B`, `C` (percent-decoded), each flushed on its own, MS ms apart, so that a proxy
/// reads them as separate chunks.
public final class TestOrigin: Sendable {
    /// What the origin saw of one request.
    public struct Seen: Sendable {
        public var head: HTTPRequestHead
        public var bodyBytes: Int
        public var body: [UInt8]
    }

    public typealias Responder = @Sendable (Seen) -> (HTTPResponseStatus, HTTPHeaders, [UInt8])

    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let seen = NIOLockedValueBox<[Seen]>([])
    private let connections = NIOLockedValueBox(0)

    /// The port the origin listens on.
    public var port: Int { channel.localAddress!.port! }
    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }
    /// Requests seen so far.
    public var requests: [Seen] { seen.withLockedValue { $0 } }
    /// TCP connections accepted so far.
    public var connectionCount: Int { connections.withLockedValue { $0 } }

    /// Starts an origin. The default responder echoes the request line as the body, with an
    /// `x-origin` header naming `name`.
    public init(name: String = "origin", keepBody: Bool = true, respond: Responder? = nil) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let seen = self.seen
        let connections = self.connections
        let responder: Responder = respond ?? { request in
            var headers = HTTPHeaders()
            headers.add(name: "x-origin", value: name)
            headers.add(name: "content-type", value: "text/plain")
            let text = "\(request.head.method.rawValue) \(request.head.uri) \(request.bodyBytes)"
            return (.ok, headers, Array(text.utf8))
        }
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OriginHandler(keepBody: keepBody, seen: seen, respond: responder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    public func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

private final class OriginHandler: ChannelInboundHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let keepBody: Bool
    let seen: NIOLockedValueBox<[TestOrigin.Seen]>
    let respond: TestOrigin.Responder
    var current: TestOrigin.Seen?
    var remainingDownload = 0

    init(keepBody: Bool, seen: NIOLockedValueBox<[TestOrigin.Seen]>, respond: @escaping TestOrigin.Responder) {
        self.keepBody = keepBody
        self.seen = seen
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = TestOrigin.Seen(head: head, bodyBytes: 0, body: [])
        case .body(let buffer):
            current?.bodyBytes += buffer.readableBytes
            if keepBody { current?.body += buffer.readableBytesView }
        case .end:
            guard let request = current else { return }
            current = nil
            seen.withLockedValue { $0.append(request) }
            answer(request, context: context)
        }
    }

    private func answer(_ request: TestOrigin.Seen, context: ChannelHandlerContext) {
        let path = request.head.uri
        if path == "/close" {
            context.close(promise: nil)
            return
        }
        if path.hasPrefix("/slow/"), let ms = Int64(path.dropFirst(6)) {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                let (handler, context) = loopBound.value
                handler.writeResponse(request, context: context)
            }
            return
        }
        if let marker = path.range(of: "/chunks/") {
            let fields = path[marker.upperBound...].split(separator: "/", omittingEmptySubsequences: false)
            guard let ms = fields.first.flatMap({ Int64($0) }) else { return writeResponse(request, context: context) }
            let parts = fields.dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
            var headers = HTTPHeaders()
            headers.add(name: "transfer-encoding", value: "chunked")
            headers.add(name: "content-type", value: "text/plain")
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: request.head.version, status: .ok, headers: headers))), promise: nil)
            writeParts(ArraySlice(parts), every: .milliseconds(ms), context: context)
            return
        }
        if path.hasPrefix("/download/"), let count = Int(path.dropFirst(10)) {
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: String(count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.head.version, status: .ok, headers: headers))), promise: nil)
            remainingDownload = count
            streamDownload(context: context)
            return
        }
        writeResponse(request, context: context)
    }

    private func writeResponse(_ request: TestOrigin.Seen, context: ChannelHandlerContext) {
        let (status, headers, body) = respond(request)
        var head = HTTPResponseHead(version: request.head.version, status: status, headers: headers)
        if !head.headers.contains(name: "content-length"), !head.headers.contains(name: "transfer-encoding") {
            head.headers.add(name: "content-length", value: String(body.count))
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private static let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

    /// Writes each part as a body chunk of its own, `delay` apart, then ends the response.
    private func writeParts(_ parts: ArraySlice<String>, every delay: TimeAmount, context: ChannelHandlerContext) {
        guard let part = parts.first else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: part)))), promise: nil)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.writeParts(parts.dropFirst(), every: delay, context: context)
        }
    }

    private func streamDownload(context: ChannelHandlerContext) {
        while remainingDownload > 0, context.channel.isWritable {
            let size = min(remainingDownload, Self.chunk.readableBytes)
            remainingDownload -= size
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.chunk.getSlice(at: 0, length: size)!))), promise: nil)
        }
        if remainingDownload == 0 {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, remainingDownload > 0 { streamDownload(context: context) }
        context.fireChannelWritabilityChanged()
    }
}
