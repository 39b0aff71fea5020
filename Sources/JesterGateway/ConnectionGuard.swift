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
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(headerReadTimeout: TimeAmount, idleTimeout: TimeAmount, maxHeaderBytes: Int) {
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxHeaderBytes = maxHeaderBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(headerReadTimeout, status: .requestTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(headerReadTimeout, status: .requestTimeout)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        timer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        switch state {
        case .waiting:
            state = .readingHead
            headBytes = count
            arm(headerReadTimeout, status: .requestTimeout)
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
        timer?.cancel()
        timer = nil
    }

    /// The request handler finished a response and the connection stays open.
    func responseFinished() {
        guard state == .busy else { return }
        state = .waiting
        headBytes = 0
        arm(idleTimeout, status: nil)
    }

    private enum Refusal { case requestTimeout, requestHeaderFieldsTooLarge }

    private func arm(_ delay: TimeAmount, status: Refusal?) {
        timer?.cancel()
        guard let context else { return }
        timer = context.eventLoop.scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            switch self.state {
            case .readingHead: self.refuse(status: .requestTimeout)
            case .waiting:
                // A new connection that never sent a byte, or an idle keep-alive connection.
                if status != nil, self.headBytes == 0 {
                    self.refuse(status: .requestTimeout)
                } else {
                    self.state = .closed
                    self.context?.close(promise: nil)
                }
            case .busy, .closed: break
            }
        }
    }

    private func refuse(status: Refusal) {
        guard let context, state != .closed else { return }
        state = .closed
        timer?.cancel()
        let text: String
        switch status {
        case .requestTimeout:
            let body = "408 Request Timeout: request headers not received in time\n"
            text = "HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        case .requestHeaderFieldsTooLarge:
            let body = "431 Request Header Fields Too Large: request headers larger than \(maxHeaderBytes) bytes\n"
            text = "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)"
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
