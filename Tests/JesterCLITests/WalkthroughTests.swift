import Foundation
import JesterTesting
import Testing

/// `docs/plugin-authoring.md` promises that a newcomer can follow its walkthrough verbatim: this
/// runs every `sh` block of its "Walkthrough" section, in order, in one shell, in an empty
/// directory, with the `jester` built here on the PATH.
@Suite(.serialized) struct WalkthroughTests {
    static func walkthroughScript() throws -> String {
        let text = try String(contentsOfFile: JesterFixtures.repositoryRoot + "/docs/plugin-authoring.md", encoding: .utf8)
        guard let start = text.range(of: "\n## Walkthrough\n"), let end = text.range(of: "\n## ", range: start.upperBound..<text.endIndex) else {
            Issue.record("docs/plugin-authoring.md has no Walkthrough section")
            return ""
        }
        var blocks: [String] = []
        var current: [Substring]?
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```sh" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks.joined(separator: "\n")
    }

    @Test func theWalkthroughRunsAsWritten() throws {
        var script = try Self.walkthroughScript()
        #expect(script.contains("jester plugin new"))
        #expect(script.contains("jester plugin sign"))
        #expect(script.contains("jester run"))
        let port = try JesterFixtures.freePort()
        script = script.replacingOccurrences(of: "18480", with: String(port))
        let directory = try JesterFixtures.temporaryDirectory("walkthrough")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bin = URL(fileURLWithPath: JesterFixtures.jesterExecutable).deletingLastPathComponent().path
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        // -x: each command is echoed to stderr, so a failure shows which step it was.
        let result = try JesterFixtures.run(
            "/bin/bash", ["-euxo", "pipefail", "-c", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script], currentDirectory: directory,
            environment: [
                "PATH": path, "JESTER_HOME": JesterFixtures.repositoryRoot, "JESTER_DATA_DIR": directory + "/data",
            ])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("team-auth: 6 passed, 0 failed"), "\(result.stdout)")
        #expect(result.stdout.contains("HTTP/1.1 401 Unauthorized"), "\(result.stdout)")
        #expect(result.stdout.contains("hello from behind the filter"), "\(result.stdout)")
    }
}
