/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_sqlite_device.c - the SQLite store's device configuration
 * (metadata, limits), device deletion, and the effect of a batch's status,
 * safety and command_ack events on their device or command (issue 5).
 *
 * A delete removes the device's series with their chunks and rollups, its
 * events, alerts and commands, then the device, in one transaction that
 * also bumps device_epoch: every connection's writer then drops its cached
 * device and series ids before its next batch (store_sqlite_write.c).
 * Dead letters and archive records stay: they are records of what was
 * refused and of objects in object storage.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/store_event_int.h"
#include "store/sqlite/sqlite_int.h"

#define DEVICE_WHERE                                                                               \
    " WHERE id = (SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id"                \
    " WHERE t.name = ?1 AND d.name = ?2)"

/* Runs 'sql' with ?1 = a, ?2 = b (either may be NULL: not bound); *changes: rows changed. */
static int run2(struct sq *h, const char *sql, const char *a, const char *b, int64_t *changes)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare(h, sql, &st);

    if (rc != MDX_OK) {
        return rc;
    }
    if (a != NULL) {
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    }
    if (b != NULL) {
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (changes != NULL) {
        *changes = sqlite3_changes(h->db);
    }
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? MDX_OK : mdx_sq_status(rc);
}

int mdx_sq_device_config_get(void *impl, const char *tenant, const char *device,
                             struct mdx_device_config *out)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    snprintf(out->meta, sizeof(out->meta), "{}");
    snprintf(out->limits, sizeof(out->limits), "{}");
    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    rc =
        mdx_sq_prepare(h,
                       "SELECT d.meta, d.limits FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = ?1 AND d.name = ?2",
                       &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        mdx_sq_column_copy(st, 0, out->meta, sizeof(out->meta));
        mdx_sq_column_copy(st, 1, out->limits, sizeof(out->limits));
    }
    sqlite3_finalize(st);
    return rc;
}

int mdx_sq_device_config_set(void *impl, const char *tenant, const char *device, const char *meta,
                             const char *limits)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    if ((meta != NULL && strnlen(meta, MDX_DEVICE_JSON_MAX) >= MDX_DEVICE_JSON_MAX) ||
        (limits != NULL && strnlen(limits, MDX_DEVICE_JSON_MAX) >= MDX_DEVICE_JSON_MAX)) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_prepare(
        h,
        "UPDATE devices SET meta = COALESCE(?3, meta), limits = COALESCE(?4, limits)" DEVICE_WHERE,
        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    if (meta != NULL) {
        sqlite3_bind_text(st, 3, meta, -1, SQLITE_STATIC);
    }
    if (limits != NULL) {
        sqlite3_bind_text(st, 4, limits, -1, SQLITE_STATIC);
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return mdx_sq_status(rc);
    }
    return sqlite3_changes(h->db) > 0 ? MDX_OK : MDX_ENOTFOUND;
}

/* The statements of a delete, in order: dependents first (foreign keys are on). */
static const char *const delete_sql[] = {
    "DELETE FROM rollup_1m WHERE series_id IN (SELECT s.id FROM series s JOIN devices d"
    " ON d.id = s.device_id JOIN tenants t ON t.id = d.tenant_id"
    " WHERE t.name = ?1 AND d.name = ?2)",
    "DELETE FROM rollup_1h WHERE series_id IN (SELECT s.id FROM series s JOIN devices d"
    " ON d.id = s.device_id JOIN tenants t ON t.id = d.tenant_id"
    " WHERE t.name = ?1 AND d.name = ?2)",
    "DELETE FROM chunks WHERE series_id IN (SELECT s.id FROM series s JOIN devices d"
    " ON d.id = s.device_id JOIN tenants t ON t.id = d.tenant_id"
    " WHERE t.name = ?1 AND d.name = ?2)",
    "DELETE FROM series WHERE device_id = (SELECT d.id FROM devices d JOIN tenants t"
    " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2)",
    "DELETE FROM events WHERE device_id = (SELECT d.id FROM devices d JOIN tenants t"
    " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2)",
    "DELETE FROM commands WHERE device_id = (SELECT d.id FROM devices d JOIN tenants t"
    " ON t.id = d.tenant_id WHERE t.name = ?1 AND d.name = ?2)",
    "DELETE FROM alerts WHERE tenant_id = (SELECT id FROM tenants WHERE name = ?1)"
    " AND device = ?2",
    "DELETE FROM devices" DEVICE_WHERE,
};

int mdx_sq_device_delete(void *impl, const char *tenant, const char *device)
{
    struct sq *h = impl;
    int64_t changes = 0;
    int rc;

    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    rc = run2(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != MDX_OK) {
        return rc;
    }
    for (size_t i = 0; i < sizeof(delete_sql) / sizeof(delete_sql[0]) && rc == MDX_OK; i++) {
        rc = run2(h, delete_sql[i], tenant, device, &changes);
    }
    if (rc == MDX_OK && changes == 0) {
        rc = MDX_ENOTFOUND; /* the device row itself was not there */
    }
    if (rc == MDX_OK) {
        rc = run2(h, "UPDATE device_epoch SET n = n + 1 WHERE id = 1", NULL, NULL, NULL);
    }
    if (rc == MDX_OK) {
        rc = run2(h, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != MDX_OK) {
        run2(h, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

int mdx_sq_event_apply(struct sq *h, int64_t device_id, const struct mdx_event *ev)
{
    struct mdx_event_effect fx;
    sqlite3_stmt *st;
    int rc = mdx_store_event_effect(ev, &fx);

    if (rc != MDX_OK || fx.kind == MDX_EFFECT_NONE) {
        return rc;
    }
    switch (fx.kind) {
    case MDX_EFFECT_STATUS:
        st = h->st[SQ_DEVICE_STATUS];
        sqlite3_bind_text(st, 1, fx.status, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, fx.ts_ms);
        sqlite3_bind_int64(st, 3, device_id);
        break;
    case MDX_EFFECT_SAFETY:
        st = h->st[SQ_DEVICE_SAFETY];
        sqlite3_bind_int(st, 1, fx.emergency_stop);
        sqlite3_bind_int64(st, 2, fx.ts_ms);
        sqlite3_bind_int64(st, 3, device_id);
        break;
    default:
        /* An ack of a command this device does not have changes nothing. */
        st = h->st[SQ_COMMAND_ACK];
        sqlite3_bind_int(st, 1, fx.command_state);
        sqlite3_bind_text(st, 2, fx.detail, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, fx.ts_ms);
        sqlite3_bind_int64(st, 4, fx.command_id);
        sqlite3_bind_int64(st, 5, device_id);
        break;
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}
