//! Cryptographically secure randomness: the `random` interface. Needs the `random` permission
//! in the manifest and a grant from the host; without them every call returns
//! [`ErrorCode::PermissionDenied`].
//!
//! ```ignore
//! let mut id = [0u8; 16];
//! jester_pdk::random::fill(&mut id)?;
//! ```

use crate::abi::RetArea;
use crate::ErrorCode;

#[link(wasm_import_module = "jester:plugin/random@0.1.0")]
extern "C" {
    #[link_name = "get-bytes"]
    fn import_get_bytes(len: u32, ret: *mut u8);
}

/// The most bytes one host call returns.
pub const MAX_BYTES_PER_CALL: usize = 65536;

/// `len` random bytes; `len` may be at most [`MAX_BYTES_PER_CALL`] (more gives
/// [`ErrorCode::InvalidArgument`]).
pub fn bytes(len: usize) -> Result<Vec<u8>, ErrorCode> {
    if len > MAX_BYTES_PER_CALL {
        return Err(ErrorCode::InvalidArgument);
    }
    let mut area = RetArea::new();
    unsafe {
        import_get_bytes(len as u32, area.as_mut_ptr());
        area.result_bytes()
    }
}

/// Fills `buffer` with random bytes, in as many host calls as it takes.
pub fn fill(buffer: &mut [u8]) -> Result<(), ErrorCode> {
    for chunk in buffer.chunks_mut(MAX_BYTES_PER_CALL) {
        let random = bytes(chunk.len())?;
        if random.len() != chunk.len() {
            return Err(ErrorCode::Internal);
        }
        chunk.copy_from_slice(&random);
    }
    Ok(())
}

/// A random `u64`.
pub fn u64() -> Result<u64, ErrorCode> {
    let mut buffer = [0u8; 8];
    fill(&mut buffer)?;
    Ok(u64::from_le_bytes(buffer))
}
