/*
 * header-filter: a gateway filter in C. `jester_on_request` runs before the upstream, with the
 * request to edit; `jester_on_response` after it, with both. Return JESTER_RESPOND from
 * `jester_on_request` to answer the client yourself (set the status, headers and body on
 * `response` first).
 *
 *   jester plugin build && jester plugin test
 *
 * Freestanding C (no C library) over the C PDK (pdk/c): jester_http_filter.h; see its README.
 *
 * In a gateway config:
 *   [[routes.filters]]
 *   type = "wasm"
 *   plugin = "path/to/header-filter"
 *   config = { tag = "edge-1" }
 */
#define JESTER_IMPLEMENTATION
#include "jester_http_filter.h"

/* The config value tag (default: the plugin's id), in `buffer`. */
static void append_tag(jester_buffer_t *buffer) {
    jester_string_t tag;
    if (jester_config_get("tag", &tag)) {
        jester_buffer_append_string(buffer, tag);
        jester_string_free(&tag);
    } else {
        jester_buffer_append_cstr(buffer, "header-filter");
    }
    if (buffer->failed) __builtin_trap(); /* out of memory: fail the call */
}

jester_action_t jester_on_request(jester_request_t request, jester_response_t response) {
    (void)response;
    jester_buffer_t tag = {0};
    append_tag(&tag);
    jester_request_set_header_n(request, "x-filter", (const char *)tag.ptr, tag.len);
    jester_buffer_free(&tag);
    /* Where the client asked to go, for the upstream's logs (the path may be rewritten later). */
    jester_string_t path = jester_request_path(request);
    jester_request_set_header_n(request, "x-original-path", path.ptr, path.len);
    jester_string_free(&path);
    return JESTER_CONTINUE;
}

jester_action_t jester_on_response(jester_request_t request, jester_response_t response) {
    (void)request;
    jester_buffer_t tag = {0};
    append_tag(&tag);
    jester_response_set_header_n(response, "x-filtered-by", (const char *)tag.ptr, tag.len);
    jester_buffer_free(&tag);
    jester_string_t hide_server;
    bool keep = jester_config_get("hide_server", &hide_server) && jester_string_equals(hide_server, "false");
    jester_string_free(&hide_server);
    if (!keep) {
        jester_response_remove_header(response, "server");
        jester_response_remove_header(response, "x-powered-by");
    }
    return JESTER_CONTINUE;
}
