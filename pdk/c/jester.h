/*
 * jester.h: what every Jester guest in C shares (wit/jester.wit, package jester:plugin@0.1.0).
 *
 * The types of the `types` interface, the host interfaces every world imports (`log`, `config`,
 * `clock`, `random`), the lifecycle exports (`init`, `health`, `shutdown`), a growable byte
 * buffer, and, in the one source file that defines JESTER_IMPLEMENTATION before including a
 * Jester header, the allocator and the `cabi_realloc` export the host allocates through.
 *
 * Include the header of your world rather than this one:
 *
 *   - jester_handler.h      the `handler` world: bytes in, bytes out (`handle`)
 *   - jester_http_filter.h  the `http-filter` world: `on-request`, `on-response`
 *
 * Both include this header; one module may include both and be a handler and a filter.
 *
 * Two ways to build (pdk/c/README.md has the details):
 *
 *   - Freestanding, no C library (what `jester plugin build` does), with the clang of the Swift
 *     6.3 toolchain or any clang >= 20 with the WebAssembly target:
 *       clang --target=wasm32 -nostdlib -ffreestanding -std=c17 -Os -Ipdk/c \
 *         -Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=131072 -Wl,--strip-debug \
 *         plugin.c -o plugin.wasm
 *     The implementation part then also defines memcpy, memmove, memset, memcmp and strlen
 *     (weak, so a definition of your own wins); bulk memory must be enabled (the default
 *     since clang 20, or -mbulk-memory).
 *   - With wasi-libc (Debian: clang-14, lld-14, wasi-libc, libclang-rt-14-dev-wasm32), in
 *     WASI's reactor model (what `jester plugin build --libc` does):
 *       clang-14 --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -std=c17 -Os -Ipdk/c \
 *         -Wl,--stack-first -Wl,-z,stack-size=131072 -Wl,--strip-all plugin.c -o plugin.wasm
 *     The allocator is then libc's malloc. C library functions that need no WASI (string.h,
 *     malloc, snprintf into a buffer) import nothing; printf to stdout imports WASI preview 1
 *     (fd_write and a few more), which Jester provides to every plugin: stdout and stderr go to
 *     the plugin's log, and files, the environment, clocks and randomness are refused unless the
 *     manifest asks for them and the host grants them.
 *
 * Ownership (docs/abi.md, "Ownership, in short"): strings, byte lists and string lists the
 * helpers return are allocated in guest memory by the host and belong to you; free them with
 * jester_string_free, jester_bytes_free or jester_string_list_free. Empty ones are returned
 * as {NULL, 0} and need no freeing (freeing them is harmless). Strings you pass in are
 * borrowed for the call; the host copies them.
 *
 * Host calls never trap for want of a permission: clock and random return false with
 * JESTER_ERROR_PERMISSION_DENIED unless the manifest asks for the permission and the host
 * grants it. log and config are always allowed.
 */
#ifndef JESTER_H
#define JESTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__wasm32__)
#error "the Jester C PDK is for WebAssembly guests: compile with --target=wasm32 (or wasm32-wasi)"
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

/** The WIT name of an error code (`permission-denied`), for messages and logs. */
static inline const char *jester_error_name(jester_error_t error) {
    switch (error) {
    case JESTER_ERROR_PERMISSION_DENIED: return "permission-denied";
    case JESTER_ERROR_INVALID_ARGUMENT: return "invalid-argument";
    case JESTER_ERROR_NOT_FOUND: return "not-found";
    case JESTER_ERROR_LIMIT_EXCEEDED: return "limit-exceeded";
    case JESTER_ERROR_UNAVAILABLE: return "unavailable";
    default: return "internal";
    }
}

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
/* Lifecycle exports, shared by every world: define the ones you want (each is optional)      */

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
/* Raw imports of log, config, clock and random: exact core signatures (docs/abi.md).         */
/* Prefer the helpers further down.                                                           */

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

static inline bool jester__u64(const jester_result_u64_t *area, uint64_t *value, jester_error_t *error) {
    if (area->is_err == 0) {
        *value = area->value.ok;
        return true;
    }
    if (error) *error = area->value.err;
    return false;
}

/** Wall-clock nanoseconds since the Unix epoch; false without the `clock` permission, with the
    reason in `*error` (may be NULL). */
static inline bool jester_clock_wall_now(uint64_t *nanoseconds, jester_error_t *error) {
    jester_result_u64_t ret;
    jester_import_clock_wall_now(&ret);
    return jester__u64(&ret, nanoseconds, error);
}

/** Monotonic nanoseconds from an arbitrary start; false without the `clock` permission. */
static inline bool jester_clock_monotonic_now(uint64_t *nanoseconds, jester_error_t *error) {
    jester_result_u64_t ret;
    jester_import_clock_monotonic_now(&ret);
    return jester__u64(&ret, nanoseconds, error);
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

/* ------------------------------------------------------------------------------------------ */
/* A growable byte buffer, for building outputs, bodies and log lines without a C library    */

/** Bytes being built: start with `jester_buffer_t buffer = {0};`, append, then hand `ptr` and
    `len` to the host (or to jester_ok_buffer in a handler) and jester_buffer_free it. When
    memory runs out, `failed` is set, later appends do nothing, and the contents are
    incomplete: check it before using them. */
typedef struct jester_buffer {
    uint8_t *ptr;
    size_t len;
    size_t cap;
    bool failed;
} jester_buffer_t;

/** Appends `count` bytes at `data`. */
static inline void jester_buffer_append(jester_buffer_t *buffer, const void *data, size_t count) {
    if (buffer->failed || count == 0) return;
    if (count > (size_t)-1 - buffer->len) {
        buffer->failed = true;
        return;
    }
    if (buffer->len + count > buffer->cap) {
        size_t cap = buffer->cap ? buffer->cap : 64;
        while (cap < buffer->len + count) cap = cap > (size_t)-1 / 2 ? buffer->len + count : cap * 2;
        uint8_t *grown = (uint8_t *)jester_realloc(buffer->ptr, cap);
        if (!grown) {
            buffer->failed = true;
            return;
        }
        buffer->ptr = grown;
        buffer->cap = cap;
    }
    __builtin_memcpy(buffer->ptr + buffer->len, data, count);
    buffer->len += count;
}

/** Appends one byte. */
static inline void jester_buffer_append_byte(jester_buffer_t *buffer, uint8_t byte) {
    jester_buffer_append(buffer, &byte, 1);
}

/** Appends a NUL-terminated string (without the NUL). */
static inline void jester_buffer_append_cstr(jester_buffer_t *buffer, const char *text) {
    jester_buffer_append(buffer, text, jester_cstr_len(text));
}

/** Appends a jester_string_t. */
static inline void jester_buffer_append_string(jester_buffer_t *buffer, jester_string_t string) {
    jester_buffer_append(buffer, string.ptr, string.len);
}

/** Appends `value` in decimal. */
static inline void jester_buffer_append_u64(jester_buffer_t *buffer, uint64_t value) {
    char digits[20];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (count > 0) jester_buffer_append_byte(buffer, (uint8_t)digits[--count]);
}

/** Appends `count` bytes as lower-case hex, two digits a byte. */
static inline void jester_buffer_append_hex(jester_buffer_t *buffer, const void *data, size_t count) {
    static const char digits[] = "0123456789abcdef";
    const uint8_t *bytes = (const uint8_t *)data;
    for (size_t i = 0; i < count; i++) {
        char pair[2] = {digits[bytes[i] >> 4], digits[bytes[i] & 15]};
        jester_buffer_append(buffer, pair, 2);
    }
}

/** Frees the buffer's memory and empties it. */
static inline void jester_buffer_free(jester_buffer_t *buffer) {
    jester_free(buffer->ptr);
    *buffer = (jester_buffer_t){0};
}

/** Logs what `buffer` holds (nothing if it failed). */
static inline void jester_log_buffer(jester_log_level_t level, const jester_buffer_t *buffer) {
    if (!buffer->failed) jester_log_n(level, (const char *)buffer->ptr, buffer->len);
}

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
#error "the freestanding Jester C PDK needs bulk memory (clang >= 20 default, or -mbulk-memory)"
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

#endif /* JESTER_H */

