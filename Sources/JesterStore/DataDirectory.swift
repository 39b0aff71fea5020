import Foundation

/// The directory that holds a host's state: the SQLite store (`jester.sqlite`, with the trust
/// store) and the signing keys `jester plugin keygen` makes (`keys/`).
///
/// The first of these that is set wins:
/// 1. an explicit path (`--data-dir`),
/// 2. `$JESTER_DATA_DIR`,
/// 3. `$XDG_DATA_HOME/jester`,
/// 4. `~/.local/share/jester`.
public enum DataDirectory {
    /// The data directory for `explicit` (from `--data-dir`) and `environment` (default: the
    /// process's).
    public static func resolve(explicit: String? = nil, environment: [String: String]? = nil) -> String {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let explicit, !explicit.isEmpty { return absolute(explicit) }
        if let path = environment["JESTER_DATA_DIR"], !path.isEmpty { return absolute(path) }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return (xdg as NSString).appendingPathComponent("jester") }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".local/share/jester")
    }

    /// Where `jester plugin keygen` puts keys by default: `DATA/keys`.
    public static func keysDirectory(in dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("keys")
    }

    /// Creates `path` and its parents when missing; new directories get mode 0700, since they
    /// hold secret keys and the trust store.
    public static func create(_ path: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .io("cannot create the directory \(path): \(error.localizedDescription); pass a writable --data-dir or set JESTER_DATA_DIR")
        }
    }

    private static func absolute(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        if expanded.hasPrefix("/") { return expanded }
        return URL(fileURLWithPath: expanded, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL.path
    }
}
