/* SPDX-License-Identifier: Apache-2.0 */
/*
 * series.c - the SQLite store's series (store_series.h): points read back
 * from their chunks, point counts, sensors, events, dead letters and
 * checkpoints. The batch writer is write.c; rollups and the bucket and
 * latest-value queries they serve are rollup.c.
 *
 * List callbacks run while the listing statement is active: they may call
 * other functions of the same store, but not the same listing again.
 */
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "store/sqlite/rollup.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

static int sq_sensor_list(void *impl, const char *tenant, const char *device, mdx_name_fn fn,
                          void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_SENSOR_LIST];

    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    return mdx_sq_each_name(st, fn, arg);
}

static int sq_checkpoint_get(void *impl, const char *owner, struct mdx_spool_pos *pos)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_CKPT_GET];
    int rc;

    pos->segment = 0;
    pos->offset = 0;
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        pos->segment = (uint64_t)sqlite3_column_int64(st, 0);
        pos->offset = (uint64_t)sqlite3_column_int64(st, 1);
    }
    return mdx_sq_finish(st, rc);
}

/* Calls fn for the points of one chunk row within [from, to]; counts them in *sent. */
static int chunk_points(sqlite3_stmt *st, const struct mdx_query *q, mdx_point_fn fn, void *arg,
                        int64_t *sent)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int64_t n = sqlite3_column_int64(st, 2);
    int rc;

    rc = mdx_sq_chunk_iter(st, 0, &it);
    if (rc != MDX_OK) {
        return rc;
    }
    while ((rc = mdx_chunk_iter_next(&it, &pt)) == 1) {
        if (pt.ts_ms < q->from_ms) {
            continue;
        }
        if (pt.ts_ms > q->to_ms || (q->limit > 0 && *sent >= q->limit)) {
            return MDX_OK;
        }
        rc = fn(arg, pt.ts_ms, pt.value, pt.flags);
        if (rc != MDX_OK) {
            return rc;
        }
        (*sent)++;
    }
    if (rc == 0 && it.i != n) {
        rc = MDX_ECORRUPT;
    }
    return rc < 0 ? rc : MDX_OK;
}

static int sq_query_points(void *impl, const struct mdx_query *q, mdx_point_fn fn, void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_SERIES_FIND];
    int64_t series_id = 0, sent = 0;
    int rc, ret = MDX_OK;

    if (q->tenant == NULL || q->device == NULL || q->sensor == NULL) {
        return MDX_EINVAL;
    }
    sqlite3_bind_text(st, 1, q->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, q->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, q->sensor, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        series_id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) {
        return mdx_sq_status(rc); /* an unknown series has no points */
    }
    if (q->from_ms > q->to_ms) {
        return MDX_OK;
    }
    st = h->st[SQ_CHUNK_RANGE];
    sqlite3_bind_int64(st, 1, series_id);
    sqlite3_bind_int64(st, 2, q->from_ms);
    sqlite3_bind_int64(st, 3, q->to_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (q->limit > 0 && sent >= q->limit) {
            break;
        }
        ret = chunk_points(st, q, fn, arg, &sent);
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return mdx_sq_finish(st, rc);
}

static int sq_point_count(void *impl, const char *tenant, int64_t *count)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[tenant != NULL ? SQ_POINTS_TENANT : SQ_POINTS_ALL];
    int rc;

    *count = 0;
    if (tenant != NULL) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    }
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        *count = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc;
}

static int sq_deadletter_list(void *impl, int64_t limit, mdx_deadletter_fn fn, void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_DL_LIST];
    struct mdx_deadletter dl;
    int rc, ret;

    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        dl.id = sqlite3_column_int64(st, 0);
        dl.recv_ms = sqlite3_column_int64(st, 1);
        dl.reason = (const char *)sqlite3_column_text(st, 2);
        dl.topic = (const char *)sqlite3_column_text(st, 3);
        dl.payload = sqlite3_column_blob(st, 4);
        dl.payload_len = (size_t)sqlite3_column_bytes(st, 4);
        dl.orig_len = (size_t)sqlite3_column_int64(st, 5);
        ret = fn(arg, &dl);
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return mdx_sq_finish(st, rc);
}

static int sq_deadletter_counts(void *impl, mdx_count_fn fn, void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_DL_COUNTS];
    int rc, ret;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(arg, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return mdx_sq_finish(st, rc);
}

/* A listing of events: its callback, argument and the record it reuses (on the heap). */
struct event_list {
    int (*fn)(void *arg, const struct mdx_event *ev);
    void *arg;
    struct mdx_event *ev;
};

static int event_row(sqlite3_stmt *st, void *ctx)
{
    const struct event_list *l = ctx;
    struct mdx_event *ev = l->ev;

    ev->kind = (enum mdx_msg_kind)sqlite3_column_int(st, 0);
    ev->ts_ms = sqlite3_column_int64(st, 1);
    ev->flags = (uint8_t)sqlite3_column_int(st, 2);
    mdx_sq_column_copy(st, 3, ev->body, sizeof(ev->body));
    return l->fn(l->arg, ev);
}

static int sq_event_list(void *impl, const char *tenant, const char *device, int64_t limit,
                         int (*fn)(void *arg, const struct mdx_event *ev), void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_EVENT_LIST];
    /* The event's 1 KiB body: keep it off the stack. */
    struct event_list list = {fn, arg, mdx_malloc(sizeof(*list.ev))};
    int rc;

    if (list.ev == NULL) {
        return MDX_ENOMEM;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    rc = mdx_sq_each_kept(st, event_row, &list);
    mdx_free(list.ev);
    return rc;
}

const struct mdx_store_series_ops mdx_sq_series = {
    .write = mdx_sq_write,                 /* write.c */
    .checkpoint_get = sq_checkpoint_get,
    .query_points = sq_query_points,
    .point_count = sq_point_count,
    .sensor_list = sq_sensor_list,
    .deadletter_list = sq_deadletter_list,
    .deadletter_counts = sq_deadletter_counts,
    .event_list = sq_event_list,
    .query_buckets = mdx_sq_query_buckets, /* rollup.c */
    .latest = mdx_sq_latest,               /* rollup.c */
};
