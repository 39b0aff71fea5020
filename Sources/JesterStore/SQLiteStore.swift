public import Foundation
import GRDB
public import JesterRuntime

/// Host state in one SQLite file (`jester.sqlite` in the data directory), through GRDB.
///
/// It holds the trust store now; KV, blobs and the plugin store will join it as tables. The file
/// is opened for each operation and closed after, so the CLI and a running gateway can share it
/// (SQLite's locks keep writers apart; a busy file is retried for 5 seconds). Reading a store
/// whose file does not exist yet finds nothing and creates nothing; the first write creates the
/// directory (mode 0700) and the file (mode 0600).
///
/// ```swift
/// let store = SQLiteStore(dataDirectory: DataDirectory.resolve())
/// try store.add(TrustedKey(name: "alice", publicKey: alicesKey))
/// let host = PluginHost(configuration: .init(signatures: .required(trustStore: store)))
/// ```
public struct SQLiteStore: TrustStore {
    /// The file name inside a data directory.
    public static let fileName = "jester.sqlite"

    /// The SQLite file.
    public let path: String

    /// A store in `path`, which need not exist yet.
    public init(path: String) {
        self.path = path
    }

    /// The store of a data directory: `DIRECTORY/jester.sqlite`.
    public init(dataDirectory: String) {
        self.init(path: (dataDirectory as NSString).appendingPathComponent(Self.fileName))
    }

    // MARK: TrustStore

    public func add(_ key: TrustedKey) throws {
        guard TrustedKey.isValidName(key.name) else {
            throw StoreError.invalidArgument("\"\(key.name)\" is not a valid name; use letters, digits, '-', '_', '.' and '@', starting with a letter or digit (at most 64 bytes)")
        }
        guard let publicKey = TrustedKey.normalizedPublicKey(key.publicKey) else {
            throw StoreError.invalidArgument("\"\(key.publicKey)\" is not an Ed25519 public key; give the 64 hex digits `jester plugin keygen` printed (also in its .pub file)")
        }
        try write { db in
            if let existing = try Self.entry(db, nameOrKey: publicKey) {
                let state = existing.revoked.map { " and was revoked on \(TrustedKey.format($0)); remove it first with `jester trust remove \(existing.name)` if you mean to trust it again" }
                    ?? "; remove it first with `jester trust remove \(existing.name)` to change it"
                throw StoreError.conflict("key \(publicKey) is already in the trust store as \"\(existing.name)\"\(state)")
            }
            if try Self.entry(db, nameOrKey: key.name) != nil {
                throw StoreError.conflict("the name \"\(key.name)\" is already taken by another key; choose another name, or `jester trust remove \(key.name)` first")
            }
            try db.execute(
                sql: "INSERT INTO trusted_key (name, public_key, added_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [key.name, publicKey, key.added, key.expires, key.revoked])
        }
    }

    public func list() throws -> [TrustedKey] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM trusted_key ORDER BY name").map(Self.key)
        } ?? []
    }

    @discardableResult
    public func remove(_ nameOrKey: String) throws -> TrustedKey {
        try write { db in
            let entry = try Self.existing(db, nameOrKey: nameOrKey, path: path)
            try db.execute(sql: "DELETE FROM trusted_key WHERE name = ?", arguments: [entry.name])
            return entry
        }
    }

    @discardableResult
    public func revoke(_ nameOrKey: String, at date: Date = Date()) throws -> TrustedKey {
        try write { db in
            var entry = try Self.existing(db, nameOrKey: nameOrKey, path: path)
            if let revoked = entry.revoked {
                throw StoreError.conflict("\"\(entry.name)\" was already revoked on \(TrustedKey.format(revoked))")
            }
            entry.revoked = date
            try db.execute(sql: "UPDATE trusted_key SET revoked_at = ? WHERE name = ?", arguments: [date, entry.name])
            return entry
        }
    }

    public func lookup(publicKey: String) throws -> TrustedKey? {
        guard let key = TrustedKey.normalizedPublicKey(publicKey) else { return nil }
        return try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM trusted_key WHERE public_key = ?", arguments: [key]).map(Self.key)
        } ?? nil
    }

    // MARK: Plumbing

    private static func key(_ row: Row) -> TrustedKey {
        TrustedKey(name: row["name"], publicKey: row["public_key"], added: row["added_at"], expires: row["expires_at"], revoked: row["revoked_at"])
    }

    private static func entry(_ db: Database, nameOrKey: String) throws -> TrustedKey? {
        let key = TrustedKey.normalizedPublicKey(nameOrKey) ?? nameOrKey
        return try Row.fetchOne(db, sql: "SELECT * FROM trusted_key WHERE name = ? OR public_key = ?", arguments: [nameOrKey, key]).map(Self.key)
    }

    private static func existing(_ db: Database, nameOrKey: String, path: String) throws -> TrustedKey {
        guard let entry = try entry(db, nameOrKey: nameOrKey) else {
            throw StoreError.notFound("no trusted key is named or is \"\(nameOrKey)\" in \(path); `jester trust list` shows them")
        }
        return entry
    }

    /// The schema, one migration per change; GRDB records which ran.
    private static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 trusted keys") { db in
            try db.create(table: "trusted_key") { table in
                table.column("name", .text).primaryKey()
                table.column("public_key", .text).notNull().unique()
                table.column("added_at", .datetime).notNull()
                table.column("expires_at", .datetime)
                table.column("revoked_at", .datetime)
            }
        }
        return migrator
    }()

    private func openDatabase() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "jester.store"
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(queue)
            return queue
        } catch {
            throw StoreError.io("cannot open the store \(path): \(error); check the file's permissions, or pass another --data-dir")
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try wrap { try openDatabase().read(body) }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try DataDirectory.create(directory) }
        if !FileManager.default.fileExists(atPath: path) {
            // Made here first so that it is 0600 from the start; SQLite takes an empty file as an
            // empty database, and gives its journal the file's mode.
            let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
            if descriptor >= 0 { close(descriptor) }
        }
        return try wrap { try openDatabase().write(body) }
    }

    /// Passes ``StoreError`` through and explains anything else SQLite says.
    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.io("the store \(path) failed: \(error)")
        }
    }
}
