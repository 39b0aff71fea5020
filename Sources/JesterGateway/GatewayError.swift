import JesterManifest
import NIOCore
import NIOHTTP1

/// Why the gateway answered a request itself. Every such answer goes through ``response`` so the
/// mapping from error to status lives in one place.
struct GatewayFailure: Error, Sendable {
    enum Kind: Sendable {
        case noRoute
        case badRequest(String)
        case headersTooLarge
        case bodyTooLarge(limit: Int64)
        case headerTimeout
        case upstreamConnect(String)
        case upstreamClosed(String)
        case upstreamTimeout
        case upstreamProtocol(String)
        case pluginFailed(String)
        case pluginUnavailable(String)
        /// A filter failed; the detail goes to the log, not to the client.
        case filterFailed(filter: String, String)
        /// A filter was busy or over a limit.
        case filterUnavailable(filter: String, String)
        /// A filter needed the whole body and it was larger than its buffer.
        case filterBodyTooLarge(filter: String, limit: Int)
        case shuttingDown
    }

    let kind: Kind
    var route: String?
    var target: String?

    init(_ kind: Kind, route: String? = nil, target: String? = nil) {
        self.kind = kind
        self.route = route
        self.target = target
    }

    var status: HTTPResponseStatus {
        switch kind {
        case .noRoute: .notFound
        case .badRequest: .badRequest
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .headerTimeout: .requestTimeout
        case .upstreamConnect, .upstreamClosed, .upstreamProtocol: .badGateway
        case .upstreamTimeout: .gatewayTimeout
        case .pluginFailed, .filterFailed: .internalServerError
        case .pluginUnavailable, .filterUnavailable, .shuttingDown: .serviceUnavailable
        case .filterBodyTooLarge: .payloadTooLarge
        }
    }

    /// A short machine-readable code, also used in JSON bodies and the access log.
    var code: String {
        switch kind {
        case .noRoute: "no_route"
        case .badRequest: "bad_request"
        case .headersTooLarge: "headers_too_large"
        case .bodyTooLarge: "body_too_large"
        case .headerTimeout: "header_timeout"
        case .upstreamConnect: "upstream_connect_failed"
        case .upstreamClosed: "upstream_closed"
        case .upstreamTimeout: "upstream_timeout"
        case .upstreamProtocol: "upstream_protocol_error"
        case .pluginFailed: "plugin_failed"
        case .pluginUnavailable: "plugin_unavailable"
        case .filterFailed: "filter_failed"
        case .filterUnavailable: "filter_unavailable"
        case .filterBodyTooLarge: "filter_body_too_large"
        case .shuttingDown: "shutting_down"
        }
    }

    var message: String {
        let whereText = [route.map { "route '\($0)'" }, target.map { "upstream \($0)" }].compactMap { $0 }.joined(separator: ", ")
        let suffix = whereText.isEmpty ? "" : " (\(whereText))"
        switch kind {
        case .noRoute: return "no route matches this request"
        case .badRequest(let why): return "bad request: \(why)"
        case .headersTooLarge: return "request headers too large"
        case .bodyTooLarge(let limit): return "request body larger than \(limit) bytes\(suffix)"
        case .headerTimeout: return "request headers not received in time"
        case .upstreamConnect(let why): return "could not connect to the upstream: \(why)\(suffix)"
        case .upstreamClosed(let why): return "the upstream closed the connection before answering: \(why)\(suffix)"
        case .upstreamTimeout: return "the upstream did not answer in time\(suffix)"
        case .upstreamProtocol(let why): return "the upstream sent an invalid response: \(why)\(suffix)"
        case .pluginFailed(let why): return "the plugin failed: \(why)\(suffix)"
        case .pluginUnavailable(let why): return "the plugin is unavailable: \(why)\(suffix)"
        case .filterFailed(let filter, _): return "filter \(filter) failed\(suffix)"
        case .filterUnavailable(let filter, _): return "filter \(filter) is unavailable\(suffix)"
        case .filterBodyTooLarge(let filter, let limit): return "filter \(filter) buffers bodies of at most \(limit) bytes, and this one is larger\(suffix)"
        case .shuttingDown: return "the gateway is shutting down"
        }
    }

    /// What the log says beyond ``message``: a filter's error.
    var detail: String? {
        switch kind {
        case .filterFailed(_, let detail), .filterUnavailable(_, let detail): return detail
        default: return nil
        }
    }

    /// The response: JSON when the client accepts JSON, plain text otherwise.
    func response(acceptJSON: Bool, version: HTTPVersion, close: Bool) -> (HTTPResponseHead, ByteBuffer) {
        var body: String
        var headers = HTTPHeaders()
        if acceptJSON {
            var fields = ["\"error\":\(jsonString(code))", "\"status\":\(status.code)", "\"message\":\(jsonString(message))"]
            if let route { fields.append("\"route\":\(jsonString(route))") }
            if let target { fields.append("\"upstream\":\(jsonString(target))") }
            body = "{" + fields.joined(separator: ",") + "}\n"
            headers.add(name: "content-type", value: "application/json")
        } else {
            body = "\(status.code) \(status.reasonPhrase): \(message)\n"
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        }
        headers.add(name: "content-length", value: String(body.utf8.count))
        if close, version.major == 1 { headers.add(name: "connection", value: "close") }
        return (HTTPResponseHead(version: version, status: status, headers: headers), ByteBuffer(string: body))
    }
}

func jsonString(_ s: String) -> String {
    JSONValue.string(s).serialized()
}
