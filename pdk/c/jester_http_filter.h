/*
 * jester_http_filter.h: the guest side of Jester's `http-filter` world (wit/jester.wit) in C.
 *
 * One header, no dependencies. It declares the host imports with their exact core signatures
 * (docs/abi.md), wraps them in small inline helpers, and, in the one source file that defines
 * JESTER_IMPLEMENTATION before including it, defines the allocator and the `cabi_realloc`
 * export the host allocates through.
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
 * jester_health, jester_shutdown): the declarations below give each its export name, so a
 * function you do not define is simply not exported.
 *
 * Two ways to build (see examples/filters/redact-json/README.md):
 *
 *   - Freestanding, no C library (what `jester plugin build` does), with the clang of the Swift
 *     6.3 toolchain or any clang >= 20 with the WebAssembly target:
 *       clang --target=wasm32 -nostdlib -ffreestanding -Os -Ipdk/c \
 *         -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=131072 -Wl,--strip-debug \
 *         filter.c -o filter.wasm
 *     The implementation part then also defines memcpy, memmove, memset, memcmp and strlen
 *     (weak, so a definition of your own wins); bulk memory must be enabled (the default
 *     since clang 20, or -mbulk-memory).
 *   - With wasi-libc (Debian: clang-14, lld-14, wasi-libc), in WASI's reactor model:
 *       clang-14 --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -Os -Ipdk/c \
 *         -Wl,--stack-first -Wl,-z,stack-size=131072 -Wl,--strip-all filter.c -o filter.wasm
 *     The allocator is then libc's malloc. The module also exports _initialize, which Jester
 *     does not call for a Jester-ABI module (C constructors do not run). C library functions
 *     that need no WASI (string.h, malloc, snprintf into a buffer) import nothing; printf to
 *     stdout or files import WASI preview 1, which needs the matching permissions.
 *
 * Ownership (docs/abi.md, "Ownership, in short"): strings, byte lists and string lists the
 * helpers return are allocated in guest memory by the host and belong to you; free them with
 * jester_string_free, jester_bytes_free or jester_string_list_free. Empty ones are returned
 * as {NULL, 0} and need no freeing (freeing them is harmless). Strings you pass in are
 * borrowed for the call; the host copies them.
 *
 * Request and response handles are only valid during the on-request / on-response call they
 * were passed to.
 */
#ifndef JESTER_HTTP_FILTER_H
#define JESTER_HTTP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm32__)
#error "jester_http_filter.h is for WebAssembly guests: compile with --target=wasm32 (or wasm32-wasi)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Attributes                                                                                 */

/** Declares a host function: core import `name` from import module `module`. */
#define JESTER_IMPORT(module, name) __attribute__((import_module(module), import_name(name)))

/** Exports the function it is attached to as `name` (any string, such as "on-request"). */
#define JESTER_EXPORT(name) __attribute__((export_name(name)))

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

/** What `health` reports: the `health-status` enum. */
typedef enum jester_health_status {
    JESTER_HEALTHY = 0,
    JESTER_DEGRADED = 1,
    JESTER_UNHEALTHY = 2,
} jester_health_status_t;

/** Why a host call failed: the `error-code` enum (a u8 in memory). */
typedef uint8_t jester_error_t;
#define JESTER_ERROR_PERMISSION_DENIED ((jester_error_t)0)
#define JESTER_ERROR_INVALID_ARGUMENT ((jester_error_t)1)
#define JESTER_ERROR_NOT_FOUND ((jester_error_t)2)
#define JESTER_ERROR_LIMIT_EXCEEDED ((jester_error_t)3)
#define JESTER_ERROR_UNAVAILABLE ((jester_error_t)4)
#define JESTER_ERROR_INTERNAL ((jester_error_t)5)

/** Log levels of `log.write`. */
typedef enum jester_log_level {
    JESTER_LOG_TRACE = 0,
    JESTER_LOG_DEBUG = 1,
    JESTER_LOG_INFO = 2,
    JESTER_LOG_WARN = 3,
    JESTER_LOG_ERROR = 4,
} jester_log_level_t;

/** A UTF-8 string: pointer and length in bytes, not NUL-terminated. Its layout is the canonical
    ABI's (pointer u32 at +0, length u32 at +4), so a list<string> is an array of these. */
typedef struct jester_string {
    char *ptr;
    size_t len;
} jester_string_t;

/** Bytes: pointer and length. */
typedef struct jester_bytes {
    uint8_t *ptr;
    size_t len;
} jester_bytes_t;

/** A list of strings: `len` strings at `ptr`. */
typedef struct jester_string_list {
    jester_string_t *ptr;
    size_t len;
} jester_string_list_t;

/** The return area of a `func(...) -> option<string>` import: disc u8 @0, string @4 (12 bytes). */
typedef struct jester_option_string {
    uint8_t is_some;
    jester_string_t value;
} jester_option_string_t;

/** The return area of a `func() -> result<list<u8>, error-code>` import: disc u8 @0; ok: bytes
    @4; err: code u8 @4 (12 bytes). */
typedef struct jester_result_bytes {
    uint8_t is_err;
    union {
        jester_bytes_t ok;
        jester_error_t err;
    } value;
} jester_result_bytes_t;

/** The return area of `clock.*`: disc u8 @0; ok: u64 @8; err: code u8 @8 (16 bytes). */
typedef struct jester_result_u64 {
    uint8_t is_err;
    union {
        uint64_t ok;
        jester_error_t err;
    } value;
} jester_result_u64_t;

_Static_assert(sizeof(jester_string_t) == 8 && _Alignof(jester_string_t) == 4, "string layout");
_Static_assert(offsetof(jester_option_string_t, value) == 4 && sizeof(jester_option_string_t) == 12,
               "option<string> layout");
_Static_assert(offsetof(jester_result_bytes_t, value) == 4 && sizeof(jester_result_bytes_t) == 12,
               "result<list<u8>, error-code> layout");
_Static_assert(offsetof(jester_result_u64_t, value) == 8 && sizeof(jester_result_u64_t) == 16,
               "result<u64, error-code> layout");

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

/** `init: func() -> result<_, string>`: return jester_init_ok() or jester_init_error("..."). */
JESTER_EXPORT("init")
int32_t jester_init(void);

/** `health: func() -> health-status`. */
JESTER_EXPORT("health")
jester_health_status_t jester_health(void);

/** `shutdown: func()`. */
JESTER_EXPORT("shutdown")
void jester_shutdown(void);

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

JESTER_IMPORT("jester:plugin/log@0.1.0", "write")
void jester_import_log_write(int32_t level, const char *ptr, size_t len);

JESTER_IMPORT("jester:plugin/config@0.1.0", "get")
void jester_import_config_get(const char *key, size_t key_len, jester_option_string_t *ret);
JESTER_IMPORT("jester:plugin/config@0.1.0", "keys")
void jester_import_config_keys(jester_string_list_t *ret);

JESTER_IMPORT("jester:plugin/clock@0.1.0", "wall-now")
void jester_import_clock_wall_now(jester_result_u64_t *ret);
JESTER_IMPORT("jester:plugin/clock@0.1.0", "monotonic-now")
void jester_import_clock_monotonic_now(jester_result_u64_t *ret);

JESTER_IMPORT("jester:plugin/random@0.1.0", "get-bytes")
void jester_import_random_get_bytes(size_t len, jester_result_bytes_t *ret);

/* ------------------------------------------------------------------------------------------ */
/* Memory (defined in the JESTER_IMPLEMENTATION source)                                      */

/** Allocates `size` bytes, 16-aligned; NULL when memory cannot grow. */
void *jester_malloc(size_t size);
/** Frees what jester_malloc, jester_realloc or the host allocated. Ignores NULL. */
void jester_free(void *pointer);
/** Resizes, keeping the contents up to the smaller size; NULL (and the block untouched) when
    memory cannot grow. */
void *jester_realloc(void *pointer, size_t size);

/** `cabi_realloc(old_ptr, old_size, align, new_size) -> ptr`: the allocator the host places
    strings and lists through. Traps when out of memory (the host must not receive 0). */
JESTER_EXPORT("cabi_realloc")
void *cabi_realloc(void *old_pointer, size_t old_size, size_t alignment, size_t new_size);

/** Frees a string a helper returned and sets it to {NULL, 0}. */
static inline void jester_string_free(jester_string_t *string) {
    if (string->len > 0) jester_free(string->ptr);
    string->ptr = NULL;
    string->len = 0;
}

/** Frees bytes a helper returned and sets them to {NULL, 0}. */
static inline void jester_bytes_free(jester_bytes_t *bytes) {
    if (bytes->len > 0) jester_free(bytes->ptr);
    bytes->ptr = NULL;
    bytes->len = 0;
}

/** Frees a list of strings a helper returned (every string and the array). */
static inline void jester_string_list_free(jester_string_list_t *list) {
    for (size_t i = 0; i < list->len; i++) jester_string_free(&list->ptr[i]);
    if (list->len > 0) jester_free(list->ptr);
    list->ptr = NULL;
    list->len = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Small string helpers                                                                       */

/** The length of a NUL-terminated string (without calling the C library). */
static inline size_t jester_cstr_len(const char *text) {
    size_t n = 0;
    while (text[n] != '\0') n++;
    return n;
}

/** Whether `string` holds exactly the bytes of the NUL-terminated `text`. */
static inline bool jester_string_equals(jester_string_t string, const char *text) {
    size_t n = jester_cstr_len(text);
    if (string.len != n) return false;
    for (size_t i = 0; i < n; i++) {
        if (string.ptr[i] != text[i]) return false;
    }
    return true;
}

/** Host-returned strings and lists with length 0 carry a placeholder pointer (1 or 4) that was
    never allocated; the helpers turn them into {NULL, 0}. */
static inline jester_string_t jester__string(jester_string_t string) {
    if (string.len == 0) string.ptr = NULL;
    return string;
}

static inline jester_string_list_t jester__list(jester_string_list_t list) {
    if (list.len == 0) list.ptr = NULL;
    for (size_t i = 0; i < list.len; i++) list.ptr[i] = jester__string(list.ptr[i]);
    return list;
}

static inline bool jester__option(const jester_option_string_t *area, jester_string_t *value) {
    if (area->is_some != 1) {
        if (value) *value = (jester_string_t){NULL, 0};
        return false;
    }
    jester_string_t string = jester__string(area->value);
    if (value) {
        *value = string;
    } else {
        jester_string_free(&string);
    }
    return true;
}

static inline bool jester__bytes(const jester_result_bytes_t *area, jester_bytes_t *body, jester_error_t *error) {
    if (area->is_err == 0) {
        jester_bytes_t bytes = area->value.ok;
        if (bytes.len == 0) bytes.ptr = NULL;
        if (body) {
            *body = bytes;
        } else {
            jester_bytes_free(&bytes);
        }
        return true;
    }
    if (body) *body = (jester_bytes_t){NULL, 0};
    if (error) *error = area->value.err;
    return false;
}

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

/* ------------------------------------------------------------------------------------------ */
/* log, config, clock, random                                                                 */

/** Logs `len` bytes at `message`. */
static inline void jester_log_n(jester_log_level_t level, const char *message, size_t len) {
    jester_import_log_write((int32_t)level, message, len);
}

/** Logs a NUL-terminated message. */
static inline void jester_log(jester_log_level_t level, const char *message) {
    jester_log_n(level, message, jester_cstr_len(message));
}

/** The config value of `key` in `*value` (owned; may be NULL), and whether it is set. Values
    that are not strings in the route's config arrive as their JSON text. */
static inline bool jester_config_get(const char *key, jester_string_t *value) {
    jester_option_string_t ret;
    jester_import_config_get(key, jester_cstr_len(key), &ret);
    return jester__option(&ret, value);
}

/** Every config key that is set. Free with jester_string_list_free. */
static inline jester_string_list_t jester_config_keys(void) {
    jester_string_list_t ret;
    jester_import_config_keys(&ret);
    return jester__list(ret);
}

/** Wall-clock nanoseconds since the Unix epoch; false without the `clock` permission. */
static inline bool jester_clock_wall_now(uint64_t *nanoseconds, jester_error_t *error) {
    jester_result_u64_t ret;
    jester_import_clock_wall_now(&ret);
    if (ret.is_err == 0) {
        *nanoseconds = ret.value.ok;
        return true;
    }
    if (error) *error = ret.value.err;
    return false;
}

/** Monotonic nanoseconds from an arbitrary start; false without the `clock` permission. */
static inline bool jester_clock_monotonic_now(uint64_t *nanoseconds, jester_error_t *error) {
    jester_result_u64_t ret;
    jester_import_clock_monotonic_now(&ret);
    if (ret.is_err == 0) {
        *nanoseconds = ret.value.ok;
        return true;
    }
    if (error) *error = ret.value.err;
    return false;
}

/** `len` (at most 65536) random bytes in `*bytes` (owned); false without the `random`
    permission. */
static inline bool jester_random_bytes(size_t len, jester_bytes_t *bytes, jester_error_t *error) {
    jester_result_bytes_t ret;
    jester_import_random_get_bytes(len, &ret);
    return jester__bytes(&ret, bytes, error);
}

/* ------------------------------------------------------------------------------------------ */
/* init's result                                                                              */

/** The `init` result area: disc u8 @0; on error, the message (pointer @4, length @8). */
static inline int32_t jester__init_result(const char *message) {
    static uint32_t area[3];
    area[0] = message ? 1 : 0;
    area[1] = message ? (uint32_t)(uintptr_t)message : 0;
    area[2] = message ? (uint32_t)jester_cstr_len(message) : 0;
    return (int32_t)(uintptr_t)area;
}

/** `return jester_init_ok();` from jester_init: the instance is ready. */
static inline int32_t jester_init_ok(void) { return jester__init_result(NULL); }

/** `return jester_init_error("...");` from jester_init: the instance fails with `message`,
    which must stay valid (a string literal or a static buffer). */
static inline int32_t jester_init_error(const char *message) { return jester__init_result(message); }

#ifdef __cplusplus
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Implementation: in exactly one source file, #define JESTER_IMPLEMENTATION before including */

#ifdef JESTER_IMPLEMENTATION
#ifndef JESTER_IMPLEMENTATION_DONE
#define JESTER_IMPLEMENTATION_DONE

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__wasi__)

/* With wasi-libc: its malloc (dlmalloc over memory.grow; 16-byte aligned). */
#include <stdlib.h>

void *jester_malloc(size_t size) { return malloc(size ? size : 1); }
void jester_free(void *pointer) { free(pointer); }
void *jester_realloc(void *pointer, size_t size) { return realloc(pointer, size ? size : 1); }

#else

/* Freestanding: a small allocator over the memory above __heap_base, for one single-threaded
   instance. Blocks come in power-of-two size classes (16 B to 1 GiB) with a 16-byte header;
   a freed block goes on its class's free list and is reused, so an instance that allocates and
   frees the same amounts on every call keeps a steady size. Memory is never returned to the
   host. A block is up to twice the size asked for. */

#if !defined(__wasm_bulk_memory__)
#error "freestanding jester_http_filter.h needs bulk memory (clang >= 20 default, or -mbulk-memory)"
#endif

extern unsigned char __heap_base;

#define JESTER__CLASSES 27u
#define JESTER__HEADER 16u
#define JESTER__PAGE 65536u

typedef struct jester__block {
    uint32_t size_class;
    uint32_t in_use;
    uint32_t reserved[2];
} jester__block_t;

static uintptr_t jester__heap_start;
static uintptr_t jester__heap_top;
static uintptr_t jester__heap_end;
static void *jester__free_lists[JESTER__CLASSES];

static uint32_t jester__size_class(size_t size) {
    uint32_t size_class = 0;
    size_t capacity = 16;
    while (capacity < size) {
        capacity <<= 1;
        size_class++;
    }
    return size_class;
}

static void *jester__bump(size_t bytes) {
    if (jester__heap_start == 0) {
        jester__heap_start = ((uintptr_t)&__heap_base + 15u) & ~(uintptr_t)15u;
        jester__heap_top = jester__heap_start;
        jester__heap_end = (uintptr_t)__builtin_wasm_memory_size(0) * JESTER__PAGE;
    }
    if (bytes > (uintptr_t)-1 - jester__heap_top) return NULL;
    uintptr_t new_top = jester__heap_top + bytes;
    if (new_top > jester__heap_end) {
        size_t pages = (new_top - jester__heap_end + JESTER__PAGE - 1) / JESTER__PAGE;
        size_t old = __builtin_wasm_memory_grow(0, pages);
        if (old == (size_t)-1) return NULL;
        jester__heap_end = (uintptr_t)(old + pages) * JESTER__PAGE;
    }
    void *block = (void *)jester__heap_top;
    jester__heap_top = new_top;
    return block;
}

void *jester_malloc(size_t size) {
    if (size > ((size_t)16 << (JESTER__CLASSES - 1))) return NULL;
    uint32_t size_class = jester__size_class(size);
    unsigned char *payload = (unsigned char *)jester__free_lists[size_class];
    if (payload) {
        jester__free_lists[size_class] = *(void **)payload;
    } else {
        unsigned char *block = (unsigned char *)jester__bump(JESTER__HEADER + ((size_t)16 << size_class));
        if (!block) return NULL;
        payload = block + JESTER__HEADER;
    }
    jester__block_t *header = (jester__block_t *)(payload - JESTER__HEADER);
    header->size_class = size_class;
    header->in_use = 1;
    return payload;
}

void jester_free(void *pointer) {
    uintptr_t address = (uintptr_t)pointer;
    /* NULL, the placeholders of empty host lists (1, 4) and foreign addresses are ignored. */
    if (jester__heap_start == 0 || address < jester__heap_start + JESTER__HEADER || address >= jester__heap_top) return;
    jester__block_t *header = (jester__block_t *)(address - JESTER__HEADER);
    if (header->in_use != 1 || header->size_class >= JESTER__CLASSES) return; /* double free */
    header->in_use = 0;
    *(void **)pointer = jester__free_lists[header->size_class];
    jester__free_lists[header->size_class] = pointer;
}

void *jester_realloc(void *pointer, size_t size) {
    if (!pointer) return jester_malloc(size);
    jester__block_t *header = (jester__block_t *)((uintptr_t)pointer - JESTER__HEADER);
    size_t capacity = (size_t)16 << header->size_class;
    if (size <= capacity) return pointer;
    void *moved = jester_malloc(size);
    if (!moved) return NULL;
    __builtin_memcpy(moved, pointer, capacity);
    jester_free(pointer);
    return moved;
}

/* The C library functions compilers call even in freestanding code. Weak: yours win. */
__attribute__((weak)) void *memcpy(void *destination, const void *source, size_t count) {
    __builtin_memcpy(destination, source, count); /* memory.copy */
    return destination;
}

__attribute__((weak)) void *memmove(void *destination, const void *source, size_t count) {
    __builtin_memmove(destination, source, count); /* memory.copy */
    return destination;
}

__attribute__((weak)) void *memset(void *destination, int value, size_t count) {
    __builtin_memset(destination, value, count); /* memory.fill */
    return destination;
}

__attribute__((weak, no_builtin)) int memcmp(const void *lhs, const void *rhs, size_t count) {
    const unsigned char *a = (const unsigned char *)lhs;
    const unsigned char *b = (const unsigned char *)rhs;
    for (size_t i = 0; i < count; i++) {
        if (a[i] != b[i]) return (int)a[i] - (int)b[i];
    }
    return 0;
}

__attribute__((weak, no_builtin)) size_t strlen(const char *text) {
    size_t n = 0;
    while (text[n] != '\0') n++;
    return n;
}

#endif /* __wasi__ */

void *cabi_realloc(void *old_pointer, size_t old_size, size_t alignment, size_t new_size) {
    if (alignment > 16) __builtin_trap(); /* the host asks for 1 or 4 */
    if (new_size == 0) {
        jester_free(old_pointer);
        return (void *)(alignment ? alignment : 1);
    }
    void *pointer =
        (old_pointer && old_size) ? jester_realloc(old_pointer, new_size) : jester_malloc(new_size);
    if (!pointer) __builtin_trap(); /* out of memory: trap, never return 0 to the host */
    return pointer;
}

#ifdef __cplusplus
}
#endif

#endif /* JESTER_IMPLEMENTATION_DONE */
#endif /* JESTER_IMPLEMENTATION */

#endif /* JESTER_HTTP_FILTER_H */
