public import JesterManifest
import WasmParser
import WasmKit

/// What a WebAssembly module declares: imports, exports, memories, tables, custom sections, and the
/// plugin ABI they imply. Reading it does not run any guest code.
///
/// ```swift
/// let info = try ModuleInfo(bytes: wasm)
/// print(info.abi, info.exports.map(\.name))
/// ```
public struct ModuleInfo: Sendable {
    /// One import of the module.
    public struct Import: Sendable, Hashable, CustomStringConvertible {
        public var module: String
        public var name: String
        public var kind: ExternKind
        /// The function signature, for function imports.
        public var signature: WasmSignature?
        /// Memory or table limits, for those imports.
        public var limits: Limits?

        public var description: String {
            "\(module).\(name): \(kind)\(signature.map { " \($0)" } ?? "")"
        }
    }

    /// One export of the module.
    public struct Export: Sendable, Hashable {
        public var name: String
        public var kind: ExternKind
        public var signature: WasmSignature?
    }

    /// Sizes of a memory (in 64 KiB pages) or a table (in elements).
    public struct Limits: Sendable, Hashable, CustomStringConvertible {
        public var minimum: UInt64
        public var maximum: UInt64?
        public var isShared: Bool
        public var is64Bit: Bool

        public var description: String {
            "min \(minimum)" + (maximum.map { ", max \($0)" } ?? "") + (isShared ? ", shared" : "") + (is64Bit ? ", 64-bit" : "")
        }
    }

    /// A custom section's name and size.
    public struct CustomSection: Sendable, Hashable {
        public var name: String
        public var byteCount: Int
    }

    /// The kind of an import or export.
    public enum ExternKind: String, Sendable, Hashable, CustomStringConvertible {
        case function, table, memory, global, tag
        public var description: String { rawValue }
    }

    public var imports: [Import]
    public var exports: [Export]
    /// Memories the module defines (not imported ones).
    public var memories: [Limits]
    /// Tables the module defines (not imported ones).
    public var tables: [Limits]
    public var customSections: [CustomSection]
    /// Whether the module has a start function, which runs during instantiation.
    public var hasStartFunction: Bool
    public var definedFunctionCount: Int
    /// The size of the module in bytes.
    public var byteCount: Int
    /// The ABI the imports and exports imply.
    public var abi: PluginABI
    /// Why that ABI was chosen, in words.
    public var abiEvidence: String
    /// The ABI version, where the module states it (proxy-wasm's `proxy_abi_version_*` export).
    public var abiVersion: SemanticVersion?

    /// Reads a module's structure. Throws ``PluginError`` naming the byte offset of a malformed module.
    public init(bytes: [UInt8]) throws(PluginError) {
        var parser = WasmParser.Parser(bytes: bytes, features: ModuleInfo.features)
        var types: [FunctionType?] = []
        var importedFunctionTypes: [FunctionType?] = []
        var definedFunctionTypes: [FunctionType?] = []
        var exportRecords: [WasmParser.Export] = []
        imports = []
        exports = []
        memories = []
        tables = []
        customSections = []
        hasStartFunction = false
        definedFunctionCount = 0
        byteCount = bytes.count
        abi = .core
        abiEvidence = ""
        abiVersion = nil
        do {
            while let payload = try parser.parseNext() {
                switch payload {
                case .typeSection(let groups):
                    for group in groups {
                        for subtype in group.types {
                            if case .function(let type) = subtype.body { types.append(type) } else { types.append(nil) }
                        }
                    }
                case .importSection(let list):
                    for item in list {
                        var record = Import(module: item.module, name: item.name, kind: .function)
                        switch item.descriptor {
                        case .function(let index):
                            let type = Int(index) < types.count ? types[Int(index)] : nil
                            importedFunctionTypes.append(type)
                            record.signature = type.map(WasmSignature.init)
                        case .table(let type):
                            record.kind = .table
                            record.limits = Limits(type.limits)
                        case .memory(let type):
                            record.kind = .memory
                            record.limits = Limits(type)
                        case .global:
                            record.kind = .global
                        case .tag:
                            record.kind = .tag
                        }
                        imports.append(record)
                    }
                case .functionSection(let indices):
                    definedFunctionCount = indices.count
                    definedFunctionTypes = indices.map { Int($0) < types.count ? types[Int($0)] : nil }
                case .tableSection(let list):
                    tables = list.map { Limits($0.type.limits) }
                case .memorySection(let list):
                    memories = list.map { Limits($0.type) }
                case .exportSection(let list):
                    exportRecords = list
                case .startSection:
                    hasStartFunction = true
                case .customSection(let section):
                    customSections.append(CustomSection(name: section.name, byteCount: section.bytes.count))
                default:
                    break
                }
            }
        } catch {
            throw PluginError.invalidModule("malformed module at byte offset \(parser.offset): \(error)")
        }
        let allFunctionTypes = importedFunctionTypes + definedFunctionTypes
        for record in exportRecords {
            switch record.descriptor {
            case .function(let index):
                let type = Int(index) < allFunctionTypes.count ? allFunctionTypes[Int(index)] : nil
                exports.append(Export(name: record.name, kind: .function, signature: type.map(WasmSignature.init)))
            case .table: exports.append(Export(name: record.name, kind: .table))
            case .memory: exports.append(Export(name: record.name, kind: .memory))
            case .global: exports.append(Export(name: record.name, kind: .global))
            case .tag: exports.append(Export(name: record.name, kind: .tag))
            }
        }
        (abi, abiEvidence, abiVersion) = ModuleInfo.detectABI(imports: imports, exports: exports)
    }

    /// The WebAssembly features Jester accepts. Threads and 64-bit memories are refused.
    static let features: WasmFeatureSet = [.referenceTypes, .exceptionHandling, .tailCall, .simd]

    /// The export named `name`, if any.
    public func export(named name: String) -> Export? {
        exports.first { $0.name == name }
    }

    /// The function export named `name`, if any.
    public func functionExport(named name: String) -> Export? {
        exports.first { $0.name == name && $0.kind == .function }
    }

    /// Every import module name, once each, in order.
    public var importModules: [String] {
        var seen = Set<String>()
        return imports.map(\.module).filter { seen.insert($0).inserted }
    }

    static func detectABI(imports: [Import], exports: [Export]) -> (PluginABI, String, SemanticVersion?) {
        let exportNames = Set(exports.filter { $0.kind == .function }.map(\.name))
        let importModules = Set(imports.map(\.module))
        if let versionExport = exportNames.first(where: { $0.hasPrefix("proxy_abi_version_") }) {
            let digits = versionExport.dropFirst("proxy_abi_version_".count).split(separator: "_").compactMap { UInt64($0) }
            let version = digits.count == 3 ? SemanticVersion(digits[0], digits[1], digits[2]) : nil
            return (.proxyWasm, "exports \(versionExport)", version)
        }
        if exportNames.contains("proxy_on_context_create") || imports.contains(where: { $0.name.hasPrefix("proxy_") && $0.module == "env" }) {
            return (.proxyWasm, "exports proxy_on_context_create or imports env.proxy_*", nil)
        }
        if importModules.contains("http_handler") {
            return (.httpWasm, "imports from module http_handler", nil)
        }
        if importModules.contains("extism:host/env") {
            return (.extism, "imports from module extism:host/env", nil)
        }
        if imports.contains(where: { $0.module == "env" && $0.name.hasPrefix("extism_") }) {
            return (.extism, "imports env.extism_* (Extism's older kernel names)", nil)
        }
        if let jesterImport = imports.first(where: { $0.module.hasPrefix("jester:plugin/") }) {
            let version = jesterImport.module.split(separator: "@").last.flatMap { try? SemanticVersion(parsing: String($0)) }
            return (.jester, "imports from \(jesterImport.module)", version)
        }
        if exportNames.contains("handle"), exportNames.contains("cabi_realloc") {
            return (.jester, "exports handle and cabi_realloc (the handler world)", nil)
        }
        if exportNames.contains("on-request") || exportNames.contains("on-response"), exportNames.contains("cabi_realloc") {
            return (.jester, "exports on-request or on-response and cabi_realloc (the http-filter world)", nil)
        }
        if exportNames.contains("on-request-body") || exportNames.contains("on-response-body"), exportNames.contains("cabi_realloc") {
            return (.jester, "exports on-request-body or on-response-body and cabi_realloc (the http-filter world)", nil)
        }
        let importsWASI = importModules.contains("wasi_snapshot_preview1")
        if exportNames.contains("_start") {
            return (.wasiCommand, importsWASI ? "exports _start and imports WASI preview 1" : "exports _start", nil)
        }
        if importsWASI {
            return (.wasiReactor, exportNames.contains("_initialize") ? "exports _initialize and imports WASI preview 1" : "imports WASI preview 1 and has no _start", nil)
        }
        return (.core, "no known ABI imports or exports: exported functions are called with WebAssembly values", nil)
    }
}

extension ModuleInfo.Limits {
    init(_ limits: WasmParser.Limits) {
        self.init(minimum: limits.min, maximum: limits.max, isShared: limits.shared, is64Bit: limits.isMemory64)
    }
}
