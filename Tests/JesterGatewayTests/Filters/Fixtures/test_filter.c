/*
 * A dylib filter for DylibFilterTests: what it does is picked per request by the request header
 * `x-test`, and it records what the host functions returned in headers the tests read.
 * Variants (compile-time): BUFFER (buffer both bodies, 4096 bytes at most), BAD_ABI (major 99),
 * ENTRY_V2 (exports only jester_filter_v2), NO_ENTRY (exports no entry), UNKNOWN_FLAG, SMALL_SIZE
 * (a descriptor that claims 8 bytes), NO_NAME.
 */
#include <jester_filter.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const jester_host_api *saved_api;
static jester_exchange *saved_exchange;
static int global_marker;

#define S(literal) literal, sizeof(literal) - 1

static void record(const jester_host_api *api, jester_exchange *x, int message, const char *name, int code) {
    char text[16];
    int n = snprintf(text, sizeof text, "%d", code);
    api->set_header(x, message, name, strlen(name), text, (size_t)n);
}

static int is_mode(const jester_host_api *api, jester_exchange *x, const char *mode) {
    const char *value;
    size_t len;
    if (api->get_header(x, JESTER_REQUEST, S("x-test"), &value, &len) != JESTER_OK) return 0;
    return len == strlen(mode) && memcmp(value, mode, len) == 0;
}

typedef struct {
    char text[512];
    size_t len;
} joined;

static void join(void *context, const char *ptr, size_t len) {
    joined *j = context;
    if (j->len > 0 && j->len < sizeof j->text) j->text[j->len++] = ',';
    if (j->len + len > sizeof j->text) return;
    memcpy(j->text + j->len, ptr, len);
    j->len += len;
}

static void *test_create(const jester_host_api *api, const char *config, size_t len, char *err, size_t err_len) {
    if (config[len] != '\0') {
        snprintf(err, err_len, "config is not NUL-terminated");
        return NULL;
    }
    if (strstr(config, "\"refuse\"") != NULL) {
        snprintf(err, err_len, "refusing: the config says so (%zu bytes)", len);
        return NULL;
    }
    if (strstr(config, "\"silent\"") != NULL) return NULL;
    saved_api = api;
    api->log(api->host, JESTER_LOG_INFO, S("created"));
    return (void *)api;
}

static void test_destroy(void *instance) {
    const jester_host_api *api = instance;
    api->log(api->host, JESTER_LOG_INFO, S("destroyed"));
}

static int test_on_request(void *instance, jester_exchange *x) {
    const jester_host_api *api = instance;
    const char *ptr;
    size_t len;

    if (is_mode(api, x, "echo")) {
        api->get_method(x, &ptr, &len);
        api->set_header(x, JESTER_REQUEST, S("x-method"), ptr, len);
        api->get_path(x, &ptr, &len);
        /* Strings the host returns stay valid until the callback returns. */
        const char *path = ptr;
        size_t path_len = len;
        api->get_query(x, &ptr, &len);
        api->set_header(x, JESTER_REQUEST, S("x-query"), ptr, len);
        api->set_header(x, JESTER_REQUEST, S("x-path"), path, path_len);
        api->get_client_address(x, &ptr, &len);
        api->set_header(x, JESTER_REQUEST, S("x-client"), ptr, len);
        int status = 0;
        api->get_status(x, &status);
        record(api, x, JESTER_REQUEST, "x-status-seen", status);
        record(api, x, JESTER_REQUEST, "x-nul", ptr[len] == '\0');
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "edit")) {
        record(api, x, JESTER_REQUEST, "x-bad-path", api->set_path(x, S("no-slash")));
        record(api, x, JESTER_REQUEST, "x-bad-method", api->set_method(x, S("GE T")));
        record(api, x, JESTER_REQUEST, "x-bad-query", api->set_query(x, S("a#b")));
        api->set_method(x, S("PATCH"));
        api->set_path(x, S("/edited"));
        api->set_query(x, S("a=1"));
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "invalid")) {
        record(api, x, JESTER_REQUEST, "x-crlf", api->set_header(x, JESTER_REQUEST, S("x-ok"), S("a\r\nb")));
        record(api, x, JESTER_REQUEST, "x-bad-name", api->add_header(x, JESTER_REQUEST, S("bad name"), S("v")));
        record(api, x, JESTER_REQUEST, "x-utf8", api->set_header(x, JESTER_REQUEST, S("x-ok"), S("\xff\xfe")));
        record(api, x, JESTER_REQUEST, "x-bad-message", api->set_header(x, 7, S("x-ok"), S("v")));
        record(api, x, JESTER_REQUEST, "x-null-out", api->get_header(x, JESTER_REQUEST, S("x-test"), NULL, &len));
        record(api, x, JESTER_REQUEST, "x-absent", api->get_header(x, JESTER_REQUEST, S("x-absent"), &ptr, &len));
        record(api, x, JESTER_REQUEST, "x-bad-status", api->set_status(x, 1000));
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "headers")) {
        joined values = {{0}, 0}, names = {{0}, 0};
        api->each_header_value(x, JESTER_REQUEST, S("X-Multi"), join, &values);
        api->each_header_name(x, JESTER_REQUEST, join, &names);
        api->get_header(x, JESTER_REQUEST, S("X-MULTI"), &ptr, &len);
        api->set_header(x, JESTER_REQUEST, S("x-first"), ptr, len);
        api->set_header(x, JESTER_REQUEST, S("x-values"), values.text, values.len);
        api->set_header(x, JESTER_REQUEST, S("x-names"), names.text, names.len);
        api->add_header(x, JESTER_REQUEST, S("x-multi"), S("c"));
        record(api, x, JESTER_REQUEST, "x-remove", api->remove_header(x, JESTER_REQUEST, S("X-Remove-Me")));
        record(api, x, JESTER_REQUEST, "x-remove-absent", api->remove_header(x, JESTER_REQUEST, S("x-never")));
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "respond")) {
        int status = 0;
        api->get_status(x, &status);
        const uint8_t *body;
        api->get_body(x, JESTER_RESPONSE, &body, &len);
        char seen[64];
        int n = snprintf(seen, sizeof seen, "%d/%zu", status, len);
        api->set_header(x, JESTER_RESPONSE, S("x-fresh"), seen, (size_t)n);
        api->set_status(x, 418);
        api->set_header(x, JESTER_RESPONSE, S("content-type"), S("text/plain"));
        api->add_header(x, JESTER_RESPONSE, S("x-a"), S("1"));
        api->add_header(x, JESTER_RESPONSE, S("x-a"), S("2"));
        api->set_header(x, JESTER_RESPONSE, S("content-length"), S("999"));
        api->set_body(x, JESTER_RESPONSE, (const uint8_t *)"short and stout", 15);
        return JESTER_RESPOND;
    }
    if (is_mode(api, x, "dirty")) {
        /* Edits the response side and continues: the edits must not leak. */
        api->set_status(x, 500);
        api->set_header(x, JESTER_RESPONSE, S("x-leak"), S("1"));
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "fail")) {
        api->set_header(x, JESTER_RESPONSE, S("x-leak"), S("1"));
        api->set_error(x, S("backend said no"));
        return JESTER_FAIL;
    }
    if (is_mode(api, x, "fail-silent")) return JESTER_FAIL;
    if (is_mode(api, x, "unavailable")) {
        api->set_error(x, S("busy"));
        return JESTER_UNAVAILABLE;
    }
    if (is_mode(api, x, "bogus")) return 42;
    if (is_mode(api, x, "state")) {
        api->get_path(x, &ptr, &len);
        char *data = malloc(len + 1);
        memcpy(data, ptr, len);
        data[len] = '\0';
        api->set_request_data(x, data);
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "body")) {
        const uint8_t *body;
        int code = api->get_body(x, JESTER_REQUEST, &body, &len);
        record(api, x, JESTER_REQUEST, "x-body-code", code);
        if (code == JESTER_OK) {
            record(api, x, JESTER_REQUEST, "x-body-len", (int)len);
            record(api, x, JESTER_REQUEST, "x-body-nonnull", body != NULL);
        }
        api->set_body(x, JESTER_REQUEST, (const uint8_t *)"replaced", 8);
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "global")) {
        char text[32];
        int n = snprintf(text, sizeof text, "%p", (void *)&global_marker);
        api->set_header(x, JESTER_REQUEST, S("x-global"), text, (size_t)n);
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "stale")) {
        saved_exchange = x;
        return JESTER_CONTINUE;
    }
    return JESTER_CONTINUE;
}

static int test_on_response(void *instance, jester_exchange *x) {
    const jester_host_api *api = instance;
    if (is_mode(api, x, "echo")) {
        int status = 0;
        api->get_status(x, &status);
        record(api, x, JESTER_RESPONSE, "x-status-seen", status);
        const uint8_t *body;
        size_t len;
        record(api, x, JESTER_RESPONSE, "x-body-code", api->get_body(x, JESTER_RESPONSE, &body, &len));
        api->set_status(x, 299);
        return JESTER_RESPOND; /* the same as continue in on_response */
    }
    if (is_mode(api, x, "state")) {
        void *data = NULL;
        api->get_request_data(x, &data);
        api->set_header(x, JESTER_RESPONSE, S("x-state"), data, strlen(data));
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "body")) {
        const uint8_t *body;
        size_t len;
        int code = api->get_body(x, JESTER_RESPONSE, &body, &len);
        record(api, x, JESTER_RESPONSE, "x-body-code", code);
        if (code == JESTER_OK) {
            uint8_t *upper = malloc(len + 1);
            for (size_t i = 0; i < len; i++) upper[i] = (uint8_t)toupper(body[i]);
            api->set_body(x, JESTER_RESPONSE, upper, len);
            free(upper);
        }
        return JESTER_CONTINUE;
    }
    if (is_mode(api, x, "fail-response")) {
        api->set_error(x, S("cannot read the response"));
        return JESTER_FAIL;
    }
    return JESTER_CONTINUE;
}

static void test_on_finish(void *instance, void *request_data) {
    const jester_host_api *api = instance;
    char text[600];
    int n = snprintf(text, sizeof text, "finished %s", (const char *)request_data);
    api->log(api->host, JESTER_LOG_INFO, text, (size_t)n);
    free(request_data);
}

/* Called by the tests directly: uses the exchange handle that mode "stale" kept, after its call
 * returned. */
JESTER_FILTER_EXPORT int test_call_stale(void) {
    const char *ptr;
    size_t len;
    return saved_api->get_path(saved_exchange, &ptr, &len);
}

static const jester_filter_descriptor descriptor = {
#ifdef BAD_ABI
    .abi_major = 99,
    .abi_minor = 3,
#else
    .abi_major = JESTER_FILTER_ABI_VERSION_MAJOR,
    .abi_minor = JESTER_FILTER_ABI_VERSION_MINOR,
#endif
#ifdef SMALL_SIZE
    .size = 8,
#else
    .size = sizeof(jester_filter_descriptor),
#endif
#ifndef NO_NAME
    .name = "test",
#endif
#if defined(BUFFER)
    .flags = JESTER_FILTER_BUFFER_REQUEST_BODY | JESTER_FILTER_BUFFER_RESPONSE_BODY,
    .max_body_bytes = 4096,
#elif defined(UNKNOWN_FLAG)
    .flags = 1u << 7,
#endif
    .create = test_create,
    .on_request = test_on_request,
    .on_response = test_on_response,
    .on_finish = test_on_finish,
    .destroy = test_destroy,
};

#if defined(ENTRY_V2)
JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v2(void) { return &descriptor; }
#elif defined(NO_ENTRY)
JESTER_FILTER_EXPORT const jester_filter_descriptor *some_other_function(void) { return &descriptor; }
#else
JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void) { return &descriptor; }
#endif
