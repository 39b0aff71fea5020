public import JesterManifest
import Logging

/// Loads, validates, runs, reloads and unloads plugins. Thread-safe; share one per host.
///
/// ```swift
/// let manager = PluginManager()
/// let plugin = try await manager.load(path: "examples/hello", config: ["greeting": "Hi"])
/// let result = try await manager.execute("hello", input: Array("World".utf8))
/// print(result.outputText)   // Hi, World!
/// ```
///
/// Reloading swaps a plugin atomically: calls already running finish on the old version, new calls
/// go to the new one, and the old version's instances are shut down as they come back.
public final class PluginManager: Sendable {
    public let host: PluginHost
    private let plugins = Locked<[String: Plugin]>([:])

    public init(host: PluginHost = PluginHost()) {
        self.host = host
    }

    /// A short description of a loaded plugin.
    public struct Entry: Sendable {
        public var id: String
        public var name: String
        public var version: SemanticVersion
        public var abi: PluginABI
        public var state: PluginState
    }

    /// Checks a plugin without loading it (see ``PluginHost/validate(manifest:wasm:grants:)``).
    public func validate(manifest: PluginManifest, wasm: [UInt8], grants: PluginGrants = .none) -> ValidationReport {
        host.validate(manifest: manifest, wasm: wasm, grants: grants)
    }

    /// Validates, compiles and initialises a plugin, and registers it under its id.
    ///
    /// - Parameters:
    ///   - config: The plugin's configuration (what `config.get` returns to the guest).
    ///   - grants: What the host allows it; it gets what its manifest requests of this.
    /// - Throws: ``PluginError`` with every validation error in its message, or the error of `init`.
    @discardableResult
    public func load(manifest: PluginManifest, wasm: [UInt8], config: [String: String] = [:], grants: PluginGrants = .none) async throws -> Plugin {
        if plugins.withLock({ $0[manifest.id] }) != nil {
            throw PluginError.make(.alreadyLoaded, "a plugin with this id is already loaded; unload it or use reload").with(pluginID: manifest.id)
        }
        let plugin = try build(manifest: manifest, wasm: wasm, config: config, grants: grants)
        let inserted = plugins.withLock { plugins -> Bool in
            guard plugins[manifest.id] == nil else { return false }
            plugins[manifest.id] = plugin
            return true
        }
        guard inserted else {
            plugin.stop()
            throw PluginError.make(.alreadyLoaded, "a plugin with this id was loaded concurrently").with(pluginID: manifest.id)
        }
        host.logger.info("plugin loaded", metadata: ["plugin": "\(manifest.id)", "version": "\(manifest.version)", "abi": "\(plugin.abi)"])
        return plugin
    }

    /// Loads a plugin from a directory, a manifest or a `.wasm` file (see ``PluginBundle``).
    @discardableResult
    public func load(path: String, config: [String: String] = [:], grants: PluginGrants = .none) async throws -> Plugin {
        let bundle = try PluginBundle.read(from: path, maxModuleBytes: host.configuration.limits.maxModuleBytes)
        // Checked here too so that a refusal names the manifest file.
        try PluginSignature.verify(bundle, policy: host.configuration.signatures)
        return try await load(manifest: bundle.manifest, wasm: bundle.wasm, config: config, grants: grants)
    }

    /// Replaces a loaded plugin with a new version. The new version is validated and initialised
    /// first; if that fails the old one keeps serving and the error is thrown.
    @discardableResult
    public func reload(manifest: PluginManifest, wasm: [UInt8], config: [String: String] = [:], grants: PluginGrants = .none) async throws -> Plugin {
        guard plugins.withLock({ $0[manifest.id] }) != nil else {
            throw PluginError.notFound("no plugin with id \(manifest.id) is loaded; use load").with(pluginID: manifest.id)
        }
        let replacement = try build(manifest: manifest, wasm: wasm, config: config, grants: grants)
        let old = plugins.withLock { plugins -> Plugin? in
            let old = plugins[manifest.id]
            plugins[manifest.id] = replacement
            return old
        }
        old?.stop()
        host.logger.info("plugin reloaded", metadata: ["plugin": "\(manifest.id)", "version": "\(manifest.version)"])
        return replacement
    }

    /// Stops a plugin and removes it. Calls already running finish.
    public func unload(_ id: String) async throws {
        guard let plugin = plugins.withLock({ $0.removeValue(forKey: id) }) else {
            throw PluginError.notFound("no plugin with id \(id) is loaded").with(pluginID: id)
        }
        plugin.stop()
        host.logger.info("plugin unloaded", metadata: ["plugin": "\(id)"])
    }

    /// The plugin loaded under `id`.
    public func plugin(_ id: String) -> Plugin? {
        plugins.withLock { $0[id] }
    }

    /// Runs an export of a loaded plugin (see ``Plugin/execute(_:input:context:)``).
    public func execute(_ id: String, export: String? = nil, input: [UInt8] = [], context: ExecutionContext = ExecutionContext()) async throws -> PluginResult {
        try await require(id).execute(export, input: input, context: context)
    }

    /// Calls a core function export of a loaded plugin.
    public func call(_ id: String, _ export: String, _ arguments: [WasmValue] = [], context: ExecutionContext = ExecutionContext()) async throws -> [WasmValue] {
        try await require(id).call(export, arguments, context: context)
    }

    /// Every loaded plugin, sorted by id.
    public func list() -> [Entry] {
        plugins.withLock { Array($0.values) }
            .map { Entry(id: $0.id, name: $0.manifest.name, version: $0.manifest.version, abi: $0.abi, state: $0.state) }
            .sorted { $0.id < $1.id }
    }

    /// The counters and state of a loaded plugin.
    public func status(_ id: String) throws -> PluginStatus {
        try require(id).status
    }

    /// Unloads everything.
    public func shutdown() async {
        let all = plugins.withLock { plugins -> [Plugin] in
            let all = Array(plugins.values)
            plugins.removeAll()
            return all
        }
        for plugin in all { plugin.stop() }
    }

    private func require(_ id: String) throws -> Plugin {
        guard let plugin = plugin(id) else {
            let loaded = plugins.withLock { $0.keys.sorted() }
            throw PluginError.notFound("no plugin with id \(id) is loaded (loaded: \(loaded.isEmpty ? "none" : loaded.joined(separator: ", ")))").with(pluginID: id)
        }
        return plugin
    }

    private func build(manifest: PluginManifest, wasm: [UInt8], config: [String: String], grants: PluginGrants) throws -> Plugin {
        try host.makePlugin(manifest: manifest, wasm: wasm, config: config, grants: grants)
    }
}

extension PluginHost {
    /// Validates and compiles a plugin and creates its first instance, without registering it
    /// anywhere. ``PluginManager`` is the usual way in; this is for embedders that keep their own
    /// registry.
    public func makePlugin(manifest: PluginManifest, wasm: [UInt8], config: [String: String] = [:], grants: PluginGrants = .none) throws -> Plugin {
        let preparation = prepare(manifest: manifest, wasm: wasm, grants: grants)
        let report = preparation.report
        guard report.isValid, let module = preparation.module, let info = report.module, let limits = report.limits, let abi = report.abi else {
            let errors = report.errors.map(\.message)
            let code: PluginError.Code =
                report.errors.contains { $0.code == PluginError.Code.unsigned.description } ? .unsigned
                : report.errors.contains { $0.code == PluginError.Code.badSignature.description } ? .badSignature
                : report.errors.contains { $0.code == PluginError.Code.untrustedSigner.description } ? .untrustedSigner
                : report.errors.contains { $0.code == "hash-mismatch" } ? .hashMismatch
                : report.errors.contains { $0.code == "unknown-import" || $0.code == "import-signature" } ? .unknownImport
                : report.errors.contains { $0.code == "missing-export" } ? .missingExport
                : report.errors.contains { $0.code == "module-too-large" } ? .limitExceeded : .invalidModule
            let message = errors.count == 1 ? errors[0] : "\(errors.count) problems:\n" + errors.map { "  - \($0)" }.joined(separator: "\n")
            throw PluginError(code: code, message: message, pluginID: manifest.id, limit: code == .limitExceeded ? .moduleSize : nil)
        }
        let shared = PluginShared(pluginID: manifest.id, logger: logger, config: config)
        let image = PluginImage(
            manifest: manifest, info: info, module: module, limits: limits, host: self, shared: shared,
            links: preparation.links, wasiGrants: preparation.wasiGrants, sha256: report.sha256 ?? "")
        let warnings = report.warnings.map(\.message)
        for warning in warnings {
            logger.warning("\(warning)", metadata: ["plugin": "\(manifest.id)"])
        }
        let plugin = Plugin(image: image, abi: abi, warnings: warnings)
        try plugin.initialize()
        return plugin
    }
}
