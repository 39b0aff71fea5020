/*
 * An http filter in freestanding C over pdk/c/jester_http_filter.h, for
 * Tests/JesterGatewayTests/PDKFilterTests.swift. The Rust fixture (rust-filter) does the same:
 *
 * on-request
 *   x-deny present  answer 403 with x-denied-by: TAG and the body "denied by TAG\n"
 *   otherwise       set x-pdk-filter: TAG, x-pdk-request: METHOD PATH?QUERY,
 *                   x-pdk-multi: every x-multi value joined with ",", x-pdk-random: 32 hex
 *                   digits or the error code; remove x-secret; log "on-request PATH"
 * on-response
 *   set x-pdk-status: STATUS, x-pdk-clock: ok or the error code, x-pdk-names: the number of
 *   response headers; append "[filtered by TAG]" to the (buffered) body
 * on-request-body
 *   upper-case the request body as it streams; the end call appends "[end TAG]"
 * on-response-body
 *   traps: the manifest buffers response bodies, so it is never called
 *
 * TAG is the config value "tag", default "c".
 */
#define JESTER_IMPLEMENTATION
#include "jester_http_filter.h"

/* The tag from config, appended to `buffer`. */
static void append_tag(jester_buffer_t *buffer) {
    jester_string_t tag;
    if (jester_config_get("tag", &tag)) {
        jester_buffer_append_string(buffer, tag);
        jester_string_free(&tag);
    } else {
        jester_buffer_append_cstr(buffer, "c");
    }
}

/* Sets request or response header `name` to what `value` holds, then frees it. */
static void set_request_header(jester_request_t request, const char *name, jester_buffer_t *value) {
    if (!value->failed) jester_request_set_header_n(request, name, (const char *)value->ptr, value->len);
    jester_buffer_free(value);
}

static void set_response_header(jester_response_t response, const char *name, jester_buffer_t *value) {
    if (!value->failed) jester_response_set_header_n(response, name, (const char *)value->ptr, value->len);
    jester_buffer_free(value);
}

jester_action_t jester_on_request(jester_request_t request, jester_response_t response) {
    jester_buffer_t tag = {0};
    append_tag(&tag);
    if (jester_request_header(request, "x-deny", NULL)) {
        jester_response_set_status(response, 403);
        jester_response_set_header_n(response, "x-denied-by", (const char *)tag.ptr, tag.len);
        jester_buffer_t body = {0};
        jester_buffer_append_cstr(&body, "denied by ");
        jester_buffer_append(&body, tag.ptr, tag.len);
        jester_buffer_append_cstr(&body, "\n");
        jester_response_set_body(response, body.ptr, body.len);
        jester_buffer_free(&body);
        jester_buffer_free(&tag);
        return JESTER_RESPOND;
    }
    set_request_header(request, "x-pdk-filter", &tag);

    jester_string_t method = jester_request_method(request);
    jester_string_t path = jester_request_path(request);
    jester_string_t query = jester_request_query(request);
    jester_buffer_t line = {0};
    jester_buffer_append_string(&line, method);
    jester_buffer_append_cstr(&line, " ");
    jester_buffer_append_string(&line, path);
    if (query.len > 0) {
        jester_buffer_append_cstr(&line, "?");
        jester_buffer_append_string(&line, query);
    }
    set_request_header(request, "x-pdk-request", &line);

    jester_string_list_t values = jester_request_header_values(request, "x-multi");
    jester_buffer_t multi = {0};
    for (size_t i = 0; i < values.len; i++) {
        if (i > 0) jester_buffer_append_cstr(&multi, ",");
        jester_buffer_append_string(&multi, values.ptr[i]);
    }
    jester_string_list_free(&values);
    if (multi.len > 0) set_request_header(request, "x-pdk-multi", &multi);
    jester_buffer_free(&multi);

    jester_bytes_t random;
    jester_error_t error = JESTER_ERROR_INTERNAL;
    jester_buffer_t hex = {0};
    if (jester_random_bytes(16, &random, &error)) {
        jester_buffer_append_hex(&hex, random.ptr, random.len);
        jester_bytes_free(&random);
    } else {
        jester_buffer_append_cstr(&hex, jester_error_name(error));
    }
    set_request_header(request, "x-pdk-random", &hex);
    jester_request_remove_header(request, "x-secret");

    jester_buffer_t message = {0};
    jester_buffer_append_cstr(&message, "on-request ");
    jester_buffer_append_string(&message, path);
    jester_log_buffer(JESTER_LOG_INFO, &message);
    jester_buffer_free(&message);

    jester_string_free(&method);
    jester_string_free(&path);
    jester_string_free(&query);
    return JESTER_CONTINUE;
}

jester_action_t jester_on_response(jester_request_t request, jester_response_t response) {
    (void)request;
    jester_buffer_t status = {0};
    jester_buffer_append_u64(&status, jester_response_status(response));
    set_response_header(response, "x-pdk-status", &status);

    uint64_t now = 0;
    jester_error_t error = JESTER_ERROR_INTERNAL;
    jester_response_set_header(response, "x-pdk-clock", jester_clock_wall_now(&now, &error) ? "ok" : jester_error_name(error));

    jester_string_list_t names = jester_response_header_names(response);
    jester_buffer_t count = {0};
    jester_buffer_append_u64(&count, names.len);
    jester_string_list_free(&names);
    set_response_header(response, "x-pdk-names", &count);

    jester_bytes_t body;
    if (jester_response_body(response, &body, &error)) {
        jester_buffer_t edited = {0};
        jester_buffer_append(&edited, body.ptr, body.len);
        jester_buffer_append_cstr(&edited, "[filtered by ");
        append_tag(&edited);
        jester_buffer_append_cstr(&edited, "]");
        if (!edited.failed) jester_response_set_body(response, edited.ptr, edited.len);
        jester_buffer_free(&edited);
        jester_bytes_free(&body);
    }
    return JESTER_CONTINUE;
}

static jester_chunk_result_t shout_request(jester_request_t request, jester_bytes_t chunk, bool end) {
    (void)request;
    if (end) {
        jester_buffer_t tail = {0};
        jester_buffer_append_cstr(&tail, "[end ");
        append_tag(&tail);
        jester_buffer_append_cstr(&tail, "]");
        return jester_chunk_replace_buffer(&tail);
    }
    for (size_t i = 0; i < chunk.len; i++) {
        if (chunk.ptr[i] >= 'a' && chunk.ptr[i] <= 'z') chunk.ptr[i] -= 32;
    }
    return jester_chunk_replace(chunk.ptr, chunk.len);
}

static jester_chunk_result_t never_called(jester_request_t request, jester_response_t response, jester_bytes_t chunk,
                                          bool end) {
    (void)request;
    (void)response;
    (void)chunk;
    (void)end;
    __builtin_trap();
}

JESTER_ON_REQUEST_BODY(shout_request)
JESTER_ON_RESPONSE_BODY(never_called)
