/*
 * jester_handler.h: the guest side of Jester's `handler` world (wit/jester.wit) in C.
 *
 *     export handle: func(input: list<u8>) -> result<list<u8>, string>;
 *
 * Define jester_handle in one source file; in exactly one source file, define
 * JESTER_IMPLEMENTATION before including this header, which then also defines the `handle`
 * and `cabi_post_handle` exports around your function, the allocator and `cabi_realloc`:
 *
 *     #define JESTER_IMPLEMENTATION
 *     #include "jester_handler.h"
 *
 *     jester_result_t jester_handle(jester_bytes_t input) {
 *         if (input.len == 0) return jester_error("empty input");
 *         jester_string_t greeting;
 *         jester_buffer_t out = {0};
 *         if (jester_config_get("greeting", &greeting)) {
 *             jester_buffer_append_string(&out, greeting);
 *             jester_string_free(&greeting);
 *         } else {
 *             jester_buffer_append_cstr(&out, "Hello");
 *         }
 *         jester_buffer_append_cstr(&out, ", ");
 *         jester_buffer_append(&out, input.ptr, input.len);
 *         return jester_ok_buffer(&out);
 *     }
 *
 * The lifecycle exports (jester_init, jester_health, jester_shutdown) and the host interfaces
 * (log, config, clock, random) are in jester.h, which this header includes. A module that is
 * also an http filter includes jester_http_filter.h as well.
 *
 * Ownership: `input` belongs to the PDK and stays valid until the host has read your result,
 * so an output may point into it (jester_ok(input.ptr, 5) answers its first five bytes); the
 * PDK frees it afterwards, in `cabi_post_handle`. Do not free it yourself. An output or error
 * made with an `_owned` or `_buffer` constructor is freed there too.
 */
#ifndef JESTER_HANDLER_H
#define JESTER_HANDLER_H

#include "jester.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What jester_handle answers: the output bytes (`ok`) or an error message (`err`, UTF-8).
    Make one with jester_ok, jester_ok_cstr, jester_ok_owned, jester_ok_buffer, jester_error or
    jester_error_owned rather than by hand. */
typedef struct jester_result {
    /** Whether this is the error. */
    bool is_err;
    /** Whether `ptr` came from jester_malloc and is freed by the PDK after the host read it. */
    bool owned;
    /** The output, or the error message. */
    const void *ptr;
    /** Its length in bytes. */
    size_t len;
} jester_result_t;

/** `handle: func(input: list<u8>) -> result<list<u8>, string>`. You define it. An error fails
    the call with its message and leaves the instance in service; a trap fails the call and
    the host throws the instance away. */
jester_result_t jester_handle(jester_bytes_t input);

/** `ok` with `len` bytes at `data`, which stay yours: a string literal, static data, or the
    input. They must stay valid until the call returns. */
static inline jester_result_t jester_ok(const void *data, size_t len) {
    return (jester_result_t){false, false, data, len};
}

/** `ok` with a NUL-terminated string (without the NUL); borrowed as for jester_ok. */
static inline jester_result_t jester_ok_cstr(const char *text) { return jester_ok(text, jester_cstr_len(text)); }

/** `ok` with `len` bytes at `data`, which you allocated with jester_malloc: the PDK frees them
    after the host read them. */
static inline jester_result_t jester_ok_owned(void *data, size_t len) {
    return (jester_result_t){false, true, data, len};
}

/** `ok` with what `buffer` holds, taking its memory (the buffer is emptied); an error saying
    so when the buffer ran out of memory. */
static inline jester_result_t jester_ok_buffer(jester_buffer_t *buffer) {
    if (buffer->failed) {
        jester_buffer_free(buffer);
        return (jester_result_t){true, false, "out of memory building the output", 33};
    }
    jester_result_t result = {false, true, buffer->ptr, buffer->len};
    *buffer = (jester_buffer_t){0};
    return result;
}

/** `err` with a NUL-terminated message that stays valid (a string literal or static buffer). */
static inline jester_result_t jester_error(const char *message) {
    return (jester_result_t){true, false, message, jester_cstr_len(message)};
}

/** `err` with `len` bytes of message you allocated with jester_malloc; the PDK frees it. */
static inline jester_result_t jester_error_owned(char *message, size_t len) {
    return (jester_result_t){true, true, message, len};
}

/** The `handle` export itself: defined in the JESTER_IMPLEMENTATION source. */
JESTER_EXPORT("handle")
int32_t jester__export_handle(uint8_t *input, size_t len);

/** Frees what the last `handle` returned, after the host read it. */
JESTER_EXPORT("cabi_post_handle")
void jester__export_post_handle(int32_t area);

#ifdef __cplusplus
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Implementation: in exactly one source file, #define JESTER_IMPLEMENTATION before including */

#ifdef JESTER_IMPLEMENTATION
#ifndef JESTER_HANDLER_IMPLEMENTATION_DONE
#define JESTER_HANDLER_IMPLEMENTATION_DONE

#ifdef __cplusplus
extern "C" {
#endif

/* What the last call handed over, freed once the host has read it. */
static struct {
    uint8_t *input;
    void *output; /* owned output or message, or NULL */
} jester__handle_pending;

/* The result area: disc u8 @0, pointer @4, length @8. */
static uint32_t jester__handle_area[3];

static void jester__handle_release(void) {
    if (jester__handle_pending.input) jester_free(jester__handle_pending.input);
    if (jester__handle_pending.output) jester_free(jester__handle_pending.output);
    jester__handle_pending.input = NULL;
    jester__handle_pending.output = NULL;
}

int32_t jester__export_handle(uint8_t *input, size_t len) {
    /* A host that did not call cabi_post_handle after the last call leaves it here. */
    jester__handle_release();
    /* An empty input is (0, 0), or a placeholder pointer that was never allocated. */
    jester_bytes_t bytes = {len ? input : NULL, len};
    jester__handle_pending.input = bytes.ptr;
    jester_result_t result = jester_handle(bytes);
    if (result.owned) jester__handle_pending.output = (void *)result.ptr;
    const void *pointer = result.len ? result.ptr : NULL;
    jester__handle_area[0] = result.is_err ? 1 : 0;
    jester__handle_area[1] = (uint32_t)(uintptr_t)(pointer ? pointer : (const void *)1);
    jester__handle_area[2] = (uint32_t)result.len;
    return (int32_t)(uintptr_t)jester__handle_area;
}

void jester__export_post_handle(int32_t area) {
    (void)area;
    jester__handle_release();
}

#ifdef __cplusplus
}
#endif

#endif /* JESTER_HANDLER_IMPLEMENTATION_DONE */
#endif /* JESTER_IMPLEMENTATION */

#endif /* JESTER_HANDLER_H */
