public import JesterManifest
public import Logging
import JesterRuntime
import Foundation
import JesterToolchain
import WAT

/// Helpers for tests and embedders: WAT fixtures, example plugins built from source, and the
/// `jester` executable.
public enum JesterFixtures {
    /// Assembles WebAssembly text into a binary module. Traps on a WAT syntax error, naming it.
    public static func wasm(_ wat: String) -> [UInt8] {
        do {
            return try wat2wasm(wat)
        } catch {
            fatalError("invalid WAT fixture: \(error)\n\(wat)")
        }
    }

    /// A logger for tests: warnings and errors only, so plugin log lines do not flood the output.
    public static var logger: Logger {
        var logger = Logger(label: "jester.test")
        logger.logLevel = .warning
        return logger
    }

    /// A manifest for a fixture, with the given limits and permissions.
    public static func manifest(
        id: String = "fixture", exports: [ExportDeclaration] = [], permissions: Permissions = .none,
        limits: ResourceLimits = ResourceLimits(timeout: .seconds(5))
    ) -> PluginManifest {
        PluginManifest(id: id, exports: exports, permissions: permissions, limits: limits)
    }

    /// The repository root (the directory holding Package.swift), found from this source file.
    public static var repositoryRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// The `jester` executable built next to the test bundle.
    public static var jesterExecutable: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("jester").path,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("jester").path,
            repositoryRoot + "/.build/debug/jester",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    /// Builds an Embedded Swift plugin (its `.swift` files plus the Swift PDK, with the PDK's
    /// file for each of `exports` it implements) into `output`.
    public static func buildSwiftPlugin(directory: String, exports: [String], output: String) throws -> [UInt8] {
        let sources = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".swift") }.sorted().map { directory + "/" + $0 }
        let pdk = GuestToolchain.swiftPDKSources(root: repositoryRoot, exports: exports)
        let toolchain = try GuestToolchain()
        _ = try toolchain.buildEmbeddedSwift(sources: pdk + sources, output: output, exports: exports, optimize: true)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
    }

    /// A fresh temporary directory, removed by the caller when done.
    public static func temporaryDirectory(_ name: String = "jester") throws -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs a command and returns its exit status, stdout and stderr.
    public static func run(
        _ executable: String, _ arguments: [String], stdin: [UInt8] = [], currentDirectory: String? = nil, environment: [String: String] = [:]
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(stdin))
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}
