import JesterConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// One bound listening socket and the connections it accepted.
final class Listener: Sendable {
    let config: ListenerConfig
    let channel: any Channel
    let connections: ConnectionRegistry

    private init(config: ListenerConfig, channel: any Channel, connections: ConnectionRegistry) {
        self.config = config
        self.channel = channel
        self.connections = connections
    }

    /// The address actually bound (the port is known here when the config asked for port 0).
    var localAddress: SocketAddress? { channel.localAddress }

    static func bind(_ config: ListenerConfig, core: GatewayCore, group: any EventLoopGroup) async throws -> Listener {
        let tls = try config.tls.map { try makeServerTLSContext($0, alpn: config.alpn, listener: config.name) }
        let registry = ConnectionRegistry(limit: config.http.maxConnections)
        let scheme = tls == nil ? "http" : "https"
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                guard registry.admit(channel) else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try ConnectionSetup(config: config, core: core, scheme: scheme)
                        .configure(channel, tls: tls)
                }
            }
        let host = config.bind.host ?? "::"
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: config.bind.port).get()
        } catch where config.bind.host == nil {
            // No IPv6 on this machine: every IPv4 address instead.
            channel = try await bootstrap.bind(host: "0.0.0.0", port: config.bind.port).get()
        } catch {
            throw GatewayError.bindFailed(listener: config.name, address: config.bind.description, reason: String(describing: error))
        }
        return Listener(config: config, channel: channel, connections: registry)
    }

    static func makeServerTLSContext(_ tls: TLSConfig, alpn: [String], listener: String) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.keyPath, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            configuration.applicationProtocols = alpn
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw GatewayError.tls(listener: listener, reason: "cannot use certificate \(tls.certificatePath) and key \(tls.keyPath): \(error)")
        }
    }

    /// Stops accepting; connections already open go on.
    func stopAccepting() async {
        try? await channel.close()
    }
}

/// Builds the pipeline of one accepted connection: TLS, then ALPN (h2 or HTTP/1.1), or on a
/// plaintext listener HTTP/1.1 and, when enabled, h2c with prior knowledge.
struct ConnectionSetup: Sendable {
    let config: ListenerConfig
    let core: GatewayCore
    let scheme: String

    func configure(_ channel: any Channel, tls: NIOSSLContext?) throws {
        let sync = channel.pipeline.syncOperations
        if let tls {
            try sync.addHandler(NIOSSLServerHandler(context: tls))
            if config.alpn.contains("h2") {
                try sync.addHandler(ApplicationProtocolNegotiationHandler { result, channel in
                    channel.eventLoop.makeCompletedFuture {
                        switch result {
                        case .negotiated("h2"): try self.configureHTTP2(channel)
                        default: try self.configureHTTP1(channel)
                        }
                    }
                })
            } else {
                try configureHTTP1(channel)
            }
        } else if config.h2c {
            try sync.addHandler(PriorKnowledgeSniffer(setup: self))
        } else {
            try configureHTTP1(channel)
        }
    }

    private func makeContext(_ channel: any Channel, protocolName: String) -> ConnectionContext {
        let remote = channel.remoteAddress ?? channel.parent?.remoteAddress
        return ConnectionContext(
            core: core, listener: config.name, settings: config.http, scheme: scheme,
            pools: core.pools.pools(for: channel.eventLoop), clientAddress: remote?.ipAddress ?? "unknown",
            protocolName: protocolName
        )
    }

    func configureHTTP1(_ channel: any Channel) throws {
        let sync = channel.pipeline.syncOperations
        let settings = config.http
        let guardHandler = ConnectionGuard(
            headerReadTimeout: .milliseconds(settings.headerReadTimeout.milliseconds),
            idleTimeout: .milliseconds(settings.idleTimeout.milliseconds),
            maxHeaderBytes: settings.maxHeaderBytes
        )
        try sync.addHandler(guardHandler)
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = settings.maxHeaderBytes
        limits.maxHeaderFieldSize = settings.maxHeaderBytes
        try sync.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: true, withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
        let context = makeContext(channel, protocolName: "HTTP/1.1")
        context.connectionGuard = guardHandler
        try sync.addHandler(RequestHandler(connection: context))
    }

    func configureHTTP2(_ channel: any Channel) throws {
        let settings = config.http
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: settings.maxHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        let context = makeContext(channel, protocolName: "HTTP/2")
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try stream.pipeline.syncOperations.addHandler(RequestHandler(connection: context))
            }
        }
        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .milliseconds(settings.idleTimeout.milliseconds)))
        try channel.pipeline.syncOperations.addHandler(IdleCloser())
    }
}

/// Closes an HTTP/2 connection that saw no traffic for the idle timeout.
final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = Never

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// On a plaintext listener with h2c: reads the first bytes, then configures HTTP/2 if they are
/// the HTTP/2 connection preface and HTTP/1.1 otherwise.
final class PriorKnowledgeSniffer: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {  // confined to its event loop
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private let setup: ConnectionSetup
    private var buffered: ByteBuffer?

    init(setup: ConnectionSetup) { self.setup = setup }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered!.writeBuffer(&incoming)
        }
        let bytes = buffered!.readableBytesView
        let compared = min(bytes.count, Self.preface.count)
        let isPreface = bytes.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        if isPreface, compared < Self.preface.count { return }  // need more bytes to decide
        do {
            if isPreface {
                try setup.configureHTTP2(context.channel)
            } else {
                try setup.configureHTTP1(context.channel)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        let data = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(data))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// The open connections of a listener: counted against `max_connections` and drained on shutdown.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Registers a new connection, or refuses it when the listener is full.
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = channels.withLockedValue { channels -> Bool in
            guard channels.count < limit else { return false }
            channels[id] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in
                _ = self.channels.withLockedValue { $0.removeValue(forKey: id) }
            }
        }
        return admitted
    }

    var count: Int { channels.withLockedValue { $0.count } }

    /// Asks every connection to finish its in-flight requests and close; after `deadline`,
    /// closes what is left.
    func drain(deadline: NIODeadline) async {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        while count > 0, NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}
