import ArgumentParser
import Foundation
import JesterManifest
import JesterRuntime
import JesterStore

/// `jester trust …`
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Manage the plugin authors' keys this host trusts.",
        discussion: """
            The trust store lives in the data directory (DATA_DIR/jester.sqlite). When signatures are \
            required ([plugins] require_signatures = true, or --require-signatures), a plugin loads only \
            when it is signed by a key here that is neither expired nor revoked.

            Examples:
              jester trust add 3b6a27bc… --name alice --expires 2027-01-01
              jester trust add ~/keys/alice.pub --name alice
              jester trust list --json
              jester trust revoke alice
              jester trust remove alice
            """,
        subcommands: [TrustAddCommand.self, TrustListCommand.self, TrustRemoveCommand.self, TrustRevokeCommand.self]
    )
}

/// `jester trust add KEY --name NAME`
struct TrustAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Trust a plugin author's public key under a name.",
        discussion: """
            KEY is the 64 hex digits `jester plugin keygen` printed, or the path of its .pub file. A name \
            or a key already in the store is refused: remove the old entry first.

            Examples:
              jester trust add 3b6a27bc… --name alice
              jester trust add ~/keys/alice.pub --name alice --expires 2027-01-01
            """
    )

    @Argument(help: ArgumentHelp("The public key (64 hex digits) or a .pub file.", valueName: "key"))
    var key: String

    @Option(help: "A name for the key's owner: letters, digits, '-', '_', '.', '@'.")
    var name: String

    @Option(help: ArgumentHelp("Stop trusting the key at this date (YYYY-MM-DD, midnight UTC) or ISO 8601 time.", valueName: "date"))
    var expires: String?

    @OptionGroup var data: DataDirectoryOptions

    func run() throws {
        var text = key
        if TrustedKey.normalizedPublicKey(text) == nil, let contents = try? String(contentsOfFile: key, encoding: .utf8) {
            text = contents
        }
        guard let publicKey = TrustedKey.normalizedPublicKey(text) else {
            throw Failure(message: "\(key) is not a public key: give the 64 hex digits `jester plugin keygen` printed, or its .pub file")
        }
        var expiry: Date?
        if let expires {
            guard let date = TrustedKey.parseDate(expires) else {
                throw Failure(message: "--expires \(expires): expected a date like 2027-01-01 or 2027-01-01T12:00:00Z")
            }
            guard date > Date() else { throw Failure(message: "--expires \(expires) is in the past, so the key would never be trusted") }
            expiry = date
        }
        let store = data.trustStore
        do {
            try store.add(TrustedKey(name: name, publicKey: publicKey, expires: expiry))
        } catch {
            throw Failure(message: "\(error)")
        }
        Console.out("trusted \(name): \(publicKey)\(expiry.map { " until \(TrustedKey.format($0))" } ?? "") (in \(store.path))")
    }
}

/// `jester trust list`
struct TrustListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the trusted keys, with their expiry and revocation.",
        discussion: """
            Examples:
              jester trust list
              jester trust list --json --data-dir /var/lib/jester
            """
    )

    @OptionGroup var data: DataDirectoryOptions

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let keys: [TrustedKey]
        do {
            keys = try data.trustStore.list()
        } catch {
            throw Failure(message: "\(error)")
        }
        let now = Date()
        if json {
            func date(_ value: Date?) -> JSONValue { value.map { .string(TrustedKey.format($0)) } ?? .null }
            Console.out(
                JSONValue.array(keys.map { key in
                    .object([
                        ("name", .string(key.name)), ("public_key", .string(key.publicKey)), ("added", date(key.added)),
                        ("expires", date(key.expires)), ("revoked", date(key.revoked)), ("trusted", .bool(key.problem(at: now) == nil)),
                    ])
                }).serialized(pretty: true))
            return
        }
        guard !keys.isEmpty else {
            Console.out("no trusted keys in \(data.trustStore.path); add one with `jester trust add KEY --name NAME`")
            return
        }
        let width = keys.map(\.name.count).max() ?? 0
        for key in keys {
            let state = key.problem(at: now).map { "NOT TRUSTED: \($0)" } ?? (key.expires.map { "trusted until \(TrustedKey.format($0))" } ?? "trusted")
            Console.out("\(key.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(key.publicKey)  \(state)")
        }
    }
}

/// `jester trust remove NAME|KEY`
struct TrustRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Stop trusting a key and forget it.",
        discussion: """
            Plugins signed with it are refused from the next load or reload on, where signatures are \
            required. To keep a record that the key must not be trusted again, revoke it instead.

            Examples:
              jester trust remove alice
              jester trust remove 3b6a27bc…
            """
    )

    @Argument(help: ArgumentHelp("The name or public key of the entry.", valueName: "name-or-key"))
    var entry: String

    @OptionGroup var data: DataDirectoryOptions

    func run() throws {
        try changeEntry("removed") { try data.trustStore.remove(entry) }
    }
}

/// `jester trust revoke NAME|KEY`
struct TrustRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Stop trusting a key, and keep it listed as revoked.",
        discussion: """
            Plugins signed with a revoked key are refused, and `jester trust add` refuses the key until \
            the entry is removed. Use it when a secret key is lost or leaked.

            Examples:
              jester trust revoke alice
            """
    )

    @Argument(help: ArgumentHelp("The name or public key of the entry.", valueName: "name-or-key"))
    var entry: String

    @OptionGroup var data: DataDirectoryOptions

    func run() throws {
        try changeEntry("revoked") { try data.trustStore.revoke(entry, at: Date()) }
    }
}

/// Makes one change to a trust store entry and reports it (`removed alice: KEY`).
private func changeEntry(_ verb: String, _ change: () throws -> TrustedKey) throws {
    do {
        let entry = try change()
        Console.out("\(verb) \(entry.name): \(entry.publicKey)")
    } catch {
        throw Failure(message: "\(error)")
    }
}
