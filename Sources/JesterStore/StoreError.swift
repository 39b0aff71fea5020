/// Everything that can go wrong reading or writing host state: the message says what failed,
/// where (file, name, key) and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// The category of an error, for code that reacts differently to each.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// No entry has the name or key asked for.
        public static let notFound = Code("not-found")
        /// An entry with the same name or key is already there.
        public static let conflict = Code("conflict")
        /// An argument is not valid (a name, a key).
        public static let invalidArgument = Code("invalid-argument")
        /// The store's file or directory cannot be read or written.
        public static let io = Code("io")
        public var description: String { name }
    }

    public let code: Code
    /// What happened and what to do.
    public let message: String

    private init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func notFound(_ message: String) -> StoreError { StoreError(code: .notFound, message: message) }
    static func conflict(_ message: String) -> StoreError { StoreError(code: .conflict, message: message) }
    static func invalidArgument(_ message: String) -> StoreError { StoreError(code: .invalidArgument, message: message) }
    static func io(_ message: String) -> StoreError { StoreError(code: .io, message: message) }
}
