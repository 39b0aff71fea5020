import JesterManifest
import Testing

@Suite struct ManifestDecodingTests {
    @Test func decodesEveryField() throws {
        let manifest = try PluginManifest.decode(json: """
            {
              "$schema": "https://example.com/plugin.schema.json",
              "id": "auth-check",
              "name": "Auth check",
              "version": "1.2.3-beta.1+build.5",
              "description": "Checks API keys",
              "author": "Jester",
              "module": "auth.wasm",
              "abi": "jester@0.1.0",
              "exports": ["health", {"name": "handle", "kind": "handler", "priority": 900}],
              "permissions": {
                "filesystem": {"read": ["/data"], "write": ["/tmp/out"]},
                "env": ["LANG"],
                "clock": true,
                "random": true,
                "http": {"allowed_hosts": ["*.example.com"], "ports": [443], "https_only": true, "max_response_bytes": 1024},
                "kv": {"read": true, "write": false, "prefixes": ["auth:"]},
                "blob": {"read": true},
                "timers": true,
                "hooks": ["hooks.kv.*"],
                "signing": false,
                "cluster_info": true,
                "plugins": ["other"]
              },
              "limits": {"memory_bytes": 16777216, "fuel": 1000, "timeout_ms": 1500, "max_concurrency": 3,
                         "queue_timeout_ms": 10, "pool_size": 2, "instance_policy": "fresh", "table_elements": 10, "max_module_bytes": 4096},
              "config_schema": {"type": "object"},
              "sha256": "\(String(repeating: "ab", count: 32))",
              "signature": {"public_key": "\(String(repeating: "0f", count: 32))", "value": "\(String(repeating: "1e", count: 64))"}
            }
            """)
        #expect(manifest.id == "auth-check")
        #expect(manifest.version == SemanticVersion(1, 2, 3, prerelease: ["beta", "1"]))
        #expect(manifest.abi == .jester)
        #expect(manifest.abiVersion == SemanticVersion(0, 1, 0))
        #expect(manifest.exports == [ExportDeclaration(name: "health"), ExportDeclaration(name: "handle", kind: .handler, priority: 900)])
        #expect(manifest.permissions.readPaths == ["/data"])
        #expect(manifest.permissions.writePaths == ["/tmp/out"])
        #expect(manifest.permissions.clock && manifest.permissions.random && manifest.permissions.timers && manifest.permissions.clusterInfo)
        #expect(manifest.permissions.http?.allowedHosts == ["*.example.com"])
        #expect(manifest.permissions.kv?.effectivePrefixes(pluginID: "auth-check") == ["auth:"])
        #expect(manifest.limits.memoryBytes == 16 << 20)
        #expect(manifest.limits.fuel == 1000)
        #expect(manifest.limits.timeout == .milliseconds(1500))
        #expect(manifest.limits.instancePolicy == .freshPerCall)
        #expect(manifest.signature == ManifestSignature(publicKey: String(repeating: "0f", count: 32), value: String(repeating: "1e", count: 64)))
    }

    @Test func minimalManifestGetsSafeDefaults() throws {
        let manifest = try PluginManifest.decode(json: #"{"id": "x", "version": "0.1.0"}"#)
        #expect(manifest.name == "x")
        #expect(manifest.permissions == .none)
        #expect(manifest.limits.memoryBytes == 128 << 20)
        #expect(manifest.limits.fuel == 500_000_000)
        #expect(manifest.limits.timeout == .seconds(30))
        #expect(manifest.limits.maxConcurrency == ResourceLimits.defaultConcurrency)
        #expect(manifest.limits.instancePolicy == .reuse)
        #expect(manifest.permissions.kv == nil)
        #expect(KVPermission().effectivePrefixes(pluginID: "x") == ["__plugin:x:"])
    }

    @Test func reportsEveryProblemWithItsPath() throws {
        let error = try #require(throws: ManifestError.self) {
            try PluginManifest.decode(json: """
                {"id": "Bad Id", "version": "1.0", "colour": "red",
                 "permissions": {"clock": "yes", "filesystem": {"read": ["relative"], "exec": []}},
                 "limits": {"timeout_ms": 301000, "fuel": -1, "instance_policy": "sometimes"},
                 "exports": [{"name": "a", "kind": "nope"}, "a", 3]}
                """, file: "plugin.json")
        }
        let paths = Set(error.issues.map(\.path))
        #expect(paths.isSuperset(of: [
            "$.id", "$.version", "$.colour", "$.permissions.clock", "$.permissions.filesystem.read[0]",
            "$.permissions.filesystem.exec", "$.limits.timeout_ms", "$.limits.fuel", "$.limits.instance_policy",
            "$.exports[0].kind", "$.exports[2]",
        ]))
        #expect(error.issues.first { $0.path == "$.colour" }?.message.contains("unknown key") == true)
        #expect(error.description.hasPrefix("plugin.json: invalid manifest"))
        #expect(error.issues.contains { $0.path == "$.exports[1]" && $0.message.contains("declared twice") })
    }

    @Test func missingRequiredFields() throws {
        let error = try #require(throws: ManifestError.self) { try PluginManifest.decode(json: "{}") }
        #expect(Set(error.issues.map(\.path)) == ["$.id", "$.version"])
    }

    @Test func incompatibleABIVersionIsRefused() throws {
        let error = try #require(throws: ManifestError.self) {
            try PluginManifest.decode(json: #"{"id": "x", "version": "1.0.0", "abi": "jester@0.2.0"}"#)
        }
        #expect(error.issues.first?.message.contains("implements jester@0.1.0") == true)
        #expect(throws: ManifestError.self) { try PluginManifest.decode(json: #"{"id": "x", "version": "1.0.0", "abi": "cobol"}"#) }
    }

    @Test func syntaxErrorsNameLineAndColumn() throws {
        let error = try #require(throws: ManifestError.self) {
            try PluginManifest.decode(json: "{\n  \"id\": \"x\",\n  \"version\": 1.0.0\n}")
        }
        #expect(error.isSyntaxError)
        #expect(error.description.contains("line 3"))
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(#"{"a": 1, "a": 2}"#) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse("[1, 2,]") }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200)) }
    }
}

@Suite struct JSONValueTests {
    @Test func roundTripsAndCanonicalises() throws {
        let text = #"{"b": [1, 2.5, true, null, "x\n\"y\" \u00e9 \ud83d\ude00"], "a": {"z": -7}}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"]?["z"]?.integerValue == -7)
        #expect(try JSONValue.parse(value.serialized()) == value)
        #expect(value.serialized(sortedKeys: true).hasPrefix(#"{"a":{"z":-7},"b":"#))
        #expect(value["b"]?.serialized().contains("😀") == true)
        #expect(try JSONValue.parse("9223372036854775807") == .integer(.max))
    }
}

@Suite struct SemanticVersionTests {
    @Test func parsesAndPrints() throws {
        #expect(try SemanticVersion(parsing: "1.2.3").description == "1.2.3")
        #expect(try SemanticVersion(parsing: "1.0.0-alpha.1+sha.5").description == "1.0.0-alpha.1+sha.5")
        for bad in ["1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "1.2.3-01", "-1.2.3", "1.2.3+", ""] {
            #expect(throws: SemanticVersionError.self, "\(bad)") { try SemanticVersion(parsing: bad) }
        }
    }

    @Test func ordersBySemverPrecedence() throws {
        let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0"]
        let versions = try ordered.map { try SemanticVersion(parsing: $0) }
        #expect(versions == versions.shuffled().sorted())
        #expect(try SemanticVersion(parsing: "1.0.0+a") == SemanticVersion(parsing: "1.0.0+b"))
    }

    @Test func caretCompatibility() throws {
        let host = SemanticVersion(1, 4, 2)
        #expect(host.isCompatible(with: SemanticVersion(1, 0, 0)))
        #expect(!host.isCompatible(with: SemanticVersion(1, 5, 0)))
        #expect(!host.isCompatible(with: SemanticVersion(2, 0, 0)))
        #expect(SemanticVersion(0, 1, 3).isCompatible(with: SemanticVersion(0, 1, 0)))
        #expect(!SemanticVersion(0, 2, 0).isCompatible(with: SemanticVersion(0, 1, 0)))
    }
}

@Suite struct LimitsTests {
    @Test func clampsToHostCeiling() {
        var requested = ResourceLimits(memoryBytes: 1 << 30, fuel: 10, timeout: .seconds(600), maxConcurrency: 64)
        requested.poolSize = 100
        let ceiling = ResourceLimits(memoryBytes: 64 << 20, fuel: 1_000, timeout: .seconds(20), maxConcurrency: 4, instancePolicy: .freshPerCall)
        let effective = requested.clamped(to: ceiling)
        #expect(effective.memoryBytes == 64 << 20)
        #expect(effective.fuel == 10)
        #expect(effective.timeout == .seconds(20))
        #expect(effective.maxConcurrency == 4)
        #expect(effective.instancePolicy == .freshPerCall)
        #expect(ResourceLimits(timeout: .seconds(999)).clamped(to: ResourceLimits(timeout: .seconds(999))).timeout == .seconds(300))
    }
}
