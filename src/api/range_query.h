/* SPDX-License-Identifier: Apache-2.0 */
/*
 * range_query.h - the telemetry routes' query parameters checked without
 * the request: the step of a downsampled range, the number of buckets a
 * range touches (overflow-safe), and the sensor list, de-duplicated and
 * capped; plus the bounded list of names they fill. Refusals carry their
 * reason in a struct api_why (body_check.h), so the fuzz target runs the
 * very checks the routes run.
 */
#ifndef MODAX_API_RANGE_QUERY_H
#define MODAX_API_RANGE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "api/body_check.h"
#include "base/buf.h"
#include "modax/msg.h"

#define API_NAMES_MAX 100000        /* devices of a tenant, or sensors of a device, in one reply */
#define API_STEP_MAX_MS (INT64_C(1) << 50)

/* Names (devices, sensors) in fixed-size entries, at most API_NAMES_MAX; owned, see api_names_free(). */
struct api_names {
    struct mdx_buf buf;
    size_t n;
};

void api_names_init(struct api_names *l);
/* Entry 'i' (< n). Borrowed: valid until the next api_names_add(). */
const char *api_names_at(const struct api_names *l, size_t i);
/* Appends the 'len' bytes at 'name' (<= MDX_NAME_MAX): MDX_OK, MDX_EINVAL, MDX_ENOMEM. */
int api_names_add(struct api_names *l, const char *name, size_t len);
/* Non-zero if 'l' holds the name of 'len' bytes at 'name'. */
int api_names_has(const struct api_names *l, const char *name, size_t len);
void api_names_free(struct api_names *l);

/*
 * A step: "500ms", "30s", "1m", "1h", "1d" or plain milliseconds, into
 * *ms (1 .. API_STEP_MAX_MS): MDX_OK, else MDX_EINVAL.
 */
int api_parse_step(const char *s, int64_t *ms);
/*
 * The buckets of width 'step' (> 0) that [from, to] touches, into *n;
 * MDX_EINVAL when to < from, MDX_ERANGE when the count does not fit an int64.
 */
int api_bucket_count(int64_t from, int64_t to, int64_t step, int64_t *n);
/*
 * The comma-separated sensor names of 'list' appended to 'out', each once,
 * at most 'max' different ones: MDX_OK; MDX_EINVAL (a bad name, or more
 * than 'max') with the reason in 'why'; MDX_ENOMEM.
 */
int api_sensor_list(const char *list, int64_t max, struct api_names *out, struct api_why *why);

#endif
