public import Foundation
#if canImport(Glibc)
import Glibc
#endif
public import JesterConfig
public import JesterGateway
public import JesterRuntime
import Logging

extension JesterFixtures {
    /// A loopback listener on a free port.
    public static func listener(
        name: String = "test", tls: TLSConfig? = nil, h2c: Bool = false, http: HTTPSettings = HTTPSettings()
    ) -> ListenerConfig {
        ListenerConfig(name: name, bind: BindAddress(host: "127.0.0.1", port: 0), tls: tls, h2c: h2c, http: http)
    }

    /// Starts a gateway serving `config` in this process; stop it with `shutdown()`.
    public static func startGateway(_ config: GatewayConfig, allowUnsafeDylib: Bool = false, trustStore: (any TrustStore)? = nil) async throws -> Gateway {
        let gateway = Gateway(config: config, logger: logger, accessLogger: logger, allowUnsafeDylib: allowUnsafeDylib, trustStore: trustStore)
        try await gateway.start()
        return gateway
    }

    /// Runs `curl` with the given arguments (`-s` is added), returning its status and output.
    public static func curl(_ arguments: [String], stdin: [UInt8] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try run("/usr/bin/curl", ["-s", "--max-time", "20"] + arguments, stdin: stdin)
    }

    /// A throwaway certificate authority and a `localhost` certificate it signed, made with
    /// `openssl` in a fresh directory: `ca.pem`, `cert.pem`, `key.pem`.
    public static func makeTestCertificates() throws -> (directory: String, ca: String, cert: String, key: String) {
        let directory = try temporaryDirectory("tls")
        let script = """
            set -e
            cd '\(directory)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=Jester Test CA' -keyout ca-key.pem -out ca.pem 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=localhost' -keyout key.pem -out req.pem 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
            openssl x509 -req -in req.pem -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile ext.cnf -out cert.pem 2>/dev/null
            """
        let result = try run("/bin/sh", ["-c", script])
        guard result.status == 0 else { throw CertificateError(description: "openssl failed: \(result.stderr)") }
        return (directory, directory + "/ca.pem", directory + "/cert.pem", directory + "/key.pem")
    }

    struct CertificateError: Error, CustomStringConvertible { let description: String }
}

/// A `jester` (or other) process running in the background, its output going to files.
public final class BackgroundProcess: @unchecked Sendable {  // the Process is only touched by the test that owns it
    public let process: Process
    public let stdoutPath: String
    public let stderrPath: String

    /// Starts `executable` with `arguments` and extra environment variables.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], currentDirectory: String? = nil) throws {
        let directory = try JesterFixtures.temporaryDirectory("proc")
        stdoutPath = directory + "/stdout"
        stderrPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    public var pid: Int32 { process.processIdentifier }

    /// Sends a signal (SIGHUP, SIGTERM, …).
    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to exit, up to `timeout` seconds; returns its status, or nil.
    public func wait(timeout: Double = 30) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits until `condition` holds for stderr (or stdout), up to `timeout` seconds.
    @discardableResult
    public func waitForOutput(timeout: Double = 30, _ condition: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(stderr + stdout) { return true }
            if !process.isRunning { return condition(stderr + stdout) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The peak resident memory of the process in bytes (VmHWM), while it runs.
    public var peakResidentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kilobytes * 1024
    }

    public func terminate() {
        if process.isRunning { process.terminate() }
    }

    deinit { terminate() }
}

extension JesterFixtures {
    /// A TCP port that was free a moment ago on 127.0.0.1.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopbackAddress(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
