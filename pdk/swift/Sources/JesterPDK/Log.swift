/// The severity of a log message: the `level` enum of `jester:plugin/log`.
public enum LogLevel: Int32 {
    case trace = 0
    case debug = 1
    case info = 2
    case warn = 3
    case error = 4
}

/// Logging to the host's logger, tagged with the plugin id. Always allowed.
///
/// The host caps a message at 8 KiB and a call at 1000 messages.
///
/// ```swift
/// Log.info("greeting \(name)")
/// ```
///
/// `print` also works: each line becomes one `info` message.
public enum Log {
    /// Writes one message at `level`.
    public static func write(_ level: LogLevel, _ message: String) {
        ABI.withUTF8(message) { address, count in
            _jesterLogWrite(level.rawValue, address, count)
        }
    }

    /// Writes a `trace` message.
    public static func trace(_ message: String) { write(.trace, message) }
    /// Writes a `debug` message.
    public static func debug(_ message: String) { write(.debug, message) }
    /// Writes an `info` message.
    public static func info(_ message: String) { write(.info, message) }
    /// Writes a `warn` message.
    public static func warn(_ message: String) { write(.warn, message) }
    /// Writes an `error` message.
    public static func error(_ message: String) { write(.error, message) }
}
