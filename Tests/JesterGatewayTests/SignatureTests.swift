import Foundation
import JesterConfig
import JesterGateway
import JesterManifest
import JesterRuntime
import JesterStore
import JesterTesting
import Testing

/// Signs the plugin in `directory` in place, as `jester plugin sign` does.
private func sign(_ directory: String, with key: PluginSigningKey) throws {
    let bundle = try PluginBundle.read(from: directory)
    let manifestPath = try #require(bundle.manifestPath)
    let json = try JSONValue.parse(try String(contentsOfFile: manifestPath, encoding: .utf8))
    let signed = try PluginSignature.sign(manifest: json, wasm: bundle.wasm, with: key)
    try signed.serialized(pretty: true).write(toFile: manifestPath, atomically: true, encoding: .utf8)
}

@Suite(.serialized) struct RequireSignaturesGatewayTests {
    private let key = PluginSigningKey()

    private func trustStore(trusting keys: [PluginSigningKey]) throws -> SQLiteStore {
        let store = SQLiteStore(dataDirectory: try JesterFixtures.temporaryDirectory("gateway-trust"))
        for (index, key) in keys.enumerated() { try store.add(TrustedKey(name: "author\(index)", publicKey: key.publicKey)) }
        return store
    }

    private func config(filterPlugin plugin: String, origin: TestOrigin, listener: ListenerConfig) -> GatewayConfig {
        let filter = FilterConfig(kind: .wasm, name: "echo", plugin: plugin, location: SourceLocation(file: "/etc/jester/jester.toml", line: 7))
        let route = RouteConfig(name: "app", action: .upstream("app"), filters: [filter])
        var config = GatewayConfig(listeners: [listener], routes: [route], upstreams: [upstream("app", [origin])])
        config.plugins.requireSignatures = true
        return config
    }

    @Test func anUnsignedFilterPluginIsRefusedByName() async throws {
        let origin = try await TestOrigin()
        defer { Task { await origin.stop() } }
        let plugin = try FilterGuest.plugin(id: "echo", wat: FilterGuest.wat)
        let config = config(filterPlugin: plugin, origin: origin, listener: JesterFixtures.listener())
        await #expect {
            try await JesterFixtures.startGateway(config, trustStore: try trustStore(trusting: [key]))
        } throws: { error in
            let text = String(describing: error)
            return text.contains("/etc/jester/jester.toml:7: route 'app' filters[0] (wasm:echo): plugin: cannot load echo: plugin echo: \(plugin)/plugin.json is not signed")
        }
    }

    @Test func aSignedTrustedFilterServesAndAnUntrustedOneIsRefused() async throws {
        let origin = try await TestOrigin()
        let plugin = try FilterGuest.plugin(id: "echo", wat: FilterGuest.wat)
        try sign(plugin, with: key)
        let listener = JesterFixtures.listener()
        let config = config(filterPlugin: plugin, origin: origin, listener: listener)

        await #expect {
            try await JesterFixtures.startGateway(config, trustStore: try trustStore(trusting: [PluginSigningKey()]))
        } throws: { error in
            String(describing: error).contains("plugin echo: \(plugin)/plugin.json is signed by key \(key.publicKey), which is not in the trust store")
        }

        let gw = try await JesterFixtures.startGateway(config, trustStore: try trustStore(trusting: [key]))
        let port = try #require(gw.port(of: listener.name))
        defer { Task { await gw.shutdown(); await origin.stop() } }
        let result = try JesterFixtures.curl(["-si", "http://127.0.0.1:\(port)/", "-H", "x-user: alice"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 200"), "\(result.stdout)")
        #expect(origin.requests.last?.head.headers["x-filtered"] == ["alice"])

        // A manifest changed after signing fails the reload, and the signed chain keeps serving.
        let manifestPath = plugin + "/plugin.json"
        let signed = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try signed.replacingOccurrences(of: "\"timeout_ms\": 200", with: "\"timeout_ms\": 300").write(toFile: manifestPath, atomically: true, encoding: .utf8)
        await #expect {
            try await gw.reload(config)
        } throws: { error in
            String(describing: error).contains("plugin echo: the signature in \(manifestPath)")
        }
        _ = try JesterFixtures.curl(["-s", "http://127.0.0.1:\(port)/", "-H", "x-user: bob"])
        #expect(origin.requests.last?.head.headers["x-filtered"] == ["bob"])
    }

    @Test func requiringSignaturesWithoutATrustStoreFailsToStart() async throws {
        let origin = try await TestOrigin()
        defer { Task { await origin.stop() } }
        let plugin = try FilterGuest.plugin(id: "echo", wat: FilterGuest.wat)
        var config = config(filterPlugin: plugin, origin: origin, listener: JesterFixtures.listener())
        config.plugins.location = SourceLocation(file: "/etc/jester/jester.toml", line: 2)
        await #expect {
            try await JesterFixtures.startGateway(config)
        } throws: { error in
            String(describing: error).contains("/etc/jester/jester.toml:2: plugins.require_signatures: signatures are required but the gateway was given no trust store")
        }
    }
}
