/*
 * A handler in C with wasi-libc (built with `jester plugin build --libc`), for
 * Tests/JesterCLITests/PDKBuildTests.swift. It answers like the freestanding c-handler, but
 * formats with snprintf, copies with string.h, allocates with malloc, and writes to stdout
 * with printf, which imports WASI preview 1 (fd_write and friends): Jester routes stdout to the
 * plugin's log, with no WASI permission granted. "probe" adds libc=yes and ctor=yes|no, the
 * latter saying whether C constructors ran (Jester calls the reactor's _initialize).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JESTER_IMPLEMENTATION
#include "jester_handler.h"

/* volatile, so the compiler cannot fold the constructor into the initial value */
static volatile int constructed;
static unsigned init_calls;

__attribute__((constructor)) static void construct(void) { constructed = 1; }

int32_t jester_init(void) {
    init_calls++;
    return jester_init_ok();
}

static jester_result_t probe(void) {
    uint64_t wall = 0, first = 0, second = 0;
    jester_error_t error = JESTER_ERROR_INTERNAL;
    char wall_text[24], monotonic_text[24], random_text[40];

    if (jester_clock_wall_now(&wall, &error)) {
        strcpy(wall_text, wall > 1577836800000000000ull ? "ok" : "implausible");
    } else {
        strcpy(wall_text, jester_error_name(error));
    }
    if (jester_clock_monotonic_now(&first, &error) && jester_clock_monotonic_now(&second, &error)) {
        strcpy(monotonic_text, second >= first ? "ok" : "backwards");
    } else {
        strcpy(monotonic_text, jester_error_name(error));
    }
    jester_bytes_t random;
    if (jester_random_bytes(16, &random, &error)) {
        for (size_t i = 0; i < random.len; i++) snprintf(random_text + 2 * i, 3, "%02x", random.ptr[i]);
        jester_bytes_free(&random);
    } else {
        strcpy(random_text, jester_error_name(error));
    }
    jester_string_list_t keys = jester_config_keys();
    size_t key_count = keys.len;
    jester_string_list_free(&keys);

    char *out = malloc(256);
    if (!out) return jester_error("out of memory");
    int len = snprintf(out, 256, "wall=%s monotonic=%s random=%s keys=%zu init=%u libc=yes ctor=%s", wall_text,
                       monotonic_text, random_text, key_count, init_calls, constructed ? "yes" : "no");
    return jester_ok_owned(out, (size_t)len);
}

jester_result_t jester_handle(jester_bytes_t input) {
    if (input.len == 0) return jester_error("empty input: pass --input NAME");
    if (input.len == 5 && memcmp(input.ptr, "probe", 5) == 0) return probe();

    printf("greeting %.*s\n", (int)input.len, (const char *)input.ptr);
    fflush(stdout);

    jester_string_t greeting;
    const char *word = "Hello";
    char *configured = NULL;
    if (jester_config_get("greeting", &greeting)) {
        configured = strndup(greeting.ptr ? greeting.ptr : "", greeting.len); /* POSIX: -std=gnu17 */
        jester_string_free(&greeting);
        if (configured) word = configured;
    }
    size_t size = strlen(word) + input.len + 4;
    char *out = malloc(size);
    if (!out) return jester_error("out of memory");
    int len = snprintf(out, size, "%s, %.*s!", word, (int)input.len, (const char *)input.ptr);
    free(configured);
    return jester_ok_owned(out, (size_t)len);
}
