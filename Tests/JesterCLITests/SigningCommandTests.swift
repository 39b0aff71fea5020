import Foundation
import JesterManifest
import JesterTesting
import Testing

/// A data directory and a plugin directory (an `add` core function and its plugin.json) for one test.
private struct SigningWorkspace {
    let root: String
    var data: String { root + "/data" }
    var plugin: String { root + "/adder" }
    var manifestPath: String { plugin + "/plugin.json" }
    var modulePath: String { plugin + "/adder.wasm" }

    init() throws {
        root = try JesterFixtures.temporaryDirectory("cli-signing")
        try FileManager.default.createDirectory(atPath: root + "/adder", withIntermediateDirectories: true)
        try Data(JesterFixtures.wasm(#"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#))
            .write(to: URL(fileURLWithPath: root + "/adder/adder.wasm"))
        try #"""
            {
              "id": "adder",
              "version": "1.0.0",
              "description": "adds",
              "module": "adder.wasm",
              "exports": [{"name": "add", "kind": "function"}]
            }
            """#.write(toFile: root + "/adder/plugin.json", atomically: true, encoding: .utf8)
    }

    /// Runs `jester` with this workspace's data directory.
    func run(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try JesterFixtures.run(JesterFixtures.jesterExecutable, arguments + ["--data-dir", data])
    }

    /// Makes the default key and returns its public key.
    func keygen() throws -> String {
        let result = try run("plugin", "keygen", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONValue.parse(result.stdout)["public_key"]?.stringValue)
    }

    func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }
}

@Suite struct KeygenCommandTests {
    @Test func writesAPrivateSecretKeyAndThePublicKeyBesideIt() throws {
        let workspace = try SigningWorkspace()
        let result = try workspace.run("plugin", "keygen")
        #expect(result.status == 0, "\(result.stderr)")
        let secret = workspace.data + "/keys/default.key"
        let pub = workspace.data + "/keys/default.pub"
        #expect(try workspace.mode(secret) == 0o600)
        let publicKey = try String(contentsOfFile: pub, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(publicKey.count == 64)
        #expect(result.stdout.contains("public key: \(publicKey)"))
        #expect(try String(contentsOfFile: secret, encoding: .utf8).hasPrefix("jester-ed25519-secret-key-v1\n"))
    }

    @Test func refusesToOverwriteAKey() throws {
        let workspace = try SigningWorkspace()
        let out = workspace.root + "/alice.key"
        #expect(try JesterFixtures.run(JesterFixtures.jesterExecutable, ["plugin", "keygen", "--out", out]).status == 0)
        let before = try String(contentsOfFile: out, encoding: .utf8)
        let again = try JesterFixtures.run(JesterFixtures.jesterExecutable, ["plugin", "keygen", "--out", out])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already exists"))
        #expect(try String(contentsOfFile: out, encoding: .utf8) == before)
        #expect(FileManager.default.fileExists(atPath: workspace.root + "/alice.pub"))
        // An existing .pub alone also stops it, and no secret key is left behind.
        try FileManager.default.removeItem(atPath: out)
        let pubOnly = try JesterFixtures.run(JesterFixtures.jesterExecutable, ["plugin", "keygen", "--out", out])
        #expect(pubOnly.status != 0)
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}

@Suite struct SignAndVerifyCommandTests {
    @Test func signVerifyAndTamper() throws {
        let workspace = try SigningWorkspace()
        let publicKey = try workspace.keygen()
        let signed = try workspace.run("plugin", "sign", workspace.plugin)
        #expect(signed.status == 0, "\(signed.stderr)")

        // The manifest keeps its fields and their order, with sha256 and signature added.
        let json = try JSONValue.parse(try String(contentsOfFile: workspace.manifestPath, encoding: .utf8))
        #expect(json.objectValue?.map(\.key) == ["id", "version", "description", "module", "exports", "sha256", "signature"])
        #expect(json["signature"]?["public_key"]?.stringValue == publicKey)

        // Signed, but not yet by a trusted key.
        let untrusted = try workspace.run("plugin", "verify", workspace.plugin)
        #expect(untrusted.status == 1)
        #expect(untrusted.stderr.contains("not in the trust store"))
        #expect(try workspace.run("plugin", "verify", workspace.plugin, "--key", publicKey).status == 0)
        let wrongKey = try workspace.run("plugin", "verify", workspace.plugin, "--key", String(repeating: "ab", count: 32))
        #expect(wrongKey.status == 1)

        #expect(try workspace.run("trust", "add", workspace.data + "/keys/default.pub", "--name", "alice").status == 0)
        let ok = try workspace.run("plugin", "verify", workspace.manifestPath)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("signed by alice"))
        let okJSON = try JSONValue.parse(try workspace.run("plugin", "verify", workspace.plugin, "--json").stdout)
        #expect(okJSON["valid"] == .bool(true))
        #expect(okJSON["signer"]?["name"]?.stringValue == "alice")

        // One byte of the module.
        let module = try Data(contentsOf: URL(fileURLWithPath: workspace.modulePath))
        var changed = module
        changed[changed.count - 1] ^= 0x01
        try changed.write(to: URL(fileURLWithPath: workspace.modulePath))
        let hash = try workspace.run("plugin", "verify", workspace.plugin, "--json")
        #expect(hash.status == 1)
        let hashJSON = try JSONValue.parse(hash.stdout)
        #expect(hashJSON["valid"] == .bool(false))
        #expect(hashJSON["code"]?.stringValue == "hash-mismatch")
        try module.write(to: URL(fileURLWithPath: workspace.modulePath))

        // One field of the manifest.
        let text = try String(contentsOfFile: workspace.manifestPath, encoding: .utf8)
        try text.replacingOccurrences(of: "\"adds\"", with: "\"adds, and more\"").write(toFile: workspace.manifestPath, atomically: true, encoding: .utf8)
        let field = try workspace.run("plugin", "verify", workspace.plugin)
        #expect(field.status == 1)
        #expect(field.stderr.contains("does not match the manifest and module"))

        // Signing again makes it valid again.
        #expect(try workspace.run("plugin", "sign", workspace.plugin).status == 0)
        #expect(try workspace.run("plugin", "verify", workspace.plugin).status == 0)

        // A revoked key is refused, and a removed one is unknown.
        #expect(try workspace.run("trust", "revoke", "alice").status == 0)
        let revoked = try workspace.run("plugin", "verify", workspace.plugin)
        #expect(revoked.status == 1)
        #expect(revoked.stderr.contains("revoked on"))
        #expect(try workspace.run("trust", "remove", publicKey).status == 0)
        #expect(try workspace.run("plugin", "verify", workspace.plugin).stderr.contains("not in the trust store"))
    }

    @Test func unsignedPluginsFailVerification() throws {
        let workspace = try SigningWorkspace()
        let result = try workspace.run("plugin", "verify", workspace.plugin)
        #expect(result.status == 1)
        #expect(result.stderr.contains("is not signed"))
    }

    @Test func signRefusesAKeyOthersCanRead() throws {
        let workspace = try SigningWorkspace()
        _ = try workspace.keygen()
        let key = workspace.data + "/keys/default.key"
        chmod(key, 0o644)
        let result = try workspace.run("plugin", "sign", workspace.plugin, "--key", key)
        #expect(result.status != 0)
        #expect(result.stderr.contains("chmod 600"))
        let missing = try workspace.run("plugin", "sign", workspace.plugin, "--key", workspace.root + "/nope.key")
        #expect(missing.status != 0)
    }

    @Test func callAndRunHonourRequireSignatures() throws {
        let workspace = try SigningWorkspace()
        let unsigned = try workspace.run("plugin", "call", workspace.plugin, "add", "2", "3", "--require-signatures")
        #expect(unsigned.status != 0)
        #expect(unsigned.stderr.contains("plugin adder") && unsigned.stderr.contains("not signed"))
        #expect(try workspace.run("plugin", "call", workspace.plugin, "add", "2", "3").stdout.hasPrefix("5"))

        let publicKey = try workspace.keygen()
        #expect(try workspace.run("plugin", "sign", workspace.plugin).status == 0)
        let untrusted = try workspace.run("plugin", "call", workspace.plugin, "add", "2", "3", "--require-signatures")
        #expect(untrusted.stderr.contains("not in the trust store"))
        #expect(try workspace.run("trust", "add", publicKey, "--name", "me").status == 0)
        let trusted = try workspace.run("plugin", "call", workspace.plugin, "add", "2", "3", "--require-signatures")
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stdout.hasPrefix("5"))
    }
}

@Suite struct TrustCommandTests {
    @Test func addListRemove() throws {
        let workspace = try SigningWorkspace()
        let alice = String(repeating: "a1", count: 32)
        let bob = String(repeating: "b2", count: 32)
        #expect(try workspace.run("trust", "list").stdout.contains("no trusted keys"))
        let added = try workspace.run("trust", "add", alice, "--name", "alice", "--expires", "2099-01-01")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try workspace.run("trust", "add", bob.uppercased(), "--name", "bob").status == 0)

        let duplicate = try workspace.run("trust", "add", alice, "--name", "alice2")
        #expect(duplicate.status != 0)
        #expect(duplicate.stderr.contains("already in the trust store as \"alice\""))
        let badKey = try workspace.run("trust", "add", "1234", "--name", "x")
        #expect(badKey.status != 0)
        #expect(badKey.stderr.contains("is not a public key"))
        let past = try workspace.run("trust", "add", String(repeating: "c3", count: 32), "--name", "c", "--expires", "2001-01-01")
        #expect(past.status != 0)

        let list = try JSONValue.parse(try workspace.run("trust", "list", "--json").stdout)
        let entries = try #require(list.arrayValue)
        #expect(entries.compactMap { $0["name"]?.stringValue } == ["alice", "bob"])
        #expect(entries[0]["expires"]?.stringValue == "2099-01-01T00:00:00Z")
        #expect(entries[1]["public_key"]?.stringValue == bob)
        #expect(entries[1]["trusted"] == .bool(true))
        #expect(try workspace.run("trust", "list").stdout.contains("alice  \(alice)  trusted until 2099-01-01T00:00:00Z"))

        #expect(try workspace.run("trust", "remove", "alice").status == 0)
        #expect(try workspace.run("trust", "remove", bob).status == 0)
        let gone = try workspace.run("trust", "remove", "alice")
        #expect(gone.status != 0)
        #expect(gone.stderr.contains("no trusted key"))
        let empty = try JSONValue.parse(try workspace.run("trust", "list", "--json").stdout)
        #expect(empty.arrayValue?.isEmpty == true)
    }

    @Test func theDataDirectoryComesFromTheEnvironment() throws {
        let workspace = try SigningWorkspace()
        let key = String(repeating: "d4", count: 32)
        let environment = ["JESTER_DATA_DIR": workspace.data]
        #expect(try JesterFixtures.run(JesterFixtures.jesterExecutable, ["trust", "add", key, "--name", "env"], environment: environment).status == 0)
        #expect(FileManager.default.fileExists(atPath: workspace.data + "/jester.sqlite"))
        #expect(try workspace.run("trust", "list").stdout.contains("env"))
    }

    @Test func helpHasExamples() throws {
        let commands = [
            ["plugin", "keygen"], ["plugin", "sign"], ["plugin", "verify"], ["trust"], ["trust", "add"], ["trust", "list"], ["trust", "remove"],
            ["trust", "revoke"],
        ]
        for command in commands {
            let result = try JesterFixtures.run(JesterFixtures.jesterExecutable, command + ["--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("Example"), "\(command)")
            #expect(result.stdout.contains("jester \(command.joined(separator: " "))"), "\(command)")
        }
    }
}
