//! header-filter: a gateway filter in Rust. `on_request` runs before the upstream, with the
//! request to edit; `on_response` after it, with both. Return `Action::Respond` from `on_request`
//! to answer the client yourself (set the status, headers and body on `response` first).
//!
//!   jester plugin build && jester plugin test
//!
//! In a gateway config:
//!   [[routes.filters]]
//!   type = "wasm"
//!   plugin = "path/to/header-filter"
//!   config = { tag = "edge-1" }

use jester_pdk::{config, Action, Request, Response};

fn on_request(request: &Request, _response: &Response) -> Action {
    request.set_header("x-filter", &tag());
    // Where the client asked to go, for the upstream's logs (the path may be rewritten later).
    request.set_header("x-original-path", &request.path());
    Action::Continue
}

fn on_response(_request: &Request, response: &Response) -> Action {
    response.set_header("x-filtered-by", &tag());
    if config::get("hide_server").as_deref() != Some("false") {
        response.remove_header("server");
        response.remove_header("x-powered-by");
    }
    Action::Continue
}

fn tag() -> String {
    config::get("tag").unwrap_or_else(|| "header-filter".to_string())
}

jester_pdk::http_filter!(on_request = on_request, on_response = on_response);
