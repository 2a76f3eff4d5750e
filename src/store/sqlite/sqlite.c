/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite.c - the SQLite store: open, registry and queries.
 *
 * One database file in WAL mode. Every statement is prepared once at open
 * and kept in the handle. The batch writer and its caches are in
 * store_sqlite_write.c; the schema is in migrations_sqlite.c.
 *
 * List callbacks run while the listing statement is active: they may call
 * other functions of the same store, but not the same listing again.
 */
#include <stdio.h>
#include <string.h>

#include "store/sqlite/migrations.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/validate.h"
#include "store/sqlite/sqlite_int.h"

static const char *const sql_text[SQ_STMT_COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_TENANT_ADD] = "INSERT INTO tenants (name, created_ms) VALUES (?1, ?2)",
    [SQ_TENANT_ID] = "SELECT id FROM tenants WHERE name = ?1",
    [SQ_TENANT_LIST] = "SELECT name FROM tenants ORDER BY name",
    [SQ_DEVICE_ADD] = "INSERT INTO devices (tenant_id, name, created_ms, auto_registered)"
                      " VALUES (?1, ?2, ?3, ?4)",
    [SQ_DEVICE_GET] = "SELECT d.created_ms, d.last_seen_ms, d.auto_registered, d.type,"
                      " d.status, d.status_ms, d.emergency_stop, d.safety_ms"
                      " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                      " WHERE t.name = ?1 AND d.name = ?2",
    [SQ_DEVICE_LIST] = "SELECT t.name, d.name, d.created_ms, d.last_seen_ms, d.auto_registered,"
                       " d.type, d.status, d.status_ms, d.emergency_stop, d.safety_ms"
                       " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE ?1 IS NULL OR t.name = ?1 ORDER BY t.name, d.name",
    [SQ_DEVICE_IDS] = "SELECT d.id, d.tenant_id FROM devices d JOIN tenants t"
                      " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2",
    [SQ_SENSOR_LIST] = "SELECT s.sensor FROM series s JOIN devices d ON d.id = s.device_id"
                       " JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = ?1 AND d.name = ?2 ORDER BY s.sensor",
    [SQ_SERIES_GET] = "SELECT id FROM series WHERE device_id = ?1 AND sensor = ?2",
    [SQ_SERIES_ADD] = "INSERT INTO series (device_id, sensor) VALUES (?1, ?2)",
    [SQ_SERIES_FIND] = "SELECT s.id FROM series s JOIN devices d ON d.id = s.device_id"
                       " JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = ?1 AND d.name = ?2 AND s.sensor = ?3",
    [SQ_CHUNK_HEAD] = "SELECT t_start, t_end, n, data FROM chunks WHERE series_id = ?1"
                      " ORDER BY t_start DESC LIMIT 1",
    [SQ_CHUNK_AT] = "SELECT t_start, t_end, n, data FROM chunks"
                    " WHERE series_id = ?1 AND t_start <= ?2 ORDER BY t_start DESC LIMIT 1",
    [SQ_CHUNK_NEXT] = "SELECT t_start FROM chunks WHERE series_id = ?1 AND t_start > ?2"
                      " ORDER BY t_start LIMIT 1",
    [SQ_CHUNK_PUT] = "INSERT INTO chunks (series_id, t_start, t_end, n, data)"
                     " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (series_id, t_start)"
                     " DO UPDATE SET t_end = excluded.t_end, n = excluded.n, data = excluded.data",
    /* Chunks do not overlap: start at the last chunk starting at or before ?2. */
    [SQ_CHUNK_RANGE] = "SELECT t_start, t_end, n, data FROM chunks WHERE series_id = ?1"
                       " AND t_start >= COALESCE((SELECT MAX(t_start) FROM chunks"
                       " WHERE series_id = ?1 AND t_start <= ?2), ?2)"
                       " AND t_start <= ?3 ORDER BY t_start",
    [SQ_DEVICE_SEEN] = "UPDATE devices SET last_seen_ms = MAX(last_seen_ms, ?1) WHERE id = ?2",
    [SQ_TENANT_POINTS_ADD] = "UPDATE tenants SET points = points + ?1 WHERE id = ?2",
    [SQ_POINTS_TENANT] = "SELECT points FROM tenants WHERE name = ?1",
    [SQ_POINTS_ALL] = "SELECT COALESCE(SUM(points), 0) FROM tenants",
    [SQ_EVENT_ADD] = "INSERT OR IGNORE INTO events (device_id, kind, ts_ms, recv_ms, flags, body)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_EVENT_LIST] = "SELECT e.kind, e.ts_ms, e.flags, e.body FROM events e"
                      " WHERE e.device_id = (SELECT d.id FROM devices d JOIN tenants t"
                      " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2)"
                      " ORDER BY e.ts_ms DESC, e.id DESC LIMIT ?3",
    [SQ_DL_ADD] = "INSERT INTO dead_letters (recv_ms, reason, topic, payload, orig_len)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_DL_EVICT] = "DELETE FROM dead_letters"
                    " WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?1",
    [SQ_DL_COUNT_BUMP] = "INSERT INTO dead_letter_counts (reason, count) VALUES (?1, 1)"
                         " ON CONFLICT (reason) DO UPDATE SET count = count + 1",
    [SQ_DL_LIST] = "SELECT id, recv_ms, reason, topic, payload, orig_len FROM dead_letters"
                   " ORDER BY id DESC LIMIT ?1",
    [SQ_DL_COUNTS] = "SELECT reason, count FROM dead_letter_counts ORDER BY reason",
    [SQ_CKPT_SET] = "INSERT INTO spool_checkpoint (owner, segment, offset) VALUES (?3, ?1, ?2)"
                    " ON CONFLICT (owner) DO UPDATE SET segment = excluded.segment,"
                    " offset = excluded.offset",
    [SQ_CKPT_GET] = "SELECT segment, offset FROM spool_checkpoint WHERE owner = ?1",
    /* Effects of a batch's events (store_sqlite_device.c); an older event changes nothing. */
    [SQ_DEVICE_STATUS] = "UPDATE devices SET status = ?1, status_ms = ?2"
                         " WHERE id = ?3 AND status_ms <= ?2",
    [SQ_DEVICE_SAFETY] = "UPDATE devices SET emergency_stop = ?1, safety_ms = ?2"
                         " WHERE id = ?3 AND safety_ms <= ?2",
    [SQ_COMMAND_ACK] = "UPDATE commands SET state = ?1, detail = ?2, updated_ms = ?3"
                       " WHERE id = ?4 AND device_id = ?5",
    [SQ_DEVICE_EPOCH] = "SELECT n FROM device_epoch WHERE id = 1",
};

int mdx_sq_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return MDX_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return MDX_EBUSY;
    case SQLITE_FULL:
        return MDX_EFULL;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return MDX_EIO;
    case SQLITE_NOMEM:
        return MDX_ENOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return MDX_ECORRUPT;
    default:
        return MDX_ESTORE;
    }
}

int mdx_sq_name_valid(const char *s)
{
    return s != NULL && mdx_valid_segment(s, strnlen(s, MDX_NAME_MAX + 1));
}

int mdx_sq_prepare(struct sq *h, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(h->db, sql, -1, st, NULL);

    if (rc != SQLITE_OK) {
        *st = NULL;
        return mdx_sq_status(rc);
    }
    return MDX_OK;
}

int mdx_sq_step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    return rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ENOTFOUND : mdx_sq_status(rc);
}

int mdx_sq_find(struct sq *h, const char *sql, const char *key1, const char *key2,
                sqlite3_stmt **st)
{
    int rc = mdx_sq_prepare(h, sql, st);

    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(*st, 1, key1, -1, SQLITE_STATIC);
    if (key2 != NULL) {
        sqlite3_bind_text(*st, 2, key2, -1, SQLITE_STATIC);
    }
    rc = mdx_sq_step_row(*st);
    if (rc != MDX_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

int mdx_sq_run_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

/* Resets 'st' and turns a step result into a status. */
static int finish(sqlite3_stmt *st, int rc)
{
    sqlite3_reset(st);
    return mdx_sq_status(rc);
}

void mdx_sq_column_copy(sqlite3_stmt *st, int col, char *buf, size_t len)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);

    if (t == NULL) {
        n = 0;
    }
    if (n >= len) {
        n = len - 1;
    }
    if (n > 0) {
        memcpy(buf, t, n);
    }
    buf[n] = '\0';
}

int mdx_sq_tenant_id(struct sq *h, const char *tenant, int64_t *id)
{
    sqlite3_stmt *st;
    int rc;

    rc = sqlite3_prepare_v2(h->db, "SELECT id FROM tenants WHERE name = ?1", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return mdx_sq_status(rc);
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ENOTFOUND : mdx_sq_status(rc);
}

static void sq_close(void *impl)
{
    struct sq *h = impl;

    if (h == NULL) {
        return;
    }
    for (int i = 0; i < SQ_STMT_COUNT; i++) {
        sqlite3_finalize(h->st[i]);
    }
    mdx_sq_cache_fini(h);
    mdx_sq_rollup_close(h);
    sqlite3_close_v2(h->db);
    mdx_free(h);
}

static int setup_db(struct sq *h, const struct mdx_store_conf *conf)
{
    int rc;

    sqlite3_busy_timeout(h->db, (int)conf->busy_timeout_ms);
    /* Only takes effect on a new database; large pages keep chunks inline. */
    rc = sqlite3_exec(h->db, "PRAGMA page_size = 8192", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(h->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(h->db,
                          conf->synchronous_full ? "PRAGMA synchronous = FULL"
                                                 : "PRAGMA synchronous = NORMAL",
                          NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(h->db,
                          "PRAGMA foreign_keys = ON;"
                          "PRAGMA cache_size = -32768;" /* KiB */
                          "PRAGMA temp_store = MEMORY",
                          NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = mdx_sqlite_migrate(h->db, mdx_now_ms());
    }
    for (int i = 0; i < SQ_STMT_COUNT && rc == SQLITE_OK; i++) {
        rc = sqlite3_prepare_v3(h->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &h->st[i],
                                NULL);
    }
    return rc;
}

static int sq_open(const struct mdx_store_conf *conf, void **impl)
{
    struct sq *h;
    int rc;

    *impl = NULL;
    if (conf->sqlite_path == NULL || conf->busy_timeout_ms < 0 ||
        conf->busy_timeout_ms > 600000 || conf->chunk_points < 16 ||
        conf->chunk_points > 8192 || conf->cache_series < 16 || conf->deadletter_max < 10) {
        return MDX_EINVAL;
    }
    h = mdx_calloc(1, sizeof(*h));
    if (h == NULL) {
        return MDX_ENOMEM;
    }
    h->chunk_points = (uint32_t)conf->chunk_points;
    h->cache_series = (size_t)conf->cache_series;
    h->deadletter_max = conf->deadletter_max;
    if (mdx_sq_cache_init(h) != MDX_OK) {
        rc = MDX_ENOMEM;
        goto fail;
    }
    rc = sqlite3_open_v2(conf->sqlite_path, &h->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        rc = setup_db(h, conf);
    }
    if (rc != SQLITE_OK) {
        rc = rc == SQLITE_MISMATCH ? MDX_ESTORE : mdx_sq_status(rc);
        goto fail;
    }
    rc = mdx_sq_rollup_open(h);
    if (rc != MDX_OK) {
        goto fail;
    }
    *impl = h;
    return MDX_OK;

fail:
    sq_close(h);
    return rc;
}

/* ---- registry ---- */

static int tenant_id(struct sq *h, const char *tenant, int64_t *id)
{
    sqlite3_stmt *st = h->st[SQ_TENANT_ID];
    int rc;

    if (!mdx_sq_name_valid(tenant)) {
        return MDX_ENOTFOUND;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ENOTFOUND : mdx_sq_status(rc);
}

static int sq_tenant_add(void *impl, const char *tenant)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_TENANT_ADD];
    int rc;

    if (!mdx_sq_name_valid(tenant)) {
        return MDX_EINVAL;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, mdx_now_ms());
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return (rc & 0xff) == SQLITE_CONSTRAINT ? MDX_EEXIST : mdx_sq_status(rc);
}

static int sq_tenant_exists(void *impl, const char *tenant)
{
    int64_t id;

    return tenant_id(impl, tenant, &id);
}

static int sq_tenant_list(void *impl, mdx_name_fn fn, void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_TENANT_LIST];
    int rc, ret = MDX_OK;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(arg, (const char *)sqlite3_column_text(st, 0));
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return finish(st, rc);
}

static int sq_device_add(void *impl, const char *tenant, const char *device, int auto_registered)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_DEVICE_ADD];
    int64_t tid;
    int rc;

    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_EINVAL;
    }
    rc = tenant_id(h, tenant, &tid);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, tid);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, mdx_now_ms());
    sqlite3_bind_int(st, 4, auto_registered ? 1 : 0);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return (rc & 0xff) == SQLITE_CONSTRAINT ? MDX_EEXIST : mdx_sq_status(rc);
}

static void device_row(sqlite3_stmt *st, int first, struct mdx_device_info *out)
{
    out->created_ms = sqlite3_column_int64(st, first);
    out->last_seen_ms = sqlite3_column_int64(st, first + 1);
    out->auto_registered = sqlite3_column_int(st, first + 2);
    mdx_sq_column_copy(st, first + 3, out->type, sizeof(out->type));
    mdx_sq_column_copy(st, first + 4, out->status, sizeof(out->status));
    out->status_ms = sqlite3_column_int64(st, first + 5);
    out->emergency_stop = sqlite3_column_int(st, first + 6);
    out->safety_ms = sqlite3_column_int64(st, first + 7);
}

static int sq_device_get(void *impl, const char *tenant, const char *device,
                         struct mdx_device_info *out)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_DEVICE_GET];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
        snprintf(out->device, sizeof(out->device), "%s", device);
        device_row(st, 0, out);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ENOTFOUND : mdx_sq_status(rc);
}

static int sq_device_list(void *impl, const char *tenant, mdx_device_fn fn, void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_DEVICE_LIST];
    struct mdx_device_info info;
    int rc, ret;

    if (tenant != NULL) {
        int64_t tid;
        rc = tenant_id(h, tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 1);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        mdx_sq_column_copy(st, 0, info.tenant, sizeof(info.tenant));
        mdx_sq_column_copy(st, 1, info.device, sizeof(info.device));
        device_row(st, 2, &info);
        ret = fn(arg, &info);
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return finish(st, rc);
}

static int sq_sensor_list(void *impl, const char *tenant, const char *device, mdx_name_fn fn,
                          void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_SENSOR_LIST];
    int rc, ret;

    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ret = fn(arg, (const char *)sqlite3_column_text(st, 0));
        if (ret != MDX_OK) {
            sqlite3_reset(st);
            return ret;
        }
    }
    return finish(st, rc);
}

/* ---- points, events, dead letters, checkpoint ---- */

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
    return finish(st, rc);
}

/* Calls fn for the points of one chunk row within [from, to]; counts them in *sent. */
static int chunk_points(sqlite3_stmt *st, const struct mdx_query *q, mdx_point_fn fn, void *arg,
                        int64_t *sent)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int64_t n = sqlite3_column_int64(st, 2);
    int rc;

    rc = mdx_chunk_iter_init(&it, sqlite3_column_blob(st, 3),
                             (size_t)sqlite3_column_bytes(st, 3), sqlite3_column_int64(st, 0));
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
    return finish(st, rc);
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
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? MDX_OK : rc == SQLITE_DONE ? MDX_ENOTFOUND : mdx_sq_status(rc);
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
    return finish(st, rc);
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
    return finish(st, rc);
}

static int sq_event_list(void *impl, const char *tenant, const char *device, int64_t limit,
                         int (*fn)(void *arg, const struct mdx_event *ev), void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_EVENT_LIST];
    struct mdx_event *ev;
    int rc, ret = MDX_OK;

    ev = mdx_malloc(sizeof(*ev)); /* 1 KiB body: keep it off the stack */
    if (ev == NULL) {
        return MDX_ENOMEM;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        ev->kind = (enum mdx_msg_kind)sqlite3_column_int(st, 0);
        ev->ts_ms = sqlite3_column_int64(st, 1);
        ev->flags = (uint8_t)sqlite3_column_int(st, 2);
        mdx_sq_column_copy(st, 3, ev->body, sizeof(ev->body));
        ret = fn(arg, ev);
        if (ret != MDX_OK) {
            break;
        }
    }
    if (ret == MDX_OK) {
        ret = mdx_sq_status(rc);
    }
    sqlite3_reset(st);
    mdx_free(ev);
    return ret;
}

const struct mdx_store_ops mdx_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .tenant_add = sq_tenant_add,
    .tenant_list = sq_tenant_list,
    .tenant_exists = sq_tenant_exists,
    .device_add = sq_device_add,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .sensor_list = sq_sensor_list,
    .write = mdx_sq_write,
    .checkpoint_get = sq_checkpoint_get,
    .query_points = sq_query_points,
    .point_count = sq_point_count,
    .deadletter_list = sq_deadletter_list,
    .deadletter_counts = sq_deadletter_counts,
    .event_list = sq_event_list,
    .query_buckets = mdx_sq_query_buckets, /* store_sqlite_rollup.c */
    .latest = mdx_sq_latest,
    .retention_get = mdx_sq_retention_get, /* store_sqlite_archive.c */
    .retention_set = mdx_sq_retention_set,
    .archive_partitions = mdx_sq_archive_partitions,
    .export_points = mdx_sq_export_points,
    .delete_points = mdx_sq_delete_points,
    .archive_obj_put = mdx_sq_archive_obj_put,
    .archive_obj_list = mdx_sq_archive_obj_list,
    .archive_obj_delete = mdx_sq_archive_obj_delete,
    .device_set_type = mdx_sq_device_set_type, /* store_sqlite_alert.c */
    .rule_put = mdx_sq_rule_put,
    .rule_list = mdx_sq_rule_list,
    .rule_delete = mdx_sq_rule_delete,
    .alert_put = mdx_sq_alert_put,
    .alert_get = mdx_sq_alert_get,
    .alert_list = mdx_sq_alert_list,
    .device_config_get = mdx_sq_device_config_get, /* store_sqlite_device.c */
    .device_config_set = mdx_sq_device_config_set,
    .device_delete = mdx_sq_device_delete,
    .apikey_add = mdx_sq_apikey_add, /* store_sqlite_apikey.c */
    .apikey_get = mdx_sq_apikey_get,
    .apikey_list = mdx_sq_apikey_list,
    .apikey_revoke = mdx_sq_apikey_revoke,
    .command_put = mdx_sq_command_put, /* store_sqlite_command.c */
    .command_get = mdx_sq_command_get,
    .command_list = mdx_sq_command_list,
    .device_cred_set = mdx_sq_device_cred_set, /* store_sqlite_cred.c */
    .device_cred_get = mdx_sq_device_cred_get,
    .device_revoke = mdx_sq_device_revoke,
    .identity_add = mdx_sq_identity_add,
    .identity_get = mdx_sq_identity_get,
    .identity_list = mdx_sq_identity_list,
    .identity_revoke = mdx_sq_identity_revoke,
    .rul = &mdx_store_sqlite_rul,
};
