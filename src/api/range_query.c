/* SPDX-License-Identifier: Apache-2.0 */
/*
 * range_query.c - the telemetry routes' query parameters and name lists
 * (see range_query.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/range_query.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/validate.h"

typedef char name_entry[MDX_NAME_MAX + 1];

void api_names_init(struct api_names *l)
{
    mdx_buf_init(&l->buf, API_NAMES_MAX * sizeof(name_entry));
    l->n = 0;
}

const char *api_names_at(const struct api_names *l, size_t i)
{
    return ((const name_entry *)(const void *)l->buf.p)[i];
}

int api_names_add(struct api_names *l, const char *name, size_t len)
{
    name_entry e = {0};
    int rc;

    if (len > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    memcpy(e, name, len);
    rc = mdx_buf_add(&l->buf, e, sizeof(e));
    if (rc != MDX_OK) {
        return rc;
    }
    l->n++;
    return MDX_OK;
}

int api_names_has(const struct api_names *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *e = api_names_at(l, i);
        if (strncmp(e, name, len) == 0 && e[len] == '\0') {
            return 1;
        }
    }
    return 0;
}

void api_names_free(struct api_names *l)
{
    mdx_buf_fini(&l->buf);
    l->n = 0;
}

int api_parse_step(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    int64_t n = 0;
    const char *p = s;

    if (*p < '0' || *p > '9') {
        return MDX_EINVAL;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > API_STEP_MAX_MS) {
            return MDX_EINVAL;
        }
        n = n * 10 + (*p - '0');
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (n <= 0 || n > API_STEP_MAX_MS / units[i].ms) {
                return MDX_EINVAL;
            }
            *ms = n * units[i].ms;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}

/* from=0, to=9223372036854775807, step=1 would otherwise wrap to a negative count. */
int api_bucket_count(int64_t from, int64_t to, int64_t step, int64_t *n)
{
    int64_t span;

    if (to < from) {
        return MDX_EINVAL;
    }
    if (__builtin_sub_overflow(mdx_floor_div(to, step), mdx_floor_div(from, step), &span) ||
        __builtin_add_overflow(span, 1, n)) {
        return MDX_ERANGE;
    }
    return MDX_OK;
}

int api_sensor_list(const char *list, int64_t max, struct api_names *out, struct api_why *why)
{
    for (const char *p = list;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        int rc;

        if (!mdx_valid_sensor(p, len)) {
            snprintf(why->text, sizeof(why->text),
                     "sensor: each name is 1 to 64 of a-z 0-9 _, separated by commas");
            return MDX_EINVAL;
        }
        /* The list holds at most 'max' names, so this scan stays short however long the URL. */
        if (!api_names_has(out, p, len)) {
            if ((int64_t)out->n >= max) {
                snprintf(why->text, sizeof(why->text),
                         "sensor: more than %" PRId64 " different sensors named; at most %" PRId64
                         " in one query",
                         max, max);
                return MDX_EINVAL;
            }
            rc = api_names_add(out, p, len);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        if (end == NULL) {
            return MDX_OK;
        }
        p = end + 1;
    }
}
