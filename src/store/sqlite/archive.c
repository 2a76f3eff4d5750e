/* SPDX-License-Identifier: Apache-2.0 */
/*
 * archive.c - the SQLite store's side of the archive (store_archive.h):
 * per-tenant retention, the (device, day) partitions of raw points, export
 * and deletion of a range of raw points, and the records of archive
 * objects.
 *
 * Deleting a range drops the chunks inside it and rewrites the chunks that
 * straddle its ends (decoded, the points outside kept, encoded again), in
 * one transaction that also lowers the tenant's point count and bumps the
 * delete_epoch row, so that every connection's writer reloads its cached
 * head chunks before appending (write.c). Rollups stay.
 *
 * These operations run a few times per archived object, so their
 * statements are prepared per call rather than kept in the handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

#define RETENTION_DAYS_MAX 36500
#define DAY MDX_DAY_MS

static int64_t floor_day(int64_t ms)
{
    int64_t r = ms % DAY;

    return ms - (r < 0 ? r + DAY : r);
}

/* ---- retention ---- */

static int sq_retention_get(void *impl, const char *tenant, struct mdx_retention *out)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    rc = mdx_sq_find(h,
                     "SELECT r.archive_after_days, r.expire_after_days FROM retention r"
                     " JOIN tenants t ON t.id = r.tenant_id WHERE t.name = ?1",
                     tenant, NULL, &st);
    if (rc == MDX_OK) {
        out->archive_after_days = sqlite3_column_int64(st, 0);
        out->expire_after_days = sqlite3_column_int64(st, 1);
        sqlite3_finalize(st);
    }
    return rc;
}

static int sq_retention_set(void *impl, const char *tenant, const struct mdx_retention *r)
{
    sqlite3_stmt *st;
    int rc;

    /* Objects must not expire before their points would have been archived. */
    if (tenant == NULL || r->archive_after_days < 1 || r->archive_after_days > RETENTION_DAYS_MAX ||
        r->expire_after_days < r->archive_after_days ||
        r->expire_after_days > RETENTION_DAYS_MAX) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_prepare_tenant(impl,
                               "INSERT INTO retention (tenant_id, archive_after_days,"
                               " expire_after_days) VALUES (?1, ?2, ?3)"
                               " ON CONFLICT (tenant_id) DO UPDATE SET"
                               " archive_after_days = excluded.archive_after_days,"
                               " expire_after_days = excluded.expire_after_days",
                               tenant, 1, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 2, r->archive_after_days);
    sqlite3_bind_int64(st, 3, r->expire_after_days);
    return mdx_sq_run_done(st);
}

/* ---- partitions ---- */

struct part {
    int64_t day_ms;
    char device[MDX_NAME_MAX + 1];
};

struct parts {
    struct part *v;
    size_t n, cap;
};

static int parts_add(struct parts *p, const char *device, int64_t day_ms)
{
    if (p->n > 0 && p->v[p->n - 1].day_ms == day_ms &&
        strcmp(p->v[p->n - 1].device, device) == 0) {
        return MDX_OK; /* chunks of one series come in time order: cheap dedupe */
    }
    if (p->n == p->cap) {
        struct part *v = mdx_grow(p->v, &p->cap, p->n + 1, sizeof(*v), 256);
        if (v == NULL) {
            return MDX_ENOMEM;
        }
        p->v = v;
    }
    p->v[p->n].day_ms = day_ms;
    snprintf(p->v[p->n].device, sizeof(p->v[p->n].device), "%s", device);
    p->n++;
    return MDX_OK;
}

static int cmp_part(const void *a, const void *b)
{
    const struct part *x = a, *y = b;

    if (x->day_ms != y->day_ms) {
        return x->day_ms < y->day_ms ? -1 : 1;
    }
    return strcmp(x->device, y->device);
}

/* Adds the days of the points of a chunk that spans several days, before 'limit'. */
static int chunk_days(struct parts *p, const char *device, sqlite3_stmt *st, int64_t limit)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int rc;

    rc = mdx_sq_chunk_iter(st, 1, &it);
    while (rc == MDX_OK && (rc = mdx_chunk_iter_next(&it, &pt)) == 1) {
        if (pt.ts_ms >= limit) {
            break;
        }
        rc = parts_add(p, device, floor_day(pt.ts_ms));
    }
    return rc < 0 ? rc : MDX_OK;
}

static int sq_archive_partitions(void *impl, const char *tenant, int64_t before_ms,
                                 mdx_partition_fn fn, void *arg)
{
    struct sq *h = impl;
    struct parts p = {NULL, 0, 0};
    int64_t limit = floor_day(before_ms); /* days ending at or before before_ms start below */
    sqlite3_stmt *st;
    int rc, ret = MDX_OK;

    /* The blob is read only for chunks that may span days. */
    rc = mdx_sq_prepare_keys(
        h,
        "SELECT d.name, c.t_start, c.t_end,"
        " CASE WHEN c.t_start >= 0 AND c.t_start / 86400000 = c.t_end / 86400000"
        " THEN NULL ELSE c.data END"
        " FROM tenants t JOIN devices d ON d.tenant_id = t.id"
        " JOIN series s ON s.device_id = d.id JOIN chunks c ON c.series_id = s.id"
        " WHERE t.name = ?1 AND c.t_start < ?2 ORDER BY d.name, s.id, c.t_start",
        tenant, NULL, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 2, limit);
    while (ret == MDX_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *device = (const char *)sqlite3_column_text(st, 0);
        int64_t t_start = sqlite3_column_int64(st, 1);

        if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
            ret = parts_add(&p, device, floor_day(t_start));
        } else {
            ret = chunk_days(&p, device, st, limit);
        }
    }
    if (ret == MDX_OK && rc != SQLITE_DONE) {
        ret = mdx_sq_status(rc);
    }
    sqlite3_finalize(st);
    if (ret == MDX_OK && p.n > 1) {
        qsort(p.v, p.n, sizeof(*p.v), cmp_part);
    }
    for (size_t i = 0; i < p.n && ret == MDX_OK; i++) {
        if (i > 0 && cmp_part(&p.v[i - 1], &p.v[i]) == 0) {
            continue;
        }
        ret = fn(arg, tenant, p.v[i].device, p.v[i].day_ms);
    }
    mdx_free(p.v);
    return ret;
}

/* ---- export ---- */

static const char series_sql[] = "SELECT s.id, s.sensor, d.id FROM series s"
                                 " JOIN devices d ON d.id = s.device_id"
                                 " JOIN tenants t ON t.id = d.tenant_id"
                                 " WHERE t.name = ?1 AND d.name = ?2 ORDER BY s.sensor";

/* Chunks of series ?1 holding points in [?2, ?3): chunks never overlap. */
static const char range_sql[] = "SELECT t_start, t_end, n, data FROM chunks WHERE series_id = ?1"
                                " AND t_start >= COALESCE((SELECT MAX(t_start) FROM chunks"
                                " WHERE series_id = ?1 AND t_start <= ?2), ?2)"
                                " AND t_start < ?3 ORDER BY t_start";

/* Called per series of a device: 'ser' on its row (id, sensor, device id), 'ch' on its chunks. */
typedef int (*series_chunks_fn)(void *ctx, sqlite3_stmt *ser, sqlite3_stmt *ch);

/*
 * Calls fn for each series of (tenant, device) with 'ch' bound to the
 * chunks holding its points in [from, to): MDX_OK, fn's failure or the error.
 */
static int each_series_chunks(struct sq *h, const char *tenant, const char *device, int64_t from,
                              int64_t to, series_chunks_fn fn, void *ctx)
{
    sqlite3_stmt *ser = NULL, *ch = NULL;
    int rc = SQLITE_DONE, ret;

    ret = mdx_sq_prepare(h, series_sql, &ser);
    if (ret == MDX_OK) {
        ret = mdx_sq_prepare(h, range_sql, &ch);
    }
    if (ret == MDX_OK) {
        sqlite3_bind_text(ser, 1, tenant, -1, SQLITE_STATIC);
        sqlite3_bind_text(ser, 2, device, -1, SQLITE_STATIC);
        while (ret == MDX_OK && (rc = sqlite3_step(ser)) == SQLITE_ROW) {
            sqlite3_bind_int64(ch, 1, sqlite3_column_int64(ser, 0));
            sqlite3_bind_int64(ch, 2, from);
            sqlite3_bind_int64(ch, 3, to);
            ret = fn(ctx, ser, ch);
            sqlite3_reset(ch);
        }
        if (ret == MDX_OK && rc != SQLITE_DONE) {
            ret = mdx_sq_status(rc);
        }
    }
    sqlite3_finalize(ch);
    sqlite3_finalize(ser);
    return ret;
}

/* An export: its range and callback. */
struct export {
    int64_t from, to;
    mdx_sensor_point_fn fn;
    void *arg;
};

/* Hands the points of one series in the range to the export's callback. */
static int export_series(void *ctx, sqlite3_stmt *ser, sqlite3_stmt *ch)
{
    const struct export *x = ctx;
    const char *sensor = (const char *)sqlite3_column_text(ser, 1);
    int rc, ret = MDX_OK;

    while (ret == MDX_OK && (rc = sqlite3_step(ch)) == SQLITE_ROW) {
        struct mdx_chunk_iter it;
        struct mdx_chunk_point pt;
        int more;

        ret = mdx_sq_chunk_iter(ch, 0, &it);
        while (ret == MDX_OK && (more = mdx_chunk_iter_next(&it, &pt)) == 1) {
            if (pt.ts_ms >= x->from && pt.ts_ms < x->to) {
                ret = x->fn(x->arg, sensor, pt.ts_ms, pt.value, pt.flags);
            }
        }
        if (ret == MDX_OK && more < 0) {
            ret = more;
        }
    }
    if (ret == MDX_OK && rc != SQLITE_DONE) {
        ret = mdx_sq_status(rc);
    }
    return ret;
}

static int sq_export_points(void *impl, const char *tenant, const char *device, int64_t from_ms,
                            int64_t to_ms, mdx_sensor_point_fn fn, void *arg)
{
    struct export x = {from_ms, to_ms, fn, arg};

    if (from_ms >= to_ms) {
        return MDX_OK;
    }
    return each_series_chunks(impl, tenant, device, from_ms, to_ms, export_series, &x);
}

/* ---- delete ---- */

/* A chunk that holds points of the range; 'data' is copied only when it straddles an end. */
struct hit {
    int64_t t_start, t_end, n;
    uint8_t *data;
    size_t len;
};

struct del_ctx {
    struct sq *h;
    int64_t from, to;
    struct hit *hits;
    size_t n_hits, cap;
    struct mdx_chunk_point *pts;
    size_t pts_cap;
    struct mdx_chunk enc;
    sqlite3_stmt *drop, *put;
    int64_t *deleted;         /* points deleted so far */
};

static int collect_hits(struct del_ctx *c, sqlite3_stmt *ch)
{
    int rc;

    c->n_hits = 0;
    while ((rc = sqlite3_step(ch)) == SQLITE_ROW) {
        struct hit *x;

        if (sqlite3_column_int64(ch, 1) < c->from) {
            continue; /* the chunk before the range */
        }
        if (c->n_hits == c->cap) {
            struct hit *v = mdx_grow(c->hits, &c->cap, c->n_hits + 1, sizeof(*v), 64);
            if (v == NULL) {
                sqlite3_reset(ch);
                return MDX_ENOMEM;
            }
            c->hits = v;
        }
        x = &c->hits[c->n_hits++];
        x->t_start = sqlite3_column_int64(ch, 0);
        x->t_end = sqlite3_column_int64(ch, 1);
        x->n = sqlite3_column_int64(ch, 2);
        x->data = NULL;
        x->len = 0;
        if (x->t_start < c->from || x->t_end >= c->to) {
            x->len = (size_t)sqlite3_column_bytes(ch, 3);
            x->data = mdx_malloc(x->len + 1);
            if (x->data == NULL) {
                sqlite3_reset(ch);
                return MDX_ENOMEM;
            }
            memcpy(x->data, sqlite3_column_blob(ch, 3), x->len);
        }
    }
    sqlite3_reset(ch);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

static int drop_chunk(struct del_ctx *c, int64_t series_id, int64_t t_start)
{
    sqlite3_bind_int64(c->drop, 1, series_id);
    sqlite3_bind_int64(c->drop, 2, t_start);
    int rc = sqlite3_step(c->drop);
    sqlite3_reset(c->drop);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

/* Keeps the points of a straddling chunk that lie outside [from, to); counts the others. */
static int rewrite_chunk(struct del_ctx *c, int64_t series_id, const struct hit *x,
                         int64_t *deleted)
{
    size_t got = 0, kept = 0;
    int rc;

    if (x->n <= 0) {
        return MDX_ECORRUPT;
    }
    if ((size_t)x->n > c->pts_cap) {
        struct mdx_chunk_point *v = mdx_realloc(c->pts, (size_t)x->n * sizeof(*v));
        if (v == NULL) {
            return MDX_ENOMEM;
        }
        c->pts = v;
        c->pts_cap = (size_t)x->n;
    }
    rc = mdx_chunk_decode(x->data, x->len, x->t_start, c->pts, (size_t)x->n, &got);
    if (rc != MDX_OK || got != (size_t)x->n) {
        return rc == MDX_OK || rc == MDX_EFULL ? MDX_ECORRUPT : rc;
    }
    mdx_chunk_reset(&c->enc);
    for (size_t i = 0; i < got; i++) {
        if (c->pts[i].ts_ms >= c->from && c->pts[i].ts_ms < c->to) {
            continue;
        }
        rc = mdx_chunk_append(&c->enc, c->pts[i].ts_ms, c->pts[i].value, c->pts[i].flags);
        if (rc != MDX_OK) {
            return rc;
        }
        kept++;
    }
    if (kept == got) {
        return MDX_OK;
    }
    *deleted += (int64_t)(got - kept);
    if (kept == 0 || c->enc.t_start != x->t_start) {
        rc = drop_chunk(c, series_id, x->t_start);
        if (rc != MDX_OK || kept == 0) {
            return rc;
        }
    }
    sqlite3_bind_int64(c->put, 1, series_id);
    sqlite3_bind_int64(c->put, 2, c->enc.t_start);
    sqlite3_bind_int64(c->put, 3, c->enc.t_end);
    sqlite3_bind_int64(c->put, 4, c->enc.n);
    sqlite3_bind_blob(c->put, 5, c->enc.data, (int)c->enc.len, SQLITE_STATIC);
    rc = sqlite3_step(c->put);
    sqlite3_reset(c->put);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

static void hits_free(struct del_ctx *c)
{
    for (size_t i = 0; i < c->n_hits; i++) {
        MDX_FREE(c->hits[i].data);
    }
    c->n_hits = 0;
}

/* Deletes the range from one series of the device; inside the transaction. */
static int delete_series(void *ctx, sqlite3_stmt *ser, sqlite3_stmt *ch)
{
    struct del_ctx *c = ctx;
    int64_t series_id = sqlite3_column_int64(ser, 0);
    int64_t before = *c->deleted;
    int ret = collect_hits(c, ch);

    for (size_t i = 0; i < c->n_hits && ret == MDX_OK; i++) {
        const struct hit *x = &c->hits[i];

        if (x->data == NULL) {
            ret = drop_chunk(c, series_id, x->t_start);
            *c->deleted += x->n;
        } else {
            ret = rewrite_chunk(c, series_id, x, c->deleted);
        }
    }
    hits_free(c);
    if (*c->deleted != before) {
        mdx_sq_head_forget(c->h, sqlite3_column_int64(ser, 2),
                           (const char *)sqlite3_column_text(ser, 1));
    }
    return ret;
}

static int sq_delete_points(void *impl, const char *tenant, const char *device, int64_t from_ms,
                            int64_t to_ms, int64_t expect, int64_t *deleted)
{
    struct sq *h = impl;
    struct del_ctx c;
    sqlite3_stmt *st = NULL;
    int rc;

    *deleted = 0;
    if (from_ms >= to_ms) {
        return MDX_OK;
    }
    memset(&c, 0, sizeof(c));
    c.h = h;
    c.from = from_ms;
    c.to = to_ms;
    mdx_chunk_init(&c.enc);
    rc = sqlite3_step(h->st[SQ_BEGIN]);
    sqlite3_reset(h->st[SQ_BEGIN]);
    if (rc != SQLITE_DONE) {
        mdx_chunk_fini(&c.enc);
        return mdx_sq_status(rc);
    }
    /*
     * Heads changed by other connections are dropped first; ours are dropped
     * one by one. The delete_epoch bump below tells the writers, so the
     * archiver does not claim points_writer.
     */
    rc = mdx_sq_heads_sync(h, 0);
    if (rc == MDX_OK) {
        rc = mdx_sq_prepare(h, "DELETE FROM chunks WHERE series_id = ?1 AND t_start = ?2", &c.drop);
    }
    if (rc == MDX_OK) {
        rc = mdx_sq_prepare(
            h,
            "INSERT INTO chunks (series_id, t_start, t_end, n, data)"
            " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (series_id, t_start)"
            " DO UPDATE SET t_end = excluded.t_end, n = excluded.n, data = excluded.data",
            &c.put);
    }
    if (rc == MDX_OK) {
        c.deleted = deleted;
        rc = each_series_chunks(h, tenant, device, from_ms, to_ms, delete_series, &c);
    }
    if (rc == MDX_OK && expect >= 0 && *deleted != expect) {
        rc = MDX_EAGAIN; /* not what was archived: roll back, delete nothing */
    }
    if (rc == MDX_OK && *deleted > 0) {
        rc = mdx_sq_prepare(h, "UPDATE tenants SET points = MAX(points - ?1, 0) WHERE name = ?2",
                            &st);
        if (rc == MDX_OK) {
            sqlite3_bind_int64(st, 1, *deleted);
            sqlite3_bind_text(st, 2, tenant, -1, SQLITE_STATIC);
            rc = mdx_sq_run_done(st);
        }
        if (rc == MDX_OK) {
            rc = mdx_sq_prepare(h, "UPDATE delete_epoch SET n = n + 1 WHERE id = 1", &st);
        }
        if (rc == MDX_OK) {
            rc = mdx_sq_run_done(st);
        }
    }
    sqlite3_finalize(c.drop);
    sqlite3_finalize(c.put);
    if (rc == MDX_OK) {
        rc = sqlite3_step(h->st[SQ_COMMIT]);
        sqlite3_reset(h->st[SQ_COMMIT]);
        rc = rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
    }
    if (rc == MDX_OK && *deleted > 0) {
        h->delete_epoch++; /* our own bump: the heads we kept are current */
    }
    if (rc != MDX_OK) {
        sqlite3_step(h->st[SQ_ROLLBACK]);
        sqlite3_reset(h->st[SQ_ROLLBACK]);
        mdx_sq_heads_forget(h);
        *deleted = 0;
    }
    hits_free(&c);
    mdx_free(c.hits);
    mdx_free(c.pts);
    mdx_chunk_fini(&c.enc);
    return rc;
}

/* ---- archive object records ---- */

static int sq_archive_obj_put(void *impl, const struct mdx_archive_obj *o)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    rc = mdx_sq_prepare(
        h,
        "INSERT INTO archive_objects (key, tenant, device, day_ms, seq, size, sha256,"
        " points, state, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        " ON CONFLICT (key) DO UPDATE SET tenant = excluded.tenant,"
        " device = excluded.device, day_ms = excluded.day_ms, seq = excluded.seq,"
        " size = excluded.size, sha256 = excluded.sha256, points = excluded.points,"
        " state = excluded.state, created_ms = excluded.created_ms",
        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, o->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, o->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, o->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, o->day_ms);
    sqlite3_bind_int64(st, 5, o->seq);
    sqlite3_bind_int64(st, 6, o->size);
    sqlite3_bind_text(st, 7, o->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, o->points);
    sqlite3_bind_int(st, 9, o->state);
    sqlite3_bind_int64(st, 10, o->created_ms != 0 ? o->created_ms : mdx_now_ms());
    return mdx_sq_run_done(st);
}

static void copy_col(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
}

static int sq_archive_obj_list(void *impl, const char *tenant, int state, int64_t before_day_ms,
                               mdx_archive_obj_fn fn, void *arg)
{
    struct sq *h = impl;
    struct mdx_archive_obj o;
    sqlite3_stmt *st;
    int rc, ret = MDX_OK;

    rc = mdx_sq_prepare(
        h,
        "SELECT key, tenant, device, day_ms, seq, size, sha256, points, state, created_ms"
        " FROM archive_objects WHERE (?1 IS NULL OR tenant = ?1)"
        " AND (?2 < 0 OR state = ?2) AND (?3 <= 0 OR day_ms < ?3)"
        " ORDER BY day_ms, tenant, device, seq",
        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    if (tenant != NULL) {
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 1);
    }
    sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int64(st, 3, before_day_ms);
    while (ret == MDX_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&o, 0, sizeof(o));
        copy_col(st, 0, o.key, sizeof(o.key));
        copy_col(st, 1, o.tenant, sizeof(o.tenant));
        copy_col(st, 2, o.device, sizeof(o.device));
        o.day_ms = sqlite3_column_int64(st, 3);
        o.seq = sqlite3_column_int64(st, 4);
        o.size = sqlite3_column_int64(st, 5);
        copy_col(st, 6, o.sha256, sizeof(o.sha256));
        o.points = sqlite3_column_int64(st, 7);
        o.state = sqlite3_column_int(st, 8);
        o.created_ms = sqlite3_column_int64(st, 9);
        ret = fn(arg, &o);
    }
    if (ret == MDX_OK && rc != SQLITE_DONE) {
        ret = mdx_sq_status(rc);
    }
    sqlite3_finalize(st);
    return ret;
}

static int sq_archive_obj_delete(void *impl, const char *key)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    rc = mdx_sq_prepare_keys(h, "DELETE FROM archive_objects WHERE key = ?1", key, NULL, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    return mdx_sq_run_done(st);
}

const struct mdx_store_archive_ops mdx_sq_archive = {
    .retention_get = sq_retention_get,
    .retention_set = sq_retention_set,
    .archive_partitions = sq_archive_partitions,
    .export_points = sq_export_points,
    .delete_points = sq_delete_points,
    .archive_obj_put = sq_archive_obj_put,
    .archive_obj_list = sq_archive_obj_list,
    .archive_obj_delete = sq_archive_obj_delete,
};
