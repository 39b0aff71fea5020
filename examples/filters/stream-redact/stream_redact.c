/*
 * stream-redact: an http-filter in C that masks a word in request and response bodies as they
 * stream, without buffering them, and tells the client how many request body bytes it saw.
 *
 *   jester plugin build examples/filters/stream-redact
 *
 * It uses the body hooks of the http-filter world (docs/abi.md, "Body hooks"):
 *
 *   on-request-body   masks the word in the request body on its way to the upstream, and
 *                     counts the request body's bytes;
 *   on-response-body  masks the word in the response body on its way to the client;
 *   on-request        starts the count afresh (an instance serves one request at a time, and
 *                     the next request may get the same instance);
 *   on-response       adds `x-request-body-bytes: N` to the response.
 *
 * "secret" becomes "******" even when the upstream sends "sec" in one chunk and "ret" in the
 * next: a chunk that ends with the start of the word keeps those bytes back (returns less than
 * it was given) and sends them with the next chunk, or at the end. A chunk with nothing to mask
 * and nothing held back is answered `none`, so the gateway forwards it without a copy.
 *
 * Config (see config_schema in plugin.json):
 *   word  the bytes to mask, compared exactly (1 to 64 bytes). Default: "secret".
 *   mask  the character each byte of the word becomes. Default: "*".
 */
#define JESTER_IMPLEMENTATION
#include "jester_http_filter.h"

#define MAX_WORD 64

static uint8_t word[MAX_WORD];
static size_t word_len;
static uint8_t mask = '*';

/* What one direction keeps between chunks: the bytes held back (a possible start of the word)
   and how many body bytes went through. */
typedef struct stream {
    uint8_t held[MAX_WORD];
    size_t held_len;
    uint64_t bytes;
} stream_t;

static stream_t request_stream;
static stream_t response_stream;

int32_t jester_init(void) {
    jester_string_t value;
    if (jester_config_get("word", &value)) {
        if (value.len == 0 || value.len > MAX_WORD) {
            jester_string_free(&value);
            return jester_init_error("config word must be 1 to 64 bytes");
        }
        __builtin_memcpy(word, value.ptr, value.len);
        word_len = value.len;
        jester_string_free(&value);
    } else {
        __builtin_memcpy(word, "secret", 6);
        word_len = 6;
    }
    if (jester_config_get("mask", &value)) {
        if (value.len != 1) {
            jester_string_free(&value);
            return jester_init_error("config mask must be one character");
        }
        mask = (uint8_t)value.ptr[0];
        jester_string_free(&value);
    }
    return jester_init_ok();
}

static bool matches_at(const uint8_t *data, size_t len, size_t at) {
    if (len - at < word_len) return false;
    for (size_t i = 0; i < word_len; i++) {
        if (data[at + i] != word[i]) return false;
    }
    return true;
}

/* The length of the longest end of `data` (shorter than the word) that is a start of the word:
   the bytes to hold back until the next chunk shows whether the word follows. */
static size_t partial_match(const uint8_t *data, size_t len) {
    size_t longest = word_len - 1 < len ? word_len - 1 : len;
    for (size_t k = longest; k > 0; k--) {
        bool same = true;
        for (size_t i = 0; i < k && same; i++) same = data[len - k + i] == word[i];
        if (same) return k;
    }
    return 0;
}

/* Masks the word in `data` in place; returns whether anything was masked. */
static bool mask_all(uint8_t *data, size_t len) {
    bool masked = false;
    for (size_t at = 0; at + word_len <= len;) {
        if (matches_at(data, len, at)) {
            for (size_t i = 0; i < word_len; i++) data[at + i] = mask;
            at += word_len;
            masked = true;
        } else {
            at++;
        }
    }
    return masked;
}

/* One chunk of one direction: the held bytes and the chunk are joined, masked, and all but a
   new partial match at the end go on. At the end of the body everything goes. */
static jester_chunk_result_t redact(stream_t *stream, jester_bytes_t chunk, bool end) {
    stream->bytes += chunk.len;
    if (stream->held_len == 0) {
        /* The common case: nothing held. Edit the chunk in place, and say `none` if unchanged. */
        bool masked = mask_all(chunk.ptr, chunk.len);
        size_t keep = end ? 0 : partial_match(chunk.ptr, chunk.len);
        if (!masked && keep == 0) return jester_chunk_unchanged();
        __builtin_memcpy(stream->held, chunk.ptr + chunk.len - keep, keep);
        stream->held_len = keep;
        return jester_chunk_replace(chunk.ptr, chunk.len - keep);
    }
    jester_buffer_t joined = {0};
    jester_buffer_append(&joined, stream->held, stream->held_len);
    jester_buffer_append(&joined, chunk.ptr, chunk.len);
    if (joined.failed) __builtin_trap();
    mask_all(joined.ptr, joined.len);
    size_t keep = end ? 0 : partial_match(joined.ptr, joined.len);
    __builtin_memcpy(stream->held, joined.ptr + joined.len - keep, keep);
    stream->held_len = keep;
    joined.len -= keep;
    return jester_chunk_replace_buffer(&joined);
}

static jester_chunk_result_t request_body(jester_request_t request, jester_bytes_t chunk, bool end) {
    (void)request;
    return redact(&request_stream, chunk, end);
}

static jester_chunk_result_t response_body(jester_request_t request, jester_response_t response, jester_bytes_t chunk,
                                           bool end) {
    (void)request;
    (void)response;
    jester_chunk_result_t result = redact(&response_stream, chunk, end);
    if (end) response_stream = (stream_t){0};
    return result;
}

JESTER_ON_REQUEST_BODY(request_body)
JESTER_ON_RESPONSE_BODY(response_body)

jester_action_t jester_on_request(jester_request_t request, jester_response_t response) {
    (void)request;
    (void)response;
    request_stream = (stream_t){0};
    response_stream = (stream_t){0};
    return JESTER_CONTINUE;
}

jester_action_t jester_on_response(jester_request_t request, jester_response_t response) {
    (void)request;
    jester_buffer_t count = {0};
    jester_buffer_append_u64(&count, request_stream.bytes);
    if (!count.failed) jester_response_set_header_n(response, "x-request-body-bytes", (const char *)count.ptr, count.len);
    jester_buffer_free(&count);
    return JESTER_CONTINUE;
}
