/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrations.c - numbered schema migrations of the PostgreSQL store.
 *
 * Each migration is applied once, in order, in its own transaction that
 * first takes a transaction-level advisory lock and then reads the
 * version, so two processes opening a new database at once do not both
 * migrate. Never edit a migration that has shipped: add the next number.
 *
 * The same semantics as sqlite/migrations.c; points are one row each here
 * (PostgreSQL compresses nothing by itself, but its B-tree and COPY make
 * row-per-point fast enough), partitioned by UTC day. Migration 2 has a
 * TimescaleDB variant: when the extension is installed (or can be
 * created), points is a hypertable with 1-day chunks and a compression
 * policy instead of native partitions. That path is small and untested
 * here: the test environment has plain PostgreSQL 15.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql/migrations.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "store"
/* pg_advisory_xact_lock key of the migrations: "MDXM" */
#define MIGRATION_LOCK "1296326733"

struct migration {
    int version;
    const char *sql;
    const char *sql_timescale; /* NULL: the same on TimescaleDB */
};

/* Partition helper, native layout: creates the day's partition if missing. */
#define ENSURE_PARTITION_NATIVE                                                                    \
    "CREATE FUNCTION mdx_ensure_partition(day bigint) RETURNS void LANGUAGE plpgsql AS $f$"       \
    " DECLARE name text := 'points_' || CASE WHEN day BETWEEN 0 AND 253402214400000"               \
    "  THEN to_char(to_timestamp(day / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD')"                      \
    "  ELSE 'd' || (day / 86400000)::text END;"                                                    \
    " BEGIN"                                                                                       \
    "  IF to_regclass(quote_ident(name)) IS NULL THEN"                                             \
    "   BEGIN"                                                                                     \
    "    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF points"                        \
    "     FOR VALUES FROM (%s) TO (%s)', name, day, day + 86400000);"                              \
    "   EXCEPTION WHEN duplicate_table OR unique_violation THEN NULL;"                             \
    "   END;"                                                                                      \
    "  END IF;"                                                                                    \
    "  INSERT INTO point_days (day_ms) VALUES (day) ON CONFLICT DO NOTHING;"                       \
    " END $f$;"

/* The columns of rollup_1m and rollup_1h (one table per bucket size). */
#define ROLLUP_COLUMNS                                                                             \
    " series_id integer NOT NULL,"                                                                 \
    " bucket_ms bigint NOT NULL,"                                                                  \
    " min double precision NOT NULL,"                                                              \
    " max double precision NOT NULL,"                                                              \
    " sum double precision NOT NULL,"                                                              \
    " count bigint NOT NULL,"                                                                      \
    " PRIMARY KEY (series_id, bucket_ms));"

static const struct migration migrations[] = {
    {1,
     /* Registry. tenants.points counts the points stored for the tenant
      * (kept by each write batch), so point counts are one row read. */
     "CREATE TABLE tenants ("
     " id serial PRIMARY KEY,"
     " name text NOT NULL UNIQUE,"
     " created_ms bigint NOT NULL,"
     " points bigint NOT NULL DEFAULT 0);"
     "CREATE TABLE devices ("
     " id serial PRIMARY KEY,"
     " tenant_id integer NOT NULL REFERENCES tenants(id),"
     " name text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " last_seen_ms bigint NOT NULL DEFAULT 0,"
     " auto_registered smallint NOT NULL DEFAULT 0,"
     " UNIQUE (tenant_id, name));"
     /* A series is (device, sensor) with a compact id. */
     "CREATE TABLE series ("
     " id serial PRIMARY KEY,"
     " device_id integer NOT NULL REFERENCES devices(id),"
     " sensor text NOT NULL,"
     " UNIQUE (device_id, sensor));"
     /* The newest point of each series, so "latest" reads one row per sensor. */
     "CREATE TABLE series_latest ("
     " series_id integer PRIMARY KEY,"
     " ts_ms bigint NOT NULL,"
     " value double precision NOT NULL,"
     " flags smallint NOT NULL);"
     /* Rollups, maintained by each batch from the points it inserted. */
     "CREATE TABLE rollup_1m (" ROLLUP_COLUMNS
     "CREATE TABLE rollup_1h (" ROLLUP_COLUMNS
     /* Safety and status events; a redelivered event is ignored. */
     "CREATE TABLE events ("
     " id bigserial PRIMARY KEY,"
     " device_id integer NOT NULL REFERENCES devices(id),"
     " kind smallint NOT NULL,"
     " ts_ms bigint NOT NULL,"
     " recv_ms bigint NOT NULL,"
     " flags smallint NOT NULL,"
     " body text NOT NULL,"
     " UNIQUE (device_id, kind, ts_ms, body));"
     "CREATE INDEX events_device_ts ON events (device_id, ts_ms);"
     /* Refused messages, bounded by store.deadletter_max; counts per reason for ever. */
     "CREATE TABLE dead_letters ("
     " id bigserial PRIMARY KEY,"
     " recv_ms bigint NOT NULL,"
     " reason text NOT NULL,"
     " topic text NOT NULL,"
     " payload bytea NOT NULL,"
     " orig_len bigint NOT NULL);"
     "CREATE TABLE dead_letter_counts ("
     " reason text PRIMARY KEY,"
     " count bigint NOT NULL);"
     /* Spool position of the last stored batch, per ingest worker. */
     "CREATE TABLE spool_checkpoint ("
     " owner text PRIMARY KEY,"
     " segment bigint NOT NULL,"
     " seg_offset bigint NOT NULL);"
     /* Per-tenant retention overrides (days). */
     "CREATE TABLE retention ("
     " tenant_id integer PRIMARY KEY REFERENCES tenants(id),"
     " archive_after_days bigint NOT NULL,"
     " expire_after_days bigint NOT NULL);"
     /* Archived objects and their state (see store.h). */
     "CREATE TABLE archive_objects ("
     " key text PRIMARY KEY,"
     " tenant text NOT NULL,"
     " device text NOT NULL,"
     " day_ms bigint NOT NULL,"
     " seq bigint NOT NULL,"
     " size bigint NOT NULL,"
     " sha256 text NOT NULL,"
     " points bigint NOT NULL,"
     " state smallint NOT NULL,"
     " created_ms bigint NOT NULL);"
     "CREATE INDEX archive_objects_day ON archive_objects (day_ms, seq);"
     /* UTC days that have (or had) a partition of raw points. */
     "CREATE TABLE point_days (day_ms bigint PRIMARY KEY);"
     "CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL);",
     NULL},
    {2,
     /* Raw points, one row each, partitioned by UTC day; partitions are
      * created ahead and on demand by mdx_ensure_partition(). The 8-byte
      * columns come first: no alignment padding, 48 bytes a row. */
     "CREATE TABLE points ("
     " ts_ms bigint NOT NULL,"
     " value double precision NOT NULL,"
     " series_id integer NOT NULL,"
     " flags smallint NOT NULL,"
     " PRIMARY KEY (series_id, ts_ms)) PARTITION BY RANGE (ts_ms);" ENSURE_PARTITION_NATIVE
     "INSERT INTO store_meta VALUES ('points_layout', 'native');",
     /* TimescaleDB: a hypertable of 1-day chunks, compressed after 7 days.
      * No retention policy: the archiver deletes raw rows only after their
      * object is verified. */
     "CREATE TABLE points ("
     " ts_ms bigint NOT NULL,"
     " value double precision NOT NULL,"
     " series_id integer NOT NULL,"
     " flags smallint NOT NULL,"
     " PRIMARY KEY (series_id, ts_ms));"
     "SELECT create_hypertable('points', 'ts_ms', chunk_time_interval => 86400000);"
     "CREATE FUNCTION mdx_now_ms() RETURNS bigint LANGUAGE sql STABLE AS"
     " $f$ SELECT (extract(epoch FROM now()) * 1000)::bigint $f$;"
     "SELECT set_integer_now_func('points', 'mdx_now_ms');"
     "ALTER TABLE points SET (timescaledb.compress,"
     " timescaledb.compress_segmentby = 'series_id', timescaledb.compress_orderby = 'ts_ms');"
     "SELECT add_compression_policy('points', 604800000::bigint);"
     "CREATE FUNCTION mdx_ensure_partition(day bigint) RETURNS void LANGUAGE sql AS"
     " $f$ INSERT INTO point_days (day_ms) VALUES (day) ON CONFLICT DO NOTHING $f$;"
     "INSERT INTO store_meta VALUES ('points_layout', 'timescale');"},
    {3,
     /* Rules and alerts (issue 4); the same as SQLite's migration 4. A
      * device may have a type ('' none) that rules can target. */
     "ALTER TABLE devices ADD COLUMN type text NOT NULL DEFAULT '';"
     /* Threshold rules: one per (tenant, name, scope); the scope is the
      * whole tenant (both ''), a device type or one device. cmp and
      * severity are enum mdx_cmp and enum mdx_severity. */
     "CREATE TABLE rules ("
     " id serial PRIMARY KEY,"
     " tenant_id integer NOT NULL REFERENCES tenants(id),"
     " name text NOT NULL,"
     " device_type text NOT NULL DEFAULT '',"
     " device text NOT NULL DEFAULT '',"
     " sensor text NOT NULL,"
     " cmp smallint NOT NULL,"
     " threshold double precision NOT NULL,"
     " hysteresis double precision NOT NULL,"
     " min_duration_ms bigint NOT NULL,"
     " severity smallint NOT NULL,"
     " enabled smallint NOT NULL,"
     " UNIQUE (tenant_id, name, device_type, device));"
     /* Every tenant starts with the platform's long-standing thresholds:
      * existing ones here, new ones through the trigger (in tenant_add's
      * statement, so a tenant never exists without them). */
     "CREATE FUNCTION mdx_default_rules() RETURNS trigger LANGUAGE plpgsql AS $f$"
     " BEGIN"
     "  INSERT INTO rules (tenant_id, name, sensor, cmp, threshold, hysteresis,"
     "   min_duration_ms, severity, enabled) VALUES"
     "   (NEW.id, 'overcurrent', 'current_mean', 0, 10.0, 0.5, 0, 1, 1),"
     "   (NEW.id, 'overtemperature', 'temperature_mean', 0, 80.0, 2.0, 0, 1, 1);"
     "  RETURN NULL;"
     " END $f$;"
     "CREATE TRIGGER tenants_default_rules AFTER INSERT ON tenants"
     " FOR EACH ROW EXECUTE FUNCTION mdx_default_rules();"
     "INSERT INTO rules (tenant_id, name, sensor, cmp, threshold, hysteresis, min_duration_ms,"
     " severity, enabled)"
     " SELECT id, 'overcurrent', 'current_mean', 0, 10.0, 0.5, 0, 1, 1 FROM tenants"
     " UNION ALL"
     " SELECT id, 'overtemperature', 'temperature_mean', 0, 80.0, 2.0, 0, 1, 1 FROM tenants;"
     /* Alerts: state and severity are enum mdx_alert_state and enum
      * mdx_severity. The device is a name, like the archive records: an
      * alert outlives its points. */
     "CREATE TABLE alerts ("
     " id bigserial PRIMARY KEY,"
     " tenant_id integer NOT NULL REFERENCES tenants(id),"
     " device text NOT NULL,"
     " source text NOT NULL,"
     " sensor text NOT NULL,"
     " severity smallint NOT NULL,"
     " state smallint NOT NULL,"
     " opened_ms bigint NOT NULL,"
     " updated_ms bigint NOT NULL,"
     " resolved_ms bigint NOT NULL,"
     " value double precision NOT NULL,"
     " score double precision NOT NULL,"
     " summary text NOT NULL);"
     "CREATE INDEX alerts_tenant_time ON alerts (tenant_id, opened_ms);"
     "CREATE INDEX alerts_tenant_device_time ON alerts (tenant_id, device, opened_ms);"
     "CREATE INDEX alerts_time ON alerts (opened_ms);"
     /* Alerts not resolved: what the alert manager reloads at start. */
     "CREATE INDEX alerts_active ON alerts (tenant_id, device) WHERE state < 2;",
     NULL},
    {4,
     /* Issue 5; the same as SQLite's migration 5. A device's newest status
      * and emergency stop, kept by the write batches from its status and
      * safety events, and what operators set on it: free metadata and the
      * limits commands are checked against, JSON objects as text. */
     "ALTER TABLE devices ADD COLUMN status text NOT NULL DEFAULT '',"
     " ADD COLUMN status_ms bigint NOT NULL DEFAULT 0,"
     " ADD COLUMN emergency_stop smallint NOT NULL DEFAULT 0,"
     " ADD COLUMN safety_ms bigint NOT NULL DEFAULT 0,"
     " ADD COLUMN meta text NOT NULL DEFAULT '{}',"
     " ADD COLUMN limits text NOT NULL DEFAULT '{}';"
     /* API keys: the public id and the SHA-256 of the secret. tenant_id
      * NULL is a platform key. role is enum mdx_role. */
     "CREATE TABLE api_keys ("
     " id text PRIMARY KEY,"
     " tenant_id integer REFERENCES tenants(id),"
     " role smallint NOT NULL,"
     " hash bytea NOT NULL,"
     " label text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " revoked_ms bigint NOT NULL DEFAULT 0);"
     "CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_ms);"
     /* Operators' commands to devices; state is enum mdx_command_state. */
     "CREATE TABLE commands ("
     " id bigserial PRIMARY KEY,"
     " device_id integer NOT NULL REFERENCES devices(id),"
     " name text NOT NULL,"
     " value double precision NOT NULL,"
     " state smallint NOT NULL,"
     " detail text NOT NULL,"
     " issued_by text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " updated_ms bigint NOT NULL);"
     "CREATE INDEX commands_device ON commands (device_id, created_ms);"
     /* Bumped by every device delete, in its transaction: a writer on
      * another connection drops its cached device and series ids when it
      * sees the change (write.c). */
     "CREATE TABLE device_epoch (id integer PRIMARY KEY CHECK (id = 1), n bigint NOT NULL);"
     "INSERT INTO device_epoch (id, n) VALUES (1, 0);",
     NULL},
    {5,
     /* Issue 6; the same as SQLite's migration 6. A device's broker
      * credentials (argon2id hash of its secret, SHA-256 of its client
      * certificate), name = device id unique across tenants, deleted with
      * the device; and the broker identities that are not devices. */
     "CREATE TABLE device_creds ("
     " device_id integer PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
     " name text NOT NULL UNIQUE,"
     " secret_hash text NOT NULL DEFAULT '',"
     " cert_fingerprint text NOT NULL DEFAULT '',"
     " revoked_ms bigint NOT NULL DEFAULT 0,"
     " updated_ms bigint NOT NULL);"
     "CREATE TABLE broker_identities ("
     " name text PRIMARY KEY,"
     " kind smallint NOT NULL,"
     " tenant_id integer REFERENCES tenants(id),"
     " secret_hash text NOT NULL,"
     " created_ms bigint NOT NULL,"
     " revoked_ms bigint NOT NULL DEFAULT 0);",
     NULL},
    {6,
     /* Issue 7; the same as SQLite's migration 7. RUL models, the version
      * each tenant serves ('' = platform default), per-tenant thresholds,
      * the latest prediction per device and a bounded history. */
     "CREATE TABLE rul_models ("
     " version text PRIMARY KEY,"
     " path text NOT NULL,"
     " manifest text NOT NULL,"
     " created_ms bigint NOT NULL);"
     "CREATE TABLE rul_active ("
     " tenant text PRIMARY KEY,"
     " version text NOT NULL REFERENCES rul_models(version),"
     " updated_ms bigint NOT NULL);"
     "CREATE TABLE rul_thresholds ("
     " tenant_id integer PRIMARY KEY REFERENCES tenants(id),"
     " cycles double precision NOT NULL);"
     "CREATE TABLE rul_latest ("
     " device_id integer PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
     " ts_ms bigint NOT NULL DEFAULT 0,"
     " rul double precision,"
     " model_version text NOT NULL DEFAULT '',"
     " reason text NOT NULL DEFAULT '',"
     " reason_ms bigint NOT NULL DEFAULT 0);"
     "CREATE TABLE rul_history ("
     " device_id integer NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
     " ts_ms bigint NOT NULL,"
     " rul double precision NOT NULL,"
     " model_version text NOT NULL,"
     " PRIMARY KEY (device_id, ts_ms));",
     NULL},
    {7,
     /* Issue 13; the same as SQLite's migration 8. Named leases: one
      * archiver at a time on one database. */
     "CREATE TABLE leases ("
     " name text PRIMARY KEY,"
     " holder text NOT NULL,"
     " expires_ms bigint NOT NULL);",
     NULL},
    {8,
     /* Issue 14; the same as SQLite's migration 9. All four interlocks of a device. */
     "ALTER TABLE devices ADD COLUMN interlocks integer NOT NULL DEFAULT 0;"
     "UPDATE devices SET interlocks = emergency_stop;",
     NULL},
    {9,
     /* Issue 14 item 6; the same as SQLite's migration 10. A tenant whose
      * devices may use the original MODAX firmware's topics. */
     "ALTER TABLE tenants ADD COLUMN legacy_topics integer NOT NULL DEFAULT 0;",
     NULL},
    {10,
     /* Issue 12 item 3; the same as SQLite's migration 11. The anomaly
      * detector's state per series (store_detector.h), saved with the
      * batches; format is the detector's format version. */
     "CREATE TABLE detector_state ("
     " device_id integer NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
     " sensor text NOT NULL,"
     " format integer NOT NULL,"
     " state bytea NOT NULL,"
     " last_ts_ms bigint NOT NULL,"
     " saved_ms bigint NOT NULL,"
     " PRIMARY KEY (device_id, sensor));",
     NULL},
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int mdx_pgsql_schema_version(void)
{
    return migrations[N_MIGRATIONS - 1].version;
}

/* Runs 'sql' (one or more statements); MDX_OK, MDX_ECONN or MDX_ESTORE (logged). */
static int exec(PGconn *conn, const char *sql, int version)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = MDX_OK;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (PQstatus(conn) == CONNECTION_BAD) {
            rc = MDX_ECONN;
        } else {
            rc = MDX_ESTORE;
            mdx_log_error(MOD, "schema migration failed", MDX_F_INT("version", version),
                          MDX_F_STR("error", PQresultErrorMessage(res)));
        }
    }
    PQclear(res);
    return rc;
}

/* One-row, one-column query as text into buf; empty if no row. */
static int query_text(PGconn *conn, const char *sql, char *buf, size_t len)
{
    PGresult *res = PQexec(conn, sql);
    int rc = MDX_OK;

    buf[0] = '\0';
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = PQstatus(conn) == CONNECTION_BAD ? MDX_ECONN : MDX_ESTORE;
    } else if (PQntuples(res) > 0) {
        snprintf(buf, len, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* Whether TimescaleDB is installed, or can be created now (inside the migration transaction). */
static int timescale_usable(PGconn *conn, int *usable)
{
    char v[16];
    int rc;

    *usable = 0;
    rc = query_text(conn,
                    "SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb')"
                    " || ',' || (SELECT count(*) FROM pg_available_extensions"
                    " WHERE name = 'timescaledb')",
                    v, sizeof(v));
    if (rc != MDX_OK) {
        return rc;
    }
    if (v[0] == '1') {
        *usable = 1;
        return MDX_OK;
    }
    if (strcmp(v, "0,1") != 0) {
        return MDX_OK;
    }
    /* Available but not installed: it also needs shared_preload_libraries. */
    rc = exec(conn, "SAVEPOINT mdx_ts", 0);
    if (rc != MDX_OK) {
        return rc;
    }
    {
        PGresult *res = PQexec(conn, "CREATE EXTENSION IF NOT EXISTS timescaledb");
        *usable = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
    }
    return exec(conn, *usable ? "RELEASE SAVEPOINT mdx_ts" : "ROLLBACK TO SAVEPOINT mdx_ts", 0);
}

/* Applies the migration after the current version; *done = 1 when none is left. */
static int migrate_one(PGconn *conn, int64_t now_ms, int *done)
{
    char v[32];
    int version, rc;

    rc = exec(conn, "BEGIN", 0);
    if (rc != MDX_OK) {
        return rc;
    }
    rc = exec(conn,
              "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
              "CREATE TABLE IF NOT EXISTS schema_migrations ("
              " version integer PRIMARY KEY,"
              " applied_ms bigint NOT NULL)",
              0);
    if (rc == MDX_OK) {
        rc = query_text(conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", v,
                        sizeof(v));
    }
    if (rc != MDX_OK) {
        goto fail;
    }
    version = (int)strtol(v, NULL, 10);
    if (version > mdx_pgsql_schema_version()) {
        mdx_log_error(MOD, "the database schema is newer than this program; upgrade modax",
                      MDX_F_INT("schema", version),
                      MDX_F_INT("known", mdx_pgsql_schema_version()));
        rc = MDX_ESTORE;
        goto fail;
    }
    if (version == mdx_pgsql_schema_version()) {
        *done = 1;
        return exec(conn, "COMMIT", 0);
    }
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        const struct migration *m = &migrations[i];
        const char *sql = m->sql;
        char params[2][24];
        const char *pv[2] = {params[0], params[1]};
        PGresult *res;

        if (m->version <= version) {
            continue;
        }
        if (m->sql_timescale != NULL) {
            int ts = 0;
            rc = timescale_usable(conn, &ts);
            if (rc != MDX_OK) {
                goto fail;
            }
            sql = ts ? m->sql_timescale : m->sql;
        }
        rc = exec(conn, sql, m->version);
        if (rc != MDX_OK) {
            goto fail;
        }
        snprintf(params[0], sizeof(params[0]), "%d", m->version);
        snprintf(params[1], sizeof(params[1]), "%lld", (long long)now_ms);
        res = PQexecParams(conn, "INSERT INTO schema_migrations (version, applied_ms)"
                                 " VALUES ($1, $2)",
                           2, NULL, pv, NULL, NULL, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? MDX_OK
             : PQstatus(conn) == CONNECTION_BAD      ? MDX_ECONN
                                                     : MDX_ESTORE;
        PQclear(res);
        if (rc != MDX_OK) {
            goto fail;
        }
        mdx_log_info(MOD, "schema migrated", MDX_F_INT("version", m->version));
        break;
    }
    return exec(conn, "COMMIT", 0);

fail:
    if (PQstatus(conn) != CONNECTION_BAD) {
        PQclear(PQexec(conn, "ROLLBACK"));
    }
    return rc;
}

int mdx_pgsql_migrate(PGconn *conn, int64_t now_ms, int *timescale)
{
    char layout[32];
    int done = 0;
    int rc = MDX_OK;

    while (rc == MDX_OK && !done) {
        rc = migrate_one(conn, now_ms, &done);
    }
    if (rc == MDX_OK) {
        rc = query_text(conn, "SELECT value FROM store_meta WHERE key = 'points_layout'", layout,
                        sizeof(layout));
    }
    if (rc == MDX_OK) {
        *timescale = strcmp(layout, "timescale") == 0;
    }
    return rc;
}
