import Foundation
import JesterManifest
import JesterRuntime
import JesterTesting
import Testing

/// The example plugin compiled from Embedded Swift source during the test run.
enum EmbeddedHello {
    private static let built: Result<[UInt8], any Error> = Result {
        let output = try JesterFixtures.temporaryDirectory("hello-build") + "/hello.wasm"
        return try JesterFixtures.buildSwiftPlugin(
            directory: JesterFixtures.repositoryRoot + "/examples/hello",
            exports: ["handle", "init", "health", "shutdown", "cabi_post_handle", "cabi_post_init"],
            output: output)
    }

    static var wasm: [UInt8] { get throws { try built.get() } }

    static var manifest: PluginManifest {
        get throws { try PluginBundle.readManifest(JesterFixtures.repositoryRoot + "/examples/hello/plugin.json") }
    }
}

@Suite struct EmbeddedSwiftPluginTests {
    @Test func theExampleRunsThroughTheManager() async throws {
        let manager = PluginManager(host: PluginHost(logger: JesterFixtures.logger))
        let plugin = try await manager.load(manifest: try EmbeddedHello.manifest, wasm: try EmbeddedHello.wasm, config: ["greeting": "Hi"])
        #expect(plugin.abi == .jester)
        let result = try await manager.execute("hello", input: Array("World".utf8))
        #expect(result.success)
        #expect(result.outputText == "Hi, World!")
        #expect(result.logs.contains { $0.message == "greeting World" })
        let failure = try await manager.execute("hello", input: [])
        #expect(!failure.success)
        #expect(failure.errors == ["empty input: pass --input NAME"])
        #expect(await plugin.health() == .healthy)
    }

    @Test func repeatedCallsReuseInstancesWithoutGrowingMemory() async throws {
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: try EmbeddedHello.manifest, wasm: try EmbeddedHello.wasm)
        let input = Array(String(repeating: "x", count: 2_000).utf8)
        _ = try await plugin.execute(input: input)
        let first = plugin.status.peakMemoryBytes
        for _ in 0..<200 { _ = try await plugin.execute(input: input) }
        #expect(plugin.status.peakMemoryBytes == first)
        #expect(plugin.status.instancesCreated == 1)
    }

    @Test func concurrentCallersGetTheirOwnAnswers() async throws {
        let plugin = try PluginHost(logger: JesterFixtures.logger).makePlugin(manifest: try EmbeddedHello.manifest, wasm: try EmbeddedHello.wasm)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<100 {
                group.addTask {
                    let result = try await plugin.execute(input: Array("n\(i)".utf8))
                    #expect(result.outputText == "Hello, n\(i)!")
                }
            }
            try await group.waitForAll()
        }
    }
}
