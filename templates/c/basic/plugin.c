/*
 * my-plugin: a Jester plugin in C. `jester_handle` gets bytes and returns bytes.
 *
 *   jester plugin build                      # writes my-plugin.wasm and its hash into plugin.json
 *   jester plugin test                       # runs the cases in tests.json
 *   jester plugin call . --input World       # Hello, World!
 *
 * Freestanding C (no C library) over the C PDK (pdk/c): jester_handler.h for the `handle`
 * export, and from jester.h config, log, clock, random and jester_buffer_t; see its README.
 * `jester plugin build --libc` builds against wasi-libc instead, for <string.h> and <stdio.h>.
 */
#define JESTER_IMPLEMENTATION
#include "jester_handler.h"

jester_result_t jester_handle(jester_bytes_t input) {
    if (input.len == 0) return jester_error("no input: pass a name, as in --input World");

    jester_buffer_t log = {0};
    jester_buffer_append_cstr(&log, "greeting ");
    jester_buffer_append(&log, input.ptr, input.len);
    jester_log_buffer(JESTER_LOG_DEBUG, &log);
    jester_buffer_free(&log);

    jester_buffer_t out = {0};
    jester_string_t greeting;
    if (jester_config_get("greeting", &greeting)) {
        jester_buffer_append_string(&out, greeting);
        jester_string_free(&greeting);
    } else {
        jester_buffer_append_cstr(&out, "Hello");
    }
    jester_buffer_append_cstr(&out, ", ");
    jester_buffer_append(&out, input.ptr, input.len);
    jester_buffer_append_cstr(&out, "!");
    return jester_ok_buffer(&out);
}
