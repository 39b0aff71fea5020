import Foundation
import JesterConfig
import JesterManifest
import JesterRuntime
import Logging
import NIOCore

/// Plugins found under `[plugins] search_paths`, by id: a directory holding `plugin.json`, or a
/// `NAME.json` manifest next to its module. Scanned when a routing table is built (at start and
/// on every reload), so a plugin dropped into a search path is picked up by the next reload.
struct PluginCatalog {
    private(set) var locations: [String: String] = [:]
    /// Plugins whose manifest could not be read, with why (reported only if a route names them).
    private(set) var unreadable: [String: String] = [:]

    init(searchPaths: [String]) {
        let files = FileManager.default
        for directory in searchPaths {
            guard let names = try? files.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() {
                let path = (directory as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard files.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                let manifestPath: String
                if isDirectory.boolValue {
                    manifestPath = (path as NSString).appendingPathComponent("plugin.json")
                    guard files.fileExists(atPath: manifestPath) else { continue }
                } else if name.hasSuffix(".json") {
                    manifestPath = path
                } else {
                    continue
                }
                do {
                    let manifest = try PluginBundle.readManifest(manifestPath)
                    // The first search path that has an id wins.
                    if locations[manifest.id] == nil { locations[manifest.id] = manifestPath }
                } catch {
                    let id = isDirectory.boolValue ? name : String(name.dropLast(5))
                    if unreadable[id] == nil { unreadable[id] = "\(manifestPath): \(error)" }
                }
            }
        }
    }
}

/// Builds a route's filter chain from its config entries: finds each filter, checks its config
/// against the filter's JSON Schema (with defaults), and loads plugins and libraries.
struct FilterBuilder {
    let route: RouteConfig
    let config: GatewayConfig
    let catalog: PluginCatalog
    let allowUnsafeDylib: Bool
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    /// Where built-in filters keep state across reloads.
    let states: FilterStateStore.Build
    /// Loads (or reuses) a WASM plugin with its flattened config.
    let loadPlugin: (PluginBundle, [String: String]) throws -> Plugin

    /// The chain, or nil when the route has no filters. Problems are appended, each starting
    /// with the file and line it is about.
    func build(problems: inout [String]) -> FilterChain? {
        guard !route.filters.isEmpty || !route.responseFilters.isEmpty else { return nil }
        var request: [FilterStage] = []
        var response: [FilterStage] = []
        for (list, entries) in [("filters", route.filters), ("response_filters", route.responseFilters)] {
            // An entry's state identity: its list, name and place among the entries of that name,
            // so that adding or removing other filters keeps it.
            var seen: [String: Int] = [:]
            for (index, entry) in entries.enumerated() {
                let label = "\(entry.kind.rawValue):\(entry.name)"
                let occurrence = seen[label, default: 0]
                seen[label] = occurrence + 1
                guard let stage = stage(entry, key: "\(list)[\(index)]", stateEntry: "\(list)/\(entry.name)#\(occurrence)", problems: &problems) else { continue }
                if list == "filters" { request.append(stage) } else { response.append(stage) }
            }
        }
        return FilterChain(requestStages: request, responseStages: response, logger: logger)
    }

    private func stage(_ entry: FilterConfig, key: String, stateEntry: String, problems: inout [String]) -> FilterStage? {
        let label = "\(entry.kind.rawValue):\(entry.name)"
        let prefix = "route '\(route.name)' \(key) (\(label))"
        var found: [String] = []
        func report(_ path: String, _ message: String) {
            let name = path == "$" ? "config" : "config" + path.dropFirst()
            found.append("\(entry.location(ofConfig: path)): \(prefix): \(name): \(message)")
        }
        func problem(_ message: String) { found.append(message) }
        let filter: (any GatewayFilter)?
        switch entry.kind {
        case .builtin:
            filter = builtin(entry, stateEntry: stateEntry, report: report, problem: problem, prefix: prefix)
        case .wasm:
            filter = wasm(entry, report: report, problem: problem, prefix: prefix)
        case .dylib:
            filter = dylib(entry, stateEntry: stateEntry, problem: problem, prefix: prefix)
        }
        problems += found
        guard let filter else { return nil }
        return FilterStage(filter: filter, label: label, failurePolicy: entry.failurePolicy, runOnErrors: entry.runOnErrors)
    }

    /// Checks `value` against `schema`, reporting every violation; returns it with defaults.
    private func validated(_ value: JSONValue, schema: JSONValue?, report: (String, String) -> Void) -> JSONValue? {
        guard let schema else { return value }
        let compiled: JSONSchema
        do {
            compiled = try JSONSchema(schema)
        } catch {
            report("$", "the filter's config schema is invalid: \(error)")
            return nil
        }
        let value = Self.coerceStrings(value, schema: schema)
        let violations = compiled.validate(value)
        for violation in violations { report(violation.path, violation.message) }
        return violations.isEmpty ? compiled.applyingDefaults(to: value) : nil
    }

    private func builtin(_ entry: FilterConfig, stateEntry: String, report: (String, String) -> Void, problem: (String) -> Void, prefix: String) -> (any GatewayFilter)? {
        guard let type = BuiltinFilters.named(entry.name) else {
            let known = BuiltinFilters.names
            let hint = Suggestions.closest(to: entry.name, in: known).map { "Did you mean \"\($0)\"? " } ?? ""
            problem("\(entry.location): \(prefix): name: there is no built-in filter \"\(entry.name)\". \(hint)Built-in filters: \(known.joined(separator: ", "))")
            return nil
        }
        guard let config = validated(entry.config, schema: type.configSchema, report: report) else { return nil }
        var setupLogger = logger
        setupLogger[metadataKey: "route"] = "\(route.name)"
        setupLogger[metadataKey: "filter"] = "\(entry.name)"
        let setup = FilterSetup(
            route: route.name, directory: (entry.location.file as NSString).deletingLastPathComponent, logger: setupLogger,
            eventLoopGroup: eventLoopGroup, stateScope: FilterStateScope(build: states, route: route.name, entry: stateEntry))
        do {
            return try type.init(config: config, setup: setup)
        } catch {
            report(error.path, error.description)
            return nil
        }
    }

    private func wasm(_ entry: FilterConfig, report: (String, String) -> Void, problem: (String) -> Void, prefix: String) -> (any GatewayFilter)? {
        guard let reference = entry.plugin ?? entry.module else {
            problem("\(entry.location): \(prefix): plugin: a wasm filter needs plugin = \"ID or path\". Add plugin = \"plugins/NAME\"")
            return nil
        }
        let path: String
        if reference.hasPrefix("/") {
            path = reference
        } else if let found = catalog.locations[reference] {
            path = found
        } else {
            let why = catalog.unreadable[reference].map { "; a manifest that may be it cannot be read: \($0)" } ?? ""
            let searched = config.plugins.searchPaths.isEmpty ? "no [plugins] search_paths are set" : "searched \(config.plugins.searchPaths.joined(separator: ", "))"
            problem("\(entry.location): \(prefix): plugin: no plugin with id \"\(reference)\" (\(searched))\(why). Put the plugin in a search path, or give its path")
            return nil
        }
        let bundle: PluginBundle
        do {
            bundle = try PluginBundle.read(from: path)
        } catch {
            problem("\(entry.location): \(prefix): plugin: cannot read \(path): \(error)")
            return nil
        }
        guard let config = validated(entry.config, schema: bundle.manifest.configSchema, report: report) else { return nil }
        do {
            let plugin = try loadPlugin(bundle, config.pluginConfigStrings)
            let hasBodyHooks = WasmBodyHookFilter.exportsRequestBodyHook(plugin) || WasmBodyHookFilter.exportsResponseBodyHook(plugin)
            guard plugin.module.functionExport(named: "on-request") != nil || plugin.module.functionExport(named: "on-response") != nil || hasBodyHooks else {
                problem("\(entry.location): \(prefix): plugin: \(bundle.manifest.id) is not an http filter: it exports none of on-request, on-response, on-request-body, on-response-body (see wit/jester.wit, world http-filter)")
                return nil
            }
            let filter = WasmFilter(plugin: plugin)
            guard hasBodyHooks else { return filter }
            var hookLogger = logger
            hookLogger[metadataKey: "route"] = "\(route.name)"
            return WasmBodyHookFilter(inner: filter, label: "\(entry.kind.rawValue):\(entry.name)", failurePolicy: entry.failurePolicy, logger: hookLogger)
        } catch {
            problem("\(entry.location): \(prefix): plugin: cannot load \(bundle.manifest.id): \(error)")
            return nil
        }
    }

    /// The entry's dylib filter. An instance is kept across reloads (its `create` does not run
    /// again) while the route, the entry's place, the library's real path and the config stay the
    /// same, as a WASM plugin keeps its warm instances.
    private func dylib(_ entry: FilterConfig, stateEntry: String, problem: (String) -> Void, prefix: String) -> (any GatewayFilter)? {
        guard allowUnsafeDylib || config.plugins.allowUnsafeDylib else {
            problem(
                "\(entry.location): \(prefix): type: dylib filters run native code unsandboxed inside the gateway, so they are off by default. "
                    + "Start with `jester run --allow-unsafe-dylib`, or set allow_unsafe_dylib = true in [plugins], if you trust \(entry.module ?? "the library")")
            return nil
        }
        guard let module = entry.module else {
            problem("\(entry.location): \(prefix): module: a dylib filter needs module = \"path/to/libfilter.so\"")
            return nil
        }
        do {
            var filterLogger = logger
            filterLogger[metadataKey: "route"] = "\(route.name)"
            filterLogger[metadataKey: "filter"] = "dylib:\(entry.name)"
            let label = "dylib:\(entry.name)"
            let identity = DylibFilter.Identity(path: try DylibLibrary.realPath(module, label: label), config: entry.config.serialized())
            let key = FilterStateStore.Key(route: route.name, entry: stateEntry, identity: FilterStateStore.Identity(identity))
            return try states.state(at: key) { () throws(DylibFilterError) in
                try DylibFilter.load(path: module, config: entry.config, label: label, logger: filterLogger)
            }
        } catch {
            problem("\(entry.location): \(prefix): module: \(error)")
            return nil
        }
    }

    /// Turns strings into the numbers or booleans the schema asks for, where they parse: a value
    /// written with `${ENV:DEFAULT}` interpolation is always a string in the config, and
    /// `rps = "${RPS:100}"` should work like `rps = 100`. Follows `properties`,
    /// `additionalProperties` and `items`.
    static func coerceStrings(_ value: JSONValue, schema: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            let types = schema["type"].map { $0.arrayValue ?? [$0] }?.compactMap(\.stringValue) ?? []
            guard !types.contains("string") else { return value }
            if types.contains("integer"), let number = Int64(text) { return .integer(number) }
            if types.contains("number"), let number = Double(text), number.isFinite { return Int64(exactly: number).map(JSONValue.integer) ?? .double(number) }
            if types.contains("boolean"), text == "true" || text == "false" { return .bool(text == "true") }
            return value
        case .object(let members):
            let properties = schema["properties"]
            let additional = schema["additionalProperties"]
            return .object(members.map { member in
                guard let inner = properties?[member.key] ?? additional, inner.objectValue != nil else { return member }
                return (key: member.key, value: coerceStrings(member.value, schema: inner))
            })
        case .array(let elements):
            guard let items = schema["items"], items.objectValue != nil else { return value }
            return .array(elements.map { coerceStrings($0, schema: items) })
        default:
            return value
        }
    }
}
