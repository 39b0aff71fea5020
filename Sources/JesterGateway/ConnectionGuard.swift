import NIOCore

/// Guards an HTTP/1 connection below the HTTP decoder, on raw bytes: a request's head must arrive
/// within `headerReadTimeout` (slowloris) and fit in `maxHeaderBytes`; an idle keep-alive
/// connection closes after `idleTimeout`. Answers 408 or 431 itself and closes.
final class ConnectionGuard: ChannelInboundHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case waiting  // between requests
        case readingHead  // bytes of a head arrived, head not complete
        case busy  // a request is being served
        case closed
    }

    private let headerReadTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let maxHeaderBytes: Int
    private var state = State.waiting
    private var headBytes = 0
    /// Whether the connection served a request already (waiting is then keep-alive idleness).
    private var servedOne = false
    private var timer: LazyTimer?
    private var context: ChannelHandlerContext?

    init(headerReadTimeout: TimeAmount, idleTimeout: TimeAmount, maxHeaderBytes: Int) {
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        timer = LazyTimer(eventLoop: context.eventLoop) { [weak self] in self?.timedOut() }
        if context.channel.isActive { timer?.arm(in: headerReadTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        timer?.arm(in: headerReadTimeout)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.stop()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        timer?.stop()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        switch state {
        case .waiting:
            state = .readingHead
            headBytes = count
            if servedOne { timer?.arm(in: headerReadTimeout) }  // the first head's clock started at accept
        case .readingHead:
            headBytes += count
        case .busy, .closed:
            break
        }
        context.fireChannelRead(data)
        if state == .readingHead, headBytes > maxHeaderBytes {
            refuse(status: .requestHeaderFieldsTooLarge)
        }
    }

    /// The request handler saw a complete request head.
    func headReceived() {
        guard state != .closed else { return }
        state = .busy
        servedOne = true
        timer?.disarm()
    }

    /// The request handler finished a response and the connection stays open.
    func responseFinished() {
        guard state == .busy else { return }
        state = .waiting
        headBytes = 0
        timer?.arm(in: idleTimeout)
    }

    private enum Refusal { case requestTimeout, requestHeaderFieldsTooLarge }

    private func timedOut() {
        switch state {
        case .readingHead:
            refuse(status: .requestTimeout)
        case .waiting:
            if servedOne {
                // An idle keep-alive connection: close quietly.
                state = .closed
                context?.close(promise: nil)
            } else {
                refuse(status: .requestTimeout)
            }
        case .busy, .closed:
            break
        }
    }

    private func refuse(status: Refusal) {
        guard let context, state != .closed else { return }
        state = .closed
        timer?.stop()
        let text: String
        switch status {
        case .requestTimeout:
            let body = "408 Request Timeout: request headers not received in time\n"
            text = "HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        case .requestHeaderFieldsTooLarge:
            let body = "431 Request Header Fields Too Large: request headers larger than \(maxHeaderBytes) bytes\n"
            text = "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
