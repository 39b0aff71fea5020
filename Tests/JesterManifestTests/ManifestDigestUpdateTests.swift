import JesterManifest
import Testing

/// What `jester plugin build` writes back into plugin.json after a build.
@Suite struct ManifestDigestUpdateTests {
    static let digest = String(repeating: "ab", count: 32)
    static let other = String(repeating: "cd", count: 32)

    @Test func addsTheDigestAfterTheLastKeyKeepingTheLayout() throws {
        let text = """
            {
              "id": "hello",
              "version": "1.0.0",
              "exports": [{ "name": "handle", "kind": "handler" }],
              "limits": { "memory_bytes": 16777216, "timeout_ms": 2000 }
            }

            """
        let update = try ManifestDigestUpdate(manifest: text, sha256: Self.digest)
        #expect(update.previousSHA256 == nil)
        #expect(!update.removedSignature)
        let json = try #require(update.json)
        #expect(json == text.replacingOccurrences(of: "2000 }\n}", with: "2000 },\n  \"sha256\": \"\(Self.digest)\"\n}"))
        #expect(try PluginManifest.decode(json: json).sha256 == Self.digest)
    }

    @Test func replacesAnOldDigestInPlaceAndOneLineManifestsStayOneLine() throws {
        let text = #"{"id": "a", "sha256": "\#(Self.other)", "version": "1.0.0"}"#
        let update = try ManifestDigestUpdate(manifest: text, sha256: Self.digest)
        #expect(update.previousSHA256 == Self.other)
        #expect(update.json == #"{"id": "a", "sha256": "\#(Self.digest)", "version": "1.0.0"}"#)
        let added = try ManifestDigestUpdate(manifest: #"{"id": "a", "version": "1.0.0"}"#, sha256: Self.digest)
        #expect(added.json == #"{"id": "a", "version": "1.0.0", "sha256": "\#(Self.digest)"}"#)
    }

    @Test func anUnchangedDigestWritesNothingAndKeepsTheSignature() throws {
        let text = #"{"id": "a", "version": "1.0.0", "sha256": "\#(Self.digest)", "signature": {"public_key": "0000000000000000000000000000000000000000000000000000000000000000", "value": "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"}}"#
        let update = try ManifestDigestUpdate(manifest: text, sha256: Self.digest)
        #expect(update.json == nil)
        #expect(!update.removedSignature)
    }

    @Test func aChangedModuleDropsTheSignatureAndKeepsEveryOtherKeyInOrder() throws {
        let text = """
            {"$schema": "x", "id": "a", "version": "1.0.0", "sha256": "\(Self.other)",
             "signature": {"public_key": "0000000000000000000000000000000000000000000000000000000000000000", "value": "11111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"}, "config_schema": {"type": "object", "properties": {"n": {"type": "number", "maximum": 1.5}}}}
            """
        let update = try ManifestDigestUpdate(manifest: text, sha256: Self.digest)
        #expect(update.removedSignature)
        let json = try #require(update.json)
        guard case .object(let members) = try JSONValue.parse(json) else {
            Issue.record("not an object: \(json)")
            return
        }
        #expect(members.map(\.key) == ["$schema", "id", "version", "sha256", "config_schema"])
        let manifest = try PluginManifest.decode(json: json)
        #expect(manifest.sha256 == Self.digest)
        #expect(manifest.signature == nil)
        #expect(manifest.configSchema?["properties"]?["n"]?["maximum"] == .double(1.5))
    }

    @Test func refusesAnInvalidManifestOrDigest() {
        #expect(throws: ManifestError.self) { try ManifestDigestUpdate(manifest: #"{"id": "a"}"#, sha256: Self.digest) }
        #expect(throws: ManifestError.self) { try ManifestDigestUpdate(manifest: "{", sha256: Self.digest) }
        #expect(throws: ManifestError.self) { try ManifestDigestUpdate(manifest: #"{"id": "a", "version": "1.0.0"}"#, sha256: "ABC") }
    }
}
