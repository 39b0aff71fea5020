import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import Testing

/// The core ABI of the `http-filter` world as `docs/abi.md` spells it out: every import a filter
/// may use and every export it may have, with their core signatures.
enum HTTPFilterABI {
    static let httpModule = "jester:plugin/http@0.1.0"

    /// `module` → `name` → signature.
    static let imports: [String: [String: String]] = {
        let string = "(param i32 i32)"  // (self, retptr)
        let set = "(param i32 i32 i32) (result i32)"  // (self, ptr, len) -> bool
        let lookup = "(param i32 i32 i32 i32)"  // (self, name ptr, name len, retptr)
        let setHeader = "(param i32 i32 i32 i32 i32) (result i32)"
        var http: [String: String] = [
            "[method]request.method": string, "[method]request.set-method": set,
            "[method]request.path": string, "[method]request.set-path": set,
            "[method]request.query": string, "[method]request.set-query": set,
            "[method]request.client-address": string,
            "[method]response.status": "(param i32) (result i32)",
            "[method]response.set-status": "(param i32 i32) (result i32)",
            "[resource-drop]request": "(param i32)", "[resource-drop]response": "(param i32)",
        ]
        for resource in ["request", "response"] {
            http["[method]\(resource).header"] = lookup
            http["[method]\(resource).header-values"] = lookup
            http["[method]\(resource).header-names"] = string
            http["[method]\(resource).set-header"] = setHeader
            http["[method]\(resource).add-header"] = setHeader
            http["[method]\(resource).remove-header"] = "(param i32 i32 i32)"
            http["[method]\(resource).body"] = string
            http["[method]\(resource).set-body"] = "(param i32 i32 i32)"
        }
        return [
            httpModule: http,
            "jester:plugin/log@0.1.0": ["write": "(param i32 i32 i32)"],
            "jester:plugin/config@0.1.0": ["get": "(param i32 i32 i32)", "keys": "(param i32)"],
            "jester:plugin/clock@0.1.0": ["wall-now": "(param i32)", "monotonic-now": "(param i32)"],
            "jester:plugin/random@0.1.0": ["get-bytes": "(param i32 i32)"],
        ]
    }()

    static let exports: [String: String] = [
        "cabi_realloc": "(param i32 i32 i32 i32) (result i32)",
        "on-request": "(param i32 i32) (result i32)",
        "on-response": "(param i32 i32) (result i32)",
        "init": "(result i32)",
        "cabi_post_init": "(param i32)",
        "health": "(result i32)",
        "shutdown": "()",
    ]

    /// Every way `info` strays from the world: an unknown import or export, or a wrong signature.
    static func problems(_ info: ModuleInfo, allowing extraExports: [String: String] = [:]) -> [String] {
        var problems: [String] = []
        for item in info.imports {
            guard let expected = imports[item.module]?[item.name] else {
                problems.append("unexpected import \(item.module) \(item.name)")
                continue
            }
            if item.signature?.description != expected {
                problems.append("import \(item.name) has \(item.signature?.description ?? "?"), not \(expected)")
            }
        }
        let allowed = exports.merging(extraExports) { $1 }
        for item in info.exports where item.name != "memory" {
            guard let expected = allowed[item.name] else {
                problems.append("unexpected export \(item.name)")
                continue
            }
            if item.signature?.description != expected {
                problems.append("export \(item.name) has \(item.signature?.description ?? "?"), not \(expected)")
            }
        }
        if !info.exports.contains(where: { $0.name == "memory" && $0.kind == .memory }) { problems.append("no memory export") }
        if info.functionExport(named: "cabi_realloc") == nil { problems.append("no cabi_realloc export") }
        return problems
    }
}

/// A plugin directory copied from `examples/` (or written here) and built with `jester plugin build`.
struct BuiltPlugin {
    let directory: String
    let build: (status: Int32, stdout: String, stderr: String)

    /// Copies the sources and manifest of `examples/PATH` to a temporary directory and builds them.
    init(example path: String) throws {
        let source = JesterFixtures.repositoryRoot + "/examples/" + path
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: source)
        where [".swift", ".c", ".json"].contains(where: name.hasSuffix) {
            files[name] = try String(contentsOfFile: source + "/" + name, encoding: .utf8)
        }
        try self.init(files: files)
    }

    /// Writes `files` (name → contents) to a temporary directory and builds them.
    init(files: [String: String]) throws {
        directory = try JesterFixtures.temporaryDirectory("filter-build")
        for (name, contents) in files {
            try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        build = try jester("plugin", "build", directory, "--pdk-root", JesterFixtures.repositoryRoot)
    }

    func module() throws -> ModuleInfo {
        let manifest = try PluginBundle.readManifest(directory + "/plugin.json")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + (manifest.module ?? "plugin.wasm")))
        return try ModuleInfo(bytes: [UInt8](data))
    }
}

@Suite struct FilterBuildTests {
    static let lifecycle: Set<String> = ["memory", "cabi_realloc", "init", "cabi_post_init", "health", "shutdown"]

    @Test func theSwiftExampleIsAFilterWithBothHooksAndNoHandle() throws {
        let plugin = try BuiltPlugin(example: "filters/header-rewrite")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let info = try plugin.module()
        #expect(Set(info.exports.map(\.name)) == Self.lifecycle.union(["on-request", "on-response"]))
        #expect(HTTPFilterABI.problems(info).isEmpty, "\(HTTPFilterABI.problems(info))")
        #expect(info.abi == .jester)
        #expect(info.imports.contains { $0.module == HTTPFilterABI.httpModule && $0.name == "[method]request.set-header" })
        #expect(info.imports.contains { $0.module == HTTPFilterABI.httpModule && $0.name == "[method]response.set-status" })

        let inspect = try jester("plugin", "inspect", plugin.directory)
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("on-request: function (param i32 i32) (result i32)"))
    }

    @Test func theCExampleExportsOnlyOnResponse() throws {
        let plugin = try BuiltPlugin(example: "filters/redact-json")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let info = try plugin.module()
        #expect(Set(info.exports.map(\.name)) == ["memory", "cabi_realloc", "on-response"])
        #expect(HTTPFilterABI.problems(info).isEmpty, "\(HTTPFilterABI.problems(info))")
        #expect(info.imports.contains { $0.module == HTTPFilterABI.httpModule && $0.name == "[method]response.body" })
        #expect(info.imports.contains { $0.module == HTTPFilterABI.httpModule && $0.name == "[method]response.set-body" })
    }

    @Test func theManifestOfEachExampleDeclaresItsExports() throws {
        let header = try PluginBundle.readManifest(JesterFixtures.repositoryRoot + "/examples/filters/header-rewrite/plugin.json")
        #expect(header.exports.map(\.name) == ["on-request", "on-response"])
        #expect(header.exports.allSatisfy { $0.kind == .httpFilter })
        #expect(header.configSchema != nil)
        let redact = try PluginBundle.readManifest(JesterFixtures.repositoryRoot + "/examples/filters/redact-json/plugin.json")
        #expect(redact.exports.map(\.name) == ["on-response"])
        #expect(redact.httpFilter?.bufferResponseBody == true)
        #expect(redact.configSchema != nil)
    }

    @Test func theExampleConfigSchemasTakeTheREADMEsConfigsAndRefuseTypos() throws {
        let root = JesterFixtures.repositoryRoot + "/examples/filters/"
        let header = try JSONSchema(try #require(PluginBundle.readManifest(root + "header-rewrite/plugin.json").configSchema))
        #expect(header.isValid(try JSONValue.parse(#"{"require_header": "x-api-key", "rename": {"x-legacy-user": "x-user"}}"#)))
        #expect(!header.isValid(try JSONValue.parse(#"{"require_header": "x api key"}"#)))
        #expect(!header.isValid(try JSONValue.parse(#"{"rename": {"a": 1}}"#)))
        #expect(!header.isValid(try JSONValue.parse(#"{"required_header": "x-api-key"}"#)))
        #expect(header.applyingDefaults(to: .object([]))["tag"]?.stringValue == "header-rewrite")
        let redact = try JSONSchema(try #require(PluginBundle.readManifest(root + "redact-json/plugin.json").configSchema))
        #expect(redact.isValid(try JSONValue.parse(#"{"fields": ["password", "ssn", "card_number"]}"#)))
        #expect(!redact.isValid(try JSONValue.parse(#"{"fields": "password"}"#)))
        #expect(redact.applyingDefaults(to: .object([]))["replacement"]?.stringValue == "[redacted]")
    }

    @Test func theHandlerExampleHasNoFilterExports() throws {
        let plugin = try BuiltPlugin(example: "hello")
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let names = Set(try plugin.module().exports.map(\.name))
        #expect(names == Self.lifecycle.union(["handle", "cabi_post_handle"]))
    }

    @Test func oneSwiftModuleCanBeAHandlerAndAFilter() throws {
        let plugin = try BuiltPlugin(files: [
            "plugin.json": #"""
                {"id": "both", "version": "1.0.0", "module": "both.wasm", "abi": "jester@0.1.0",
                 "exports": [{"name": "handle", "kind": "handler"}, {"name": "on-request", "kind": "http-filter"}]}
                """#,
            "Both.swift": """
                extension Plugin {
                    static func handle(_ input: [UInt8]) throws(PluginFailure) -> [UInt8] { input }
                    static func onRequest(_ request: Request, _ response: Response) -> FilterAction {
                        request.setHeader("x-both", request.path)
                        return .continue
                    }
                }
                """,
        ])
        #expect(plugin.build.status == 0, "\(plugin.build.stderr)")
        let info = try plugin.module()
        #expect(Set(info.exports.map(\.name)) == Self.lifecycle.union(["handle", "cabi_post_handle", "on-request"]))
        #expect(HTTPFilterABI.problems(info, allowing: ["handle": "(param i32 i32) (result i32)", "cabi_post_handle": "(param i32)"]).isEmpty)
    }

    @Test func aDeclaredHookThatIsMissingFailsWithWhatToWrite() throws {
        let plugin = try BuiltPlugin(files: [
            "plugin.json": #"""
                {"id": "half", "version": "1.0.0", "exports": [{"name": "on-request", "kind": "http-filter"}]}
                """#,
            "Half.swift": """
                extension Plugin {
                    static func onResponse(_ request: Request, _ response: Response) -> FilterAction { .continue }
                }
                """,
        ])
        #expect(plugin.build.status != 0)
        #expect(plugin.build.stderr.contains("static func onRequest(_ request: Request, _ response: Response) -> FilterAction"))
        #expect(plugin.build.stderr.contains("does not conform to protocol 'OnRequestHook'"))
    }

    @Test func aCFilterWithoutADeclaredExportFails() throws {
        let plugin = try BuiltPlugin(files: [
            "plugin.json": #"""
                {"id": "c-half", "version": "1.0.0", "exports": [{"name": "on-request", "kind": "http-filter"}]}
                """#,
            "half.c": """
                #define JESTER_IMPLEMENTATION
                #include "jester_http_filter.h"

                jester_action_t jester_on_response(jester_request_t request, jester_response_t response) {
                    (void)request;
                    jester_response_set_header(response, "x-half", "1");
                    return JESTER_CONTINUE;
                }
                """,
        ])
        #expect(plugin.build.status != 0)
        #expect(plugin.build.stderr.contains("does not export on-request"), "\(plugin.build.stderr)")
    }

    @Test func aManifestWithoutExportsIsRefused() throws {
        let plugin = try BuiltPlugin(files: [
            "plugin.json": #"{"id": "nothing", "version": "1.0.0"}"#,
            "Nothing.swift": "",
        ])
        #expect(plugin.build.status != 0)
        #expect(plugin.build.stderr.contains("declares no exports"))
    }

    @Test(arguments: ["trap-on-request", "loop-forever", "grow-memory", "bad-action", "echo-header"])
    func theGatewayFixturesFollowTheWorld(_ name: String) throws {
        let path = JesterFixtures.repositoryRoot + "/Tests/JesterGatewayTests/Fixtures/filters/\(name).wat"
        let info = try ModuleInfo(bytes: JesterFixtures.wasm(try String(contentsOfFile: path, encoding: .utf8)))
        #expect(HTTPFilterABI.problems(info).isEmpty, "\(HTTPFilterABI.problems(info))")
        #expect(info.functionExport(named: "on-request") != nil)
    }
}
