/*
 * jester_filter.h: the C ABI of Jester's dylib filters (tier C).
 *
 * A dylib filter is a native shared library that the gateway loads with dlopen and calls on
 * every request of the routes that list it. It runs UNSANDBOXED in the gateway process: it can
 * read and write any memory, and a crash, a hang or a leak in it is the gateway's. The gateway
 * refuses to load one unless it runs with `--allow-unsafe-dylib` (or `[plugins]
 * allow_unsafe_dylib = true`). Prefer a WASM filter unless you need native speed or a native
 * library. docs/filters.md has a guide; examples/filters/dylib-header/ a complete filter.
 *
 * The library exports one function, jester_filter_v1 (JESTER_FILTER_ENTRY), that returns a
 * static descriptor: the ABI version it was built against, a name, what it needs buffered, and
 * its callbacks. The gateway hands the library a table of host functions (jester_host_api) that
 * read and edit the request and response of one exchange through an opaque handle.
 *
 * Build:   cc -shared -fPIC -O2 -I include -o libmyfilter.so myfilter.c
 *
 * VERSIONING. JESTER_FILTER_ABI_VERSION_MAJOR changes when a change breaks existing libraries
 * (the entry symbol's name changes with it: jester_filter_v2, ...); the gateway refuses a
 * library of another major. The MINOR grows when something is added at the end of a struct:
 * a library built against a newer minor than the gateway's still loads, and checks
 * JESTER_HOST_HAS(api, function) before calling a host function newer than 1.0.
 *
 * STRINGS are (pointer, length) pairs of UTF-8 bytes, never NUL-terminated by requirement:
 * the library passes lengths, and may pass pointers to bytes that are not followed by a NUL.
 * A string the host gives back (get_method, get_header, ...) is a copy that stays valid until
 * the callback that received the exchange handle returns (on_request or on_response; the
 * host frees them all then), and the host writes a NUL after its last byte as a convenience.
 * A string passed to a jester_string_fn callback is valid only during that callback.
 *
 * THREADS. create and destroy are called once per filter instance, one after the other,
 * never concurrently with anything else on that instance. on_request, on_response and
 * on_finish may be called CONCURRENTLY from several threads (the gateway's event loops) on
 * the same instance, each call for a different exchange: the instance must be thread-safe
 * (immutable after create, or guarded by the library's own locks). The calls of one exchange
 * never overlap and run on one thread. A callback must not block: it holds up every request
 * of its event loop while it runs.
 *
 * The exchange handle may be used only on the thread running the callback it was passed to,
 * and only while that callback runs; otherwise every function returns JESTER_BAD_CALL (a use
 * after on_finish is undefined behaviour: the handle is freed then). log() may be called from
 * any thread, any time from the start of create to the end of destroy.
 *
 * LIBRARIES are loaded once per path (the real path, symlinks resolved) and never unloaded
 * while the gateway runs, because a request may still be inside them: to upgrade a library,
 * restart the gateway, or install the new build under a new file name (or behind a symlink
 * that now points to a new file) and reload the config.
 */
#ifndef JESTER_FILTER_H
#define JESTER_FILTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ------------------------------------------------------------------------------ */

#define JESTER_FILTER_ABI_VERSION_MAJOR 1
#define JESTER_FILTER_ABI_VERSION_MINOR 0
/* Both in one number: major << 16 | minor. */
#define JESTER_FILTER_ABI_VERSION ((JESTER_FILTER_ABI_VERSION_MAJOR << 16) | JESTER_FILTER_ABI_VERSION_MINOR)

/* ---- Return values ------------------------------------------------------------------------- */

/* What on_request and on_response return. */
/* Go on with the (possibly edited) exchange. */
#define JESTER_CONTINUE 0
/* In on_request: answer now with the response side of the exchange (status, headers and body
 * set with set_status, set_header and set_body; a fresh 200 with no headers and an empty body
 * until then); the upstream is not called, the response filters still run. In on_response:
 * the same as JESTER_CONTINUE (edit the response in place instead). */
#define JESTER_RESPOND 1
/* The filter failed: the route entry's failure_policy decides (fail_closed answers 500).
 * Call set_error first to say why; the reason goes to the gateway's log, not to the client. */
#define JESTER_FAIL 2
/* Like JESTER_FAIL, but the filter is unavailable (busy, over a limit, a backend down):
 * fail_closed answers 503 instead of 500. */
#define JESTER_UNAVAILABLE 3

/* What host functions return. */
#define JESTER_OK 0
/* get_header: the header is not present. */
#define JESTER_NOT_FOUND 1
/* An argument is not valid (a header name that is not an RFC 9110 token, a value with CR, LF
 * or NUL, a path without a leading '/', a status outside 100..999, bytes that are not UTF-8, a
 * NULL output pointer, an unknown message); nothing was changed. */
#define JESTER_INVALID 2
/* get_body: that body was not buffered; set JESTER_FILTER_BUFFER_REQUEST_BODY or
 * JESTER_FILTER_BUFFER_RESPONSE_BODY in the descriptor. */
#define JESTER_NOT_BUFFERED 3
/* get_body: the body was larger than the buffer limit. */
#define JESTER_TOO_LARGE 4
/* The exchange handle was used outside the callback it was given to, or from another thread. */
#define JESTER_BAD_CALL 5

/* Which message of the exchange a header or body function works on. */
#define JESTER_REQUEST 0
#define JESTER_RESPONSE 1

/* Log levels for log(). */
#define JESTER_LOG_TRACE 0
#define JESTER_LOG_DEBUG 1
#define JESTER_LOG_INFO 2
#define JESTER_LOG_WARN 3
#define JESTER_LOG_ERROR 4

/* ---- The host's side ----------------------------------------------------------------------- */

/* One request and its response, as a filter sees them: valid during one callback (above). */
typedef struct jester_exchange jester_exchange;
/* The gateway's side of one filter instance, for log(). */
typedef struct jester_host jester_host;

/* Receives one string of a list; `ptr` is valid only during the call. */
typedef void (*jester_string_fn)(void *context, const char *ptr, size_t len);

/*
 * The host functions, given to create(). The table and `host` stay valid until destroy()
 * returns (or until create() returns, when it fails): keep the pointer in the instance.
 *
 * Unless said otherwise a function returns JESTER_OK or one of the JESTER_* codes above.
 * Setters change nothing when they return something else than JESTER_OK. Header names are
 * compared case-insensitively.
 */
typedef struct jester_host_api {
    /* sizeof(jester_host_api) as the gateway built it; see JESTER_HOST_HAS. */
    uint32_t size;
    /* The gateway's ABI version. */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Pass to log(). */
    jester_host *host;

    /* Writes one message to the gateway's log, tagged with the filter's label; at most 8 KiB
     * of it is kept. Any thread, any time between create and the end of destroy. */
    void (*log)(jester_host *host, int level, const char *msg, size_t len);

    /* The request line. */
    /* The method, as the client sent it (`GET`). */
    int (*get_method)(jester_exchange *x, const char **ptr, size_t *len);
    /* Replaces the method; JESTER_INVALID unless it is a token. */
    int (*set_method)(jester_exchange *x, const char *ptr, size_t len);
    /* The path without the query (`/api/users`); it always starts with '/'. */
    int (*get_path)(jester_exchange *x, const char **ptr, size_t *len);
    /* Replaces the path: it must start with '/' and hold no space, control character, '?' or '#'. */
    int (*set_path)(jester_exchange *x, const char *ptr, size_t len);
    /* The query without '?' (`a=1&b=2`); empty when the request had none. */
    int (*get_query)(jester_exchange *x, const char **ptr, size_t *len);
    /* Replaces the query (without '?'; empty removes it); no space, control character or '#'. */
    int (*set_query)(jester_exchange *x, const char *ptr, size_t len);
    /* The client's IP address (`203.0.113.7`, `::1`). */
    int (*get_client_address)(jester_exchange *x, const char **ptr, size_t *len);

    /* Headers of `message` (JESTER_REQUEST or JESTER_RESPONSE). */
    /* The first value of a header; JESTER_NOT_FOUND when it is absent. */
    int (*get_header)(jester_exchange *x, int message, const char *name, size_t name_len, const char **value, size_t *value_len);
    /* Calls fn with every value of a header, in order (not at all when it is absent). */
    int (*each_header_value)(jester_exchange *x, int message, const char *name, size_t name_len, jester_string_fn fn, void *context);
    /* Calls fn with the name of every header, lower-case, in order, each name once. */
    int (*each_header_name)(jester_exchange *x, int message, jester_string_fn fn, void *context);
    /* Sets a header, replacing every value it had. */
    int (*set_header)(jester_exchange *x, int message, const char *name, size_t name_len, const char *value, size_t value_len);
    /* Adds a value to a header, keeping those it had. */
    int (*add_header)(jester_exchange *x, int message, const char *name, size_t name_len, const char *value, size_t value_len);
    /* Removes every value of a header (JESTER_OK when it was absent too). */
    int (*remove_header)(jester_exchange *x, int message, const char *name, size_t name_len);

    /* Bodies. */
    /* The whole body of `message`, when the descriptor asked for it to be buffered; in
     * on_request, the response's body is what set_body set (empty until then). The pointer is
     * never NULL, even for an empty body. */
    int (*get_body)(jester_exchange *x, int message, const uint8_t **ptr, size_t *len);
    /* Replaces the body (the gateway sets content-length). On the request without buffering,
     * the body the client sends is dropped and this one is sent instead. */
    int (*set_body)(jester_exchange *x, int message, const uint8_t *ptr, size_t len);

    /* The response status: the upstream's in on_response, 200 in on_request until set. */
    int (*get_status)(jester_exchange *x, int *status);
    /* Replaces the status; JESTER_INVALID unless it is 100..999. */
    int (*set_status)(jester_exchange *x, int status);

    /* Why the callback is about to return JESTER_FAIL or JESTER_UNAVAILABLE (for the log). */
    int (*set_error)(jester_exchange *x, const char *msg, size_t len);

    /* Per-request data of this filter, kept from on_request to on_response of the same
     * exchange (the handle is the same in both); NULL until set. When it is not NULL at the
     * end of the request, the gateway passes it to the descriptor's on_finish to free. */
    int (*set_request_data)(jester_exchange *x, void *data);
    int (*get_request_data)(jester_exchange *x, void **data);
} jester_host_api;

/* Whether `api` has the function `field` (added in some minor version): use before calling
 * a function newer than the minor the library requires. */
#define JESTER_HOST_HAS(api, field) \
    ((api)->size >= offsetof(jester_host_api, field) + sizeof((api)->field) && (api)->field != NULL)

/* ---- The library's side -------------------------------------------------------------------- */

/* Descriptor flags. */
/* Buffer the whole request body before on_request (get_body(x, JESTER_REQUEST, ...)). */
#define JESTER_FILTER_BUFFER_REQUEST_BODY 0x1u
/* Buffer the whole response body before on_response (get_body(x, JESTER_RESPONSE, ...)). */
#define JESTER_FILTER_BUFFER_RESPONSE_BODY 0x2u

/*
 * What jester_filter_v1 returns: static data of the library, read once at load.
 *
 * Only abi_major, abi_minor, size and name are required; a NULL callback is skipped (a filter
 * without on_response, or without state and so without create and destroy).
 */
typedef struct jester_filter_descriptor {
    /* JESTER_FILTER_ABI_VERSION_MAJOR and _MINOR, as the library was built. These two stay
     * the first fields in every version, so that a gateway can tell a library of another major. */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* sizeof(jester_filter_descriptor) as the library was built. */
    uint32_t size;
    /* A short name for logs and errors (`api-key`), NUL-terminated UTF-8. */
    const char *name;
    /* JESTER_FILTER_BUFFER_* bits; the gateway refuses bits it does not know. */
    uint32_t flags;
    /* The largest body the gateway buffers for the filter; a larger one is a filter failure
     * (413 for requests). 0: the default, 1 MiB. */
    uint64_t max_body_bytes;

    /* Makes one instance from the route entry's `config` table, as JSON (an object, `{}` when
     * the entry has none; `config_json[config_len]` is a NUL, as a convenience). On a bad
     * config, write a NUL-terminated message of at most err_len bytes to `err` and return NULL:
     * the gateway refuses the config with that message. Called once per route entry, on any
     * thread; a reload keeps the instance while the route, the entry, the library's real path
     * and the config stay the same, and calls create again otherwise. The config text is valid
     * only during the call. */
    void *(*create)(const jester_host_api *api, const char *config_json, size_t config_len, char *err, size_t err_len);
    /* The request phase, before the route's action: returns JESTER_CONTINUE, JESTER_RESPOND,
     * JESTER_FAIL or JESTER_UNAVAILABLE (any other value is a failure). */
    int (*on_request)(void *instance, jester_exchange *x);
    /* The response phase, before the response goes to the client; same return values. */
    int (*on_response)(void *instance, jester_exchange *x);
    /* The request is over (answered, failed or abandoned by the client): free `request_data`,
     * which set_request_data set (called only when it is not NULL). */
    void (*on_finish)(void *instance, void *request_data);
    /* Frees the instance, once no exchange can use it any more (after a reload that dropped
     * the route entry, or at shutdown), on any thread. */
    void (*destroy)(void *instance);
} jester_filter_descriptor;

/* ---- The entry point ----------------------------------------------------------------------- */

#if defined(_WIN32)
#define JESTER_FILTER_EXPORT __declspec(dllexport)
#else
#define JESTER_FILTER_EXPORT __attribute__((visibility("default")))
#endif

/* The symbol the gateway looks up; it changes with the major version. */
#define JESTER_FILTER_ENTRY jester_filter_v1
#define JESTER_FILTER_ENTRY_NAME "jester_filter_v1"

/* The function the library defines:
 *
 *     static const jester_filter_descriptor descriptor = {
 *         .abi_major = JESTER_FILTER_ABI_VERSION_MAJOR,
 *         .abi_minor = JESTER_FILTER_ABI_VERSION_MINOR,
 *         .size = sizeof(jester_filter_descriptor),
 *         .name = "my-filter",
 *         .create = my_create, .on_request = my_on_request, .destroy = my_destroy,
 *     };
 *     JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void) { return &descriptor; }
 */
JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* JESTER_FILTER_H */
