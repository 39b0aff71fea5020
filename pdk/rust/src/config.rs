//! The configuration of this use of the plugin: the `config` interface (a route's `config`
//! table, or `jester plugin call --config key=value`). Always allowed.
//!
//! Values that are strings in the route's config arrive as they are; any other JSON value
//! (number, boolean, array, object) arrives as its JSON text, so a TOML array
//! `fields = ["a", "b"]` reads as `["a","b"]`.
//!
//! ```ignore
//! let greeting = jester_pdk::config::get("greeting").unwrap_or_else(|| "Hello".to_string());
//! ```

use crate::abi::RetArea;

#[link(wasm_import_module = "jester:plugin/config@0.1.0")]
extern "C" {
    #[link_name = "get"]
    fn import_get(key: *const u8, key_len: usize, ret: *mut u8);
    #[link_name = "keys"]
    fn import_keys(ret: *mut u8);
}

/// The value of `key`, if it is set.
pub fn get(key: &str) -> Option<String> {
    let mut area = RetArea::new();
    unsafe {
        import_get(key.as_ptr(), key.len(), area.as_mut_ptr());
        area.option_string()
    }
}

/// Every key that is set, in no particular order.
pub fn keys() -> Vec<String> {
    let mut area = RetArea::new();
    unsafe {
        import_keys(area.as_mut_ptr());
        area.strings(0)
    }
}
