/// Everything wrong with a gateway config: every problem found, each with the file, the line and
/// the key it is about, and what to do about it.
///
/// The loader does not stop at the first problem: one `jester config validate` run lists them all.
/// ``description`` prints one problem per line as `FILE:LINE: KEY.PATH: message. how to fix`.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        /// A file could not be read or parsed; nothing was decoded.
        case unreadable
        /// The files were read, and what they say is wrong.
        case invalid
    }

    /// One problem in a config.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        /// Where: the file and line the offending key (or table) is written on.
        public var location: SourceLocation
        /// The key path, e.g. `routes[2].upstream.targets`; empty when the problem is not about a
        /// key (a TOML syntax error, a missing file).
        public var key: String
        /// What is wrong.
        public var message: String
        /// What to do about it, when there is more to say than the message.
        public var fix: String?

        package init(_ location: SourceLocation, key: String, _ message: String, fix: String? = nil) {
            self.location = location
            self.key = key
            self.message = message
            self.fix = fix
        }

        /// `FILE:LINE: KEY.PATH: message. how to fix`
        public var description: String {
            var text = "\(location): "
            if !key.isEmpty { text += "\(key): " }
            text += message
            if let fix, !fix.isEmpty { text += ". \(fix)" }
            return text
        }
    }

    private let code: Code
    /// Every problem found, in file order.
    public let issues: [Issue]

    private init(code: Code, issues: [Issue]) {
        self.code = code
        self.issues = issues
    }

    /// A file could not be read or is not valid TOML.
    package static func unreadable(_ issues: [Issue]) -> ConfigError {
        ConfigError(code: .unreadable, issues: issues)
    }

    /// The config was read and is wrong in the ways listed.
    package static func invalid(_ issues: [Issue]) -> ConfigError {
        ConfigError(code: .invalid, issues: issues)
    }

    /// Whether some file could not be read or parsed (as opposed to a config that parsed but is wrong).
    public var isUnreadable: Bool { code == .unreadable }

    /// One line per problem: `FILE:LINE: KEY.PATH: message. how to fix`.
    public var description: String {
        issues.map(\.description).joined(separator: "\n")
    }
}
