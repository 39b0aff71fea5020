/// One problem found in a manifest, with the JSON path where it is (`$.limits.fuel`).
public struct ManifestIssue: Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// A manifest that could not be read or decoded. Lists every problem, not only the first.
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable { case syntax, invalid, unreadable }
    private let code: Code
    /// The manifest file, when it came from one.
    public let file: String?
    /// Every problem found, each with its JSON path.
    public let issues: [ManifestIssue]

    private init(code: Code, file: String?, issues: [ManifestIssue]) {
        self.code = code
        self.file = file
        self.issues = issues
    }

    static func syntax(_ error: JSONSyntaxError, file: String?) -> ManifestError {
        ManifestError(code: .syntax, file: file, issues: [ManifestIssue(path: "$", message: "not valid JSON: \(error)")])
    }

    static func invalid(_ issues: [ManifestIssue], file: String?) -> ManifestError {
        ManifestError(code: .invalid, file: file, issues: issues)
    }

    /// The manifest file could not be read.
    public static func unreadable(file: String, reason: String) -> ManifestError {
        ManifestError(code: .unreadable, file: file, issues: [ManifestIssue(path: "$", message: "cannot read the file: \(reason)")])
    }

    /// Whether the file was not JSON at all.
    public var isSyntaxError: Bool { code == .syntax }

    public var description: String {
        let head = file.map { "\($0): " } ?? ""
        if issues.count == 1 { return "\(head)invalid manifest: \(issues[0])" }
        return "\(head)invalid manifest, \(issues.count) problems:\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

extension PluginManifest {
    /// Decodes a manifest from JSON text, reporting every problem at once.
    ///
    /// - Parameter file: The file name to put in error messages.
    public static func decode(json text: String, file: String? = nil) throws(ManifestError) -> PluginManifest {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw .syntax(error, file: file)
        }
        return try decode(value, file: file)
    }

    /// Decodes a manifest from a parsed JSON value, reporting every problem at once.
    public static func decode(_ value: JSONValue, file: String? = nil) throws(ManifestError) -> PluginManifest {
        var decoder = ManifestDecoder()
        if var manifest = decoder.decodeManifest(value), decoder.issues.isEmpty {
            manifest.source = value
            return manifest
        }
        throw .invalid(decoder.issues, file: file)
    }
}

/// Walks a manifest's JSON, collecting every problem instead of stopping at the first.
private struct ManifestDecoder {
    var issues: [ManifestIssue] = []

    mutating func report(_ path: String, _ message: String) {
        issues.append(ManifestIssue(path: path, message: message))
    }

    mutating func decodeManifest(_ value: JSONValue) -> PluginManifest? {
        guard var root = ObjectReader(value, path: "$", decoder: &self) else { return nil }
        let id = root.string("id", required: true, decoder: &self)
        if let id, !PluginManifest.isValidID(id) {
            report("$.id", "\"\(id)\" is not a valid id; use lowercase letters, digits, '-', '_' and '.', starting with a letter or digit (at most 128 bytes)")
        }
        let name = root.string("name", decoder: &self)
        var version: SemanticVersion?
        if let text = root.string("version", required: true, decoder: &self) {
            do { version = try SemanticVersion(parsing: text) } catch { report("$.version", "\(error); use semver, e.g. 1.0.0") }
        }
        let description = root.string("description", decoder: &self) ?? ""
        let author = root.string("author", decoder: &self) ?? ""
        let module = root.string("module", decoder: &self)
        if let module, module.isEmpty || module.hasPrefix("/") {
            report("$.module", "must be a relative path to the .wasm file next to the manifest")
        }
        var abi: PluginABI?
        var abiVersion: SemanticVersion?
        if let text = root.string("abi", decoder: &self) {
            let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
            if let parsed = PluginABI(parsing: parts.first ?? "") {
                abi = parsed
            } else {
                report("$.abi", "unknown ABI \"\(parts.first ?? "")\"; expected one of \(PluginABI.allABIs.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            if parts.count == 2 {
                do {
                    let parsedVersion = try SemanticVersion(parsing: parts[1])
                    abiVersion = parsedVersion
                    if let abi, let hostVersion = abi.hostVersion, !hostVersion.isCompatible(with: parsedVersion) {
                        report("$.abi", "the plugin targets \(abi)@\(parsedVersion) but this host implements \(abi)@\(hostVersion); rebuild the plugin against \(hostVersion.major).\(hostVersion.minor).x")
                    }
                } catch {
                    report("$.abi", "\(error); write the ABI as \"name\" or \"name@MAJOR.MINOR.PATCH\"")
                }
            }
        }
        let exports = root.array("exports", decoder: &self).map { decodeExports($0) } ?? []
        let permissions = root.value("permissions").map { decodePermissions($0, path: "$.permissions") } ?? .none
        let limits = root.value("limits").map { decodeLimits($0, path: "$.limits") } ?? ResourceLimits()
        let configSchema = root.value("config_schema")
        if let configSchema {
            switch configSchema {
            case .object, .bool: break
            default: report("$.config_schema", "must be a JSON Schema (an object or a boolean), found \(configSchema.typeDescription)")
            }
        }
        let httpFilter = root.value("http_filter").map { decodeHTTPFilter($0, path: "$.http_filter") }
        let sha256 = root.string("sha256", decoder: &self)
        if let sha256, sha256.utf8.count != 64 || !sha256.utf8.allSatisfy(isLowerHex) {
            report("$.sha256", "must be 64 lowercase hex digits (the SHA-256 of the module file)")
        }
        var signature: ManifestSignature?
        if let value = root.value("signature"), var reader = ObjectReader(value, path: "$.signature", decoder: &self) {
            let key = reader.string("public_key", required: true, decoder: &self)
            let sig = reader.string("value", required: true, decoder: &self)
            reader.finish(decoder: &self)
            if let key, key.utf8.count != 64 || !key.utf8.allSatisfy(isLowerHex) {
                report("$.signature.public_key", "must be 64 lowercase hex digits (an Ed25519 public key); sign again with `jester plugin sign`")
            }
            if let sig, sig.utf8.count != 128 || !sig.utf8.allSatisfy(isLowerHex) {
                report("$.signature.value", "must be 128 lowercase hex digits (an Ed25519 signature); sign again with `jester plugin sign`")
            }
            if let key, let sig { signature = ManifestSignature(publicKey: key, value: sig) }
        }
        _ = root.value("$schema")
        root.finish(decoder: &self)
        guard let id, let version else { return nil }
        return PluginManifest(
            id: id, name: name, version: version, description: description, author: author, module: module,
            abi: abi, abiVersion: abiVersion, exports: exports, permissions: permissions, limits: limits,
            configSchema: configSchema, httpFilter: httpFilter, sha256: sha256, signature: signature)
    }

    mutating func decodeHTTPFilter(_ value: JSONValue, path: String) -> HTTPFilterOptions {
        var options = HTTPFilterOptions()
        guard var reader = ObjectReader(value, path: path, decoder: &self) else { return options }
        if let flag = reader.bool("buffer_request_body", decoder: &self) { options.bufferRequestBody = flag }
        if let flag = reader.bool("buffer_response_body", decoder: &self) { options.bufferResponseBody = flag }
        if let bytes = reader.integer("max_body_bytes", range: 1...(64 << 20), decoder: &self) { options.maxBodyBytes = Int(bytes) }
        reader.finish(decoder: &self)
        return options
    }

    private func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    mutating func decodeExports(_ items: [JSONValue]) -> [ExportDeclaration] {
        var result: [ExportDeclaration] = []
        var seen = Set<String>()
        for (index, item) in items.enumerated() {
            let path = "$.exports[\(index)]"
            var declaration: ExportDeclaration?
            if case .string(let name) = item {
                declaration = ExportDeclaration(name: name)
            } else if var reader = ObjectReader(item, path: path, decoder: &self, expected: "a string or an object") {
                let name = reader.string("name", required: true, decoder: &self)
                var kind = ExportKind.function
                if let text = reader.string("kind", decoder: &self) {
                    if let parsed = ExportKind(parsing: text) {
                        kind = parsed
                    } else {
                        report("\(path).kind", "unknown kind \"\(text)\"; expected one of \(ExportKind.allKinds.map { "\"\($0)\"" }.joined(separator: ", "))")
                    }
                }
                let priority = reader.integer("priority", range: -1_000_000...1_000_000, decoder: &self) ?? 1000
                reader.finish(decoder: &self)
                if let name { declaration = ExportDeclaration(name: name, kind: kind, priority: Int(priority)) }
            }
            guard let declaration else { continue }
            if declaration.name.isEmpty {
                report(path, "an export name may not be empty")
            } else if !seen.insert(declaration.name).inserted {
                report(path, "export \"\(declaration.name)\" is declared twice")
            } else {
                result.append(declaration)
            }
        }
        return result
    }

    mutating func decodePermissions(_ value: JSONValue, path: String) -> Permissions {
        guard var reader = ObjectReader(value, path: path, decoder: &self) else { return .none }
        var permissions = Permissions()
        if let fs = reader.value("filesystem"), var fsReader = ObjectReader(fs, path: "\(path).filesystem", decoder: &self) {
            permissions.readPaths = fsReader.stringArray("read", decoder: &self) ?? []
            permissions.writePaths = fsReader.stringArray("write", decoder: &self) ?? []
            for (index, guestPath) in (permissions.readPaths + permissions.writePaths).enumerated() where !guestPath.hasPrefix("/") {
                let field = index < permissions.readPaths.count ? "read[\(index)]" : "write[\(index - permissions.readPaths.count)]"
                report("\(path).filesystem.\(field)", "guest path \"\(guestPath)\" must be absolute, e.g. \"/data\"")
            }
            fsReader.finish(decoder: &self)
        }
        permissions.environment = reader.stringArray("env", decoder: &self) ?? []
        permissions.clock = reader.bool("clock", decoder: &self) ?? false
        permissions.random = reader.bool("random", decoder: &self) ?? false
        if let http = reader.value("http"), var httpReader = ObjectReader(http, path: "\(path).http", decoder: &self) {
            let hosts = httpReader.stringArray("allowed_hosts", required: true, decoder: &self) ?? []
            let ports = (httpReader.array("ports", decoder: &self) ?? []).enumerated().compactMap { index, item -> Int? in
                guard let port = item.integerValue, (1...65535).contains(port) else {
                    report("\(path).http.ports[\(index)]", "must be a port number between 1 and 65535")
                    return nil
                }
                return Int(port)
            }
            let httpsOnly = httpReader.bool("https_only", decoder: &self) ?? true
            let maxBytes = httpReader.integer("max_response_bytes", range: 0...(1 << 32), decoder: &self) ?? (1 << 20)
            httpReader.finish(decoder: &self)
            permissions.http = HTTPPermission(allowedHosts: hosts, ports: ports, httpsOnly: httpsOnly, maxResponseBytes: Int(maxBytes))
        }
        if let kv = reader.value("kv"), var kvReader = ObjectReader(kv, path: "\(path).kv", decoder: &self) {
            permissions.kv = KVPermission(
                read: kvReader.bool("read", decoder: &self) ?? false,
                write: kvReader.bool("write", decoder: &self) ?? false,
                prefixes: kvReader.stringArray("prefixes", decoder: &self) ?? [])
            kvReader.finish(decoder: &self)
        }
        if let blob = reader.value("blob"), var blobReader = ObjectReader(blob, path: "\(path).blob", decoder: &self) {
            permissions.blob = BlobPermission(
                read: blobReader.bool("read", decoder: &self) ?? false,
                write: blobReader.bool("write", decoder: &self) ?? false)
            blobReader.finish(decoder: &self)
        }
        permissions.timers = reader.bool("timers", decoder: &self) ?? false
        permissions.hooks = reader.stringArray("hooks", decoder: &self) ?? []
        permissions.signing = reader.bool("signing", decoder: &self) ?? false
        permissions.clusterInfo = reader.bool("cluster_info", decoder: &self) ?? false
        permissions.plugins = reader.stringArray("plugins", decoder: &self) ?? []
        reader.finish(decoder: &self)
        return permissions
    }

    mutating func decodeLimits(_ value: JSONValue, path: String) -> ResourceLimits {
        var limits = ResourceLimits()
        guard var reader = ObjectReader(value, path: path, decoder: &self) else { return limits }
        if let bytes = reader.integer("memory_bytes", range: 65536...Int64(ResourceLimits.maximumMemoryBytes), decoder: &self) {
            limits.memoryBytes = Int(bytes)
        }
        if let elements = reader.integer("table_elements", range: 0...10_000_000, decoder: &self) {
            limits.tableElements = Int(elements)
        }
        if let fuel = reader.integer("fuel", range: 1...Int64.max, decoder: &self) { limits.fuel = UInt64(fuel) }
        let maxMilliseconds = Int64(ResourceLimits.maximumTimeout.components.seconds * 1000)
        if let ms = reader.integer("timeout_ms", range: 1...maxMilliseconds, decoder: &self) {
            limits.timeout = .milliseconds(ms)
        }
        if let n = reader.integer("max_concurrency", range: 1...4096, decoder: &self) { limits.maxConcurrency = Int(n) }
        if let ms = reader.integer("queue_timeout_ms", range: 0...maxMilliseconds, decoder: &self) {
            limits.queueTimeout = .milliseconds(ms)
        }
        if let n = reader.integer("pool_size", range: 0...4096, decoder: &self) { limits.poolSize = Int(n) }
        if let text = reader.string("instance_policy", decoder: &self) {
            if let policy = InstancePolicy(name: text) {
                limits.instancePolicy = policy
            } else {
                report("\(path).instance_policy", "unknown policy \"\(text)\"; expected \"reuse\" or \"fresh\"")
            }
        }
        if let bytes = reader.integer("max_module_bytes", range: 8...(1 << 30), decoder: &self) { limits.maxModuleBytes = Int(bytes) }
        reader.finish(decoder: &self)
        return limits
    }
}

/// Reads the members of one JSON object, remembering which keys were used so that the rest can be
/// reported as unknown.
private struct ObjectReader {
    let path: String
    let members: [(key: String, value: JSONValue)]
    var used = Set<String>()

    init?(_ value: JSONValue, path: String, decoder: inout ManifestDecoder, expected: String = "an object") {
        guard case .object(let members) = value else {
            decoder.report(path, "expected \(expected), found \(value.typeDescription)")
            return nil
        }
        self.path = path
        self.members = members
    }

    mutating func value(_ key: String) -> JSONValue? {
        used.insert(key)
        return members.first(where: { $0.key == key })?.value
    }

    mutating func string(_ key: String, required: Bool = false, decoder: inout ManifestDecoder) -> String? {
        guard let value = value(key) else {
            if required { decoder.report("\(path).\(key)", "is required (a string)") }
            return nil
        }
        guard case .string(let text) = value else {
            decoder.report("\(path).\(key)", "expected a string, found \(value.typeDescription)")
            return nil
        }
        return text
    }

    mutating func bool(_ key: String, decoder: inout ManifestDecoder) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else {
            decoder.report("\(path).\(key)", "expected true or false, found \(value.typeDescription)")
            return nil
        }
        return flag
    }

    mutating func integer(_ key: String, range: ClosedRange<Int64>, decoder: inout ManifestDecoder) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let number = value.integerValue else {
            decoder.report("\(path).\(key)", "expected an integer, found \(value.typeDescription)")
            return nil
        }
        guard range.contains(number) else {
            decoder.report("\(path).\(key)", "\(number) is out of range; expected \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return number
    }

    mutating func array(_ key: String, decoder: inout ManifestDecoder) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let items) = value else {
            decoder.report("\(path).\(key)", "expected an array, found \(value.typeDescription)")
            return nil
        }
        return items
    }

    mutating func stringArray(_ key: String, required: Bool = false, decoder: inout ManifestDecoder) -> [String]? {
        guard let items = array(key, decoder: &decoder) else {
            if required, !used.contains(key) || members.first(where: { $0.key == key }) == nil {
                decoder.report("\(path).\(key)", "is required (an array of strings)")
            }
            return nil
        }
        var result: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                decoder.report("\(path).\(key)[\(index)]", "expected a string, found \(item.typeDescription)")
                continue
            }
            result.append(text)
        }
        return result
    }

    /// Reports every member that was never read as unknown.
    func finish(decoder: inout ManifestDecoder) {
        for member in members where !used.contains(member.key) {
            let known = used.sorted().filter { !$0.hasPrefix("$") }
            decoder.report("\(path).\(member.key)", "unknown key; known keys here are \(known.joined(separator: ", "))")
        }
    }
}
