import Foundation
import JesterConfig
import JesterTesting
import Testing

/// A listener and a route, for tests about something else.
let minimalTOML = """
    [listeners]
    bind = ":8080"

    [[routes]]
    name = "app"
    upstream = { targets = ["http://127.0.0.1:9000"] }
    """

/// Loads TOML text as `jester.toml` in the current directory.
func load(_ toml: String, environment: [String: String] = [:]) throws(ConfigError) -> GatewayConfig {
    try ConfigLoader.load(toml: toml, file: "jester.toml", environment: environment)
}

/// The problems loading TOML text reports, one `FILE:LINE: KEY: message. fix` line each; records a
/// failure when it loads.
func problems(
    _ toml: String,
    environment: [String: String] = [:],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) -> [String] {
    do {
        _ = try load(toml, environment: environment)
        Issue.record("the config loaded", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// Expects exactly one problem that starts with `prefix`.
func expectProblem(
    _ toml: String,
    _ prefix: String,
    environment: [String: String] = [:],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    let found = problems(toml, environment: environment, sourceLocation: sourceLocation)
    #expect(
        found.count == 1 && found[0].hasPrefix(prefix),
        "expected one problem starting with\n  \(prefix)\nfound:\n  \(found.joined(separator: "\n  "))",
        sourceLocation: sourceLocation
    )
}

/// A temporary directory holding config files (and whatever else a test needs), removed on deinit.
final class ConfigDirectory {
    let path: String

    init(_ files: [String: String] = [:]) throws {
        path = try JesterFixtures.temporaryDirectory("jester-config")
        for (name, text) in files { try write(name, text) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func write(_ name: String, _ text: String) throws {
        let file = self.file(name)
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true
        )
        try text.write(toFile: file, atomically: true, encoding: .utf8)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// The absolute path the loader gives a file here.
    func resolved(_ name: String) -> String {
        URL(fileURLWithPath: file(name)).standardizedFileURL.path
    }

    func load(
        _ name: String = "jester.toml",
        profile: String? = nil,
        environment: [String: String] = [:]
    ) throws(ConfigError) -> GatewayConfig {
        try ConfigLoader.load(file: file(name), profile: profile, environment: environment)
    }

    func problems(
        _ name: String = "jester.toml",
        profile: String? = nil,
        environment: [String: String] = [:],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> [String] {
        do {
            _ = try load(name, profile: profile, environment: environment)
            Issue.record("the config loaded", sourceLocation: sourceLocation)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }
}
