//! Logging to the host's logger, tagged with the plugin id: the `log` interface. Always
//! allowed; the host cuts a message at 8 KiB and keeps at most 1000 messages a call.
//!
//! ```ignore
//! jester_pdk::log::info("ready");
//! jester_pdk::info!("{} fields redacted", count);
//! ```

/// A log level: the WIT `log.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the plugin handled.
    Warn,
    /// A failure.
    Error,
}

#[link(wasm_import_module = "jester:plugin/log@0.1.0")]
extern "C" {
    #[link_name = "write"]
    fn import_write(level: i32, message: *const u8, len: usize);
}

/// Writes one log message at `level`.
pub fn write(level: Level, message: &str) {
    let level = match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    };
    unsafe { import_write(level, message.as_ptr(), message.len()) }
}

/// Logs `message` at trace level.
pub fn trace(message: &str) {
    write(Level::Trace, message)
}

/// Logs `message` at debug level.
pub fn debug(message: &str) {
    write(Level::Debug, message)
}

/// Logs `message` at info level.
pub fn info(message: &str) {
    write(Level::Info, message)
}

/// Logs `message` at warn level.
pub fn warn(message: &str) {
    write(Level::Warn, message)
}

/// Logs `message` at error level.
pub fn error(message: &str) {
    write(Level::Error, message)
}
