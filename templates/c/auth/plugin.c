/*
 * api-key-auth: an API-key check in C, as a gateway filter. A request goes on only with one of
 * the configured keys, in the configured header (default x-api-key) or as
 * `Authorization: Bearer KEY`; otherwise the filter answers 401 and the upstream is never called.
 * The key is removed before the request goes upstream, and `x-api-key-index` says which key
 * matched.
 *
 *   jester plugin build && jester plugin test
 *
 * Freestanding C (no C library) over the C PDK (pdk/c): jester_http_filter.h; see its README.
 *
 * In a gateway config:
 *   [[routes.filters]]
 *   type = "wasm"
 *   plugin = "path/to/api-key-auth"
 *   config = { keys = "${API_KEYS}" }
 */
#define JESTER_IMPLEMENTATION
#include "jester_http_filter.h"

/* Out of memory: fail the call (the gateway answers 500, or 503), as a Swift or Rust plugin
   would. */
static void check(const jester_buffer_t *buffer) {
    if (buffer->failed) __builtin_trap();
}

/* `text` without leading and trailing spaces: a view into it. */
static jester_string_t trimmed(jester_string_t text) {
    while (text.len > 0 && text.ptr[0] == ' ') {
        text.ptr++;
        text.len--;
    }
    while (text.len > 0 && text.ptr[text.len - 1] == ' ') text.len--;
    return text;
}

/* The token of an `Authorization: Bearer TOKEN` value in `*token` (a view into `value`), and
   whether it is one. */
static bool bearer_token(jester_string_t value, jester_string_t *token) {
    static const char prefix[] = "bearer ";
    const size_t count = sizeof prefix - 1;
    if (value.len <= count) return false;
    for (size_t i = 0; i < count; i++) {
        if (((uint8_t)value.ptr[i] | 0x20) != (uint8_t)prefix[i]) return false;
    }
    *token = trimmed((jester_string_t){value.ptr + count, value.len - count});
    return true;
}

/* Compares two keys in time that depends only on their lengths, not on where they differ. */
static bool constant_time_equals(jester_string_t a, jester_string_t b) {
    if (a.len != b.len) return false;
    uint8_t difference = 0;
    for (size_t i = 0; i < a.len; i++) difference |= (uint8_t)(a.ptr[i] ^ b.ptr[i]);
    return difference == 0;
}

/* The index in `*index` of the first of the comma-separated `keys` (each trimmed of spaces;
   empty ones between commas do not count) that equals `presented`, and whether one does. An
   empty key presented matches nothing. */
static bool find_key(jester_string_t keys, jester_string_t presented, size_t *index) {
    if (presented.len == 0) return false;
    size_t count = 0;
    size_t start = 0;
    for (size_t end = 0; end <= keys.len; end++) {
        if (end < keys.len && keys.ptr[end] != ',') continue;
        if (end > start) {
            jester_string_t key = trimmed((jester_string_t){keys.ptr + start, end - start});
            if (constant_time_equals(key, presented)) {
                *index = count;
                return true;
            }
            count++;
        }
        start = end + 1;
    }
    return false;
}

/* Answers 401 with a JSON body that gives the reason (`len` bytes at `reason`). */
static jester_action_t unauthorized(jester_response_t response, const void *reason, size_t len) {
    jester_response_set_status(response, 401);
    jester_response_set_header(response, "www-authenticate", "Bearer");
    jester_response_set_header(response, "content-type", "application/json");
    jester_buffer_t body = {0};
    jester_buffer_append_cstr(&body, "{\"error\":\"unauthorized\",\"reason\":\"");
    jester_buffer_append(&body, reason, len);
    jester_buffer_append_cstr(&body, "\"}\n");
    check(&body);
    jester_response_set_body(response, body.ptr, body.len);
    jester_buffer_free(&body);
    return JESTER_RESPOND;
}

/* Whether `request` has `Authorization: Bearer TOKEN`, with the token (a view into `*value`,
   which the caller frees) in `*token`. */
static bool request_bearer_token(jester_request_t request, jester_string_t *value, jester_string_t *token) {
    return jester_request_header(request, "authorization", value) && bearer_token(*value, token);
}

/* What on-request decides once it knows the header (NUL-terminated) and the key presented. */
static jester_action_t check_key(jester_request_t request, jester_response_t response, const char *header,
                                 jester_string_t presented) {
    jester_string_t keys;
    jester_config_get("keys", &keys);
    size_t index;
    bool found = find_key(keys, presented, &index);
    jester_string_free(&keys);
    if (!found) {
        jester_string_t method = jester_request_method(request);
        jester_string_t path = jester_request_path(request);
        jester_buffer_t line = {0};
        jester_buffer_append_cstr(&line, "refused ");
        jester_buffer_append_string(&line, method);
        jester_buffer_append_cstr(&line, " ");
        jester_buffer_append_string(&line, path);
        jester_buffer_append_cstr(&line, ": unknown API key");
        jester_log_buffer(JESTER_LOG_INFO, &line);
        jester_buffer_free(&line);
        jester_string_free(&method);
        jester_string_free(&path);
        static const char reason[] = "the API key is not valid";
        return unauthorized(response, reason, sizeof reason - 1);
    }
    jester_request_remove_header(request, header);
    jester_string_t authorization, token;
    if (request_bearer_token(request, &authorization, &token)) jester_request_remove_header(request, "authorization");
    jester_string_free(&authorization);
    jester_buffer_t digits = {0};
    jester_buffer_append_u64(&digits, index);
    check(&digits);
    jester_request_set_header_n(request, "x-api-key-index", (const char *)digits.ptr, digits.len);
    jester_buffer_free(&digits);
    return JESTER_CONTINUE;
}

jester_action_t jester_on_request(jester_request_t request, jester_response_t response) {
    /* The header that carries the key, NUL-terminated for the helpers that take a name. */
    jester_buffer_t header = {0};
    jester_string_t configured;
    if (jester_config_get("header", &configured)) {
        jester_buffer_append_string(&header, configured);
        jester_string_free(&configured);
    } else {
        jester_buffer_append_cstr(&header, "x-api-key");
    }
    jester_buffer_append_byte(&header, '\0');
    check(&header);
    const char *name = (const char *)header.ptr;

    jester_action_t action;
    jester_string_t value, token;
    if (jester_request_header(request, name, &value)) {
        action = check_key(request, response, name, value);
    } else if (request_bearer_token(request, &value, &token)) {
        action = check_key(request, response, name, token);
    } else {
        jester_buffer_t reason = {0};
        jester_buffer_append_cstr(&reason, "no API key: send it in ");
        jester_buffer_append(&reason, header.ptr, header.len - 1);
        jester_buffer_append_cstr(&reason, ", or as Authorization: Bearer KEY");
        check(&reason);
        action = unauthorized(response, reason.ptr, reason.len);
        jester_buffer_free(&reason);
    }
    jester_string_free(&value);
    jester_buffer_free(&header);
    return action;
}
