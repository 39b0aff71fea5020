import JesterManifest
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The capabilities of `wit/jester.wit` that every host offers: `log`, `clock`, `random`, `config`, `http`.
enum BuiltinCapabilities {
    static let packageVersion = "0.1.0"
    static func module(_ interface: String) -> String { "jester:plugin/\(interface)@\(packageVersion)" }

    static let all: [any HostCapability] = [LogCapability(), ClockCapability(), RandomCapability(), ConfigCapability(), HTTPCapability()]
}

/// `jester:plugin/log`: always granted; writes to the host's logger with the plugin id and keeps
/// a copy in the call's result. A message is cut at 8 KiB and a call keeps at most 1000 messages.
struct LogCapability: HostCapability {
    let name = "log"
    static let maxMessageBytes: UInt32 = 8 << 10

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { true }

    var functions: [HostFunction] {
        [
            HostFunction(module: BuiltinCapabilities.module("log"), name: "write", parameters: [.i32, .i32, .i32]) { call in
                let level = PluginLogEntry.Level(canonical: call.i32(0))
                let length = call.i32(2)
                try call.memory.check(at: call.i32(1), count: length)
                var message = try call.memory.readString(at: call.i32(1), count: min(length, Self.maxMessageBytes))
                if length > Self.maxMessageBytes { message += " [truncated from \(length) bytes]" }
                call.instance.record(PluginLogEntry(level: level, source: .log, message: message))
            }
        ]
    }
}

/// `jester:plugin/clock`: needs the `clock` permission.
struct ClockCapability: HostCapability {
    let name = "clock"

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { requested.clock && granted.clock }

    var functions: [HostFunction] {
        let denied = HostFunction.Denial.canonicalError(retptrParameter: 0, payloadOffset: 8)
        return [
            HostFunction(module: BuiltinCapabilities.module("clock"), name: "wall-now", parameters: [.i32], whenDenied: denied) { call in
                try Self.writeOK(Self.now(CLOCK_REALTIME), call: call)
            },
            HostFunction(module: BuiltinCapabilities.module("clock"), name: "monotonic-now", parameters: [.i32], whenDenied: denied) { call in
                try Self.writeOK(Self.now(CLOCK_MONOTONIC), call: call)
            },
        ]
    }

    static func now(_ clock: clockid_t) -> UInt64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// `result<u64, error-code>` ok: discriminant 0 at +0, the value at +8.
    static func writeOK(_ value: UInt64, call: borrowing HostCall) throws {
        let retptr = call.i32(0)
        try call.memory.withMutableBytes(at: retptr, count: 16) { buffer in
            buffer[0] = 0
            buffer.storeBytes(of: value.littleEndian, toByteOffset: 8, as: UInt64.self)
        }
    }
}

/// `jester:plugin/random`: needs the `random` permission. At most 64 KiB per call.
struct RandomCapability: HostCapability {
    let name = "random"
    static let maxBytes: UInt32 = 65536

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { requested.random && granted.random }

    var functions: [HostFunction] {
        [
            HostFunction(
                module: BuiltinCapabilities.module("random"), name: "get-bytes", parameters: [.i32, .i32],
                whenDenied: .canonicalError(retptrParameter: 1, payloadOffset: 4)
            ) { call in
                let count = call.i32(0)
                let retptr = call.i32(1)
                try call.memory.check(at: retptr, count: 12)
                guard count <= Self.maxBytes else {
                    try call.memory.storeUInt8(1, at: retptr)
                    try call.memory.storeUInt8(CanonicalErrorCode.invalidArgument.rawValue, at: retptr + 4)
                    return
                }
                var generator = SystemRandomNumberGenerator()
                var bytes = [UInt8](repeating: 0, count: Int(count))
                for index in stride(from: 0, to: bytes.count, by: 8) {
                    let word = generator.next()
                    for offset in 0..<min(8, bytes.count - index) {
                        bytes[index + offset] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(offset)))
                    }
                }
                let pointer = try call.allocateAndWrite(bytes)
                try call.memory.withMutableBytes(at: retptr, count: 12) { buffer in
                    buffer[0] = 0
                    buffer.storeBytes(of: pointer.littleEndian, toByteOffset: 4, as: UInt32.self)
                    buffer.storeBytes(of: count.littleEndian, toByteOffset: 8, as: UInt32.self)
                }
            }
        ]
    }
}

/// `jester:plugin/config`: always granted; the plugin's configuration for this use.
struct ConfigCapability: HostCapability {
    let name = "config"
    static let maxKeyBytes: UInt32 = 4096

    func isGranted(requested: Permissions, granted: PluginGrants) -> Bool { true }

    var functions: [HostFunction] {
        [
            HostFunction(module: BuiltinCapabilities.module("config"), name: "get", parameters: [.i32, .i32, .i32]) { call in
                let retptr = call.i32(2)
                try call.memory.check(at: retptr, count: 12)
                let keyLength = call.i32(1)
                try call.memory.check(at: call.i32(0), count: keyLength)
                let key = try call.memory.readString(at: call.i32(0), count: min(keyLength, Self.maxKeyBytes))
                guard keyLength <= Self.maxKeyBytes, let value = call.config[key] else {
                    try call.memory.storeUInt8(0, at: retptr)
                    return
                }
                let utf8 = Array(value.utf8)
                let pointer = try call.allocateAndWrite(utf8)
                try call.memory.withMutableBytes(at: retptr, count: 12) { buffer in
                    buffer[0] = 1
                    buffer.storeBytes(of: pointer.littleEndian, toByteOffset: 4, as: UInt32.self)
                    buffer.storeBytes(of: UInt32(utf8.count).littleEndian, toByteOffset: 8, as: UInt32.self)
                }
            },
            HostFunction(module: BuiltinCapabilities.module("config"), name: "keys", parameters: [.i32]) { call in
                let retptr = call.i32(0)
                try call.memory.check(at: retptr, count: 8)
                let keys = call.config.keys.sorted()
                var pairs: [UInt8] = []
                pairs.reserveCapacity(keys.count * 8)
                for key in keys {
                    let utf8 = Array(key.utf8)
                    let pointer = try call.allocateAndWrite(utf8)
                    withUnsafeBytes(of: pointer.littleEndian) { pairs.append(contentsOf: $0) }
                    withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { pairs.append(contentsOf: $0) }
                }
                let array = try call.allocateAndWrite(pairs, alignment: 4)
                try call.memory.storeUInt32(array, at: retptr)
                try call.memory.storeUInt32(UInt32(keys.count), at: retptr + 4)
            },
        ]
    }
}
