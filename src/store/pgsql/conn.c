/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn.c - the PostgreSQL store's connection and the statements run on it:
 * the statements prepared on every new connection, connecting (lazily,
 * and again after a lost connection), the setup of each new connection
 * (migrations, the writer's staging table, the statements, the partitions
 * ahead), and the helpers through which pgsql.c, write.c and the concern
 * files run statements. It calls none of those files.
 *
 * A statement run while the connection is down reconnects first, and a
 * new connection runs statements while it is set up, so connecting and
 * running statements are one file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/validate.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/migrations.h"

#define MOD "store"
#define DAYS_MAX 4096 /* partition days remembered; forgotten ones are re-checked */

/* Names order bytewise, as in SQLite, whatever the database's collation. */
static const char *const sql_text[PG_STMT_COUNT] = {
    [PG_TENANT_ADD] = "INSERT INTO tenants (name, created_ms) VALUES ($1, $2)",
    [PG_TENANT_ID] = "SELECT id FROM tenants WHERE name = $1",
    [PG_TENANT_LIST] = "SELECT name FROM tenants ORDER BY name COLLATE \"C\"",
    [PG_DEVICE_ADD] = "INSERT INTO devices (tenant_id, name, created_ms, auto_registered)"
                      " VALUES ($1, $2, $3, $4)",
    [PG_DEVICE_GET] = "SELECT d.created_ms, d.last_seen_ms, d.auto_registered, d.type,"
                      " d.status, d.status_ms, d.emergency_stop, d.safety_ms, d.interlocks"
                      " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                      " WHERE t.name = $1 AND d.name = $2",
    [PG_DEVICE_LIST] = "SELECT t.name, d.name, d.created_ms, d.last_seen_ms, d.auto_registered,"
                       " d.type, d.status, d.status_ms, d.emergency_stop, d.safety_ms,"
                       " d.interlocks"
                       " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE $1::text IS NULL OR t.name = $1"
                       " ORDER BY t.name COLLATE \"C\", d.name COLLATE \"C\"",
    [PG_DEVICE_IDS] = "SELECT d.id, d.tenant_id FROM devices d JOIN tenants t"
                      " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2",
    [PG_SENSOR_LIST] = "SELECT s.sensor FROM series s JOIN devices d ON d.id = s.device_id"
                       " JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = $1 AND d.name = $2 ORDER BY s.sensor COLLATE \"C\"",
    [PG_SERIES_ADD] = "INSERT INTO series (device_id, sensor) VALUES ($1, $2)"
                      " ON CONFLICT DO NOTHING RETURNING id",
    [PG_SERIES_GET] = "SELECT id FROM series WHERE device_id = $1 AND sensor = $2",
    [PG_SERIES_FIND] = "SELECT s.id FROM series s JOIN devices d ON d.id = s.device_id"
                       " JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = $1 AND d.name = $2 AND s.sensor = $3",
    [PG_ENSURE_PARTITION] = "SELECT mdx_ensure_partition($1)",
    /*
     * A batch that may hold stored points: the staged points that are new
     * go into points; exactly those (RETURNING) feed the rollups, the
     * latest values and the tenants' point counters. A duplicate adds
     * nothing anywhere; a late point corrects its buckets.
     */
    [PG_APPLY] =
        "WITH ins AS ("
        " INSERT INTO points (series_id, ts_ms, value, flags)"
        " SELECT series_id, ts_ms, value, flags FROM mdx_staging"
        " ON CONFLICT DO NOTHING RETURNING series_id, ts_ms, value, flags),"
        "m AS ("
        " INSERT INTO rollup_1m AS r (series_id, bucket_ms, min, max, sum, count)"
        " SELECT series_id, ts_ms - ((ts_ms % 60000) + 60000) % 60000,"
        " min(value), max(value), sum(value), count(*) FROM ins GROUP BY 1, 2"
        " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET min = LEAST(r.min, excluded.min),"
        " max = GREATEST(r.max, excluded.max), sum = r.sum + excluded.sum,"
        " count = r.count + excluded.count),"
        "h AS ("
        " INSERT INTO rollup_1h AS r (series_id, bucket_ms, min, max, sum, count)"
        " SELECT series_id, ts_ms - ((ts_ms % 3600000) + 3600000) % 3600000,"
        " min(value), max(value), sum(value), count(*) FROM ins GROUP BY 1, 2"
        " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET min = LEAST(r.min, excluded.min),"
        " max = GREATEST(r.max, excluded.max), sum = r.sum + excluded.sum,"
        " count = r.count + excluded.count),"
        "l AS ("
        " INSERT INTO series_latest AS l (series_id, ts_ms, value, flags)"
        " SELECT DISTINCT ON (series_id) series_id, ts_ms, value, flags FROM ins"
        " ORDER BY series_id, ts_ms DESC"
        " ON CONFLICT (series_id) DO UPDATE SET ts_ms = excluded.ts_ms,"
        " value = excluded.value, flags = excluded.flags WHERE l.ts_ms < excluded.ts_ms),"
        "per_tenant AS ("
        " SELECT d.tenant_id, sum(g.n)::bigint AS n FROM"
        " (SELECT series_id, count(*) AS n FROM ins GROUP BY series_id) g"
        " JOIN series s ON s.id = g.series_id JOIN devices d ON d.id = s.device_id"
        " GROUP BY d.tenant_id),"
        "t AS ("
        " UPDATE tenants SET points = tenants.points + p.n FROM per_tenant p"
        " WHERE tenants.id = p.tenant_id)"
        "SELECT COALESCE(sum(n), 0) FROM per_tenant",
    /*
     * The rest of PG_APPLY for a batch whose points were all new, which is
     * the usual case: the writer copied them straight into points (had one
     * been stored already, the primary key would have refused the COPY and
     * the batch would be redone with PG_APPLY), summed them per minute
     * ($1..$6) and found each series' last point ($7..$10) itself.
     */
    [PG_APPLY_NEW] =
        "WITH mi AS MATERIALIZED ("
        " SELECT * FROM unnest($1::integer[], $2::bigint[], $3::float8[], $4::float8[],"
        " $5::float8[], $6::bigint[]) AS v(series_id, bucket_ms, min, max, sum, count)),"
        "m AS ("
        " INSERT INTO rollup_1m AS r (series_id, bucket_ms, min, max, sum, count)"
        " SELECT series_id, bucket_ms, min, max, sum, count FROM mi"
        " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET min = LEAST(r.min, excluded.min),"
        " max = GREATEST(r.max, excluded.max), sum = r.sum + excluded.sum,"
        " count = r.count + excluded.count),"
        "h AS ("
        " INSERT INTO rollup_1h AS r (series_id, bucket_ms, min, max, sum, count)"
        " SELECT series_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000,"
        " min(min), max(max), sum(sum), sum(count) FROM mi GROUP BY 1, 2"
        " ON CONFLICT (series_id, bucket_ms) DO UPDATE SET min = LEAST(r.min, excluded.min),"
        " max = GREATEST(r.max, excluded.max), sum = r.sum + excluded.sum,"
        " count = r.count + excluded.count),"
        "l AS ("
        " INSERT INTO series_latest AS l (series_id, ts_ms, value, flags)"
        " SELECT * FROM unnest($7::integer[], $8::bigint[], $9::float8[], $10::smallint[])"
        " ON CONFLICT (series_id) DO UPDATE SET ts_ms = excluded.ts_ms,"
        " value = excluded.value, flags = excluded.flags WHERE l.ts_ms < excluded.ts_ms),"
        "per_tenant AS ("
        " SELECT d.tenant_id, sum(g.n)::bigint AS n FROM"
        " (SELECT series_id, sum(count) AS n FROM mi GROUP BY series_id) g"
        " JOIN series s ON s.id = g.series_id JOIN devices d ON d.id = s.device_id"
        " GROUP BY d.tenant_id),"
        "t AS ("
        " UPDATE tenants SET points = tenants.points + p.n FROM per_tenant p"
        " WHERE tenants.id = p.tenant_id)"
        "SELECT COALESCE(sum(n), 0) FROM per_tenant",
    [PG_DEVICES_SEEN] = "UPDATE devices d SET last_seen_ms = v.seen"
                        " FROM unnest($1::bigint[], $2::bigint[]) AS v(id, seen)"
                        " WHERE d.id = v.id AND d.last_seen_ms < v.seen",
    [PG_POINTS_RANGE] = "SELECT ts_ms, value, flags FROM points WHERE series_id = $1"
                        " AND ts_ms >= $2 AND ts_ms <= $3 ORDER BY ts_ms LIMIT $4",
    [PG_POINTS_TENANT] = "SELECT points FROM tenants WHERE name = $1",
    [PG_POINTS_ALL] = "SELECT COALESCE(SUM(points), 0) FROM tenants",
    [PG_EVENT_ADD] = "INSERT INTO events (device_id, kind, ts_ms, recv_ms, flags, body)"
                     " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    [PG_EVENT_LIST] = "SELECT e.kind, e.ts_ms, e.flags, e.body FROM events e"
                      " WHERE e.device_id = (SELECT d.id FROM devices d JOIN tenants t"
                      " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2)"
                      " ORDER BY e.ts_ms DESC, e.id DESC LIMIT $3",
    [PG_DL_ADD] = "INSERT INTO dead_letters (recv_ms, reason, topic, payload, orig_len)"
                  " VALUES ($1, $2, $3, $4, $5)",
    /* Ids have gaps (rolled-back batches): keep the newest $1 rows by count. */
    [PG_DL_EVICT] = "DELETE FROM dead_letters WHERE id < (SELECT id FROM dead_letters"
                    " ORDER BY id DESC OFFSET $1::bigint - 1 LIMIT 1)",
    [PG_DL_COUNT_BUMP] = "INSERT INTO dead_letter_counts AS c (reason, count) VALUES ($1, $2)"
                         " ON CONFLICT (reason) DO UPDATE SET count = c.count + excluded.count",
    [PG_DL_LIST] = "SELECT id, recv_ms, reason, topic, payload, orig_len FROM dead_letters"
                   " ORDER BY id DESC LIMIT $1",
    [PG_DL_COUNTS] = "SELECT reason, count FROM dead_letter_counts ORDER BY reason COLLATE \"C\"",
    [PG_CKPT_SET] = "INSERT INTO spool_checkpoint (owner, segment, seg_offset) VALUES ($3, $1, $2)"
                    " ON CONFLICT (owner) DO UPDATE SET segment = excluded.segment,"
                    " seg_offset = excluded.seg_offset",
    [PG_CKPT_GET] = "SELECT segment, seg_offset FROM spool_checkpoint WHERE owner = $1",
    /* Buckets of $4 ms over [$2, $3]; the caller widens the range to whole buckets. */
    [PG_BUCKETS_RAW] = "SELECT b, min(value), max(value), sum(value), count(*) FROM"
                       " (SELECT ts_ms - ((ts_ms % $4) + $4) % $4 AS b, value FROM points"
                       " WHERE series_id = $1 AND ts_ms >= $2 AND ts_ms <= $3) x"
                       " GROUP BY b ORDER BY b LIMIT $5",
    [PG_BUCKETS_1M] = "SELECT b, min(min), max(max), sum(sum), sum(count) FROM"
                      " (SELECT bucket_ms - ((bucket_ms % $4) + $4) % $4 AS b, min, max, sum,"
                      " count FROM rollup_1m"
                      " WHERE series_id = $1 AND bucket_ms >= $2 AND bucket_ms <= $3) x"
                      " GROUP BY b ORDER BY b LIMIT $5",
    [PG_BUCKETS_1H] = "SELECT b, min(min), max(max), sum(sum), sum(count) FROM"
                      " (SELECT bucket_ms - ((bucket_ms % $4) + $4) % $4 AS b, min, max, sum,"
                      " count FROM rollup_1h"
                      " WHERE series_id = $1 AND bucket_ms >= $2 AND bucket_ms <= $3) x"
                      " GROUP BY b ORDER BY b LIMIT $5",
    [PG_LATEST] = "SELECT s.sensor, l.ts_ms, l.value, l.flags FROM series s"
                  " JOIN series_latest l ON l.series_id = s.id"
                  " WHERE s.device_id = (SELECT d.id FROM devices d JOIN tenants t"
                  " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2)"
                  " ORDER BY s.sensor COLLATE \"C\"",
    [PG_RETENTION_GET] = "SELECT r.archive_after_days, r.expire_after_days FROM retention r"
                         " JOIN tenants t ON t.id = r.tenant_id WHERE t.name = $1",
    [PG_RETENTION_SET] = "INSERT INTO retention (tenant_id, archive_after_days, expire_after_days)"
                         " SELECT id, $2, $3 FROM tenants WHERE name = $1"
                         " ON CONFLICT (tenant_id) DO UPDATE SET"
                         " archive_after_days = excluded.archive_after_days,"
                         " expire_after_days = excluded.expire_after_days",
    /* One index probe per (device, day): never a scan of old raw points. */
    [PG_PARTITIONS] = "SELECT d.name, pd.day_ms FROM point_days pd CROSS JOIN devices d"
                      " JOIN tenants t ON t.id = d.tenant_id"
                      " WHERE t.name = $1 AND pd.day_ms <= $2::bigint - 86400000"
                      " AND EXISTS (SELECT 1 FROM series s JOIN points p ON p.series_id = s.id"
                      " WHERE s.device_id = d.id AND p.ts_ms >= pd.day_ms"
                      " AND p.ts_ms < pd.day_ms + 86400000)"
                      " ORDER BY pd.day_ms, d.name COLLATE \"C\"",
    [PG_SERIES_OF_DEVICE] = "SELECT id, sensor FROM series WHERE device_id = $1"
                            " ORDER BY sensor COLLATE \"C\"",
    /* Deletes only when the range holds $4 points (or $4 < 0), in one snapshot. */
    [PG_DELETE] = "WITH cnt AS (SELECT count(*) AS c FROM points p JOIN series s"
                  " ON s.id = p.series_id WHERE s.device_id = $1"
                  " AND p.ts_ms >= $2 AND p.ts_ms < $3),"
                  "del AS (DELETE FROM points p USING series s, cnt"
                  " WHERE s.id = p.series_id AND s.device_id = $1"
                  " AND p.ts_ms >= $2 AND p.ts_ms < $3 AND ($4::bigint < 0 OR cnt.c = $4::bigint)"
                  " RETURNING 1),"
                  "n AS (SELECT count(*) AS c FROM del),"
                  "u AS (UPDATE tenants SET points = tenants.points - n.c FROM n, devices d"
                  " WHERE d.id = $1 AND tenants.id = d.tenant_id AND n.c > 0)"
                  "SELECT n.c, cnt.c FROM n, cnt",
    [PG_ARCHIVE_PUT] = "INSERT INTO archive_objects (key, tenant, device, day_ms, seq, size,"
                       " sha256, points, state, created_ms)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                       " ON CONFLICT (key) DO UPDATE SET tenant = excluded.tenant,"
                       " device = excluded.device, day_ms = excluded.day_ms, seq = excluded.seq,"
                       " size = excluded.size, sha256 = excluded.sha256,"
                       " points = excluded.points, state = excluded.state,"
                       " created_ms = excluded.created_ms",
    [PG_ARCHIVE_LIST] = "SELECT key, tenant, device, day_ms, seq, size, sha256, points, state,"
                        " created_ms FROM archive_objects"
                        " WHERE ($1::text IS NULL OR tenant = $1)"
                        " AND ($2::integer < 0 OR state = $2)"
                        " AND ($3::bigint <= 0 OR day_ms < $3)"
                        " ORDER BY day_ms, seq, key COLLATE \"C\"",
    [PG_ARCHIVE_DELETE] = "DELETE FROM archive_objects WHERE key = $1",
    /* Effects of a batch's events (catalog.c); an older event changes nothing. */
    [PG_DEVICE_STATUS] = "UPDATE devices SET status = $1, status_ms = $2"
                         " WHERE id = $3 AND status_ms <= $2",
    [PG_DEVICE_SAFETY] = "UPDATE devices SET emergency_stop = CASE WHEN ($4::int & 1) = 1"
                         " THEN $1::smallint ELSE emergency_stop END,"
                         " interlocks = (interlocks & ~$4::int) | $5::int, safety_ms = $2"
                         " WHERE id = $3 AND safety_ms <= $2",
    [PG_COMMAND_ACK] = "UPDATE commands SET state = $1, detail = $2, updated_ms = $3"
                       " WHERE id = $4 AND device_id = $5",
    [PG_DEVICE_EPOCH] = "SELECT n FROM device_epoch WHERE id = 1",
};

/* ---- helpers shared by the pgsql files ---- */

int mdx_pg_valid_name(const char *s)
{
    return s != NULL && mdx_valid_segment(s, strnlen(s, MDX_NAME_MAX + 1));
}

const char *mdx_pg_fmt(char *buf, int64_t v)
{
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

int64_t mdx_pg_i64(const PGresult *res, int row, int col)
{
    const char *s = PQgetvalue(res, row, col);

    return s != NULL ? (int64_t)strtoll(s, NULL, 10) : 0;
}

double mdx_pg_dbl(const PGresult *res, int row, int col)
{
    const char *s = PQgetvalue(res, row, col);

    return s != NULL ? strtod(s, NULL) : 0.0;
}

static int hex_val(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Hex text of exactly 'len' bytes into 'out'; else 'out' stays zero. */
static void hex_bytes(const char *hex, unsigned char *out, size_t len)
{
    if (strlen(hex) != 2 * len) {
        return;
    }
    for (size_t k = 0; k < len; k++) {
        int hi = hex_val(hex[2 * k]), lo = hex_val(hex[2 * k + 1]);
        out[k] = hi < 0 || lo < 0 ? 0 : (unsigned char)(hi << 4 | lo);
    }
}

/* The row a reader of a result reads. */
struct pg_result_row {
    const PGresult *res;
    int row;
};

static void pg_text(void *src, int col, char *buf, size_t len)
{
    const struct pg_result_row *r = src;

    snprintf(buf, len, "%s", PQgetvalue(r->res, r->row, col));
}

static int64_t pg_i64(void *src, int col)
{
    const struct pg_result_row *r = src;

    return mdx_pg_i64(r->res, r->row, col);
}

static double pg_dbl(void *src, int col)
{
    const struct pg_result_row *r = src;

    return mdx_pg_dbl(r->res, r->row, col);
}

static int pg_is_null(void *src, int col)
{
    const struct pg_result_row *r = src;

    return PQgetisnull(r->res, r->row, col);
}

static void pg_bytes(void *src, int col, unsigned char *buf, size_t len)
{
    const struct pg_result_row *r = src;

    hex_bytes(PQgetvalue(r->res, r->row, col), buf, len);
}

static const struct mdx_row_reader pg_reader = {pg_text, pg_i64, pg_dbl, pg_is_null, pg_bytes};

void mdx_pg_row_map(const PGresult *res, int row, const struct mdx_row_layout *layout, void *rec)
{
    struct pg_result_row r = {res, row};

    mdx_row_fill(layout, rec, &pg_reader, &r);
}

/* SQLSTATEs that mean "try again" or "the connection is gone". */
int mdx_pg_status(struct pg *h, const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    if (h->conn == NULL || PQstatus(h->conn) == CONNECTION_BAD || state == NULL) {
        h->ready = 0;
        return MDX_ECONN;
    }
    if (strcmp(state, "23505") == 0) {
        return MDX_EEXIST;
    }
    if (strcmp(state, "23503") == 0) {
        return MDX_ENOTFOUND;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 ||
        strcmp(state, "53200") == 0 || strcmp(state, "53300") == 0) {
        return MDX_EBUSY;
    }
    if (strcmp(state, "53100") == 0) {
        return MDX_EFULL;
    }
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) {
        h->ready = 0; /* shutting down or restarting: reconnect next time */
        return MDX_ECONN;
    }
    if (strncmp(state, "22", 2) == 0) {
        return MDX_EINVAL;
    }
    mdx_log_error(MOD, "PostgreSQL statement failed", MDX_F_STR("sqlstate", state),
                  MDX_F_STR("error", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)));
    return MDX_ESTORE;
}

static int result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int mdx_pg_exec_bin(struct pg *h, enum pg_stmt id, int n, const char *const *vals,
                    const int *lens, const int *fmts, PGresult **out)
{
    char name[16];
    PGresult *res;
    int rc;

    *out = NULL;
    rc = mdx_pg_ensure(h);
    if (rc != MDX_OK) {
        return rc;
    }
    snprintf(name, sizeof(name), "mdx%d", (int)id);
    res = PQexecPrepared(h->conn, name, n, vals, lens, fmts, 0);
    if (result_ok(res)) {
        *out = res;
        return MDX_OK;
    }
    rc = mdx_pg_status(h, res);
    PQclear(res);
    return rc;
}

int mdx_pg_exec(struct pg *h, enum pg_stmt id, int n, const char *const *vals, PGresult **out)
{
    return mdx_pg_exec_bin(h, id, n, vals, NULL, NULL, out);
}

/* MDX_ENOTFOUND, clearing *res, when a successful result 'rc' has no rows; else rc. */
static int first_row(int rc, PGresult **res)
{
    if (rc == MDX_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        rc = MDX_ENOTFOUND;
    }
    return rc;
}

int mdx_pg_exec_row(struct pg *h, enum pg_stmt id, int n, const char *const *vals,
                    PGresult **out)
{
    return first_row(mdx_pg_exec(h, id, n, vals, out), out);
}

/* MDX_ENOTFOUND when a successful result 'rc' changed no rows, else rc; clears 'res'. */
static int changed(int rc, PGresult *res)
{
    if (rc == MDX_OK && strcmp(PQcmdTuples(res), "0") == 0) {
        rc = MDX_ENOTFOUND;
    }
    PQclear(res);
    return rc;
}

int mdx_pg_exec_change(struct pg *h, enum pg_stmt id, int n, const char *const *vals)
{
    PGresult *res;
    int rc = mdx_pg_exec(h, id, n, vals, &res);

    return changed(rc, res);
}

int mdx_pg_exec_only(struct pg *h, enum pg_stmt id, int n, const char *const *vals)
{
    PGresult *res;
    int rc = mdx_pg_exec(h, id, n, vals, &res);

    PQclear(res);
    return rc;
}

int mdx_pg_simple(struct pg *h, const char *sql)
{
    PGresult *res;
    int rc = MDX_OK;

    if (h->conn == NULL) {
        return MDX_ECONN;
    }
    res = PQexec(h->conn, sql);
    if (!result_ok(res)) {
        rc = mdx_pg_status(h, res);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_begin(struct pg *h)
{
    int rc = mdx_pg_ensure(h);

    if (rc == MDX_OK) {
        rc = mdx_pg_simple(h, "BEGIN");
    }
    return rc;
}

int mdx_pg_end(struct pg *h, int rc)
{
    if (rc == MDX_OK) {
        rc = mdx_pg_simple(h, "COMMIT");
    }
    if (rc != MDX_OK && h->conn != NULL && PQstatus(h->conn) == CONNECTION_OK) {
        PQclear(PQexec(h->conn, "ROLLBACK"));
    }
    return rc;
}

/* ---- connection ---- */

/* First line of libpq's message (the rest is hints about sockets). */
static void first_line(const char *msg, char *buf, size_t len)
{
    size_t n = strcspn(msg, "\n");

    if (n >= len) {
        n = len - 1;
    }
    memcpy(buf, msg, n);
    buf[n] = '\0';
}

/* Server notices ("relation exists, skipping") go to the debug log, not to stderr. */
static void on_notice(void *arg, const char *msg)
{
    (void)arg;
    mdx_log_debug(MOD, "PostgreSQL notice", MDX_F_STR("notice", msg));
}

/*
 * The password of a new connection into *pw (borrowed): the configured
 * one, or with azure-workload-identity an Entra ID token that is fresh
 * enough (the provider renews it at half its life). A token endpoint that
 * is down is MDX_ECONN, as a server that is down; a refused grant
 * MDX_EDENIED, as a refused password.
 */
static int connection_password(struct pg *h, const char **pw)
{
    char why[512];
    int rc;

    *pw = h->password;
    if (h->wi == NULL) {
        return MDX_OK;
    }
    rc = mdx_azure_creds_get(h->wi, mdx_now_ms(), pw, why, sizeof(why));
    if (rc == MDX_EAGAIN) {
        mdx_log_warn(MOD, "no Entra ID token for PostgreSQL yet; retrying",
                     MDX_F_STR("credentials", "azure-workload-identity"),
                     MDX_F_STR("server", h->where), MDX_F_STR("reason", why));
        return MDX_ECONN;
    }
    if (rc != MDX_OK) {
        mdx_log_error(MOD, "the Entra ID token endpoint refused the workload identity; check "
                           "the federated credential of AZURE_CLIENT_ID",
                      MDX_F_STR("credentials", "azure-workload-identity"),
                      MDX_F_STR("server", h->where), MDX_F_STR("reason", why));
        return rc == MDX_ENOMEM ? MDX_ENOMEM : MDX_EDENIED;
    }
    return MDX_OK;
}

/* Connects; a failure is classified: refused credentials, bad config, or down. */
static int connect_once(struct pg *h)
{
    const char *keys[8], *vals[8], *pw;
    char msg[512];
    int k = 0, rc;

    rc = connection_password(h, &pw);
    if (rc != MDX_OK) {
        return rc;
    }
    keys[k] = "dbname";
    vals[k++] = h->url;
    if (pw != NULL && pw[0] != '\0') {
        keys[k] = "password";
        vals[k++] = pw;
    }
    keys[k] = "sslmode";
    vals[k++] = h->sslmode;
    keys[k] = "connect_timeout";
    vals[k++] = h->timeout;
    keys[k] = "application_name";
    vals[k++] = "modax";
    keys[k] = "keepalives_idle";
    vals[k++] = "30";
    keys[k] = NULL;
    vals[k] = NULL;
    h->conn = PQconnectdbParams(keys, vals, 1);
    if (h->conn != NULL && PQstatus(h->conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(h->conn, on_notice, NULL);
        return MDX_OK;
    }
    first_line(h->conn != NULL ? PQerrorMessage(h->conn) : "out of memory", msg, sizeof(msg));
    if (h->conn != NULL && (PQconnectionNeedsPassword(h->conn) ||
                            strstr(msg, "authentication failed") != NULL ||
                            strstr(msg, "no password supplied") != NULL ||
                            strstr(msg, "pg_hba.conf") != NULL)) {
        if (h->wi != NULL) {
            mdx_log_error(MOD,
                          "PostgreSQL refused the Entra ID token "
                          "(store.pgsql.credentials = azure-workload-identity); check that "
                          "Entra authentication is on and that the user in store.pgsql.url is "
                          "the managed identity's PostgreSQL role",
                          MDX_F_STR("credentials", "azure-workload-identity"),
                          MDX_F_STR("server", h->where), MDX_F_STR("error", msg));
        } else {
            mdx_log_error(MOD,
                          "PostgreSQL refused the credentials; check the user in "
                          "store.pgsql.url and the password in MODAX_STORE_PGSQL_PASSWORD or "
                          "MODAX_STORE_PGSQL_PASSWORD_FILE",
                          MDX_F_STR("credentials", "password"), MDX_F_STR("server", h->where),
                          MDX_F_STR("error", msg));
        }
        PQfinish(h->conn);
        h->conn = NULL;
        return MDX_EDENIED;
    }
    if (strstr(msg, "does not exist") != NULL || strstr(msg, "SSL") != NULL ||
        strstr(msg, "invalid") != NULL) {
        mdx_log_error(MOD, "PostgreSQL connection refused; check store.pgsql.url and sslmode",
                      MDX_F_STR("server", h->where), MDX_F_STR("error", msg));
        PQfinish(h->conn);
        h->conn = NULL;
        return MDX_ECONF;
    }
    mdx_log_warn(MOD, "PostgreSQL unreachable; retrying", MDX_F_STR("server", h->where),
                 MDX_F_STR("error", msg));
    PQfinish(h->conn);
    h->conn = NULL;
    return MDX_ECONN;
}

/* Migrates, creates the staging table and the partitions ahead, prepares statements. */
static int setup(struct pg *h)
{
    char name[16];
    int rc;

    rc = mdx_pgsql_migrate(h->conn, mdx_now_ms(), &h->timescale);
    if (rc == MDX_OK) {
        rc = mdx_pg_simple(h, "SET client_min_messages = warning;"
                              "CREATE TEMP TABLE IF NOT EXISTS mdx_staging ("
                              " series_id integer NOT NULL, ts_ms bigint NOT NULL,"
                              " value double precision NOT NULL, flags smallint NOT NULL)"
                              " ON COMMIT DELETE ROWS");
    }
    if (rc == MDX_OK) {
        /* A statement waiting for a lock gives up like SQLite's busy timeout (MDX_EBUSY). */
        const char *v[1] = {h->lock_timeout};
        PGresult *res = PQexecParams(h->conn, "SELECT set_config('lock_timeout', $1, false)", 1,
                                     NULL, v, NULL, NULL, 0);
        if (!result_ok(res)) {
            rc = mdx_pg_status(h, res);
        }
        PQclear(res);
    }
    for (int i = 0; i < PG_STMT_COUNT && rc == MDX_OK; i++) {
        PGresult *res;

        snprintf(name, sizeof(name), "mdx%d", i);
        res = PQprepare(h->conn, name, sql_text[i], 0, NULL);
        if (!result_ok(res)) {
            rc = mdx_pg_status(h, res);
        }
        PQclear(res);
    }
    if (rc == MDX_OK) {
        h->ready = 1;
        h->ahead_day = INT64_MIN;
        h->n_days = 0;
        rc = mdx_pg_partitions_ahead(h);
    }
    return rc;
}

int mdx_pg_ensure(struct pg *h)
{
    int rc;

    if (h->ready && h->conn != NULL && PQstatus(h->conn) == CONNECTION_OK) {
        return MDX_OK;
    }
    h->ready = 0;
    if (h->conn != NULL) {
        PQfinish(h->conn);
        h->conn = NULL;
    }
    rc = connect_once(h);
    if (rc == MDX_OK) {
        rc = setup(h);
    }
    if (rc != MDX_OK) {
        h->ready = 0;
        if (h->conn != NULL) {
            PQfinish(h->conn);
            h->conn = NULL;
        }
        return rc;
    }
    mdx_log_info(MOD, "connected to PostgreSQL", MDX_F_STR("server", h->where),
                 MDX_F_STR("points", h->timescale ? "timescaledb hypertable"
                                                  : "native daily partitions"));
    return MDX_OK;
}

/* ---- statements run by the concern files ---- */

int mdx_pg_run(struct pg *h, int in_tx, const char *sql, int n, const char *const *vals,
               PGresult **out)
{
    PGresult *res;
    ExecStatusType es;
    int rc;

    *out = NULL;
    if (in_tx) {
        rc = h->conn != NULL && PQstatus(h->conn) == CONNECTION_OK ? MDX_OK : MDX_ECONN;
    } else {
        rc = mdx_pg_ensure(h);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    res = PQexecParams(h->conn, sql, n, NULL, vals, NULL, NULL, 0);
    es = PQresultStatus(res);
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
        *out = res;
        return MDX_OK;
    }
    rc = mdx_pg_status(h, res);
    PQclear(res);
    return rc;
}

int mdx_pg_run_row(struct pg *h, int in_tx, const char *sql, int n, const char *const *vals,
                   PGresult **out)
{
    return first_row(mdx_pg_run(h, in_tx, sql, n, vals, out), out);
}

int mdx_pg_tenant_row(struct pg *h, const char *sql, const char *tenant, PGresult **out)
{
    const char *v[1] = {tenant};

    if (!mdx_pg_valid_name(tenant)) {
        *out = NULL;
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_row(h, 0, sql, 1, v, out);
}

int mdx_pg_exec_tenant_row(struct pg *h, enum pg_stmt id, const char *tenant, PGresult **out)
{
    const char *v[1] = {tenant};

    if (!mdx_pg_valid_name(tenant)) {
        *out = NULL;
        return MDX_ENOTFOUND;
    }
    return mdx_pg_exec_row(h, id, 1, v, out);
}

int mdx_pg_run_rec(struct pg *h, const char *sql, int n, const char *const *vals,
                   const struct mdx_row_layout *layout, void *rec)
{
    PGresult *res;
    int rc = mdx_pg_run_row(h, 0, sql, n, vals, &res);

    if (rc == MDX_OK) {
        mdx_pg_row_map(res, 0, layout, rec);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_run_change_tx(struct pg *h, int in_tx, const char *sql, int n,
                         const char *const *vals)
{
    PGresult *res;
    int rc = mdx_pg_run(h, in_tx, sql, n, vals, &res);

    return changed(rc, res);
}

int mdx_pg_run_change(struct pg *h, const char *sql, int n, const char *const *vals)
{
    return mdx_pg_run_change_tx(h, 0, sql, n, vals);
}

int mdx_pg_tenant_text(struct pg *h, const char *tenant, char *buf)
{
    PGresult *res;
    int rc = mdx_pg_tenant_row(h, "SELECT id FROM tenants WHERE name = $1", tenant, &res);

    if (rc == MDX_OK) {
        snprintf(buf, 24, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

int mdx_pg_device_id(struct pg *h, const char *tenant, const char *device, int64_t *id)
{
    const char *v[2] = {tenant, device};
    PGresult *res;
    int rc;

    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_exec_row(h, PG_DEVICE_IDS, 2, v, &res);
    if (rc == MDX_OK) {
        *id = mdx_pg_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_exec_names(struct pg *h, enum pg_stmt id, int n, const char *const *vals,
                      mdx_name_fn fn, void *arg)
{
    PGresult *res;
    int rc = mdx_pg_exec(h, id, n, vals, &res);

    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        rc = fn(arg, PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return rc;
}

int mdx_pg_list(struct pg *h, const char *sql, int n, const char *const *vals, mdx_pg_row_fn row,
                void *ctx)
{
    PGresult *res;
    int rc = mdx_pg_run(h, 0, sql, n, vals, &res);

    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        rc = row(res, i, ctx);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_tenant_list(struct pg *h, const char *tenant, const char *sql, mdx_pg_row_fn row,
                       void *ctx)
{
    char tid[24];
    const char *v[1] = {NULL};
    int rc;

    if (tenant != NULL) {
        rc = mdx_pg_tenant_text(h, tenant, tid);
        if (rc != MDX_OK) {
            return rc;
        }
        v[0] = tid;
    }
    return mdx_pg_list(h, sql, 1, v, row, ctx);
}

int mdx_pg_device_list(struct pg *h, const char *tenant, const char *device, int64_t limit,
                       const char *by_tenant, const char *by_device, mdx_pg_row_fn row, void *ctx)
{
    char lim[24], tid[24];
    const char *v[3] = {tenant, limit > 0 ? mdx_pg_fmt(lim, limit) : NULL, device};
    int64_t id;
    int rc;

    if (limit < 0) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_tenant_text(h, tenant, tid);
    if (rc == MDX_OK && device != NULL) {
        rc = mdx_pg_device_id(h, tenant, device, &id);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    return mdx_pg_list(h, device != NULL ? by_device : by_tenant, device != NULL ? 3 : 2, v, row,
                       ctx);
}

/* ---- partitions ahead: part of every new connection's setup ---- */

static int day_known(const struct pg *h, int64_t day)
{
    for (size_t i = 0; i < h->n_days; i++) {
        if (h->days[i] == day) {
            return 1;
        }
    }
    return 0;
}

int mdx_pg_partition_ensure(struct pg *h, int64_t day)
{
    char buf[24];
    const char *v[1] = {mdx_pg_fmt(buf, day)};
    PGresult *res;
    int rc;

    if (day_known(h, day)) {
        return MDX_OK;
    }
    rc = mdx_pg_exec(h, PG_ENSURE_PARTITION, 1, v, &res);
    PQclear(res);
    if (rc != MDX_OK) {
        return rc;
    }
    if (h->n_days >= DAYS_MAX) {
        h->n_days = 0;
    }
    if (h->n_days >= h->cap_days) {
        int64_t *d = mdx_grow(h->days, &h->cap_days, h->n_days + 1, sizeof(*d), 64);
        if (d == NULL) {
            return MDX_OK; /* it exists; we just don't remember it */
        }
        h->days = d;
    }
    h->days[h->n_days++] = day;
    return MDX_OK;
}

int mdx_pg_partitions_ahead(struct pg *h)
{
    int64_t today = mdx_floor_div(mdx_now_ms(), MDX_DAY_MS);
    int rc = MDX_OK;

    if (h->ahead_day == today + h->days_ahead) {
        return MDX_OK;
    }
    for (int64_t d = today; d <= today + h->days_ahead && rc == MDX_OK; d++) {
        rc = mdx_pg_partition_ensure(h, d * MDX_DAY_MS);
    }
    if (rc == MDX_OK) {
        h->ahead_day = today + h->days_ahead;
    }
    return rc;
}
