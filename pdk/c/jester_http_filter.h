/*
 * jester_http_filter.h: the guest side of Jester's `http-filter` world (wit/jester.wit) in C.
 *
 * It declares the `http` imports with their exact core signatures (docs/abi.md) and wraps
 * them in small inline helpers over the request and response handles a hook receives. The
 * rest (types, log, config, clock, random, the lifecycle exports and, in the one source file
 * that defines JESTER_IMPLEMENTATION before including it, the allocator and `cabi_realloc`)
 * is in jester.h, which this header includes.
 *
 *     #define JESTER_IMPLEMENTATION
 *     #include "jester_http_filter.h"
 *
 *     jester_action_t jester_on_request(jester_request_t req, jester_response_t resp) {
 *         jester_string_t key;
 *         if (!jester_request_header(req, "x-api-key", &key)) {
 *             jester_response_set_status(resp, 401);
 *             jester_response_set_body(resp, "no key\n", 7);
 *             return JESTER_RESPOND;
 *         }
 *         jester_string_free(&key);
 *         jester_request_set_header(req, "x-plugin", "auth");
 *         return JESTER_CONTINUE;
 *     }
 *
 * Define jester_on_request and/or jester_on_response (and optionally jester_init,
 * jester_health, jester_shutdown): the declarations give each its export name, so a function
 * you do not define is simply not exported. How to build: see jester.h and pdk/c/README.md.
 *
 * To edit bodies as they stream, write a body hook and name it with JESTER_ON_REQUEST_BODY or
 * JESTER_ON_RESPONSE_BODY (once each, in one source file), which define the on-request-body /
 * on-response-body exports around it:
 *
 *     static jester_chunk_result_t shout(jester_request_t req, jester_response_t resp,
 *                                        jester_bytes_t chunk, bool end) {
 *         for (size_t i = 0; i < chunk.len; i++)
 *             if (chunk.ptr[i] >= 'a' && chunk.ptr[i] <= 'z') chunk.ptr[i] -= 32;
 *         return jester_chunk_replace(chunk.ptr, chunk.len);   // edited in place
 *     }
 *     JESTER_ON_RESPONSE_BODY(shout)
 *
 * Request and response handles are only valid during the hook call they were passed to.
 */
#ifndef JESTER_HTTP_FILTER_H
#define JESTER_HTTP_FILTER_H

#include "jester.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Types                                                                                      */

/** A borrowed `request` handle (`borrow<request>`), valid during one hook call. */
typedef uint32_t jester_request_t;
/** A borrowed `response` handle (`borrow<response>`), valid during one hook call. */
typedef uint32_t jester_response_t;

/** What the gateway does after a hook: the `action` enum. */
typedef enum jester_action {
    /** Go on with the (possibly edited) message. */
    JESTER_CONTINUE = 0,
    /** In on-request: send the response now instead of calling the upstream. In on-response:
        the same as JESTER_CONTINUE. */
    JESTER_RESPOND = 1,
} jester_action_t;

/* ------------------------------------------------------------------------------------------ */
/* Exports: define the ones your filter implements                                            */

/** `on-request: func(req: borrow<request>, resp: borrow<response>) -> action`. `resp` is an
    empty response (status 200), sent instead of calling the upstream when this returns
    JESTER_RESPOND. */
JESTER_EXPORT("on-request")
jester_action_t jester_on_request(jester_request_t request, jester_response_t response);

/** `on-response: func(req: borrow<request>, resp: borrow<response>) -> action`. */
JESTER_EXPORT("on-response")
jester_action_t jester_on_response(jester_request_t request, jester_response_t response);

/* ------------------------------------------------------------------------------------------ */
/* Body hooks: edit bodies chunk by chunk as they stream (docs/abi.md, "Body hooks")           */

/** What a body hook answers: `option<list<u8>>`. Make one with the constructors below. */
typedef struct jester_chunk_result {
    /** false: `none`, forward the chunk unchanged; true: `some`, forward ptr/len instead. */
    bool replace;
    /** Whether the PDK frees `ptr` (with jester_free) after the host read it. */
    bool owned;
    const void *ptr;
    size_t len;
} jester_chunk_result_t;

/** Forward the chunk as it is (nothing is copied back to the host). */
static inline jester_chunk_result_t jester_chunk_unchanged(void) {
    return (jester_chunk_result_t){false, false, NULL, 0};
}

/** Forward `len` bytes at `data` instead, which stay yours: static data, your own buffer, or
    bytes inside the chunk (edited in place). `len` may be 0, to hold the chunk back or drop it. */
static inline jester_chunk_result_t jester_chunk_replace(const void *data, size_t len) {
    return (jester_chunk_result_t){true, false, data, len};
}

/** Forward nothing for this chunk (`some` of an empty list). */
static inline jester_chunk_result_t jester_chunk_drop(void) {
    return jester_chunk_replace(NULL, 0);
}

/** Forward `len` bytes you allocated with jester_malloc; the PDK frees them after the host read
    them. */
static inline jester_chunk_result_t jester_chunk_replace_owned(void *data, size_t len) {
    return (jester_chunk_result_t){true, true, data, len};
}

/** Forward what `buffer` holds, taking its memory (the buffer is emptied). A buffer that ran out
    of memory traps: the filter's failure policy decides what happens to the body. */
static inline jester_chunk_result_t jester_chunk_replace_buffer(jester_buffer_t *buffer) {
    if (buffer->failed) __builtin_trap();
    jester_chunk_result_t result = {true, true, buffer->ptr, buffer->len};
    *buffer = (jester_buffer_t){0};
    return result;
}

/** The state of one body hook export between its call and `cabi_post_*`: the chunk the host
    allocated (the PDK owns and frees it), an owned answer, and the result area. */
typedef struct jester__body_state {
    uint8_t *chunk;
    void *owned;
    uint32_t area[3];
} jester__body_state_t;

static inline void jester__body_release(jester__body_state_t *state) {
    if (state->chunk) jester_free(state->chunk);
    if (state->owned) jester_free(state->owned);
    state->chunk = NULL;
    state->owned = NULL;
}

static inline jester_bytes_t jester__body_begin(jester__body_state_t *state, uint8_t *chunk, size_t len) {
    /* A host that did not call cabi_post_* after the last call leaves it here. */
    jester__body_release(state);
    /* An empty chunk is (0, 0) and was never allocated. */
    jester_bytes_t bytes = {len ? chunk : NULL, len};
    state->chunk = bytes.ptr;
    return bytes;
}

static inline int32_t jester__body_answer(jester__body_state_t *state, jester_chunk_result_t result) {
    if (result.replace && result.owned) state->owned = (void *)result.ptr;
    const void *pointer = result.len ? result.ptr : NULL;
    state->area[0] = result.replace ? 1 : 0;
    state->area[1] = (uint32_t)(uintptr_t)(pointer ? pointer : (const void *)1);
    state->area[2] = result.replace ? (uint32_t)result.len : 0;
    return (int32_t)(uintptr_t)state->area;
}

/**
 * Defines the `on-request-body` export (and `cabi_post_on-request-body`) around `function`:
 *
 *     jester_chunk_result_t function(jester_request_t request, jester_bytes_t chunk, bool end);
 *
 * `on-request-body: func(req: borrow<request>, chunk: list<u8>, end: bool) -> option<list<u8>>`.
 * Called for each chunk of the request body on its way to the upstream (or handler), then once
 * with `end` true (that chunk is usually empty). `chunk` belongs to the PDK: edit it in place and
 * return it, or copy what you keep; it is freed after the host read the answer. The request is
 * readable, not editable (its head went upstream already). Use once, in one source file.
 */
#define JESTER_ON_REQUEST_BODY(function)                                                                   \
    static jester__body_state_t jester__request_body_state;                                               \
    JESTER_EXPORT("on-request-body")                                                                       \
    int32_t jester__export_on_request_body(jester_request_t request, uint8_t *chunk, size_t len, int32_t end) { \
        jester_bytes_t bytes = jester__body_begin(&jester__request_body_state, chunk, len);               \
        return jester__body_answer(&jester__request_body_state, (function)(request, bytes, end != 0));    \
    }                                                                                                      \
    JESTER_EXPORT("cabi_post_on-request-body")                                                             \
    void jester__export_post_on_request_body(int32_t area) {                                               \
        (void)area;                                                                                        \
        jester__body_release(&jester__request_body_state);                                                 \
    }

/**
 * Defines the `on-response-body` export (and `cabi_post_on-response-body`) around `function`:
 *
 *     jester_chunk_result_t function(jester_request_t request, jester_response_t response,
 *                                    jester_bytes_t chunk, bool end);
 *
 * The same as JESTER_ON_REQUEST_BODY for the response body on its way to the client; the
 * response's status and headers are readable, not editable (they went out already).
 */
#define JESTER_ON_RESPONSE_BODY(function)                                                                  \
    static jester__body_state_t jester__response_body_state;                                              \
    JESTER_EXPORT("on-response-body")                                                                      \
    int32_t jester__export_on_response_body(jester_request_t request, jester_response_t response,         \
                                            uint8_t *chunk, size_t len, int32_t end) {                     \
        jester_bytes_t bytes = jester__body_begin(&jester__response_body_state, chunk, len);              \
        return jester__body_answer(&jester__response_body_state,                                          \
                                   (function)(request, response, bytes, end != 0));                       \
    }                                                                                                      \
    JESTER_EXPORT("cabi_post_on-response-body")                                                            \
    void jester__export_post_on_response_body(int32_t area) {                                              \
        (void)area;                                                                                        \
        jester__body_release(&jester__response_body_state);                                                \
    }

/* ------------------------------------------------------------------------------------------ */
/* Raw imports: exact core signatures (docs/abi.md). Prefer the helpers further down.         */

#define JESTER_HTTP_MODULE "jester:plugin/http@0.1.0"

JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.method")
void jester_import_request_method(jester_request_t self, jester_string_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.set-method")
int32_t jester_import_request_set_method(jester_request_t self, const char *ptr, size_t len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.path")
void jester_import_request_path(jester_request_t self, jester_string_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.set-path")
int32_t jester_import_request_set_path(jester_request_t self, const char *ptr, size_t len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.query")
void jester_import_request_query(jester_request_t self, jester_string_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.set-query")
int32_t jester_import_request_set_query(jester_request_t self, const char *ptr, size_t len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.header")
void jester_import_request_header(jester_request_t self, const char *name, size_t name_len,
                                  jester_option_string_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.header-values")
void jester_import_request_header_values(jester_request_t self, const char *name, size_t name_len,
                                         jester_string_list_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.header-names")
void jester_import_request_header_names(jester_request_t self, jester_string_list_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.set-header")
int32_t jester_import_request_set_header(jester_request_t self, const char *name, size_t name_len,
                                         const char *value, size_t value_len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.add-header")
int32_t jester_import_request_add_header(jester_request_t self, const char *name, size_t name_len,
                                         const char *value, size_t value_len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.remove-header")
void jester_import_request_remove_header(jester_request_t self, const char *name, size_t name_len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.body")
void jester_import_request_body(jester_request_t self, jester_result_bytes_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.set-body")
void jester_import_request_set_body(jester_request_t self, const void *ptr, size_t len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]request.client-address")
void jester_import_request_client_address(jester_request_t self, jester_string_t *ret);

JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.status")
int32_t jester_import_response_status(jester_response_t self);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.set-status")
int32_t jester_import_response_set_status(jester_response_t self, int32_t status);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.header")
void jester_import_response_header(jester_response_t self, const char *name, size_t name_len,
                                   jester_option_string_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.header-values")
void jester_import_response_header_values(jester_response_t self, const char *name, size_t name_len,
                                          jester_string_list_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.header-names")
void jester_import_response_header_names(jester_response_t self, jester_string_list_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.set-header")
int32_t jester_import_response_set_header(jester_response_t self, const char *name, size_t name_len,
                                          const char *value, size_t value_len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.add-header")
int32_t jester_import_response_add_header(jester_response_t self, const char *name, size_t name_len,
                                          const char *value, size_t value_len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.remove-header")
void jester_import_response_remove_header(jester_response_t self, const char *name, size_t name_len);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.body")
void jester_import_response_body(jester_response_t self, jester_result_bytes_t *ret);
JESTER_IMPORT(JESTER_HTTP_MODULE, "[method]response.set-body")
void jester_import_response_set_body(jester_response_t self, const void *ptr, size_t len);

/* ------------------------------------------------------------------------------------------ */
/* Request helpers. Names are NUL-terminated; `_n` forms take a value as (pointer, length).  */

/** The method, upper-case (`GET`). Free it with jester_string_free. */
static inline jester_string_t jester_request_method(jester_request_t request) {
    jester_string_t ret;
    jester_import_request_method(request, &ret);
    return jester__string(ret);
}

/** Replaces the method; false if it is not a valid token. */
static inline bool jester_request_set_method(jester_request_t request, const char *method) {
    return jester_import_request_set_method(request, method, jester_cstr_len(method)) != 0;
}

/** The path without the query (`/api/users`). Free it with jester_string_free. */
static inline jester_string_t jester_request_path(jester_request_t request) {
    jester_string_t ret;
    jester_import_request_path(request, &ret);
    return jester__string(ret);
}

/** Replaces the path (it must start with `/`); false if it is not a valid path. */
static inline bool jester_request_set_path_n(jester_request_t request, const char *path, size_t len) {
    return jester_import_request_set_path(request, path, len) != 0;
}

static inline bool jester_request_set_path(jester_request_t request, const char *path) {
    return jester_request_set_path_n(request, path, jester_cstr_len(path));
}

/** The query without `?`, {NULL, 0} when there is none. Free it with jester_string_free. */
static inline jester_string_t jester_request_query(jester_request_t request) {
    jester_string_t ret;
    jester_import_request_query(request, &ret);
    return jester__string(ret);
}

/** Replaces the query (without `?`; empty removes it); false if it holds a space, `#` or a
    control character. */
static inline bool jester_request_set_query_n(jester_request_t request, const char *query, size_t len) {
    return jester_import_request_set_query(request, query, len) != 0;
}

static inline bool jester_request_set_query(jester_request_t request, const char *query) {
    return jester_request_set_query_n(request, query, jester_cstr_len(query));
}

/** The client's IP address (`203.0.113.7`, `::1`). Free it with jester_string_free. */
static inline jester_string_t jester_request_client_address(jester_request_t request) {
    jester_string_t ret;
    jester_import_request_client_address(request, &ret);
    return jester__string(ret);
}

/** The first value of header `name` in `*value` (owned; pass NULL to only test presence), and
    whether there is one. */
static inline bool jester_request_header(jester_request_t request, const char *name, jester_string_t *value) {
    jester_option_string_t ret;
    jester_import_request_header(request, name, jester_cstr_len(name), &ret);
    return jester__option(&ret, value);
}

/** Every value of header `name`, in order. Free with jester_string_list_free. */
static inline jester_string_list_t jester_request_header_values(jester_request_t request, const char *name) {
    jester_string_list_t ret;
    jester_import_request_header_values(request, name, jester_cstr_len(name), &ret);
    return jester__list(ret);
}

/** Every header name, lower-case, in order, each once. Free with jester_string_list_free. */
static inline jester_string_list_t jester_request_header_names(jester_request_t request) {
    jester_string_list_t ret;
    jester_import_request_header_names(request, &ret);
    return jester__list(ret);
}

/** Sets header `name`, replacing every value it had; false if the name or value is invalid. */
static inline bool jester_request_set_header_n(jester_request_t request, const char *name, const char *value,
                                               size_t value_len) {
    return jester_import_request_set_header(request, name, jester_cstr_len(name), value, value_len) != 0;
}

static inline bool jester_request_set_header(jester_request_t request, const char *name, const char *value) {
    return jester_request_set_header_n(request, name, value, jester_cstr_len(value));
}

/** Adds a value to header `name`, keeping those it had; false if invalid. */
static inline bool jester_request_add_header_n(jester_request_t request, const char *name, const char *value,
                                               size_t value_len) {
    return jester_import_request_add_header(request, name, jester_cstr_len(name), value, value_len) != 0;
}

static inline bool jester_request_add_header(jester_request_t request, const char *name, const char *value) {
    return jester_request_add_header_n(request, name, value, jester_cstr_len(value));
}

/** Removes every value of header `name`. */
static inline void jester_request_remove_header(jester_request_t request, const char *name) {
    jester_import_request_remove_header(request, name, jester_cstr_len(name));
}

/** The whole body in `*body` (owned), when the manifest set http_filter.buffer_request_body.
    False otherwise, with the reason in `*error` (may be NULL): JESTER_ERROR_UNAVAILABLE without
    buffering, JESTER_ERROR_LIMIT_EXCEEDED over http_filter.max_body_bytes. */
static inline bool jester_request_body(jester_request_t request, jester_bytes_t *body, jester_error_t *error) {
    jester_result_bytes_t ret;
    jester_import_request_body(request, &ret);
    return jester__bytes(&ret, body, error);
}

/** Replaces the body (the gateway sets content-length). */
static inline void jester_request_set_body(jester_request_t request, const void *body, size_t len) {
    jester_import_request_set_body(request, body, len);
}

/* ------------------------------------------------------------------------------------------ */
/* Response helpers                                                                           */

/** The status code. */
static inline uint16_t jester_response_status(jester_response_t response) {
    return (uint16_t)jester_import_response_status(response);
}

/** Replaces the status code; false unless it is 100 to 999. */
static inline bool jester_response_set_status(jester_response_t response, uint16_t status) {
    return jester_import_response_set_status(response, (int32_t)status) != 0;
}

/** The first value of header `name` in `*value` (owned; may be NULL), and whether there is one. */
static inline bool jester_response_header(jester_response_t response, const char *name, jester_string_t *value) {
    jester_option_string_t ret;
    jester_import_response_header(response, name, jester_cstr_len(name), &ret);
    return jester__option(&ret, value);
}

/** Every value of header `name`, in order. Free with jester_string_list_free. */
static inline jester_string_list_t jester_response_header_values(jester_response_t response, const char *name) {
    jester_string_list_t ret;
    jester_import_response_header_values(response, name, jester_cstr_len(name), &ret);
    return jester__list(ret);
}

/** Every header name, lower-case, in order, each once. Free with jester_string_list_free. */
static inline jester_string_list_t jester_response_header_names(jester_response_t response) {
    jester_string_list_t ret;
    jester_import_response_header_names(response, &ret);
    return jester__list(ret);
}

/** Sets header `name`, replacing every value it had; false if the name or value is invalid. */
static inline bool jester_response_set_header_n(jester_response_t response, const char *name, const char *value,
                                                size_t value_len) {
    return jester_import_response_set_header(response, name, jester_cstr_len(name), value, value_len) != 0;
}

static inline bool jester_response_set_header(jester_response_t response, const char *name, const char *value) {
    return jester_response_set_header_n(response, name, value, jester_cstr_len(value));
}

/** Adds a value to header `name`, keeping those it had; false if invalid. */
static inline bool jester_response_add_header_n(jester_response_t response, const char *name, const char *value,
                                                size_t value_len) {
    return jester_import_response_add_header(response, name, jester_cstr_len(name), value, value_len) != 0;
}

static inline bool jester_response_add_header(jester_response_t response, const char *name, const char *value) {
    return jester_response_add_header_n(response, name, value, jester_cstr_len(value));
}

/** Removes every value of header `name`. */
static inline void jester_response_remove_header(jester_response_t response, const char *name) {
    jester_import_response_remove_header(response, name, jester_cstr_len(name));
}

/** The whole body in `*body` (owned), when the manifest set http_filter.buffer_response_body
    (or, in on-request, what set-body set). False otherwise, with the reason in `*error`. */
static inline bool jester_response_body(jester_response_t response, jester_bytes_t *body, jester_error_t *error) {
    jester_result_bytes_t ret;
    jester_import_response_body(response, &ret);
    return jester__bytes(&ret, body, error);
}

/** Replaces the body (the gateway sets content-length). */
static inline void jester_response_set_body(jester_response_t response, const void *body, size_t len) {
    jester_import_response_set_body(response, body, len);
}

#ifdef __cplusplus
}
#endif

#endif /* JESTER_HTTP_FILTER_H */
