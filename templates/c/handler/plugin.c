/*
 * my-handler: answers a gateway route in C. The gateway passes the request body as the input
 * and sends the output back as the response body.
 *
 *   jester plugin build && jester plugin test
 *   jester plugin call . --input 'one two three'     # {"bytes":13,"words":3,"lines":0}
 *
 * Freestanding C (no C library) over the C PDK (pdk/c); see its README.
 *
 * In a gateway config:
 *   [[routes]]
 *   name = "count"
 *   matchers = { path_prefix = "/count" }
 *   handler = { plugin = "path/to/my-handler", headers = { "content-type" = "application/json" } }
 */
#define JESTER_IMPLEMENTATION
#include "jester_handler.h"

/* `text` as a 32-bit decimal integer with an optional sign, if it is one. */
static bool parse_int32(jester_string_t text, int64_t *value) {
    size_t i = 0;
    bool negative = false;
    if (text.len > 0 && (text.ptr[0] == '+' || text.ptr[0] == '-')) {
        negative = text.ptr[0] == '-';
        i = 1;
    }
    if (i == text.len) return false;
    int64_t result = 0;
    for (; i < text.len; i++) {
        if (text.ptr[i] < '0' || text.ptr[i] > '9') return false;
        result = result * 10 + (text.ptr[i] - '0');
        if (result > (int64_t)INT32_MAX + 1) return false;
    }
    if (negative) result = -result;
    if (result > INT32_MAX) return false;
    *value = result;
    return true;
}

/* The config value max_bytes; 65536 when it is not set or not a number. */
static int64_t max_bytes(void) {
    int64_t limit = 65536;
    jester_string_t text;
    if (jester_config_get("max_bytes", &text)) {
        if (!parse_int32(text, &limit)) limit = 65536;
        jester_string_free(&text);
    }
    return limit;
}

jester_result_t jester_handle(jester_bytes_t input) {
    int64_t limit = max_bytes();
    if ((int64_t)input.len > limit) {
        jester_buffer_t message = {0};
        jester_buffer_append_cstr(&message, "the body is ");
        jester_buffer_append_u64(&message, input.len);
        jester_buffer_append_cstr(&message, " bytes, more than max_bytes (");
        if (limit < 0) jester_buffer_append_byte(&message, '-');
        jester_buffer_append_u64(&message, (uint64_t)(limit < 0 ? -limit : limit));
        jester_buffer_append_cstr(&message, ")");
        if (message.failed) __builtin_trap(); /* out of memory: fail the call */
        return jester_error_owned((char *)message.ptr, message.len);
    }
    size_t words = 0;
    size_t lines = 0;
    bool in_word = false;
    for (size_t i = 0; i < input.len; i++) {
        uint8_t byte = input.ptr[i];
        bool is_space = byte == ' ' || byte == '\t' || byte == '\n' || byte == '\r';
        if (byte == '\n') lines++;
        if (!is_space && !in_word) words++;
        in_word = !is_space;
    }

    jester_buffer_t log = {0};
    jester_buffer_append_cstr(&log, "counted ");
    jester_buffer_append_u64(&log, words);
    jester_buffer_append_cstr(&log, " words in ");
    jester_buffer_append_u64(&log, input.len);
    jester_buffer_append_cstr(&log, " bytes");
    jester_log_buffer(JESTER_LOG_DEBUG, &log);
    jester_buffer_free(&log);

    jester_buffer_t out = {0};
    jester_buffer_append_cstr(&out, "{\"bytes\":");
    jester_buffer_append_u64(&out, input.len);
    jester_buffer_append_cstr(&out, ",\"words\":");
    jester_buffer_append_u64(&out, words);
    jester_buffer_append_cstr(&out, ",\"lines\":");
    jester_buffer_append_u64(&out, lines);
    jester_buffer_append_cstr(&out, "}");
    return jester_ok_buffer(&out);
}
