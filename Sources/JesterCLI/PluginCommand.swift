import ArgumentParser
import Foundation
import JesterManifest
import JesterRuntime
import JesterToolchain

/// `jester plugin …`
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Inspect, check, build, call and sign plugins.",
        discussion: """
            Examples:
              jester plugin build examples/hello
              jester plugin check examples/hello
              jester plugin call examples/hello --input World
              jester plugin keygen && jester plugin sign examples/hello && jester plugin verify examples/hello
            """,
        subcommands: [
            InspectCommand.self, CheckCommand.self, CallCommand.self, BuildCommand.self, KeygenCommand.self, SignCommand.self, VerifyCommand.self,
        ]
    )
}

/// `jester plugin inspect <wasm>`
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a module's imports, exports, memory, custom sections and detected ABI.",
        discussion: "Example:\n  jester plugin inspect examples/hello/hello.wasm --json"
    )

    @Argument(help: "A .wasm file, a plugin directory or a plugin.json.")
    var path: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let bundle = try loadBundle(path)
        let info: ModuleInfo
        do {
            info = try ModuleInfo(bytes: bundle.wasm)
        } catch {
            throw Failure(message: "\(bundle.modulePath): \(error)")
        }
        if json {
            Console.out(Self.json(info, path: bundle.modulePath).serialized(pretty: true))
            return
        }
        var lines = ["\(bundle.modulePath): \(info.byteCount) bytes", "abi: \(info.abi)\(info.abiVersion.map { "@\($0)" } ?? "") (\(info.abiEvidence))"]
        lines.append("imports (\(info.imports.count)):")
        for item in info.imports {
            lines.append("  \(item.module).\(item.name): \(item.kind)\(item.signature.map { " \($0)" } ?? "")\(item.limits.map { " (\($0))" } ?? "")")
        }
        lines.append("exports (\(info.exports.count)):")
        for item in info.exports {
            lines.append("  \(item.name): \(item.kind)\(item.signature.map { " \($0)" } ?? "")")
        }
        lines.append("memories: " + (info.memories.isEmpty ? "none defined" : info.memories.map { "\($0) pages" }.joined(separator: "; ")))
        if !info.tables.isEmpty { lines.append("tables: " + info.tables.map { "\($0) elements" }.joined(separator: "; ")) }
        lines.append("functions defined: \(info.definedFunctionCount)\(info.hasStartFunction ? ", has a start function" : "")")
        lines.append("custom sections: " + (info.customSections.isEmpty ? "none" : info.customSections.map { "\($0.name) (\($0.byteCount) bytes)" }.joined(separator: ", ")))
        Console.out(lines.joined(separator: "\n"))
    }

    static func json(_ info: ModuleInfo, path: String) -> JSONValue {
        func limits(_ l: ModuleInfo.Limits) -> JSONValue {
            .object([
                ("minimum", .integer(Int64(l.minimum))), ("maximum", l.maximum.map { .integer(Int64($0)) } ?? .null),
                ("shared", .bool(l.isShared)), ("memory64", .bool(l.is64Bit)),
            ])
        }
        return .object([
            ("path", .string(path)),
            ("bytes", .integer(Int64(info.byteCount))),
            ("abi", .string(info.abi.description)),
            ("abi_version", info.abiVersion.map { .string($0.description) } ?? .null),
            ("abi_evidence", .string(info.abiEvidence)),
            ("imports", .array(info.imports.map { item in
                .object([
                    ("module", .string(item.module)), ("name", .string(item.name)), ("kind", .string(item.kind.rawValue)),
                    ("signature", item.signature.map { .string($0.description) } ?? .null),
                ])
            })),
            ("exports", .array(info.exports.map { item in
                .object([("name", .string(item.name)), ("kind", .string(item.kind.rawValue)), ("signature", item.signature.map { .string($0.description) } ?? .null)])
            })),
            ("memories", .array(info.memories.map(limits))),
            ("tables", .array(info.tables.map(limits))),
            ("start_function", .bool(info.hasStartFunction)),
            ("functions", .integer(Int64(info.definedFunctionCount))),
            ("custom_sections", .array(info.customSections.map { .object([("name", .string($0.name)), ("bytes", .integer(Int64($0.byteCount)))]) })),
        ])
    }
}

/// `jester plugin check <dir|manifest>`
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a plugin's manifest and module against each other and this host, reporting every problem.",
        discussion: """
            Checks the manifest strictly (unknown keys, types, ranges), then the module: size, SHA-256, \
            structure, imports against the host's capabilities and the grants given here, exports against \
            the manifest, ABI and limits. Exits 1 if there is any error.

            Example:
              jester plugin check examples/hello --allow-clock
            """
    )

    @Argument(help: "A plugin directory or its plugin.json.")
    var path: String

    @OptionGroup var grants: GrantOptions

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let manifestPath = path.hasSuffix(".json") ? path : (path as NSString).appendingPathComponent("plugin.json")
        var issues: [(severity: String, code: String, message: String)] = []
        var report: ValidationReport?
        do {
            let manifest = try PluginBundle.readManifest(manifestPath)
            let modulePath = try PluginBundle.modulePath(for: manifest, manifestPath: manifestPath)
            if let data = FileManager.default.contents(atPath: modulePath) {
                let host = PluginHost()
                let result = host.validate(manifest: manifest, wasm: [UInt8](data), grants: try grants.grants(for: manifest))
                report = result
                issues += result.issues.map { ($0.severity.rawValue, $0.code, $0.message) }
            } else {
                issues.append(("error", "module-missing", "\(modulePath) does not exist; build the plugin first"))
            }
        } catch let error as ManifestError {
            issues += error.issues.map { ("error", "manifest", "\(error.file ?? manifestPath): \($0)") }
        } catch {
            issues.append(("error", "io", "\(error)"))
        }
        let errorCount = issues.filter { $0.severity == "error" }.count
        if json {
            let value = JSONValue.object([
                ("path", .string(manifestPath)),
                ("valid", .bool(errorCount == 0)),
                ("abi", report?.abi.map { .string($0.description) } ?? .null),
                ("sha256", report?.sha256.map { .string($0) } ?? .null),
                ("issues", .array(issues.map { .object([("severity", .string($0.severity)), ("code", .string($0.code)), ("message", .string($0.message))]) })),
            ])
            Console.out(value.serialized(pretty: true))
        } else {
            for issue in issues { Console.out("\(issue.severity): \(issue.message)") }
            let warnings = issues.filter { $0.severity == "warning" }.count
            Console.out(errorCount == 0 ? "\(manifestPath): ok (\(warnings) warning\(warnings == 1 ? "" : "s"))" : "\(manifestPath): \(errorCount) error\(errorCount == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s")")
        }
        if errorCount > 0 { throw ExitCode.failure }
    }
}

/// `jester plugin build [dir]`
struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a plugin directory (Embedded Swift or C) into its .wasm module.",
        discussion: """
            Builds the module the manifest names, with exactly the exports the manifest declares \
            (\"exports\" in plugin.json) and checks the result. Needs the Swift 6.3 toolchain (swiftc, clang and \
            wasm-ld).

            Embedded Swift: compiles every .swift file in the directory together with the Swift PDK \
            (pdk/swift) for wasm32-unknown-none-wasm, taking the PDK's file for each declared export \
            (handle, on-request, on-response), so a filter has no handle and a handler no on-request.

            C: compiles every .c file in the directory with clang --target=wasm32, freestanding (no C \
            library), with pdk/c on the include path (jester_http_filter.h).

            Examples:
              jester plugin build examples/hello
              jester plugin build examples/filters/header-rewrite
              jester plugin build examples/filters/redact-json
            """
    )

    @Argument(help: "The plugin directory (with plugin.json and .swift or .c sources).")
    var directory: String = "."

    @Flag(help: "Build without optimisation (faster to compile, larger module).")
    var debug = false

    @Option(help: "The Jester source tree holding pdk/ (default: found from the plugin directory upwards, or JESTER_HOME).")
    var pdkRoot: String?

    func run() async throws {
        let manifestPath = (directory as NSString).appendingPathComponent("plugin.json")
        let manifest = try PluginBundle.readManifest(manifestPath)
        let output = (directory as NSString).appendingPathComponent(manifest.module ?? "plugin.wasm")
        let exports = manifest.exports.map(\.name)
        guard !exports.isEmpty else {
            throw Failure(message: """
                \(manifestPath) declares no exports, so there is nothing to build: add what the plugin implements, \
                such as {"name": "handle", "kind": "handler"} or {"name": "on-request", "kind": "http-filter"}
                """)
        }
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        let swiftSources = files.filter { $0.hasSuffix(".swift") }.map { (directory as NSString).appendingPathComponent($0) }
        let cSources = files.filter { $0.hasSuffix(".c") }.map { (directory as NSString).appendingPathComponent($0) }
        guard !swiftSources.isEmpty || !cSources.isEmpty else {
            throw Failure(message: "\(directory) has no .swift or .c sources; `jester plugin build` builds Embedded Swift and C plugins (other languages: see docs/abi.md)")
        }
        guard swiftSources.isEmpty || cSources.isEmpty else {
            throw Failure(message: "\(directory) has both .swift and .c sources; `jester plugin build` builds one language per plugin (for a mix, build by hand: see docs/abi.md)")
        }
        guard let root = pdkRoot ?? Self.findRoot(from: directory) else {
            throw Failure(message: "cannot find pdk/; run from the Jester source tree, pass --pdk-root, or set JESTER_HOME")
        }
        let toolchain = try GuestToolchain()
        let result: GuestBuildResult
        if !swiftSources.isEmpty {
            let pdk = GuestToolchain.swiftPDKSources(root: root, exports: exports)
            guard !pdk.isEmpty else { throw Failure(message: "\(root)/pdk/swift has no sources") }
            result = try toolchain.buildEmbeddedSwift(sources: pdk + swiftSources, output: output, exports: exports, optimize: !debug)
        } else {
            guard let include = GuestToolchain.cPDKIncludeDirectory(root: root) else {
                throw Failure(message: "\(root)/pdk/c does not exist; pass --pdk-root with the Jester source tree")
            }
            result = try toolchain.buildC(sources: cSources, output: output, includeDirectories: [include], optimize: !debug)
        }
        if !result.diagnostics.isEmpty { Console.error(result.diagnostics) }
        try Self.checkExports(of: output, declared: manifest.exports)
        Console.out("built \(output) (\(result.byteCount) bytes)")
    }

    /// Fails unless the module exports every function the manifest declares, and `memory` and
    /// `cabi_realloc` when it declares a Jester world export (`handler`, `http-filter`).
    static func checkExports(of path: String, declared: [ExportDeclaration]) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(message: "\(path) was not written")
        }
        let info: ModuleInfo
        do {
            info = try ModuleInfo(bytes: [UInt8](data))
        } catch {
            throw Failure(message: "\(path): \(error)")
        }
        var missing = declared.map(\.name).filter { info.functionExport(named: $0) == nil }
        if declared.contains(where: { $0.kind == .handler || $0.kind == .httpFilter }) {
            if info.functionExport(named: "cabi_realloc") == nil { missing.append("cabi_realloc") }
            if !info.exports.contains(where: { $0.name == "memory" && $0.kind == .memory }) { missing.append("memory") }
        }
        guard missing.isEmpty else {
            throw Failure(message: """
                built \(path), but it does not export \(missing.joined(separator: ", ")), which plugin.json needs: \
                in Swift, implement the hook of each declared export in an extension of Plugin; in C, define each \
                with JESTER_EXPORT("NAME") (see pdk/c/jester_http_filter.h)
                """)
        }
    }

    static func findRoot(from directory: String) -> String? {
        if let home = ProcessInfo.processInfo.environment["JESTER_HOME"] { return home }
        var url = URL(fileURLWithPath: directory).standardizedFileURL
        for _ in 0..<12 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("pdk/swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return nil
    }
}

/// Reads a plugin for a command, turning errors into messages.
func loadBundle(_ path: String) throws -> PluginBundle {
    do {
        return try PluginBundle.read(from: path)
    } catch let error as ManifestError {
        throw Failure(message: error.description)
    } catch {
        throw Failure(message: "\(error)")
    }
}
