/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_alerting.c - threshold rules, the alert lifecycle and the alerting
 * stage (issue 4), over an in-memory SQLite store: hysteresis, minimum
 * duration, precedence device > device type > tenant, reloads, one active
 * alert per key, auto-resolve on the points' clock, flap suppression,
 * safety events, silent sensors, operators' acks and resolves, bounded
 * tables, and the bad inputs of issue 4 on the detector path.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alert/alerting_int.h"
#include "check.h"
#include "modax/alerting.h"
#include "modax/clock.h"
#include "modax/detect.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"

#define T0 1767225600000LL /* 2026-01-01 */

static struct mdx_store *open_store(void)
{
    struct mdx_store_conf conf = {.backend = "sqlite", .sqlite_path = ":memory:",
                                  .busy_timeout_ms = 1000, .chunk_points = 64,
                                  .cache_series = 1000, .deadletter_max = 100};
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    CHECK(st != NULL);
    return st;
}

/* An in-memory store with tenant "acme" and its device "m-1". */
static struct mdx_store *open_acme_store(void)
{
    struct mdx_store *st = open_store();

    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "m-1", 0), MDX_OK);
    return st;
}

static struct mdx_alerting_conf default_conf(void)
{
    return (struct mdx_alerting_conf){.detect = 1, .rules = 1, .detector_threshold = 0.9,
                                      .detector_min_change = 0.02, .detector_warmup = 300,
                                      .series_max = 10000,
                                      .alerts_max = 20000, .auto_resolve_s = 300, .flap_s = 600,
                                      .stale_intervals = 30, .reload_s = 1};
}

static struct mdx_rule make_rule(const char *tenant, const char *name, const char *type,
                                 const char *device, const char *sensor, int cmp, double th,
                                 double hyst, int64_t min_ms, int severity)
{
    struct mdx_rule r;

    memset(&r, 0, sizeof(r));
    snprintf(r.tenant, sizeof(r.tenant), "%s", tenant);
    snprintf(r.name, sizeof(r.name), "%s", name);
    snprintf(r.device_type, sizeof(r.device_type), "%s", type);
    snprintf(r.device, sizeof(r.device), "%s", device);
    snprintf(r.sensor, sizeof(r.sensor), "%s", sensor);
    r.cmp = cmp;
    r.threshold = th;
    r.hysteresis = hyst;
    r.min_duration_ms = min_ms;
    r.severity = severity;
    r.enabled = 1;
    return r;
}

/* Feeds one point of one sensor of a device of type 'type', as the engine does. */
static void feed_typed(struct mdx_alerting *a, const char *tenant, const char *device,
                       const char *type, const char *sensor, int64_t ts, double v)
{
    struct mdx_point p;
    struct mdx_point_group g = {tenant, device, &p, 1};
    struct mdx_device_ref ref = {tenant, device, type};

    memset(&p, 0, sizeof(p));
    p.ts_ms = ts;
    p.value = v;
    p.sensor_len = (uint8_t)strlen(sensor);
    memcpy(p.sensor, sensor, p.sensor_len);
    mdx_alerting_stage.on_points(a, &g, &ref);
}

/* Feeds one point of one sensor of a device without a type. */
static void feed(struct mdx_alerting *a, const char *tenant, const char *device,
                 const char *sensor, int64_t ts, double v)
{
    feed_typed(a, tenant, device, "", sensor, ts, v);
}

/* Hands one event to the stage, as the engine does. */
static void send_event(struct mdx_alerting *a, const struct mdx_event_rec *er)
{
    struct mdx_device_ref ref = {er->tenant, er->device, ""};

    mdx_alerting_stage.on_event(a, er, &ref);
}

/* Commits the alerting stage's pending changes to 'st' as a batch would; returns how many. */
static size_t commit(struct mdx_alerting *a, struct mdx_store *st)
{
    struct mdx_batch b;
    struct mdx_batch_result res = {0, 0};
    size_t total = 0;

    do {
        memset(&b, 0, sizeof(b));
        mdx_alerting_stage.before_commit(a, &b);
        total += b.n_alerts;
        CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
        mdx_alerting_stage.after_commit(a);
    } while (b.n_alerts > 0);
    return total;
}

struct found {
    int n, active;
    struct mdx_alert last;
};

static int count_alert(void *arg, const struct mdx_alert *al)
{
    struct found *f = arg;

    f->n++;
    if (al->state != MDX_ALERT_RESOLVED) {
        f->active++;
    }
    f->last = *al;
    return MDX_OK;
}

static struct found alerts_of(struct mdx_store *st, const char *tenant, const char *device)
{
    struct mdx_alert_filter f = {tenant, device, -1, -1, 0};
    struct found out;

    memset(&out, 0, sizeof(out));
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, count_alert, &out), MDX_OK);
    return out;
}

/* ---- rules ---- */

static void rule_fires_after_min_duration(void)
{
    struct mdx_rule r = make_rule("t", "hot", "", "", "temp", MDX_CMP_GT, 80, 0, 60000,
                                  MDX_SEVERITY_WARNING);
    struct mdx_rule_state s;

    mdx_rule_state_init(&s);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0, 81), MDX_RULE_PENDING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 30000, 85), MDX_RULE_PENDING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 40000, 79), MDX_RULE_NORMAL); /* interrupted */
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 50000, 81), MDX_RULE_PENDING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 109000, 81), MDX_RULE_PENDING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 110000, 81), MDX_RULE_FIRE);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 111000, 81), MDX_RULE_FIRING);
}

static void rule_hysteresis_stops_flapping(void)
{
    struct mdx_rule r = make_rule("t", "hot", "", "", "temp", MDX_CMP_GT, 80, 2, 0,
                                  MDX_SEVERITY_WARNING);
    struct mdx_rule lt = make_rule("t", "low", "", "", "p", MDX_CMP_LT, 1.0, 0.5, 0,
                                   MDX_SEVERITY_WARNING);
    struct mdx_rule_state s, s2;

    mdx_rule_state_init(&s);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0, 80.5), MDX_RULE_FIRE);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 1, 79.9), MDX_RULE_FIRING); /* within hysteresis */
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 2, 78.5), MDX_RULE_FIRING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 3, 78.0), MDX_RULE_NORMAL);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 4, 79.0), MDX_RULE_NORMAL);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 5, NAN), MDX_RULE_NORMAL);
    mdx_rule_state_init(&s2);
    CHECK_EQ_INT(mdx_rule_eval(&lt, &s2, T0, 0.9), MDX_RULE_FIRE);
    CHECK_EQ_INT(mdx_rule_eval(&lt, &s2, T0 + 1, 1.4), MDX_RULE_FIRING);
    CHECK_EQ_INT(mdx_rule_eval(&lt, &s2, T0 + 2, 1.5), MDX_RULE_NORMAL);
}

static void rule_timestamps_backwards_restart_count(void)
{
    struct mdx_rule r = make_rule("t", "hot", "", "", "temp", MDX_CMP_GE, 80, 0, 10000,
                                  MDX_SEVERITY_WARNING);
    struct mdx_rule_state s;

    mdx_rule_state_init(&s);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 100000, 80), MDX_RULE_PENDING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0, 80), MDX_RULE_PENDING); /* went back 100 s */
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 9999, 80), MDX_RULE_PENDING);
    CHECK_EQ_INT(mdx_rule_eval(&r, &s, T0 + 10000, 80), MDX_RULE_FIRE);
}

static void rule_precedence_device_type_tenant(void)
{
    struct mdx_store *st = open_store();
    struct mdx_rules *rules;
    const struct mdx_rule *out[8];
    struct mdx_rule r;
    int err = 0;
    size_t n;

    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "other"), MDX_OK);
    /* Tenant-wide defaults exist (overtemperature on temperature_mean > 80). */
    r = make_rule("acme", "overtemperature", "press", "", "temperature_mean", MDX_CMP_GT, 70, 0,
                  0, MDX_SEVERITY_WARNING);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    r = make_rule("acme", "overtemperature", "", "m-2", "temperature_0", MDX_CMP_GT, 60, 0, 0,
                  MDX_SEVERITY_CRITICAL);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    r = make_rule("acme", "overcurrent", "", "m-3", "current_mean", MDX_CMP_GT, 10, 0, 0,
                  MDX_SEVERITY_WARNING);
    r.enabled = 0; /* switched off for m-3 only */
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    rules = mdx_rules_load(st, &err);
    CHECK(rules != NULL);

    /* Plain device: the tenant-wide default. */
    n = mdx_rules_for(rules, "acme", "m-1", "", "temperature_mean", out, 8);
    CHECK_EQ_INT(n, 1);
    CHECK(n == 1 && out[0]->threshold == 80.0);
    /* A press: the type's rule. */
    n = mdx_rules_for(rules, "acme", "m-1", "press", "temperature_mean", out, 8);
    CHECK(n == 1 && out[0]->threshold == 70.0);
    /* m-2, a press: its own rule, on another sensor; the type's and tenant's do not apply. */
    n = mdx_rules_for(rules, "acme", "m-2", "press", "temperature_mean", out, 8);
    CHECK_EQ_INT(n, 0);
    n = mdx_rules_for(rules, "acme", "m-2", "press", "temperature_0", out, 8);
    CHECK(n == 1 && out[0]->threshold == 60.0 && out[0]->severity == MDX_SEVERITY_CRITICAL);
    /* m-3 has overcurrent disabled; m-1 has the default. */
    CHECK_EQ_INT(mdx_rules_for(rules, "acme", "m-3", "", "current_mean", out, 8), 0);
    CHECK_EQ_INT(mdx_rules_for(rules, "acme", "m-1", "", "current_mean", out, 8), 1);
    /* Another tenant sees only its own defaults. */
    n = mdx_rules_for(rules, "other", "m-2", "press", "temperature_mean", out, 8);
    CHECK(n == 1 && out[0]->threshold == 80.0);
    CHECK_EQ_INT(mdx_rules_for(rules, "nosuch", "m-1", "", "current_mean", out, 8), 0);
    mdx_rules_free(rules);
    mdx_store_close(st);
}

/* ---- the manager ---- */

static void manager_lifecycle_one_active_per_key(void)
{
    struct mdx_alert_mgr *m = mdx_alert_mgr_create(100, 300000, 600000);
    struct mdx_alert_key k = {"t", "d", "rule:hot", "temp"};
    struct mdx_alert_key k2 = {"t", "d", "detector", "temp"};
    struct mdx_alert v[8];
    struct mdx_alert_mgr_stats s;

    CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0, 81, 0, "hot"), 1);
    CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0 + 1000, 82, 0, "hot"), 1);
    CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k2, MDX_SEVERITY_WARNING, T0, 81, 0.95, NULL), 1);
    CHECK_EQ_INT(mdx_alert_mgr_pending(m), 2);
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 8), 2);
    CHECK_EQ_INT(v[0].state, MDX_ALERT_OPEN);
    CHECK_EQ_INT(v[0].opened_ms, T0);
    CHECK_STR(v[0].source, "rule:hot");
    v[0].id = 7;
    v[1].id = 8;
    mdx_alert_mgr_stored(m, v, 2);
    CHECK_EQ_INT(mdx_alert_mgr_get(m, &k)->id, 7);

    /* Normal for less than 300 s of point time: still open; abnormal again restarts it. */
    CHECK_EQ_INT(mdx_alert_mgr_normal(m, &k, T0 + 10000), 1);
    CHECK_EQ_INT(mdx_alert_mgr_normal(m, &k, T0 + 300000), 1);
    CHECK_EQ_INT(mdx_alert_mgr_hold(m, &k, T0 + 305000), 1);
    CHECK_EQ_INT(mdx_alert_mgr_normal(m, &k, T0 + 306000), 1);
    CHECK_EQ_INT(mdx_alert_mgr_normal(m, &k, T0 + 605999), 1);
    CHECK_EQ_INT(mdx_alert_mgr_pending(m), 0);
    CHECK_EQ_INT(mdx_alert_mgr_normal(m, &k, T0 + 606000), 0);
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 8), 1);
    CHECK_EQ_INT(v[0].id, 7);
    CHECK_EQ_INT(v[0].state, MDX_ALERT_RESOLVED);
    CHECK_EQ_INT(v[0].resolved_ms, T0 + 606000);
    CHECK(!mdx_alert_mgr_active(m, &k));
    CHECK(mdx_alert_mgr_active(m, &k2));
    mdx_alert_mgr_stats(m, &s);
    CHECK_EQ_INT(s.opened, 2);
    CHECK_EQ_INT(s.resolved, 1);
    CHECK_EQ_INT(s.active, 1);
    mdx_alert_mgr_destroy(m);
}

static void manager_flap_reopens_same_alert(void)
{
    struct mdx_alert_mgr *m = mdx_alert_mgr_create(100, 0, 600000);
    struct mdx_alert_key k = {"t", "d", "rule:hot", "temp"};
    struct mdx_alert v[4];
    struct mdx_alert_mgr_stats s;

    mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0, 81, 0, "hot");
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 4), 1);
    v[0].id = 11;
    mdx_alert_mgr_stored(m, v, 1);
    CHECK_EQ_INT(mdx_alert_mgr_normal(m, &k, T0 + 1000), 0); /* auto_resolve 0: at once */
    mdx_alert_mgr_take(m, v, 4);
    /* Back within the flap window: the same alert, open again. */
    CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0 + 60000, 82, 0, "hot"), 1);
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 4), 1);
    CHECK_EQ_INT(v[0].id, 11);
    CHECK_EQ_INT(v[0].opened_ms, T0);
    CHECK_EQ_INT(v[0].state, MDX_ALERT_OPEN);
    CHECK_EQ_INT(v[0].resolved_ms, 0);
    /* Resolved, then back after the window: a new alert. */
    mdx_alert_mgr_normal(m, &k, T0 + 61000);
    mdx_alert_mgr_take(m, v, 4);
    CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0 + 700000, 83, 0, "hot"), 1);
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 4), 1);
    CHECK_EQ_INT(v[0].id, 0);
    CHECK_EQ_INT(v[0].opened_ms, T0 + 700000);
    mdx_alert_mgr_stats(m, &s);
    CHECK_EQ_INT(s.opened, 2);
    CHECK_EQ_INT(s.reopened, 1);
    mdx_alert_mgr_destroy(m);
}

static void manager_open_and_resolve_in_one_batch_is_one_change(void)
{
    struct mdx_alert_mgr *m = mdx_alert_mgr_create(100, 0, 0);
    struct mdx_alert_key k = {"t", "d", "safety:emergency_stop", ""};
    struct mdx_alert v[4];

    mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_CRITICAL, T0, 1, 0, NULL);
    mdx_alert_mgr_resolve(m, &k, T0 + 5, NULL);
    mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_CRITICAL, T0 + 10, 1, 0, NULL);
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 4), 1);
    CHECK_EQ_INT(v[0].state, MDX_ALERT_OPEN);
    CHECK_EQ_INT(v[0].id, 0);
    mdx_alert_mgr_destroy(m);
}

static void manager_table_full_counts_overflow(void)
{
    struct mdx_alert_mgr *m = mdx_alert_mgr_create(10, 0, 600000);
    struct mdx_alert v[32];
    struct mdx_alert_mgr_stats s;
    char dev[16];

    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_TEXT, 0);
    for (int i = 0; i < 20; i++) {
        struct mdx_alert_key k = {"t", dev, "detector", "x"};
        snprintf(dev, sizeof(dev), "d%d", i);
        CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0, 1, 1, NULL), i < 10);
    }
    mdx_alert_mgr_stats(m, &s);
    CHECK_EQ_INT(s.overflow, 10);
    CHECK_EQ_INT(s.tracked, 10);
    /* Resolved and stored alerts make room again. */
    for (int i = 0; i < 5; i++) {
        struct mdx_alert_key k = {"t", dev, "detector", "x"};
        snprintf(dev, sizeof(dev), "d%d", i);
        mdx_alert_mgr_resolve(m, &k, T0 + 1, NULL);
    }
    CHECK_EQ_INT(mdx_alert_mgr_take(m, v, 32), 10);
    {
        struct mdx_alert_key k = {"t", "new", "detector", "x"};
        CHECK_EQ_INT(mdx_alert_mgr_raise(m, &k, MDX_SEVERITY_WARNING, T0 + 2, 1, 1, NULL), 1);
    }
    mdx_alert_mgr_destroy(m);
}

/* ---- the stage ---- */

static void stage_rule_opens_and_auto_resolves_on_point_time(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_alerting_stats s;
    struct found f;
    int err = 0;
    int64_t ts = T0;

    conf.detect = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    CHECK(a != NULL);
    /* The default overtemperature rule: > 80. */
    for (int i = 0; i < 100; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature_mean", ts, 50.0);
    }
    CHECK_EQ_INT(commit(a, st), 0);
    feed(a, "acme", "m-1", "temperature_mean", ts, 85.0);
    ts += 1000;
    CHECK_EQ_INT(commit(a, st), 1);
    f = alerts_of(st, "acme", "m-1");
    CHECK_EQ_INT(f.n, 1);
    CHECK_STR(f.last.source, "rule:overtemperature");
    CHECK_STR(f.last.sensor, "temperature_mean");
    CHECK(f.last.id > 0);
    /* Stays bad: still one alert. Then normal for 300 s of point time: resolved. */
    for (int i = 0; i < 50; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature_mean", ts, 90.0);
    }
    for (int i = 0; i < 300; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature_mean", ts, 50.0);
    }
    CHECK_EQ_INT(commit(a, st), 0);
    feed(a, "acme", "m-1", "temperature_mean", ts, 50.0);
    CHECK_EQ_INT(commit(a, st), 1);
    f = alerts_of(st, "acme", "m-1");
    CHECK_EQ_INT(f.n, 1);
    CHECK_EQ_INT(f.active, 0);
    CHECK_EQ_INT(f.last.resolved_ms, ts);
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.opened, 1);
    CHECK_EQ_INT(s.resolved, 1);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

static void stage_rule_added_is_picked_up_by_reload(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_rule r;
    int err = 0;
    int64_t ts = T0;

    conf.detect = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    feed(a, "acme", "m-1", "pressure", ts++, 7.0);
    CHECK_EQ_INT(commit(a, st), 0);
    r = make_rule("acme", "overpressure", "", "", "pressure", MDX_CMP_GT, 6.0, 0, 0,
                  MDX_SEVERITY_CRITICAL);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    mdx_alerting_stage.tick(a); /* not due yet */
    feed(a, "acme", "m-1", "pressure", ts++, 7.0);
    CHECK_EQ_INT(commit(a, st), 0);
    mdx_sleep_ms(1100); /* past reload_s (1 s): the tick rereads rules and alerts */
    mdx_alerting_stage.tick(a);
    feed(a, "acme", "m-1", "pressure", ts++, 7.0);
    CHECK_EQ_INT(commit(a, st), 1);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-1").last.severity, MDX_SEVERITY_CRITICAL);
    /* The rule removed: its alert goes with it. */
    CHECK_EQ_INT(mdx_store_rule_delete(st, "acme", r.id), MDX_OK);
    mdx_sleep_ms(1100); /* past reload_s (1 s): the tick rereads rules and alerts */
    mdx_alerting_stage.tick(a);
    feed(a, "acme", "m-1", "pressure", ts++, 7.0);
    CHECK_EQ_INT(commit(a, st), 1);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-1").active, 0);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/* The type comes with each message (the registry's answer), not from the store. */
static void stage_device_type_rule_applies(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_rule r;
    int err = 0;

    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "m-2", 0), MDX_OK);
    r = make_rule("acme", "overtemperature", "oven", "", "temperature_mean", MDX_CMP_GT, 250, 0,
                  0, MDX_SEVERITY_WARNING);
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);
    conf.detect = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    feed(a, "acme", "m-1", "temperature_mean", T0, 120.0); /* > 80: alert */
    feed_typed(a, "acme", "m-2", "oven", "temperature_mean", T0, 120.0); /* fine below 250 */
    CHECK_EQ_INT(commit(a, st), 1);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-1").n, 1);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-2").n, 0);
    /* No longer an oven (the registry says so): the tenant's default (> 80) applies. */
    feed(a, "acme", "m-2", "temperature_mean", T0 + 1000, 120.0);
    CHECK_EQ_INT(commit(a, st), 1);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-2").active, 1);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

static void stage_safety_is_critical_at_once_and_resolves_on_clear(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_event ev;
    struct mdx_event_rec er = {"acme", "m-1", &ev, T0};
    struct found f;
    int err = 0;

    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    memset(&ev, 0, sizeof(ev));
    ev.kind = MDX_MSG_SAFETY;
    ev.ts_ms = T0;
    snprintf(ev.body, sizeof(ev.body),
             "{\"emergency_stop\":true,\"door_closed\":false,\"overload_detected\":false,"
             "\"temperature_ok\":true}");
    send_event(a, &er);
    CHECK_EQ_INT(commit(a, st), 2);
    f = alerts_of(st, "acme", "m-1");
    CHECK_EQ_INT(f.active, 2);
    CHECK_EQ_INT(f.last.severity, MDX_SEVERITY_CRITICAL);
    /* The same state again: no new alert. */
    ev.ts_ms = T0 + 1000;
    send_event(a, &er);
    CHECK_EQ_INT(commit(a, st), 0);
    /* Emergency stop released: resolved at once; the door stays open. */
    ev.ts_ms = T0 + 2000;
    snprintf(ev.body, sizeof(ev.body), "{\"emergency_stop\":false,\"door_closed\":false}");
    send_event(a, &er);
    CHECK_EQ_INT(commit(a, st), 1);
    f = alerts_of(st, "acme", "m-1");
    CHECK_EQ_INT(f.n, 2);
    CHECK_EQ_INT(f.active, 1);
    /* Status events are not safety events. */
    ev.kind = MDX_MSG_STATUS;
    snprintf(ev.body, sizeof(ev.body), "{\"door_closed\":true}");
    send_event(a, &er);
    CHECK_EQ_INT(commit(a, st), 0);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

static void stage_takes_over_operator_ack_and_resolve(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a, *b;
    struct mdx_alerting_stats s;
    struct mdx_alert al;
    struct found f;
    int err = 0;
    int64_t ts = T0;

    conf.detect = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    feed(a, "acme", "m-1", "current_mean", ts++, 12.0);
    CHECK_EQ_INT(commit(a, st), 1);
    f = alerts_of(st, "acme", "m-1");
    /* An operator acknowledges it (modax alert ack, another process). */
    al = f.last;
    al.state = MDX_ALERT_ACKNOWLEDGED;
    CHECK_EQ_INT(mdx_store_alert_put(st, &al), MDX_OK);
    mdx_sleep_ms(1100); /* past reload_s (1 s): the tick rereads rules and alerts */
    mdx_alerting_stage.tick(a);
    /* A restarted ingest takes over the active alert: no second one for the key. */
    b = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    feed(b, "acme", "m-1", "current_mean", ts++, 12.0);
    CHECK_EQ_INT(commit(b, st), 0);
    mdx_alerting_destroy(b);
    /* The operator resolves it while the current is still high: it counts again. */
    al.state = MDX_ALERT_RESOLVED;
    al.resolved_ms = ts;
    CHECK_EQ_INT(mdx_store_alert_put(st, &al), MDX_OK);
    mdx_sleep_ms(1100); /* past reload_s (1 s): the tick rereads rules and alerts */
    mdx_alerting_stage.tick(a);
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.alerts_active, 0);
    feed(a, "acme", "m-1", "current_mean", ts++, 12.0);
    feed(a, "acme", "m-1", "current_mean", ts++, 12.0);
    CHECK_EQ_INT(commit(a, st), 1); /* re-opened (within the flap window) */
    f = alerts_of(st, "acme", "m-1");
    CHECK_EQ_INT(f.n, 1);
    CHECK_EQ_INT(f.active, 1);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

static void stage_silent_sensor_raises_stale(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct found f;
    int err = 0;
    int64_t ts = T0;

    conf.stale_intervals = 10;
    conf.detect = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int i = 0; i < 100; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature_mean", ts, 40.0 + (i % 3) * 0.1);
        feed(a, "acme", "m-1", "current_mean", ts, 5.0 + (i % 2) * 0.1);
    }
    mdx_alerting_stage.tick(a);
    CHECK_EQ_INT(commit(a, st), 0);
    for (int i = 0; i < 11; i++, ts += 1000) {
        feed(a, "acme", "m-1", "current_mean", ts, 5.0 + (i % 2) * 0.1);
    }
    mdx_alerting_stage.tick(a);
    CHECK_EQ_INT(commit(a, st), 1);
    f = alerts_of(st, "acme", "m-1");
    CHECK_STR(f.last.source, "stale");
    CHECK_STR(f.last.sensor, "temperature_mean");
    /* Back: resolved after auto_resolve_s of points. */
    for (int i = 0; i <= 300; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature_mean", ts, 40.0);
        feed(a, "acme", "m-1", "current_mean", ts, 5.0);
    }
    mdx_alerting_stage.tick(a);
    CHECK_EQ_INT(commit(a, st), 1);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-1").active, 0);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/* Issue 4 bad inputs on the detector path: none of these may raise an alert. */
static void issue4_bad_inputs_raise_no_alerts(void)
{
    struct mdx_store *st = open_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_alerting_stats s;
    int err = 0;
    int64_t ts = T0;

    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    conf.rules = 0;
    conf.stale_intervals = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    /* A constant series, long: no division by zero, no storm. */
    for (int i = 0; i < 5000; i++) {
        feed(a, "acme", "const", "x", T0 + i * 1000LL, 42.0);
    }
    /* NaN and infinities (refused by validation; the detector path ignores them). */
    for (int i = 0; i < 1000; i++, ts += 1000) {
        double v = i % 10 == 3 ? NAN : (i % 10 == 5 ? INFINITY : (i % 10 == 7 ? -INFINITY : 0));
        feed(a, "acme", "nan", "x", ts, i % 10 == 3 || i % 10 == 5 || i % 10 == 7 ? v : 20.0 +
                                             (i % 2) * 0.1);
    }
    /* Gaps of hours in a noisy but normal series. */
    ts = T0;
    for (int i = 0; i < 3000; i++) {
        ts += i % 500 == 499 ? 3 * 3600 * 1000LL : 1000;
        feed(a, "acme", "gaps", "x", ts, 20.0 + ((i * 7919) % 13) * 0.05);
    }
    /* Timestamps going backwards now and then. */
    ts = T0;
    for (int i = 0; i < 3000; i++) {
        ts += i % 97 == 0 ? -60000 : 1000;
        feed(a, "acme", "back", "x", ts, 20.0 + ((i * 7919) % 13) * 0.05);
    }
    /* Sensors that appear only once. */
    for (int i = 0; i < 100; i++) {
        char sensor[16];
        snprintf(sensor, sizeof(sensor), "once_%d", i);
        feed(a, "acme", "once", sensor, T0 + i, 1e300);
    }
    mdx_alerting_stage.tick(a);
    CHECK_EQ_INT(commit(a, st), 0);
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.opened, 0);
    CHECK_EQ_INT(s.series, 104);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

static void stage_detector_alert_on_step_then_resolves(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct found f;
    int err = 0;
    int64_t ts = T0;

    conf.rules = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int i = 0; i < 2000; i++, ts += 1000) {
        feed(a, "acme", "m-1", "vibration_x", ts, 1.0 + ((i * 7919) % 11) * 0.01);
    }
    CHECK_EQ_INT(commit(a, st), 0);
    for (int i = 0; i < 5; i++, ts += 1000) {
        feed(a, "acme", "m-1", "vibration_x", ts, 3.0);
    }
    CHECK_EQ_INT(commit(a, st), 1);
    f = alerts_of(st, "acme", "m-1");
    CHECK_STR(f.last.source, "detector");
    CHECK(f.last.score >= 0.9);
    for (int i = 0; i < 1000; i++, ts += 1000) {
        feed(a, "acme", "m-1", "vibration_x", ts, 1.0 + ((i * 7919) % 11) * 0.01);
    }
    commit(a, st);
    CHECK_EQ_INT(alerts_of(st, "acme", "m-1").active, 0);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/* Deterministic noise for the ramp: xorshift64 and Box-Muller, one sd. */
static double ramp_noise(uint64_t *state)
{
    double u, v;

    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    u = (double)(*state >> 11) * (1.0 / 9007199254740992.0) + 1e-12;
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    v = (double)(*state >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/*
 * A bearing wearing: a noisy temperature that starts to climb by 0.002 sd
 * per point (6 sd after 3,000 points). The live stage, at the default
 * threshold and minimum change, must flag it, and not the flat part before.
 */
static void stage_detector_alert_on_a_slow_ramp(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct found f;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    int err = 0, first = -1;
    int64_t ts = T0;

    conf.rules = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int i = 0; i < 6000; i++, ts += 1000) {
        feed(a, "acme", "m-1", "bearing_temp", ts, 20.0 + ramp_noise(&rng));
    }
    CHECK_EQ_INT(commit(a, st), 0);
    for (int i = 0; i < 3500 && first < 0; i++, ts += 1000) {
        feed(a, "acme", "m-1", "bearing_temp", ts, 20.0 + 0.002 * i + ramp_noise(&rng));
        if (commit(a, st) > 0) {
            first = i;
        }
    }
    CHECK(first >= 0);
    f = alerts_of(st, "acme", "m-1");
    CHECK_STR(f.last.source, "detector");
    CHECK(f.last.score >= 0.9);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/*
 * A press's vibration as the fleet simulator makes it: a load that follows
 * a duty cycle of 'cycle' seconds with a lag, the sensor reading the mean of
 * ten noisy samples per second, reported to 3 decimals. The series switches
 * between two levels about 13 % apart and spends a few points between them.
 */
struct press {
    uint64_t rng;
    double t, load, cycle, duty, phase;
};

static double press_vibration(struct press *p)
{
    double sum = 0.0, buf;
    char text[32];

    for (int k = 0; k < 10; k++) {
        double target;

        p->t += 0.1;
        target = fmod(p->t + p->phase, p->cycle) < p->duty * p->cycle ? 1.0 : 0.1;
        p->load += (target - p->load) * (1.0 - exp(-0.1 / 0.8));
        sum += 0.95 * (0.85 + 0.3 * p->load) + 0.04 * ramp_noise(&p->rng);
    }
    snprintf(text, sizeof(text), "%.3f", sum / 10.0);
    sscanf(text, "%lf", &buf);
    return buf;
}

/*
 * Healthy machines raise no detector alert: five presses of different
 * cycles, five simulated hours each. The NAB detector of before took such a
 * series' rare visits to the edges of its range (a histogram bin unseen for
 * 10,000 points) for strong evidence and alerted a few times an hour.
 */
static void stage_detector_quiet_on_healthy_load_cycles(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct press press[5];
    struct found f;
    int err = 0, n;
    int64_t ts = T0;

    conf.rules = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int m = 0; m < 5; m++) {
        press[m] = (struct press){0x9E3779B97F4A7C15ULL * (uint64_t)(m + 1), 0.0, 1.0,
                                  26.0 + 2.0 * m, 0.55 + 0.03 * m, 3.0 * m};
    }
    for (int i = 0; i < 18000; i++, ts += 1000) {
        for (int m = 0; m < 5; m++) {
            char sensor[32];

            snprintf(sensor, sizeof(sensor), "vibration_%d", m);
            feed(a, "acme", "m-1", sensor, ts, press_vibration(&press[m]));
        }
    }
    n = commit(a, st);
    f = alerts_of(st, "acme", "m-1");
    if (n > 0) {
        fprintf(stderr, "  %d alerts, the last: %s on %s\n", n, f.last.source, f.last.sensor);
    }
    CHECK_EQ_INT(n, 0);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/*
 * Cooling lost: a temperature steady at 43.4 degC (noise 0.025) climbs by
 * 0.06 degC a second. The detector scores the climb in full at its first
 * tenths of a degree, below alert.detector_min_change (2 %, 0.87 degC), and
 * damps the rest of the episode; the alert opens once the value has moved
 * that far (14.5 s of the climb), not never.
 */
static void stage_detector_alert_when_an_early_anomaly_has_grown(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct found f;
    uint64_t rng = 0xD1B54A32D192ED03ULL;
    int err = 0, first = -1;
    int64_t ts = T0;

    conf.rules = 0;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int i = 0; i < 7200; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature", ts, 43.4 + 0.025 * ramp_noise(&rng));
    }
    CHECK_EQ_INT(commit(a, st), 0);
    for (int i = 1; i <= 60 && first < 0; i++, ts += 1000) {
        feed(a, "acme", "m-1", "temperature", ts, 43.4 + 0.06 * i + 0.025 * ramp_noise(&rng));
        if (commit(a, st) > 0) {
            first = i;
        }
    }
    CHECK(first >= 13 && first <= 17);
    f = alerts_of(st, "acme", "m-1");
    CHECK_STR(f.last.source, "detector");
    CHECK(f.last.score >= 0.9);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/* Issue 4: 10,000 devices alerting at once: bounded tables, counted overflow, no crash. */
static void issue4_ten_thousand_devices_alerting_at_once(void)
{
    struct mdx_store *st = open_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_sink_conf sc = {.webhook_url = "http://127.0.0.1:9/hook", .webhook_secret = "",
                               .alertmanager_url = "", .timeout_ms = 200, .queue_max = 1000,
                               .retry_max_ms = 1000, .refresh_s = 60};
    struct mdx_sink_stats ss[2];
    struct mdx_dispatch *d;
    struct mdx_alerting *a;
    struct mdx_alerting_stats s;
    struct mdx_event ev;
    struct found f;
    int err = 0;
    size_t stored;

    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    for (int i = 0; i < 10000; i++) {
        char dev[16];
        snprintf(dev, sizeof(dev), "m-%05d", i);
        CHECK_EQ_INT(mdx_store_device_add(st, "acme", dev, 0), MDX_OK);
    }
    d = mdx_dispatch_create(&sc, &err);
    CHECK(d != NULL);
    conf.alerts_max = 8000;
    a = mdx_alerting_create(&conf, st, d, NULL, NULL, &err);
    memset(&ev, 0, sizeof(ev));
    ev.kind = MDX_MSG_SAFETY;
    ev.ts_ms = T0;
    snprintf(ev.body, sizeof(ev.body), "{\"emergency_stop\":true}");
    for (int i = 0; i < 10000; i++) {
        char dev[16];
        struct mdx_event_rec er = {"acme", dev, &ev, T0};
        snprintf(dev, sizeof(dev), "m-%05d", i);
        send_event(a, &er);
    }
    stored = commit(a, st);
    CHECK_EQ_INT(stored, 8000);
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.alerts_active, 8000);
    CHECK_EQ_INT(s.alerts_overflow, 2000);
    f = alerts_of(st, "acme", NULL);
    CHECK_EQ_INT(f.active, 8000);
    CHECK_EQ_INT(mdx_dispatch_stats(d, ss, 2), 1);
    CHECK(ss[0].overflow >= 6000);   /* the webhook's queue holds 1,000 */
    CHECK(ss[0].queued <= 1000);
    mdx_alerting_destroy(a);
    mdx_dispatch_destroy(d, 0);
    mdx_store_close(st);
}

static void stage_series_table_full_is_emptied(void)
{
    struct mdx_store *st = open_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_alerting_stats s;
    int err = 0;

    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    conf.series_max = 16;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int i = 0; i < 100; i++) {
        char sensor[16];
        snprintf(sensor, sizeof(sensor), "s%d", i);
        feed(a, "acme", i % 2 ? "a" : "b", sensor, T0 + i, 1.0);
    }
    mdx_alerting_stats(a, &s);
    CHECK(s.series <= 16);
    CHECK(s.series_cleared >= 5);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/* One batch of the stage's detector states written to 'st'; returns how many it carried. */
static size_t commit_states(struct mdx_alerting *a, struct mdx_store *st)
{
    struct mdx_batch b;
    struct mdx_batch_result res = {0, 0};

    memset(&b, 0, sizeof(b));
    mdx_alerting_stage.before_commit(a, &b);
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    mdx_alerting_stage.after_commit(a);
    return b.n_detector_states;
}

/*
 * Commits whenever the stage asks (pending) until a batch carries detector
 * states, 5 s at most; returns how many it carried (pending says a state
 * may be due, the scan then finds whether one is).
 */
static size_t states_when_due(struct mdx_alerting *a, struct mdx_store *st)
{
    int64_t deadline = mdx_mono_us() + 5000000;
    size_t n = 0;

    while (n == 0 && mdx_mono_us() < deadline) {
        if (mdx_alerting_stage.pending(a)) {
            n = commit_states(a, st);
        } else {
            mdx_sleep_ms(10);
        }
    }
    return n;
}

/*
 * Issue 12 item 3: detector states go with batches when due, at most 256 a
 * batch; a handover saves every learning series at once; a new stage on
 * the same store resumes a device's series from them.
 */
static void stage_detector_states_saved_capped_handed_over_and_resumed(void)
{
    struct mdx_store *st = open_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a, *b;
    struct mdx_alerting_stats s;
    int err = 0;
    int64_t deadline;

    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    conf.detector_state_save_s = 3600;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    CHECK(a != NULL);
    for (int d = 0; d < 300; d++) {
        char dev[16];
        snprintf(dev, sizeof(dev), "d-%d", d);
        CHECK_EQ_INT(mdx_store_device_add(st, "acme", dev, 0), MDX_OK);
        for (int i = 0; i < 10; i++) {
            feed(a, "acme", dev, "temp", T0 + i * 1000, 20.0 + i % 3);
        }
    }
    /* Nothing is due within the hour: no state rides along. */
    CHECK(!mdx_alerting_stage.pending(a));
    CHECK_EQ_INT(commit_states(a, st), 0);
    /* Handing over: all 300 now, 256 at most per batch. */
    mdx_alerting_stage.handover(a);
    CHECK(mdx_alerting_stage.pending(a));
    CHECK_EQ_INT(commit_states(a, st), 256);
    CHECK(mdx_alerting_stage.pending(a));
    CHECK_EQ_INT(commit_states(a, st), 44);
    CHECK(!mdx_alerting_stage.pending(a));
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.detector_states_saved, 300);

    /* Another stage on the store resumes d-7's series; saving off, it would not read them. */
    b = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    feed(b, "acme", "d-7", "temp", T0 + 10000, 21.0);
    feed(b, "acme", "d-7", "other", T0 + 10000, 21.0);
    mdx_alerting_stats(b, &s);
    CHECK_EQ_INT(s.detector_states_loaded, 1);
    CHECK_EQ_INT(s.detector_states_refused, 0);
    mdx_alerting_destroy(b);

    /* Due by age: with a one-second period the stage asks for a batch by itself. */
    mdx_alerting_destroy(a);
    conf.detector_state_save_s = 1;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    feed(a, "acme", "d-1", "temp", T0 + 20000, 21.0);
    CHECK_EQ_INT(states_when_due(a, st), 1);
    CHECK(!mdx_alerting_stage.pending(a));
    mdx_alerting_destroy(a);

    /* A series saved early in a scan that learns again before the scan ends is saved again. */
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    for (int d = 0; d < 300; d++) {
        char dev[16];
        snprintf(dev, sizeof(dev), "d-%d", d);
        feed(a, "acme", dev, "temp", T0 + 30000, 21.0);
    }
    /* Until all 300 are due: one period after the last one learned. */
    deadline = mdx_mono_us() + 1100000;
    while (mdx_mono_us() < deadline) {
        mdx_sleep_ms(10);
    }
    CHECK(mdx_alerting_stage.pending(a));
    CHECK_EQ_INT(commit_states(a, st), 256);
    feed(a, "acme", "d-0", "temp", T0 + 31000, 21.0);
    CHECK_EQ_INT(commit_states(a, st), 44);
    CHECK_EQ_INT(states_when_due(a, st), 1);
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.detector_states_saved, 301);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

/* Saved states this build cannot read (another format, a wrong size) are counted, not used. */
static void stage_detector_state_of_wrong_format_or_size_is_refused(void)
{
    struct mdx_store *st = open_acme_store();
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_alerting *a;
    struct mdx_alerting_stats s;
    struct mdx_batch b;
    struct mdx_batch_result res;
    uint8_t good[MDX_DETECTOR_STATE_BYTES], shorter[10] = {0};
    struct mdx_detector d;
    int err = 0;

    mdx_detector_init(&d);
    mdx_detector_save(&d, good);
    {
        const struct mdx_detector_state_row rows[] = {
            {"acme", "m-1", "temp", MDX_DETECTOR_STATE_VERSION + 1, good, sizeof(good), T0, T0},
            {"acme", "m-1", "vib", MDX_DETECTOR_STATE_VERSION, shorter, sizeof(shorter), T0, T0},
        };
        memset(&b, 0, sizeof(b));
        b.detector_states = rows;
        b.n_detector_states = 2;
        CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    }
    conf.detector_state_save_s = 30;
    a = mdx_alerting_create(&conf, st, NULL, NULL, NULL, &err);
    CHECK(a != NULL);
    for (int i = 0; i < 400; i++) {
        feed(a, "acme", "m-1", "temp", T0 + i * 1000, 20.0 + (i % 5) * 0.1);
        feed(a, "acme", "m-1", "vib", T0 + i * 1000, 1.0 + (i % 3) * 0.1);
    }
    mdx_alerting_stats(a, &s);
    CHECK_EQ_INT(s.detector_states_refused, 2);
    CHECK_EQ_INT(s.detector_states_loaded, 0);
    CHECK_EQ_INT(s.points_scored, 800);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
}

static const struct mdx_test tests[] = {
    {"rule fires after min duration", rule_fires_after_min_duration},
    {"rule hysteresis stops flapping", rule_hysteresis_stops_flapping},
    {"rule timestamps backwards restart the count", rule_timestamps_backwards_restart_count},
    {"rule precedence device > type > tenant", rule_precedence_device_type_tenant},
    {"manager lifecycle, one active per key", manager_lifecycle_one_active_per_key},
    {"manager flap re-opens the same alert", manager_flap_reopens_same_alert},
    {"manager open+resolve in one batch is one change",
     manager_open_and_resolve_in_one_batch_is_one_change},
    {"manager table full counts overflow", manager_table_full_counts_overflow},
    {"stage rule opens and auto-resolves on point time",
     stage_rule_opens_and_auto_resolves_on_point_time},
    {"stage rule added is picked up by reload", stage_rule_added_is_picked_up_by_reload},
    {"stage device type rule applies", stage_device_type_rule_applies},
    {"stage safety critical at once, resolved on clear",
     stage_safety_is_critical_at_once_and_resolves_on_clear},
    {"stage takes over operator ack and resolve", stage_takes_over_operator_ack_and_resolve},
    {"stage silent sensor raises stale", stage_silent_sensor_raises_stale},
    {"stage detector alert on a step, then resolves", stage_detector_alert_on_step_then_resolves},
    {"stage detector alert on a slow ramp", stage_detector_alert_on_a_slow_ramp},
    {"stage detector quiet on healthy load cycles", stage_detector_quiet_on_healthy_load_cycles},
    {"stage detector alert when an early anomaly has grown",
     stage_detector_alert_when_an_early_anomaly_has_grown},
    {"issue 4: NaN, constant, gaps, backwards, once raise no alerts",
     issue4_bad_inputs_raise_no_alerts},
    {"issue 4: 10,000 devices alerting at once", issue4_ten_thousand_devices_alerting_at_once},
    {"stage series table full is emptied", stage_series_table_full_is_emptied},
    {"issue 12: detector states saved when due, capped, handed over, resumed",
     stage_detector_states_saved_capped_handed_over_and_resumed},
    {"issue 12: a saved state of another format or size is refused and counted",
     stage_detector_state_of_wrong_format_or_size_is_refused},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
