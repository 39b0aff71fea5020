import ArgumentParser
import Foundation
import JesterManifest
import JesterRuntime
import JesterStore

/// `--data-dir`, for commands that read or write host state (the trust store, default keys).
struct DataDirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Where host state lives: the trust store and default keys (default: $JESTER_DATA_DIR, else $XDG_DATA_HOME/jester, else ~/.local/share/jester).",
            valueName: "dir"))
    var dataDir: String?

    /// The data directory in force.
    var path: String { DataDirectory.resolve(explicit: dataDir) }

    /// The trust store of the data directory.
    var trustStore: SQLiteStore { SQLiteStore(dataDirectory: path) }

    /// The key `jester plugin keygen` makes, and `jester plugin sign` uses, when given no path.
    var defaultKeyPath: String { (DataDirectory.keysDirectory(in: path) as NSString).appendingPathComponent("default.key") }
}

/// `jester plugin keygen`
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 key pair for signing plugins.",
        discussion: """
            Writes the secret key to --out (default: DATA_DIR/keys/NAME.key) with mode 0600, and the \
            public key, as 64 hex digits, beside it as NAME.pub; it also prints the public key. It never \
            overwrites a key: if either file exists it stops. Give the public key to the hosts that \
            should trust your plugins (`jester trust add`); keep the secret key to yourself.

            The secret key file is two lines: "jester-ed25519-secret-key-v1" and the 32-byte Ed25519 \
            private key as 64 hex digits (docs/signing.md).

            Examples:
              jester plugin keygen                              # DATA_DIR/keys/default.key and default.pub
              jester plugin keygen --out ~/keys/alice.key       # ~/keys/alice.key and ~/keys/alice.pub
              jester plugin keygen --name release --json
            """
    )

    @Option(help: ArgumentHelp("The key's name in DATA_DIR/keys when --out is not given.", valueName: "name"))
    var name = "default"

    @Option(help: ArgumentHelp("Where to write the secret key; the public key goes beside it as NAME.pub.", valueName: "path"))
    var out: String?

    @OptionGroup var data: DataDirectoryOptions

    @Flag(help: "Print the key files and the public key as JSON.")
    var json = false

    func run() throws {
        guard TrustedKey.isValidName(name) else {
            throw Failure(message: "--name \(name): use letters, digits, '-', '_', '.' and '@', starting with a letter or digit")
        }
        let secretPath = out ?? (DataDirectory.keysDirectory(in: data.path) as NSString).appendingPathComponent("\(name).key")
        let publicPath = Self.publicKeyPath(forSecretKey: secretPath)
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw Failure(message: "\(path) already exists; keygen never overwrites a key. Choose another --out or --name, or move the old key away first")
        }
        let directory = (secretPath as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do { try DataDirectory.create(directory) } catch { throw Failure(message: error.description) }
        }
        let key = PluginSigningKey()
        try Self.writeExclusively(key.secretKeyFile, to: secretPath, mode: 0o600)
        do {
            try Self.writeExclusively(key.publicKey + "\n", to: publicPath, mode: 0o644)
        } catch {
            try? FileManager.default.removeItem(atPath: secretPath)
            throw error
        }
        if json {
            Console.out(
                JSONValue.object([
                    ("public_key", .string(key.publicKey)), ("secret_key_file", .string(secretPath)), ("public_key_file", .string(publicPath)),
                ]).serialized(pretty: true))
        } else {
            Console.out("""
                public key: \(key.publicKey)
                secret key: \(secretPath) (mode 0600: keep it secret, anyone with it can sign as you)
                public key file: \(publicPath)
                sign with:  jester plugin sign DIR --key \(secretPath)
                trust with: jester trust add \(key.publicKey) --name NAME
                """)
        }
    }

    /// `dir/alice.key` → `dir/alice.pub`; `dir/alice` → `dir/alice.pub`.
    static func publicKeyPath(forSecretKey path: String) -> String {
        (path.hasSuffix(".key") ? String(path.dropLast(4)) : path) + ".pub"
    }

    /// Creates `path` with `mode` and writes `text`; fails if the file exists, even when it
    /// appeared since the check (O_EXCL).
    static func writeExclusively(_ text: String, to path: String, mode: mode_t) throws {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, mode)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw Failure(message: "cannot create \(path): \(reason)\(errno == EEXIST ? "; keygen never overwrites a key" : "")")
        }
        defer { close(descriptor) }
        fchmod(descriptor, mode)  // whatever the umask says
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw Failure(message: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// `jester plugin sign`
struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a plugin: set plugin.json's sha256 and signature for its module.",
        discussion: """
            Computes the module's SHA-256, writes it to "sha256", and signs the module's hash together \
            with the canonical form of the manifest (docs/signing.md) with the secret key. plugin.json \
            is rewritten in place with "sha256" and "signature" set; every other field keeps its value \
            and its place. Sign again after any change to the module or the manifest.

            Examples:
              jester plugin sign examples/hello --key ~/keys/alice.key
              jester plugin sign                     # the plugin in this directory, DATA_DIR/keys/default.key
            """
    )

    @Argument(help: "A plugin directory or its plugin.json.")
    var path: String = "."

    @Option(help: ArgumentHelp("The secret key file from `jester plugin keygen` (default: DATA_DIR/keys/default.key).", valueName: "file"))
    var key: String?

    @OptionGroup var data: DataDirectoryOptions

    func run() throws {
        let keyPath = key ?? data.defaultKeyPath
        let signingKey = try Self.readSecretKey(keyPath, given: key != nil)
        let manifestPath = path.hasSuffix(".json") ? path : (path as NSString).appendingPathComponent("plugin.json")
        guard let contents = FileManager.default.contents(atPath: manifestPath) else {
            throw Failure(message: "\(manifestPath) does not exist or cannot be read; give a plugin directory or its plugin.json")
        }
        let json: JSONValue
        let manifest: PluginManifest
        do {
            json = try JSONValue.parse(bytes: [UInt8](contents))
            // A stale or damaged signature is replaced, so only the rest has to be valid.
            manifest = try PluginManifest.decode(Self.removingSignature(json), file: manifestPath)
        } catch let error as JSONSyntaxError {
            throw Failure(message: "\(manifestPath): not valid JSON: \(error)")
        } catch {
            throw Failure(message: "\(error); fix the manifest before signing it")
        }
        let wasm: [UInt8]
        do {
            let modulePath = try PluginBundle.modulePath(for: manifest, manifestPath: manifestPath)
            guard let bytes = FileManager.default.contents(atPath: modulePath) else {
                throw Failure(message: "\(modulePath) (the module of \(manifestPath)) does not exist; build the plugin first")
            }
            wasm = [UInt8](bytes)
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(message: "\(error)")
        }
        let signed: JSONValue
        do {
            signed = try PluginSignature.sign(manifest: json, wasm: wasm, with: signingKey)
        } catch {
            throw Failure(message: "\(manifestPath): \(error)")
        }
        do {
            try Data((signed.serialized(pretty: true) + "\n").utf8).write(to: URL(fileURLWithPath: manifestPath), options: .atomic)
        } catch {
            throw Failure(message: "cannot write \(manifestPath): \(error.localizedDescription)")
        }
        Console.out("signed \(manifest.id) \(manifest.version) in \(manifestPath)\n  sha256 \(signed["sha256"]?.stringValue ?? "")\n  key    \(signingKey.publicKey)")
    }

    static func removingSignature(_ json: JSONValue) -> JSONValue {
        guard case .object(let members) = json else { return json }
        return .object(members.filter { $0.key != "signature" })
    }

    /// Reads a secret key file, refusing one that others may read (as ssh does).
    static func readSecretKey(_ path: String, given: Bool) throws -> PluginSigningKey {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(
                message: given
                    ? "cannot read the key file \(path); give the secret key `jester plugin keygen` wrote"
                    : "no --key given and there is no default key at \(path); make one with `jester plugin keygen`, or pass --key FILE")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value, mode & 0o077 != 0 {
            throw Failure(message: "\(path) can be read by other users (mode \(String(mode, radix: 8))); a secret key must be private: chmod 600 \(path)")
        }
        do {
            return try PluginSigningKey(secretKeyFile: text, path: path)
        } catch {
            throw Failure(message: error.message)
        }
    }
}

/// `jester plugin verify`
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a plugin's signature, and that its signer is trusted.",
        discussion: """
            Checks that the module's SHA-256 is the manifest's "sha256", that the signature matches the \
            module and the manifest, and that the key that made it is in the trust store (`jester trust \
            list`), neither revoked nor expired; with --key, that it is that key instead. Exits 1 with the \
            reason when any check fails.

            Examples:
              jester plugin verify examples/hello
              jester plugin verify plugins/auth/plugin.json --key 3b6a27bc…  (the author's public key)
              jester plugin verify plugins/auth --json
            """
    )

    @Argument(help: "A plugin directory or its plugin.json.")
    var path: String = "."

    @Option(help: ArgumentHelp("Accept only this public key (64 hex digits) instead of the trust store's.", valueName: "public-key"))
    var key: String?

    @OptionGroup var data: DataDirectoryOptions

    @Flag(help: "Print the result as JSON (also when verification fails).")
    var json = false

    func run() throws {
        let policy: SignaturePolicy
        if let key {
            guard let publicKey = TrustedKey.normalizedPublicKey(key) else {
                throw Failure(message: "--key \(key): expected an Ed25519 public key, 64 hex digits (what `jester plugin keygen` printed)")
            }
            policy = .required(trusting: [TrustedKey(name: "--key", publicKey: publicKey)])
        } else {
            policy = .required(trustStore: data.trustStore)
        }
        let bundle = try loadBundle(path)
        let sha256 = PluginBundle.sha256(of: bundle.wasm)
        let result: Result<TrustedKey?, PluginError> = Result { () throws(PluginError) in try PluginSignature.verify(bundle, policy: policy) }
        if json {
            var members: [(key: String, value: JSONValue)] = [
                ("path", .string(bundle.manifestPath ?? bundle.modulePath)), ("plugin", .string(bundle.manifest.id)),
                ("version", .string(bundle.manifest.version.description)), ("sha256", .string(sha256)),
            ]
            switch result {
            case .success(let signer):
                members += [
                    ("valid", .bool(true)),
                    ("signer", .object([("name", signer.map { .string($0.name) } ?? .null), ("public_key", .string(signer?.publicKey ?? ""))])),
                ]
            case .failure(let error):
                members += [("valid", .bool(false)), ("code", .string(error.code.description)), ("reason", .string(error.message))]
            }
            Console.out(JSONValue.object(members).serialized(pretty: true))
            if case .failure = result { throw ExitCode.failure }
            return
        }
        switch result {
        case .success(let signer):
            let who = key != nil ? "the given key" : signer.map { "\($0.name)" } ?? "?"
            Console.out("ok: \(bundle.manifest.id) \(bundle.manifest.version) is signed by \(who) (key \(signer?.publicKey ?? ""))\n  module \(bundle.modulePath) sha256 \(sha256)")
        case .failure(let error):
            throw Failure(message: "\(error)")
        }
    }
}
