/* SPDX-License-Identifier: Apache-2.0 */
/*
 * request.c - reading a request for its route handler: query parameters,
 * path captures, the JSON body, the presented key, and the caller's
 * devices. Bad input is refused here with a reply (reply.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/reply.h"
#include "api/request.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/validate.h"

#define KEY_HEADER_MAX 256       /* longer key headers are malformed keys */

/* The whole of 's' as a signed decimal integer; -1 if it is not one. */
static int parse_int64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s[0] == '\0' || s[0] == ' ' || s[0] == '+') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- query parameters ---- */

const char *api_query(struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct allow_walk {
    const char *const *names;
    const char *unknown;
};

static enum MHD_Result allow_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct allow_walk *w = cls;

    (void)kind;
    (void)value;
    for (const char *const *n = w->names; *n != NULL; n++) {
        if (strcmp(*n, key) == 0) {
            return MHD_YES;
        }
    }
    w->unknown = key;
    return MHD_NO;
}

int api_query_allow(struct api_req *r, const char *const *names)
{
    struct allow_walk w = {names, NULL};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, allow_each, &w);
    if (w.unknown != NULL) {
        api_error(r, 400, "bad_request", "unknown query parameter '%.64s'", w.unknown);
        return -1;
    }
    return 0;
}

int api_query_int(struct api_req *r, const char *name, int64_t def, int64_t min, int64_t max,
                  int64_t *out)
{
    const char *v = api_query(r, name);
    int64_t n;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (parse_int64(v, &n) != 0 || n < min || n > max) {
        api_error(r, 400, "bad_request",
                  "query parameter '%s' must be a whole number from %lld to %lld", name,
                  (long long)min, (long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

int api_query_time(struct api_req *r, const char *name, int64_t def, int64_t *out)
{
    const char *v = api_query(r, name);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (mdx_parse_time_ms(v, out) != MDX_OK) {
        api_error(r, 400, "bad_request",
                  "query parameter '%s' must be epoch milliseconds or an ISO 8601 UTC time "
                  "(2026-11-27T10:00:00Z)", name);
        return -1;
    }
    return 0;
}

/* ---- path captures ---- */

int api_param_id(struct api_req *r, size_t i, const char *what, int64_t *out)
{
    const char *s = i < r->n_params ? r->params[i] : NULL;
    int64_t v;

    if (s == NULL) {
        api_not_found(r, what, "");
        return -1;
    }
    if (s[0] < '1' || s[0] > '9' || parse_int64(s, &v) != 0 || v <= 0) {
        api_not_found(r, what, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- the body ---- */

int api_body_allow(struct api_req *r, const char *const *names)
{
    struct api_why why;

    if (api_json_allow(r->body, names, &why) != 0) {
        api_error(r, 400, "bad_request", "%s", why.text);
        return -1;
    }
    return 0;
}

int api_body_require(struct api_req *r, const char *const *names)
{
    if (r->body == NULL) {
        api_error(r, 400, "bad_request", "body required: a JSON object");
        return -1;
    }
    return api_body_allow(r, names);
}

int api_body_name(struct api_req *r, const char *field, unsigned flags,
                    char out[MDX_NAME_MAX + 1])
{
    struct api_why why;
    int rc = api_json_name(r->body, field, flags, out, &why);

    if (rc < 0) {
        api_error(r, 400, "bad_request", "%s", why.text);
    }
    return rc;
}

int api_body_object(struct api_req *r, const char *field, char *out, size_t len)
{
    cJSON *item = r->body != NULL ? cJSON_GetObjectItemCaseSensitive(r->body, field) : NULL;

    if (item == NULL) {
        return 0;
    }
    if (!cJSON_IsObject(item)) {
        api_error(r, 400, "bad_request", "field '%s' must be a JSON object", field);
        return -1;
    }
    if (!cJSON_PrintPreallocated(item, out, (int)len, 0)) {
        api_error(r, 400, "bad_request", "field '%s' is too long (at most %zu bytes of JSON)",
                  field, len - 1);
        return -1;
    }
    return 1;
}

int api_req_length_over(struct api_req *r, int64_t max)
{
    const char *clen = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    int64_t n;

    return clen != NULL && parse_int64(clen, &n) == 0 && n > max;
}

int api_req_parse_body(struct api_req *r, const struct mdx_buf *raw)
{
    const char *text = mdx_buf_str(raw);
    const char *end = NULL;

    if (raw->len == 0) {
        return 0;
    }
    /* + 1: cJSON's null-terminated check looks for the NUL inside the given length */
    r->body = cJSON_ParseWithLengthOpts(text, raw->len + 1, &end, 1);
    if (r->body == NULL) {
        size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;
        api_error(r, 400, "bad_request", "the body is not valid JSON (at byte %zu)", at);
        return -1;
    }
    return 0;
}

/* ---- the key and the tenancy ---- */

const char *api_req_key(struct api_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");

    if (h != NULL) {
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            return "?"; /* another scheme: refused as a malformed key */
        }
        h += 7;
        while (*h == ' ') {
            h++;
        }
        return strlen(h) < KEY_HEADER_MAX ? h : "?";
    }
    h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-API-Key");
    if (h != NULL && strlen(h) >= KEY_HEADER_MAX) {
        return "?";
    }
    return h;
}

int api_device(struct api_req *r, const char *device, struct mdx_device_info *out)
{
    int rc;

    if (device == NULL || !mdx_valid_segment(device, strlen(device))) {
        api_error(r, 404, "not_found", "device '%.64s' not found", device != NULL ? device : "");
        return -1;
    }
    rc = mdx_store_device_get(r->store, r->caller.tenant, device, out);
    if (rc == MDX_ENOTFOUND) {
        api_error(r, 404, "not_found", "device '%s' not found", device);
        return -1;
    }
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return -1;
    }
    return 0;
}
