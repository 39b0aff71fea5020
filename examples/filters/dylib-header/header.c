/*
 * header.c: an example dylib filter for Jester (see README.md next to it).
 *
 * on_request: answers 401 when the request lacks the header named by `require` (when set);
 *             otherwise adds `add_header: add_value` to the request the upstream receives.
 * on_response: adds `add_header: add_value` to the response the client receives.
 *
 * config (all optional): { "require": "x-api-key", "add_header": "x-gateway", "add_value": "jester" }
 *
 * Build:  cc -shared -fPIC -O2 -Wall -I ../../../include -o libheader.so header.c
 */
#include <jester_filter.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instance: the parsed config and the host table. Immutable after create, so the
 * concurrent calls of several event loops need no lock. */
typedef struct {
    const jester_host_api *api;
    char *require;    /* NULL: no header is required */
    char *add_header;
    char *add_value;
} header_filter;

/*
 * Finds the string value of "key" in the flat JSON object `json` and returns a malloc'd copy,
 * or NULL when the key is absent. A minimal parser for this example: values must be strings
 * without escapes. Sets *bad when the key is present but its value is not such a string.
 */
static char *json_string(const char *json, size_t len, const char *key, int *bad) {
    size_t key_len = strlen(key);
    for (size_t i = 0; i + key_len + 2 <= len; i++) {
        if (json[i] != '"' || memcmp(json + i + 1, key, key_len) != 0 || json[i + 1 + key_len] != '"') continue;
        size_t j = i + key_len + 2;
        while (j < len && (json[j] == ' ' || json[j] == '\t' || json[j] == '\n' || json[j] == '\r')) j++;
        if (j >= len || json[j] != ':') continue; /* the key's text appeared as a value */
        j++;
        while (j < len && (json[j] == ' ' || json[j] == '\t' || json[j] == '\n' || json[j] == '\r')) j++;
        if (j >= len || json[j] != '"') { *bad = 1; return NULL; }
        size_t start = ++j;
        while (j < len && json[j] != '"' && json[j] != '\\') j++;
        if (j >= len || json[j] != '"') { *bad = 1; return NULL; }
        char *value = malloc(j - start + 1);
        if (value == NULL) { *bad = 1; return NULL; }
        memcpy(value, json + start, j - start);
        value[j - start] = '\0';
        return value;
    }
    return NULL;
}

static void header_destroy(void *instance) {
    header_filter *filter = instance;
    free(filter->require);
    free(filter->add_header);
    free(filter->add_value);
    free(filter);
}

static void *header_create(const jester_host_api *api, const char *config, size_t config_len, char *err, size_t err_len) {
    header_filter *filter = calloc(1, sizeof *filter);
    if (filter == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    filter->api = api;
    int bad_require = 0, bad_name = 0, bad_value = 0;
    filter->require = json_string(config, config_len, "require", &bad_require);
    filter->add_header = json_string(config, config_len, "add_header", &bad_name);
    filter->add_value = json_string(config, config_len, "add_value", &bad_value);
    if (bad_require || bad_name || bad_value) {
        snprintf(err, err_len, "`%s` must be a string without escapes",
                 bad_require ? "require" : bad_name ? "add_header" : "add_value");
        header_destroy(filter);
        return NULL;
    }
    if (filter->add_header == NULL) filter->add_header = strdup("x-gateway");
    if (filter->add_value == NULL) filter->add_value = strdup("jester");
    if (filter->add_header == NULL || filter->add_value == NULL) {
        snprintf(err, err_len, "out of memory");
        header_destroy(filter);
        return NULL;
    }
    char message[256];
    int n = snprintf(message, sizeof message, "header filter ready: require=%s, add %s: %s",
                     filter->require ? filter->require : "(none)", filter->add_header, filter->add_value);
    api->log(api->host, JESTER_LOG_DEBUG, message, n < 0 ? 0 : (size_t)n < sizeof message ? (size_t)n : sizeof message - 1);
    return filter;
}

static int header_on_request(void *instance, jester_exchange *x) {
    header_filter *filter = instance;
    const jester_host_api *api = filter->api;
    if (filter->require != NULL) {
        const char *value;
        size_t value_len;
        if (api->get_header(x, JESTER_REQUEST, filter->require, strlen(filter->require), &value, &value_len) != JESTER_OK) {
            /* The response side is a fresh 200: make it the 401 to answer with. */
            char body[300];
            int n = snprintf(body, sizeof body, "missing %s\n", filter->require);
            size_t body_len = n < 0 ? 0 : (size_t)n < sizeof body ? (size_t)n : sizeof body - 1;
            api->set_status(x, 401);
            api->set_header(x, JESTER_RESPONSE, "content-type", 12, "text/plain; charset=utf-8", 25);
            api->set_body(x, JESTER_RESPONSE, (const uint8_t *)body, body_len);
            return JESTER_RESPOND;
        }
    }
    if (api->set_header(x, JESTER_REQUEST, filter->add_header, strlen(filter->add_header), filter->add_value,
                        strlen(filter->add_value)) != JESTER_OK) {
        static const char reason[] = "add_header or add_value is not a valid header";
        api->set_error(x, reason, sizeof reason - 1);
        return JESTER_FAIL;
    }
    return JESTER_CONTINUE;
}

static int header_on_response(void *instance, jester_exchange *x) {
    header_filter *filter = instance;
    filter->api->set_header(x, JESTER_RESPONSE, filter->add_header, strlen(filter->add_header), filter->add_value,
                            strlen(filter->add_value));
    return JESTER_CONTINUE;
}

static const jester_filter_descriptor descriptor = {
    .abi_major = JESTER_FILTER_ABI_VERSION_MAJOR,
    .abi_minor = JESTER_FILTER_ABI_VERSION_MINOR,
    .size = sizeof(jester_filter_descriptor),
    .name = "header",
    .flags = 0,
    .max_body_bytes = 0,
    .create = header_create,
    .on_request = header_on_request,
    .on_response = header_on_response,
    .on_finish = NULL,
    .destroy = header_destroy,
};

JESTER_FILTER_EXPORT const jester_filter_descriptor *jester_filter_v1(void) {
    return &descriptor;
}
