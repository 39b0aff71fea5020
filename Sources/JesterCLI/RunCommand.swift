import ArgumentParser
import Foundation
import JesterConfig
import JesterGateway
import JesterRuntime
import Logging
import ServiceLifecycle
import UnixSignals

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the gateway.",
        discussion: """
            Serves the listeners and routes of the config until SIGTERM or SIGINT, then drains: stops accepting, lets in-flight requests finish (up to lifecycle.drain_timeout), and exits.

            SIGHUP (or `jester reload`) reloads the config; a broken config is refused and logged, and the running one keeps serving. The access log goes to stdout, everything else to stderr.

            With an [admin] table in the config, the admin API listens on its `listen` address: GET /status (what `jester status` shows), GET /healthz, and POST /reload, which reloads exactly as SIGHUP does and answers with the new generation or the config's errors (docs/admin.md).

            Examples:
              jester run --config examples/gateway/jester.toml
              jester run --config /etc/jester/jester.toml --profile prod --log-level info
              jester run --dry                      # print the resolved plan and exit
              jester run --config jester.toml --allow-unsafe-dylib   # let dylib filters load
              jester run --config jester.toml --require-signatures   # only plugins signed by trusted keys
            """
    )

    @OptionGroup var source: ConfigOptions

    @Flag(name: .long, help: "Print the resolved plan (listeners, routes in match order, upstreams) and exit.")
    var dry = false

    @Flag(name: .long, help: "Turn the access log off, whatever the config says.")
    var noAccessLog = false

    @Option(name: .long, help: "Write the process id here, for `jester reload` (default: lifecycle.pid_file).")
    var pidFile: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .notice

    @Flag(
        name: .long,
        help: "Let `type = \"dylib\"` filters load: native code that runs unsandboxed inside the gateway (also [plugins] allow_unsafe_dylib = true).")
    var allowUnsafeDylib = false

    @Flag(
        name: .long,
        help: "Load WASM plugins only when signed by a key in the trust store (also [plugins] require_signatures = true).")
    var requireSignatures = false

    @OptionGroup var data: DataDirectoryOptions

    func run() async throws {
        var config = try source.load()
        if requireSignatures { config.plugins.requireSignatures = true }
        if dry {
            Console.out(describePlan(config))
            return
        }
        if noAccessLog { config.accessLog.enabled = false }
        let logger = makeLogger(label: "jester", level: logLevel, output: .standardError)
        let accessLogger = makeLogger(label: "jester.access", level: .info, output: .standardOutput)
        let pluginHost = PluginHost(logger: makeLogger(label: "jester.plugins", level: logLevel, output: .standardError))
        let reloadSource = ReloadSource(
            file: source.config, profile: source.profile, noAccessLog: noAccessLog,
            requireSignatures: requireSignatures)
        let gateway = Gateway(
            config: config, logger: logger, accessLogger: accessLogger, pluginHost: pluginHost, allowUnsafeDylib: allowUnsafeDylib,
            trustStore: data.trustStore, reloadConfig: { try reloadSource.load() })
        do {
            try await gateway.start()
        } catch {
            Console.error("error: \(error)")
            await gateway.shutdown(drainTimeout: .zero)
            throw ExitCode(1)
        }

        let pidPath = pidFile ?? config.lifecycle.pidFile
        if let pidPath {
            do {
                try "\(getpid())\n".write(toFile: pidPath, atomically: true, encoding: .utf8)
            } catch {
                logger.warning("cannot write the pid file", metadata: ["path": .string(pidPath), "error": .string("\(error)")])
            }
        }
        defer { if let pidPath { try? FileManager.default.removeItem(atPath: pidPath) } }

        let reloader = ReloadOnSignal(gateway: gateway, source: reloadSource, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: gateway),
                    .init(service: reloader, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

/// How `jester run` reads its config again on a reload, by SIGHUP or by the admin API's
/// `POST /reload`: the same file and profile, the same command-line overrides.
struct ReloadSource: Sendable {
    let file: String
    let profile: String?
    let noAccessLog: Bool
    let requireSignatures: Bool

    func load() throws -> GatewayConfig {
        var config = try ConfigLoader.load(file: file, profile: profile)
        if noAccessLog { config.accessLog.enabled = false }
        if requireSignatures { config.plugins.requireSignatures = true }
        return config
    }
}

/// Reloads the config on SIGHUP. A config that fails to load or build is logged with every
/// error, and the running one keeps serving.
struct ReloadOnSignal: Service {
    let gateway: Gateway
    let source: ReloadSource
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: reloading the configuration", metadata: ["file": .string(source.file)])
            do {
                try await gateway.reload(try source.load())
            } catch {
                logger.error("reload refused; the running configuration keeps serving:\n\(error)")
            }
        }
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Reload a running gateway's config.",
        discussion: """
            Validates the config first and reports its errors here; when it is valid, sends SIGHUP to the gateway whose process id is in the pid file (--pid-file, or lifecycle.pid_file in the config). The gateway swaps the config atomically; requests in flight finish on the old routes.

            Examples:
              jester reload --config /etc/jester/jester.toml
              jester reload --pid-file /run/jester.pid
            """
    )

    @OptionGroup var source: ConfigOptions

    @Option(name: .long, help: "The pid file `jester run` wrote.")
    var pidFile: String?

    func run() throws {
        let config = try source.load()
        guard let path = pidFile ?? config.lifecycle.pidFile else {
            Console.error("error: no pid file: pass --pid-file, or set lifecycle.pid_file in \(source.config) and start the gateway with it")
            throw ExitCode(1)
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            Console.error("error: cannot read a process id from \(path); is the gateway running?")
            throw ExitCode(1)
        }
        guard kill(pid, SIGHUP) == 0 else {
            Console.error("error: cannot signal process \(pid) (from \(path)): \(String(cString: strerror(errno))); is the gateway running?")
            throw ExitCode(1)
        }
        Console.out("sent SIGHUP to \(pid): the gateway reloads \(source.config); its log reports the result")
    }
}

enum LogOutput { case standardOutput, standardError }

func makeLogger(label: String, level: Logger.Level, output: LogOutput) -> Logger {
    var logger = Logger(label: label) { label in
        var handler = output == .standardOutput ? StreamLogHandler.standardOutput(label: label) : StreamLogHandler.standardError(label: label)
        handler.logLevel = .trace
        return handler
    }
    logger.logLevel = level
    return logger
}
