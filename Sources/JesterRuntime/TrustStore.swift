public import Foundation

/// A plugin author's public key that a host trusts, under a name.
///
/// An entry may carry an expiry (trust ends at that instant) and a revocation (trust ended then,
/// and the record stays so that the key is not trusted again by accident).
public struct TrustedKey: Sendable, Hashable {
    /// A short name for the author: ASCII letters, digits, `-`, `_`, `.` and `@`, starting with a
    /// letter or digit, at most 64 bytes.
    public var name: String
    /// The Ed25519 public key, 64 lowercase hex digits.
    public var publicKey: String
    /// When the key was added.
    public var added: Date
    /// When trust in the key ends, if it does.
    public var expires: Date?
    /// When trust in the key was revoked, if it was.
    public var revoked: Date?

    public init(name: String, publicKey: String, added: Date = Date(), expires: Date? = nil, revoked: Date? = nil) {
        self.name = name
        self.publicKey = publicKey
        self.added = added
        self.expires = expires
        self.revoked = revoked
    }

    /// Why the key is not trusted at `date` (revoked, or expired), or `nil` when it is.
    public func problem(at date: Date = Date()) -> String? {
        if let revoked, revoked <= date { return "was revoked on \(Self.format(revoked))" }
        if let expires, expires <= date { return "expired on \(Self.format(expires))" }
        return nil
    }

    /// Whether `name` is a valid name for a trusted key.
    public static func isValidName(_ name: String) -> Bool {
        func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        }
        guard name.utf8.count <= 64, let first = name.unicodeScalars.first, isAlphanumeric(first) else { return false }
        return name.unicodeScalars.allSatisfy { isAlphanumeric($0) || "-_.@".unicodeScalars.contains($0) }
    }

    /// `text` as a public key (64 hex digits, either case, surrounding whitespace ignored) in
    /// lowercase, or `nil` when it is not one.
    public static func normalizedPublicKey(_ text: String) -> String? {
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard let bytes = Hex.decode(key), bytes.count == 32 else { return nil }
        return key
    }

    /// A date as ISO 8601 in UTC (`2027-01-01T00:00:00Z`), as messages and `--json` show it.
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Parses `2027-01-01` (midnight UTC) or a full ISO 8601 date and time (`2027-01-01T12:00:00Z`).
    public static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }
}

/// Where a host keeps the public keys of the plugin authors it trusts.
///
/// `JesterStore.SQLiteStore` keeps them in the data directory's SQLite file; write another
/// backend by conforming to this. Names and keys are each unique in a store.
public protocol TrustStore: Sendable {
    /// Adds a key. Throws when its name or its key is already there (revoked entries included).
    func add(_ key: TrustedKey) throws
    /// Every entry, sorted by name, revoked and expired ones included.
    func list() throws -> [TrustedKey]
    /// Removes the entry with this name or public key and returns it; throws when there is none.
    @discardableResult func remove(_ nameOrKey: String) throws -> TrustedKey
    /// Marks the entry with this name or public key revoked at `date` and returns it.
    @discardableResult func revoke(_ nameOrKey: String, at date: Date) throws -> TrustedKey
    /// The entry for a public key (lowercase hex), revoked or expired ones included.
    func lookup(publicKey: String) throws -> TrustedKey?
}

/// Whether a host requires plugins to be signed, and by whom.
///
/// ```swift
/// let host = PluginHost(configuration: .init(signatures: .required(trustStore: store)))
/// ```
public struct SignaturePolicy: Sendable {
    enum Trust: Sendable {
        case keys([TrustedKey])
        case store(any TrustStore)
    }

    let trust: Trust?

    /// Signatures are not checked (the default).
    public static let notRequired = SignaturePolicy(trust: nil)

    /// A plugin loads only when it is signed by one of `keys` whose trust has neither expired
    /// nor been revoked.
    public static func required(trusting keys: [TrustedKey]) -> SignaturePolicy {
        SignaturePolicy(trust: .keys(keys))
    }

    /// A plugin loads only when it is signed by a key in `trustStore` whose trust has neither
    /// expired nor been revoked. The store is asked on every load, so a change applies to the next.
    public static func required(trustStore: any TrustStore) -> SignaturePolicy {
        SignaturePolicy(trust: .store(trustStore))
    }

    /// Whether plugins must be signed.
    public var isRequired: Bool { trust != nil }

    func lookup(publicKey: String) throws(PluginError) -> TrustedKey? {
        switch trust {
        case nil: return nil
        case .keys(let keys): return keys.first { $0.publicKey == publicKey }
        case .store(let store):
            do {
                return try store.lookup(publicKey: publicKey)
            } catch {
                throw PluginError.io("cannot read the trust store: \(error)")
            }
        }
    }
}
