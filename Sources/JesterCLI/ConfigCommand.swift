public import ArgumentParser
import Foundation
public import JesterConfig
import JesterGateway
import JesterManifest
import JesterRuntime
import Logging
import NIOPosix

/// `jester config …`
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate, lint and describe the gateway's TOML config.",
        discussion: """
            Examples:
              jester config validate
              jester config validate --config /etc/jester/jester.toml --profile prod
              jester config lint --strict
              jester config schema > jester.schema.json
            """,
        subcommands: [ConfigValidateCommand.self, ConfigLintCommand.self, ConfigSchemaCommand.self]
    )
}

/// `--config` and `--profile`, and loading the config they name: for every command that reads the
/// gateway's config (`jester config validate`, `jester run`, `jester reload`).
///
/// ```swift
/// struct RunCommand: AsyncParsableCommand {
///     @OptionGroup var config: ConfigOptions
///     func run() async throws {
///         let gatewayConfig = try config.load()   // problems printed to stderr, exit 1
///     }
/// }
/// ```
public struct ConfigOptions: ParsableArguments {
    /// `--config`: the main config file (default `jester.toml` in the current directory).
    @Option(name: .long, help: ArgumentHelp("The config file.", valueName: "path"))
    public var config: String = "jester.toml"

    /// `--profile`: overlay `<stem>.<profile>.toml` on the config.
    @Option(
        name: .long,
        help: ArgumentHelp(
            "A profile to overlay: with --profile prod, jester.toml is overlaid with jester.prod.toml.",
            valueName: "name"
        )
    )
    public var profile: String?

    public init() {}

    /// Loads the config, reading `${…}` from the process's environment. On problems, prints each as
    /// `FILE:LINE: KEY: message` on standard error and throws `ExitCode.failure`.
    public func load() throws -> GatewayConfig {
        do {
            return try loadOrThrow()
        } catch {
            Self.printErrors(error, file: config)
            throw ExitCode.failure
        }
    }

    /// Loads the config, throwing the ``ConfigError`` with every problem.
    func loadOrThrow(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> GatewayConfig {
        try ConfigLoader.load(file: config, profile: profile, environment: environment)
    }

    static func printErrors(_ error: ConfigError, file: String) {
        for issue in error.issues { Console.error(issue.description) }
        let count = error.issues.count
        Console.error("\(file): \(count) problem\(count == 1 ? "" : "s")")
    }

    static func json(_ error: ConfigError) -> JSONValue {
        .array(
            error.issues.map { issue in
                .object([
                    ("file", .string(issue.location.file)),
                    ("line", .integer(Int64(issue.location.line))),
                    ("key", .string(issue.key)),
                    ("message", .string(issue.message)),
                    ("fix", issue.fix.map { .string($0) } ?? .null),
                ])
            }
        )
    }
}

/// `jester config validate`
struct ConfigValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a config and everything it includes, reporting every problem with its file, line and key.",
        discussion: """
            Reads the config (jester.toml in the current directory unless --config says otherwise), the files \
            its include globs name and the profile overlay, interpolates ${ENV} and ${ENV:DEFAULT}, and checks \
            every key. Prints a one-line summary and exits 0 when the config is valid; otherwise prints every \
            problem as FILE:LINE: KEY: message on standard error and exits 1.

            Examples:
              jester config validate
              jester config validate --config examples/configs/api-gateway.toml --profile prod
              jester config validate --json
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON on standard output instead of text.")
    var json = false

    @Flag(name: .long, help: "Load `type = \"dylib\"` filters as `jester run --allow-unsafe-dylib` would (runs their native load code).")
    var allowUnsafeDylib = false

    @OptionGroup var data: DataDirectoryOptions

    func run() async throws {
        let config: GatewayConfig
        do {
            config = try options.loadOrThrow()
        } catch {
            if json {
                Console.out(
                    JSONValue.object([("valid", .bool(false)), ("errors", ConfigOptions.json(error))]).serialized(
                        pretty: true
                    )
                )
            } else {
                ConfigOptions.printErrors(error, file: options.config)
            }
            throw ExitCode.failure
        }
        // What only building the routes shows: filter names and configs against their schemas,
        // plugins that load, upstream TLS. Nothing is bound.
        let problems = await Self.routeProblems(config, allowUnsafeDylib: allowUnsafeDylib, trustStore: data.trustStore)
        guard problems.isEmpty else {
            if json {
                let errors = JSONValue.array(problems.map { .object([("message", .string($0))]) })
                Console.out(JSONValue.object([("valid", .bool(false)), ("errors", errors)]).serialized(pretty: true))
            } else {
                for problem in problems { Console.error(problem) }
                Console.error("\(options.config): \(problems.count) problem\(problems.count == 1 ? "" : "s")")
            }
            throw ExitCode.failure
        }
        if json {
            Console.out(
                JSONValue.object([
                    ("valid", .bool(true)),
                    ("files", .array(config.files.map { .string($0) })),
                    ("listeners", .array(config.listeners.map { .string($0.name) })),
                    ("routes", .array(config.routes.map { .string($0.name) })),
                    ("upstreams", .array(config.upstreams.map { .string($0.name) })),
                    ("errors", .array([])),
                ]).serialized(pretty: true)
            )
        } else {
            Console.out(
                "ok: \(count(config.listeners.count, "listener")), \(count(config.routes.count, "route")), "
                    + "\(count(config.upstreams.count, "upstream")) (\(config.files.joined(separator: ", ")))"
            )
        }
    }

    /// Every problem building the routes would meet, as `jester run` reports them; empty when
    /// they build. Loads the plugins the routes use, with a host that logs nothing, and checks
    /// their signatures against `trustStore` when the config requires signatures.
    static func routeProblems(_ config: GatewayConfig, allowUnsafeDylib: Bool, trustStore: any TrustStore) async -> [String] {
        let quiet = Logger(label: "jester.validate", factory: { _ in SwiftLogNoOpLogHandler() })
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let gateway = Gateway(config: config, logger: quiet, pluginHost: PluginHost(logger: quiet), eventLoopGroup: group, allowUnsafeDylib: allowUnsafeDylib, trustStore: trustStore)
        do {
            try await gateway.check()
            return []
        } catch let error as GatewayError {
            return error.problems
        } catch {
            return ["\(error)"]
        }
    }
}

/// `jester config lint`
struct ConfigLintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Look for dead routes, unused upstreams and risky settings in a valid config.",
        discussion: """
            Loads the config as validate does (and fails the same way on errors), then prints a warning \
            per finding as FILE:LINE: warning[ID]: message. Exits 0 unless --strict is given and there is a \
            warning (info findings do not count).

            Lints: \(ConfigLinter.rules.map(\.id).joined(separator: ", ")).

            Examples:
              jester config lint
              jester config lint --config jester.toml --profile prod --strict
              jester config lint --json
            """
    )

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON on standard output instead of text.")
    var json = false

    @Flag(help: "Exit 1 when there is any warning.")
    var strict = false

    func run() async throws {
        let config = try options.load()
        let findings = ConfigLinter.lint(config)
        let warnings = findings.filter { $0.severity == .warning }.count
        if json {
            Console.out(
                JSONValue.object([
                    ("files", .array(config.files.map { .string($0) })),
                    (
                        "warnings",
                        .array(
                            findings.map { finding in
                                .object([
                                    ("id", .string(finding.id)),
                                    ("severity", .string(finding.severity.rawValue)),
                                    ("file", .string(finding.location.file)),
                                    ("line", .integer(Int64(finding.location.line))),
                                    ("message", .string(finding.message)),
                                ])
                            }
                        )
                    ),
                ]).serialized(pretty: true)
            )
        } else {
            for finding in findings { Console.out(finding.description) }
            let infos = findings.count - warnings
            Console.out(findings.isEmpty ? "ok: no warnings" : "\(count(warnings, "warning")), \(count(infos, "info"))")
        }
        if strict, warnings > 0 { throw ExitCode.failure }
    }
}

/// `jester config schema`
struct ConfigSchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (draft 2020-12) of config files, for editors and CI.",
        discussion: """
            The schema describes one file as written (the main file, an included file or a profile), with a \
            description for every key; `jester config validate` checks what only the merged config shows.

            Example:
              jester config schema > jester.schema.json
            """
    )

    func run() async throws {
        FileHandle.standardOutput.write(Data(ConfigSchema.jsonSchema.utf8))
    }
}

private func count(_ number: Int, _ noun: String) -> String {
    "\(number) \(noun)\(number == 1 ? "" : "s")"
}
