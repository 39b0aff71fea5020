//! Clocks: the `clock` interface. Needs the `clock` permission in the manifest
//! (`"permissions": {"clock": true}`) and a grant from the host; without them every call
//! returns [`ErrorCode::PermissionDenied`]. (`std::time::SystemTime::now()` does not work on
//! `wasm32-unknown-unknown`; use these.)
//!
//! ```ignore
//! let started = jester_pdk::clock::monotonic_now()?;
//! // ...
//! let took = jester_pdk::clock::monotonic_now()? - started;
//! ```

use crate::abi::RetArea;
use crate::ErrorCode;
use std::time::Duration;

#[link(wasm_import_module = "jester:plugin/clock@0.1.0")]
extern "C" {
    #[link_name = "wall-now"]
    fn import_wall_now(ret: *mut u8);
    #[link_name = "monotonic-now"]
    fn import_monotonic_now(ret: *mut u8);
}

/// Reads a `result<u64, error-code>`: discriminant at 0, payload at 8.
fn read(import: unsafe extern "C" fn(*mut u8)) -> Result<Duration, ErrorCode> {
    let mut area = RetArea::new();
    unsafe { import(area.as_mut_ptr()) };
    if area.u8(0) == 0 {
        Ok(Duration::from_nanos(area.u64(8)))
    } else {
        Err(ErrorCode::from_u8(area.u8(8)))
    }
}

/// Wall-clock time since the Unix epoch, with nanosecond resolution.
pub fn wall_now() -> Result<Duration, ErrorCode> {
    read(import_wall_now)
}

/// A monotonic clock from an arbitrary start; only differences between two readings mean
/// anything.
pub fn monotonic_now() -> Result<Duration, ErrorCode> {
    read(import_monotonic_now)
}
