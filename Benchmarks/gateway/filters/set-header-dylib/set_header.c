/*
 * set_header.c: the dylib filter of Benchmarks/gateway/run.sh --filters. The same edit as the
 * built-in `headers` filter and the WASM filter it is measured against:
 *
 *   on_request:  request header  x-bench: 1
 *   on_response: response header x-filtered: 1
 *
 *   cc -shared -fPIC -O2 -Wall -I include -o libset_header.so set_header.c   (run.sh does this)
 *
 * The instance is the host table create() receives, kept as it is; it never changes, so the
 * event loops' concurrent calls need no lock.
 */
#include <jester_filter.h>

#include <stddef.h>

static void *set_header_create(const jester_host_api *api, const char *config, size_t config_len, char *err, size_t err_len) {
    (void)config;
    (void)config_len;
    (void)err;
    (void)err_len;
    return (void *)api;
}

static int set_header_on_request(void *instance, jester_exchange *x) {
    const jester_host_api *api = instance;
    if (api->set_header(x, JESTER_REQUEST, "x-bench", 7, "1", 1) != JESTER_OK) return JESTER_FAIL;
    return JESTER_CONTINUE;
}

static int set_header_on_response(void *instance, jester_exchange *x) {
    const jester_host_api *api = instance;
    if (api->set_header(x, JESTER_RESPONSE, "x-filtered", 10, "1", 1) != JESTER_OK) return JESTER_FAIL;
    return JESTER_CONTINUE;
}

static const jester_filter_descriptor descriptor = {
    .abi_major = JESTER_FILTER_ABI_VERSION_MAJOR,
    .abi_minor = JESTER_FILTER_ABI_VERSION_MINOR,
    .size = sizeof(jester_filter_descriptor),
    .name = "set-header",
    .flags = 0,
    .max_body_bytes = 0,
    .create = set_header_create,
    .on_request = set_header_on_request,
    .on_response = set_header_on_response,
    .on_finish = NULL,
    .destroy = NULL,
};

JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void) {
    return &descriptor;
}
