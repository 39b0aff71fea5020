public import JesterManifest
import Foundation
import JesterWASI
import WasmKit

/// Everything found when checking a plugin before activation: errors (the plugin cannot load),
/// warnings (it loads, but something will not work as its author may expect) and notes.
public struct ValidationReport: Sendable {
    public enum Severity: String, Sendable, Hashable, Comparable {
        case error, warning, note

        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            let order: [Severity] = [.error, .warning, .note]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        public var severity: Severity
        /// A stable short code (`unknown-import`, `hash-mismatch`, ...).
        public var code: String
        public var message: String

        public var description: String { "\(severity.rawValue): \(message) [\(code)]" }
    }

    public var pluginID: String
    public var issues: [Issue] = []
    /// The module's structure, when it could be read.
    public var module: ModuleInfo?
    /// The ABI in force: the manifest's, or the detected one.
    public var abi: PluginABI?
    /// The limits in force after clamping to the host's.
    public var limits: ResourceLimits?
    /// The SHA-256 of the module, lowercase hex.
    public var sha256: String?

    /// Whether the plugin can be loaded.
    public var isValid: Bool { !issues.contains { $0.severity == .error } }
    public var errors: [Issue] { issues.filter { $0.severity == .error } }
    public var warnings: [Issue] { issues.filter { $0.severity == .warning } }

    mutating func add(_ severity: Severity, _ code: String, _ message: String) {
        issues.append(Issue(severity: severity, code: code, message: message))
    }
}

extension PluginHost {
    /// Checks a plugin without running any of its code: size, hash, signature (when the host's
    /// ``PluginHost/Configuration/signatures`` requires one), structure, imports against the
    /// capabilities on offer and the permissions granted, exports against the manifest, ABI and
    /// limits. Reports every problem, not only the first.
    public func validate(manifest: PluginManifest, wasm: [UInt8], grants: PluginGrants = .none) -> ValidationReport {
        prepare(manifest: manifest, wasm: wasm, grants: grants).report
    }

    struct Preparation {
        var report: ValidationReport
        var links: [(module: String, name: String, link: PluginImage.Link)] = []
        var wasiGrants = WASIGrants()
        var module: Module?
    }

    func prepare(manifest: PluginManifest, wasm: [UInt8], grants: PluginGrants) -> Preparation {
        var preparation = Preparation(report: ValidationReport(pluginID: manifest.id))
        prepare(manifest: manifest, wasm: wasm, grants: grants, into: &preparation)
        return preparation
    }

    private func prepare(manifest: PluginManifest, wasm: [UInt8], grants: PluginGrants, into preparation: inout Preparation) {
        var report = preparation.report
        defer { preparation.report = report }
        let limits = manifest.limits.clamped(to: configuration.limits)
        report.limits = limits
        if limits.memoryBytes < manifest.limits.memoryBytes {
            report.add(.note, "limit-clamped", "memory limit lowered from \(manifest.limits.memoryBytes) to the host's \(limits.memoryBytes) bytes")
        }
        if limits.timeout < manifest.limits.timeout {
            report.add(.note, "limit-clamped", "timeout lowered from \(manifest.limits.timeout) to the host's \(limits.timeout)")
        }
        if wasm.count > limits.maxModuleBytes {
            report.add(.error, "module-too-large", "the module is \(wasm.count) bytes, over the limit of \(limits.maxModuleBytes); raise limits.max_module_bytes or shrink the module (strip debug info, build with -Osize)")
            return
        }
        let digest = PluginBundle.sha256(of: wasm)
        report.sha256 = digest
        if let expected = manifest.sha256 {
            if expected != digest {
                report.add(.error, "hash-mismatch", "the module's SHA-256 is \(digest) but the manifest says \(expected); the file changed since the manifest was written: rebuild, or update \"sha256\" if the change is intended")
            }
        } else {
            report.add(.note, "no-hash", "the manifest has no \"sha256\"; add \"sha256\": \"\(digest)\" so a changed module is refused")
        }
        if configuration.signatures.isRequired {
            do {
                _ = try PluginSignature.verify(manifest: manifest, moduleSHA256: digest, policy: configuration.signatures, file: nil, at: Date())
            } catch where !(error.code == .hashMismatch && report.errors.contains { $0.code == "hash-mismatch" }) {
                report.add(.error, error.code.description, error.message)
            } catch {
                // The hash mismatch is reported above already.
            }
        }
        let info: ModuleInfo
        do {
            info = try ModuleInfo(bytes: wasm)
        } catch {
            report.add(.error, "invalid-module", error.message)
            return
        }
        report.module = info
        let abi = manifest.abi ?? info.abi
        report.abi = abi
        if let declared = manifest.abi, declared != info.abi {
            report.add(.warning, "abi-mismatch", "the manifest says abi \"\(declared)\" but the module looks like \"\(info.abi)\" (\(info.abiEvidence)); the manifest wins")
        }
        if [PluginABI.proxyWasm, .httpWasm, .extism].contains(abi) {
            report.add(.warning, "abi-adapter-missing", "the \(abi) ABI is detected but its adapter is not available in this version; only plain core function calls work")
        }
        checkMemory(info, limits: limits, report: &report)
        let effective = EffectiveGrants(requested: manifest.permissions, granted: grants)
        for missing in effective.notGranted {
            report.add(.warning, "not-granted", "the manifest asks for \(missing), but it was not granted: calls that need it get a permission error")
        }
        for extra in effective.unrequested {
            report.add(.note, "not-requested", "granted \(extra), so it is not given")
        }
        preparation.wasiGrants = WASIGrants(
            preopens: effective.paths.map { WASIGrants.Preopen(guestPath: $0.guestPath, hostPath: $0.hostPath, writable: $0.writable) },
            environment: effective.environment,
            arguments: [manifest.id],
            clock: effective.clock,
            random: effective.random)
        preparation.links = checkImports(info, manifest: manifest, grants: grants, report: &report)
        checkUnusedPermissions(info, manifest: manifest, report: &report)
        checkExports(info, manifest: manifest, abi: abi, report: &report)
        guard report.isValid else { return }
        do {
            preparation.module = try parseWasm(bytes: wasm, features: ModuleInfo.features)
        } catch {
            report.add(.error, "invalid-module", "the module does not decode: \(error)")
        }
        return
    }

    private func checkMemory(_ info: ModuleInfo, limits: ResourceLimits, report: inout ValidationReport) {
        let importedMemories = info.imports.filter { $0.kind == .memory }.compactMap(\.limits)
        let memories = importedMemories + info.memories
        if memories.count > 1 {
            report.add(.error, "multi-memory", "the module has \(memories.count) memories; Jester supports one")
        }
        for memory in memories {
            if memory.isShared {
                report.add(.error, "shared-memory", "the module has a shared memory (threads), which Jester does not run; build without threads")
            }
            if memory.is64Bit {
                report.add(.error, "memory64", "the module uses a 64-bit memory, which Jester does not run; build for wasm32")
            }
            let initialBytes = memory.minimum.multipliedReportingOverflow(by: 65536)
            if initialBytes.overflow || initialBytes.partialValue > UInt64(limits.memoryBytes) {
                report.add(.error, "memory-too-large", "the module's memory starts at \(memory.minimum) pages (\(memory.minimum) × 64 KiB), over the plugin's memory limit of \(limits.memoryBytes) bytes; raise limits.memory_bytes or lower the initial memory (wasm-ld --initial-memory)")
            }
        }
        for table in info.tables where table.minimum > UInt64(limits.tableElements) {
            report.add(.error, "table-too-large", "a table starts at \(table.minimum) elements, over the limit of \(limits.tableElements)")
        }
    }

    private func checkImports(_ info: ModuleInfo, manifest: PluginManifest, grants: PluginGrants, report: inout ValidationReport) -> [(module: String, name: String, link: PluginImage.Link)] {
        var links: [(module: String, name: String, link: PluginImage.Link)] = []
        var denied: [String: [String]] = [:]
        for item in info.imports {
            let signature = item.signature.map(\.description) ?? "(\(item.kind))"
            guard item.kind == .function, let importSignature = item.signature else {
                report.add(.error, "unknown-import", "import \(item.module).\(item.name) is a \(item.kind); Jester provides only functions, so the module must define its own \(item.kind)")
                continue
            }
            if item.module == "wasi_snapshot_preview1" {
                guard WASISession.providedFunctionNames.contains(item.name) else {
                    report.add(.error, "unknown-import", "import wasi_snapshot_preview1.\(item.name) \(signature) is not a WASI preview 1 function this host provides")
                    continue
                }
                if let expected = WASISession.signature(of: item.name), WasmSignature(expected) != importSignature {
                    report.add(.error, "import-signature", "import wasi_snapshot_preview1.\(item.name) has signature \(signature), but WASI preview 1 defines \(WasmSignature(expected))")
                    continue
                }
                links.append((item.module, item.name, .wasi(item.name)))
                continue
            }
            guard let (capability, function) = hostFunction(module: item.module, name: item.name) else {
                report.add(.error, "unknown-import", "import \(item.module).\(item.name) \(signature) is not provided by this host; the plugin needs a host capability Jester does not have (check the module name and version against wit/jester.wit)")
                continue
            }
            guard function.signature == importSignature else {
                report.add(.error, "import-signature", "import \(item.module).\(item.name) has signature \(signature), but the host defines it as \(function.signature)")
                continue
            }
            let granted = capability.isGranted(requested: manifest.permissions, granted: grants)
            if !granted { denied[capability.name, default: []].append("\(item.module).\(item.name)") }
            links.append((item.module, item.name, .host(function, granted: granted)))
        }
        for (capability, names) in denied.sorted(by: { $0.key < $1.key }) {
            report.add(.warning, "permission-stub", "the module imports \(names.joined(separator: ", ")) but the \(capability) capability is not both requested in the manifest and granted by the host; those calls return permission-denied")
        }
        return links
    }

    /// Permissions the manifest asks for that no import of the module can use. Least privilege:
    /// a plugin should ask for what it calls and nothing else, so a reviewer can trust the list.
    private func checkUnusedPermissions(_ info: ModuleInfo, manifest: PluginManifest, report: inout ValidationReport) {
        let jester = Set(info.imports.compactMap { item -> String? in
            guard item.module.hasPrefix("jester:plugin/") else { return nil }
            return String(item.module.dropFirst("jester:plugin/".count).prefix { $0 != "@" })
        })
        let wasi = Set(info.imports.filter { $0.module == "wasi_snapshot_preview1" }.map(\.name))
        let permissions = manifest.permissions
        var unused: [String] = []
        if permissions.clock, !jester.contains("clock"), !wasi.contains(where: { $0.hasPrefix("clock_") }) { unused.append("clock") }
        if permissions.random, !jester.contains("random"), !wasi.contains("random_get") { unused.append("random") }
        if !(permissions.readPaths.isEmpty && permissions.writePaths.isEmpty), !wasi.contains("path_open") { unused.append("read_paths/write_paths") }
        if !permissions.environment.isEmpty, !wasi.contains("environ_get") { unused.append("environment") }
        for name in unused {
            report.add(.warning, "unused-permission", "the manifest asks for \(name), but the module imports nothing that uses it; remove it from permissions, so that the plugin asks only for what it calls")
        }
    }

    private func checkExports(_ info: ModuleInfo, manifest: PluginManifest, abi: PluginABI, report: inout ValidationReport) {
        for declaration in manifest.exports {
            guard let export = info.functionExport(named: declaration.name) else {
                let available = info.exports.filter { $0.kind == .function }.map(\.name)
                report.add(.error, "missing-export", "the manifest declares export \"\(declaration.name)\" but the module has no such function (it exports: \(available.isEmpty ? "no functions" : available.joined(separator: ", ")))")
                continue
            }
            if declaration.kind == .handler {
                if export.signature != WasmSignature(parameters: [.i32, .i32], results: [.i32]) {
                    report.add(.error, "export-signature", "handler export \"\(declaration.name)\" has signature \(export.signature?.description ?? "?"); the handler world needs (param i32 i32) (result i32)")
                }
                if info.functionExport(named: "cabi_realloc") == nil {
                    report.add(.error, "missing-export", "handler export \"\(declaration.name)\" needs the module to export cabi_realloc (param i32 i32 i32 i32) (result i32)")
                }
                if info.export(named: "memory") == nil {
                    report.add(.error, "missing-export", "handler export \"\(declaration.name)\" needs the module to export its memory as \"memory\"")
                }
            }
            if declaration.kind == .command, export.signature != WasmSignature(parameters: [], results: []) {
                report.add(.error, "export-signature", "command export \"\(declaration.name)\" must take and return nothing")
            }
        }
        for name in ["on-request", "on-response"] where abi == .jester {
            guard let export = info.functionExport(named: name) else { continue }
            if export.signature != WasmSignature(parameters: [.i32, .i32], results: [.i32]) {
                report.add(.error, "export-signature", "http-filter export \"\(name)\" has signature \(export.signature?.description ?? "?"); the http-filter world needs (param i32 i32) (result i32): the request and response handles in, the action out")
            }
            if info.functionExport(named: "cabi_realloc") == nil {
                report.add(.error, "missing-export", "http-filter export \"\(name)\" needs the module to export cabi_realloc (param i32 i32 i32 i32) (result i32)")
            }
            if info.export(named: "memory") == nil {
                report.add(.error, "missing-export", "http-filter export \"\(name)\" needs the module to export its memory as \"memory\"")
            }
        }
        checkBodyHooks(info, manifest: manifest, abi: abi, report: &report)
        if abi == .jester, info.functionExport(named: "init") != nil, info.functionExport(named: "init")?.signature != WasmSignature(parameters: [], results: [.i32]) {
            report.add(.error, "export-signature", "export \"init\" must be init() -> result<_, string>, i.e. (result i32)")
        }
        if abi == .jester, let health = info.functionExport(named: "health"), health.signature != WasmSignature(parameters: [], results: [.i32]) {
            report.add(.error, "export-signature", "export \"health\" must be (result i32)")
        }
    }
}

extension PluginHost {
    /// The body hooks of the `http-filter` world: their core signatures, what they need, and a
    /// warning when the manifest buffers the same body (buffering wins: the hook never runs).
    fileprivate func checkBodyHooks(_ info: ModuleInfo, manifest: PluginManifest, abi: PluginABI, report: inout ValidationReport) {
        guard abi == .jester else { return }
        let hooks: [(name: String, parameters: Int, handles: String, buffered: Bool, key: String)] = [
            ("on-request-body", 4, "the request handle", manifest.httpFilter?.bufferRequestBody ?? false, "buffer_request_body"),
            ("on-response-body", 5, "the request and response handles", manifest.httpFilter?.bufferResponseBody ?? false, "buffer_response_body"),
        ]
        for hook in hooks {
            guard let export = info.functionExport(named: hook.name) else { continue }
            let expected = WasmSignature(parameters: Array(repeating: .i32, count: hook.parameters), results: [.i32])
            if export.signature != expected {
                report.add(
                    .error, "export-signature",
                    "http-filter export \"\(hook.name)\" has signature \(export.signature?.description ?? "?"); the http-filter world needs \(expected): \(hook.handles), the chunk's pointer and length, end (0 or 1) in, a pointer to an option<list<u8>> result area out")
            }
            if info.functionExport(named: "cabi_realloc") == nil {
                report.add(.error, "missing-export", "http-filter export \"\(hook.name)\" needs the module to export cabi_realloc (param i32 i32 i32 i32) (result i32): the host places each chunk through it")
            }
            if info.export(named: "memory") == nil {
                report.add(.error, "missing-export", "http-filter export \"\(hook.name)\" needs the module to export its memory as \"memory\"")
            }
            if hook.buffered {
                report.add(
                    .warning, "body-hook-unused",
                    "the manifest sets http_filter.\(hook.key), so the gateway hands this plugin the whole body and never calls \(hook.name); drop one of the two")
            }
        }
    }
}
