public import JesterManifest

/// What a host allows one plugin, decided by the operator or embedder, not by the plugin.
///
/// A plugin gets the intersection of what its manifest requests and what is granted here. The
/// default grants nothing.
///
/// ```swift
/// var grants = PluginGrants()
/// grants.paths = [.init(guestPath: "/data", hostPath: "/srv/plugin-data", writable: false)]
/// grants.clock = true
/// ```
public struct PluginGrants: Sendable, Hashable {
    /// A host directory made visible to the guest through WASI.
    public struct PathGrant: Sendable, Hashable {
        /// The path the guest sees (absolute, e.g. `/data`).
        public var guestPath: String
        /// The real directory on the host.
        public var hostPath: String
        /// Whether the guest may modify it (only if its manifest asked for write access too).
        public var writable: Bool

        public init(guestPath: String, hostPath: String, writable: Bool = false) {
            self.guestPath = guestPath
            self.hostPath = hostPath
            self.writable = writable
        }
    }

    public var paths: [PathGrant]
    /// Environment variables the guest may see, with their values.
    public var environment: [String: String]
    public var clock: Bool
    public var random: Bool
    /// Names of embedder capabilities granted (see ``HostCapability/name``).
    public var capabilities: Set<String>

    /// Grants nothing.
    public static let none = PluginGrants()

    public init(
        paths: [PathGrant] = [], environment: [String: String] = [:], clock: Bool = false, random: Bool = false,
        capabilities: Set<String> = []
    ) {
        self.paths = paths
        self.environment = environment
        self.clock = clock
        self.random = random
        self.capabilities = capabilities
    }

    /// Grants everything `permissions` requests, with guest paths mapped to the same host paths and
    /// environment values taken from `environment` (usually the host process's). Use only for a
    /// manifest you trust, for example one you reviewed and signed.
    public static func asRequested(by permissions: Permissions, environment: [String: String] = [:]) -> PluginGrants {
        var grants = PluginGrants(clock: permissions.clock, random: permissions.random)
        for path in permissions.readPaths where !permissions.writePaths.contains(path) {
            grants.paths.append(PathGrant(guestPath: path, hostPath: path, writable: false))
        }
        for path in permissions.writePaths {
            grants.paths.append(PathGrant(guestPath: path, hostPath: path, writable: true))
        }
        for name in permissions.environment {
            if let value = environment[name] { grants.environment[name] = value }
        }
        return grants
    }
}

/// The permissions a plugin actually has: requested ∩ granted.
struct EffectiveGrants: Sendable {
    var paths: [PluginGrants.PathGrant]
    var environment: [(name: String, value: String)]
    var clock: Bool
    var random: Bool
    /// Requested permissions that were not granted, as sentences for warnings.
    var notGranted: [String]
    /// Grants the plugin did not request (and so does not get), as sentences.
    var unrequested: [String]

    init(requested: Permissions, granted: PluginGrants) {
        paths = []
        environment = []
        notGranted = []
        unrequested = []
        clock = requested.clock && granted.clock
        random = requested.random && granted.random
        if requested.clock && !granted.clock { notGranted.append("clock") }
        if requested.random && !granted.random { notGranted.append("random") }
        if granted.clock && !requested.clock { unrequested.append("clock (the manifest does not ask for it)") }
        if granted.random && !requested.random { unrequested.append("random (the manifest does not ask for it)") }
        let requestedPaths = Set(requested.readPaths + requested.writePaths)
        for grant in granted.paths {
            guard requestedPaths.contains(grant.guestPath) else {
                unrequested.append("path \(grant.guestPath) (the manifest does not list it under permissions.filesystem)")
                continue
            }
            var effective = grant
            effective.writable = grant.writable && requested.writePaths.contains(grant.guestPath)
            paths.append(effective)
        }
        for path in requested.readPaths + requested.writePaths where !granted.paths.contains(where: { $0.guestPath == path }) {
            notGranted.append("path \(path)")
        }
        for name in requested.environment {
            if let value = granted.environment[name] {
                environment.append((name, value))
            }
        }
        for name in granted.environment.keys.sorted() where !requested.environment.contains(name) {
            unrequested.append("environment variable \(name) (the manifest does not list it under permissions.env)")
        }
    }
}
