//! api-key-auth: an API-key check in Rust, as a gateway filter. A request goes on only with one
//! of the configured keys, in the configured header (default x-api-key) or as
//! `Authorization: Bearer KEY`; otherwise the filter answers 401 and the upstream is never called.
//! The key is removed before the request goes upstream, and `x-api-key-index` says which key
//! matched.
//!
//!   jester plugin build && jester plugin test
//!
//! In a gateway config:
//!   [[routes.filters]]
//!   type = "wasm"
//!   plugin = "path/to/api-key-auth"
//!   config = { keys = "${API_KEYS}" }

use jester_pdk::{config, Action, Request, Response};

fn on_request(request: &Request, response: &Response) -> Action {
    let header = config::get("header").unwrap_or_else(|| "x-api-key".to_string());
    let presented = match request.header(&header) {
        Some(value) => value,
        None => match request.header("authorization").as_deref().and_then(bearer_token) {
            Some(token) => token.to_string(),
            None => {
                let reason = format!("no API key: send it in {}, or as Authorization: Bearer KEY", header);
                return unauthorized(response, &reason);
            }
        },
    };
    let keys = config::get("keys").unwrap_or_default();
    let index = keys
        .split(',')
        .filter(|key| !key.is_empty())
        .map(|key| key.trim_matches(' '))
        .position(|key| !presented.is_empty() && constant_time_equals(key.as_bytes(), presented.as_bytes()));
    let index = match index {
        Some(index) => index,
        None => {
            jester_pdk::info!("refused {} {}: unknown API key", request.method(), request.path());
            return unauthorized(response, "the API key is not valid");
        }
    };
    request.remove_header(&header);
    if request.header("authorization").as_deref().and_then(bearer_token).is_some() {
        request.remove_header("authorization");
    }
    request.set_header("x-api-key-index", &index.to_string());
    Action::Continue
}

fn unauthorized(response: &Response, reason: &str) -> Action {
    response.set_status(401);
    response.set_header("www-authenticate", "Bearer");
    response.set_header("content-type", "application/json");
    response.set_body(format!("{{\"error\":\"unauthorized\",\"reason\":\"{}\"}}\n", reason).as_bytes());
    Action::Respond
}

/// The token of an `Authorization: Bearer TOKEN` value.
fn bearer_token(value: &str) -> Option<&str> {
    let prefix = b"bearer ";
    let bytes = value.as_bytes();
    if bytes.len() <= prefix.len() {
        return None;
    }
    if bytes.iter().zip(prefix).any(|(byte, expected)| byte | 0x20 != *expected) {
        return None;
    }
    // The prefix matched ASCII bytes only, so the token starts on a character boundary.
    Some(value[prefix.len()..].trim_matches(' '))
}

/// Compares two keys in time that depends only on their lengths, not on where they differ.
fn constant_time_equals(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

jester_pdk::http_filter!(on_request = on_request);
