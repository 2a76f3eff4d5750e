/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite.c - the SQLite store: open and close, the statements kept in the
 * handle, and the back end's table of concerns. The top of the back end:
 * it calls down into the concern files and their helpers, none of which
 * calls it.
 *
 * One database file in WAL mode. The hot statements are prepared once at
 * open and kept in the handle. Each concern of store.h is one file here
 * (series.c with the batch writer write.c and rollup.c, catalog.c,
 * alerts.c, access.c, archive.c, commands.c, rul.c); the schema is in
 * migrations.c, and the statement helpers they share in stmt.c.
 *
 * List callbacks run while the listing statement is active: they may call
 * other functions of the same store, but not the same listing again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/sqlite/migrations.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "store/sqlite/rollup.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

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
                      " d.status, d.status_ms, d.emergency_stop, d.safety_ms, d.interlocks"
                      " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                      " WHERE t.name = ?1 AND d.name = ?2",
    [SQ_DEVICE_LIST] = "SELECT t.name, d.name, d.created_ms, d.last_seen_ms, d.auto_registered,"
                       " d.type, d.status, d.status_ms, d.emergency_stop, d.safety_ms,"
                       " d.interlocks"
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
    /* Effects of a batch's events (catalog.c); an older event changes nothing. */
    [SQ_DEVICE_STATUS] = "UPDATE devices SET status = ?1, status_ms = ?2"
                         " WHERE id = ?3 AND status_ms <= ?2",
    [SQ_DEVICE_SAFETY] = "UPDATE devices SET emergency_stop = CASE WHEN ?4 & 1 THEN ?1"
                         " ELSE emergency_stop END, interlocks = (interlocks & ~?4) | ?5,"
                         " safety_ms = ?2 WHERE id = ?3 AND safety_ms <= ?2",
    [SQ_COMMAND_ACK] = "UPDATE commands SET state = ?1, detail = ?2, updated_ms = ?3"
                       " WHERE id = ?4 AND device_id = ?5",
    [SQ_DEVICE_EPOCH] = "SELECT n FROM device_epoch WHERE id = 1",
};

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

/*
 * Creates the database file with mode 0600 if it does not exist yet, so
 * that it (every tenant's data, all secret hashes) is private whatever the
 * umask; SQLite gives its WAL and SHM files the database file's mode. An
 * existing file keeps its mode; ":memory:" and URIs are left to SQLite.
 */
static int create_private(const char *path)
{
    int fd;

    if (path[0] == '\0' || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
        return MDX_OK;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? MDX_OK : MDX_EIO;
    }
    close(fd);
    return MDX_OK;
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
    rc = create_private(conf->sqlite_path);
    if (rc != MDX_OK) {
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

const struct mdx_store_backend mdx_store_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .series = &mdx_sq_series,
    .catalog = &mdx_sq_catalog,
    .alerts = &mdx_sq_alerts,
    .access = &mdx_sq_access,
    .archive = &mdx_sq_archive,
    .commands = &mdx_sq_commands,
    .rul = &mdx_sq_rul,
    .lease = &mdx_sq_lease,
    .detector = &mdx_sq_detector,
};
