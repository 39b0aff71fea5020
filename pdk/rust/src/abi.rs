//! The canonical ABI on the guest side: `cabi_realloc`, return areas, and taking ownership of
//! the strings and lists the host allocated in guest memory (docs/abi.md).

use std::alloc::{self, Layout};

/// `cabi_realloc(old_ptr, old_size, align, new_size) -> ptr`: the allocator the host places
/// strings and lists through, over Rust's global allocator, so that a host-allocated string
/// becomes a `String` without a copy. Traps when memory runs out: the host must never receive
/// 0.
///
/// # Safety
///
/// Called by the host only, with `old_ptr` and `old_size` from an earlier answer (or 0, 0).
#[export_name = "cabi_realloc"]
pub unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_size: usize, align: usize, new_size: usize) -> *mut u8 {
    if new_size == 0 {
        if old_size != 0 {
            alloc::dealloc(old_ptr, Layout::from_size_align_unchecked(old_size, align));
        }
        return align as *mut u8;
    }
    let pointer = if old_size == 0 {
        alloc::alloc(Layout::from_size_align_unchecked(new_size, align))
    } else {
        alloc::realloc(old_ptr, Layout::from_size_align_unchecked(old_size, align), new_size)
    };
    if pointer.is_null() {
        core::arch::wasm32::unreachable();
    }
    pointer
}

/// A return area the host writes a result into: 16 bytes, 8-aligned, the largest any import
/// of `jester:plugin@0.1.0` needs.
#[repr(C, align(8))]
pub(crate) struct RetArea([u8; 16]);

impl RetArea {
    pub(crate) fn new() -> RetArea {
        RetArea([0; 16])
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr()
    }

    pub(crate) fn u8(&self, offset: usize) -> u8 {
        self.0[offset]
    }

    pub(crate) fn u32(&self, offset: usize) -> u32 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&self.0[offset..offset + 4]);
        u32::from_le_bytes(bytes)
    }

    pub(crate) fn u64(&self, offset: usize) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&self.0[offset..offset + 8]);
        u64::from_le_bytes(bytes)
    }

    /// A `string` or `list<u8>` at `offset` (pointer, then length): taken over.
    pub(crate) unsafe fn bytes(&self, offset: usize) -> Vec<u8> {
        take_bytes(self.u32(offset), self.u32(offset + 4))
    }

    pub(crate) unsafe fn string(&self, offset: usize) -> String {
        take_string(self.u32(offset), self.u32(offset + 4))
    }

    /// A `list<string>` at `offset` (pointer to `count` pairs, then `count`): taken over.
    pub(crate) unsafe fn strings(&self, offset: usize) -> Vec<String> {
        take_string_list(self.u32(offset), self.u32(offset + 4))
    }

    /// An `option<string>` whose discriminant is at 0 and string at 4.
    pub(crate) unsafe fn option_string(&self) -> Option<String> {
        if self.u8(0) == 0 {
            None
        } else {
            Some(self.string(4))
        }
    }

    /// A `result<list<u8>, error-code>` whose discriminant is at 0 and payload at 4.
    pub(crate) unsafe fn result_bytes(&self) -> Result<Vec<u8>, crate::ErrorCode> {
        if self.u8(0) == 0 {
            Ok(self.bytes(4))
        } else {
            Err(crate::ErrorCode::from_u8(self.u8(4)))
        }
    }
}

/// Takes over `len` bytes the host allocated with `cabi_realloc(0, 0, 1, len)`. An empty list
/// has a placeholder pointer that was never allocated; a `Vec` of capacity 0 never frees.
pub(crate) unsafe fn take_bytes(pointer: u32, len: u32) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    Vec::from_raw_parts(pointer as usize as *mut u8, len as usize, len as usize)
}

/// Takes over a host string; the host writes UTF-8, anything else is replaced, not trusted.
pub(crate) unsafe fn take_string(pointer: u32, len: u32) -> String {
    match String::from_utf8(take_bytes(pointer, len)) {
        Ok(string) => string,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// Takes over a `list<string>`: an array of `count` (pointer, length) pairs allocated with
/// `cabi_realloc(0, 0, 4, 8 * count)`, which is the layout of a `Vec<[u32; 2]>`.
pub(crate) unsafe fn take_string_list(pointer: u32, count: u32) -> Vec<String> {
    if count == 0 {
        return Vec::new();
    }
    let pairs: Vec<[u32; 2]> = Vec::from_raw_parts(pointer as usize as *mut [u32; 2], count as usize, count as usize);
    pairs.iter().map(|pair| take_string(pair[0], pair[1])).collect()
}
