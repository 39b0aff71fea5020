public import ArgumentParser
import Foundation
import Logging

/// The `jester` command line. The `jester` executable is a thin `@main` over this.
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
public struct JesterCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "jester",
        abstract: "Run the Jester gateway and its sandboxed WebAssembly plugins.",
        discussion: """
            Examples:
              jester run --config examples/gateway/jester.toml
              jester config validate --config jester.toml
              jester reload --config jester.toml
              jester status --config jester.toml
              jester plugin inspect examples/hello/hello.wasm
              jester plugin check examples/hello
              jester plugin call examples/hello handle --input World
              jester plugin sign examples/hello --key ~/keys/alice.key
              jester trust add 3b6a27bc… --name alice
            """,
        version: JesterVersion.current,
        subcommands: [RunCommand.self, ReloadCommand.self, StatusCommand.self, ConfigCommand.self, PluginCommand.self, TrustCommand.self]
    )

    public init() {}

    /// Parses the process's arguments and runs the chosen command, exiting with its status.
    public static func runFromCommandLine(_ arguments: [String]? = nil) async {
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Jester's version.
public enum JesterVersion {
    public static let current = "0.1.0"
}

/// Options every command that runs plugins shares.
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .warning

    func makeLogger(label: String = "jester") -> Logger {
        var logger = Logger(label: label) { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return handler
        }
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Writes to standard error.
enum Console {
    static func error(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    static func out(_ message: String) {
        FileHandle.standardOutput.write(Data((message + "\n").utf8))
    }

    static func outBytes(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }
}

/// An error already explained on standard error: exit with `code` and print nothing more.
struct Failure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
