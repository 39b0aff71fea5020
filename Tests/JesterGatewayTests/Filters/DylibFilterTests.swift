import Foundation
@_spi(Testing) import JesterGateway
import JesterManifest
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Dylib filters: the example and `Fixtures/test_filter.c`, compiled with `cc` for the suite,
/// loaded and driven with exchanges on an `EmbeddedEventLoop`. Tests are synchronous: an
/// embedded loop belongs to the thread that made it, and the host checks the thread.
@Suite("Dylib filters")
struct DylibFilterTests {
    // MARK: The example

    @Test("the example adds its header and answers 401 without the required one")
    func example() throws {
        let libraries = try CompiledLibraries.shared.get()
        let filter = try DylibFilter.load(
            path: libraries.example, config: ["require": "x-api-key", "add_header": "x-gateway", "add_value": "jester"], label: "dylib:header",
            logger: quietLogger)
        #expect(filter.name == "header")
        #expect(filter.requirements == FilterRequirements())

        let loop = EmbeddedEventLoop()
        let allowed = makeExchange(loop, headers: [("x-api-key", "secret")])
        #expect(isProceed(filter.onRequest(allowed)))
        #expect(allowed.requestHeaders["x-gateway"] == ["jester"])
        allowed.status = .created
        #expect(isProceed(filter.onResponse(allowed)))
        #expect(allowed.responseHeaders["x-gateway"] == ["jester"])
        #expect(allowed.status == .created)

        let refused = makeExchange(loop)
        let response = try #require(responseOf(filter.onRequest(refused)))
        #expect(response.status == .unauthorized)
        #expect(response.headers["content-type"] == ["text/plain; charset=utf-8"])
        #expect(String(buffer: response.body) == "missing x-api-key\n")
        #expect(!refused.requestHeaders.contains(name: "x-gateway"))
        #expect(refused.responseHeaders.isEmpty)
        #expect(refused.status == .ok)
    }

    @Test("the example without `require` passes everything, with its default header")
    func exampleDefaults() throws {
        let libraries = try CompiledLibraries.shared.get()
        let filter = try DylibFilter.load(path: libraries.example, config: [:], label: "dylib:header", logger: quietLogger)
        let exchange = makeExchange(EmbeddedEventLoop())
        #expect(isProceed(filter.onRequest(exchange)))
        #expect(exchange.requestHeaders["x-gateway"] == ["jester"])
    }

    @Test("the example refuses a config it cannot read, with its own message")
    func exampleBadConfig() throws {
        let libraries = try CompiledLibraries.shared.get()
        let error = try #require(loadError(libraries.example, config: ["require": 5]))
        #expect(error.contains("dylib filter 'dylib:x'"))
        #expect(error.contains("create() refused the config: `require` must be a string without escapes"))
    }

    @Test("the example is safe to call from several event loops at once")
    func concurrentCalls() throws {
        let libraries = try CompiledLibraries.shared.get()
        let filter = try DylibFilter.load(path: libraries.example, config: ["require": "x-api-key"], label: "dylib:header", logger: quietLogger)
        let outcomes = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            let loop = EmbeddedEventLoop()
            var passed = 0
            for index in 0..<500 {
                let exchange = makeExchange(loop, headers: index % 2 == 0 ? [("x-api-key", "k\(thread)")] : [])
                switch filter.onRequest(exchange) {
                case .proceed where exchange.requestHeaders["x-gateway"] == ["jester"]: passed += 1
                case .respond(let response) where response.status == .unauthorized: passed += 1
                default: break
                }
                filter.onFinish(exchange)
            }
            outcomes.withLock { $0.append(passed) }
        }
        #expect(outcomes.withLock { $0 } == [500, 500, 500, 500])
    }

    // MARK: Loading

    @Test("a missing file, a file that is not a library and a library without the entry are named as such")
    func loadFailures() throws {
        let libraries = try CompiledLibraries.shared.get()
        let missing = try #require(loadError(libraries.directory + "/nowhere.so"))
        #expect(missing.contains("no such file"))
        #expect(missing.contains("nowhere.so"))

        let notLibrary = try #require(loadError(libraries.notALibrary))
        #expect(notLibrary.contains("cannot be loaded as a shared library:"))
        // The loader's own reason (dlerror) is in the message.
        #expect(notLibrary.contains("not-a-library.so:"))

        let noEntry = try #require(loadError(libraries.noEntry))
        #expect(noEntry.contains("does not export jester_filter_v1"))
    }

    @Test("a library of another ABI major is refused with both versions and the fix")
    func abiMismatch() throws {
        let libraries = try CompiledLibraries.shared.get()
        let major = try #require(loadError(libraries.badABI))
        #expect(major.contains("built for filter ABI 99.3, but this gateway speaks ABI 1.0"))
        #expect(major.contains("Rebuild it against this gateway's include/jester_filter.h"))

        let entryV2 = try #require(loadError(libraries.entryV2))
        #expect(entryV2.contains("it exports jester_filter_v2, so it was built for filter ABI 2.x, but this gateway speaks ABI 1.0"))
    }

    @Test("a descriptor with unknown flags, a short size or no name is refused")
    func badDescriptors() throws {
        let libraries = try CompiledLibraries.shared.get()
        let flags = try #require(loadError(libraries.unknownFlag))
        #expect(flags.contains("sets flags 0x80 that ABI 1.0 does not know"))
        let size = try #require(loadError(libraries.smallSize))
        #expect(size.contains("its descriptor says it is 8 bytes, but ABI 1.0 needs"))
        let name = try #require(loadError(libraries.noName))
        #expect(name.contains("its descriptor has no name"))
    }

    @Test("create() failing is a load error with the library's message, or says it gave none")
    func createFails() throws {
        let libraries = try CompiledLibraries.shared.get()
        let refused = try #require(loadError(libraries.test, config: ["refuse": true]))
        #expect(refused.contains("create() refused the config: refusing: the config says so (15 bytes)"))
        let silent = try #require(loadError(libraries.test, config: ["silent": true]))
        #expect(silent.contains("create() refused the config and gave no message"))
    }

    @Test("a library is loaded once per path; another file is another library")
    func loadedOnce() throws {
        let libraries = try CompiledLibraries.shared.get()
        let logger = quietLogger
        let first = try DylibFilter.load(path: libraries.test, config: [:], label: "dylib:a", logger: logger)
        let second = try DylibFilter.load(path: libraries.directory + "/./libtest.so", config: [:], label: "dylib:b", logger: logger)
        let other = try DylibFilter.load(path: libraries.copy, config: [:], label: "dylib:c", logger: logger)
        #expect(first.path == second.path)
        let loop = EmbeddedEventLoop()
        func marker(_ filter: DylibFilter) -> String? {
            let exchange = makeExchange(loop, mode: "global")
            _ = filter.onRequest(exchange)
            return exchange.requestHeaders.first(name: "x-global")
        }
        #expect(marker(first) != nil)
        #expect(marker(first) == marker(second))
        #expect(marker(first) != marker(other))
    }

    @Test("the filter logs through the host, tagged with its label, and destroy runs when it goes")
    func logsAndDestroy() throws {
        let libraries = try CompiledLibraries.shared.get()
        let recorder = LogRecorder()
        var filter: DylibFilter? = try DylibFilter.load(path: libraries.test, config: [:], label: "dylib:logs", logger: recorder.logger)
        #expect(recorder.lines == ["info dylib:logs created"])
        #expect(filter?.name == "test")
        filter = nil
        #expect(recorder.lines == ["info dylib:logs created", "info dylib:logs destroyed"])
    }

    // MARK: The host functions

    @Test("the request line, client address and status read through the host")
    func requestLine() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "echo")
        #expect(isProceed(filter.onRequest(exchange)))
        let headers = exchange.requestHeaders
        #expect(headers["x-method"] == ["GET"])
        #expect(headers["x-path"] == ["/items"])
        #expect(headers["x-query"] == ["page=2"])
        #expect(headers["x-client"] == ["203.0.113.7"])
        #expect(headers["x-status-seen"] == ["200"])
        #expect(headers["x-nul"] == ["1"])

        exchange.status = .created
        // JESTER_RESPOND in on_response is the same as continue.
        #expect(isProceed(filter.onResponse(exchange)))
        #expect(exchange.responseHeaders["x-status-seen"] == ["201"])
        #expect(exchange.responseHeaders["x-body-code"] == ["3"])
        #expect(exchange.status.code == 299)
    }

    @Test("the request line can be edited; invalid values change nothing")
    func editRequestLine() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "edit")
        #expect(isProceed(filter.onRequest(exchange)))
        #expect(exchange.method == .PATCH)
        #expect(exchange.path == "/edited")
        #expect(exchange.query == "a=1")
        for name in ["x-bad-path", "x-bad-method", "x-bad-query"] {
            #expect(exchange.requestHeaders[name] == ["2"], "\(name)")
        }
    }

    @Test("invalid names, values, UTF-8, messages, outputs and statuses are JESTER_INVALID")
    func invalidArguments() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "invalid")
        #expect(isProceed(filter.onRequest(exchange)))
        let headers = exchange.requestHeaders
        for name in ["x-crlf", "x-bad-name", "x-utf8", "x-bad-message", "x-null-out", "x-bad-status"] {
            #expect(headers[name] == ["2"], "\(name)")
        }
        #expect(headers["x-absent"] == ["1"])
        #expect(!headers.contains(name: "x-ok"))
        #expect(!headers.contains(name: "bad name"))
    }

    @Test("header values and names are listed, and headers added and removed")
    func headers() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "headers", headers: [("x-multi", "a"), ("X-Multi", "b"), ("X-Remove-Me", "1")])
        #expect(isProceed(filter.onRequest(exchange)))
        let headers = exchange.requestHeaders
        #expect(headers["x-first"] == ["a"])
        #expect(headers["x-values"] == ["a,b"])
        #expect(headers["x-names"] == ["x-test,x-multi,x-remove-me"])
        #expect(headers["x-multi"] == ["a", "b", "c"])
        #expect(!headers.contains(name: "x-remove-me"))
        #expect(headers["x-remove"] == ["0"])
        #expect(headers["x-remove-absent"] == ["0"])
    }

    @Test("JESTER_RESPOND in on_request answers with the fresh response the filter set")
    func respond() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "respond")
        let response = try #require(responseOf(filter.onRequest(exchange)))
        #expect(response.status == .imATeapot)
        #expect(response.headers["content-type"] == ["text/plain"])
        #expect(response.headers["x-a"] == ["1", "2"])
        // It saw a fresh 200 with an empty body; content-length is the gateway's to set.
        #expect(response.headers["x-fresh"] == ["200/0"])
        #expect(!response.headers.contains(name: "content-length"))
        #expect(String(buffer: response.body) == "short and stout")
        #expect(exchange.status == .ok)
        #expect(exchange.responseHeaders.isEmpty)
        #expect(exchange.responseBody == nil)
    }

    @Test("edits to the fresh response do not outlive an on_request that continues")
    func freshResponseIsDropped() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "dirty")
        #expect(isProceed(filter.onRequest(exchange)))
        #expect(exchange.status == .ok)
        #expect(exchange.responseHeaders.isEmpty)
    }

    @Test(
        "JESTER_FAIL and JESTER_UNAVAILABLE are failures with the library's reason; other values are failures too",
        arguments: [
            ("fail", "on_request of 'test' returned JESTER_FAIL: backend said no", false),
            ("fail-silent", "on_request of 'test' returned JESTER_FAIL: no reason given (call set_error before returning)", false),
            ("unavailable", "on_request of 'test' returned JESTER_UNAVAILABLE: busy", true),
            ("bogus", "on_request of 'test' returned 42, which is not JESTER_CONTINUE (0), JESTER_RESPOND (1), JESTER_FAIL (2) or JESTER_UNAVAILABLE (3)", false),
        ])
    func failures(mode: String, message: String, unavailable: Bool) throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: mode)
        let failure = try #require(failureOf(filter.onRequest(exchange)))
        #expect(failure.message == message)
        #expect(failure.unavailable == unavailable)
        #expect(exchange.responseHeaders.isEmpty)
    }

    @Test("JESTER_FAIL in on_response is a failure")
    func responseFailure() throws {
        let filter = try testFilter()
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "fail-response")
        #expect(isProceed(filter.onRequest(exchange)))
        let failure = try #require(failureOf(filter.onResponse(exchange)))
        #expect(failure.message == "on_response of 'test' returned JESTER_FAIL: cannot read the response")
    }

    @Test("request data lives from on_request to on_response and goes to on_finish")
    func requestData() throws {
        let recorder = LogRecorder()
        let filter = try DylibFilter.load(path: CompiledLibraries.shared.get().test, config: [:], label: "dylib:state", logger: recorder.logger)
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "state", path: "/state-path")
        #expect(isProceed(filter.onRequest(exchange)))
        #expect(isProceed(filter.onResponse(exchange)))
        #expect(exchange.responseHeaders["x-state"] == ["/state-path"])
        filter.onFinish(exchange)
        filter.onFinish(exchange)
        #expect(recorder.lines.filter { $0.contains("finished") } == ["info dylib:state finished /state-path"])
    }

    @Test("bodies are readable only when the descriptor asks for buffering, and can be replaced")
    func bodies() throws {
        let libraries = try CompiledLibraries.shared.get()
        let loop = EmbeddedEventLoop()

        let unbuffered = try testFilter()
        let streaming = makeExchange(loop, mode: "body")
        #expect(isProceed(unbuffered.onRequest(streaming)))
        #expect(streaming.requestHeaders["x-body-code"] == ["3"])
        #expect(streaming.requestBody.map { String(buffer: $0) } == "replaced")
        #expect(streaming.requestBodyReplaced)

        let buffered = try DylibFilter.load(path: libraries.buffer, config: [:], label: "dylib:body", logger: quietLogger)
        #expect(buffered.requirements == FilterRequirements(bufferRequestBody: true, bufferResponseBody: true, maxBodyBytes: 4096))
        for body in ["hello", ""] {
            let exchange = makeExchange(loop, mode: "body")
            exchange.requestBody = ByteBuffer(string: body)
            #expect(isProceed(buffered.onRequest(exchange)))
            #expect(exchange.requestHeaders["x-body-code"] == ["0"])
            #expect(exchange.requestHeaders["x-body-len"] == ["\(body.utf8.count)"])
            #expect(exchange.requestHeaders["x-body-nonnull"] == ["1"])
            #expect(exchange.requestBody.map { String(buffer: $0) } == "replaced")

            exchange.responseBody = ByteBuffer(string: "abc")
            #expect(isProceed(buffered.onResponse(exchange)))
            #expect(exchange.responseHeaders["x-body-code"] == ["0"])
            #expect(exchange.responseBody.map { String(buffer: $0) } == "ABC")
        }
    }

    @Test("a handle used after its callback returned gets JESTER_BAD_CALL")
    func staleHandle() throws {
        let libraries = try CompiledLibraries.shared.get()
        // A library of its own: the fixture keeps the handle and host table in globals.
        let filter = try DylibFilter.load(path: libraries.stale, config: [:], label: "dylib:stale", logger: quietLogger)
        let exchange = makeExchange(EmbeddedEventLoop(), mode: "stale")
        #expect(isProceed(filter.onRequest(exchange)))

        let handle = try #require(dlopen(libraries.stale, RTLD_NOW | RTLD_LOCAL))
        defer { dlclose(handle) }
        let symbol = try #require(dlsym(handle, "test_call_stale"))
        let callStale = unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)
        withExtendedLifetime(filter) {
            #expect(callStale() == 5)  // JESTER_BAD_CALL
        }
        filter.onFinish(exchange)
    }

    // MARK: Helpers

    private func testFilter() throws -> DylibFilter {
        try DylibFilter.load(path: CompiledLibraries.shared.get().test, config: [:], label: "dylib:test", logger: quietLogger)
    }

    private func loadError(_ path: String, config: JSONValue = [:]) -> String? {
        do {
            _ = try DylibFilter.load(path: path, config: config, label: "dylib:x", logger: quietLogger)
            return nil
        } catch {
            return error.description
        }
    }
}

/// For filters whose log lines the test does not read (the fixture logs at info).
private let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

private func makeExchange(
    _ loop: EmbeddedEventLoop, mode: String? = nil, path: String = "/items", headers: [(String, String)] = []
) -> FilterExchange {
    var fields = HTTPHeaders()
    if let mode { fields.add(name: "x-test", value: mode) }
    fields.add(contentsOf: headers)
    return FilterExchange(
        method: .GET, path: path, query: "page=2", requestHeaders: fields, version: .http1_1, clientAddress: "203.0.113.7", scheme: "http",
        route: "r", listener: "l", eventLoop: loop)
}

private func isProceed(_ verdict: FilterVerdict) -> Bool {
    if case .proceed = verdict { return true }
    return false
}

private func responseOf(_ verdict: FilterVerdict) -> FilterResponse? {
    if case .respond(let response) = verdict { return response }
    return nil
}

private func failureOf(_ verdict: FilterVerdict) -> FilterFailure? {
    if case .failed(let failure) = verdict { return failure }
    return nil
}

/// The example and the fixture's variants, compiled once into a temporary directory.
struct CompiledLibraries: Sendable {
    let directory: String
    let example: String
    let test: String
    let buffer: String
    let badABI: String
    let entryV2: String
    let noEntry: String
    let unknownFlag: String
    let smallSize: String
    let noName: String
    /// A copy of `test` under another name: another library.
    let copy: String
    /// Another copy, for the test that keeps a stale handle in the library's globals.
    let stale: String
    let notALibrary: String

    static let shared = Result { () throws(CompileError) in try compile() }

    struct CompileError: Error, CustomStringConvertible {
        let description: String
    }

    private static func compile() throws(CompileError) -> CompiledLibraries {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let include = root.appendingPathComponent("include").path
        let fixture = root.appendingPathComponent("Tests/JesterGatewayTests/Filters/Fixtures/test_filter.c").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jester-dylib-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CompileError(description: "cannot create \(directory): \(error)")
        }
        func build(_ source: String, _ name: String, _ defines: [String] = []) throws(CompileError) -> String {
            let output = "\(directory)/\(name)"
            try run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-I", include] + defines + ["-o", output, source])
            return output
        }
        let test = try build(fixture, "libtest.so")
        let copy = "\(directory)/libtest-copy.so"
        let stale = "\(directory)/libtest-stale.so"
        let notALibrary = "\(directory)/not-a-library.so"
        do {
            try FileManager.default.copyItem(atPath: test, toPath: copy)
            try FileManager.default.copyItem(atPath: test, toPath: stale)
            try "this is not an ELF file\n".write(toFile: notALibrary, atomically: true, encoding: .utf8)
        } catch {
            throw CompileError(description: "cannot copy the fixtures: \(error)")
        }
        return CompiledLibraries(
            directory: directory,
            example: try build(root.appendingPathComponent("examples/filters/dylib-header/header.c").path, "libheader.so"),
            test: test,
            buffer: try build(fixture, "libtest-buffer.so", ["-DBUFFER"]),
            badABI: try build(fixture, "libtest-bad-abi.so", ["-DBAD_ABI"]),
            entryV2: try build(fixture, "libtest-v2.so", ["-DENTRY_V2"]),
            noEntry: try build(fixture, "libtest-no-entry.so", ["-DNO_ENTRY"]),
            unknownFlag: try build(fixture, "libtest-unknown-flag.so", ["-DUNKNOWN_FLAG"]),
            smallSize: try build(fixture, "libtest-small-size.so", ["-DSMALL_SIZE"]),
            noName: try build(fixture, "libtest-no-name.so", ["-DNO_NAME"]),
            copy: copy,
            stale: stale,
            notALibrary: notALibrary)
    }

    private static func run(_ arguments: [String]) throws(CompileError) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw CompileError(description: "cannot run cc: \(error)")
        }
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CompileError(description: "\(arguments.joined(separator: " ")) failed:\n\(String(decoding: output, as: UTF8.self))")
        }
    }
}

/// Collects log lines as `level filter message`.
final class LogRecorder: Sendable {
    private let recorded = Mutex<[String]>([])

    var lines: [String] { recorded.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let filter = metadata["filter"].map { "\($0)" } ?? "-"
            recorder.recorded.withLock { $0.append("\(event.level) \(filter) \(event.message)") }
        }
    }
}
