//! my-handler: answers a gateway route in Rust. The gateway passes the request body as the input
//! and sends the output back as the response body.
//!
//!   jester plugin build && jester plugin test
//!   jester plugin call . --input 'one two three'     # {"bytes":13,"words":3,"lines":0}
//!
//! In a gateway config:
//!   [[routes]]
//!   name = "count"
//!   matchers = { path_prefix = "/count" }
//!   handler = { plugin = "path/to/my-handler", headers = { "content-type" = "application/json" } }

use jester_pdk::config;

fn handle(input: Vec<u8>) -> Result<String, String> {
    // A 32-bit integer, as a plugin's Int is in Embedded Swift on wasm32.
    let limit = config::get("max_bytes").and_then(|text| text.parse::<i32>().ok()).unwrap_or(65536);
    if input.len() as i64 > i64::from(limit) {
        return Err(format!("the body is {} bytes, more than max_bytes ({})", input.len(), limit));
    }
    let mut words = 0;
    let mut lines = 0;
    let mut in_word = false;
    for &byte in &input {
        let is_space = byte == b' ' || byte == b'\t' || byte == b'\n' || byte == b'\r';
        if byte == b'\n' {
            lines += 1;
        }
        if !is_space && !in_word {
            words += 1;
        }
        in_word = !is_space;
    }
    jester_pdk::debug!("counted {} words in {} bytes", words, input.len());
    Ok(format!("{{\"bytes\":{},\"words\":{},\"lines\":{}}}", input.len(), words, lines))
}

jester_pdk::handler!(handle);
