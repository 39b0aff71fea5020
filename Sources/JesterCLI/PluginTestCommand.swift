import ArgumentParser
import Foundation
import JesterGateway
import JesterManifest
import JesterRuntime
import Logging

/// `jester plugin test [dir]`: runs the cases of a plugin's `tests.json` against its built module.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a plugin's tests.json against its built module, in the sandbox the gateway uses.",
        discussion: """
            Each case either calls `handle` with an input and checks the output (or the error), or runs an \
            http-filter's on-request and on-response on a request (and an upstream response) and checks \
            the action, status, headers and body. The plugin gets what its manifest requests; its config is \
            checked against config_schema, defaults filled in, as the gateway does.

            tests.json:
              {
                "config": { "keys": "k1,k2" },                       (for every case; a case may override keys)
                "cases": [
                  { "name": "greets", "input": "World", "expect": { "output": "Hello, World!" } },
                  { "name": "fails", "input": "", "expect": { "error": "no input" } },
                  { "name": "401 without a key",
                    "request": { "method": "GET", "path": "/", "query": "a=1", "headers": { "x-api-key": "k3" }, "body": "" },
                    "response": { "status": 200, "headers": { "server": "nginx" }, "body": "..." },
                    "expect": { "action": "respond", "status": 401, "headers": { "www-authenticate": "Bearer" },
                                "request_headers": { "x-api-key": null }, "body_contains": "unauthorized" } }
                ]
              }
            A header expected as null must be absent. `body` (or `body_contains`) checks the response body, \
            `request_body` the request's, `path` and `method` the request's after the filter.

            A plugin that exports on-request-body or on-response-body gets each body it does not buffer in \
            chunks, as the gateway streams it: every chunk of `body_chunks` (a list of strings, instead of \
            `body`; a `body` is one chunk) is one call, then one call with no bytes marks the end. The \
            expected body is what the hook made of them. The request body streams only after on-request \
            continued, the response body after on-response, and only when the status and method allow one.

            Examples:
              jester plugin test
              jester plugin test examples/plugins/swift-auth --verbose
            """
    )

    @Argument(help: "The plugin directory (with plugin.json, the built module and tests.json).")
    var directory: String = "."

    @Option(help: "The test file (default: tests.json in the plugin directory).")
    var file: String?

    @Flag(help: "Print the guest's log messages of every case, not only of failed ones.")
    var verbose = false

    func run() async throws {
        let bundle = try loadBundle(directory)
        let testPath = file ?? (directory as NSString).appendingPathComponent("tests.json")
        guard let data = FileManager.default.contents(atPath: testPath) else {
            throw Failure(message: "\(testPath) does not exist: write the plugin's test cases there (see `jester plugin test --help`)")
        }
        let suite: PluginTestSuite
        do {
            suite = try PluginTestSuite(json: JSONValue.parse(bytes: [UInt8](data)), file: testPath)
        } catch let error as JSONSyntaxError {
            throw Failure(message: "\(testPath): \(error)")
        }
        let host = PluginHost(logger: .init(label: "jester.plugin.test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let grants = PluginGrants.asRequested(by: bundle.manifest.permissions, environment: ProcessInfo.processInfo.environment)
        var passed = 0
        var failed = 0
        // One plugin (validated and compiled once) per distinct config; its instances are pooled.
        var plugins: [[String: String]: Plugin] = [:]
        for (index, testCase) in suite.cases.enumerated() {
            let outcome: PluginTestSuite.Outcome
            do {
                let config = try suite.config(for: index, schema: bundle.manifest.configSchema)
                let plugin = try plugins[config] ?? host.makePlugin(manifest: bundle.manifest, wasm: bundle.wasm, config: config, grants: grants)
                plugins[config] = plugin
                outcome = try await testCase.run(on: plugin)
            } catch let failure as Failure {
                outcome = .init(problems: [failure.message], logs: [])
            } catch {
                outcome = .init(problems: ["\(error)"], logs: [])
            }
            if outcome.problems.isEmpty {
                passed += 1
                Console.out("pass  \(testCase.name)")
            } else {
                failed += 1
                Console.out("FAIL  \(testCase.name)")
                for problem in outcome.problems { Console.out("        \(problem)") }
            }
            if verbose || !outcome.problems.isEmpty {
                for entry in outcome.logs { Console.out("        log: \(entry)") }
            }
        }
        Console.out("\(bundle.manifest.id): \(passed) passed, \(failed) failed")
        if failed > 0 || suite.cases.isEmpty { throw ExitCode.failure }
    }
}

/// The cases of a `tests.json`, strictly decoded: an unknown key is an error naming its path.
struct PluginTestSuite {
    var config: JSONValue
    var cases: [PluginTestCase]
    let file: String

    struct Outcome {
        var problems: [String]
        var logs: [PluginLogEntry]
    }

    init(json: JSONValue, file: String) throws {
        self.file = file
        let reader = StrictObject(json, path: "", file: file)
        try reader.allow(["config", "cases"])
        config = try reader.object("config") ?? .object([])
        guard let list = json["cases"]?.arrayValue, !list.isEmpty else {
            throw Failure(message: "\(file): cases: expected a non-empty array of test cases")
        }
        cases = try list.enumerated().map { try PluginTestCase($1, path: "cases[\($0)]", file: file) }
    }

    /// The config of case `index`: the suite's, overlaid with the case's, checked against the
    /// plugin's schema with its defaults, as the `config` interface gives it.
    func config(for index: Int, schema: JSONValue?) throws -> [String: String] {
        var members = config.objectValue ?? []
        for (key, value) in cases[index].config?.objectValue ?? [] {
            members.removeAll { $0.key == key }
            members.append((key, value))
        }
        var value = JSONValue.object(members)
        if let schema {
            let compiled: JSONSchema
            do {
                compiled = try JSONSchema(schema)
            } catch {
                throw Failure(message: "plugin.json: config_schema is not a valid schema: \(error)")
            }
            let violations = compiled.validate(value)
            guard violations.isEmpty else {
                throw Failure(message: violations.map { "config\($0.path.dropFirst()): \($0.message)" }.joined(separator: "; "))
            }
            value = compiled.applyingDefaults(to: value)
        }
        return value.pluginConfigStrings
    }
}

/// Reads one JSON object, refusing keys it does not know.
private struct StrictObject {
    let value: JSONValue
    let path: String
    let file: String

    init(_ value: JSONValue, path: String, file: String) {
        self.value = value
        self.path = path
        self.file = file
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func fail(_ key: String, _ message: String) -> Failure {
        Failure(message: "\(file): \(self.key(key)): \(message)")
    }

    func allow(_ keys: [String]) throws {
        guard let members = value.objectValue else { throw Failure(message: "\(file): \(path.isEmpty ? "the file" : path): expected an object") }
        for member in members where !keys.contains(member.key) {
            throw fail(member.key, "unknown key; expected one of \(keys.joined(separator: ", "))")
        }
    }

    func string(_ name: String) throws -> String? {
        guard let member = value[name] else { return nil }
        guard let text = member.stringValue else { throw fail(name, "expected a string, found \(member.typeDescription)") }
        return text
    }

    func integer(_ name: String) throws -> Int? {
        guard let member = value[name] else { return nil }
        guard let number = member.integerValue else { throw fail(name, "expected an integer, found \(member.typeDescription)") }
        return Int(number)
    }

    func object(_ name: String) throws -> JSONValue? {
        guard let member = value[name] else { return nil }
        guard member.objectValue != nil else { throw fail(name, "expected an object, found \(member.typeDescription)") }
        return member
    }

    /// Header fields: `{"name": "value"}` or `{"name": ["v1", "v2"]}`.
    func headers(_ name: String) throws -> [(String, String)] {
        guard let members = try object(name)?.objectValue else { return [] }
        var fields: [(String, String)] = []
        for (header, value) in members {
            if let text = value.stringValue {
                fields.append((header, text))
            } else if let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) {
                fields += list.map { (header, $0.stringValue!) }
            } else {
                throw fail("\(name).\(header)", "expected a string or an array of strings")
            }
        }
        return fields
    }

    /// Expected headers: a string each, or null for "absent".
    func expectedHeaders(_ name: String) throws -> [(String, String?)] {
        guard let members = try object(name)?.objectValue else { return [] }
        return try members.map { header, value in
            if value == .null { return (header, nil) }
            guard let text = value.stringValue else { throw fail("\(name).\(header)", "expected a string, or null for a header that must be absent") }
            return (header, text)
        }
    }
}

/// One case of a `tests.json`.
struct PluginTestCase {
    enum Kind {
        case handler(input: [UInt8])
        case filter(request: TestMessages.Message, response: TestMessages.Message?)
    }

    struct Expectation {
        var output: String?
        var error: String?
        var action: HTTPFilterAction?
        var status: Int?
        var headers: [(String, String?)] = []
        var requestHeaders: [(String, String?)] = []
        var body: String?
        var bodyContains: String?
        var requestBody: String?
        var path: String?
        var method: String?
    }

    var name: String
    var config: JSONValue?
    var kind: Kind
    var expect: Expectation

    init(_ json: JSONValue, path: String, file: String) throws {
        let reader = StrictObject(json, path: path, file: file)
        try reader.allow(["name", "config", "input", "request", "response", "expect"])
        guard let name = try reader.string("name") else { throw reader.fail("name", "every case needs a name") }
        self.name = name
        config = try reader.object("config")
        if let input = try reader.string("input") {
            guard json["request"] == nil else { throw reader.fail("request", "a case has either input (a handler) or request (a filter), not both") }
            kind = .handler(input: Array(input.utf8))
        } else if let request = try reader.object("request") {
            kind = .filter(request: try Self.message(request, path: reader.key("request"), file: file, isRequest: true),
                           response: try reader.object("response").map { try Self.message($0, path: reader.key("response"), file: file, isRequest: false) })
        } else {
            throw reader.fail("input", "a case needs input (for handle) or request (for an http-filter)")
        }
        guard let expected = try reader.object("expect") else { throw reader.fail("expect", "every case needs expect") }
        let e = StrictObject(expected, path: reader.key("expect"), file: file)
        try e.allow(["output", "error", "action", "status", "headers", "request_headers", "body", "body_contains", "request_body", "path", "method"])
        expect = Expectation()
        expect.output = try e.string("output")
        expect.error = try e.string("error")
        if let action = try e.string("action") {
            switch action {
            case "continue": expect.action = .continue
            case "respond": expect.action = .respond
            default: throw e.fail("action", "expected \"continue\" or \"respond\"")
            }
        }
        expect.status = try e.integer("status")
        expect.headers = try e.expectedHeaders("headers")
        expect.requestHeaders = try e.expectedHeaders("request_headers")
        expect.body = try e.string("body")
        expect.bodyContains = try e.string("body_contains")
        expect.requestBody = try e.string("request_body")
        expect.path = try e.string("path")
        expect.method = try e.string("method")
    }

    private static func message(_ json: JSONValue, path: String, file: String, isRequest: Bool) throws -> TestMessages.Message {
        let reader = StrictObject(json, path: path, file: file)
        try reader.allow(isRequest ? ["method", "path", "query", "headers", "body", "body_chunks", "client_address"] : ["status", "headers", "body", "body_chunks"])
        var message = TestMessages.Message()
        message.method = try reader.string("method") ?? "GET"
        message.path = try reader.string("path") ?? "/"
        message.query = try reader.string("query") ?? ""
        message.clientAddress = try reader.string("client_address") ?? "127.0.0.1"
        message.status = try reader.integer("status") ?? 200
        message.headers = try reader.headers("headers")
        message.body = try reader.string("body").map { Array($0.utf8) }
        if let chunks = json["body_chunks"] {
            guard message.body == nil else { throw reader.fail("body_chunks", "give either body or body_chunks, not both") }
            let texts = chunks.arrayValue?.compactMap(\.stringValue)
            guard let texts, texts.count == chunks.arrayValue?.count else {
                throw reader.fail("body_chunks", "expected an array of strings, one for each chunk")
            }
            message.chunks = texts.map { Array($0.utf8) }
            message.body = message.chunks?.flatMap { $0 }
        }
        return message
    }

    func run(on plugin: Plugin) async throws -> PluginTestSuite.Outcome {
        switch kind {
        case .handler(let input):
            let result = try await plugin.execute(nil, input: input)
            var problems: [String] = []
            let output = String(decoding: result.output, as: UTF8.self)
            if let error = expect.error {
                let message = result.errors.joined(separator: "; ")
                if result.success {
                    problems.append("expected an error containing \"\(error)\", but the call succeeded with \"\(output)\"")
                } else if !message.contains(error) {
                    problems.append("expected an error containing \"\(error)\", got \"\(message)\"")
                }
            } else if !result.success {
                problems.append("the call failed: \(result.errors.joined(separator: "; "))")
            }
            if let expected = expect.output, result.success, output != expected {
                problems.append("output: expected \"\(expected)\", got \"\(output)\"")
            }
            return .init(problems: problems, logs: result.logs)
        case .filter(let request, let upstream):
            return try runFilter(plugin, request: request, upstream: upstream)
        }
    }

    /// Runs the filter as the gateway does: `on-request` with a fresh response; then
    /// `on-response` with the filter's answer (after `respond`) or the upstream's response.
    private func runFilter(_ plugin: Plugin, request: TestMessages.Message, upstream: TestMessages.Message?) throws -> PluginTestSuite.Outcome {
        let session = try plugin.openHTTPFilterSession()
        defer { session.close() }
        // Bodies are there only when the manifest asks for them, as in the gateway; the fresh
        // response of on-request has an empty one.
        let buffering = plugin.manifest.httpFilter ?? HTTPFilterOptions()
        let requestChunks = request.arrivingChunks
        var request = request
        if !buffering.bufferRequestBody { request.body = nil }
        var fresh = TestMessages.Message()
        fresh.body = []
        let messages = TestMessages(request: request, response: fresh)
        var action = HTTPFilterAction.continue
        if session.handlesRequests { action = try session.onRequest(messages) }
        if action == .continue, session.handlesRequestBodies, !buffering.bufferRequestBody, !requestChunks.isEmpty {
            messages.request.body = try stream(requestChunks, through: session, .request, messages)
        }
        var responseChunks: [[UInt8]] = []
        if action == .continue {
            var response = upstream ?? TestMessages.Message()
            responseChunks = response.arrivingChunks
            if !buffering.bufferResponseBody { response.body = nil }
            messages.response = response
        }
        if session.handlesResponses { _ = try session.onResponse(messages) }
        if session.handlesResponseBodies, !buffering.bufferResponseBody, HTTPFilterSession.responseMayHaveBody(status: messages.response.status, method: messages.request.method) {
            // After `respond`, the body is the one the filter set (the gateway streams it too).
            if action == .respond { responseChunks = messages.response.arrivingChunks }
            messages.response.body = try stream(responseChunks, through: session, .response, messages)
        }
        let logs = session.takeLogs()

        var problems: [String] = []
        if let expected = expect.action, expected != action {
            problems.append("action: expected \(expected), got \(action)")
        }
        if let expected = expect.status, expected != messages.response.status {
            problems.append("status: expected \(expected), got \(messages.response.status)")
        }
        for (name, expected) in expect.headers {
            check(name, expected, in: messages.response, "headers", &problems)
        }
        for (name, expected) in expect.requestHeaders {
            check(name, expected, in: messages.request, "request_headers", &problems)
        }
        let body = String(decoding: messages.response.body ?? [], as: UTF8.self)
        if let expected = expect.body, body != expected { problems.append("body: expected \"\(expected)\", got \"\(body)\"") }
        if let expected = expect.bodyContains, !body.contains(expected) { problems.append("body: expected it to contain \"\(expected)\", got \"\(body)\"") }
        let requestBody = String(decoding: messages.request.body ?? [], as: UTF8.self)
        if let expected = expect.requestBody, requestBody != expected { problems.append("request_body: expected \"\(expected)\", got \"\(requestBody)\"") }
        if let expected = expect.path, messages.request.path != expected { problems.append("path: expected \(expected), got \(messages.request.path)") }
        if let expected = expect.method, messages.request.method != expected { problems.append("method: expected \(expected), got \(messages.request.method)") }
        return .init(problems: problems, logs: logs)
    }

    /// Calls the body hook of `message` once for each chunk, then once with none to end the body,
    /// as the gateway does; returns the body the hook made.
    private func stream(_ chunks: [[UInt8]], through session: HTTPFilterSession, _ message: HTTPFilterMessage, _ messages: TestMessages) throws -> [UInt8] {
        var out: [UInt8] = []
        // An empty chunk in the middle of a body carries nothing; the gateway does not pass one on.
        for chunk in chunks where !chunk.isEmpty {
            let replaced = try chunk.withUnsafeBytes { try session.onBody(message, chunk: $0, end: false, messages: messages) }
            out += replaced ?? chunk
        }
        out += try [UInt8]().withUnsafeBytes { try session.onBody(message, chunk: $0, end: true, messages: messages) } ?? []
        return out
    }

    private func check(_ name: String, _ expected: String?, in message: TestMessages.Message, _ key: String, _ problems: inout [String]) {
        let actual = message.values(name)
        if let expected {
            if actual.first != expected {
                problems.append("\(key).\(name): expected \"\(expected)\", got \(actual.isEmpty ? "no such header" : "\"\(actual.joined(separator: ", "))\"")")
            }
        } else if !actual.isEmpty {
            problems.append("\(key).\(name): expected no such header, got \"\(actual.joined(separator: ", "))\"")
        }
    }
}

/// A request and a response held in memory, as the `http` interface's resources, for
/// `jester plugin test`. Accepts what the gateway accepts (``HeaderNames``).
final class TestMessages: HTTPFilterMessages {
    struct Message {
        var method = "GET"
        var path = "/"
        var query = ""
        var clientAddress = "127.0.0.1"
        var status = 200
        var headers: [(String, String)] = []
        /// Nil: not buffered (the manifest did not ask for it) and not set.
        var body: [UInt8]?
        /// The body as it arrives in chunks, when the case gives `body_chunks`.
        var chunks: [[UInt8]]?

        /// What a body hook is called with: the chunks given, or the body as one chunk.
        var arrivingChunks: [[UInt8]] { chunks ?? (body.map { $0.isEmpty ? [] : [$0] } ?? []) }

        func values(_ name: String) -> [String] {
            headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
        }
    }

    var request: Message
    var response: Message

    init(request: Message, response: Message) {
        self.request = request
        self.response = response
    }

    var method: String { request.method }
    func setMethod(_ method: String) -> Bool {
        guard HeaderNames.isToken(method) else { return false }
        request.method = method
        return true
    }

    var path: String { request.path }
    func setPath(_ path: String) -> Bool {
        guard HeaderNames.isPath(path) else { return false }
        request.path = path
        return true
    }

    var query: String { request.query }
    func setQuery(_ query: String) -> Bool {
        guard HeaderNames.isQuery(query) else { return false }
        request.query = query
        return true
    }

    var clientAddress: String { request.clientAddress }

    var status: Int { response.status }
    func setStatus(_ status: Int) -> Bool {
        guard (100...999).contains(status) else { return false }
        response.status = status
        return true
    }

    private func edit(_ message: HTTPFilterMessage, _ body: (inout Message) -> Void) {
        if message == .request { body(&request) } else { body(&response) }
    }

    private func read(_ message: HTTPFilterMessage) -> Message { message == .request ? request : response }

    func header(_ name: String, in message: HTTPFilterMessage) -> String? { read(message).values(name).first }
    func headerValues(_ name: String, in message: HTTPFilterMessage) -> [String] { read(message).values(name) }

    func headerNames(in message: HTTPFilterMessage) -> [String] {
        var names: [String] = []
        for (name, _) in read(message).headers where !names.contains(name.lowercased()) { names.append(name.lowercased()) }
        return names
    }

    func setHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool {
        guard HeaderNames.isToken(name), HeaderNames.isValue(value) else { return false }
        edit(message) { target in
            target.headers.removeAll { $0.0.lowercased() == name.lowercased() }
            target.headers.append((name, value))
        }
        return true
    }

    func addHeader(_ name: String, _ value: String, in message: HTTPFilterMessage) -> Bool {
        guard HeaderNames.isToken(name), HeaderNames.isValue(value) else { return false }
        edit(message) { $0.headers.append((name, value)) }
        return true
    }

    func removeHeader(_ name: String, in message: HTTPFilterMessage) {
        edit(message) { target in target.headers.removeAll { $0.0.lowercased() == name.lowercased() } }
    }

    func withBody(of message: HTTPFilterMessage, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> HTTPFilterBodyUnavailable? {
        guard let bytes = read(message).body else { return .notBuffered }
        try bytes.withUnsafeBytes { try body($0) }
        return nil
    }

    func setBody(_ bytes: UnsafeRawBufferPointer, of message: HTTPFilterMessage) {
        edit(message) { $0.body = Array(bytes) }
    }
}
