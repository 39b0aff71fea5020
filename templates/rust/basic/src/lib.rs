//! my-plugin: a Jester plugin in Rust. `handle` gets bytes and returns bytes.
//!
//!   jester plugin build                      # writes my-plugin.wasm and its hash into plugin.json
//!   jester plugin test                       # runs the cases in tests.json
//!   jester plugin call . --input World       # Hello, World!
//!
//! The PDK (pdk/rust, the crate `jester_pdk`) gives you `config`, `log`, `clock` and `random`;
//! see its README. It builds with Rust 1.63 and later.

use jester_pdk::config;

fn handle(input: Vec<u8>) -> Result<String, String> {
    if input.is_empty() {
        return Err("no input: pass a name, as in --input World".to_string());
    }
    let name = String::from_utf8_lossy(&input);
    let greeting = config::get("greeting").unwrap_or_else(|| "Hello".to_string());
    jester_pdk::debug!("greeting {}", name);
    Ok(format!("{}, {}!", greeting, name))
}

jester_pdk::handler!(handle);
