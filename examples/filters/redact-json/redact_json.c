/*
 * redact-json: an http-filter in C that replaces the values of chosen fields in JSON response
 * bodies with "[redacted]".
 *
 *   jester plugin build examples/filters/redact-json
 *
 * It exports only on-response. The manifest asks the gateway to buffer response bodies
 * (http_filter.buffer_response_body), so response.body() returns the whole body; the filter
 * scans it, and when a field matched, replaces the body with set-body (the gateway fixes
 * content-length).
 *
 * Config (see config_schema in plugin.json):
 *   fields       the object keys whose values are replaced, at any depth; a JSON array of
 *                strings, or a comma-separated string. Default: ["password", "ssn"].
 *   replacement  the string put in their place. Default: "[redacted]".
 *
 * The scanner is deliberately small: it finds every string that is followed by `:` (an object
 * key), compares it, after decoding its escapes, with the fields, and replaces the whole value
 * that follows, whatever its type (a nested object or array goes with it). It does not
 * validate the JSON; on a body that ends early, a matching value is replaced to the end.
 */
#define JESTER_IMPLEMENTATION
#include "jester_http_filter.h"

/* The most fields, and the longest field name in bytes. */
#define MAX_FIELDS 64
#define MAX_FIELD_BYTES 256

/* ------------------------------------------------------------------------------------------ */
/* JSON scanning                                                                              */

static bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t skip_space(const uint8_t *json, size_t count, size_t i) {
    while (i < count && is_space(json[i])) i++;
    return i;
}

/* The index just past the string that starts with the quote at `i`, or `count` when the
   body ends inside it (then `*terminated` is false). */
static size_t skip_string(const uint8_t *json, size_t count, size_t i, bool *terminated) {
    i++;
    while (i < count) {
        if (json[i] == '\\') {
            i += 2;
        } else if (json[i] == '"') {
            if (terminated) *terminated = true;
            return i + 1;
        } else {
            i++;
        }
    }
    if (terminated) *terminated = false;
    return count;
}

/* The index just past the value that starts at `i`: a string, an object or array (with all it
   holds), or a number, true, false or null. `count` when the body ends first. */
static size_t skip_value(const uint8_t *json, size_t count, size_t i) {
    if (i >= count) return count;
    if (json[i] == '"') return skip_string(json, count, i, NULL);
    if (json[i] == '{' || json[i] == '[') {
        size_t depth = 0;
        while (i < count) {
            uint8_t c = json[i];
            if (c == '"') {
                i = skip_string(json, count, i, NULL);
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
            i++;
        }
        return count;
    }
    while (i < count && json[i] != ',' && json[i] != '}' && json[i] != ']' && !is_space(json[i])) i++;
    return i;
}

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits of a \u escape at `i`; -1 if they are not there. */
static int32_t read_hex4(const uint8_t *json, size_t end, size_t i) {
    if (i + 4 > end) return -1;
    int32_t value = 0;
    for (size_t k = 0; k < 4; k++) {
        int digit = hex_digit(json[i + k]);
        if (digit < 0) return -1;
        value = value * 16 + digit;
    }
    return value;
}

/* Writes `scalar` as UTF-8 at `out` (room for 4 bytes); returns the byte count. */
static size_t encode_utf8(uint32_t scalar, uint8_t *out) {
    if (scalar < 0x80) {
        out[0] = (uint8_t)scalar;
        return 1;
    }
    if (scalar < 0x800) {
        out[0] = (uint8_t)(0xC0 | (scalar >> 6));
        out[1] = (uint8_t)(0x80 | (scalar & 0x3F));
        return 2;
    }
    if (scalar < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (scalar >> 12));
        out[1] = (uint8_t)(0x80 | ((scalar >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (scalar & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (scalar >> 18));
    out[1] = (uint8_t)(0x80 | ((scalar >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((scalar >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (scalar & 0x3F));
    return 4;
}

/* Decodes the contents of a JSON string, json[start..end) (without the quotes), into `out`.
   Returns the decoded length, or (size_t)-1 when it needs more than `capacity` bytes. The
   decoded form is never longer than the encoded one. */
static size_t decode_string(const uint8_t *json, size_t start, size_t end, uint8_t *out, size_t capacity) {
    size_t length = 0;
    size_t i = start;
    while (i < end) {
        uint8_t scratch[4];
        size_t produced;
        uint8_t c = json[i];
        if (c != '\\' || i + 1 >= end) {
            scratch[0] = c;
            produced = 1;
            i++;
        } else {
            uint8_t escape = json[i + 1];
            i += 2;
            switch (escape) {
            case 'b': scratch[0] = '\b'; produced = 1; break;
            case 'f': scratch[0] = '\f'; produced = 1; break;
            case 'n': scratch[0] = '\n'; produced = 1; break;
            case 'r': scratch[0] = '\r'; produced = 1; break;
            case 't': scratch[0] = '\t'; produced = 1; break;
            case 'u': {
                int32_t unit = read_hex4(json, end, i);
                if (unit < 0) {
                    scratch[0] = 'u';
                    produced = 1;
                    break;
                }
                i += 4;
                uint32_t scalar = (uint32_t)unit;
                if (unit >= 0xD800 && unit <= 0xDBFF && i + 6 <= end && json[i] == '\\' && json[i + 1] == 'u') {
                    int32_t low = read_hex4(json, end, i + 2);
                    if (low >= 0xDC00 && low <= 0xDFFF) {
                        scalar = 0x10000 + (((uint32_t)unit - 0xD800) << 10) + ((uint32_t)low - 0xDC00);
                        i += 6;
                    }
                }
                if (scalar >= 0xD800 && scalar <= 0xDFFF) scalar = 0xFFFD; /* a lone surrogate */
                produced = encode_utf8(scalar, scratch);
                break;
            }
            default: /* \" \\ \/ and anything else: the character itself */
                scratch[0] = escape;
                produced = 1;
                break;
            }
        }
        if (length + produced > capacity) return (size_t)-1;
        __builtin_memcpy(out + length, scratch, produced);
        length += produced;
    }
    return length;
}

/* Appends `text` as a JSON string literal, quotes included. */
static void append_json_string(jester_buffer_t *out, const uint8_t *text, size_t count) {
    static const char hex[] = "0123456789abcdef";
    jester_buffer_append_byte(out, '"');
    for (size_t i = 0; i < count; i++) {
        uint8_t c = text[i];
        if (c == '"' || c == '\\') {
            jester_buffer_append_byte(out, '\\');
            jester_buffer_append_byte(out, c);
        } else if (c < 0x20) {
            uint8_t escape[6] = {'\\', 'u', '0', '0', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15]};
            jester_buffer_append(out, escape, sizeof escape);
        } else {
            jester_buffer_append_byte(out, c);
        }
    }
    jester_buffer_append_byte(out, '"');
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                              */

typedef struct field {
    const uint8_t *ptr;
    size_t len;
} field_t;

typedef struct field_set {
    field_t items[MAX_FIELDS];
    size_t count;
    uint8_t *storage; /* the decoded names */
} field_set_t;

static void add_field(field_set_t *set, const uint8_t *name, size_t len) {
    if (len == 0 || len > MAX_FIELD_BYTES) return;
    if (set->count == MAX_FIELDS) {
        jester_log(JESTER_LOG_WARN, "redact-json: more than 64 fields configured; the rest are ignored");
        return;
    }
    set->items[set->count++] = (field_t){name, len};
}

/* Reads `fields`: a JSON array of strings (how the gateway passes a TOML array), or a
   comma-separated list (as `jester plugin call --config fields=a,b` passes it). */
static void load_fields(field_set_t *set) {
    *set = (field_set_t){0};
    jester_string_t value;
    if (!jester_config_get("fields", &value)) {
        static const char *defaults[] = {"password", "ssn"};
        for (size_t i = 0; i < 2; i++) add_field(set, (const uint8_t *)defaults[i], jester_cstr_len(defaults[i]));
        return;
    }
    const uint8_t *text = (const uint8_t *)value.ptr;
    size_t count = value.len;
    set->storage = (uint8_t *)jester_malloc(count ? count : 1);
    if (!set->storage) __builtin_trap();
    size_t used = 0;
    size_t i = skip_space(text, count, 0);
    if (i < count && text[i] == '[') {
        i++;
        while (i < count) {
            i = skip_space(text, count, i);
            if (i >= count || text[i] == ']') break;
            if (text[i] == '"') {
                bool terminated;
                size_t end = skip_string(text, count, i, &terminated);
                size_t length = decode_string(text, i + 1, terminated ? end - 1 : end, set->storage + used, count - used);
                if (length != (size_t)-1) {
                    add_field(set, set->storage + used, length);
                    used += length;
                }
                i = end;
            } else {
                jester_log(JESTER_LOG_WARN, "redact-json: config fields holds a value that is not a string; ignored");
                i = skip_value(text, count, i);
            }
            i = skip_space(text, count, i);
            if (i < count && text[i] == ',') i++;
        }
    } else {
        while (i < count) {
            size_t start = skip_space(text, count, i);
            size_t end = start;
            while (end < count && text[end] != ',') end++;
            size_t last = end;
            while (last > start && is_space(text[last - 1])) last--;
            __builtin_memcpy(set->storage + used, text + start, last - start);
            add_field(set, set->storage + used, last - start);
            used += last - start;
            i = end + 1;
        }
    }
    jester_string_free(&value);
}

static bool field_matches(const field_set_t *set, const uint8_t *name, size_t len) {
    for (size_t k = 0; k < set->count; k++) {
        if (set->items[k].len == len && __builtin_memcmp(set->items[k].ptr, name, len) == 0) return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Redaction                                                                                  */

/* Copies `json` to `out` with the value of every key in `fields` replaced by `replacement` (a
   JSON literal); returns how many values were replaced. `out` is only written when the count
   is not zero. */
static size_t redact(const uint8_t *json, size_t count, const field_set_t *fields, const jester_buffer_t *replacement,
                     jester_buffer_t *out) {
    uint8_t key[MAX_FIELD_BYTES];
    size_t replaced = 0;
    size_t copied = 0; /* json[..copied) is in `out` already */
    size_t i = 0;
    while (i < count) {
        if (json[i] != '"') {
            i++;
            continue;
        }
        bool terminated;
        size_t end = skip_string(json, count, i, &terminated);
        if (!terminated) break;
        size_t colon = skip_space(json, count, end);
        if (colon < count && json[colon] == ':') {
            size_t length = decode_string(json, i + 1, end - 1, key, sizeof key);
            if (length != (size_t)-1 && field_matches(fields, key, length)) {
                size_t value = skip_space(json, count, colon + 1);
                if (value >= count) break;
                size_t value_end = skip_value(json, count, value);
                jester_buffer_append(out, json + copied, value - copied);
                jester_buffer_append(out, replacement->ptr, replacement->len);
                copied = value_end;
                replaced++;
                i = value_end;
                continue;
            }
        }
        i = end;
    }
    if (replaced > 0) jester_buffer_append(out, json + copied, count - copied);
    return replaced;
}

/* Whether `string` contains `needle` (lower-case ASCII), ignoring ASCII case. */
static bool contains_ignoring_case(jester_string_t string, const char *needle) {
    size_t n = jester_cstr_len(needle);
    for (size_t i = 0; i + n <= string.len; i++) {
        size_t k = 0;
        while (k < n) {
            char c = string.ptr[i + k];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (c != needle[k]) break;
            k++;
        }
        if (k == n) return true;
    }
    return false;
}

/* A JSON body in plain bytes: content-type names JSON and no content-encoding compresses it. */
static bool is_plain_json(jester_response_t response) {
    jester_string_t type;
    if (!jester_response_header(response, "content-type", &type)) return false;
    bool json = contains_ignoring_case(type, "json");
    jester_string_free(&type);
    if (!json) return false;
    jester_string_t encoding;
    if (jester_response_header(response, "content-encoding", &encoding)) {
        bool identity = encoding.len == 0 || contains_ignoring_case(encoding, "identity");
        jester_string_free(&encoding);
        if (!identity) {
            jester_log(JESTER_LOG_DEBUG, "redact-json: the body is compressed (content-encoding); left as it is");
            return false;
        }
    }
    return true;
}

jester_action_t jester_on_response(jester_request_t request, jester_response_t response) {
    (void)request;
    if (!is_plain_json(response)) return JESTER_CONTINUE;

    jester_bytes_t body;
    jester_error_t error = JESTER_ERROR_INTERNAL;
    if (!jester_response_body(response, &body, &error)) {
        if (error == JESTER_ERROR_LIMIT_EXCEEDED) {
            /* Fail closed: a body too large to scan could hold what must not leave. */
            jester_log(JESTER_LOG_WARN, "redact-json: the response body is over http_filter.max_body_bytes; answering 502");
            static const char message[] = "{\"error\":\"the response was too large to redact\"}";
            jester_response_set_status(response, 502);
            jester_response_set_header(response, "content-type", "application/json");
            jester_response_set_body(response, message, sizeof message - 1);
        } else {
            jester_log(JESTER_LOG_ERROR, "redact-json: the response body is unavailable; the manifest must set "
                                         "http_filter.buffer_response_body");
        }
        return JESTER_CONTINUE;
    }

    field_set_t fields;
    load_fields(&fields);
    jester_buffer_t replacement = {0};
    jester_string_t configured;
    if (jester_config_get("replacement", &configured)) {
        append_json_string(&replacement, (const uint8_t *)configured.ptr, configured.len);
        jester_string_free(&configured);
    } else {
        jester_buffer_append_cstr(&replacement, "\"[redacted]\"");
    }

    jester_buffer_t out = {0};
    size_t replaced = redact(body.ptr, body.len, &fields, &replacement, &out);
    if (out.failed || replacement.failed) __builtin_trap(); /* out of memory: never send it unredacted */
    if (replaced > 0) {
        jester_response_set_body(response, out.ptr, out.len);
        jester_buffer_t message = {0};
        jester_buffer_append_cstr(&message, "redact-json: replaced ");
        jester_buffer_append_u64(&message, replaced);
        jester_buffer_append_cstr(&message, replaced == 1 ? " value" : " values");
        jester_log_buffer(JESTER_LOG_DEBUG, &message);
        jester_buffer_free(&message);
    }

    jester_buffer_free(&out);
    jester_buffer_free(&replacement);
    jester_free(fields.storage);
    jester_bytes_free(&body);
    return JESTER_CONTINUE;
}
