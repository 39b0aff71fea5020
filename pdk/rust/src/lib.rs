//! The Jester plugin development kit for Rust: the guest side of `wit/jester.wit` (package
//! `jester:plugin@0.1.0`) for core WebAssembly modules built for `wasm32-unknown-unknown`.
//!
//! A plugin is a `cdylib` crate that implements one or both worlds with plain functions and
//! names them with a macro, which defines the exports with their canonical-ABI signatures:
//!
//! ```ignore
//! use jester_pdk::{config, log};
//!
//! fn greet(input: Vec<u8>) -> Result<String, String> {
//!     if input.is_empty() {
//!         return Err("empty input: pass --input NAME".to_string());
//!     }
//!     let name = String::from_utf8_lossy(&input);
//!     let greeting = config::get("greeting").unwrap_or_else(|| "Hello".to_string());
//!     log::info(&format!("greeting {}", name));
//!     Ok(format!("{}, {}!", greeting, name))
//! }
//!
//! jester_pdk::handler!(greet);
//! ```
//!
//! | world / interface | in this crate |
//! | ----------------- | ------------- |
//! | `handler` world: `handle` | [`handler!`] |
//! | `http-filter` world: `on-request`, `on-response`, `on-request-body`, `on-response-body` | [`http_filter!`], [`Request`], [`Response`], [`Action`] |
//! | lifecycle exports `init`, `health`, `shutdown` | [`lifecycle!`], [`HealthStatus`] |
//! | `log` | [`log`] and the [`info!`] family of macros |
//! | `clock`, `random`, `config` | [`clock`], [`random`], [`config`] |
//! | `types.error-code` | [`ErrorCode`] |
//!
//! The crate also defines `cabi_realloc`, the allocator export the host places strings and
//! lists through; it allocates with Rust's global allocator (std's, on `wasm32-unknown-unknown`).
//!
//! Host calls never trap for want of a permission: [`clock`] and [`random`] return
//! [`ErrorCode::PermissionDenied`] unless the manifest asks for the permission and the host
//! grants it. A panic traps the instance (the host throws it away and fails the call); the
//! message is logged at error level first.
//!
//! The crate needs Rust 1.63 or later, and nothing but `std`.

#![warn(missing_docs)]

mod abi;
pub mod clock;
pub mod config;
mod exports;
pub mod http;
pub mod log;
pub mod random;

pub use http::{Action, Request, Response};

use std::fmt;

/// Why a host call failed: the WIT `error-code` of the `types` interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The manifest did not ask for this capability, or the host did not grant it.
    PermissionDenied,
    /// An argument was out of range (for example more than 65536 random bytes).
    InvalidArgument,
    /// The thing asked for does not exist.
    NotFound,
    /// A quota or size limit of the plugin was reached (a body over `max_body_bytes`).
    LimitExceeded,
    /// The host does not offer this capability right now (a body that was not buffered).
    Unavailable,
    /// The host failed; the message is in the host's log.
    Internal,
}

impl ErrorCode {
    /// The code for the `u8` the host wrote; values the ABI does not define are `Internal`.
    pub(crate) fn from_u8(value: u8) -> ErrorCode {
        match value {
            0 => ErrorCode::PermissionDenied,
            1 => ErrorCode::InvalidArgument,
            2 => ErrorCode::NotFound,
            3 => ErrorCode::LimitExceeded,
            4 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        }
    }

    /// The WIT name of the code (`permission-denied`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::PermissionDenied => "permission-denied",
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::NotFound => "not-found",
            ErrorCode::LimitExceeded => "limit-exceeded",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for ErrorCode {}

/// What `health` reports: the WIT `health-status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HealthStatus {
    /// Working normally.
    Healthy,
    /// Working, but not well (a dependency is slow, a cache is cold).
    Degraded,
    /// Not working; the host may take the plugin out of service.
    Unhealthy,
}

/// Defines the `handler` world's `handle` export (and `cabi_post_handle`) around a function
/// `fn(Vec<u8>) -> Result<O, E>`, where `O` converts into bytes (`Vec<u8>`, `String`,
/// `&'static str`, ...) and `E` is anything `Display` (`String`, `&str`, your error type).
///
/// The input is the call's bytes, yours to keep or drop. `Ok` is the output; `Err` fails the
/// call with the error's text and leaves the instance in service; a panic fails the call and
/// the host throws the instance away.
///
/// ```ignore
/// fn echo(input: Vec<u8>) -> Result<Vec<u8>, String> {
///     Ok(input)
/// }
/// jester_pdk::handler!(echo);
/// ```
#[macro_export]
macro_rules! handler {
    ($handle:path $(,)?) => {
        #[export_name = "handle"]
        unsafe extern "C" fn __jester_export_handle(input: *mut u8, len: usize) -> *mut u8 {
            $crate::__private::handle(input, len, $handle)
        }

        #[export_name = "cabi_post_handle"]
        unsafe extern "C" fn __jester_export_post_handle(area: *mut u8) {
            $crate::__private::post_handle(area)
        }
    };
}

/// Defines the `http-filter` world's exports: `on_request = f` defines `on-request`,
/// `on_response = g` defines `on-response`; give one or both. Each hook is a
/// `fn(&Request, &Response) -> Action`.
///
/// ```ignore
/// use jester_pdk::{Action, Request, Response};
///
/// fn on_request(request: &Request, response: &Response) -> Action {
///     if request.header("x-api-key").is_none() {
///         response.set_status(401);
///         response.set_body(b"no key\n");
///         return Action::Respond;
///     }
///     request.set_header("x-plugin", "auth");
///     Action::Continue
/// }
///
/// jester_pdk::http_filter!(on_request = on_request);
/// ```
///
/// The body hooks edit bodies as they stream, chunk by chunk, without buffering them:
///
/// - `on_request_body = f` defines `on-request-body`, with
///   `f: fn(&Request, Vec<u8>, bool) -> Option<Vec<u8>>`: called with each chunk of the request
///   body on its way to the upstream, then once with `end` true (and usually an empty chunk);
/// - `on_response_body = g` defines `on-response-body`, with
///   `g: fn(&Request, &Response, Vec<u8>, bool) -> Option<Vec<u8>>`, for the response body on
///   its way to the client.
///
/// The chunk is yours (the host's bytes, taken over without a copy). Return `None` to forward
/// it unchanged, or `Some(bytes)` to forward other bytes instead: the chunk itself edited in
/// place, fewer bytes (hold some back for the next call), or none. The request and response
/// are readable in a body hook, not editable: their heads went on already. A body the
/// manifest buffers (`http_filter.buffer_*_body`) never reaches its body hook.
///
/// ```ignore
/// fn shout(_request: &Request, _response: &Response, mut chunk: Vec<u8>, _end: bool) -> Option<Vec<u8>> {
///     chunk.make_ascii_uppercase();
///     Some(chunk)
/// }
/// jester_pdk::http_filter!(on_response_body = shout);
/// ```
#[macro_export]
macro_rules! http_filter {
    ($($hook:ident = $function:path),+ $(,)?) => {
        $($crate::__http_filter_hook!($hook, $function);)+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __http_filter_hook {
    (on_request, $function:path) => {
        #[export_name = "on-request"]
        unsafe extern "C" fn __jester_export_on_request(request: u32, response: u32) -> u32 {
            $crate::__private::filter_hook(request, response, $function)
        }
    };
    (on_response, $function:path) => {
        #[export_name = "on-response"]
        unsafe extern "C" fn __jester_export_on_response(request: u32, response: u32) -> u32 {
            $crate::__private::filter_hook(request, response, $function)
        }
    };
    (on_request_body, $function:path) => {
        #[export_name = "on-request-body"]
        unsafe extern "C" fn __jester_export_on_request_body(request: u32, chunk: *mut u8, len: usize, end: u32) -> *mut u8 {
            $crate::__private::request_body(request, chunk, len, end, $function)
        }

        #[export_name = "cabi_post_on-request-body"]
        unsafe extern "C" fn __jester_export_post_on_request_body(area: *mut u8) {
            $crate::__private::post_request_body(area)
        }
    };
    (on_response_body, $function:path) => {
        #[export_name = "on-response-body"]
        unsafe extern "C" fn __jester_export_on_response_body(
            request: u32,
            response: u32,
            chunk: *mut u8,
            len: usize,
            end: u32,
        ) -> *mut u8 {
            $crate::__private::response_body(request, response, chunk, len, end, $function)
        }

        #[export_name = "cabi_post_on-response-body"]
        unsafe extern "C" fn __jester_export_post_on_response_body(area: *mut u8) {
            $crate::__private::post_response_body(area)
        }
    };
    ($other:ident, $function:path) => {
        compile_error!(concat!(
            "jester_pdk::http_filter! has no hook `",
            stringify!($other),
            "`: use on_request, on_response, on_request_body and/or on_response_body"
        ));
    };
}

/// Defines the lifecycle exports every world shares; give any of them:
///
/// - `init = f` with `fn() -> Result<(), E>` (`E: Display`): called once on every new
///   instance before its first call; an error fails the instance with its text.
/// - `health = f` with `fn() -> HealthStatus`: asked by the host's health checks.
/// - `shutdown = f` with `fn()`: called before an instance is thrown away.
///
/// ```ignore
/// fn init() -> Result<(), String> {
///     jester_pdk::config::get("upstream").map(|_| ()).ok_or_else(|| "config upstream is not set".to_string())
/// }
/// jester_pdk::lifecycle!(init = init);
/// ```
#[macro_export]
macro_rules! lifecycle {
    ($($hook:ident = $function:path),+ $(,)?) => {
        $($crate::__lifecycle_hook!($hook, $function);)+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lifecycle_hook {
    (init, $function:path) => {
        #[export_name = "init"]
        unsafe extern "C" fn __jester_export_init() -> *mut u8 {
            $crate::__private::init($function)
        }

        #[export_name = "cabi_post_init"]
        unsafe extern "C" fn __jester_export_post_init(area: *mut u8) {
            $crate::__private::post_init(area)
        }
    };
    (health, $function:path) => {
        #[export_name = "health"]
        unsafe extern "C" fn __jester_export_health() -> u32 {
            $crate::__private::health($function)
        }
    };
    (shutdown, $function:path) => {
        #[export_name = "shutdown"]
        unsafe extern "C" fn __jester_export_shutdown() {
            $crate::__private::shutdown($function)
        }
    };
    ($other:ident, $function:path) => {
        compile_error!(concat!(
            "jester_pdk::lifecycle! has no hook `",
            stringify!($other),
            "`: use init, health and/or shutdown"
        ));
    };
}

/// Logs a formatted message at info level: `jester_pdk::info!("greeting {}", name)`.
#[macro_export]
macro_rules! info {
    ($($argument:tt)*) => { $crate::log::write($crate::log::Level::Info, &::std::format!($($argument)*)) };
}

/// Logs a formatted message at warn level.
#[macro_export]
macro_rules! warn {
    ($($argument:tt)*) => { $crate::log::write($crate::log::Level::Warn, &::std::format!($($argument)*)) };
}

/// Logs a formatted message at error level.
#[macro_export]
macro_rules! error {
    ($($argument:tt)*) => { $crate::log::write($crate::log::Level::Error, &::std::format!($($argument)*)) };
}

/// Logs a formatted message at debug level.
#[macro_export]
macro_rules! debug {
    ($($argument:tt)*) => { $crate::log::write($crate::log::Level::Debug, &::std::format!($($argument)*)) };
}

/// Logs a formatted message at trace level.
#[macro_export]
macro_rules! trace {
    ($($argument:tt)*) => { $crate::log::write($crate::log::Level::Trace, &::std::format!($($argument)*)) };
}

/// What the macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::exports::{
        filter_hook, handle, health, init, post_handle, post_init, post_request_body, post_response_body, request_body, response_body, shutdown,
    };
}
