/// What a plugin asks to be allowed to do. Everything is denied unless listed.
///
/// A manifest's permissions are a request. The host decides what to grant (see `PluginGrants` in
/// `JesterRuntime`); a plugin gets the intersection of what it requested and what was granted.
/// A host function whose permission is missing returns a permission error to the guest; it never
/// traps the host.
public struct Permissions: Sendable, Hashable {
    /// Guest paths the plugin wants to read (WASI preopens, read-only unless also in `writePaths`).
    public var readPaths: [String]
    /// Guest paths the plugin wants to read and write.
    public var writePaths: [String]
    /// Environment variable names the plugin may see (WASI `environ_get`).
    public var environment: [String]
    /// Wall-clock and monotonic clocks.
    public var clock: Bool
    /// Cryptographically secure random bytes.
    public var random: Bool
    /// Outbound HTTP, when the host offers it.
    public var http: HTTPPermission?
    /// Key-value store access, when the host offers it.
    public var kv: KVPermission?
    /// Blob store access, when the host offers it.
    public var blob: BlobPermission?
    /// Timers (scheduled calls of `on-timer`).
    public var timers: Bool
    /// Hook event subscriptions, as NATS-style patterns (`hooks.kv.*`, `hooks.>`).
    public var hooks: [String]
    /// Signing with the node's key.
    public var signing: Bool
    /// Read-only information about the cluster.
    public var clusterInfo: Bool
    /// Ids of other plugins this plugin may call.
    public var plugins: [String]

    /// No permissions at all: the default.
    public static let none = Permissions()

    public init(
        readPaths: [String] = [], writePaths: [String] = [], environment: [String] = [],
        clock: Bool = false, random: Bool = false, http: HTTPPermission? = nil, kv: KVPermission? = nil,
        blob: BlobPermission? = nil, timers: Bool = false, hooks: [String] = [], signing: Bool = false,
        clusterInfo: Bool = false, plugins: [String] = []
    ) {
        self.readPaths = readPaths
        self.writePaths = writePaths
        self.environment = environment
        self.clock = clock
        self.random = random
        self.http = http
        self.kv = kv
        self.blob = blob
        self.timers = timers
        self.hooks = hooks
        self.signing = signing
        self.clusterInfo = clusterInfo
        self.plugins = plugins
    }

    /// Whether the plugin asked for any filesystem or environment access through WASI.
    public var wantsWASIResources: Bool {
        !readPaths.isEmpty || !writePaths.isEmpty || !environment.isEmpty
    }
}

/// Outbound HTTP permission.
public struct HTTPPermission: Sendable, Hashable {
    /// Host names the plugin may reach; `*.example.com` matches any subdomain of example.com.
    public var allowedHosts: [String]
    /// Ports the plugin may reach; empty means 80 and 443.
    public var ports: [Int]
    /// Refuse plain `http://` requests.
    public var httpsOnly: Bool
    /// Largest response body handed to the guest.
    public var maxResponseBytes: Int

    public init(allowedHosts: [String], ports: [Int] = [], httpsOnly: Bool = true, maxResponseBytes: Int = 1 << 20) {
        self.allowedHosts = allowedHosts
        self.ports = ports
        self.httpsOnly = httpsOnly
        self.maxResponseBytes = maxResponseBytes
    }
}

/// Key-value store permission.
public struct KVPermission: Sendable, Hashable {
    public var read: Bool
    public var write: Bool
    /// Key prefixes the plugin may touch; empty means the default `__plugin:<id>:`.
    public var prefixes: [String]

    public init(read: Bool = false, write: Bool = false, prefixes: [String] = []) {
        self.read = read
        self.write = write
        self.prefixes = prefixes
    }

    /// The prefixes in force for a plugin: the declared ones, or `__plugin:<id>:`.
    public func effectivePrefixes(pluginID: String) -> [String] {
        prefixes.isEmpty ? ["__plugin:\(pluginID):"] : prefixes
    }
}

/// Blob store permission.
public struct BlobPermission: Sendable, Hashable {
    public var read: Bool
    public var write: Bool

    public init(read: Bool = false, write: Bool = false) {
        self.read = read
        self.write = write
    }
}
