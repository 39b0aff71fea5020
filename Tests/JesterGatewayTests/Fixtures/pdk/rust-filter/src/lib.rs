//! An http filter in Rust over pdk/rust, for Tests/JesterGatewayTests/PDKFilterTests.swift. It
//! does what the C fixture (c-filter/filter.c) does:
//!
//! - on-request: a request with `x-deny` is answered 403 with `x-denied-by: TAG` and the body
//!   `denied by TAG\n`; otherwise it sets `x-pdk-filter: TAG`, `x-pdk-request: METHOD PATH?QUERY`,
//!   `x-pdk-multi` (every `x-multi` value joined with `,`), `x-pdk-random` (32 hex digits or the
//!   error code), removes `x-secret` and logs `on-request PATH`.
//! - on-response: sets `x-pdk-status`, `x-pdk-clock` (`ok` or the error code) and `x-pdk-names`
//!   (the number of response headers), and appends `[filtered by TAG]` to the buffered body.
//! - on-request-body: upper-cases the request body as it streams; the end call appends
//!   `[end TAG]`.
//! - on-response-body: panics; the manifest buffers response bodies, so it is never called.
//!
//! TAG is the config value `tag`, default `rust`.

use jester_pdk::{clock, config, random, Action, Request, Response};

fn tag() -> String {
    config::get("tag").unwrap_or_else(|| "rust".to_string())
}

fn on_request(request: &Request, response: &Response) -> Action {
    let tag = tag();
    if request.header("x-deny").is_some() {
        response.set_status(403);
        response.set_header("x-denied-by", &tag);
        response.set_body(format!("denied by {}\n", tag).as_bytes());
        return Action::Respond;
    }
    request.set_header("x-pdk-filter", &tag);
    let path = request.path();
    let query = request.query();
    let line = if query.is_empty() {
        format!("{} {}", request.method(), path)
    } else {
        format!("{} {}?{}", request.method(), path, query)
    };
    request.set_header("x-pdk-request", &line);
    let multi = request.header_values("x-multi");
    if !multi.is_empty() {
        request.set_header("x-pdk-multi", &multi.join(","));
    }
    let random = match random::bytes(16) {
        Ok(bytes) => bytes.iter().map(|byte| format!("{:02x}", byte)).collect(),
        Err(error) => error.to_string(),
    };
    request.set_header("x-pdk-random", &random);
    request.remove_header("x-secret");
    jester_pdk::info!("on-request {}", path);
    Action::Continue
}

fn on_response(_request: &Request, response: &Response) -> Action {
    response.set_header("x-pdk-status", &response.status().to_string());
    let clock = match clock::wall_now() {
        Ok(_) => "ok".to_string(),
        Err(error) => error.to_string(),
    };
    response.set_header("x-pdk-clock", &clock);
    response.set_header("x-pdk-names", &response.header_names().len().to_string());
    if let Ok(mut body) = response.body() {
        body.extend_from_slice(format!("[filtered by {}]", tag()).as_bytes());
        response.set_body(&body);
    }
    Action::Continue
}

fn on_request_body(_request: &Request, mut chunk: Vec<u8>, end: bool) -> Option<Vec<u8>> {
    if end {
        return Some(format!("[end {}]", tag()).into_bytes());
    }
    chunk.make_ascii_uppercase();
    Some(chunk)
}

fn on_response_body(_request: &Request, _response: &Response, _chunk: Vec<u8>, _end: bool) -> Option<Vec<u8>> {
    panic!("on-response-body runs only for a response body the manifest does not buffer")
}

jester_pdk::http_filter!(
    on_request = on_request,
    on_response = on_response,
    on_request_body = on_request_body,
    on_response_body = on_response_body,
);
