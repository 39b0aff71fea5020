import ArgumentParser
import Foundation
import JesterManifest
import JesterRuntime
import JesterToolchain

/// `jester plugin …`
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Create, build, test, check, sign, inspect and call plugins.",
        discussion: """
            Examples:
              jester plugin new greeter --lang swift --template basic
              jester plugin build greeter
              jester plugin test greeter
              jester plugin check examples/hello
              jester plugin call examples/hello --input World
              jester plugin keygen && jester plugin sign examples/hello && jester plugin verify examples/hello
            """,
        subcommands: [
            NewCommand.self, BuildCommand.self, TestCommand.self, CheckCommand.self, KeygenCommand.self, SignCommand.self, VerifyCommand.self,
            InspectCommand.self, CallCommand.self,
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
        abstract: "Build a plugin directory (Embedded Swift, C or Rust) into its .wasm module.",
        discussion: """
            Builds the module the manifest names, with exactly the exports the manifest declares \
            (\"exports\" in plugin.json), checks that the module has them, then writes the module's \
            SHA-256 into plugin.json (\"sha256\"; the other keys stay as they are). A rebuilt module \
            invalidates a \"signature\": it is removed, and the plugin must be signed again.

            The language is found from the directory:

            Rust, when it has Cargo.toml, src/lib.rs or lib.rs: compiles the Rust PDK (pdk/rust) and \
            the crate root (src/lib.rs, else lib.rs) with plain rustc for wasm32-unknown-unknown, as a \
            cdylib with panic=abort (no cargo: Cargo.toml's dependencies are not read, only its \
            edition). Needs a rustc with the wasm32-unknown-unknown standard library (Debian: rustc, \
            libstd-rust-dev-wasm32, lld-14); the first such rustc of JESTER_RUSTC, PATH, \
            /usr/bin/rustc is used.

            Embedded Swift, when it has .swift files: compiles them together with the Swift PDK \
            (pdk/swift) for wasm32-unknown-none-wasm, taking the PDK's file for each declared export \
            (handle, on-request, on-response, on-request-body, on-response-body), so a filter has no \
            handle and a handler no on-request.

            C, when it has .c files: compiles them with the Swift toolchain's clang --target=wasm32, \
            freestanding (no C library), with pdk/c on the include path (jester_handler.h, \
            jester_http_filter.h). With --libc, with the C library instead: clang for wasm32-wasi and \
            wasi-libc (Debian: clang-14, lld-14, wasi-libc, libclang-rt-14-dev-wasm32; or WASI_SDK_PATH), \
            in WASI's reactor model.

            Builds are optimised for size by default, keeping function names for traces; --release \
            also strips them, --debug builds without optimisation and with debug info.

            Examples:
              jester plugin build examples/hello
              jester plugin build examples/filters/header-rewrite --release
              jester plugin build examples/filters/redact-json
              jester plugin build my-c-plugin --libc
              jester plugin build my-rust-plugin
            """
    )

    @Argument(help: "The plugin directory (with plugin.json and .swift, .c or Rust sources).")
    var directory: String = "."

    @Flag(help: "Build optimised and stripped of names and debug info (the smallest module).")
    var release = false

    @Flag(help: "Build without optimisation, with debug info (faster to compile, larger module).")
    var debug = false

    @Flag(help: "C only: build with the C library (wasi-libc, wasm32-wasi) instead of freestanding.")
    var libc = false

    @Option(help: "The Jester source tree holding pdk/ (default: found from the plugin directory upwards, or JESTER_HOME).")
    var pdkRoot: String?

    /// The languages `jester plugin build` builds.
    enum Language: String {
        case swift = "Embedded Swift"
        case c = "C"
        case rust = "Rust"
    }

    func run() async throws {
        guard !(release && debug) else { throw ValidationError("--release and --debug exclude each other") }
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
        let (language, sources) = try Self.sources(in: directory)
        guard !libc || language == .c else {
            throw ValidationError("--libc is for C plugins; \(directory) is \(language.rawValue)")
        }
        guard let root = pdkRoot ?? SourceTree.root(from: directory) else {
            throw Failure(message: SourceTree.notFound)
        }
        let optimize = !debug
        let result: GuestBuildResult
        switch language {
        case .swift:
            let pdk = GuestToolchain.swiftPDKSources(root: root, exports: exports)
            guard !pdk.isEmpty else { throw Failure(message: "\(root)/pdk/swift has no sources") }
            result = try GuestToolchain().buildEmbeddedSwift(
                sources: pdk + sources, output: output, exports: exports, optimize: optimize, strip: release)
        case .c:
            guard let include = GuestToolchain.cPDKIncludeDirectory(root: root) else {
                throw Failure(message: "\(root)/pdk/c does not exist; pass --pdk-root with the Jester source tree")
            }
            if libc {
                result = try WASICToolchain().buildC(
                    sources: sources, output: output, includeDirectories: [include], optimize: optimize, strip: release)
            } else {
                result = try GuestToolchain().buildC(
                    sources: sources, output: output, includeDirectories: [include], optimize: optimize, strip: release)
            }
        case .rust:
            guard let pdk = RustToolchain.rustPDKSource(root: root) else {
                throw Failure(message: "\(root)/pdk/rust/src/lib.rs does not exist; pass --pdk-root with the Jester source tree")
            }
            result = try RustToolchain().buildRust(
                crateRoot: sources[0], pdkSource: pdk, output: output, crateName: RustToolchain.crateName(forPluginID: manifest.id),
                edition: Self.cargoEdition(in: directory) ?? "2021", optimize: optimize, strip: release)
        }
        if !result.diagnostics.isEmpty { Console.error(result.diagnostics) }
        try Self.checkExports(of: output, declared: manifest.exports)
        Console.out("built \(output) (\(result.byteCount) bytes)")
        try Self.recordDigest(of: output, in: manifestPath)
    }

    /// The plugin's language and sources: for Rust, the crate root alone.
    static func sources(in directory: String) throws -> (Language, [String]) {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        let swift = files.filter { $0.hasSuffix(".swift") }.map { (directory as NSString).appendingPathComponent($0) }
        let c = files.filter { $0.hasSuffix(".c") }.map { (directory as NSString).appendingPathComponent($0) }
        let rustRoot = RustToolchain.crateRoot(ofPluginDirectory: directory)
        let isRust = rustRoot != nil || files.contains("Cargo.toml")
        let found = [(Language.swift, !swift.isEmpty), (.c, !c.isEmpty), (.rust, isRust)].filter(\.1).map(\.0)
        guard found.count == 1, let language = found.first else {
            if found.isEmpty {
                throw Failure(message: "\(directory) has no .swift or .c sources and no Rust crate (Cargo.toml, src/lib.rs); `jester plugin build` builds Embedded Swift, C and Rust plugins (other languages: see docs/abi.md and docs/wit-bindgen.md)")
            }
            throw Failure(message: "\(directory) has \(found.map(\.rawValue).joined(separator: " and ")) sources; `jester plugin build` builds one language per plugin (for a mix, build by hand: see docs/abi.md)")
        }
        switch language {
        case .swift: return (language, swift)
        case .c: return (language, c)
        case .rust:
            guard let rustRoot else {
                throw Failure(message: "\(directory) has a Cargo.toml but no src/lib.rs (or lib.rs): a Jester plugin is a library crate")
            }
            return (language, [rustRoot])
        }
    }

    /// The `edition` of Cargo.toml's `[package]`, if the directory has one that says.
    static func cargoEdition(in directory: String) -> String? {
        guard let text = try? String(contentsOfFile: (directory as NSString).appendingPathComponent("Cargo.toml"), encoding: .utf8) else {
            return nil
        }
        var section = ""
        for line in text.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if line.hasPrefix("[") { section = line }
            guard section == "[package]", line.hasPrefix("edition") else { continue }
            let value = line.split(separator: "=", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? ""
            let edition = value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if ["2015", "2018", "2021"].contains(edition) { return edition }
        }
        return nil
    }

    /// Writes the module's SHA-256 into the manifest, dropping a signature the rebuild
    /// invalidated, and says what it did.
    static func recordDigest(of module: String, in manifestPath: String) throws {
        guard let wasm = FileManager.default.contents(atPath: module),
            let text = FileManager.default.contents(atPath: manifestPath)
        else { throw Failure(message: "\(module) or \(manifestPath) cannot be read after the build") }
        let digest = PluginBundle.sha256(of: [UInt8](wasm))
        let update = try ManifestDigestUpdate(manifest: String(decoding: text, as: UTF8.self), sha256: digest, file: manifestPath)
        guard let json = update.json else { return }
        do {
            try json.write(toFile: manifestPath, atomically: true, encoding: .utf8)
        } catch {
            throw Failure(message: "cannot update \(manifestPath): \(error)")
        }
        Console.out("updated \(manifestPath): sha256 \(digest)")
        if update.removedSignature {
            Console.error("note: removed the signature from \(manifestPath): it signed the previous module; sign the plugin again")
        }
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
                in Swift, implement the hook of each declared export in an extension of Plugin; in C, define it \
                (jester_handle, jester_on_request, ...; a body hook with JESTER_ON_REQUEST_BODY(f): see \
                pdk/c/README.md); in Rust, name it in \
                jester_pdk::handler! or jester_pdk::http_filter! (see pdk/rust/README.md)
                """)
        }
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
