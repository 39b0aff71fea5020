import JesterManifest
import JesterWASI
import WasmKit

/// One validated, compiled version of a plugin: everything needed to make instances of it.
final class PluginImage: Sendable {
    /// How one function import is satisfied.
    enum Link: Sendable {
        /// A host function; `granted` false links its denial stub instead.
        case host(HostFunction, granted: Bool)
        /// A WASI preview 1 function.
        case wasi(String)
    }

    let id: String
    let manifest: PluginManifest
    let info: ModuleInfo
    let module: Module
    let limits: ResourceLimits
    let host: PluginHost
    let shared: PluginShared
    let links: [(module: String, name: String, link: Link)]
    let wasiImports: [String]
    let wasiGrants: WASIGrants
    let sha256: String
    /// Every exported function, in the module's order, with its parameter types (nil when they
    /// include types Jester does not pass) to check arguments without allocating.
    let functionExports: [(name: String, parameters: [ValueType]?)]
    /// Positions in `functionExports` by name.
    let functionExportIndex: [String: Int]
    /// Positions of the `http-filter` hooks in `functionExports`, looked up once.
    let httpFilterExports: (onRequest: Int?, onResponse: Int?)
    /// Positions of the `http-filter` body hooks and their `cabi_post_*` exports, looked up once.
    let httpFilterBodyExports: HTTPFilterBodyExports

    var needsWASI: Bool { !wasiImports.isEmpty }

    init(
        manifest: PluginManifest, info: ModuleInfo, module: Module, limits: ResourceLimits, host: PluginHost,
        shared: PluginShared, links: [(module: String, name: String, link: Link)], wasiGrants: WASIGrants, sha256: String
    ) {
        self.id = manifest.id
        self.manifest = manifest
        self.info = info
        self.module = module
        self.limits = limits
        self.host = host
        self.shared = shared
        self.links = links
        self.wasiImports = links.compactMap { if case .wasi(let name) = $0.link { return name } else { return nil } }
        self.wasiGrants = wasiGrants
        self.sha256 = sha256
        var exports: [(name: String, parameters: [ValueType]?)] = []
        var index: [String: Int] = [:]
        for export in info.exports where export.kind == .function {
            var parameters: [ValueType]?
            if let signature = export.signature, signature.parameters.allSatisfy({ $0.engineType != nil }) {
                parameters = signature.parameters.compactMap(\.engineType)
            }
            index[export.name] = exports.count
            exports.append((export.name, parameters))
        }
        self.functionExports = exports
        self.functionExportIndex = index
        self.httpFilterExports = (index["on-request"], index["on-response"])
        self.httpFilterBodyExports = HTTPFilterBodyExports(index: index)
    }

    /// Defines every import of the module in `imports`, bound to `context`.
    func link(into imports: inout Imports, store: Store, context: InstanceContext, wasi: WASISession?) {
        for entry in links {
            guard case .host(let function, let granted) = entry.link else { continue }
            let body = granted ? function.body : function.denial.apply
            let engineFunction = Function(
                store: store,
                parameters: function.signature.parameters.compactMap(\.engineType),
                results: function.signature.results.compactMap(\.engineType)
            ) { _, parameters, results in
                let call = HostCall(parameters: parameters, results: results, instance: context)
                try body(call)
            }
            imports.define(module: entry.module, name: entry.name, engineFunction)
        }
        if let wasi {
            wasi.link(into: &imports, store: store, importNames: wasiImports)
        }
    }
}
