/* SPDX-License-Identifier: Apache-2.0 */
/*
 * body_check.c - the JSON body's field checks, without a request (see
 * body_check.h): allowed members, names, numbers and choices.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/body_check.h"
#include "modax/validate.h"

int api_json_allow(const cJSON *body, const char *const *names, struct api_why *why)
{
    const cJSON *m;

    if (body == NULL) {
        return 0;
    }
    if (!cJSON_IsObject(body)) {
        snprintf(why->text, sizeof(why->text), "the body must be a JSON object");
        return -1;
    }
    cJSON_ArrayForEach(m, body) {
        const char *const *n = names;
        while (*n != NULL && strcmp(*n, m->string) != 0) {
            n++;
        }
        if (*n == NULL) {
            snprintf(why->text, sizeof(why->text), "unknown field '%.64s'", m->string);
            return -1;
        }
    }
    return 0;
}

/* Member 'field' of 'body', NULL if absent or no body. */
static const cJSON *member(const cJSON *body, const char *field)
{
    return body != NULL ? cJSON_GetObjectItemCaseSensitive(body, field) : NULL;
}

int api_json_name(const cJSON *body, const char *field, unsigned flags,
                  char out[MDX_NAME_MAX + 1], struct api_why *why)
{
    const cJSON *item = member(body, field);
    size_t n;

    out[0] = '\0';
    if (item == NULL || cJSON_IsNull(item)) {
        if (flags & API_REQUIRED) {
            snprintf(why->text, sizeof(why->text), "field '%s' is required", field);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsString(item)) {
        snprintf(why->text, sizeof(why->text), "field '%s' must be a string", field);
        return -1;
    }
    n = strlen(item->valuestring);
    if (n == 0 && (flags & API_EMPTY_OK) && !(flags & API_REQUIRED)) {
        return 1;
    }
    if (n > MDX_NAME_MAX || !mdx_valid_segment(item->valuestring, n)) {
        snprintf(why->text, sizeof(why->text),
                 "field '%s' is not a valid name; use [A-Za-z0-9_-]{1,64}", field);
        return -1;
    }
    memcpy(out, item->valuestring, n + 1);
    return 1;
}

int api_json_number(const cJSON *body, const char *field, unsigned flags, double *out,
                    struct api_why *why)
{
    const cJSON *item = member(body, field);

    if (item == NULL) {
        if (flags & API_REQUIRED) {
            snprintf(why->text, sizeof(why->text), "field '%s' is required", field);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
        snprintf(why->text, sizeof(why->text), "field '%s' must be a number", field);
        return -1;
    }
    *out = item->valuedouble;
    return 0;
}

int api_json_choice(const cJSON *body, const char *field, unsigned flags,
                    int (*parse)(const char *, int *), const char *choices, int *out,
                    struct api_why *why)
{
    const cJSON *item = member(body, field);

    if (item == NULL && !(flags & API_REQUIRED)) {
        return 0;
    }
    if (!cJSON_IsString(item) || parse(item->valuestring, out) != 0) {
        snprintf(why->text, sizeof(why->text), "field '%s' must be one of %s", field, choices);
        return -1;
    }
    return 0;
}
