import Foundation
import JesterConfig
import JesterGateway
import Logging

/// Serves a gateway config in this process until killed, for `gateway/callgrind.py`.
///
/// `jester run` cannot run under valgrind 3.19: its async main ends in libdispatch's
/// `sigsuspend`, which valgrind cannot follow. This one runs on ``runBlocking()``'s task instead,
/// with the same `Gateway` that `jester run` starts (dylib filters allowed, access log off).
func serveGateway(configFile: String) async throws {
    var config = try ConfigLoader.load(file: configFile)
    config.accessLog.enabled = false
    var logger = Logger(label: "jester-bench.gateway")
    logger.logLevel = .error
    let gateway = Gateway(config: config, logger: logger, allowUnsafeDylib: true)
    try await gateway.start()
    FileHandle.standardOutput.write(Data("serving \(configFile)\n".utf8))
    while true { try await Task.sleep(for: .seconds(3600)) }
}
