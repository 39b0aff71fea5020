/*
 * A handler in freestanding C (no C library) over pdk/c/jester_handler.h, for
 * Tests/JesterCLITests/PDKBuildTests.swift. Every handler fixture answers the same way:
 *
 *   ""       an error: "empty input: pass --input NAME"
 *   "probe"  what the host gave it: wall=ok|CODE monotonic=ok|CODE random=HEX|CODE keys=N init=N
 *   NAME     "GREETING, NAME!" (greeting from config, default "Hello"), logging "greeting NAME"
 */
#define JESTER_IMPLEMENTATION
#include "jester_handler.h"

static uint32_t init_calls;

int32_t jester_init(void) {
    init_calls++;
    return jester_init_ok();
}

jester_health_status_t jester_health(void) { return JESTER_HEALTHY; }

static jester_result_t probe(void) {
    jester_buffer_t out = {0};
    uint64_t wall = 0, first = 0, second = 0;
    jester_error_t error = JESTER_ERROR_INTERNAL;

    jester_buffer_append_cstr(&out, "wall=");
    if (jester_clock_wall_now(&wall, &error)) {
        /* After 2020-01-01 in nanoseconds. */
        jester_buffer_append_cstr(&out, wall > 1577836800000000000ull ? "ok" : "implausible");
    } else {
        jester_buffer_append_cstr(&out, jester_error_name(error));
    }

    jester_buffer_append_cstr(&out, " monotonic=");
    if (jester_clock_monotonic_now(&first, &error) && jester_clock_monotonic_now(&second, &error)) {
        jester_buffer_append_cstr(&out, second >= first ? "ok" : "backwards");
    } else {
        jester_buffer_append_cstr(&out, jester_error_name(error));
    }

    jester_buffer_append_cstr(&out, " random=");
    jester_bytes_t random;
    if (jester_random_bytes(16, &random, &error)) {
        jester_buffer_append_hex(&out, random.ptr, random.len);
        jester_bytes_free(&random);
    } else {
        jester_buffer_append_cstr(&out, jester_error_name(error));
    }

    jester_string_list_t keys = jester_config_keys();
    jester_buffer_append_cstr(&out, " keys=");
    jester_buffer_append_u64(&out, keys.len);
    jester_string_list_free(&keys);

    jester_buffer_append_cstr(&out, " init=");
    jester_buffer_append_u64(&out, init_calls);
    return jester_ok_buffer(&out);
}

jester_result_t jester_handle(jester_bytes_t input) {
    if (input.len == 0) return jester_error("empty input: pass --input NAME");
    jester_string_t name = {(char *)input.ptr, input.len};
    if (jester_string_equals(name, "probe")) return probe();

    jester_buffer_t line = {0};
    jester_buffer_append_cstr(&line, "greeting ");
    jester_buffer_append_string(&line, name);
    jester_log_buffer(JESTER_LOG_INFO, &line);
    jester_buffer_free(&line);

    jester_buffer_t out = {0};
    jester_string_t greeting;
    if (jester_config_get("greeting", &greeting)) {
        jester_buffer_append_string(&out, greeting);
        jester_string_free(&greeting);
    } else {
        jester_buffer_append_cstr(&out, "Hello");
    }
    jester_buffer_append_cstr(&out, ", ");
    jester_buffer_append_string(&out, name);
    jester_buffer_append_cstr(&out, "!");
    return jester_ok_buffer(&out);
}
