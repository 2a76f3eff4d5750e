/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_alerts.c - device types, threshold rules and alerts in the
 * store (issue 4), the same checks against SQLite and against a real
 * PostgreSQL 15 started by the test (a missing PostgreSQL fails it):
 * default rules of new and of existing tenants, rule replacement by scope,
 * listing and deleting rules, refusal of bad rules, device types, alerts
 * written with a batch (ids set on commit, none left and ids reset when the
 * batch fails), acknowledge and resolve, tenant scoping and the filters of
 * alert listing.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store_util.h"
#include "support/support.h"

#define T0 1760000000000LL

/* ---- the two back ends ---- */

enum backend { SQLITE, PGSQL };

static const char *db_path;   /* SQLite: from tmp_db_fresh() */
static struct pg_cluster *cl; /* PostgreSQL: the program's shared cluster */
static int db_seq;
static char url[256];

/* A fresh, empty database of 'be': a temp file or a new database in the program's cluster. */
static int fresh(enum backend be)
{
    char db[32];

    if (be == SQLITE) {
        db_path = tmp_db_fresh();
        return db_path != NULL ? 0 : -1;
    }
    cl = pg_shared();
    if (cl == NULL) {
        fprintf(stderr, "  no PostgreSQL cluster\n");
        return -1;
    }
    snprintf(db, sizeof(db), "a%d", ++db_seq);
    if (pg_cluster_create_db(cl, db) != 0) {
        fprintf(stderr, "  createdb %s failed\n", db);
        return -1;
    }
    pg_cluster_url(cl, db, url, sizeof(url));
    return 0;
}

/* Opens the current database of 'be'. */
static struct mdx_store *reopen(enum backend be)
{
    struct mdx_store_conf conf;
    struct mdx_store *st;
    int err = 0;

    if (be == SQLITE) {
        memset(&conf, 0, sizeof(conf));
        conf.backend = "sqlite";
        conf.sqlite_path = (char *)db_path;
        conf.busy_timeout_ms = 1000;
        conf.chunk_points = 64;
        conf.cache_series = 1000;
        conf.deadletter_max = 100;
    } else {
        pg_store_conf(&conf, cl, url);
    }
    st = mdx_store_open(&conf, &err);
    if (st == NULL) {
        fprintf(stderr, "  open: %s\n", mdx_strerror(err));
    }
    return st;
}

/* Runs SQL on the current database outside the store. 0 on success. */
static int raw_sql(enum backend be, const char *sql)
{
    int ok;

    if (be == SQLITE) {
        sqlite3 *db = NULL;
        char *msg = NULL;

        ok = sqlite3_open(db_path, &db) == SQLITE_OK &&
             sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK;
        if (!ok) {
            fprintf(stderr, "  %s: %s\n", sql, msg != NULL ? msg : sqlite3_errmsg(db));
        }
        sqlite3_free(msg);
        sqlite3_close(db);
    } else {
        const char *k[] = {"dbname", "password", NULL};
        const char *v[] = {url, cl->password, NULL};
        PGconn *c = PQconnectdbParams(k, v, 1);
        PGresult *r = PQexec(c, sql);

        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        if (!ok) {
            fprintf(stderr, "  %s: %s", sql, PQresultErrorMessage(r));
        }
        PQclear(r);
        PQfinish(c);
    }
    return ok ? 0 : -1;
}

typedef void (*check_fn)(enum backend be, struct mdx_store *st);

static void run_on(enum backend be, check_fn fn)
{
    struct mdx_store *st = fresh(be) == 0 ? reopen(be) : NULL;

    CHECK(st != NULL);
    if (st != NULL) {
        fn(be, st);
        mdx_store_close(st);
    }
    if (be == SQLITE) {
        tmp_db_remove();
    }
}

/* ---- helpers ---- */

struct rules {
    struct mdx_rule r[16];
    int n;
};

static int collect_rule(void *arg, const struct mdx_rule *r)
{
    struct rules *rs = arg;

    if (rs->n < 16) {
        rs->r[rs->n] = *r;
    }
    rs->n++;
    return MDX_OK;
}

static int list_rules(struct mdx_store *st, const char *tenant, struct rules *out)
{
    memset(out, 0, sizeof(*out));
    return mdx_store_rule_list(st, tenant, collect_rule, out);
}

static void set_rule(struct mdx_rule *r, const char *tenant, const char *name, const char *type,
                     const char *device, const char *sensor, int cmp, double threshold)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->device_type, sizeof(r->device_type), "%s", type);
    snprintf(r->device, sizeof(r->device), "%s", device);
    snprintf(r->sensor, sizeof(r->sensor), "%s", sensor);
    r->cmp = cmp;
    r->threshold = threshold;
    r->hysteresis = 1.0;
    r->min_duration_ms = 30000;
    r->severity = MDX_SEVERITY_CRITICAL;
    r->enabled = 1;
}

struct alerts {
    struct mdx_alert a[32];
    int n;
};

static int collect_alert(void *arg, const struct mdx_alert *a)
{
    struct alerts *as = arg;

    if (as->n < 32) {
        as->a[as->n] = *a;
    }
    as->n++;
    return MDX_OK;
}

static int list_alerts(struct mdx_store *st, const char *tenant, const char *device, int state,
                       int severity, int64_t limit, struct alerts *out)
{
    struct mdx_alert_filter f = {tenant, device, state, severity, limit};

    memset(out, 0, sizeof(*out));
    return mdx_store_alert_list(st, &f, collect_alert, out);
}

static void set_alert(struct mdx_alert *a, const char *tenant, const char *device,
                      const char *source, const char *sensor, int severity, int state,
                      int64_t opened_ms, double value)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->tenant, sizeof(a->tenant), "%s", tenant);
    snprintf(a->device, sizeof(a->device), "%s", device);
    snprintf(a->source, sizeof(a->source), "%s", source);
    snprintf(a->sensor, sizeof(a->sensor), "%s", sensor);
    a->severity = severity;
    a->state = state;
    a->opened_ms = opened_ms;
    a->updated_ms = opened_ms;
    a->resolved_ms = state == MDX_ALERT_RESOLVED ? opened_ms : 0;
    a->value = value;
    a->score = 0.25;
    snprintf(a->summary, sizeof(a->summary), "%s %s on %s: \"%g\" \xc2\xb0" "C", source, sensor,
             device, value);
}

/* Writes alerts 'a' (n of them) as a batch of their own. */
static int write_alerts(struct mdx_store *st, struct mdx_alert *a, size_t n)
{
    struct mdx_batch b;

    memset(&b, 0, sizeof(b));
    b.alerts = a;
    b.n_alerts = n;
    return mdx_store_write(st, &b, NULL);
}

static void add_tenants(struct mdx_store *st)
{
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "globex"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-1", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-2", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "globex", "mill-1", 0), MDX_OK);
}

static void check_defaults(const struct rules *rs, const char *tenant)
{
    CHECK_EQ_INT(rs->n, 2);
    CHECK_STR(rs->r[0].tenant, tenant);
    CHECK_STR(rs->r[0].name, "overcurrent");
    CHECK_STR(rs->r[0].sensor, "current_mean");
    CHECK_STR(rs->r[0].device_type, "");
    CHECK_STR(rs->r[0].device, "");
    CHECK_EQ_INT(rs->r[0].cmp, MDX_CMP_GT);
    CHECK(rs->r[0].threshold == 10.0 && rs->r[0].hysteresis == 0.5);
    CHECK_EQ_INT(rs->r[0].min_duration_ms, 0);
    CHECK_EQ_INT(rs->r[0].severity, MDX_SEVERITY_WARNING);
    CHECK_EQ_INT(rs->r[0].enabled, 1);
    CHECK_STR(rs->r[1].name, "overtemperature");
    CHECK_STR(rs->r[1].sensor, "temperature_mean");
    CHECK_EQ_INT(rs->r[1].cmp, MDX_CMP_GT);
    CHECK(rs->r[1].threshold == 80.0 && rs->r[1].hysteresis == 2.0);
    CHECK_EQ_INT(rs->r[1].severity, MDX_SEVERITY_WARNING);
    CHECK(rs->r[0].id > 0 && rs->r[1].id > 0 && rs->r[0].id != rs->r[1].id);
}

/* ---- the checks ---- */

static void new_tenant_gets_default_rules(enum backend be, struct mdx_store *st)
{
    struct rules rs;

    (void)be;
    add_tenants(st);
    CHECK_EQ_INT(list_rules(st, "acme", &rs), MDX_OK);
    check_defaults(&rs, "acme");
    CHECK_EQ_INT(list_rules(st, "globex", &rs), MDX_OK);
    check_defaults(&rs, "globex");
    CHECK_EQ_INT(list_rules(st, NULL, &rs), MDX_OK);
    CHECK_EQ_INT(rs.n, 4);
    CHECK_STR(rs.r[0].tenant, "acme");
    CHECK_STR(rs.r[3].tenant, "globex");
    CHECK_EQ_INT(list_rules(st, "nobody", &rs), MDX_ENOTFOUND);
    /* A tenant that exists already is refused and gets no second set. */
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_EEXIST);
    CHECK_EQ_INT(list_rules(st, "acme", &rs), MDX_OK);
    CHECK_EQ_INT(rs.n, 2);
}

/* Opens and closes its stores itself: it needs the database closed in between. */
static void migration_gives_existing_tenants_default_rules(enum backend be)
{
    struct mdx_store *st = fresh(be) == 0 ? reopen(be) : NULL;
    struct mdx_device_info d;
    struct rules rs;
    int ok;

    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    add_tenants(st);
    mdx_store_close(st);
    /* Back to the schema before rules: the tenants exist, the rules do not (and what
     * later migrations added is gone too: issues 5 to 7's, 12's and 14's tables and columns). */
    if (be == SQLITE) {
        ok = raw_sql(be, "DROP TABLE points_writer;"
                         " DELETE FROM schema_migrations WHERE version = 12;"
                         " DROP TABLE detector_state;"
                         " DELETE FROM schema_migrations WHERE version = 11;"
                         " ALTER TABLE tenants DROP COLUMN legacy_topics;"
                         " DELETE FROM schema_migrations WHERE version = 10;"
                         " ALTER TABLE devices DROP COLUMN interlocks;"
                         " DELETE FROM schema_migrations WHERE version = 9;"
                         " DROP TABLE leases; DELETE FROM schema_migrations WHERE version = 8;"
                         " DROP TABLE rul_history; DROP TABLE rul_latest; DROP TABLE rul_thresholds;"
                         " DROP TABLE rul_active; DROP TABLE rul_models;"
                         " DELETE FROM schema_migrations WHERE version = 7;"
                         " DROP TABLE device_creds; DROP TABLE broker_identities;"
                         " DELETE FROM schema_migrations WHERE version = 6;"
                         " DROP TABLE commands; DROP TABLE api_keys; DROP TABLE device_epoch;"
                         " ALTER TABLE devices DROP COLUMN status;"
                         " ALTER TABLE devices DROP COLUMN status_ms;"
                         " ALTER TABLE devices DROP COLUMN emergency_stop;"
                         " ALTER TABLE devices DROP COLUMN safety_ms;"
                         " ALTER TABLE devices DROP COLUMN meta;"
                         " ALTER TABLE devices DROP COLUMN limits;"
                         " DELETE FROM schema_migrations WHERE version = 5") == 0;
        CHECK(ok);
        ok = raw_sql(be, "DROP TRIGGER tenants_default_rules; DROP TABLE alerts;"
                         " DROP TABLE rules; ALTER TABLE devices DROP COLUMN type;"
                         " DELETE FROM schema_migrations WHERE version = 4") == 0;
    } else {
        ok = raw_sql(be, "DROP TABLE detector_state;"
                         " DELETE FROM schema_migrations WHERE version = 10;"
                         " ALTER TABLE tenants DROP COLUMN legacy_topics;"
                         " DELETE FROM schema_migrations WHERE version = 9;"
                         " ALTER TABLE devices DROP COLUMN interlocks;"
                         " DELETE FROM schema_migrations WHERE version = 8;"
                         " DROP TABLE leases; DELETE FROM schema_migrations WHERE version = 7;"
                         " DROP TABLE rul_history; DROP TABLE rul_latest; DROP TABLE rul_thresholds;"
                         " DROP TABLE rul_active; DROP TABLE rul_models;"
                         " DELETE FROM schema_migrations WHERE version = 6;"
                         " DROP TABLE device_creds; DROP TABLE broker_identities;"
                         " DELETE FROM schema_migrations WHERE version = 5;"
                         " DROP TABLE commands; DROP TABLE api_keys; DROP TABLE device_epoch;"
                         " ALTER TABLE devices DROP COLUMN status, DROP COLUMN status_ms,"
                         " DROP COLUMN emergency_stop, DROP COLUMN safety_ms,"
                         " DROP COLUMN meta, DROP COLUMN limits;"
                         " DELETE FROM schema_migrations WHERE version = 4") == 0;
        CHECK(ok);
        ok = raw_sql(be, "DROP TRIGGER tenants_default_rules ON tenants;"
                         " DROP FUNCTION mdx_default_rules(); DROP TABLE alerts;"
                         " DROP TABLE rules; ALTER TABLE devices DROP COLUMN type;"
                         " DELETE FROM schema_migrations WHERE version = 3") == 0;
    }
    CHECK(ok);
    st = reopen(be);
    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(list_rules(st, "acme", &rs), MDX_OK);
    check_defaults(&rs, "acme");
    CHECK_EQ_INT(list_rules(st, "globex", &rs), MDX_OK);
    check_defaults(&rs, "globex");
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &d), MDX_OK);
    CHECK_STR(d.type, "");
    CHECK_EQ_INT(mdx_store_tenant_add(st, "initech"), MDX_OK);
    CHECK_EQ_INT(list_rules(st, "initech", &rs), MDX_OK);
    check_defaults(&rs, "initech");
    mdx_store_close(st);
    if (be == SQLITE) {
        tmp_db_remove();
    }
}

static void rule_put_replaces_same_scope_and_keeps_id(enum backend be, struct mdx_store *st)
{
    struct mdx_rule r, t;
    struct rules rs;
    int64_t default_id, type_id, dev_id;

    (void)be;
    add_tenants(st);
    CHECK_EQ_INT(list_rules(st, "acme", &rs), MDX_OK);
    default_id = rs.r[0].id;

    /* A rule for a device type: new id. The same scope again: replaced, same id. */
    set_rule(&r, "acme", "overcurrent", "press", "", "current_mean", MDX_CMP_GE, 12.5);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    type_id = r.id;
    CHECK(type_id > 0 && type_id != default_id);
    set_rule(&t, "acme", "overcurrent", "press", "", "current_max", MDX_CMP_LT, -3.25);
    t.enabled = 0;
    t.severity = MDX_SEVERITY_INFO;
    t.min_duration_ms = 0;
    t.hysteresis = 0;
    CHECK_EQ_INT(mdx_store_rule_put(st, &t), MDX_OK);
    CHECK_EQ_INT(t.id, type_id);
    /* One device: another scope, another id. */
    set_rule(&r, "acme", "overcurrent", "", "press-1", "current_mean", MDX_CMP_GT, 15.0);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    dev_id = r.id;
    CHECK(dev_id > 0 && dev_id != type_id && dev_id != default_id);
    /* The tenant-wide default, edited: its id stays. */
    set_rule(&r, "acme", "overcurrent", "", "", "current_mean", MDX_CMP_GT, 11.0);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    CHECK_EQ_INT(r.id, default_id);

    /* By name, then tenant-wide, type, device. */
    CHECK_EQ_INT(list_rules(st, "acme", &rs), MDX_OK);
    CHECK_EQ_INT(rs.n, 4);
    CHECK_EQ_INT(rs.r[0].id, default_id);
    CHECK(rs.r[0].threshold == 11.0);
    CHECK_EQ_INT(rs.r[1].id, type_id);
    CHECK_STR(rs.r[1].device_type, "press");
    CHECK_STR(rs.r[1].sensor, "current_max");
    CHECK_EQ_INT(rs.r[1].cmp, MDX_CMP_LT);
    CHECK(rs.r[1].threshold == -3.25 && rs.r[1].hysteresis == 0.0);
    CHECK_EQ_INT(rs.r[1].min_duration_ms, 0);
    CHECK_EQ_INT(rs.r[1].severity, MDX_SEVERITY_INFO);
    CHECK_EQ_INT(rs.r[1].enabled, 0);
    CHECK_EQ_INT(rs.r[2].id, dev_id);
    CHECK_STR(rs.r[2].device, "press-1");
    CHECK(rs.r[2].hysteresis == 1.0);
    CHECK_EQ_INT(rs.r[2].min_duration_ms, 30000);
    CHECK_EQ_INT(rs.r[2].severity, MDX_SEVERITY_CRITICAL);
    CHECK_STR(rs.r[3].name, "overtemperature");
    /* The other tenant's rules are untouched. */
    CHECK_EQ_INT(list_rules(st, "globex", &rs), MDX_OK);
    check_defaults(&rs, "globex");
}

static void rule_delete_is_scoped_to_the_tenant(enum backend be, struct mdx_store *st)
{
    struct mdx_rule r;
    struct rules acme, globex;

    (void)be;
    add_tenants(st);
    CHECK_EQ_INT(list_rules(st, "acme", &acme), MDX_OK);
    CHECK_EQ_INT(list_rules(st, "globex", &globex), MDX_OK);
    /* Another tenant's rule id looks like no rule at all. */
    CHECK_EQ_INT(mdx_store_rule_delete(st, "acme", globex.r[0].id), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rule_delete(st, "acme", 999999), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rule_delete(st, "nobody", acme.r[0].id), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rule_delete(st, "acme", acme.r[0].id), MDX_OK);
    CHECK_EQ_INT(mdx_store_rule_delete(st, "acme", acme.r[0].id), MDX_ENOTFOUND);
    CHECK_EQ_INT(list_rules(st, "acme", &acme), MDX_OK);
    CHECK_EQ_INT(acme.n, 1);
    CHECK_STR(acme.r[0].name, "overtemperature");
    CHECK_EQ_INT(list_rules(st, "globex", &globex), MDX_OK);
    CHECK_EQ_INT(globex.n, 2);
    /* Rules of an unknown tenant. */
    set_rule(&r, "nobody", "overcurrent", "", "", "current_mean", MDX_CMP_GT, 1);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_ENOTFOUND);
    CHECK_EQ_INT(r.id, 0);
}

static void bad_rules_are_refused(enum backend be, struct mdx_store *st)
{
    struct mdx_rule r;
    struct rules rs;

    (void)be;
    add_tenants(st);
#define REFUSED(setup)                                                                             \
    do {                                                                                           \
        set_rule(&r, "acme", "hot", "", "", "temperature_mean", MDX_CMP_GT, 90);                  \
        setup;                                                                                     \
        CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_EINVAL);                                      \
    } while (0)
    REFUSED(r.name[0] = '\0');
    REFUSED(snprintf(r.name, sizeof(r.name), "two words"));
    REFUSED(snprintf(r.name, sizeof(r.name), "a/b"));
    REFUSED(r.sensor[0] = '\0');
    REFUSED(snprintf(r.sensor, sizeof(r.sensor), "Temperature"));
    REFUSED(snprintf(r.sensor, sizeof(r.sensor), "temp-mean"));
    REFUSED(snprintf(r.device_type, sizeof(r.device_type), "a b"));
    REFUSED(snprintf(r.device, sizeof(r.device), "x+y"));
    REFUSED((snprintf(r.device_type, sizeof(r.device_type), "press"),
             snprintf(r.device, sizeof(r.device), "press-1")));
    REFUSED(r.cmp = 4);
    REFUSED(r.cmp = -1);
    REFUSED(r.severity = 3);
    REFUSED(r.threshold = NAN);
    REFUSED(r.threshold = INFINITY);
    REFUSED(r.hysteresis = -0.5);
    REFUSED(r.hysteresis = NAN);
    REFUSED(r.min_duration_ms = -1);
    REFUSED(r.min_duration_ms = 8 * 86400000LL);
    REFUSED(memset(r.name, 'x', sizeof(r.name))); /* not terminated */
#undef REFUSED
    /* A bad tenant name is simply no such tenant. */
    set_rule(&r, "no such", "hot", "", "", "temperature_mean", MDX_CMP_GT, 90);
    CHECK(mdx_store_rule_put(st, &r) != MDX_OK);
    CHECK_EQ_INT(list_rules(st, "acme", &rs), MDX_OK);
    CHECK_EQ_INT(rs.n, 2);
    /* The good version of the same rule is taken. */
    set_rule(&r, "acme", "hot", "", "", "temperature_mean", MDX_CMP_GT, 90);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
}

struct devs {
    char type[4][MDX_NAME_MAX + 1];
    int n;
};

static int collect_dev(void *arg, const struct mdx_device_info *d)
{
    struct devs *ds = arg;

    if (ds->n < 4) {
        snprintf(ds->type[ds->n], sizeof(ds->type[0]), "%s", d->type);
    }
    ds->n++;
    return MDX_OK;
}

static void device_types_are_set_listed_and_cleared(enum backend be, struct mdx_store *st)
{
    struct mdx_device_info d;
    struct devs ds;

    (void)be;
    add_tenants(st);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &d), MDX_OK);
    CHECK_STR(d.type, "");
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "press"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "press"), MDX_OK); /* again */
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &d), MDX_OK);
    CHECK_STR(d.type, "press");
    memset(&ds, 0, sizeof(ds));
    CHECK_EQ_INT(mdx_store_device_list(st, "acme", collect_dev, &ds), MDX_OK);
    CHECK_EQ_INT(ds.n, 2);
    CHECK_STR(ds.type[0], "press");
    CHECK_STR(ds.type[1], "");
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", ""), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &d), MDX_OK);
    CHECK_STR(d.type, "");
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "ghost", "press"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "globex", "press-1", "press"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "nobody", "press-1", "press"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "a b"), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "a/b"), MDX_EINVAL);
}

static void batch_alerts_get_ids_on_commit_and_none_on_failure(enum backend be,
                                                               struct mdx_store *st)
{
    struct mdx_point p[3];
    struct mdx_point_group g = {"acme", "press-1", p, 3};
    struct mdx_alert a[2], fail[2], got;
    struct mdx_batch b;
    struct alerts as;
    int64_t points = -1;

    (void)be;
    add_tenants(st);
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 3; i++) {
        snprintf(p[i].sensor, sizeof(p[i].sensor), "current_mean");
        p[i].sensor_len = 12;
        p[i].ts_ms = T0 + i * 1000;
        p[i].value = 11.0 + i;
    }
    set_alert(&a[0], "acme", "press-1", "rule:overcurrent", "current_mean",
              MDX_SEVERITY_WARNING, MDX_ALERT_OPEN, T0 + 1000, 12.0);
    set_alert(&a[1], "acme", "press-1", "detector", "current_mean", MDX_SEVERITY_INFO,
              MDX_ALERT_OPEN, T0 + 2000, NAN);
    a[1].score = 0.93;
    memset(&b, 0, sizeof(b));
    b.groups = &g;
    b.n_groups = 1;
    b.alerts = a;
    b.n_alerts = 2;
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_OK);
    CHECK(a[0].id > 0 && a[1].id > 0 && a[0].id != a[1].id);
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a[0].id, &got), MDX_OK);
    CHECK_EQ_INT(got.id, a[0].id);
    CHECK_STR(got.tenant, "acme");
    CHECK_STR(got.device, "press-1");
    CHECK_STR(got.source, "rule:overcurrent");
    CHECK_STR(got.sensor, "current_mean");
    CHECK_EQ_INT(got.severity, MDX_SEVERITY_WARNING);
    CHECK_EQ_INT(got.state, MDX_ALERT_OPEN);
    CHECK_EQ_INT(got.opened_ms, T0 + 1000);
    CHECK_EQ_INT(got.updated_ms, T0 + 1000);
    CHECK_EQ_INT(got.resolved_ms, 0);
    CHECK(got.value == 12.0 && got.score == 0.25);
    CHECK_STR(got.summary, a[0].summary);
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a[1].id, &got), MDX_OK);
    CHECK(isnan(got.value) && got.score == 0.93);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &points), MDX_OK);
    CHECK_EQ_INT(points, 3);

    /* A batch that fails after its new alert was inserted: nothing stays, the id is 0 again. */
    for (int i = 0; i < 3; i++) {
        p[i].ts_ms += 10000;
    }
    set_alert(&fail[0], "acme", "press-2", "rule:overtemperature", "temperature_mean",
              MDX_SEVERITY_CRITICAL, MDX_ALERT_OPEN, T0 + 20000, 95.5);
    fail[1] = a[1];
    fail[1].state = MDX_ALERT_RESOLVED;
    fail[1].id = 987654321; /* an update of an alert that does not exist */
    b.alerts = fail;
    b.n_alerts = 2;
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_ENOTFOUND);
    CHECK_EQ_INT(fail[0].id, 0);
    CHECK_EQ_INT(fail[1].id, 987654321);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &points), MDX_OK);
    CHECK_EQ_INT(points, 3);
    /* A new alert of an unknown tenant fails its batch too. */
    set_alert(&fail[1], "nobody", "press-1", "detector", "", MDX_SEVERITY_INFO, MDX_ALERT_OPEN,
              T0, 1.0);
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_ENOTFOUND);
    CHECK_EQ_INT(fail[0].id, 0);
    CHECK_EQ_INT(fail[1].id, 0);
    CHECK_EQ_INT(list_alerts(st, NULL, NULL, -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    /* A bad alert is refused, with the batch. */
    b.n_alerts = 1;
    fail[0].state = 7;
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_EINVAL);
    fail[0].state = MDX_ALERT_OPEN;
    fail[0].id = -5;
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_EINVAL);
    fail[0].id = 0;
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &points), MDX_OK);
    CHECK_EQ_INT(points, 3);

    /* The retry stores it, with the points; an update in a later batch changes it. */
    CHECK_EQ_INT(mdx_store_write(st, &b, NULL), MDX_OK);
    CHECK(fail[0].id > a[1].id);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &points), MDX_OK);
    CHECK_EQ_INT(points, 6);
    a[1] = fail[0];
    a[1].state = MDX_ALERT_RESOLVED;
    a[1].updated_ms = a[1].resolved_ms = T0 + 60000;
    a[1].value = 70.25;
    snprintf(a[1].summary, sizeof(a[1].summary), "back to normal");
    CHECK_EQ_INT(write_alerts(st, &a[1], 1), MDX_OK);
    CHECK_EQ_INT(mdx_store_alert_get(st, NULL, a[1].id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_ALERT_RESOLVED);
    CHECK_EQ_INT(got.resolved_ms, T0 + 60000);
    CHECK(got.value == 70.25);
    CHECK_STR(got.summary, "back to normal");
    CHECK_STR(got.device, "press-2");
    CHECK_EQ_INT(got.opened_ms, T0 + 20000);
}

static void alert_put_acknowledges_and_resolves(enum backend be, struct mdx_store *st)
{
    struct mdx_alert a, got;

    (void)be;
    add_tenants(st);
    set_alert(&a, "acme", "press-1", "safety:emergency_stop", "", MDX_SEVERITY_CRITICAL,
              MDX_ALERT_OPEN, T0, INFINITY);
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_OK);
    CHECK(a.id > 0);
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a.id, &got), MDX_OK);
    CHECK(isinf(got.value) && got.value > 0);
    CHECK_STR(got.sensor, "");

    got.state = MDX_ALERT_ACKNOWLEDGED;
    got.updated_ms = T0 + 5000;
    CHECK_EQ_INT(mdx_store_alert_put(st, &got), MDX_OK);
    CHECK_EQ_INT(got.id, a.id);
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a.id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_ALERT_ACKNOWLEDGED);
    CHECK_EQ_INT(got.updated_ms, T0 + 5000);
    CHECK_EQ_INT(got.resolved_ms, 0);

    got.state = MDX_ALERT_RESOLVED;
    got.updated_ms = got.resolved_ms = T0 + 9000;
    CHECK_EQ_INT(mdx_store_alert_put(st, &got), MDX_OK);
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a.id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_ALERT_RESOLVED);
    CHECK_EQ_INT(got.resolved_ms, T0 + 9000);
    CHECK_EQ_INT(got.opened_ms, T0);

    /* Updates of an unknown alert, or of one as another tenant, find nothing. */
    got.id = 987654321;
    CHECK_EQ_INT(mdx_store_alert_put(st, &got), MDX_ENOTFOUND);
    got.id = a.id;
    snprintf(got.tenant, sizeof(got.tenant), "globex");
    got.state = MDX_ALERT_OPEN;
    CHECK_EQ_INT(mdx_store_alert_put(st, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a.id, &got), MDX_OK);
    CHECK_EQ_INT(got.state, MDX_ALERT_RESOLVED);
    /* Bad alerts are refused. */
    set_alert(&a, "acme", "bad device", "detector", "", MDX_SEVERITY_INFO, MDX_ALERT_OPEN, T0, 1);
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_EINVAL);
    set_alert(&a, "acme", "press-1", "", "", MDX_SEVERITY_INFO, MDX_ALERT_OPEN, T0, 1);
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_EINVAL);
    set_alert(&a, "acme", "press-1", "detector", "Bad", MDX_SEVERITY_INFO, MDX_ALERT_OPEN, T0, 1);
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_EINVAL);
    set_alert(&a, "acme", "press-1", "detector", "", 9, MDX_ALERT_OPEN, T0, 1);
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_EINVAL);
    set_alert(&a, "acme", "press-1", "detector", "", MDX_SEVERITY_INFO, MDX_ALERT_OPEN, T0, 1);
    snprintf(a.summary, sizeof(a.summary), "bad \xff utf-8");
    CHECK_EQ_INT(mdx_store_alert_put(st, &a), MDX_EINVAL);
    CHECK_EQ_INT(a.id, 0);
}

static void alert_get_is_scoped_to_the_tenant(enum backend be, struct mdx_store *st)
{
    struct mdx_alert a, got;

    (void)be;
    add_tenants(st);
    set_alert(&a, "globex", "mill-1", "detector", "vibration_rms", MDX_SEVERITY_WARNING,
              MDX_ALERT_OPEN, T0, 3.5);
    CHECK_EQ_INT(write_alerts(st, &a, 1), MDX_OK);
    CHECK_EQ_INT(mdx_store_alert_get(st, "globex", a.id, &got), MDX_OK);
    CHECK_EQ_INT(mdx_store_alert_get(st, NULL, a.id, &got), MDX_OK);
    CHECK_STR(got.tenant, "globex");
    CHECK_EQ_INT(mdx_store_alert_get(st, "acme", a.id, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(got.id, 0);
    CHECK_EQ_INT(mdx_store_alert_get(st, "nobody", a.id, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_alert_get(st, "globex", a.id + 1000, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_alert_get(st, "globex", 0, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_alert_get(st, "globex", -1, &got), MDX_ENOTFOUND);
}

static void alert_list_filters(enum backend be, struct mdx_store *st)
{
    /* opened_ms = T0 + i s: the newest is the last. */
    static const struct {
        const char *tenant, *device;
        int severity, state;
    } rows[] = {
        {"acme", "press-1", MDX_SEVERITY_INFO, MDX_ALERT_RESOLVED},
        {"acme", "press-1", MDX_SEVERITY_WARNING, MDX_ALERT_OPEN},
        {"acme", "press-2", MDX_SEVERITY_CRITICAL, MDX_ALERT_ACKNOWLEDGED},
        {"globex", "mill-1", MDX_SEVERITY_CRITICAL, MDX_ALERT_OPEN},
        {"acme", "press-2", MDX_SEVERITY_WARNING, MDX_ALERT_RESOLVED},
        {"acme", "press-1", MDX_SEVERITY_CRITICAL, MDX_ALERT_OPEN},
    };
    struct mdx_alert a[6];
    struct alerts as;
    struct mdx_alert_filter f = {NULL, NULL, 42, -1, 0};

    (void)be;
    add_tenants(st);
    for (int i = 0; i < 6; i++) {
        set_alert(&a[i], rows[i].tenant, rows[i].device, "detector", "current_mean",
                  rows[i].severity, rows[i].state, T0 + i * 1000, i);
    }
    CHECK_EQ_INT(write_alerts(st, a, 6), MDX_OK);

    CHECK_EQ_INT(list_alerts(st, NULL, NULL, -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 6);
    for (int i = 0; i < 6 && i < as.n; i++) {
        CHECK_EQ_INT(as.a[i].id, a[5 - i].id); /* newest first */
    }
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 5);
    CHECK_EQ_INT(list_alerts(st, "globex", NULL, -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 1);
    CHECK_EQ_INT(as.a[0].id, a[3].id);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, MDX_ALERT_OPEN, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    CHECK_EQ_INT(as.a[0].id, a[5].id);
    CHECK_EQ_INT(as.a[1].id, a[1].id);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, MDX_ALERT_ACKNOWLEDGED, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 1);
    CHECK_EQ_INT(as.a[0].id, a[2].id);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, MDX_ALERT_RESOLVED, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, MDX_ALERT_ACTIVE, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 3);
    CHECK_EQ_INT(as.a[0].id, a[5].id);
    CHECK_EQ_INT(as.a[1].id, a[2].id);
    CHECK_EQ_INT(as.a[2].id, a[1].id);
    CHECK_EQ_INT(list_alerts(st, NULL, NULL, MDX_ALERT_ACTIVE, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 4);
    CHECK_EQ_INT(list_alerts(st, "acme", "press-2", -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    CHECK_EQ_INT(as.a[0].id, a[4].id);
    CHECK_EQ_INT(list_alerts(st, "acme", "mill-1", -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 0);
    CHECK_EQ_INT(list_alerts(st, NULL, "mill-1", -1, -1, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 1);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, -1, MDX_SEVERITY_WARNING, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 4);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, -1, MDX_SEVERITY_CRITICAL, 0, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    CHECK_EQ_INT(list_alerts(st, "acme", "press-1", MDX_ALERT_ACTIVE, MDX_SEVERITY_CRITICAL, 0,
                             &as),
                 MDX_OK);
    CHECK_EQ_INT(as.n, 1);
    CHECK_EQ_INT(as.a[0].id, a[5].id);
    CHECK_EQ_INT(list_alerts(st, "acme", NULL, -1, -1, 2, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 2);
    CHECK_EQ_INT(as.a[0].id, a[5].id);
    CHECK_EQ_INT(as.a[1].id, a[4].id);
    CHECK_EQ_INT(list_alerts(st, NULL, NULL, -1, -1, 1, &as), MDX_OK);
    CHECK_EQ_INT(as.n, 1);
    CHECK_EQ_INT(as.a[0].id, a[5].id);
    /* Bad filters and an unknown tenant. */
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, collect_alert, &as), MDX_EINVAL);
    f.state = -1;
    f.severity = 3;
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, collect_alert, &as), MDX_EINVAL);
    f.severity = -1;
    f.limit = -1;
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, collect_alert, &as), MDX_EINVAL);
    CHECK_EQ_INT(list_alerts(st, "nobody", NULL, -1, -1, 0, &as), MDX_ENOTFOUND);
}

/* A callback's status stops the walk and is returned. */
static int stop_at_first(void *arg, const struct mdx_alert *a)
{
    (void)a;
    (*(int *)arg)++;
    return MDX_EFULL;
}

static int stop_rule(void *arg, const struct mdx_rule *r)
{
    (void)r;
    (*(int *)arg)++;
    return MDX_EFULL;
}

static void callbacks_stop_the_walk(enum backend be, struct mdx_store *st)
{
    struct mdx_alert a[2];
    struct mdx_alert_filter f = {NULL, NULL, -1, -1, 0};
    int n = 0;

    (void)be;
    add_tenants(st);
    set_alert(&a[0], "acme", "press-1", "detector", "", MDX_SEVERITY_INFO, 0, T0, 1);
    set_alert(&a[1], "acme", "press-1", "detector", "", MDX_SEVERITY_INFO, 0, T0 + 1, 1);
    CHECK_EQ_INT(write_alerts(st, a, 2), MDX_OK);
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, stop_at_first, &n), MDX_EFULL);
    CHECK_EQ_INT(n, 1);
    n = 0;
    CHECK_EQ_INT(mdx_store_rule_list(st, NULL, stop_rule, &n), MDX_EFULL);
    CHECK_EQ_INT(n, 1);
}

#define BOTH(fn)                                                                                   \
    static void sqlite_##fn(void)                                                                  \
    {                                                                                              \
        run_on(SQLITE, fn);                                                                        \
    }                                                                                              \
    static void pgsql_##fn(void)                                                                   \
    {                                                                                              \
        run_on(PGSQL, fn);                                                                         \
    }

BOTH(new_tenant_gets_default_rules)
static void sqlite_migration_gives_existing_tenants_default_rules(void)
{
    migration_gives_existing_tenants_default_rules(SQLITE);
}

static void pgsql_migration_gives_existing_tenants_default_rules(void)
{
    migration_gives_existing_tenants_default_rules(PGSQL);
}

BOTH(rule_put_replaces_same_scope_and_keeps_id)
BOTH(rule_delete_is_scoped_to_the_tenant)
BOTH(bad_rules_are_refused)
BOTH(device_types_are_set_listed_and_cleared)
BOTH(batch_alerts_get_ids_on_commit_and_none_on_failure)
BOTH(alert_put_acknowledges_and_resolves)
BOTH(alert_get_is_scoped_to_the_tenant)
BOTH(alert_list_filters)
BOTH(callbacks_stop_the_walk)

#define TESTS(label, fn)                                                                           \
    {"sqlite: " label, sqlite_##fn}, { "pgsql: " label, pgsql_##fn }

static const struct mdx_test tests[] = {
    TESTS("issue 4: a new tenant gets the default rules", new_tenant_gets_default_rules),
    TESTS("issue 4: the migration gives existing tenants the default rules",
          migration_gives_existing_tenants_default_rules),
    TESTS("rule put replaces the rule of the same name and scope, keeping its id",
          rule_put_replaces_same_scope_and_keeps_id),
    TESTS("rule delete: another tenant's rule id is not found",
          rule_delete_is_scoped_to_the_tenant),
    TESTS("bad rule names, sensors, scopes and numbers are refused", bad_rules_are_refused),
    TESTS("device types are set, listed and cleared", device_types_are_set_listed_and_cleared),
    TESTS("batch alerts get ids on commit; a failed batch leaves none and resets ids",
          batch_alerts_get_ids_on_commit_and_none_on_failure),
    TESTS("alert put acknowledges and resolves", alert_put_acknowledges_and_resolves),
    TESTS("alert get: another tenant's alert id is not found", alert_get_is_scoped_to_the_tenant),
    TESTS("alert list filters by tenant, state, device, severity; limit newest first",
          alert_list_filters),
    TESTS("a callback's status stops the walk", callbacks_stop_the_walk),
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
