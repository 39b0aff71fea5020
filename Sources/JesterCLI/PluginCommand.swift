import ArgumentParser
import Foundation
import JesterManifest
import JesterRuntime
import JesterToolchain

/// `jester plugin …`
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Inspect, check, build and call plugins.",
        discussion: """
            Examples:
              jester plugin build examples/hello
              jester plugin check examples/hello
              jester plugin call examples/hello --input World
            """,
        subcommands: [InspectCommand.self, CheckCommand.self, CallCommand.self, BuildCommand.self]
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
        abstract: "Build an Embedded Swift plugin directory into its .wasm module.",
        discussion: """
            Compiles every .swift file in the directory together with the Swift PDK (pdk/swift) for \
            wasm32-unknown-none-wasm and links the exports the manifest declares, writing the module the \
            manifest names. Needs the Swift 6.3 toolchain (swiftc and wasm-ld).

            Example:
              jester plugin build examples/hello
            """
    )

    @Argument(help: "The plugin directory (with plugin.json and .swift sources).")
    var directory: String = "."

    @Flag(help: "Build without optimisation (faster to compile, larger module).")
    var debug = false

    @Option(help: "The Jester source tree holding pdk/swift (default: found from the plugin directory upwards, or JESTER_HOME).")
    var pdkRoot: String?

    func run() async throws {
        let manifestPath = (directory as NSString).appendingPathComponent("plugin.json")
        let manifest = try PluginBundle.readManifest(manifestPath)
        let output = (directory as NSString).appendingPathComponent(manifest.module ?? "plugin.wasm")
        let sources = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".swift") }.sorted().map { (directory as NSString).appendingPathComponent($0) }
        guard !sources.isEmpty else {
            throw Failure(message: "\(directory) has no .swift sources; `jester plugin build` builds Embedded Swift plugins (other languages: see docs/abi.md)")
        }
        guard let root = pdkRoot ?? Self.findRoot(from: directory) else {
            throw Failure(message: "cannot find pdk/swift; run from the Jester source tree, pass --pdk-root, or set JESTER_HOME")
        }
        let pdk = GuestToolchain.swiftPDKSources(root: root)
        guard !pdk.isEmpty else { throw Failure(message: "\(root)/pdk/swift has no sources") }
        var exports = manifest.exports.map(\.name)
        for standard in ["init", "health", "shutdown", "cabi_post_handle", "cabi_post_init"] where !exports.contains(standard) {
            exports.append(standard)
        }
        let toolchain = try GuestToolchain()
        let result = try toolchain.buildEmbeddedSwift(sources: pdk + sources, output: output, exports: exports, optimize: !debug)
        Console.out("built \(output) (\(result.byteCount) bytes)")
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
