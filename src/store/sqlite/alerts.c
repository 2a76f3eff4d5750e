/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alerts.c - the SQLite store's threshold rules and alerts
 * (store_alerts.h).
 *
 * Rules are few and change when an operator says so; alerts change a few
 * times per anomaly episode. So, like the archive records, statements are
 * prepared per call rather than kept in the handle. New alerts and alert
 * updates of a batch are written by mdx_sq_alerts_write() inside the
 * batch's transaction (write.c); sq_alert_put() is the
 * same outside a batch, for operators' acknowledge and resolve. The
 * default rules of a new tenant are inserted by a trigger on tenants
 * (migration 4), so tenant_add needs nothing here.
 *
 * SQLite stores a NaN as NULL: value and score read back NULL as NaN.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"
#include "store/store_alert_int.h"
#include "store/sqlite/sqlite_int.h"
#include "store/sqlite/stmt.h"

/* Filters after the tenant and device: ?3 state (-1 any), ?4 active only, ?5 min severity. */
#define ALERT_FILTER                                                                               \
    " AND (?3 < 0 OR a.state = ?3) AND (?4 = 0 OR a.state < 2) AND a.severity >= ?5"              \
    " ORDER BY a.opened_ms DESC, a.id DESC LIMIT ?6"

/* One statement per combination of tenant and device, so that each can use its index. */
static const char *const alert_list_sql[4] = {
    MDX_SELECT_ALERT " WHERE 1" ALERT_FILTER,
    MDX_SELECT_ALERT " WHERE a.tenant_id = ?1" ALERT_FILTER,
    MDX_SELECT_ALERT " WHERE a.device = ?2" ALERT_FILTER,
    MDX_SELECT_ALERT " WHERE a.tenant_id = ?1 AND a.device = ?2" ALERT_FILTER,
};

#define RULE_COLS                                                                                  \
    "SELECT r.id, t.name, r.name, r.device_type, r.device, r.sensor, r.cmp, r.threshold,"         \
    " r.hysteresis, r.min_duration_ms, r.severity, r.enabled"                                      \
    " FROM rules r JOIN tenants t ON t.id = r.tenant_id"

/* By name, then from the tenant-wide rule to the most specific. */
#define RULE_ORDER " ORDER BY t.name, r.name, r.device <> '', r.device_type, r.device"

/* Binds a double; NaN becomes NULL (SQLite would do the same, said plainly here). */
static void bind_real(sqlite3_stmt *st, int col, double v)
{
    if (isnan(v)) {
        sqlite3_bind_null(st, col);
    } else {
        sqlite3_bind_double(st, col, v);
    }
}

/* ---- rules ---- */

static int sq_rule_put(void *impl, struct mdx_rule *rule)
{
    sqlite3_stmt *st;
    int rc;

    rc = mdx_store_rule_check(rule);
    if (rc != MDX_OK) {
        return rc;
    }
    rc = mdx_sq_prepare_tenant(
        impl,
        "INSERT INTO rules (tenant_id, name, device_type, device, sensor, cmp, threshold,"
        " hysteresis, min_duration_ms, severity, enabled)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        " ON CONFLICT (tenant_id, name, device_type, device) DO UPDATE SET"
        " sensor = excluded.sensor, cmp = excluded.cmp, threshold = excluded.threshold,"
        " hysteresis = excluded.hysteresis, min_duration_ms = excluded.min_duration_ms,"
        " severity = excluded.severity, enabled = excluded.enabled"
        " RETURNING id",
        rule->tenant, 1, &st);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 2, rule->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rule->device_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rule->device, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, rule->sensor, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, rule->cmp);
    sqlite3_bind_double(st, 7, rule->threshold);
    sqlite3_bind_double(st, 8, rule->hysteresis);
    sqlite3_bind_int64(st, 9, rule->min_duration_ms);
    sqlite3_bind_int(st, 10, rule->severity);
    sqlite3_bind_int(st, 11, rule->enabled ? 1 : 0);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rule->id = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st); /* finishes the statement: the row is written */
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? MDX_OK : mdx_sq_status(rc);
}

MDX_SQ_LISTER(rule_list, struct mdx_rule, mdx_row_rule, mdx_rule_fn)

static int sq_rule_list(void *impl, const char *tenant, mdx_rule_fn fn, void *arg)
{
    struct rule_list list = {fn, arg};

    return mdx_sq_tenant_list(impl, tenant,
                              tenant != NULL ? RULE_COLS " WHERE r.tenant_id = ?1" RULE_ORDER
                                             : RULE_COLS RULE_ORDER,
                              rule_list_row, &list);
}

static int sq_rule_delete(void *impl, const char *tenant, int64_t id)
{
    struct sq *h = impl;
    sqlite3_stmt *st;
    int rc = mdx_sq_prepare_tenant(h, "DELETE FROM rules WHERE id = ?1 AND tenant_id = ?2", tenant,
                                   2, &st);

    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    return mdx_sq_run_change(h, st);
}

/* ---- alerts ---- */

/*
 * Inserts (a->id == 0) or updates alert 'a' with the statements 'ins' and
 * 'upd' (prepared by the caller, reset here). A new alert's id is set.
 */
static int alert_write(struct sq *h, sqlite3_stmt *ins, sqlite3_stmt *upd, struct mdx_alert *a)
{
    sqlite3_stmt *st = a->id == 0 ? ins : upd;
    int rc;

    rc = mdx_store_alert_check(a);
    if (rc != MDX_OK) {
        return rc;
    }
    sqlite3_bind_text(st, 1, a->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, a->state);
    sqlite3_bind_int64(st, 3, a->updated_ms);
    sqlite3_bind_int64(st, 4, a->resolved_ms);
    bind_real(st, 5, a->value);
    bind_real(st, 6, a->score);
    sqlite3_bind_text(st, 7, a->summary, -1, SQLITE_STATIC);
    if (st == upd) {
        sqlite3_bind_int64(st, 8, a->id);
    } else {
        sqlite3_bind_text(st, 8, a->device, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, a->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, a->sensor, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 11, a->severity);
        sqlite3_bind_int64(st, 12, a->opened_ms);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE && st == upd) {
        rc = sqlite3_changes(h->db) > 0 ? MDX_OK : MDX_ENOTFOUND;
    } else if (rc == SQLITE_DONE) {
        rc = MDX_ENOTFOUND; /* no such tenant: the SELECT gave no row */
    } else if (rc == SQLITE_ROW) {
        a->id = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st) == SQLITE_DONE ? MDX_OK : MDX_ESTORE;
    } else {
        rc = mdx_sq_status(rc);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Prepares the insert and update statements of alert_write(). */
static int alert_prep(struct sq *h, sqlite3_stmt **ins, sqlite3_stmt **upd)
{
    int rc;

    *upd = NULL;
    rc = mdx_sq_prepare(
        h,
        "INSERT INTO alerts (tenant_id, device, source, sensor, severity, state, opened_ms,"
        " updated_ms, resolved_ms, value, score, summary)"
        " SELECT id, ?8, ?9, ?10, ?11, ?2, ?12, ?3, ?4, ?5, ?6, ?7 FROM tenants"
        " WHERE name = ?1 RETURNING id",
        ins);
    if (rc == MDX_OK) {
        rc = mdx_sq_prepare(
            h,
            "UPDATE alerts SET state = ?2, updated_ms = ?3, resolved_ms = ?4, value = ?5,"
            " score = ?6, summary = ?7"
            " WHERE id = ?8 AND tenant_id = (SELECT id FROM tenants WHERE name = ?1)",
            upd);
    }
    if (rc != MDX_OK) {
        sqlite3_finalize(*ins);
        *ins = NULL;
    }
    return rc;
}

int mdx_sq_alerts_write(struct sq *h, const struct mdx_batch *b)
{
    sqlite3_stmt *ins, *upd;
    int rc;

    if (b->n_alerts == 0) {
        return MDX_OK;
    }
    rc = alert_prep(h, &ins, &upd);
    for (size_t i = 0; i < b->n_alerts && rc == MDX_OK; i++) {
        struct mdx_alert *a = &b->alerts[i];
        int fresh = a->id == 0;

        rc = alert_write(h, ins, upd, a);
        if (rc == MDX_ENOTFOUND && !fresh) {
            struct mdx_device_info dev;
            /* Its device was deleted with its alerts (issue 5): nothing left to update. */
            if (mdx_sq_catalog.device_get(h, a->tenant, a->device, &dev) == MDX_ENOTFOUND) {
                rc = MDX_OK;
            }
        }
        if (rc == MDX_OK && fresh) {
            a->id = -a->id; /* until the commit: see mdx_store_alerts_settle() */
        }
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return rc;
}

static int sq_alert_put(void *impl, struct mdx_alert *alert)
{
    struct sq *h = impl;
    sqlite3_stmt *ins, *upd;
    int rc;

    rc = alert_prep(h, &ins, &upd);
    if (rc == MDX_OK) {
        rc = alert_write(h, ins, upd, alert);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    return rc;
}

static int sq_alert_get(void *impl, const char *tenant, int64_t id, struct mdx_alert *out)
{
    memset(out, 0, sizeof(*out));
    return mdx_sq_find_id_rec(impl,
                              MDX_SELECT_ALERT " WHERE a.id = ?1 AND (?2 IS NULL OR t.name = ?2)",
                              id, tenant, &mdx_row_alert, out);
}

MDX_SQ_LISTER(alert_list, struct mdx_alert, mdx_row_alert, mdx_alert_fn)

static int sq_alert_list(void *impl, const struct mdx_alert_filter *f, mdx_alert_fn fn, void *arg)
{
    struct sq *h = impl;
    struct alert_list list = {fn, arg};
    sqlite3_stmt *st;
    int64_t tid = 0;
    int rc;

    if ((f->state != -1 && f->state != MDX_ALERT_ACTIVE &&
         (f->state < MDX_ALERT_OPEN || f->state > MDX_ALERT_RESOLVED)) ||
        f->severity < -1 || f->severity > MDX_SEVERITY_CRITICAL || f->limit < 0) {
        return MDX_EINVAL;
    }
    if (f->tenant != NULL) {
        rc = mdx_sq_tenant_id(h, f->tenant, &tid);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    rc = mdx_sq_prepare(
        h, alert_list_sql[(f->tenant != NULL ? 1 : 0) + (f->device != NULL ? 2 : 0)], &st);
    if (rc != MDX_OK) {
        return rc;
    }
    if (f->tenant != NULL) {
        sqlite3_bind_int64(st, 1, tid);
    }
    if (f->device != NULL) {
        sqlite3_bind_text(st, 2, f->device, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 3, f->state == MDX_ALERT_ACTIVE ? -1 : f->state);
    sqlite3_bind_int(st, 4, f->state == MDX_ALERT_ACTIVE);
    sqlite3_bind_int(st, 5, f->severity);
    sqlite3_bind_int64(st, 6, f->limit > 0 ? f->limit : -1);
    return mdx_sq_each_row(st, alert_list_row, &list);
}

const struct mdx_store_alerts_ops mdx_sq_alerts = {
    .rule_put = sq_rule_put,
    .rule_list = sq_rule_list,
    .rule_delete = sq_rule_delete,
    .alert_put = sq_alert_put,
    .alert_get = sq_alert_get,
    .alert_list = sq_alert_list,
};
