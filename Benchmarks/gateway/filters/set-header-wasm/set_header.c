/*
 * set-header-wasm: the WASM filter of Benchmarks/gateway/run.sh --filters. It makes the edit of
 * the built-in `headers` filter it is measured against, one host call per hook:
 *
 *   on-request:  request header  x-bench: 1
 *   on-response: response header x-filtered: 1
 *
 *   jester plugin build Benchmarks/gateway/filters/set-header-wasm   (run.sh builds a copy)
 *
 * The lengths are constants, so the guest does nothing but the two host calls.
 */
#define JESTER_IMPLEMENTATION
#include "jester_http_filter.h"

jester_action_t jester_on_request(jester_request_t request, jester_response_t response) {
    (void)response;
    jester_request_set_header_n(request, "x-bench", "1", 1);
    return JESTER_CONTINUE;
}

jester_action_t jester_on_response(jester_request_t request, jester_response_t response) {
    (void)request;
    jester_response_set_header_n(response, "x-filtered", "1", 1);
    return JESTER_CONTINUE;
}
