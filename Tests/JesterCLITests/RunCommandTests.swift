import Foundation
import JesterTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `jester run` as a user runs it: a real process, a TOML config, curl, signals.
@Suite(.serialized) struct RunCommandTests {
    /// The README's main command: the example gateway answering from the example WASM plugin.
    @Test func theQuickStartGatewayServesTheHelloPlugin() async throws {
        let directory = try JesterFixtures.temporaryDirectory("gateway")
        let examples = directory + "/examples"
        try FileManager.default.createDirectory(atPath: examples + "/gateway", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try HelloExample.directory, toPath: examples + "/hello")
        try FileManager.default.copyItem(atPath: JesterFixtures.repositoryRoot + "/examples/gateway/jester.toml", toPath: examples + "/gateway/jester.toml")
        let port = try JesterFixtures.freePort()
        let pidFile = directory + "/jester.pid"
        let gateway = try BackgroundProcess(
            JesterFixtures.jesterExecutable, ["run", "--config", "examples/gateway/jester.toml", "--pid-file", pidFile, "--log-level", "info"],
            environment: ["PORT": "\(port)"], currentDirectory: directory
        )
        #expect(await gateway.waitForOutput { $0.contains("listening") }, "\(gateway.stderr)")

        let hello = try JesterFixtures.curl(["-d", "World", "http://127.0.0.1:\(port)/hello"])
        #expect(hello.stdout == "Hello, World!", "\(hello.stderr) \(gateway.stderr)")
        let home = try JesterFixtures.curl(["http://127.0.0.1:\(port)/"])
        #expect(home.stdout.contains("Jester is running."))
        #expect(home.stdout.contains("curl -d World http://127.0.0.1:\(port)/hello"))
        let h2c = try JesterFixtures.curl(["--http2-prior-knowledge", "-d", "Ada", "http://127.0.0.1:\(port)/hello"])
        #expect(h2c.stdout == "Hello, Ada!")
        // One access log line per request, with its route.
        #expect(await gateway.waitForOutput { $0.contains("route=hello") && $0.contains("POST /hello 200") })

        // SIGHUP through `jester reload`: a changed greeting is picked up…
        let configPath = examples + "/gateway/jester.toml"
        let original = try String(contentsOfFile: configPath, encoding: .utf8)
        try original.replacingOccurrences(of: #"greeting = "Hello""#, with: #"greeting = "Howdy""#).write(toFile: configPath, atomically: true, encoding: .utf8)
        let reload = try JesterFixtures.run(JesterFixtures.jesterExecutable, ["reload", "--config", configPath, "--pid-file", pidFile], environment: ["PORT": "\(port)"])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(await gateway.waitForOutput { $0.contains("configuration reloaded") }, "\(gateway.stderr)")
        #expect(try JesterFixtures.curl(["-d", "World", "http://127.0.0.1:\(port)/hello"]).stdout == "Howdy, World!")

        // …and a broken one is refused while the old one keeps serving.
        try (original + "\n[[routes]]\nname = \"bad\"\nupstream = \"nowhere\"\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        gateway.signal(SIGHUP)
        #expect(await gateway.waitForOutput { $0.contains("reload refused") }, "\(gateway.stderr)")
        #expect(gateway.stderr.contains("nowhere"))
        #expect(try JesterFixtures.curl(["-d", "World", "http://127.0.0.1:\(port)/hello"]).stdout == "Howdy, World!")

        gateway.signal(SIGTERM)
        #expect(await gateway.wait() == 0, "\(gateway.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pidFile))
    }

    @Test func dryRunPrintsThePlan() throws {
        let result = try jester("run", "--dry", "--config", JesterFixtures.repositoryRoot + "/examples/gateway/jester.toml")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("hello"))
        #expect(result.stdout.contains("home"))
        #expect(result.stdout.contains("127.0.0.1:8080"))
    }

    @Test func aBrokenConfigStopsTheStartWithItsErrors() throws {
        let directory = try JesterFixtures.temporaryDirectory()
        try "[listeners]\nbind = \"127.0.0.1:1\"\n\n[[routes]]\nname = \"a\"\nupstream = \"missing\"\n".write(toFile: directory + "/jester.toml", atomically: true, encoding: .utf8)
        let result = try jester("run", "--config", directory + "/jester.toml")
        #expect(result.status == 1)
        #expect(result.stderr.contains("jester.toml:6"), "\(result.stderr)")
        #expect(result.stderr.contains("missing"))
    }

    /// 1 GiB up and 1 GiB down through a `jester run` process: its resident memory stays under 64 MiB.
    @Test func aGigabyteStreamsThroughInBoundedMemory() async throws {
        let origin = try await TestOrigin(keepBody: false)
        defer { Task { await origin.stop() } }
        let directory = try JesterFixtures.temporaryDirectory()
        let port = try JesterFixtures.freePort()
        try """
            [listeners]
            bind = "127.0.0.1:\(port)"
            [listeners.http]
            max_request_body = "2GiB"

            [[routes]]
            name = "origin"
            upstream = "origin"

            [upstreams.origin]
            targets = ["\(origin.url)"]

            [access_log]
            enabled = false
            """.write(toFile: directory + "/jester.toml", atomically: true, encoding: .utf8)
        let gateway = try BackgroundProcess(JesterFixtures.jesterExecutable, ["run", "--config", directory + "/jester.toml", "--log-level", "info"])
        #expect(await gateway.waitForOutput { $0.contains("listening") }, "\(gateway.stderr)")
        let gigabyte = 1 << 30
        let download = try JesterFixtures.curl(["http://127.0.0.1:\(port)/download/\(gigabyte)", "-o", "/dev/null", "-w", "%{size_download}", "--max-time", "120"])
        #expect(download.stdout == "\(gigabyte)")
        let upload = try JesterFixtures.run("/bin/sh", ["-c", "head -c \(gigabyte) /dev/zero | curl -s --max-time 120 -T - http://127.0.0.1:\(port)/upload"])
        #expect(upload.stdout == "PUT /upload \(gigabyte)", "\(upload.stderr)")
        let peak = try #require(gateway.peakResidentBytes)
        #expect(peak < 64 << 20, "peak resident memory \(peak >> 20) MiB")
        gateway.signal(SIGTERM)
        #expect(await gateway.wait() == 0)
    }
}
