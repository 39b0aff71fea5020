/// A plugin's `plugin.json`: who it is, what it exports, what it may do and how much it may use.
///
/// ```json
/// {
///   "id": "hello",
///   "name": "Hello",
///   "version": "1.0.0",
///   "module": "hello.wasm",
///   "exports": [{ "name": "handle", "kind": "handler", "priority": 900 }],
///   "permissions": { "clock": true },
///   "limits": { "memory_bytes": 16777216, "timeout_ms": 1000 }
/// }
/// ```
///
/// Decoding is strict: an unknown key anywhere is an error naming its JSON path.
/// Use ``PluginManifest/decode(json:)`` to get every problem at once.
public struct PluginManifest: Sendable, Hashable {
    /// A stable identifier: lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    public var id: String
    public var name: String
    public var version: SemanticVersion
    public var description: String
    public var author: String
    /// The module file, relative to the manifest. Default: `plugin.wasm`, or the only `.wasm` beside it.
    public var module: String?
    /// The plugin ABI, when the author pins it; otherwise it is detected from the module.
    public var abi: PluginABI?
    /// The version of `abi` the plugin was built against, when given as `"jester@0.1.0"`.
    public var abiVersion: SemanticVersion?
    /// What the plugin implements.
    public var exports: [ExportDeclaration]
    public var permissions: Permissions
    /// The plugin's own limits. Fields not given keep their defaults.
    public var limits: ResourceLimits
    /// JSON Schema for the plugin's per-use configuration.
    public var configSchema: JSONValue?
    /// How the gateway feeds an `http-filter` plugin (`http_filter` in `plugin.json`).
    public var httpFilter: HTTPFilterOptions?
    /// Lowercase hex SHA-256 of the module file.
    public var sha256: String?
    /// The author's Ed25519 signature over the module and this manifest (see docs/signing.md).
    public var signature: ManifestSignature?
    /// The JSON document this manifest was decoded from; `nil` for a manifest made in code.
    ///
    /// A signature covers this document, so a host checks signatures against it: changes made to
    /// the fields in code afterwards (a command-line `--fuel`, say) are the embedder's own and are
    /// not covered.
    public internal(set) var source: JSONValue?

    public init(
        id: String, name: String? = nil, version: SemanticVersion = SemanticVersion(0, 1, 0),
        description: String = "", author: String = "", module: String? = nil, abi: PluginABI? = nil,
        abiVersion: SemanticVersion? = nil, exports: [ExportDeclaration] = [], permissions: Permissions = .none,
        limits: ResourceLimits = ResourceLimits(), configSchema: JSONValue? = nil, httpFilter: HTTPFilterOptions? = nil, sha256: String? = nil,
        signature: ManifestSignature? = nil
    ) {
        self.id = id
        self.name = name ?? id
        self.version = version
        self.description = description
        self.author = author
        self.module = module
        self.abi = abi
        self.abiVersion = abiVersion
        self.exports = exports
        self.permissions = permissions
        self.limits = limits
        self.configSchema = configSchema
        self.httpFilter = httpFilter
        self.sha256 = sha256
        self.signature = signature
    }

    /// Whether `id` is a valid plugin id.
    public static func isValidID(_ id: String) -> Bool {
        guard let first = id.unicodeScalars.first, id.utf8.count <= 128 else { return false }
        func allowed(_ s: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(s) || ("0"..."9").contains(s) || s == "-" || s == "_" || s == "."
        }
        return (("a"..."z").contains(first) || ("0"..."9").contains(first)) && id.unicodeScalars.allSatisfy(allowed)
    }
}

/// One thing a plugin implements.
public struct ExportDeclaration: Sendable, Hashable {
    /// The core WebAssembly function export.
    public var name: String
    public var kind: ExportKind
    /// Lower numbers run first when several plugins handle the same thing. Default 1000.
    public var priority: Int

    public init(name: String, kind: ExportKind = .function, priority: Int = 1000) {
        self.name = name
        self.kind = kind
        self.priority = priority
    }
}

/// The kind of an export, which tells the host how to call it.
public struct ExportKind: Sendable, Hashable, CustomStringConvertible {
    private let name: String

    /// A plain core function called with WebAssembly values.
    public static let function = ExportKind(name: "function")
    /// The `handler` world's `handle`: bytes in, `result<bytes, string>` out (canonical ABI).
    public static let handler = ExportKind(name: "handler")
    /// The `http-filter` world (from the filters milestone).
    public static let httpFilter = ExportKind(name: "http-filter")
    /// A WASI command's `_start`: stdin in, stdout out.
    public static let command = ExportKind(name: "command")

    public static let allKinds: [ExportKind] = [.function, .handler, .httpFilter, .command]

    public init?(parsing text: String) {
        guard let kind = Self.allKinds.first(where: { $0.name == text }) else { return nil }
        self = kind
    }

    private init(name: String) { self.name = name }

    public var description: String { name }
}

/// The calling convention a plugin follows, detected from its imports and exports.
public struct PluginABI: Sendable, Hashable, CustomStringConvertible {
    private let name: String

    /// Jester's own ABI (`wit/jester.wit`, package `jester:plugin`), canonical ABI on a core module.
    public static let jester = PluginABI(name: "jester")
    /// proxy-wasm (Envoy filters), 0.2.1 / 0.2.0 / 0.1.0.
    public static let proxyWasm = PluginABI(name: "proxy-wasm")
    /// http-wasm `http_handler` (Traefik, Dapr middlewares).
    public static let httpWasm = PluginABI(name: "http-wasm")
    /// Extism's kernel ABI (`extism:host/env`).
    public static let extism = PluginABI(name: "extism")
    /// A WASI preview 1 command (exports `_start`).
    public static let wasiCommand = PluginABI(name: "wasi-command")
    /// A WASI preview 1 reactor (exports `_initialize` or functions only, imports WASI).
    public static let wasiReactor = PluginABI(name: "wasi-reactor")
    /// A plain core module: exported functions called with WebAssembly values.
    public static let core = PluginABI(name: "core")

    public static let allABIs: [PluginABI] = [.jester, .proxyWasm, .httpWasm, .extism, .wasiCommand, .wasiReactor, .core]

    /// The ABI version this host implements, where the ABI has one.
    public var hostVersion: SemanticVersion? {
        switch name {
        case "jester": return SemanticVersion(0, 1, 0)
        case "proxy-wasm": return SemanticVersion(0, 2, 1)
        default: return nil
        }
    }

    public init?(parsing text: String) {
        guard let abi = Self.allABIs.first(where: { $0.name == text }) else { return nil }
        self = abi
    }

    private init(name: String) { self.name = name }

    public var description: String { name }
}

/// An Ed25519 signature over the module's SHA-256 and the manifest's canonical form.
public struct ManifestSignature: Sendable, Hashable {
    /// The signer's public key, hex.
    public var publicKey: String
    /// The signature, hex.
    public var value: String

    public init(publicKey: String, value: String) {
        self.publicKey = publicKey
        self.value = value
    }
}

/// `http_filter` in `plugin.json`: what an `http-filter` plugin needs from the gateway.
///
/// ```json
/// "http_filter": { "buffer_response_body": true, "max_body_bytes": 1048576 }
/// ```
public struct HTTPFilterOptions: Sendable, Hashable {
    /// Collect the whole request body before `on-request`, so that `request.body()` returns it.
    public var bufferRequestBody: Bool
    /// Collect the whole response body before `on-response`, so that `response.body()` returns it.
    public var bufferResponseBody: Bool
    /// The most a buffered body may hold (default 1 MiB, at most 64 MiB); a larger one fails the
    /// filter (413 for a request body).
    public var maxBodyBytes: Int

    public init(bufferRequestBody: Bool = false, bufferResponseBody: Bool = false, maxBodyBytes: Int = 1 << 20) {
        self.bufferRequestBody = bufferRequestBody
        self.bufferResponseBody = bufferResponseBody
        self.maxBodyBytes = maxBodyBytes
    }
}
