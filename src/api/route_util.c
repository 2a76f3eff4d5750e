/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_util.c - helpers the resource routes share: ids in paths, names
 * and objects in bodies, times and optional strings in responses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/route_util.h"
#include "modax/status.h"
#include "modax/validate.h"

void route_not_found(struct api_req *r, const char *what, const char *text)
{
    api_error(r, 404, "not_found", "%s '%.64s' not found", what, text);
}

int route_param_id(struct api_req *r, size_t i, const char *what, int64_t *out)
{
    const char *s = i < r->n_params ? r->params[i] : NULL;
    char *end = NULL;
    long long v;

    if (s == NULL) {
        route_not_found(r, what, "");
        return -1;
    }
    errno = 0;
    v = s[0] >= '1' && s[0] <= '9' ? strtoll(s, &end, 10) : 0;
    if (v <= 0 || errno != 0 || end == NULL || *end != '\0') {
        route_not_found(r, what, s);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int route_body_name(struct api_req *r, const char *field, unsigned flags,
                    char out[MDX_NAME_MAX + 1])
{
    const cJSON *item = r->body != NULL ? cJSON_GetObjectItemCaseSensitive(r->body, field) : NULL;
    size_t n;

    out[0] = '\0';
    if (item == NULL || cJSON_IsNull(item)) {
        if (flags & ROUTE_REQUIRED) {
            api_error(r, 400, "bad_request", "field '%s' is required", field);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(item)) {
        api_error(r, 400, "bad_request", "field '%s' must be a string", field);
        return -1;
    }
    n = strlen(item->valuestring);
    if (n == 0 && (flags & ROUTE_EMPTY_OK) && !(flags & ROUTE_REQUIRED)) {
        return 1;
    }
    if (n > MDX_NAME_MAX || !mdx_valid_segment(item->valuestring, n)) {
        api_error(r, 400, "bad_request", "field '%s' is not a valid name; use [A-Za-z0-9_-]{1,64}",
                  field);
        return -1;
    }
    memcpy(out, item->valuestring, n + 1);
    return 1;
}

int route_body_object(struct api_req *r, const char *field, char *out, size_t len)
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

int route_add_time_ms(cJSON *obj, const char *name, int64_t ms)
{
    char key[48];

    snprintf(key, sizeof(key), "%s_ms", name);
    if (api_add_time(obj, name, ms) == NULL) {
        return -1;
    }
    if (ms > 0) {
        return cJSON_AddNumberToObject(obj, key, (double)ms) != NULL ? 0 : -1;
    }
    return cJSON_AddNullToObject(obj, key) != NULL ? 0 : -1;
}

int route_add_string_or_null(cJSON *obj, const char *name, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return cJSON_AddNullToObject(obj, name) != NULL ? 0 : -1;
    }
    return cJSON_AddStringToObject(obj, name, s) != NULL ? 0 : -1;
}

int route_add_json_text(cJSON *obj, const char *name, const char *text)
{
    cJSON *v = cJSON_Parse(text);

    if (v == NULL) {
        v = cJSON_CreateObject();
        if (v == NULL) {
            return -1;
        }
    }
    if (!cJSON_AddItemToObject(obj, name, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}
