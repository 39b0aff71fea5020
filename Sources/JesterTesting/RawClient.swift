import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client for sending exact bytes (malformed requests, pipelining, slowloris).
public final class RawClient {
    private let fd: Int32

    /// Connects to 127.0.0.1:port.
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopbackAddress(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads until the peer closes or `timeout` passes; returns what arrived.
    public func readAll(timeout: Double = 5) -> String {
        String(decoding: readBytes(until: { _ in false }, timeout: timeout), as: UTF8.self)
    }

    /// Reads until `predicate` holds for what arrived, the peer closes, or `timeout` passes.
    public func read(until predicate: (String) -> Bool, timeout: Double = 5) -> String {
        String(decoding: readBytes(until: { predicate(String(decoding: $0, as: UTF8.self)) }, timeout: timeout), as: UTF8.self)
    }

    /// Whether the peer closed the connection (reads EOF within `timeout`).
    public var closedByPeer: Bool { peerClosed }
    private var peerClosed = false

    private func readBytes(until predicate: ([UInt8]) -> Bool, timeout: Double) -> [UInt8] {
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&pfd, 1, remaining) > 0 else { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                peerClosed = true
                break
            }
            received += buffer[0..<n]
            if predicate(received) { break }
        }
        return received
    }
}

/// `127.0.0.1:port` as a socket address.
func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
