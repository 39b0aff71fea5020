import Foundation
public import JesterConfig
public import JesterGateway
import Logging

extension JesterFixtures {
    /// A loopback listener on a free port.
    public static func listener(
        name: String = "test", tls: TLSConfig? = nil, h2c: Bool = false, http: HTTPSettings = HTTPSettings()
    ) -> ListenerConfig {
        ListenerConfig(name: name, bind: BindAddress(host: "127.0.0.1", port: 0), tls: tls, h2c: h2c, http: http)
    }

    /// Starts a gateway serving `config` in this process; stop it with `shutdown()`.
    public static func startGateway(_ config: GatewayConfig) async throws -> Gateway {
        let gateway = Gateway(config: config, logger: logger, accessLogger: logger)
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
