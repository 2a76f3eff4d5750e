/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollup.h - the rollups of the SQLite store (rollup.c): what the handle's
 * open and close, the batch writer and the series table call. Internal to
 * src/store/sqlite.
 */
#ifndef MODAX_STORE_SQLITE_ROLLUP_H
#define MODAX_STORE_SQLITE_ROLLUP_H

#include <stdint.h>

#include "modax/status.h"
#include "modax/store.h"
#include "store/sqlite/sqlite_int.h"

/*
 * Rollups (rollup.c). Every point the writer stores (not a
 * duplicate) goes through mdx_sq_rollup_add() inside the batch's
 * transaction; mdx_sq_rollup_flush() upserts the batch's deltas into
 * rollup_1m and rollup_1h before the commit.
 */
/* Prepares the rollup statements and rolls up points stored before migration 2. */
int mdx_sq_rollup_open(struct sq *h);
/* Accepts a half-opened handle. */
void mdx_sq_rollup_close(struct sq *h);
/* Forgets the deltas of a batch (at its start, and after a failure). */
void mdx_sq_rollup_reset(struct sq *h);
/* Moves h->racc into the batch's deltas; writes them out when the buffer is full. */
int mdx_sq_rollup_push(struct sq *h);
/* Writes the batch's deltas into the rollup tables (inside the transaction). */
int mdx_sq_rollup_flush(struct sq *h);
int mdx_sq_query_buckets(void *impl, const struct mdx_query *q, int64_t step_ms,
                         mdx_bucket_fn fn, void *arg);
int mdx_sq_latest(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                  void *arg);

/* Adds one stored point to the rollup deltas: O(1) while the minute stays the same. */
static inline int mdx_sq_rollup_add(struct sq *h, int64_t series_id, int64_t ts_ms, double v)
{
    struct sq_racc *a = &h->racc;
    int64_t r = ts_ms % MDX_ROLLUP_MINUTE_MS;
    int64_t bucket = ts_ms - (r < 0 ? r + MDX_ROLLUP_MINUTE_MS : r);

    if (a->count == 0 || a->bucket_ms != bucket || a->series_id != series_id) {
        if (a->count > 0) {
            int rc = mdx_sq_rollup_push(h);
            if (rc != MDX_OK) {
                return rc;
            }
        }
        a->series_id = series_id;
        a->bucket_ms = bucket;
        a->min = a->max = a->sum = v;
        a->count = 1;
        return MDX_OK;
    }
    a->min = v < a->min ? v : a->min;
    a->max = v > a->max ? v : a->max;
    a->sum += v;
    a->count++;
    return MDX_OK;
}

#endif
