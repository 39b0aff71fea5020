@testable import JesterGateway
import JesterManifest
import JesterTesting
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing

/// A config problem as a test sees it: from the schema (violations) or from the filter's init.
struct ConfigProblem: Error, CustomStringConvertible {
    var path: String
    var message: String
    var description: String { "\(path): \(message)" }
}

enum FilterTests {
    static func setup(directory: String = "/nonexistent", group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) -> FilterSetup {
        FilterSetup(route: "test-route", directory: directory, logger: JesterFixtures.logger, eventLoopGroup: group)
    }

    /// Makes a filter the way the gateway does: validate the config against the schema, apply its
    /// defaults, then call the initializer.
    static func make<F: BuiltinFilter>(
        _ type: F.Type, _ json: String, directory: String = "/nonexistent", group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) throws -> F {
        let config = try JSONValue.parse(json)
        let schema = try JSONSchema(F.configSchema)
        if let violation = schema.validate(config).first {
            throw ConfigProblem(path: violation.path, message: violation.message)
        }
        do {
            return try F(config: schema.applyingDefaults(to: config), setup: setup(directory: directory, group: group))
        } catch {
            throw ConfigProblem(path: error.path, message: error.description)
        }
    }

    /// The problem `json` has as a config of `type`, or nil when it is fine.
    static func problem<F: BuiltinFilter>(_ type: F.Type, _ json: String, directory: String = "/nonexistent") -> ConfigProblem? {
        do {
            _ = try make(type, json, directory: directory)
            return nil
        } catch let problem as ConfigProblem {
            return problem
        } catch {
            return ConfigProblem(path: "?", message: "\(error)")
        }
    }

    static func exchange(
        _ method: HTTPMethod = .GET, _ path: String = "/", query: String? = nil, headers: [(String, String)] = [],
        client: String = "203.0.113.7", route: String = "test-route", on loop: any EventLoop = EmbeddedEventLoop()
    ) -> FilterExchange {
        FilterExchange(
            method: method, path: path, query: query, requestHeaders: HTTPHeaders(headers), version: .http1_1,
            clientAddress: client, scheme: "https", route: route, listener: "main", eventLoop: loop
        )
    }
}

extension FilterVerdict {
    var isProceed: Bool {
        if case .proceed = self { return true }
        return false
    }

    var response: FilterResponse? {
        if case .respond(let response) = self { return response }
        return nil
    }

    var failure: FilterFailure? {
        if case .failed(let failure) = self { return failure }
        return nil
    }

    var future: EventLoopFuture<FilterVerdict>? {
        if case .later(let future) = self { return future }
        return nil
    }
}

extension FilterResponse {
    var bodyText: String { String(buffer: body) }
}

enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// base64url without padding (as JWTs use), or standard base64 with padding.
    static func encode(_ bytes: some Sequence<UInt8>, url: Bool = true) -> String {
        let bytes = Array(bytes)
        let table = url ? alphabet : standard
        var out: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)], table[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)]]
            if !url { out += Array("==".utf8) }
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [table[Int(n >> 18 & 63)], table[Int(n >> 12 & 63)], table[Int(n >> 6 & 63)]]
            if !url { out += Array("=".utf8) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
