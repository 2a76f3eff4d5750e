/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alerts.c - the PostgreSQL store's threshold rules and alerts
 * (store_alerts.h); the same semantics as sqlite/alerts.c.
 *
 * These run a few times per operator command or anomaly episode, so they
 * are plain parameterised statements (PQexecParams) rather than prepared
 * on every connection. mdx_pg_alerts_write() runs inside the batch's
 * transaction (write.c) and therefore never reconnects: a
 * lost connection fails the batch, which is retried. The default rules of
 * a new tenant are inserted by a trigger on tenants (migration 3).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/store_alert_int.h"
#include "store/pgsql/conn.h"
#include "store/pgsql/pgsql_int.h"

/* The unnamed statement is planned with the values, so the NULL tests fold away. */
static const char alert_list_sql[] =
    MDX_SELECT_ALERT " WHERE ($1::integer IS NULL OR a.tenant_id = $1)"
               " AND ($2::text IS NULL OR a.device = $2)"
               " AND ($3::integer < 0 OR a.state = $3) AND ($4::integer = 0 OR a.state < 2)"
               " AND a.severity >= $5::integer"
               " ORDER BY a.opened_ms DESC, a.id DESC LIMIT $6::bigint";

/* By name, then from the tenant-wide rule to the most specific; names bytewise. */
static const char rule_list_sql[] =
    "SELECT r.id, t.name, r.name, r.device_type, r.device, r.sensor, r.cmp, r.threshold,"
    " r.hysteresis, r.min_duration_ms, r.severity, r.enabled"
    " FROM rules r JOIN tenants t ON t.id = r.tenant_id"
    " WHERE $1::integer IS NULL OR r.tenant_id = $1"
    " ORDER BY t.name COLLATE \"C\", r.name COLLATE \"C\", r.device <> '',"
    " r.device_type COLLATE \"C\", r.device COLLATE \"C\"";

static const char alert_insert_sql[] =
    "INSERT INTO alerts (tenant_id, device, source, sensor, severity, state, opened_ms,"
    " updated_ms, resolved_ms, value, score, summary)"
    " SELECT id, $8::text, $9::text, $10::text, $11::smallint, $2::smallint, $12::bigint,"
    " $3::bigint, $4::bigint, $5::double precision, $6::double precision, $7::text"
    " FROM tenants WHERE name = $1 RETURNING id";

static const char alert_update_sql[] =
    "UPDATE alerts SET state = $2::smallint, updated_ms = $3::bigint, resolved_ms = $4::bigint,"
    " value = $5::double precision, score = $6::double precision, summary = $7::text"
    " WHERE id = $8::bigint AND tenant_id = (SELECT id FROM tenants WHERE name = $1)";

/* A double as PostgreSQL reads it back exactly; buf has at least 32 bytes. */
static const char *fmt_dbl(char *buf, double v)
{
    if (isnan(v)) {
        return "NaN";
    }
    if (isinf(v)) {
        return v > 0 ? "Infinity" : "-Infinity";
    }
    snprintf(buf, 32, "%.17g", v);
    return buf;
}

/* ---- rules ---- */

static int pg_rule_put(void *impl, struct mdx_rule *rule)
{
    struct pg *h = impl;
    char tid[24], cmp[24], thr[32], hys[32], dur[24], sev[24];
    const char *v[11];
    PGresult *res;
    int rc;

    rc = mdx_store_rule_check(rule);
    if (rc == MDX_OK) {
        rc = mdx_pg_tenant_text(h, rule->tenant, tid);
    }
    if (rc != MDX_OK) {
        return rc;
    }
    v[0] = tid;
    v[1] = rule->name;
    v[2] = rule->device_type;
    v[3] = rule->device;
    v[4] = rule->sensor;
    v[5] = mdx_pg_fmt(cmp, rule->cmp);
    v[6] = fmt_dbl(thr, rule->threshold);
    v[7] = fmt_dbl(hys, rule->hysteresis);
    v[8] = mdx_pg_fmt(dur, rule->min_duration_ms);
    v[9] = mdx_pg_fmt(sev, rule->severity);
    v[10] = rule->enabled ? "1" : "0";
    rc = mdx_pg_run(
        h, 0,
        "INSERT INTO rules (tenant_id, name, device_type, device, sensor, cmp, threshold,"
        " hysteresis, min_duration_ms, severity, enabled)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (tenant_id, name, device_type, device) DO UPDATE SET"
        " sensor = excluded.sensor, cmp = excluded.cmp, threshold = excluded.threshold,"
        " hysteresis = excluded.hysteresis, min_duration_ms = excluded.min_duration_ms,"
        " severity = excluded.severity, enabled = excluded.enabled"
        " RETURNING id",
        11, v, &res);
    if (rc == MDX_OK) {
        rc = PQntuples(res) > 0 ? MDX_OK : MDX_ESTORE;
        if (rc == MDX_OK) {
            rule->id = mdx_pg_i64(res, 0, 0);
        }
    }
    PQclear(res);
    return rc;
}

MDX_PG_LISTER(rule_list, struct mdx_rule, mdx_row_rule, mdx_rule_fn)

static int pg_rule_list(void *impl, const char *tenant, mdx_rule_fn fn, void *arg)
{
    struct rule_list list = {fn, arg};

    return mdx_pg_tenant_list(impl, tenant, rule_list_sql, rule_list_row, &list);
}

static int pg_rule_delete(void *impl, const char *tenant, int64_t id)
{
    char tid[24], ids[24];
    const char *v[2] = {mdx_pg_fmt(ids, id), tid};
    int rc;

    rc = mdx_pg_tenant_text(impl, tenant, tid);
    if (rc != MDX_OK) {
        return rc;
    }
    return mdx_pg_run_change(impl, "DELETE FROM rules WHERE id = $1::bigint AND tenant_id = $2",
                             2, v);
}

/* ---- alerts ---- */

/* Inserts (a->id == 0; the id is set) or updates alert 'a'. */
static int alert_write(struct pg *h, int in_tx, struct mdx_alert *a)
{
    char st[24], upd[24], resd[24], val[32], score[32], id[24], sev[24], opened[24];
    const char *v[12];
    PGresult *res;
    int rc;

    rc = mdx_store_alert_check(a);
    if (rc != MDX_OK) {
        return rc;
    }
    v[0] = a->tenant;
    v[1] = mdx_pg_fmt(st, a->state);
    v[2] = mdx_pg_fmt(upd, a->updated_ms);
    v[3] = mdx_pg_fmt(resd, a->resolved_ms);
    v[4] = fmt_dbl(val, a->value);
    v[5] = fmt_dbl(score, a->score);
    v[6] = a->summary;
    if (a->id != 0) {
        v[7] = mdx_pg_fmt(id, a->id);
        return mdx_pg_run_change_tx(h, in_tx, alert_update_sql, 8, v);
    }
    v[7] = a->device;
    v[8] = a->source;
    v[9] = a->sensor;
    v[10] = mdx_pg_fmt(sev, a->severity);
    v[11] = mdx_pg_fmt(opened, a->opened_ms);
    /* No row: no such tenant. */
    rc = mdx_pg_run_row(h, in_tx, alert_insert_sql, 12, v, &res);
    if (rc == MDX_OK) {
        a->id = mdx_pg_i64(res, 0, 0);
    }
    PQclear(res);
    return rc;
}

int mdx_pg_alerts_write(struct pg *h, const struct mdx_batch *b)
{
    int rc = MDX_OK;

    for (size_t i = 0; i < b->n_alerts && rc == MDX_OK; i++) {
        struct mdx_alert *a = &b->alerts[i];
        int fresh = a->id == 0;

        rc = alert_write(h, 1, a);
        if (rc == MDX_ENOTFOUND && !fresh) {
            /* Its device was deleted with its alerts (issue 5): nothing left to update. */
            const char *v[2] = {a->tenant, a->device};
            PGresult *res;
            rc = mdx_pg_run(h, 1,
                            "SELECT 1 FROM devices d JOIN tenants t ON t.id = d.tenant_id"
                            " WHERE t.name = $1 AND d.name = $2",
                            2, v, &res);
            if (rc == MDX_OK) {
                rc = PQntuples(res) == 0 ? MDX_OK : MDX_ENOTFOUND;
            }
            PQclear(res);
        }
        if (rc == MDX_OK && fresh) {
            a->id = -a->id; /* until the commit: see mdx_store_alerts_settle() */
        }
    }
    return rc;
}

static int pg_alert_put(void *impl, struct mdx_alert *alert)
{
    return alert_write(impl, 0, alert);
}

static int pg_alert_get(void *impl, const char *tenant, int64_t id, struct mdx_alert *out)
{
    char ids[24];
    const char *v[2] = {mdx_pg_fmt(ids, id), tenant};

    memset(out, 0, sizeof(*out));
    return mdx_pg_run_rec(
        impl, MDX_SELECT_ALERT " WHERE a.id = $1::bigint AND ($2::text IS NULL OR t.name = $2)", 2,
        v, &mdx_row_alert, out);
}

MDX_PG_LISTER(alert_list, struct mdx_alert, mdx_row_alert, mdx_alert_fn)

static int pg_alert_list(void *impl, const struct mdx_alert_filter *f, mdx_alert_fn fn, void *arg)
{
    struct pg *h = impl;
    struct alert_list list = {fn, arg};
    char tid[24], state[24], sev[24], lim[24];
    const char *v[6];
    int rc;

    if ((f->state != -1 && f->state != MDX_ALERT_ACTIVE &&
         (f->state < MDX_ALERT_OPEN || f->state > MDX_ALERT_RESOLVED)) ||
        f->severity < -1 || f->severity > MDX_SEVERITY_CRITICAL || f->limit < 0) {
        return MDX_EINVAL;
    }
    v[0] = NULL;
    if (f->tenant != NULL) {
        rc = mdx_pg_tenant_text(h, f->tenant, tid);
        if (rc != MDX_OK) {
            return rc;
        }
        v[0] = tid;
    }
    v[1] = f->device;
    v[2] = mdx_pg_fmt(state, f->state == MDX_ALERT_ACTIVE ? -1 : f->state);
    v[3] = f->state == MDX_ALERT_ACTIVE ? "1" : "0";
    v[4] = mdx_pg_fmt(sev, f->severity);
    v[5] = f->limit > 0 ? mdx_pg_fmt(lim, f->limit) : NULL;
    return mdx_pg_list(h, alert_list_sql, 6, v, alert_list_row, &list);
}

const struct mdx_store_alerts_ops mdx_pg_alerts = {
    .rule_put = pg_rule_put,
    .rule_list = pg_rule_list,
    .rule_delete = pg_rule_delete,
    .alert_put = pg_alert_put,
    .alert_get = pg_alert_get,
    .alert_list = pg_alert_list,
};
