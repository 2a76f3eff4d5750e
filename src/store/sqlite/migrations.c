/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrations.c - numbered schema migrations of the SQLite store.
 *
 * Each migration is applied once, in order, in its own transaction, and
 * recorded in schema_migrations. Never edit a migration that has shipped:
 * add the next number. The version is read inside the write transaction,
 * so two processes opening the same new database do not both migrate.
 */
#include <stddef.h>

#include "store/sqlite/migrations.h"

struct migration {
    int version;
    const char *sql;
};

/* The columns of rollup_1m and rollup_1h (one table per bucket size). */
#define ROLLUP_COLUMNS                                                                             \
    " series_id INTEGER NOT NULL REFERENCES series(id),"                                           \
    " bucket_ms INTEGER NOT NULL,"                                                                 \
    " min REAL NOT NULL,"                                                                          \
    " max REAL NOT NULL,"                                                                          \
    " sum REAL NOT NULL,"                                                                          \
    " count INTEGER NOT NULL,"                                                                     \
    " PRIMARY KEY (series_id, bucket_ms)) WITHOUT ROWID;"

static const struct migration migrations[] = {
    {1,
     /* Registry. tenants.points counts the points stored for the tenant
      * (kept by each write batch), so point counts are one row read. */
     "CREATE TABLE tenants ("
     " id INTEGER PRIMARY KEY,"
     " name TEXT NOT NULL UNIQUE,"
     " created_ms INTEGER NOT NULL,"
     " points INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE devices ("
     " id INTEGER PRIMARY KEY,"
     " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
     " name TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " last_seen_ms INTEGER NOT NULL DEFAULT 0,"
     " auto_registered INTEGER NOT NULL DEFAULT 0,"
     " UNIQUE (tenant_id, name));"
     /* A series is (device, sensor) with a compact id. */
     "CREATE TABLE series ("
     " id INTEGER PRIMARY KEY,"
     " device_id INTEGER NOT NULL REFERENCES devices(id),"
     " sensor TEXT NOT NULL,"
     " UNIQUE (device_id, sensor));"
     /* Points, grouped per series into non-overlapping compressed chunks
      * (see chunk.h); t_start is the first point's ts, t_end the last's.
      * A rowid table, not WITHOUT ROWID: chunks of a few KiB spill into
      * overflow pages in an index b-tree (measured: 2x the file size and a
      * quarter of the write rate). */
     "CREATE TABLE chunks ("
     " id INTEGER PRIMARY KEY,"
     " series_id INTEGER NOT NULL REFERENCES series(id),"
     " t_start INTEGER NOT NULL,"
     " t_end INTEGER NOT NULL,"
     " n INTEGER NOT NULL,"
     " data BLOB NOT NULL,"
     " UNIQUE (series_id, t_start));"
     /* Safety and status events; a redelivered event is ignored. */
     "CREATE TABLE events ("
     " id INTEGER PRIMARY KEY,"
     " device_id INTEGER NOT NULL REFERENCES devices(id),"
     " kind INTEGER NOT NULL,"
     " ts_ms INTEGER NOT NULL,"
     " recv_ms INTEGER NOT NULL,"
     " flags INTEGER NOT NULL,"
     " body TEXT NOT NULL,"
     " UNIQUE (device_id, kind, ts_ms, body));"
     "CREATE INDEX events_device_ts ON events (device_id, ts_ms);"
     /* Refused messages, bounded by store.deadletter_max; counts are kept
      * per reason for ever. */
     "CREATE TABLE dead_letters ("
     " id INTEGER PRIMARY KEY,"
     " recv_ms INTEGER NOT NULL,"
     " reason TEXT NOT NULL,"
     " topic TEXT NOT NULL,"
     " payload BLOB NOT NULL,"
     " orig_len INTEGER NOT NULL);"
     "CREATE TABLE dead_letter_counts ("
     " reason TEXT PRIMARY KEY,"
     " count INTEGER NOT NULL) WITHOUT ROWID;"
     /* Spool position of the last stored batch, per ingest worker (its MQTT client id). */
     "CREATE TABLE spool_checkpoint ("
     " owner TEXT PRIMARY KEY,"
     " segment INTEGER NOT NULL,"
     " offset INTEGER NOT NULL);"},
    {2,
     /* Rollups (issue 3): min, max, sum and count of a series per minute
      * and per hour, bucket_ms = floor(ts / length) * length. Kept by each
      * write batch in its transaction (rollup.c); raw points
      * deleted by the archiver leave them in place. Points stored before
      * this migration are rolled up when the store opens. Rows are small,
      * so WITHOUT ROWID keeps them in the primary key's b-tree only. */
     "CREATE TABLE rollup_1m (" ROLLUP_COLUMNS
     "CREATE TABLE rollup_1h (" ROLLUP_COLUMNS},
    {3,
     /* Retention and archive (issue 3). Per-tenant overrides of the
      * archive and expiry ages; tenants without a row use the config. */
     "CREATE TABLE retention ("
     " tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id),"
     " archive_after_days INTEGER NOT NULL,"
     " expire_after_days INTEGER NOT NULL);"
     /* One row per archive object, written before the upload (state
      * pending), then verified, then done once the raw points are gone.
      * Names, not ids: a record outlives its device's points. */
     "CREATE TABLE archive_objects ("
     " key TEXT PRIMARY KEY,"
     " tenant TEXT NOT NULL,"
     " device TEXT NOT NULL,"
     " day_ms INTEGER NOT NULL,"
     " seq INTEGER NOT NULL,"
     " size INTEGER NOT NULL,"
     " sha256 TEXT NOT NULL,"
     " points INTEGER NOT NULL,"
     " state INTEGER NOT NULL,"
     " created_ms INTEGER NOT NULL);"
     "CREATE INDEX archive_objects_day ON archive_objects (tenant, day_ms, device, seq);"
     /* Bumped by every delete of raw points, in its transaction: a writer
      * on another connection sees the change and reloads its cached head
      * chunks before it appends (write.c). */
     "CREATE TABLE delete_epoch ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " n INTEGER NOT NULL);"
     "INSERT INTO delete_epoch (id, n) VALUES (1, 0);"},
    {4,
     /* Rules and alerts (issue 4). A device may have a type ('' none) that
      * rules can target. */
     "ALTER TABLE devices ADD COLUMN type TEXT NOT NULL DEFAULT '';"
     /* Threshold rules: one per (tenant, name, scope); the scope is the
      * whole tenant (both ''), a device type or one device. cmp and
      * severity are enum mdx_cmp and enum mdx_severity. */
     "CREATE TABLE rules ("
     " id INTEGER PRIMARY KEY,"
     " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
     " name TEXT NOT NULL,"
     " device_type TEXT NOT NULL DEFAULT '',"
     " device TEXT NOT NULL DEFAULT '',"
     " sensor TEXT NOT NULL,"
     " cmp INTEGER NOT NULL,"
     " threshold REAL NOT NULL,"
     " hysteresis REAL NOT NULL,"
     " min_duration_ms INTEGER NOT NULL,"
     " severity INTEGER NOT NULL,"
     " enabled INTEGER NOT NULL,"
     " UNIQUE (tenant_id, name, device_type, device));"
     /* Every tenant starts with the platform's long-standing thresholds:
      * existing ones here, new ones through the trigger (in tenant_add's
      * statement, so a tenant never exists without them). */
     "CREATE TRIGGER tenants_default_rules AFTER INSERT ON tenants BEGIN"
     " INSERT INTO rules (tenant_id, name, sensor, cmp, threshold, hysteresis,"
     "  min_duration_ms, severity, enabled) VALUES"
     "  (NEW.id, 'overcurrent', 'current_mean', 0, 10.0, 0.5, 0, 1, 1),"
     "  (NEW.id, 'overtemperature', 'temperature_mean', 0, 80.0, 2.0, 0, 1, 1);"
     " END;"
     "INSERT INTO rules (tenant_id, name, sensor, cmp, threshold, hysteresis, min_duration_ms,"
     " severity, enabled)"
     " SELECT id, 'overcurrent', 'current_mean', 0, 10.0, 0.5, 0, 1, 1 FROM tenants"
     " UNION ALL"
     " SELECT id, 'overtemperature', 'temperature_mean', 0, 80.0, 2.0, 0, 1, 1 FROM tenants;"
     /* Alerts: state and severity are enum mdx_alert_state and enum
      * mdx_severity; value and score NULL stand for NaN. The device is a
      * name, like the archive records: an alert outlives its points. */
     "CREATE TABLE alerts ("
     " id INTEGER PRIMARY KEY,"
     " tenant_id INTEGER NOT NULL REFERENCES tenants(id),"
     " device TEXT NOT NULL,"
     " source TEXT NOT NULL,"
     " sensor TEXT NOT NULL,"
     " severity INTEGER NOT NULL,"
     " state INTEGER NOT NULL,"
     " opened_ms INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL,"
     " resolved_ms INTEGER NOT NULL,"
     " value REAL,"
     " score REAL,"
     " summary TEXT NOT NULL);"
     "CREATE INDEX alerts_tenant_time ON alerts (tenant_id, opened_ms);"
     "CREATE INDEX alerts_tenant_device_time ON alerts (tenant_id, device, opened_ms);"
     "CREATE INDEX alerts_time ON alerts (opened_ms);"
     /* Alerts not resolved: what the alert manager reloads at start. */
     "CREATE INDEX alerts_active ON alerts (tenant_id, device) WHERE state < 2;"},
    {5,
     /* Issue 5. A device's newest status and emergency stop, kept by the
      * write batches from its status and safety events, and what operators
      * set on it: free metadata and the limits commands are checked
      * against, both JSON objects as text. */
     "ALTER TABLE devices ADD COLUMN status TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE devices ADD COLUMN status_ms INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE devices ADD COLUMN emergency_stop INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE devices ADD COLUMN safety_ms INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE devices ADD COLUMN meta TEXT NOT NULL DEFAULT '{}';"
     "ALTER TABLE devices ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';"
     /* API keys: the public id and the SHA-256 of the secret. tenant_id
      * NULL is a platform key. role is enum mdx_role. */
     "CREATE TABLE api_keys ("
     " id TEXT PRIMARY KEY,"
     " tenant_id INTEGER REFERENCES tenants(id),"
     " role INTEGER NOT NULL,"
     " hash BLOB NOT NULL,"
     " label TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " revoked_ms INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_ms);"
     /* Operators' commands to devices; state is enum mdx_command_state. */
     "CREATE TABLE commands ("
     " id INTEGER PRIMARY KEY,"
     " device_id INTEGER NOT NULL REFERENCES devices(id),"
     " name TEXT NOT NULL,"
     " value REAL NOT NULL,"
     " state INTEGER NOT NULL,"
     " detail TEXT NOT NULL,"
     " issued_by TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " updated_ms INTEGER NOT NULL);"
     "CREATE INDEX commands_device ON commands (device_id, created_ms);"
     /* Bumped by every device delete, in its transaction: a writer on
      * another connection sees the change and drops its cached device and
      * series ids before it resolves the batch (write.c). */
     "CREATE TABLE device_epoch ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " n INTEGER NOT NULL);"
     "INSERT INTO device_epoch (id, n) VALUES (1, 0);"},
    {6,
     /* Issue 6. A device's broker credentials: the argon2id hash of its
      * secret and/or the SHA-256 of its client certificate. The broker
      * knows a device by its id alone, so name (the device id) is unique
      * across tenants. Deleting the device deletes them. */
     "CREATE TABLE device_creds ("
     " device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
     " name TEXT NOT NULL UNIQUE,"
     " secret_hash TEXT NOT NULL DEFAULT '',"
     " cert_fingerprint TEXT NOT NULL DEFAULT '',"
     " revoked_ms INTEGER NOT NULL DEFAULT 0,"
     " updated_ms INTEGER NOT NULL);"
     /* Broker identities that are not devices: the service, operators.
      * kind is enum mdx_identity_kind; tenant_id NULL for the service. */
     "CREATE TABLE broker_identities ("
     " name TEXT PRIMARY KEY,"
     " kind INTEGER NOT NULL,"
     " tenant_id INTEGER REFERENCES tenants(id),"
     " secret_hash TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL,"
     " revoked_ms INTEGER NOT NULL DEFAULT 0);"},
    {7,
     /* Issue 7. Registered RUL models (file and manifest), the version
      * each tenant serves (tenant '' = the platform default), per-tenant
      * alert thresholds, and predictions: the latest per device (with the
      * reason when there is none) and a bounded history. */
     "CREATE TABLE rul_models ("
     " version TEXT PRIMARY KEY,"
     " path TEXT NOT NULL,"
     " manifest TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL);"
     "CREATE TABLE rul_active ("
     " tenant TEXT PRIMARY KEY,"
     " version TEXT NOT NULL REFERENCES rul_models(version),"
     " updated_ms INTEGER NOT NULL);"
     "CREATE TABLE rul_thresholds ("
     " tenant_id INTEGER PRIMARY KEY REFERENCES tenants(id),"
     " cycles REAL NOT NULL);"
     "CREATE TABLE rul_latest ("
     " device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
     " ts_ms INTEGER NOT NULL DEFAULT 0,"
     " rul REAL,"
     " model_version TEXT NOT NULL DEFAULT '',"
     " reason TEXT NOT NULL DEFAULT '',"
     " reason_ms INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE rul_history ("
     " device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
     " ts_ms INTEGER NOT NULL,"
     " rul REAL NOT NULL,"
     " model_version TEXT NOT NULL,"
     " PRIMARY KEY (device_id, ts_ms)) WITHOUT ROWID;"},
    {8,
     /* Issue 13. Named leases: one archiver at a time on one database. */
     "CREATE TABLE leases ("
     " name TEXT PRIMARY KEY,"
     " holder TEXT NOT NULL,"
     " expires_ms INTEGER NOT NULL);"},
    {9,
     /* Issue 14. All four interlocks of a device (store_catalog.h), not only the e-stop. */
     "ALTER TABLE devices ADD COLUMN interlocks INTEGER NOT NULL DEFAULT 0;"
     "UPDATE devices SET interlocks = emergency_stop;"},
    {10,
     /* Issue 14 item 6. A tenant whose devices may use the original MODAX
      * firmware's topics (modax/sensor/data, ...), rewritten by the broker
      * plugin; off by default. */
     "ALTER TABLE tenants ADD COLUMN legacy_topics INTEGER NOT NULL DEFAULT 0;"},
    {11,
     /* Issue 12 item 3. The anomaly detector's state per series
      * (store_detector.h), saved with the batches, so that the worker that
      * takes a partition over resumes its baseline. format is the
      * detector's format version; the store does not read state. */
     "CREATE TABLE detector_state ("
     " device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
     " sensor TEXT NOT NULL,"
     " format INTEGER NOT NULL,"
     " state BLOB NOT NULL,"
     " last_ts_ms INTEGER NOT NULL,"
     " saved_ms INTEGER NOT NULL,"
     " PRIMARY KEY (device_id, sensor)) WITHOUT ROWID;"},
    {12,
     /* The connection that last wrote chunks (a random token of its own):
      * another writer that finds someone else's token drops its cached head
      * chunks before it appends (write.c), as after a delete_epoch bump. */
     "CREATE TABLE points_writer ("
     " id INTEGER PRIMARY KEY CHECK (id = 1),"
     " token INTEGER NOT NULL);"
     "INSERT INTO points_writer (id, token) VALUES (1, 0);"},
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

int mdx_sqlite_schema_version(void)
{
    return migrations[N_MIGRATIONS - 1].version;
}

static int current_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                            &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int record_version(sqlite3 *db, int version, int64_t now_ms)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    sqlite3_bind_int(st, 1, version);
    sqlite3_bind_int64(st, 2, now_ms);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Applies the migration after the current version; *done = 1 when none is left. */
static int migrate_one(sqlite3 *db, int64_t now_ms, int *done)
{
    int version = 0;
    int rc;

    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    rc = current_version(db, &version);
    if (rc != SQLITE_OK) {
        goto fail;
    }
    if (version > mdx_sqlite_schema_version()) {
        rc = SQLITE_MISMATCH;
        goto fail;
    }
    if (version == mdx_sqlite_schema_version()) {
        *done = 1;
        return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    for (size_t i = 0; i < N_MIGRATIONS; i++) {
        if (migrations[i].version <= version) {
            continue;
        }
        rc = sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            rc = record_version(db, migrations[i].version, now_ms);
        }
        if (rc != SQLITE_OK) {
            goto fail;
        }
        break;
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        goto fail;
    }
    return SQLITE_OK;

fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int mdx_sqlite_migrate(sqlite3 *db, int64_t now_ms)
{
    int done = 0;
    int rc;

    rc = sqlite3_exec(db,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version INTEGER PRIMARY KEY,"
                      " applied_ms INTEGER NOT NULL)",
                      NULL, NULL, NULL);
    while (rc == SQLITE_OK && !done) {
        rc = migrate_one(db, now_ms, &done);
    }
    return rc;
}
