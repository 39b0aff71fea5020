import ArgumentParser
import Foundation
import JesterConfig
import JesterManifest
import NIOCore
import NIOHTTP1
import NIOPosix

/// `jester status`
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a running gateway's status: listeners, routes, and every plugin's state and counters.",
        discussion: """
            Asks the admin API of a running gateway (GET /status) and prints the gateway's generation and uptime, its listeners and routes, and each plugin with its state (ready, degraded, …), calls, errors, traps and timeouts. The address is the config's [admin] listen (--config, default jester.toml), or --admin. The token is --token, else $JESTER_ADMIN_TOKEN, else the config's [admin] token.

            Exit status: 0 when the gateway answers and every plugin is ready; 2 when it answers and some plugin is degraded (or otherwise not ready); 1 when no gateway answers or the request fails (a wrong token, a config without [admin]).

            Examples:
              jester status
              jester status --config /etc/jester/jester.toml
              jester status --admin 127.0.0.1:9901 --json
              JESTER_ADMIN_TOKEN=… jester status --admin http://10.0.0.5:9901
              jester status --json | jq -r '.plugins[] | select(.state != "ready") | .id'
            """
    )

    @OptionGroup var source: ConfigOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The admin API's address (HOST:PORT or http://HOST:PORT), instead of the config's [admin] listen.",
            valueName: "url"
        )
    )
    var admin: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The admin token (default $JESTER_ADMIN_TOKEN, then the config's [admin] token).",
            valueName: "token"
        )
    )
    var token: String?

    @Flag(help: "Print the gateway's JSON status document as it is, instead of a table.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for the gateway.", valueName: "seconds"))
    var timeout: Double = 5

    func run() async throws {
        let (address, configToken) = try target()
        let token =
            token ?? ProcessInfo.processInfo.environment["JESTER_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? configToken
        let client = AdminClient(address: address, timeout: .milliseconds(Int64(max(timeout, 0.1) * 1000)))
        let reply: AdminClient.Reply
        do {
            reply = try await client.get("/status", token: token)
        } catch {
            Console.error(
                "error: no gateway answering on \(address) (is `jester run` running with [admin] listen set?): \(error)"
            )
            throw ExitCode.failure
        }
        switch reply.status {
        case 200:
            break
        case 401:
            Console.error(
                "error: the admin API on \(address) refused the request (401): "
                    + (token == nil
                        ? "it needs a token: pass --token or set JESTER_ADMIN_TOKEN"
                        : "the token is wrong; it must be the gateway's [admin] token")
            )
            throw ExitCode.failure
        default:
            Console.error(
                "error: the admin API on \(address) answered \(reply.status): \(reply.body.trimmingCharacters(in: .whitespacesAndNewlines))"
            )
            throw ExitCode.failure
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(reply.body)
        } catch {
            Console.error("error: the admin API on \(address) answered something that is not JSON: \(error)")
            throw ExitCode.failure
        }
        if json {
            Console.out(reply.body.hasSuffix("\n") ? String(reply.body.dropLast()) : reply.body)
        } else {
            Console.out(Self.describe(document, address: address))
        }
        if document["status"]?.stringValue != "ok" { throw ExitCode(2) }
    }

    /// Where to ask, and the config's token when the config was read.
    private func target() throws -> (String, String?) {
        if let admin {
            var text = Substring(admin)
            if text.lowercased().hasPrefix("https://") {
                Console.error(
                    "error: --admin \(admin): the admin API speaks plain HTTP; write http://HOST:PORT or HOST:PORT"
                )
                throw ExitCode.failure
            }
            if text.lowercased().hasPrefix("http://") { text = text.dropFirst(7) }
            while text.hasSuffix("/") { text = text.dropLast() }
            guard case .success(let address) = ValueParsers.bind(String(text)) else {
                Console.error(
                    "error: --admin \(admin) is not an address; write HOST:PORT like 127.0.0.1:9901, or http://HOST:PORT"
                )
                throw ExitCode.failure
            }
            return (Self.connectable(address), nil)
        }
        let config = try source.load()
        guard let admin = config.admin else {
            Console.error(
                "error: \(source.config) has no [admin] table, so `jester run` serves no admin API; add [admin] with listen = \"127.0.0.1:9901\" and restart or reload the gateway, or pass --admin HOST:PORT"
            )
            throw ExitCode.failure
        }
        guard admin.listen.port != 0 else {
            Console.error(
                "error: [admin] listen in \(source.config) is port 0, a free port the gateway picked at start; pass --admin with the address its log shows (\"admin API listening\")"
            )
            throw ExitCode.failure
        }
        return (Self.connectable(admin.listen), admin.token)
    }

    /// The address to connect to for a listen address: every address (`:9901`, `0.0.0.0`, `::`)
    /// is reached on loopback.
    static func connectable(_ address: BindAddress) -> String {
        switch address.host {
        case nil, "0.0.0.0": return "127.0.0.1:\(address.port)"
        case "::": return "[::1]:\(address.port)"
        default: return address.description
        }
    }

    /// The status document as a few lines and a table of plugins.
    static func describe(_ document: JSONValue, address: String) -> String {
        var lines: [String] = []
        let status = document["status"]?.stringValue ?? "?"
        let plugins = document["plugins"]?.arrayValue ?? []
        let notReady = plugins.filter { $0["state"]?.stringValue != "ready" }.compactMap { $0["id"]?.stringValue }
        var head = "gateway: \(status)"
        if document["shutting_down"]?.boolValue == true { head += ", shutting down" }
        if !notReady.isEmpty { head += " (not ready: \(notReady.joined(separator: ", ")))" }
        var facts: [String] = []
        if let generation = document["generation"]?.integerValue { facts.append("generation \(generation)") }
        if let uptime = document["uptime_seconds"]?.doubleValue { facts.append("up \(formatUptime(uptime))") }
        facts.append("admin \(address)")
        lines.append(head + "  " + facts.joined(separator: ", "))
        if let file = document["config_file"]?.stringValue { lines.append("config: \(file)") }
        let listeners = document["listeners"]?.arrayValue ?? []
        lines.append("listeners (\(listeners.count)):")
        lines += table(
            listeners.map { listener in
                [
                    listener["name"]?.stringValue ?? "?",
                    listener["address"]?.stringValue ?? listener["bind"]?.stringValue ?? "?",
                    listener["tls"]?.boolValue == true
                        ? "https" : (listener["h2c"]?.boolValue == true ? "http, h2c" : "http"),
                ]
            },
            header: nil,
            rightAligned: []
        ).map { "  " + $0 }
        let routes = document["routes"]?["names"]?.arrayValue?.compactMap(\.stringValue) ?? []
        lines.append("routes (\(routes.count)): " + (routes.isEmpty ? "none" : routes.joined(separator: ", ")))
        if let requests = document["requests"], let total = requests["total"]?.integerValue {
            lines.append("requests: \(total) (to upstreams \(requests["upstream"]?.integerValue ?? 0))")
        }
        if plugins.isEmpty {
            lines.append("plugins: none")
        } else {
            lines.append("plugins (\(plugins.count)):")
            let rows = plugins.map { plugin -> [String] in
                [
                    plugin["id"]?.stringValue ?? "?", plugin["version"]?.stringValue ?? "?",
                    plugin["state"]?.stringValue ?? "?",
                ]
                    + ["calls", "errors", "traps", "timeouts", "busy_rejections"].map {
                        "\(plugin[$0]?.integerValue ?? 0)"
                    }
            }
            lines += table(
                rows,
                header: ["ID", "VERSION", "STATE", "CALLS", "ERRORS", "TRAPS", "TIMEOUTS", "BUSY"],
                rightAligned: [3, 4, 5, 6, 7]
            )
            .map { "  " + $0 }
            for plugin in plugins where plugin["state"]?.stringValue != "ready" {
                if let error = plugin["last_error"]?.stringValue {
                    lines.append("  \(plugin["id"]?.stringValue ?? "?") last error: \(error)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `42s`, `3m 12s`, `2h 5m`, `3d 4h`.
    static func formatUptime(_ seconds: Double) -> String {
        let total = Int(seconds)
        let (days, hours, minutes, secs) = (total / 86400, total % 86400 / 3600, total % 3600 / 60, total % 60)
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes)m" }
        if minutes > 0 { return "\(minutes)m \(secs)s" }
        return "\(secs)s"
    }

    private static func table(_ rows: [[String]], header: [String]?, rightAligned: Set<Int>) -> [String] {
        let all = (header.map { [$0] } ?? []) + rows
        guard let columns = all.map(\.count).max() else { return [] }
        let widths = (0..<columns).map { column in all.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
    }
}

/// A one-request HTTP/1.1 client for the admin API: plaintext, `Connection: close`, a deadline
/// on the whole exchange.
struct AdminClient {
    struct Reply: Sendable {
        var status: Int
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// `HOST:PORT` or `[IPv6]:PORT`.
    let address: String
    let timeout: TimeAmount

    func get(_ path: String, token: String?) async throws -> Reply {
        guard case .success(let bind) = ValueParsers.bind(address), let host = bind.host else {
            throw Failure(description: "\(address) is not HOST:PORT")
        }
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Reply.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ReplyCollector(promise: promise))
                    }
                }
                .connect(host: host, port: bind.port).get()
        } catch {
            promise.fail(error)
            throw Failure(description: Self.describe(error))
        }
        var headers = HTTPHeaders()
        headers.add(name: "host", value: address)
        headers.add(name: "user-agent", value: "jester/\(JesterVersion.current)")
        headers.add(name: "accept", value: "application/json")
        headers.add(name: "connection", value: "close")
        if let token { headers.add(name: "authorization", value: "Bearer \(token)") }
        channel.write(
            HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)),
            promise: nil
        )
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure(description: "no answer within \(timeout.nanoseconds / 1_000_000) ms"))
        }
        defer {
            deadline.cancel()
            channel.close(promise: nil)
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(description: Self.describe(error))
        }
    }

    /// `connection refused`, `cannot resolve example.com`, not NIO's nested error values.
    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let failure = error.connectionErrors.first { return describe(failure.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve \(error.host)" }
        }
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? ChannelError, case .connectTimeout(let limit) = error {
            return "no connection within \(limit.nanoseconds / 1_000_000) ms"
        }
        return String(describing: error)
    }
}

/// Collects one response and completes the promise with it; a connection closed first fails it.
private final class ReplyCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<AdminClient.Reply>
    private var status = 0
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<AdminClient.Reply>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(var part): body.writeBuffer(&part)
        case .end: promise.succeed(AdminClient.Reply(status: status, body: String(buffer: body)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(AdminClient.Failure(description: "the gateway closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
