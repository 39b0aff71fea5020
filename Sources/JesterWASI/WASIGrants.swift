/// What a WASI guest may reach: directories, environment, arguments, clocks and randomness.
///
/// Everything defaults to "nothing": no preopened directory, an empty environment and argument
/// list, and neither clocks nor random bytes. Standard input is empty unless the session is handed
/// bytes (``WASISession/stdin``); standard output and error are always captured, never passed to the
/// host process.
///
/// ```swift
/// let grants = WASIGrants(
///     preopens: [.init(guestPath: "/data", hostPath: "/srv/plugin-data", writable: false)],
///     environment: [(name: "LANG", value: "C")],
///     arguments: ["com.example.resize"],
///     clock: true
/// )
/// ```
package struct WASIGrants: Sendable {
    /// A host directory made visible to the guest under `guestPath`.
    ///
    /// The guest can reach only what lies below `hostPath`: `..` past the root, absolute paths and
    /// symbolic links that lead outside are refused. A read-only preopen (`writable == false`)
    /// lets the guest list, stat and read, and refuses every call that would modify the tree.
    package struct Preopen: Sendable {
        /// The path the guest sees, e.g. `/data`.
        package var guestPath: String
        /// The host directory behind it. It must exist when the session is created.
        package var hostPath: String
        /// Whether the guest may create, modify, rename or delete anything in the tree.
        package var writable: Bool

        /// Creates a preopen; read-only unless `writable` is `true`.
        package init(guestPath: String, hostPath: String, writable: Bool = false) {
            self.guestPath = guestPath
            self.hostPath = hostPath
            self.writable = writable
        }
    }

    /// Directories the guest may open, in descriptor order (the first is fd 3).
    package var preopens: [Preopen]
    /// The environment the guest sees, in order. The caller has already applied its allow-list.
    package var environment: [(name: String, value: String)]
    /// The guest's `argv`; by convention `argv[0]` is the plugin id.
    package var arguments: [String]
    /// Whether `clock_time_get`, `clock_res_get` and clock subscriptions of `poll_oneoff` work.
    /// Without it they return `ENOTCAPABLE` (76).
    package var clock: Bool
    /// Whether `random_get` works. Without it it returns `ENOTCAPABLE` (76).
    package var random: Bool

    /// Creates grants; every parameter defaults to granting nothing.
    package init(
        preopens: [Preopen] = [],
        environment: [(name: String, value: String)] = [],
        arguments: [String] = [],
        clock: Bool = false,
        random: Bool = false
    ) {
        self.preopens = preopens
        self.environment = environment
        self.arguments = arguments
        self.clock = clock
        self.random = random
    }
}

/// A captured output stream of a WASI guest.
package enum WASIStream: Sendable, Hashable {
    /// File descriptor 1.
    case stdout
    /// File descriptor 2.
    case stderr
}
