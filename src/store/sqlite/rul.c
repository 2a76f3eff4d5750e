/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul.c - the SQLite store's RUL model registry, active versions,
 * per-tenant thresholds and predictions (store_rul.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/status.h"
#include "modax/validate.h"
#include "store/store_rul_int.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

static int sq_model_put(void *impl, const struct mdx_rul_model_rec *m)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    if (!mdx_rul_model_rec_valid(m)) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_prepare(
        h,
        "INSERT INTO rul_models (version, path, manifest, created_ms) VALUES (?1, ?2, ?3,"
        " ?4) ON CONFLICT (version) DO NOTHING",
        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, m->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->manifest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, m->created_ms);
    rc = mdx_sq_run_change(h, st);
    return rc == MDX_ENOTFOUND ? MDX_EEXIST : rc; /* no row inserted: the version is taken */
}

static int sq_model_get(void *impl, const char *version, struct mdx_rul_model_rec *out)
{
    struct sq *h = impl;

    memset(out, 0, sizeof(*out));
    if (!mdx_rul_version_valid(version)) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find_rec(h, MDX_SELECT_MODEL " WHERE version = ?1", version, NULL, &mdx_row_model,
                           out);
}

/* A listing of models: its callback, argument and the record it reuses (on the heap). */
struct model_list {
    mdx_rul_model_fn fn;
    void *arg;
    struct mdx_rul_model_rec *m;
};

static int model_list_row(sqlite3_stmt *st, void *ctx)
{
    const struct model_list *l = ctx;

    mdx_sq_row_map(st, &mdx_row_model, l->m);
    return l->fn(l->arg, l->m);
}

static int sq_model_list(void *impl, mdx_rul_model_fn fn, void *arg)
{
    struct sq *h = impl;
    struct model_list list = {fn, arg, NULL};
    struct mdx_rul_model_rec *m;
    sqlite3_stmt *st;
    int rc;

    rc = mdx_sq_prepare(h,
                        MDX_SELECT_MODEL " ORDER BY created_ms, version",
                        &st);
    if (rc != MDX_OK) {
        return rc;
    }
    m = mdx_malloc(sizeof(*m)); /* ~17 KiB: not on the stack */
    if (m == NULL) {
        sqlite3_finalize(st);
        return MDX_ENOMEM;
    }
    list.m = m;
    rc = mdx_sq_each_row(st, model_list_row, &list);
    mdx_free(m);
    return rc;
}

static int sq_model_activate(void *impl, const char *tenant, const char *version, int64_t now_ms)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int64_t tid;
    int rc;

    if (tenant == NULL || (tenant[0] != '\0' && !mdx_sq_name_valid(tenant)) ||
        !mdx_rul_version_valid(version)) {
        return MDX_ENOTFOUND;
    }
    if (tenant[0] != '\0') {
        rc = mdx_sq_tenant_id(h, tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_sq_prepare_keys(h,
                             "INSERT INTO rul_active (tenant, version, updated_ms)"
                             " SELECT ?1, version, ?3 FROM rul_models WHERE version = ?2"
                             " ON CONFLICT (tenant) DO UPDATE SET version = excluded.version,"
                             " updated_ms = excluded.updated_ms",
                             tenant, version, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 3, now_ms);
    return mdx_sq_run_change(h, st); /* MDX_ENOTFOUND: no such version */
}

static int sq_model_active(void *impl, const char *tenant, char *version, size_t len)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    if (len > 0) {
        version[0] = '\0';
    }
    if (tenant == NULL || (tenant[0] != '\0' && !mdx_sq_name_valid(tenant))) {
        return MDX_ENOTFOUND;
    }
    /* The tenant's own first (tenant = '' is 0 for it), else the default. */
    rc = mdx_sq_find(h,
                     "SELECT version FROM rul_active WHERE tenant IN (?1, '')"
                     " ORDER BY tenant = '' LIMIT 1",
                     tenant, NULL, &st);
    if (rc == MDX_OK) {
        mdx_sq_column_copy(st, 0, version, len);
        sqlite3_finalize(st);
    }
    return rc;
}

/* A listing of active versions: its callback and argument. */
struct active_list {
    mdx_rul_active_fn fn;
    void *arg;
};

static int active_list_row(sqlite3_stmt *st, void *ctx)
{
    const struct active_list *l = ctx;
    char tenant[MDX_NAME_MAX + 1], version[MDX_RUL_VERSION_MAX];

    mdx_sq_column_copy(st, 0, tenant, sizeof(tenant));
    mdx_sq_column_copy(st, 1, version, sizeof(version));
    return l->fn(l->arg, tenant, version);
}

static int sq_active_list(void *impl, mdx_rul_active_fn fn, void *arg)
{
    struct active_list list = {fn, arg};

    return mdx_sq_list(impl, "SELECT tenant, version FROM rul_active ORDER BY tenant",
                       active_list_row, &list);
}

static int sq_threshold_get(void *impl, const char *tenant, double *cycles)
{
    sqlite3_stmt *st;
    int rc = mdx_sq_tenant_find(impl,
                                "SELECT r.cycles FROM rul_thresholds r"
                                " JOIN tenants t ON t.id = r.tenant_id WHERE t.name = ?1",
                                tenant, &st);

    if (rc == MDX_OK) {
        *cycles = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    return rc;
}

static int sq_threshold_set(void *impl, const char *tenant, double cycles)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc;

    if (!isnan(cycles) && (!isfinite(cycles) || cycles < 0)) {
        return MDX_EINVAL;
    }
    rc = mdx_sq_prepare_tenant(h,
                               isnan(cycles)
                                   ? "DELETE FROM rul_thresholds WHERE tenant_id = ?1"
                                   : "INSERT INTO rul_thresholds (tenant_id, cycles)"
                                     " VALUES (?1, ?2) ON CONFLICT (tenant_id)"
                                     " DO UPDATE SET cycles = excluded.cycles",
                               tenant, 1, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    if (!isnan(cycles)) {
        sqlite3_bind_double(st, 2, cycles);
    }
    return mdx_sq_run_done(st);
}

/* The statements of a prediction put, prepared once per call. */
enum { P_DEVICE, P_LATEST, P_REASON, P_HISTORY, P_PRUNE, P_COUNT };
static const char *const put_sql[P_COUNT] = {
    "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id"
    " WHERE t.name = ?1 AND d.name = ?2",
    "INSERT INTO rul_latest (device_id, ts_ms, rul, model_version, reason, reason_ms)"
    " VALUES (?1, ?2, ?3, ?4, '', ?2) ON CONFLICT (device_id) DO UPDATE SET"
    " ts_ms = excluded.ts_ms, rul = excluded.rul, model_version = excluded.model_version,"
    " reason = '', reason_ms = excluded.reason_ms",
    "INSERT INTO rul_latest (device_id, reason, reason_ms) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (device_id) DO UPDATE SET reason = excluded.reason,"
    " reason_ms = excluded.reason_ms",
    "INSERT OR REPLACE INTO rul_history (device_id, ts_ms, rul, model_version)"
    " VALUES (?1, ?2, ?3, ?4)",
    /* Keeps the newest ?2 of the device. */
    "DELETE FROM rul_history WHERE device_id = ?1 AND ts_ms <= (SELECT ts_ms FROM rul_history"
    " WHERE device_id = ?1 ORDER BY ts_ms DESC LIMIT 1 OFFSET ?2)",
};

/* One prediction, inside the transaction. */
static int put_one(sqlite3_stmt *const *s, const struct mdx_rul_prediction *p, int64_t keep)
{
    int64_t dev;
    int rc;

    if (!mdx_sq_name_valid(p->tenant) || !mdx_sq_name_valid(p->device)) {
        return MDX_OK; /* skipped like an unknown device */
    }
    sqlite3_bind_text(s[P_DEVICE], 1, p->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(s[P_DEVICE], 2, p->device, -1, SQLITE_STATIC);
    rc = sqlite3_step(s[P_DEVICE]);
    dev = rc == SQLITE_ROW ? sqlite3_column_int64(s[P_DEVICE], 0) : 0;
    sqlite3_reset(s[P_DEVICE]);
    if (rc != SQLITE_ROW) {
        return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
    }
    if (isnan(p->rul)) {
        sqlite3_bind_int64(s[P_REASON], 1, dev);
        sqlite3_bind_text(s[P_REASON], 2, p->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s[P_REASON], 3, p->ts_ms);
        return mdx_sq_step_reset(s[P_REASON]);
    }
    sqlite3_bind_int64(s[P_LATEST], 1, dev);
    sqlite3_bind_int64(s[P_LATEST], 2, p->ts_ms);
    sqlite3_bind_double(s[P_LATEST], 3, p->rul);
    sqlite3_bind_text(s[P_LATEST], 4, p->model_version, -1, SQLITE_STATIC);
    rc = mdx_sq_step_reset(s[P_LATEST]);
    if (rc == MDX_OK) {
        sqlite3_bind_int64(s[P_HISTORY], 1, dev);
        sqlite3_bind_int64(s[P_HISTORY], 2, p->ts_ms);
        sqlite3_bind_double(s[P_HISTORY], 3, p->rul);
        sqlite3_bind_text(s[P_HISTORY], 4, p->model_version, -1, SQLITE_STATIC);
        rc = mdx_sq_step_reset(s[P_HISTORY]);
    }
    if (rc == MDX_OK) {
        sqlite3_bind_int64(s[P_PRUNE], 1, dev);
        sqlite3_bind_int64(s[P_PRUNE], 2, keep);
        rc = mdx_sq_step_reset(s[P_PRUNE]);
    }
    return rc;
}

/* A prediction put: its statements and predictions. */
struct put {
    sqlite3_stmt *s[P_COUNT];
    const struct mdx_rul_prediction *p;
    size_t n;
    int64_t keep;
};

/* The body of prediction_put, inside the transaction. */
static int put_all(struct sq *h, const void *ctx)
{
    const struct put *put = ctx;
    int rc = MDX_OK;

    (void)h;
    for (size_t i = 0; i < put->n && rc == MDX_OK; i++) {
        rc = put_one(put->s, &put->p[i], put->keep);
    }
    return rc;
}

static int sq_prediction_put(void *impl, const struct mdx_rul_prediction *p, size_t n,
                             int64_t keep)
{
    struct sq *h = impl;
    struct put put = {{NULL}, p, n, keep};
    int rc = MDX_OK;

    if (keep < 1) {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isnan(p[i].rul) && (!isfinite(p[i].rul) || !mdx_rul_version_valid(p[i].model_version))) {
            return MDX_EINVAL;
        }
    }
    for (int i = 0; i < P_COUNT && rc == MDX_OK; i++) {
        rc = mdx_sq_prepare(h, put_sql[i], &put.s[i]);
    }
    if (rc == MDX_OK) {
        rc = mdx_sq_in_tx(h, put_all, &put);
    }
    for (int i = 0; i < P_COUNT; i++) {
        sqlite3_finalize(put.s[i]);
    }
    return rc;
}

MDX_SQ_LISTER(prediction_list, struct mdx_rul_prediction, mdx_row_prediction, mdx_rul_prediction_fn)

static int sq_prediction_latest(void *impl, const char *tenant, const char *device,
                                struct mdx_rul_prediction *out)
{
    struct sq *h = impl;

    memset(out, 0, sizeof(*out));
    out->rul = NAN;
    if (!mdx_sq_name_valid(tenant) || !mdx_sq_name_valid(device)) {
        return MDX_ENOTFOUND;
    }
    return mdx_sq_find_rec(h, MDX_SELECT_PREDICTION " WHERE t.name = ?1 AND d.name = ?2", tenant,
                           device, &mdx_row_prediction, out);
}

static int sq_prediction_list(void *impl, const char *tenant, const char *device, int64_t limit,
                              mdx_rul_prediction_fn fn, void *arg)
{
    struct prediction_list list = {fn, arg};

    return mdx_sq_device_list(
        impl, tenant, device, limit,
        MDX_SELECT_PREDICTION " WHERE d.tenant_id = ?1 ORDER BY d.name LIMIT ?3",
        "SELECT t.name, d.name, r.ts_ms, r.rul, r.model_version, '', 0"
        " FROM rul_history r JOIN devices d ON d.id = r.device_id"
        " JOIN tenants t ON t.id = d.tenant_id"
        " WHERE d.tenant_id = ?1 AND d.name = ?2 ORDER BY r.ts_ms DESC LIMIT ?3",
        prediction_list_row, &list);
}

const struct mdx_store_rul_ops mdx_sq_rul = {
    .model_put = sq_model_put,
    .model_get = sq_model_get,
    .model_list = sq_model_list,
    .model_activate = sq_model_activate,
    .model_active = sq_model_active,
    .active_list = sq_active_list,
    .threshold_get = sq_threshold_get,
    .threshold_set = sq_threshold_set,
    .prediction_put = sq_prediction_put,
    .prediction_latest = sq_prediction_latest,
    .prediction_list = sq_prediction_list,
};
