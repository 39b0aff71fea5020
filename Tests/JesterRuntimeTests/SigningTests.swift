import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import Testing

/// A signed plugin made in memory: a small module, its manifest JSON signed by `key`.
private struct SignedFixture {
    static let wat = #"(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))"#
    static let manifestText = #"""
        {"id": "adder", "version": "1.0.0", "exports": [{"name": "add", "kind": "function"}],
         "permissions": {"clock": false}, "limits": {"fuel": 100000, "timeout_ms": 1000}}
        """#

    let key = PluginSigningKey()
    let wasm = JesterFixtures.wasm(wat)
    let json: JSONValue

    init() throws {
        json = try PluginSignature.sign(manifest: try JSONValue.parse(Self.manifestText), wasm: wasm, with: key)
    }

    /// The signed manifest as it would be read back from its file.
    var manifest: PluginManifest {
        get throws { try PluginManifest.decode(json: json.serialized(pretty: true)) }
    }

    var trusted: SignaturePolicy { .required(trusting: [TrustedKey(name: "alice", publicKey: key.publicKey)]) }

    /// The manifest JSON with `edit` applied to its members, signature kept.
    func editing(_ edit: (inout [(key: String, value: JSONValue)]) -> Void) throws -> PluginManifest {
        var members = try #require(json.objectValue)
        edit(&members)
        return try PluginManifest.decode(.object(members))
    }
}

@Suite struct SigningTests {
    @Test func signSetsHashAndSignatureAndVerifies() throws {
        let fixture = try SignedFixture()
        let manifest = try fixture.manifest
        #expect(manifest.sha256 == PluginBundle.sha256(of: fixture.wasm))
        #expect(manifest.signature?.publicKey == fixture.key.publicKey)
        #expect(manifest.signature?.value.count == 128)
        // The other members keep their order; sha256 and signature come last.
        #expect(fixture.json.objectValue?.map(\.key) == ["id", "version", "exports", "permissions", "limits", "sha256", "signature"])
        #expect(try PluginSignature.check(manifest: manifest, wasm: fixture.wasm) == fixture.key.publicKey)
        let signer = try PluginSignature.verify(manifest: manifest, wasm: fixture.wasm, policy: fixture.trusted)
        #expect(signer?.name == "alice")
    }

    @Test func reformattingTheManifestKeepsTheSignatureValid() throws {
        let fixture = try SignedFixture()
        // Members reversed and written compactly: the canonical form is the same.
        let reordered = JSONValue.object(Array(try #require(fixture.json.objectValue).reversed()))
        let manifest = try PluginManifest.decode(json: reordered.serialized())
        #expect(try PluginSignature.check(manifest: manifest, wasm: fixture.wasm) == fixture.key.publicKey)
    }

    @Test func oneChangedByteOfTheModuleIsRefused() throws {
        let fixture = try SignedFixture()
        var tampered = fixture.wasm
        tampered[tampered.count - 1] ^= 0x01
        let error = try #require(throws: PluginError.self) { try PluginSignature.check(manifest: try fixture.manifest, wasm: tampered, file: "adder/plugin.json") }
        #expect(error.code == .hashMismatch)
        #expect(error.pluginID == "adder")
        #expect(error.message.contains("adder/plugin.json") && error.message.contains("changed after the plugin was signed"))

        // Updating "sha256" to the tampered module's hash does not help: the signature covers it.
        let rehashed = try fixture.editing { members in
            members[members.firstIndex { $0.key == "sha256" }!].value = .string(PluginBundle.sha256(of: tampered))
        }
        let again = try #require(throws: PluginError.self) { try PluginSignature.check(manifest: rehashed, wasm: tampered) }
        #expect(again.code == .badSignature)
    }

    @Test(arguments: ["version", "permissions", "limits", "exports"])
    func oneChangedFieldOfTheManifestIsRefused(_ field: String) throws {
        let fixture = try SignedFixture()
        let tampered = try fixture.editing { members in
            let index = members.firstIndex { $0.key == field }!
            switch field {
            case "version": members[index].value = "1.0.1"
            case "permissions": members[index].value = ["clock": true]
            case "limits": members[index].value = ["fuel": 100001, "timeout_ms": 1000]
            default: members[index].value = [["name": "add", "kind": "function", "priority": 1]]
            }
        }
        let error = try #require(throws: PluginError.self) { try PluginSignature.check(manifest: tampered, wasm: fixture.wasm) }
        #expect(error.code == .badSignature)
        #expect(error.description.contains("plugin adder"))
        #expect(error.message.contains("does not match the manifest and module"))
    }

    @Test func anAddedFieldIsRefused() throws {
        let fixture = try SignedFixture()
        let tampered = try fixture.editing { $0.insert((key: "description", value: "now with more"), at: 0) }
        #expect(throws: PluginError.self) { try PluginSignature.check(manifest: tampered, wasm: fixture.wasm) }
    }

    @Test func aSignatureByAnotherKeyUnderTheTrustedKeyIsRefused() throws {
        let fixture = try SignedFixture()
        let mallory = try PluginSignature.sign(manifest: fixture.json, wasm: fixture.wasm, with: PluginSigningKey())
        // Mallory's signature value with Alice's public key claimed.
        let forged = try fixture.editing { members in
            members[members.firstIndex { $0.key == "signature" }!].value = [
                "public_key": .string(fixture.key.publicKey), "value": mallory["signature"]!["value"]!,
            ]
        }
        let error = try #require(throws: PluginError.self) { try PluginSignature.verify(manifest: forged, wasm: fixture.wasm, policy: fixture.trusted) }
        #expect(error.code == .badSignature)
    }

    @Test func aKeyThatIsNotTrustedIsRefused() throws {
        let fixture = try SignedFixture()
        let other = PluginSigningKey()
        let error = try #require(throws: PluginError.self) {
            try PluginSignature.verify(manifest: try fixture.manifest, wasm: fixture.wasm, policy: .required(trusting: [TrustedKey(name: "bob", publicKey: other.publicKey)]))
        }
        #expect(error.code == .untrustedSigner)
        #expect(error.message.contains("not in the trust store") && error.message.contains("jester trust add \(fixture.key.publicKey)"))
        #expect(throws: PluginError.self) { try PluginSignature.verify(manifest: try fixture.manifest, wasm: fixture.wasm, policy: .required(trusting: [])) }
    }

    @Test func expiredAndRevokedTrustIsRefused() throws {
        let fixture = try SignedFixture()
        let now = Date()
        let expired = TrustedKey(name: "alice", publicKey: fixture.key.publicKey, added: now - 7200, expires: now - 3600)
        let error = try #require(throws: PluginError.self) {
            try PluginSignature.verify(manifest: try fixture.manifest, wasm: fixture.wasm, policy: .required(trusting: [expired]), at: now)
        }
        #expect(error.code == .untrustedSigner)
        #expect(error.message.contains("alice") && error.message.contains("expired on"))

        let revoked = TrustedKey(name: "alice", publicKey: fixture.key.publicKey, added: now - 7200, revoked: now - 60)
        let revokedError = try #require(throws: PluginError.self) {
            try PluginSignature.verify(manifest: try fixture.manifest, wasm: fixture.wasm, policy: .required(trusting: [revoked]), at: now)
        }
        #expect(revokedError.message.contains("revoked on"))

        // Before the expiry the same entry is trusted.
        let later = TrustedKey(name: "alice", publicKey: fixture.key.publicKey, expires: now + 3600)
        #expect(try PluginSignature.verify(manifest: try fixture.manifest, wasm: fixture.wasm, policy: .required(trusting: [later]), at: now)?.name == "alice")
    }

    @Test func unsignedManifestsAreRefused() throws {
        let wasm = JesterFixtures.wasm(SignedFixture.wat)
        let unsigned = try PluginManifest.decode(json: SignedFixture.manifestText)
        let error = try #require(throws: PluginError.self) { try PluginSignature.verify(manifest: unsigned, wasm: wasm, policy: .required(trusting: []), file: "p/plugin.json") }
        #expect(error.code == .unsigned)
        #expect(error.description == "plugin adder: p/plugin.json is not signed, and signatures are required here; sign it with `jester plugin sign DIR --key KEYFILE` and trust its key with `jester trust add`")
        // A manifest made in code has no JSON to carry a signature.
        let made = try #require(throws: PluginError.self) { try PluginSignature.check(manifest: PluginManifest(id: "made"), wasm: wasm) }
        #expect(made.code == .unsigned)
        // Nothing is checked when signatures are not required.
        #expect(try PluginSignature.verify(manifest: unsigned, wasm: wasm, policy: .notRequired) == nil)
    }

    @Test func secretKeyFileRoundTrips() throws {
        let key = PluginSigningKey()
        let text = key.secretKeyFile
        #expect(text.hasPrefix("jester-ed25519-secret-key-v1\n"))
        #expect(try PluginSigningKey(secretKeyFile: text, path: "k").publicKey == key.publicKey)
        #expect(TrustedKey.normalizedPublicKey(key.publicKey.uppercased()) == key.publicKey)
        let damaged = try #require(throws: PluginError.self) { try PluginSigningKey(secretKeyFile: "jester-ed25519-secret-key-v1\nabc\n", path: "k.key") }
        #expect(damaged.message.contains("k.key"))
        #expect(throws: PluginError.self) { try PluginSigningKey(secretKeyFile: key.publicKey, path: "k.pub") }
    }
}

@Suite struct HostSignaturePolicyTests {
    @Test func aHostThatRequiresSignaturesRefusesUnsignedAndLoadsSigned() async throws {
        let fixture = try SignedFixture()
        let host = PluginHost(logger: JesterFixtures.logger, configuration: PluginHost.Configuration(signatures: fixture.trusted))
        let unsigned = try PluginManifest.decode(json: SignedFixture.manifestText)
        let error = try #require(throws: PluginError.self) { try host.makePlugin(manifest: unsigned, wasm: fixture.wasm) }
        #expect(error.code == .unsigned)
        #expect(error.pluginID == "adder")
        #expect(host.validate(manifest: unsigned, wasm: fixture.wasm).errors.map(\.code) == ["unsigned"])

        var tampered = fixture.wasm
        tampered[tampered.count - 1] ^= 0x01
        let report = host.validate(manifest: try fixture.manifest, wasm: tampered)
        #expect(report.errors.map(\.code).contains("hash-mismatch"))

        let plugin = try host.makePlugin(manifest: try fixture.manifest, wasm: fixture.wasm)
        #expect(try await plugin.call("add", [.i32(2), .i32(40)]) == [.i32(42)])
    }

    @Test func aHostThatDoesNotRequireSignaturesLoadsUnsigned() throws {
        let host = PluginHost(logger: JesterFixtures.logger)
        let unsigned = try PluginManifest.decode(json: SignedFixture.manifestText)
        #expect(host.validate(manifest: unsigned, wasm: JesterFixtures.wasm(SignedFixture.wat)).isValid)
    }
}
