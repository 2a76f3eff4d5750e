/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul.c - the PostgreSQL store's RUL model registry, active versions,
 * per-tenant thresholds and predictions (store_rul.h); the same semantics
 * as sqlite/rul.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"
#include "store/store_rul_int.h"

#define DEVICE_OF "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id"            \
                  " WHERE t.name = $1 AND d.name = $2"

static int valid_tenant_or_default(const char *tenant)
{
    return tenant != NULL && (tenant[0] == '\0' || mdx_pg_valid_name(tenant));
}

static int pg_model_put(void *impl, const struct mdx_rul_model_rec *m)
{
    char created[24];
    const char *v[4] = {m->version, m->path, m->manifest, mdx_pg_fmt(created, m->created_ms)};
    PGresult *res;
    int rc;

    if (!mdx_rul_model_rec_valid(m)) {
        return MDX_EINVAL;
    }
    rc = mdx_pg_run(impl, 0,
                    "INSERT INTO rul_models (version, path, manifest, created_ms)"
                    " VALUES ($1, $2, $3, $4::bigint) ON CONFLICT (version) DO NOTHING",
                    4, v, &res);
    if (rc == MDX_OK && strcmp(PQcmdTuples(res), "0") == 0) {
        rc = MDX_EEXIST;
    }
    PQclear(res);
    return rc;
}

static int pg_model_get(void *impl, const char *version, struct mdx_rul_model_rec *out)
{
    const char *v[1] = {version};

    memset(out, 0, sizeof(*out));
    if (!mdx_rul_version_valid(version)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_rec(impl, MDX_SELECT_MODEL " WHERE version = $1", 1, v, &mdx_row_model, out);
}

/* A listing of models: its callback, argument and the record it reuses (on the heap). */
struct model_list {
    mdx_rul_model_fn fn;
    void *arg;
    struct mdx_rul_model_rec *m;
};

static int model_list_row(const PGresult *res, int i, void *ctx)
{
    const struct model_list *l = ctx;

    mdx_pg_row_map(res, i, &mdx_row_model, l->m);
    return l->fn(l->arg, l->m);
}

static int pg_model_list(void *impl, mdx_rul_model_fn fn, void *arg)
{
    struct model_list list = {fn, arg, mdx_malloc(sizeof(*list.m))}; /* ~17 KiB: not on the stack */
    int rc;

    if (list.m == NULL) {
        return MDX_ENOMEM;
    }
    rc = mdx_pg_list(impl,
                     MDX_SELECT_MODEL " ORDER BY created_ms, version",
                     0, NULL, model_list_row, &list);
    mdx_free(list.m);
    return rc;
}

static int pg_model_activate(void *impl, const char *tenant, const char *version, int64_t now_ms)
{
    char now[24];
    const char *v[3] = {tenant, version, mdx_pg_fmt(now, now_ms)};
    int rc;

    if (!valid_tenant_or_default(tenant) || !mdx_rul_version_valid(version)) {
        return MDX_ENOTFOUND;
    }
    if (tenant[0] != '\0') {
        rc = mdx_pg_catalog.tenant_exists(impl, tenant);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    /* No row changed: no such version. */
    return mdx_pg_run_change(impl,
                             "INSERT INTO rul_active (tenant, version, updated_ms)"
                             " SELECT $1, version, $3::bigint FROM rul_models WHERE version = $2"
                             " ON CONFLICT (tenant) DO UPDATE SET version = excluded.version,"
                             " updated_ms = excluded.updated_ms",
                             3, v);
}

static int pg_model_active(void *impl, const char *tenant, char *version, size_t len)
{
    const char *v[1] = {tenant};
    PGresult *res;
    int rc;

    if (len > 0) {
        version[0] = '\0';
    }
    if (!valid_tenant_or_default(tenant)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_run_row(impl, 0,
                        "SELECT version FROM rul_active WHERE tenant IN ($1, '')"
                        " ORDER BY tenant = '' LIMIT 1",
                        1, v, &res);
    if (rc == MDX_OK) {
        snprintf(version, len, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* A listing of active versions: its callback and argument. */
struct active_list {
    mdx_rul_active_fn fn;
    void *arg;
};

static int active_list_row(const PGresult *res, int i, void *ctx)
{
    const struct active_list *l = ctx;

    return l->fn(l->arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
}

static int pg_active_list(void *impl, mdx_rul_active_fn fn, void *arg)
{
    struct active_list list = {fn, arg};

    return mdx_pg_list(impl, "SELECT tenant, version FROM rul_active ORDER BY tenant", 0, NULL,
                       active_list_row, &list);
}

static int pg_threshold_get(void *impl, const char *tenant, double *cycles)
{
    PGresult *res;
    int rc = mdx_pg_tenant_row(impl,
                               "SELECT r.cycles FROM rul_thresholds r"
                               " JOIN tenants t ON t.id = r.tenant_id WHERE t.name = $1",
                               tenant, &res);

    if (rc == MDX_OK) {
        *cycles = mdx_pg_dbl(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

static int pg_threshold_set(void *impl, const char *tenant, double cycles)
{
    char c[32];
    const char *v[2] = {tenant, c};
    PGresult *res;
    int rc;

    if (!isnan(cycles) && (!isfinite(cycles) || cycles < 0)) {
        return MDX_EINVAL;
    }
    if (!mdx_pg_valid_name(tenant)) {
        return MDX_ENOTFOUND;
    }
    rc = mdx_pg_catalog.tenant_exists(impl, tenant);
    if (rc != MDX_OK) {
        return rc;
    }
    snprintf(c, sizeof(c), "%.17g", cycles);
    rc = mdx_pg_run(impl, 0,
                    isnan(cycles)
                        ? "DELETE FROM rul_thresholds WHERE tenant_id ="
                          " (SELECT id FROM tenants WHERE name = $1)"
                        : "INSERT INTO rul_thresholds (tenant_id, cycles)"
                          " SELECT id, $2::double precision FROM tenants WHERE name = $1"
                          " ON CONFLICT (tenant_id) DO UPDATE SET cycles = excluded.cycles",
                    isnan(cycles) ? 1 : 2, v, &res);
    PQclear(res);
    return rc;
}

/* One prediction, inside the transaction; an unknown device changes nothing. */
static int put_one(struct pg *h, const struct mdx_rul_prediction *p, int64_t keep)
{
    char ts[24], rul[32], k[24];
    const char *v[5] = {p->tenant, p->device, mdx_pg_fmt(ts, p->ts_ms), rul, p->model_version};
    const char *vr[4] = {p->tenant, p->device, ts, p->reason};
    const char *vk[3] = {p->tenant, p->device, mdx_pg_fmt(k, keep)};
    PGresult *res;
    int rc;

    if (!mdx_pg_valid_name(p->tenant) || !mdx_pg_valid_name(p->device)) {
        return MDX_OK;
    }
    if (isnan(p->rul)) {
        rc = mdx_pg_run(h, 1,
                        "INSERT INTO rul_latest (device_id, reason, reason_ms)"
                        " SELECT d.id, $4, $3::bigint FROM devices d JOIN tenants t"
                        " ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2"
                        " ON CONFLICT (device_id) DO UPDATE SET reason = excluded.reason,"
                        " reason_ms = excluded.reason_ms",
                        4, vr, &res);
        PQclear(res);
        return rc;
    }
    snprintf(rul, sizeof(rul), "%.9g", p->rul);
    rc = mdx_pg_run(h, 1,
                    "INSERT INTO rul_latest (device_id, ts_ms, rul, model_version, reason,"
                    " reason_ms) SELECT d.id, $3::bigint, $4::double precision, $5, '', $3::bigint"
                    " FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                    " WHERE t.name = $1 AND d.name = $2"
                    " ON CONFLICT (device_id) DO UPDATE SET ts_ms = excluded.ts_ms,"
                    " rul = excluded.rul, model_version = excluded.model_version, reason = '',"
                    " reason_ms = excluded.reason_ms",
                    5, v, &res);
    PQclear(res);
    if (rc == MDX_OK) {
        rc = mdx_pg_run(h, 1,
                        "INSERT INTO rul_history (device_id, ts_ms, rul, model_version)"
                        " SELECT d.id, $3::bigint, $4::double precision, $5 FROM devices d"
                        " JOIN tenants t ON t.id = d.tenant_id WHERE t.name = $1 AND d.name = $2"
                        " ON CONFLICT (device_id, ts_ms) DO UPDATE SET rul = excluded.rul,"
                        " model_version = excluded.model_version",
                        5, v, &res);
        PQclear(res);
    }
    if (rc == MDX_OK) {
        rc = mdx_pg_run(h, 1,
                        "DELETE FROM rul_history r USING (" DEVICE_OF ") d"
                        " WHERE r.device_id = d.id AND r.ts_ms <= (SELECT ts_ms FROM rul_history"
                        " WHERE device_id = d.id ORDER BY ts_ms DESC LIMIT 1 OFFSET $3::bigint)",
                        3, vk, &res);
        PQclear(res);
    }
    return rc;
}

static int pg_prediction_put(void *impl, const struct mdx_rul_prediction *p, size_t n,
                             int64_t keep)
{
    struct pg *h = impl;
    int rc;

    if (keep < 1) {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isnan(p[i].rul) && (!isfinite(p[i].rul) || !mdx_rul_version_valid(p[i].model_version))) {
            return MDX_EINVAL;
        }
    }
    rc = mdx_pg_begin(h);
    if (rc != MDX_OK) {
        return rc;
    }
    for (size_t i = 0; i < n && rc == MDX_OK; i++) {
        rc = put_one(h, &p[i], keep);
    }
    return mdx_pg_end(h, rc);
}

static int pg_prediction_latest(void *impl, const char *tenant, const char *device,
                                struct mdx_rul_prediction *out)
{
    const char *v[2] = {tenant, device};

    memset(out, 0, sizeof(*out));
    out->rul = NAN;
    if (!mdx_pg_valid_name(tenant) || !mdx_pg_valid_name(device)) {
        return MDX_ENOTFOUND;
    }
    return mdx_pg_run_rec(impl, MDX_SELECT_PREDICTION " WHERE t.name = $1 AND d.name = $2", 2, v,
                          &mdx_row_prediction, out);
}

MDX_PG_LISTER(prediction_list, struct mdx_rul_prediction, mdx_row_prediction, mdx_rul_prediction_fn)

static int pg_prediction_list(void *impl, const char *tenant, const char *device, int64_t limit,
                              mdx_rul_prediction_fn fn, void *arg)
{
    struct prediction_list list = {fn, arg};

    return mdx_pg_device_list(impl, tenant, device, limit,
                              MDX_SELECT_PREDICTION
                              " WHERE t.name = $1 ORDER BY d.name LIMIT $2::bigint",
                              "SELECT t.name, d.name, r.ts_ms, r.rul, r.model_version, '', 0"
                              " FROM rul_history r JOIN devices d ON d.id = r.device_id"
                              " JOIN tenants t ON t.id = d.tenant_id WHERE t.name = $1"
                              " AND d.name = $3 ORDER BY r.ts_ms DESC LIMIT $2::bigint",
                              prediction_list_row, &list);
}

const struct mdx_store_rul_ops mdx_pg_rul = {
    .model_put = pg_model_put,
    .model_get = pg_model_get,
    .model_list = pg_model_list,
    .model_activate = pg_model_activate,
    .model_active = pg_model_active,
    .active_list = pg_active_list,
    .threshold_get = pg_threshold_get,
    .threshold_set = pg_threshold_set,
    .prediction_put = pg_prediction_put,
    .prediction_latest = pg_prediction_latest,
    .prediction_list = pg_prediction_list,
};
