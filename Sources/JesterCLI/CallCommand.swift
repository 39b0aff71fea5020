import ArgumentParser
import Foundation
import JesterManifest
import JesterRuntime

/// Grants given on the command line.
struct GrantOptions: ParsableArguments {
    @Option(name: .customLong("allow-path"), help: ArgumentHelp("Give the plugin a host directory: HOST[:GUEST][:ro|rw] (default guest path = host path, read-only).", valueName: "path"))
    var paths: [String] = []

    @Option(name: .customLong("allow-env"), help: ArgumentHelp("Let the plugin see an environment variable: NAME (value from this process) or NAME=VALUE.", valueName: "name"))
    var environment: [String] = []

    @Flag(name: .customLong("allow-clock"), help: "Let the plugin read the clocks.")
    var clock = false

    @Flag(name: .customLong("allow-random"), help: "Let the plugin get random bytes.")
    var random = false

    @Flag(name: .customLong("allow-requested"), help: "Grant everything the manifest requests (only for plugins you trust).")
    var requested = false

    func pathGrants() throws -> [PluginGrants.PathGrant] {
        try paths.map { spec in
            var parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            var writable = false
            if let last = parts.last, parts.count > 1, last == "ro" || last == "rw" {
                writable = last == "rw"
                parts.removeLast()
            }
            guard (1...2).contains(parts.count), !parts[0].isEmpty else {
                throw ValidationError("--allow-path \(spec): expected HOST[:GUEST][:ro|rw], e.g. ./data:/data:ro")
            }
            let host = URL(fileURLWithPath: parts[0]).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: host, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--allow-path \(spec): \(host) is not a directory")
            }
            let guest = parts.count == 2 && !parts[1].isEmpty ? parts[1] : host
            guard guest.hasPrefix("/") else { throw ValidationError("--allow-path \(spec): the guest path must be absolute") }
            return PluginGrants.PathGrant(guestPath: guest, hostPath: host, writable: writable)
        }
    }

    func environmentGrants() -> [String: String] {
        var result: [String: String] = [:]
        let processEnvironment = ProcessInfo.processInfo.environment
        for spec in environment {
            if let equals = spec.firstIndex(of: "=") {
                result[String(spec[..<equals])] = String(spec[spec.index(after: equals)...])
            } else if let value = processEnvironment[spec] {
                result[spec] = value
            }
        }
        return result
    }

    /// The grants for `manifest`. A plugin without a manifest (a bare .wasm) gets exactly what is
    /// granted here, since there is no request to intersect with.
    func grants(for manifest: PluginManifest) throws -> PluginGrants {
        if requested {
            var grants = PluginGrants.asRequested(by: manifest.permissions, environment: ProcessInfo.processInfo.environment)
            grants.paths += try pathGrants()
            grants.environment.merge(environmentGrants()) { $1 }
            return grants
        }
        return PluginGrants(paths: try pathGrants(), environment: environmentGrants(), clock: clock, random: random)
    }

    /// Makes a bare module's synthetic manifest request what is granted.
    func widen(_ manifest: inout PluginManifest) throws {
        let paths = try pathGrants()
        manifest.permissions.readPaths = paths.filter { !$0.writable }.map(\.guestPath)
        manifest.permissions.writePaths = paths.filter(\.writable).map(\.guestPath)
        manifest.permissions.environment = environmentGrants().keys.sorted()
        manifest.permissions.clock = clock
        manifest.permissions.random = random
    }
}

/// `jester plugin call <plugin> [export] [args…]`
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Load a plugin and call one of its exports.",
        discussion: """
            A handler export gets --input and prints its output. A WASI command (--wasi, or a module \
            exporting _start) gets --input on stdin and prints its stdout. A core function is called with \
            the values after the export name and prints its results.

            Examples:
              jester plugin call examples/hello handle --input World --config greeting=Hi
              jester plugin call add.wasm add 2 3
              jester plugin call add.wasm add -- -2 3        (-- before negative numbers)
              jester plugin call tool.wasm --wasi --allow-path ./data:/data:ro --input @request.json
              jester plugin call plugins/auth --require-signatures --input @request.json
            """
    )

    @Argument(help: "A plugin directory, a plugin.json, or a .wasm file.")
    var plugin: String

    @Argument(help: "The export to call (default: the manifest's handler, handle, or _start).")
    var export: String?

    @Argument(help: "Arguments for a core function, converted to its parameter types.")
    var arguments: [String] = []

    @Option(help: ArgumentHelp("Input bytes: a string, or @FILE to read a file (@- for stdin).", valueName: "input"))
    var input: String?

    @Option(name: .customLong("config"), help: ArgumentHelp("A configuration value for the plugin: KEY=VALUE (repeatable).", valueName: "key=value"))
    var config: [String] = []

    @OptionGroup var grants: GrantOptions

    @Flag(help: "Run the module as a WASI command: call _start with --input on stdin.")
    var wasi = false

    @Option(help: "Fuel for the call (about one unit per instruction).")
    var fuel: UInt64?

    @Option(help: ArgumentHelp("Wall-clock limit for the call, e.g. 500ms, 2s, 1m (at most 300s).", valueName: "duration"))
    var timeout: String?

    @Option(help: ArgumentHelp("Memory limit in bytes (suffixes KiB, MiB, GiB allowed).", valueName: "bytes"))
    var memory: String?

    @Flag(help: "Print the result as JSON (output, logs, usage).")
    var json = false

    @Flag(help: "Refuse the plugin unless it is signed by a key in the trust store (`jester trust list`).")
    var requireSignatures = false

    @OptionGroup var data: DataDirectoryOptions

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        var bundle = try loadBundle(plugin)
        let signatures: SignaturePolicy = requireSignatures ? .required(trustStore: data.trustStore) : .notRequired
        do {
            // Before any option below changes the manifest: the signature covers the files.
            try PluginSignature.verify(bundle, policy: signatures)
        } catch {
            throw Failure(message: "\(error)")
        }
        if bundle.manifestPath == nil { try grants.widen(&bundle.manifest) }
        var manifest = bundle.manifest
        if let fuel { manifest.limits.fuel = fuel }
        if let timeout { manifest.limits.timeout = try Self.parseDuration(timeout) }
        if let memory { manifest.limits.memoryBytes = try Self.parseBytes(memory) }
        manifest.sha256 = bundle.manifest.sha256
        var configuration: [String: String] = [:]
        for item in config {
            guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--config \(item): expected KEY=VALUE") }
            configuration[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        let inputBytes = try readInput()
        let host = PluginHost(logger: logging.makeLogger(label: "jester.plugin"), configuration: PluginHost.Configuration(signatures: signatures))
        let loaded: Plugin
        do {
            loaded = try host.makePlugin(manifest: manifest, wasm: bundle.wasm, config: configuration, grants: try grants.grants(for: manifest))
        } catch {
            throw Failure(message: "\(error)")
        }
        let exportName = wasi ? (export ?? "_start") : export
        let result: PluginResult
        do {
            if !arguments.isEmpty || (exportName.map { isCoreFunction($0, in: loaded) } ?? false) {
                result = try await callCore(loaded, exportName!)
            } else {
                result = try await loaded.execute(exportName, input: inputBytes)
            }
        } catch {
            throw Failure(message: "\(error)")
        }
        if json {
            Console.out(Self.json(result).serialized(pretty: true))
        } else {
            for entry in result.logs {
                Console.error(entry.description)
            }
            if !result.values.isEmpty {
                Console.out(result.values.map(\.description).joined(separator: " "))
            } else if !result.output.isEmpty {
                Console.outBytes(result.output)
                if result.output.last != UInt8(ascii: "\n"), isatty(1) != 0 { Console.outBytes([10]) }
            }
            for message in result.errors { Console.error("error: \(message)") }
        }
        if !result.success { throw ExitCode(Int32(clamping: result.exitCode.map(Int.init) ?? 1)) }
    }

    private func isCoreFunction(_ name: String, in plugin: Plugin) -> Bool {
        if let declared = plugin.manifest.exports.first(where: { $0.name == name }) { return declared.kind == .function }
        if name == "_start" || (plugin.abi == .jester && name == "handle") { return false }
        return plugin.module.functionExport(named: name) != nil
    }

    private func callCore(_ plugin: Plugin, _ name: String) async throws -> PluginResult {
        guard let signature = plugin.module.functionExport(named: name)?.signature else {
            throw PluginError.missingExportForCLI(name, plugin)
        }
        guard signature.parameters.count == arguments.count else {
            throw ValidationError("\(name) takes \(signature.parameters.count) argument(s) \(signature), \(arguments.count) given")
        }
        var values: [WasmValue] = []
        for (text, type) in zip(arguments, signature.parameters) {
            guard let value = WasmValue(parsing: text, as: type) else {
                throw ValidationError("argument \"\(text)\" is not a valid \(type)")
            }
            values.append(value)
        }
        let context = ExecutionContext()
        let started = ContinuousClock.now
        let results = try await plugin.call(name, values, context: context)
        return PluginResult(executionID: context.executionID, values: results, usage: ResourceUsage(duration: ContinuousClock.now - started))
    }

    private func readInput() throws -> [UInt8] {
        guard let input else { return [] }
        if input == "@-" { return [UInt8](FileHandle.standardInput.readDataToEndOfFile()) }
        if input.hasPrefix("@") {
            let path = String(input.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--input @\(path): cannot read the file") }
            return [UInt8](data)
        }
        return Array(input.utf8)
    }

    static func parseDuration(_ text: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 1e-3), ("s", 1), ("m", 60)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)), number > 0 {
                let duration = Duration.milliseconds(Int64((number * scale * 1000).rounded()))
                guard duration <= ResourceLimits.maximumTimeout else { throw ValidationError("--timeout \(text): at most 300s") }
                return duration
            }
        }
        throw ValidationError("--timeout \(text): expected a duration like 500ms, 2s or 1m")
    }

    static func parseBytes(_ text: String) throws -> Int {
        let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Int(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number > 0 {
                return number * scale
            }
        }
        throw ValidationError("--memory \(text): expected a byte count like 16777216 or 16MiB")
    }

    static func json(_ result: PluginResult) -> JSONValue {
        .object([
            ("execution_id", .string(result.executionID)),
            ("success", .bool(result.success)),
            ("output", .string(result.outputText)),
            ("values", .array(result.values.map { .string($0.description) })),
            ("exit_code", result.exitCode.map { .integer(Int64($0)) } ?? .null),
            ("errors", .array(result.errors.map { .string($0) })),
            ("logs", .array(result.logs.map { .object([("level", .string($0.level.rawValue)), ("source", .string($0.source.rawValue)), ("message", .string($0.message))]) })),
            ("usage", .object([
                ("fuel", .integer(Int64(clamping: result.usage.fuel))),
                ("peak_memory_bytes", .integer(Int64(result.usage.peakMemoryBytes))),
                ("duration_ms", .double(Double(result.usage.duration.components.seconds) * 1000 + Double(result.usage.duration.components.attoseconds) / 1e15)),
            ])),
        ])
    }
}

extension PluginError {
    static func missingExportForCLI(_ name: String, _ plugin: Plugin) -> any Error {
        let available = plugin.module.exports.filter { $0.kind == .function }.map(\.name)
        return Failure(message: "plugin \(plugin.id) has no function export \"\(name)\" (it exports: \(available.joined(separator: ", ")))")
    }
}
