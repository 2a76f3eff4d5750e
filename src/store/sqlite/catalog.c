/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog.c - the SQLite store's catalog (store_catalog.h): tenants,
 * devices, their type, metadata and limits, device deletion; and the
 * effect of a batch's status, safety and command_ack events on their
 * device or command, which the batch writer (write.c) applies.
 *
 * A delete removes the device's series with their chunks and rollups, its
 * events, alerts and commands, then the device, in one transaction that
 * also bumps device_epoch: every connection's writer then drops its cached
 * device and series ids before its next batch (write.c). Dead letters and
 * archive records stay: they are records of what was refused and of
 * objects in object storage.
 */
#include <stdio.h>
#include <string.h>

#include "modax/clock.h"
#include "modax/status.h"
#include "modax/validate.h"
#include "store/store_alert_int.h"
#include "store/store_event_int.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

static int sq_tenant_add(void *impl, const char *tenant)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_TENANT_ADD];

    if (!mdx_sq_name_valid(tenant)) {
        return MDX_EINVAL;
    }
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, mdx_now_ms());
    return mdx_sq_insert_reset(st);
}

static int sq_tenant_exists(void *impl, const char *tenant)
{
    int64_t id;

    return mdx_sq_tenant_id(impl, tenant, &id);
}

static int sq_tenant_legacy_get(void *impl, const char *tenant, int *on)
{
    sqlite3_stmt *st;
    int rc =
        mdx_sq_tenant_find(impl, "SELECT legacy_topics FROM tenants WHERE name = ?1", tenant, &st);

    if (rc == MDX_OK) {
        *on = sqlite3_column_int(st, 0) != 0;
        sqlite3_finalize(st);
    }
    return rc;
}

static int sq_tenant_legacy_set(void *impl, const char *tenant, int on)
{
    if (!mdx_sq_name_valid(tenant)) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_update_key(impl, "UPDATE tenants SET legacy_topics = ?2 WHERE name = ?1", tenant,
                             on);
}

static int sq_tenant_list(void *impl, mdx_name_fn fn, void *arg)
{
    struct sq *h = impl;

    return mdx_sq_each_name(h->st[SQ_TENANT_LIST], fn, arg);
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
    rc = mdx_sq_tenant_id(h, tenant, &tid);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, tid);
    sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, mdx_now_ms());
    sqlite3_bind_int(st, 4, auto_registered ? 1 : 0);
    return mdx_sq_insert_reset(st);
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
    out->interlocks = (unsigned)sqlite3_column_int(st, first + 8);
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
    rc = mdx_sq_step_row(st);
    if (rc == MDX_OK) {
        snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
        snprintf(out->device, sizeof(out->device), "%s", device);
        device_row(st, 0, out);
    }
    sqlite3_reset(st);
    return rc;
}

/* A listing of devices: its callback, argument and the record it reuses. */
struct device_list {
    mdx_device_fn fn;
    void *arg;
    struct mdx_device_info info;
};

static int device_list_row(sqlite3_stmt *st, void *ctx)
{
    struct device_list *l = ctx;

    mdx_sq_column_copy(st, 0, l->info.tenant, sizeof(l->info.tenant));
    mdx_sq_column_copy(st, 1, l->info.device, sizeof(l->info.device));
    device_row(st, 2, &l->info);
    return l->fn(l->arg, &l->info);
}

static int sq_device_list(void *impl, const char *tenant, mdx_device_fn fn, void *arg)
{
    struct sq *h = impl;
    sqlite3_stmt *st = h->st[SQ_DEVICE_LIST];
    struct device_list list = {.fn = fn, .arg = arg};
    int rc;

    if (tenant != NULL) {
        int64_t tid;
        rc = mdx_sq_tenant_id(h, tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 1);
    }
    return mdx_sq_each_kept(st, device_list_row, &list);
}

static int sq_device_set_type(void *impl, const char *tenant, const char *device, const char *type)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    if (!mdx_store_type_valid(type)) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_prepare_tenant(h, "UPDATE devices SET type = ?3 WHERE tenant_id = ?1 AND name = ?2",
                               tenant, 1, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 2, device != NULL ? device : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC);
    return mdx_sq_run_change(h, st);
}

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
    rc = mdx_sq_run_done(st);
    if (changes != NULL) {
        *changes = sqlite3_changes(h->db);
    }
    return rc;
}

static int sq_device_config_get(void *impl, const char *tenant, const char *device,
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
    rc = mdx_sq_find(h,
                     "SELECT d.meta, d.limits FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                     " WHERE t.name = ?1 AND d.name = ?2",
                     tenant, device, &st);
    if (rc == MDX_OK) {
        mdx_sq_column_copy(st, 0, out->meta, sizeof(out->meta));
        mdx_sq_column_copy(st, 1, out->limits, sizeof(out->limits));
        sqlite3_finalize(st);
    }
    return rc;
}

static int sq_device_config_set(void *impl, const char *tenant, const char *device,
                                const char *meta, const char *limits)
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
    rc = mdx_sq_prepare_keys(
        h,
        "UPDATE devices SET meta = COALESCE(?3, meta), limits = COALESCE(?4, limits)" DEVICE_WHERE,
        tenant, device, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    if (meta != NULL) {
        sqlite3_bind_text(st, 3, meta, -1, SQLITE_STATIC);
    }
    if (limits != NULL) {
        sqlite3_bind_text(st, 4, limits, -1, SQLITE_STATIC);
    }
    return mdx_sq_run_change(h, st);
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

static int sq_device_delete(void *impl, const char *tenant, const char *device)
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
        sqlite3_bind_int(st, 4, (int)fx.interlock_mask);
        sqlite3_bind_int(st, 5, (int)fx.interlock_bits);
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
    return mdx_sq_step_reset(st);
}

const struct mdx_store_catalog_ops mdx_sq_catalog = {
    .tenant_add = sq_tenant_add,
    .tenant_list = sq_tenant_list,
    .tenant_exists = sq_tenant_exists,
    .tenant_legacy_get = sq_tenant_legacy_get,
    .tenant_legacy_set = sq_tenant_legacy_set,
    .device_add = sq_device_add,
    .device_get = sq_device_get,
    .device_list = sq_device_list,
    .device_set_type = sq_device_set_type,
    .device_config_get = sq_device_config_get,
    .device_config_set = sq_device_config_set,
    .device_delete = sq_device_delete,
};
