/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog.c - the PostgreSQL store's catalog (store_catalog.h): tenants,
 * devices, their type, metadata and limits, device deletion; and the
 * effect of a batch's status, safety and command_ack events on their
 * device or command, which the batch writer (write.c) applies.
 *
 * A delete removes the device's points (series by series, from every
 * partition), rollups, latest values, series, events, alerts and
 * commands, then the device, in one transaction that also bumps
 * device_epoch: every connection's writer then drops its cached device
 * and series ids before its next batch (write.c). Dead letters and
 * archive records stay.
 */
#include <stdio.h>
#include <string.h>

#include "modax/clock.h"
#include "modax/status.h"
#include "store/store_alert_int.h"
#include "store/store_event_int.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

static int tenant_id(struct pg *h, const char *tenant, int64_t *id)
{
    PGresult *res;
    int rc = mdx_pg_exec_tenant_row(h, PG_TENANT_ID, tenant, &res);

    if (rc == MDX_OK) {
        *id = mdx_pg_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

static int pg_tenant_add(void *impl, const char *tenant)
{
    char now[24];
    const char *v[2] = {tenant, mdx_pg_fmt(now, mdx_now_ms())};

    if (!mdx_pg_valid_name(tenant)) {
        return MDX_EINVAL;
    }
    return mdx_pg_exec_only(impl, PG_TENANT_ADD, 2, v);
}

static int pg_tenant_exists(void *impl, const char *tenant)
{
    int64_t id;

    return tenant_id(impl, tenant, &id);
}

static int pg_tenant_legacy_get(void *impl, const char *tenant, int *on)
{
    PGresult *res;
    int rc =
        mdx_pg_tenant_row(impl, "SELECT legacy_topics FROM tenants WHERE name = $1", tenant, &res);

    if (rc == MDX_OK) {
        *on = mdx_pg_i64(res, 0, 0) != 0;
    }
    PQclear(res);
    return rc;
}

static int pg_tenant_legacy_set(void *impl, const char *tenant, int on)
{
    const char *v[2] = {tenant, on ? "1" : "0"};

    if (!mdx_pg_valid_name(tenant)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_change(impl, "UPDATE tenants SET legacy_topics = $2::integer WHERE name = $1",
                             2, v);
}

static int pg_tenant_list(void *impl, mdx_name_fn fn, void *arg)
{
    return mdx_pg_exec_names(impl, PG_TENANT_LIST, 0, NULL, fn, arg);
}

static int pg_device_add(void *impl, const char *tenant, const char *device, int auto_registered)
{
    char tid_s[24], now[24];
    const char *v[4];
    int64_t tid;
    int rc;

    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_EINVAL;
    }
    rc = tenant_id(impl, tenant, &tid);
    if (rc != MDX_OK) {
        return rc;
    }
    v[0] = mdx_pg_fmt(tid_s, tid);
    v[1] = device;
    v[2] = mdx_pg_fmt(now, mdx_now_ms());
    v[3] = auto_registered ? "1" : "0";
    return mdx_pg_exec_only(impl, PG_DEVICE_ADD, 4, v);
}

static void device_row(const PGresult *res, int row, int first, struct mdx_device_info *out)
{
    out->created_ms = mdx_pg_i64(res, row, first);
    out->last_seen_ms = mdx_pg_i64(res, row, first + 1);
    out->auto_registered = (int)mdx_pg_i64(res, row, first + 2);
    snprintf(out->type, sizeof(out->type), "%s", PQgetvalue(res, row, first + 3));
    snprintf(out->status, sizeof(out->status), "%s", PQgetvalue(res, row, first + 4));
    out->status_ms = mdx_pg_i64(res, row, first + 5);
    out->emergency_stop = (int)mdx_pg_i64(res, row, first + 6);
    out->interlocks = (unsigned)mdx_pg_i64(res, row, first + 8);
    out->safety_ms = mdx_pg_i64(res, row, first + 7);
}

static int pg_device_get(void *impl, const char *tenant, const char *device,
                         struct mdx_device_info *out)
{
    const char *v[2] = {tenant, device};
    PGresult *res;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_exec_row(impl, PG_DEVICE_GET, 2, v, &res);
    if (rc == MDX_OK) {
        snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
        snprintf(out->device, sizeof(out->device), "%s", device);
        device_row(res, 0, 0, out);
    }
    PQclear(res);
    return rc;
}

static int pg_device_list(void *impl, const char *tenant, mdx_device_fn fn, void *arg)
{
    const char *v[1] = {tenant};
    struct mdx_device_info info;
    PGresult *res;
    int rc;

    if (tenant != NULL) {
        int64_t tid;
        rc = tenant_id(impl, tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_pg_exec(impl, PG_DEVICE_LIST, 1, v, &res);
    for (int i = 0; rc == MDX_OK && i < PQntuples(res); i++) {
        snprintf(info.tenant, sizeof(info.tenant), "%s", PQgetvalue(res, i, 0));
        snprintf(info.device, sizeof(info.device), "%s", PQgetvalue(res, i, 1));
        device_row(res, i, 2, &info);
        rc = fn(arg, &info);
    }
    PQclear(res);
    return rc;
}

static int pg_device_set_type(void *impl, const char *tenant, const char *device, const char *type)
{
    const char *v[3] = {tenant, device, type};

    if (!mdx_store_type_valid(type)) {
        return MDX_EINVAL;
    }
    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_change(impl,
                             "UPDATE devices SET type = $3 WHERE name = $2"
                             " AND tenant_id = (SELECT id FROM tenants WHERE name = $1)",
                             3, v);
}

static int pg_device_config_get(void *impl, const char *tenant, const char *device,
                                struct mdx_device_config *out)
{
    const char *v[2] = {tenant, device};
    PGresult *res;
    int rc;

    snprintf(out->meta, sizeof(out->meta), "{}");
    snprintf(out->limits, sizeof(out->limits), "{}");
    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    rc =
        mdx_pg_run_row(impl, 0,
                       "SELECT d.meta, d.limits FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                       " WHERE t.name = $1 AND d.name = $2",
                       2, v, &res);
    if (rc == MDX_OK) {
        snprintf(out->meta, sizeof(out->meta), "%s", PQgetvalue(res, 0, 0));
        snprintf(out->limits, sizeof(out->limits), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

static int pg_device_config_set(void *impl, const char *tenant, const char *device,
                                const char *meta, const char *limits)
{
    const char *v[4] = {tenant, device, meta, limits};

    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    if ((meta != NULL && strnlen(meta, MDX_DEVICE_JSON_MAX) >= MDX_DEVICE_JSON_MAX) ||
        (limits != NULL && strnlen(limits, MDX_DEVICE_JSON_MAX) >= MDX_DEVICE_JSON_MAX)) {
        return MDX_EINVAL;
    }
    return mdx_pg_run_change(impl,
                             "UPDATE devices SET meta = COALESCE($3::text, meta),"
                             " limits = COALESCE($4::text, limits)"
                             " WHERE id = (SELECT d.id FROM devices d JOIN tenants t"
                             " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2)",
                             4, v);
}

/* The statements of a delete, in order: $1 = the device id, $2 = the tenant id. */
static const struct {
    const char *sql;
    int n_params;
} delete_sql[] = {
    {"DELETE FROM points WHERE series_id IN (SELECT id FROM series WHERE device_id = $1)", 1},
    {"DELETE FROM rollup_1m WHERE series_id IN (SELECT id FROM series WHERE device_id = $1)", 1},
    {"DELETE FROM rollup_1h WHERE series_id IN (SELECT id FROM series WHERE device_id = $1)", 1},
    {"DELETE FROM series_latest WHERE series_id IN"
     " (SELECT id FROM series WHERE device_id = $1)", 1},
    {"DELETE FROM series WHERE device_id = $1", 1},
    {"DELETE FROM events WHERE device_id = $1", 1},
    {"DELETE FROM commands WHERE device_id = $1", 1},
    {"DELETE FROM alerts WHERE device = (SELECT name FROM devices WHERE id = $1)"
     " AND tenant_id = $2", 2},
    {"DELETE FROM devices WHERE id = $1", 1},
    {"UPDATE device_epoch SET n = n + 1 WHERE id = 1", 0},
};

static int pg_device_delete(void *impl, const char *tenant, const char *device)
{
    struct pg *h = impl;
    const char *v[2] = {tenant, device};
    char ids[2][24];
    const char *iv[2] = {ids[0], ids[1]};
    PGresult *res;
    int rc;

    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_begin(h);
    if (rc != MDX_OK) {
        return rc;
    }
    /* FOR UPDATE: a concurrent delete of the same device waits, then finds nothing. */
    rc = mdx_pg_run_row(h, 1,
                        "SELECT d.id, d.tenant_id FROM devices d JOIN tenants t"
                        " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2 FOR UPDATE OF d",
                        2, v, &res);
    if (rc == MDX_OK) {
        snprintf(ids[0], sizeof(ids[0]), "%s", PQgetvalue(res, 0, 0));
        snprintf(ids[1], sizeof(ids[1]), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    for (size_t i = 0; i < sizeof(delete_sql) / sizeof(delete_sql[0]) && rc == MDX_OK; i++) {
        rc = mdx_pg_run(h, 1, delete_sql[i].sql, delete_sql[i].n_params, iv, &res);
        PQclear(res);
    }
    return mdx_pg_end(h, rc);
}

int mdx_pg_event_apply(struct pg *h, int64_t device_id, const struct mdx_event *ev)
{
    struct mdx_event_effect fx;
    char a[24], b[24], ts[24], dev[24], id[24];
    const char *v[5];
    enum pg_stmt stmt;
    PGresult *res;
    int n, rc = mdx_store_event_effect(ev, &fx);

    if (rc != MDX_OK || fx.kind == MDX_EFFECT_NONE) {
        return rc;
    }
    mdx_pg_fmt(ts, fx.ts_ms);
    mdx_pg_fmt(dev, device_id);
    switch (fx.kind) {
    case MDX_EFFECT_STATUS:
        stmt = PG_DEVICE_STATUS;
        v[0] = fx.status;
        v[1] = ts;
        v[2] = dev;
        n = 3;
        break;
    case MDX_EFFECT_SAFETY:
        stmt = PG_DEVICE_SAFETY;
        v[0] = fx.emergency_stop ? "1" : "0";
        v[1] = ts;
        v[2] = dev;
        v[3] = mdx_pg_fmt(a, fx.interlock_mask);
        v[4] = mdx_pg_fmt(b, fx.interlock_bits);
        n = 5;
        break;
    default:
        /* An ack of a command this device does not have changes nothing. */
        stmt = PG_COMMAND_ACK;
        v[0] = mdx_pg_fmt(a, fx.command_state);
        v[1] = fx.detail;
        v[2] = ts;
        v[3] = mdx_pg_fmt(id, fx.command_id);
        v[4] = dev;
        n = 5;
        break;
    }
    rc = mdx_pg_exec(h, stmt, n, v, &res);
    PQclear(res);
    return rc;
}

const struct mdx_store_catalog_ops mdx_pg_catalog = {
    .tenant_add = pg_tenant_add,
    .tenant_list = pg_tenant_list,
    .tenant_exists = pg_tenant_exists,
    .tenant_legacy_get = pg_tenant_legacy_get,
    .tenant_legacy_set = pg_tenant_legacy_set,
    .device_add = pg_device_add,
    .device_get = pg_device_get,
    .device_list = pg_device_list,
    .device_set_type = pg_device_set_type,
    .device_config_get = pg_device_config_get,
    .device_config_set = pg_device_config_set,
    .device_delete = pg_device_delete,
};
