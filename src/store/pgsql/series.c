/* SPDX-License-Identifier: Apache-2.0 */
/*
 * series.c - the PostgreSQL store's series (store_series.h): points,
 * bucket queries over the rollups, latest values, events, dead letters and
 * checkpoints read back. The batch writer that fills them is write.c.
 *
 * Buckets come from rollup_1h when the step is a multiple of an hour,
 * from rollup_1m when it is a multiple of a minute, else from raw points;
 * larger steps are aggregated from the rollup rows in SQL. A bucket is
 * always whole: the range is widened to the step buckets that overlap
 * [from, to], so the three sources give the same answer.
 *
 * Results are fetched whole (long ranges page through them), so list
 * callbacks may call other functions of the same store.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

#define PAGE_ROWS 10000 /* rows per fetch of a long range */

/*
 * As in the SQLite store: times clamped to +-2^62 ms and steps bounded, so
 * bucket arithmetic cannot overflow.
 */
#define TIME_BOUND (INT64_C(1) << 62)
#define STEP_MAX (INT64_C(1) << 50)

static int pg_sensor_list(void *impl, const char *tenant, const char *device, mdx_name_fn fn,
                          void *arg)
{
    const char *v[2] = {tenant, device};

    return mdx_pg_exec_names(impl, PG_SENSOR_LIST, 2, v, fn, arg);
}

/* ---- points, events, dead letters, checkpoint ---- */

static int pg_checkpoint_get(void *impl, const char *owner, struct mdx_spool_pos *pos)
{
    const char *v[1] = {owner};
    PGresult *res;
    int rc;

    pos->segment = 0;
    pos->offset = 0;
    rc = mdx_pg_exec(impl, PG_CKPT_GET, 1, v, &res);
    if (rc == MDX_OK && PQntuples(res) > 0) {
        pos->segment = (uint64_t)mdx_pg_i64(res, 0, 0);
        pos->offset = (uint64_t)mdx_pg_i64(res, 0, 1);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_series_points(struct pg *h, int64_t id, int64_t from, int64_t to, int64_t limit,
                         mdx_point_fn fn, mdx_sensor_point_fn sfn, const char *sensor, void *arg)
{
    char ids[24], froms[24], tos[24], lims[24];
    int64_t sent = 0;
    int rc = MDX_OK;

    mdx_pg_fmt(ids, id);
    mdx_pg_fmt(tos, to);
    while (rc == MDX_OK && from <= to) {
        int64_t page = PAGE_ROWS;
        const char *v[4] = {ids, froms, tos, lims};
        PGresult *res;
        int n;

        if (limit > 0 && limit - sent < page) {
            page = limit - sent;
        }
        if (page <= 0) {
            break;
        }
        mdx_pg_fmt(froms, from);
        mdx_pg_fmt(lims, page);
        rc = mdx_pg_exec(h, PG_POINTS_RANGE, 4, v, &res);
        if (rc != MDX_OK) {
            break;
        }
        n = PQntuples(res);
        for (int i = 0; i < n && rc == MDX_OK; i++) {
            int64_t ts = mdx_pg_i64(res, i, 0);
            double val = mdx_pg_dbl(res, i, 1);
            unsigned flags = (unsigned)mdx_pg_i64(res, i, 2);

            rc = fn != NULL ? fn(arg, ts, val, flags) : sfn(arg, sensor, ts, val, flags);
            from = ts;
        }
        sent += n;
        PQclear(res);
        if (n < page || from == INT64_MAX) {
            break;
        }
        from++;
    }
    return rc;
}

static int pg_query_points(void *impl, const struct mdx_query *q, mdx_point_fn fn, void *arg)
{
    const char *v[3] = {q->tenant, q->device, q->sensor};
    PGresult *res;
    int64_t id;
    int rc;

    if (q->tenant == NULL || q->device == NULL || q->sensor == NULL) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_exec(impl, PG_SERIES_FIND, 3, v, &res);
    if (rc != MDX_OK || PQntuples(res) == 0) {
        PQclear(res);
        return rc; /* an unknown series has no points */
    }
    id = mdx_pg_i64(res, 0, 0);
    PQclear(res);
    if (q->from_ms > q->to_ms) {
        return MDX_OK;
    }
    return mdx_pg_series_points(impl, id, q->from_ms, q->to_ms, q->limit, fn, NULL, NULL, arg);
}

static int pg_point_count(void *impl, const char *tenant, int64_t *count)
{
    const char *v[1] = {tenant};
    PGresult *res;
    int rc;

    *count = 0;
    rc = mdx_pg_exec_row(impl, tenant != NULL ? PG_POINTS_TENANT : PG_POINTS_ALL,
                         tenant != NULL ? 1 : 0, v, &res);
    if (rc == MDX_OK) {
        *count = mdx_pg_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

static int pg_deadletter_list(void *impl, int64_t limit, mdx_deadletter_fn fn, void *arg)
{
    char lim[24];
    const char *v[1] = {limit > 0 ? mdx_pg_fmt(lim, limit) : NULL};
    struct mdx_deadletter dl;
    PGresult *res;
    int rc = mdx_pg_exec(impl, PG_DL_LIST, 1, v, &res);

    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        size_t len = 0;
        unsigned char *payload =
            PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 4), &len);

        if (payload == NULL) {
            rc = MDX_ENOMEM;
            break;
        }
        dl.id = mdx_pg_i64(res, i, 0);
        dl.recv_ms = mdx_pg_i64(res, i, 1);
        dl.reason = PQgetvalue(res, i, 2);
        dl.topic = PQgetvalue(res, i, 3);
        dl.payload = payload;
        dl.payload_len = len;
        dl.orig_len = (size_t)mdx_pg_i64(res, i, 5);
        rc = fn(arg, &dl);
        PQfreemem(payload);
    }
    PQclear(res);
    return rc;
}

static int pg_deadletter_counts(void *impl, mdx_count_fn fn, void *arg)
{
    PGresult *res;
    int rc = mdx_pg_exec(impl, PG_DL_COUNTS, 0, NULL, &res);

    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        rc = fn(arg, PQgetvalue(res, i, 0), mdx_pg_i64(res, i, 1));
    }
    PQclear(res);
    return rc;
}

static int pg_event_list(void *impl, const char *tenant, const char *device, int64_t limit,
                         int (*fn)(void *arg, const struct mdx_event *ev), void *arg)
{
    char lim[24];
    const char *v[3] = {tenant, device, limit > 0 ? mdx_pg_fmt(lim, limit) : NULL};
    struct mdx_event *ev;
    PGresult *res;
    int rc;

    ev = mdx_malloc(sizeof(*ev)); /* 1 KiB body: keep it off the stack */
    if (ev == NULL) {
        return MDX_ENOMEM;
    }
    rc = mdx_pg_exec(impl, PG_EVENT_LIST, 3, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        ev->kind = (enum mdx_msg_kind)mdx_pg_i64(res, i, 0);
        ev->ts_ms = mdx_pg_i64(res, i, 1);
        ev->flags = (uint8_t)mdx_pg_i64(res, i, 2);
        snprintf(ev->body, sizeof(ev->body), "%s", PQgetvalue(res, i, 3));
        rc = fn(arg, ev);
    }
    PQclear(res);
    mdx_free(ev);
    return rc;
}

static int pg_query_buckets(void *impl, const struct mdx_query *q, int64_t step_ms,
                            mdx_bucket_fn fn, void *arg)
{
    struct pg *h = impl;
    const char *sv[3] = {q->tenant, q->device, q->sensor};
    char s[5][24];
    const char *v[5] = {s[0], s[1], s[2], s[3], NULL};
    enum pg_stmt id = PG_BUCKETS_RAW;
    int64_t lo, hi, from, to;
    struct mdx_bucket bk;
    PGresult *res;
    int rc;

    if (step_ms <= 0 || step_ms > STEP_MAX || q->tenant == NULL || q->device == NULL ||
        q->sensor == NULL) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_exec(h, PG_SERIES_FIND, 3, sv, &res);
    if (rc != MDX_OK || PQntuples(res) == 0 || q->from_ms > q->to_ms) {
        PQclear(res);
        return rc;
    }
    mdx_pg_fmt(s[0], mdx_pg_i64(res, 0, 0));
    PQclear(res);
    if (step_ms % MDX_ROLLUP_HOUR_MS == 0) {
        id = PG_BUCKETS_1H;
    } else if (step_ms % MDX_ROLLUP_MINUTE_MS == 0) {
        id = PG_BUCKETS_1M;
    }
    from = q->from_ms < -TIME_BOUND ? -TIME_BOUND : q->from_ms;
    to = q->to_ms > TIME_BOUND ? TIME_BOUND : q->to_ms;
    if (from > to) {
        return MDX_OK;
    }
    lo = mdx_floor_div(from, step_ms) * step_ms;
    hi = mdx_floor_div(to, step_ms) * step_ms + step_ms - 1;
    mdx_pg_fmt(s[1], lo);
    mdx_pg_fmt(s[2], hi);
    mdx_pg_fmt(s[3], step_ms);
    v[4] = q->limit > 0 ? mdx_pg_fmt(s[4], q->limit) : NULL;
    rc = mdx_pg_exec(h, id, 5, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        bk.start_ms = mdx_pg_i64(res, i, 0);
        bk.min = mdx_pg_dbl(res, i, 1);
        bk.max = mdx_pg_dbl(res, i, 2);
        bk.sum = mdx_pg_dbl(res, i, 3);
        bk.count = mdx_pg_i64(res, i, 4);
        rc = fn(arg, &bk);
    }
    PQclear(res);
    return rc;
}

static int pg_latest(void *impl, const char *tenant, const char *device, mdx_sensor_point_fn fn,
                     void *arg)
{
    const char *v[2] = {tenant, device};
    PGresult *res;
    int rc;

    int64_t dev;
    int rows = 0;

    if (tenant == NULL || device == NULL) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_exec(impl, PG_LATEST, 2, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        rc = fn(arg, PQgetvalue(res, i, 0), mdx_pg_i64(res, i, 1), mdx_pg_dbl(res, i, 2),
                (unsigned)mdx_pg_i64(res, i, 3));
        rows++;
    }
    PQclear(res);
    if (rc == MDX_OK && rows == 0) {
        /* No values: tell an unknown device from one that has sent nothing. */
        rc = mdx_pg_device_id(impl, tenant, device, &dev);
    }
    return rc;
}

const struct mdx_store_series_ops mdx_pg_series = {
    .write = mdx_pg_write,
    .checkpoint_get = pg_checkpoint_get,
    .query_points = pg_query_points,
    .point_count = pg_point_count,
    .sensor_list = pg_sensor_list,
    .deadletter_list = pg_deadletter_list,
    .deadletter_counts = pg_deadletter_counts,
    .event_list = pg_event_list,
    .query_buckets = pg_query_buckets,
    .latest = pg_latest,
};
