import Foundation
import JesterManifest
import JesterRuntime
import JesterStore
import JesterTesting
import Testing

private func freshStore() throws -> (SQLiteStore, String) {
    let directory = try JesterFixtures.temporaryDirectory("store") + "/data"
    return (SQLiteStore(dataDirectory: directory), directory)
}

private let aliceKey = PluginSigningKey().publicKey
private let bobKey = PluginSigningKey().publicKey

@Suite struct SQLiteTrustStoreTests {
    @Test func addListLookupRemove() throws {
        let (store, _) = try freshStore()
        try store.add(TrustedKey(name: "bob", publicKey: bobKey))
        try store.add(TrustedKey(name: "alice", publicKey: aliceKey.uppercased(), expires: Date(timeIntervalSince1970: 1_830_297_600)))
        let keys = try store.list()
        #expect(keys.map(\.name) == ["alice", "bob"])
        #expect(keys[0].publicKey == aliceKey)
        #expect(keys[0].expires == Date(timeIntervalSince1970: 1_830_297_600))
        #expect(try store.lookup(publicKey: aliceKey)?.name == "alice")
        #expect(try store.lookup(publicKey: PluginSigningKey().publicKey) == nil)

        #expect(try store.remove("alice").publicKey == aliceKey)
        #expect(try store.remove(bobKey).name == "bob")
        #expect(try store.list().isEmpty)
        let missing = try #require(throws: StoreError.self) { try store.remove("alice") }
        #expect(missing.code == .notFound)
        #expect(missing.message.contains("jester trust list"))
    }

    @Test func namesAndKeysAreUnique() throws {
        let (store, _) = try freshStore()
        try store.add(TrustedKey(name: "alice", publicKey: aliceKey))
        let sameName = try #require(throws: StoreError.self) { try store.add(TrustedKey(name: "alice", publicKey: bobKey)) }
        #expect(sameName.code == .conflict)
        let sameKey = try #require(throws: StoreError.self) { try store.add(TrustedKey(name: "alias", publicKey: aliceKey)) }
        #expect(sameKey.message.contains("already in the trust store as \"alice\""))
        #expect(throws: StoreError.self) { try store.add(TrustedKey(name: "-bad name", publicKey: bobKey)) }
        #expect(throws: StoreError.self) { try store.add(TrustedKey(name: "bob", publicKey: "not hex")) }
    }

    @Test func revokedKeysStayListedAndCannotBeAddedAgain() throws {
        let (store, _) = try freshStore()
        try store.add(TrustedKey(name: "alice", publicKey: aliceKey))
        let when = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try store.revoke("alice", at: when).revoked == when)
        let entry = try #require(try store.lookup(publicKey: aliceKey))
        #expect(entry.revoked == when)
        #expect(entry.problem(at: when + 1)?.contains("revoked") == true)
        let again = try #require(throws: StoreError.self) { try store.add(TrustedKey(name: "alice2", publicKey: aliceKey)) }
        #expect(again.message.contains("revoked"))
        #expect(throws: StoreError.self) { try store.revoke(aliceKey, at: when) }
    }

    @Test func readingCreatesNothingAndTheFileIsPrivate() throws {
        let (store, directory) = try freshStore()
        #expect(try store.list().isEmpty)
        #expect(try store.lookup(publicKey: aliceKey) == nil)
        #expect(!FileManager.default.fileExists(atPath: directory))
        try store.add(TrustedKey(name: "alice", publicKey: aliceKey))
        let fileMode = try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as? Int
        let directoryMode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
        #expect(fileMode == 0o600)
        #expect(directoryMode == 0o700)
        // Another store on the same file sees the entry: the CLI and a gateway share it.
        #expect(try SQLiteStore(path: store.path).list().map(\.name) == ["alice"])
    }

    @Test func aHostReadsTheStoreOnEveryLoad() throws {
        let (store, _) = try freshStore()
        let key = PluginSigningKey()
        let wasm = JesterFixtures.wasm(#"(module (func (export "run")))"#)
        let json = try PluginSignature.sign(manifest: ["id": "p", "version": "1.0.0"], wasm: wasm, with: key)
        let manifest = try PluginManifest.decode(json)
        let policy = SignaturePolicy.required(trustStore: store)
        #expect(throws: PluginError.self) { try PluginSignature.verify(manifest: manifest, wasm: wasm, policy: policy) }
        try store.add(TrustedKey(name: "carol", publicKey: key.publicKey))
        #expect(try PluginSignature.verify(manifest: manifest, wasm: wasm, policy: policy)?.name == "carol")
        try store.revoke("carol", at: Date())
        let error = try #require(throws: PluginError.self) { try PluginSignature.verify(manifest: manifest, wasm: wasm, policy: policy) }
        #expect(error.code == .untrustedSigner)
    }
}

@Suite struct DataDirectoryTests {
    @Test func resolutionOrder() {
        #expect(DataDirectory.resolve(explicit: "/x", environment: ["JESTER_DATA_DIR": "/y"]) == "/x")
        #expect(DataDirectory.resolve(environment: ["JESTER_DATA_DIR": "/y", "XDG_DATA_HOME": "/xdg"]) == "/y")
        #expect(DataDirectory.resolve(environment: ["XDG_DATA_HOME": "/xdg", "HOME": "/home/u"]) == "/xdg/jester")
        #expect(DataDirectory.resolve(environment: ["HOME": "/home/u"]) == "/home/u/.local/share/jester")
        // XDG says a relative XDG_DATA_HOME is invalid and is ignored.
        #expect(DataDirectory.resolve(environment: ["XDG_DATA_HOME": "rel", "HOME": "/home/u"]) == "/home/u/.local/share/jester")
    }
}
