/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rollup.c - rollups of the SQLite store, and the bucket and latest-value
 * queries of the series table (store_series.h) they serve.
 *
 * rollup_1m and rollup_1h hold min, max, sum and count per series and
 * bucket (migration 2). The writer hands every point it stores, never a
 * duplicate, to mdx_sq_rollup_add() (rollup.h), which keeps one
 * (series, minute) delta at a time; when the minute or series changes the
 * delta moves into a bounded buffer. Before the batch commits, the buffer
 * is sorted and each touched minute and hour gets one upsert that merges
 * the delta into its row. So a late point corrects its bucket, and a
 * rolled-back batch leaves the rollups as they were. A full buffer is
 * written early, in the same transaction.
 *
 * Bucket queries read the hour rollup when the step is whole hours, the
 * minute rollup when it is whole minutes, and raw chunks otherwise. A
 * bucket is always whole: every bucket that overlaps [from, to] counts all
 * of its points. The latest value of a series is the last point of its
 * newest chunk. Raw points deleted by the archiver keep their rollups.
 */
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "store/sqlite/rollup.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

/* Deltas buffered before they are written: 16,384 x 48 bytes, allocated on first use. */
#define DELTA_MAX 16384
/* Query times are clamped to +-2^62 ms and steps bounded, so bucket arithmetic cannot overflow. */
#define TIME_BOUND (INT64_C(1) << 62)
#define STEP_MAX (INT64_C(1) << 50)

enum rollup_stmt {
    R_ADD_1M,
    R_ADD_1H,
    R_RANGE_1M,
    R_RANGE_1H,
    R_LATEST,
    R_NEED_BACKFILL,
    R_ALL_CHUNKS,
    R_STMT_COUNT
};

#define UPSERT(table)                                                                              \
    "INSERT INTO " table " (series_id, bucket_ms, min, max, sum, count)"                           \
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (series_id, bucket_ms) DO UPDATE SET"            \
    " min = MIN(min, excluded.min), max = MAX(max, excluded.max),"                                 \
    " sum = sum + excluded.sum, count = count + excluded.count"

#define RANGE(table)                                                                               \
    "SELECT bucket_ms, min, max, sum, count FROM " table                                           \
    " WHERE series_id = ?1 AND bucket_ms >= ?2 AND bucket_ms <= ?3 ORDER BY bucket_ms"

static const char *const rollup_sql[R_STMT_COUNT] = {
    [R_ADD_1M] = UPSERT("rollup_1m"),
    [R_ADD_1H] = UPSERT("rollup_1h"),
    [R_RANGE_1M] = RANGE("rollup_1m"),
    [R_RANGE_1H] = RANGE("rollup_1h"),
    /* The newest chunk of each series of the device. */
    [R_LATEST] = "SELECT s.sensor, c.t_start, c.n, c.data FROM series s"
                 " JOIN devices d ON d.id = s.device_id JOIN tenants t ON t.id = d.tenant_id"
                 " JOIN chunks c ON c.id = (SELECT id FROM chunks WHERE series_id = s.id"
                 " ORDER BY t_start DESC LIMIT 1)"
                 " WHERE t.name = ?1 AND d.name = ?2 ORDER BY s.sensor",
    /* Points stored before migration 2 have chunks but no rollups. */
    [R_NEED_BACKFILL] = "SELECT EXISTS (SELECT 1 FROM chunks)"
                        " AND NOT EXISTS (SELECT 1 FROM rollup_1m)",
    [R_ALL_CHUNKS] = "SELECT series_id, t_start, n, data FROM chunks ORDER BY series_id, t_start",
};

struct sq_rollup {
    sqlite3_stmt *st[R_STMT_COUNT];
    struct sq_racc *delta;    /* DELTA_MAX entries, or NULL before the first point */
    size_t n;
};

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t r = t % step;

    return t - (r < 0 ? r + step : r);
}

static void racc_merge(struct sq_racc *into, const struct sq_racc *d)
{
    into->min = d->min < into->min ? d->min : into->min;
    into->max = d->max > into->max ? d->max : into->max;
    into->sum += d->sum;
    into->count += d->count;
}

/* ---- maintenance ---- */

static int cmp_delta(const void *a, const void *b)
{
    const struct sq_racc *x = a, *y = b;

    if (x->series_id != y->series_id) {
        return x->series_id < y->series_id ? -1 : 1;
    }
    return (x->bucket_ms > y->bucket_ms) - (x->bucket_ms < y->bucket_ms);
}

static int upsert(struct sq_rollup *r, enum rollup_stmt id, const struct sq_racc *d)
{
    sqlite3_stmt *st = r->st[id];

    sqlite3_bind_int64(st, 1, d->series_id);
    sqlite3_bind_int64(st, 2, d->bucket_ms);
    sqlite3_bind_double(st, 3, d->min);
    sqlite3_bind_double(st, 4, d->max);
    sqlite3_bind_double(st, 5, d->sum);
    sqlite3_bind_int64(st, 6, d->count);
    return mdx_sq_finish(st, sqlite3_step(st));
}

/*
 * Sorts the buffered deltas and merges them into the tables: one upsert
 * per (series, minute) and one per (series, hour). Empties the buffer.
 */
static int write_deltas(struct sq_rollup *r)
{
    struct sq_racc *d = r->delta, minute, hour = {0};
    size_t i = 0, n = r->n;
    int rc = MDX_OK;

    r->n = 0;
    qsort(d, n, sizeof(*d), cmp_delta);
    while (i < n && rc == MDX_OK) {
        int64_t h_start;

        minute = d[i++];
        while (i < n && d[i].series_id == minute.series_id &&
               d[i].bucket_ms == minute.bucket_ms) {
            racc_merge(&minute, &d[i++]);
        }
        rc = upsert(r, R_ADD_1M, &minute);
        h_start = floor_to(minute.bucket_ms, MDX_ROLLUP_HOUR_MS);
        if (rc == MDX_OK && hour.count > 0 &&
            (hour.series_id != minute.series_id || hour.bucket_ms != h_start)) {
            rc = upsert(r, R_ADD_1H, &hour);
            hour.count = 0;
        }
        if (hour.count == 0) {
            hour = minute;
            hour.bucket_ms = h_start;
        } else {
            racc_merge(&hour, &minute);
        }
    }
    if (rc == MDX_OK && hour.count > 0) {
        rc = upsert(r, R_ADD_1H, &hour);
    }
    return rc;
}

int mdx_sq_rollup_push(struct sq *h)
{
    struct sq_rollup *r = h->rollup;
    int rc;

    if (h->racc.count == 0) {
        return MDX_OK;
    }
    if (r->n > 0 && r->delta[r->n - 1].series_id == h->racc.series_id &&
        r->delta[r->n - 1].bucket_ms == h->racc.bucket_ms) {
        racc_merge(&r->delta[r->n - 1], &h->racc);
        h->racc.count = 0;
        return MDX_OK;
    }
    if (r->delta == NULL) {
        r->delta = mdx_malloc(DELTA_MAX * sizeof(*r->delta));
        if (r->delta == NULL) {
            return MDX_ENOMEM;
        }
    }
    if (r->n == DELTA_MAX) {
        rc = write_deltas(r);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    r->delta[r->n++] = h->racc;
    h->racc.count = 0;
    return MDX_OK;
}

int mdx_sq_rollup_flush(struct sq *h)
{
    int rc = mdx_sq_rollup_push(h);

    if (rc == MDX_OK && h->rollup->n > 0) {
        rc = write_deltas(h->rollup);
    }
    return rc;
}

void mdx_sq_rollup_reset(struct sq *h)
{
    h->racc.count = 0;
    if (h->rollup != NULL) {
        h->rollup->n = 0;
    }
}

/* Feeds every point of one chunk row (series_id, t_start, n, data) to the accumulator. */
static int backfill_chunk(struct sq *h, sqlite3_stmt *st)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int64_t series_id = sqlite3_column_int64(st, 0);
    int rc;

    rc = mdx_sq_chunk_iter(st, 1, &it);
    while (rc == MDX_OK && (rc = mdx_chunk_iter_next(&it, &pt)) == 1) {
        rc = mdx_sq_rollup_add(h, series_id, pt.ts_ms, pt.value);
    }
    if (rc == 0 && it.i != sqlite3_column_int64(st, 2)) {
        rc = MDX_ECORRUPT;
    }
    return rc;
}

/*
 * Rolls up the points of a database created before migration 2, once, in
 * one transaction. The check is repeated under the write lock, so two
 * processes opening the same file do not both do it.
 */
static int backfill(struct sq *h)
{
    struct sq_rollup *r = h->rollup;
    sqlite3_stmt *st = r->st[R_NEED_BACKFILL];
    int need = 0, rc;

    for (int pass = 0; pass < 2; pass++) {
        rc = sqlite3_step(st);
        need = rc == SQLITE_ROW && sqlite3_column_int(st, 0) != 0;
        rc = mdx_sq_finish(st, rc);
        if (rc != MDX_OK || !need) {
            break;
        }
        if (pass == 0) {
            rc = mdx_sq_status(sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
            if (rc != MDX_OK) {
                return rc;
            }
        }
    }
    if (rc == MDX_OK && need) {
        int src;

        mdx_sq_rollup_reset(h);
        st = r->st[R_ALL_CHUNKS];
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            rc = backfill_chunk(h, st);
            if (rc != MDX_OK) {
                break;
            }
        }
        if (rc == MDX_OK) {
            rc = mdx_sq_status(src);
        }
        sqlite3_reset(st);
        if (rc == MDX_OK) {
            rc = mdx_sq_rollup_flush(h);
        }
        if (rc == MDX_OK) {
            rc = mdx_sq_status(sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL));
        }
    }
    if (sqlite3_get_autocommit(h->db) == 0) {
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
    }
    mdx_sq_rollup_reset(h);
    return rc;
}

int mdx_sq_rollup_open(struct sq *h)
{
    struct sq_rollup *r;
    int rc = SQLITE_OK;

    r = mdx_calloc(1, sizeof(*r));
    if (r == NULL) {
        return MDX_ENOMEM;
    }
    h->rollup = r;
    for (int i = 0; i < R_STMT_COUNT && rc == SQLITE_OK; i++) {
        rc = sqlite3_prepare_v3(h->db, rollup_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i],
                                NULL);
    }
    if (rc != SQLITE_OK) {
        return mdx_sq_status(rc);
    }
    return backfill(h);
}

void mdx_sq_rollup_close(struct sq *h)
{
    struct sq_rollup *r = h->rollup;

    if (r == NULL) {
        return;
    }
    for (int i = 0; i < R_STMT_COUNT; i++) {
        sqlite3_finalize(r->st[i]);
    }
    mdx_free(r->delta);
    mdx_free(r);
    h->rollup = NULL;
}

/* ---- bucket queries ---- */

/* Merges rows or points into buckets of 'step' and hands each finished bucket to fn. */
struct bucketer {
    int64_t step;
    int64_t limit;            /* buckets; 0 = no limit */
    int64_t sent;
    mdx_bucket_fn fn;
    void *arg;
    struct mdx_bucket cur;    /* cur.count == 0: none open */
};

/* 1 = the limit is reached (stop), else MDX_OK or the callback's status. */
static int bucket_emit(struct bucketer *b)
{
    int rc;

    if (b->cur.count == 0) {
        return MDX_OK;
    }
    rc = b->fn(b->arg, &b->cur);
    b->cur.count = 0;
    if (rc != MDX_OK) {
        return rc;
    }
    b->sent++;
    return b->limit > 0 && b->sent >= b->limit ? 1 : MDX_OK;
}

static int bucket_add(struct bucketer *b, int64_t ts, double min, double max, double sum,
                      int64_t count)
{
    int64_t start = floor_to(ts, b->step);
    int rc;

    if (b->cur.count > 0 && b->cur.start_ms != start) {
        rc = bucket_emit(b);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    if (b->cur.count == 0) {
        b->cur.start_ms = start;
        b->cur.min = min;
        b->cur.max = max;
        b->cur.sum = sum;
        b->cur.count = count;
        return MDX_OK;
    }
    b->cur.min = min < b->cur.min ? min : b->cur.min;
    b->cur.max = max > b->cur.max ? max : b->cur.max;
    b->cur.sum += sum;
    b->cur.count += count;
    return MDX_OK;
}

/* Rollup rows of the series in [first, end]. */
static int buckets_from_rollup(struct sq *h, enum rollup_stmt id, int64_t series_id,
                               int64_t first, int64_t end, struct bucketer *b)
{
    sqlite3_stmt *st = h->rollup->st[id];
    int rc, ret = MDX_OK;

    sqlite3_bind_int64(st, 1, series_id);
    sqlite3_bind_int64(st, 2, first);
    sqlite3_bind_int64(st, 3, end);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = bucket_add(b, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
                         sqlite3_column_double(st, 2), sqlite3_column_double(st, 3),
                         sqlite3_column_int64(st, 4));
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return mdx_sq_finish(st, rc);
}

/* Raw points of the series in [first, end], from the chunks that overlap it. */
static int buckets_from_chunks(struct sq *h, int64_t series_id, int64_t first, int64_t end,
                               struct bucketer *b)
{
    sqlite3_stmt *st = h->st[SQ_CHUNK_RANGE];
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int rc = SQLITE_DONE, ret = MDX_OK;

    sqlite3_bind_int64(st, 1, series_id);
    sqlite3_bind_int64(st, 2, first);
    sqlite3_bind_int64(st, 3, end);
    while (ret == MDX_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = mdx_sq_chunk_iter(st, 0, &it);
        while (ret == MDX_OK && (ret = mdx_chunk_iter_next(&it, &pt)) == 1) {
            ret = MDX_OK;
            if (pt.ts_ms > end) {
                ret = 2; /* past the range: done */
            } else if (pt.ts_ms >= first) {
                ret = bucket_add(b, pt.ts_ms, pt.value, pt.value, pt.value, 1);
            }
        }
        if (ret == 0 && it.i != sqlite3_column_int64(st, 2)) {
            ret = MDX_ECORRUPT;
        }
    }
    if (ret != MDX_OK) {
        sqlite3_reset(st);
        return ret == 2 ? MDX_OK : ret;
    }
    return mdx_sq_finish(st, rc);
}

/* The id of q's series; MDX_ENOTFOUND if it does not exist. */
static int series_find(struct sq *h, const struct mdx_query *q, int64_t *id)
{
    sqlite3_stmt *st = h->st[SQ_SERIES_FIND];
    int rc;

    sqlite3_bind_text(st, 1, q->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, q->sensor, -1, SQLITE_STATIC);
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        *id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc;
}

int mdx_sq_query_buckets(void *impl, const struct mdx_query *q, int64_t step_ms,
                         mdx_bucket_fn fn, void *arg)
{
    struct sq *h = impl;
    struct bucketer b = {step_ms, q->limit, 0, fn, arg, {0, 0, 0, 0, 0}};
    int64_t series_id = 0, from, to, first, end;
    int rc;

    if (q->tenant == NULL || q->device == NULL || q->sensor == NULL || step_ms <= 0 ||
        step_ms > STEP_MAX) {
        return MDX_EINVAL;
    }
    rc = series_find(h, q, &series_id);
    if (rc != MDX_OK || q->from_ms > q->to_ms) {
        return rc == MDX_ENOTFOUND ? MDX_OK : rc; /* an unknown series has no points */
    }
    from = q->from_ms < -TIME_BOUND ? -TIME_BOUND : q->from_ms;
    to = q->to_ms > TIME_BOUND ? TIME_BOUND : q->to_ms;
    if (from > to) {
        return MDX_OK;
    }
    first = floor_to(from, step_ms);
    end = floor_to(to, step_ms) + (step_ms - 1);
    if (step_ms % MDX_ROLLUP_HOUR_MS == 0) {
        rc = buckets_from_rollup(h, R_RANGE_1H, series_id, first, end, &b);
    } else if (step_ms % MDX_ROLLUP_MINUTE_MS == 0) {
        rc = buckets_from_rollup(h, R_RANGE_1M, series_id, first, end, &b);
    } else {
        rc = buckets_from_chunks(h, series_id, first, end, &b);
    }
    if (rc == MDX_OK) {
        rc = bucket_emit(&b);
    }
    return rc == 1 ? MDX_OK : rc;
}

/* ---- latest values ---- */

/* The last point of the chunk row (sensor, t_start, n, data) of 'st'. */
static int chunk_last(sqlite3_stmt *st, struct mdx_chunk_point *last)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int rc;

    rc = mdx_sq_chunk_iter(st, 1, &it);
    while (rc == MDX_OK && (rc = mdx_chunk_iter_next(&it, &pt)) == 1) {
        *last = pt;
        rc = MDX_OK;
    }
    if (rc == 0 && (it.i == 0 || it.i != sqlite3_column_int64(st, 2))) {
        rc = MDX_ECORRUPT;
    }
    return rc;
}

int mdx_sq_latest(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                  void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->rollup->st[R_LATEST];
    struct mdx_chunk_point last = {0, 0, 0};
    int rc, ret = MDX_OK, rows = 0;

    if (tenant == NULL || device == NULL) {
        return MDX_EINVAL;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        ret = chunk_last(st, &last);
        if (ret == MDX_OK) {
            ret = fn(arg, (const char *)sqlite3_column_text(st, 0), last.ts_ms, last.value,
                     last.flags);
        }
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    rc = mdx_sq_finish(st, rc);
    if (rc == MDX_OK && rows == 0) {
        /* No points: tell an unknown device from one that has sent nothing. */
        st = h->st[SQ_DEVICE_IDS];
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
        rc = mdx_sq_step_row(st);
        sqlite3_reset(st);
    }
    return rc;
}
