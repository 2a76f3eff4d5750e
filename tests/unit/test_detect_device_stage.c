/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_detect_device_stage.c - the device-level detector's stage of the
 * ingest (issue 15) with the alerting stage over an in-memory SQLite
 * store: a broken relation between two sensors raises one alert of source
 * "device" naming them, which resolves once the device is healthy again;
 * healthy devices raise none; readings form from whole messages and from
 * one point per message; the device table and the sensors per device
 * stay bounded.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/detect_device.h"
#include "modax/detect_device_stage.h"
#include "modax/status.h"
#include "modax/store.h"

#define T0 1767225600000LL /* 2026-01-01 */
#define SENSORS 6
#define ONSET 8000         /* readings (seconds) before the fault */
#define REPAIR 9000        /* the fault ends here */

static const char *const names[SENSORS] = {"current_mean", "current_b_mean", "vibration_x",
                                           "vibration_y", "vibration_z", "temperature_mean"};

static uint64_t rng_state;

static double gauss(void)
{
    double u, v;

    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    u = (double)(rng_state >> 11) * (1.0 / 9007199254740992.0) + 1e-12;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    v = (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

struct machine {
    double load, temp;
};

/* A press on a 37 s load cycle; with 'decoupled' motor 1 runs half a cycle off. */
static void reading(struct machine *m, int i, int decoupled, double *x)
{
    double target = (i % 37) < 22 ? 1.0 : 0.15, l, l1;

    m->load += 0.5 * (target - m->load);
    l = m->load;
    l1 = decoupled ? ((i + 18) % 37 < 22 ? 1.0 : 0.15) : l;
    m->temp += 0.01 * (40.0 + 10.0 * l - m->temp);
    x[0] = 2.0 + 4.0 * l + 0.15 * gauss();
    x[1] = 0.9 * (2.0 + 4.0 * l1) + 0.15 * gauss();
    x[2] = 1.0 + 0.4 * l + 0.05 * gauss();
    x[3] = 1.2 + 0.5 * l + 0.05 * gauss();
    x[4] = 0.8 + 0.1 * l + 0.05 * gauss();
    x[5] = m->temp + 0.1 * gauss();
}

static void set_point(struct mdx_point *p, const char *sensor, int64_t ts, double v)
{
    memset(p, 0, sizeof(*p));
    p->ts_ms = ts;
    p->value = v;
    p->sensor_len = (uint8_t)strlen(sensor);
    memcpy(p->sensor, sensor, p->sensor_len);
}

/* One message holding one point of 'sensor', as the engine hands it on. */
static void feed_point(struct mdx_device_stage *s, const char *device, const char *sensor,
                       int64_t ts, double v)
{
    struct mdx_point p;
    struct mdx_point_group g = {"acme", device, &p, 1};
    struct mdx_device_ref ref = {"acme", device, ""};

    set_point(&p, sensor, ts, v);
    mdx_device_stage_ops.on_points(s, &g, &ref);
}

/* One message with every sensor of the reading, as the engine hands it on. */
static void feed(struct mdx_device_stage *s, const char *device, int64_t ts, const double *x)
{
    struct mdx_point p[SENSORS];
    struct mdx_point_group g = {"acme", device, p, SENSORS};
    struct mdx_device_ref ref = {"acme", device, ""};

    for (int k = 0; k < SENSORS; k++) {
        set_point(&p[k], names[k], ts, x[k]);
    }
    mdx_device_stage_ops.on_points(s, &g, &ref);
}

static struct mdx_store *open_store(void)
{
    struct mdx_store_conf conf = {.backend = "sqlite", .sqlite_path = ":memory:",
                                  .busy_timeout_ms = 1000, .chunk_points = 64,
                                  .cache_series = 1000, .deadletter_max = 100};
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    }
    return st;
}

static struct mdx_alerting_conf default_conf(void)
{
    return (struct mdx_alerting_conf){.detect = 1, .rules = 0, .detector_threshold = 0.9,
                                      .detector_min_change = 0.02, .detector_warmup = 300,
                                      .series_max = 10000, .alerts_max = 20000,
                                      .auto_resolve_s = 300, .flap_s = 600,
                                      .stale_intervals = 30, .reload_s = 1};
}

/* Commits the alerting stage's pending changes as a batch would; returns how many. */
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
    int n, active, device_source;
    struct mdx_alert last;
};

static int count_alert(void *arg, const struct mdx_alert *al)
{
    struct found *f = arg;

    f->n++;
    f->active += al->state != MDX_ALERT_RESOLVED;
    f->device_source += strcmp(al->source, "device") == 0 && al->sensor[0] == '\0';
    f->last = *al;
    return MDX_OK;
}

static struct found alerts_of(struct mdx_store *st, const char *device)
{
    struct mdx_alert_filter f = {"acme", device, -1, -1, 0};
    struct found out;

    memset(&out, 0, sizeof(out));
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, count_alert, &out), MDX_OK);
    return out;
}

struct rig {
    struct mdx_store *st;
    struct mdx_alerting *a;
    struct mdx_device_stage *s;
};

static int rig_open(struct rig *r, const struct mdx_alerting_conf *conf)
{
    int err = 0;

    memset(r, 0, sizeof(*r));
    r->st = open_store();
    if (r->st == NULL) {
        return -1;
    }
    r->a = mdx_alerting_create(conf, r->st, NULL, NULL, NULL, &err);
    CHECK(r->a != NULL);
    r->s = r->a != NULL ? mdx_device_stage_create(conf, r->a, &err) : NULL;
    CHECK(r->s != NULL);
    return r->s != NULL ? 0 : -1;
}

static void rig_close(struct rig *r)
{
    mdx_device_stage_destroy(r->s);
    mdx_alerting_destroy(r->a);
    mdx_store_close(r->st);
}

static void issue15_broken_relation_raises_device_alert_naming_sensors(void)
{
    struct mdx_alerting_conf conf = default_conf();
    struct machine m = {0.0, 40.0};
    struct rig r;
    struct found f;
    int first = -1;

    if (rig_open(&r, &conf) != 0) {
        return;
    }
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 12000; i++) {
        double x[SENSORS];

        reading(&m, i, i >= ONSET && i < REPAIR, x);
        feed(r.s, "m-1", T0 + (int64_t)i * 1000, x);
        if (i % 100 == 99 || (i >= ONSET && i < ONSET + 200)) {
            commit(r.a, r.st);
        }
        if (i == ONSET - 1) {
            CHECK_EQ_INT(alerts_of(r.st, "m-1").n, 0);
        }
        if (first < 0 && i >= ONSET && alerts_of(r.st, "m-1").n > 0) {
            first = i - ONSET;
        }
        if (i == REPAIR - 1) {
            f = alerts_of(r.st, "m-1");
            CHECK_EQ_INT(f.n, 1);
            CHECK_EQ_INT(f.active, 1);
            CHECK_EQ_INT(f.device_source, 1);
            CHECK(f.last.score >= 0.9);
            CHECK(strstr(f.last.summary, "current_mean") != NULL);
            CHECK(strstr(f.last.summary, "current_b_mean") != NULL);
        }
    }
    commit(r.a, r.st);
    CHECK(first >= 0 && first < 100);
    /* Healthy again for far longer than alert.auto_resolve_s: resolved, not raised again. */
    f = alerts_of(r.st, "m-1");
    CHECK_EQ_INT(f.n, 1);
    CHECK_EQ_INT(f.active, 0);
    {
        struct mdx_device_stage_stats ss;
        mdx_device_stage_stats(r.s, &ss);
        CHECK_EQ_INT(ss.readings, 12000);
        CHECK_EQ_INT(ss.devices, 1);
    }
    rig_close(&r);
}

static void healthy_devices_raise_no_alert(void)
{
    struct mdx_alerting_conf conf = default_conf();
    struct rig r;
    char dev[16];

    if (rig_open(&r, &conf) != 0) {
        return;
    }
    for (int d = 0; d < 4; d++) {
        struct machine m = {0.0, 40.0};

        rng_state = 1000 + (uint64_t)d;
        snprintf(dev, sizeof(dev), "m-%d", d);
        for (int i = 0; i < 10000; i++) {
            double x[SENSORS];
            reading(&m, i, 0, x);
            feed(r.s, dev, T0 + (int64_t)i * 1000, x);
        }
        commit(r.a, r.st);
        CHECK_EQ_INT(alerts_of(r.st, dev).n, 0);
    }
    rig_close(&r);
}

/* Sensors in separate messages (one point each) make the same readings as whole messages. */
static void readings_form_from_one_point_per_message(void)
{
    struct mdx_alerting_conf conf = default_conf();
    struct machine m = {0.0, 40.0};
    struct mdx_device_stage_stats ss;
    struct rig r;

    if (rig_open(&r, &conf) != 0) {
        return;
    }
    rng_state = 3;
    for (int i = 0; i < 50; i++) {
        double x[SENSORS];

        reading(&m, i, 0, x);
        for (int k = 0; k < SENSORS; k++) {
            feed_point(r.s, "m-1", names[k], T0 + (int64_t)i * 1000, x[k]);
        }
    }
    mdx_device_stage_stats(r.s, &ss);
    /* The first message's sensors arrive one by one: its first reading is of 2 sensors. */
    CHECK(ss.readings >= 49 && ss.readings <= 51);
    rig_close(&r);
}

static void issue15_device_table_stays_bounded(void)
{
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_device_stage_stats ss;
    struct machine m = {0.0, 40.0};
    struct rig r;
    char dev[16];

    conf.series_max = 16; /* the smallest: 16 devices */
    if (rig_open(&r, &conf) != 0) {
        return;
    }
    rng_state = 5;
    for (int d = 0; d < 40; d++) {
        snprintf(dev, sizeof(dev), "m-%d", d);
        for (int i = 0; i < 3; i++) {
            double x[SENSORS];
            reading(&m, i, 0, x);
            feed(r.s, dev, T0 + (int64_t)i * 1000, x);
        }
        mdx_device_stage_stats(r.s, &ss);
        CHECK(ss.devices <= 16);
    }
    CHECK(ss.devices_cleared >= 2);
    rig_close(&r);
}

static void issue15_sensors_beyond_the_maximum_are_counted(void)
{
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_device_stage_stats ss;
    struct mdx_point p[MDX_DEVICE_SENSORS_MAX + 4];
    struct mdx_point_group g = {"acme", "wide", p, MDX_DEVICE_SENSORS_MAX + 4};
    struct mdx_device_ref ref = {"acme", "wide", ""};
    struct rig r;

    if (rig_open(&r, &conf) != 0) {
        return;
    }
    rng_state = 17;
    for (int i = 0; i < 100; i++) {
        for (int k = 0; k < MDX_DEVICE_SENSORS_MAX + 4; k++) {
            char name[16];
            snprintf(name, sizeof(name), "s%d", k);
            set_point(&p[k], name, T0 + (int64_t)i * 1000, k + gauss());
        }
        mdx_device_stage_ops.on_points(r.s, &g, &ref);
    }
    mdx_device_stage_stats(r.s, &ss);
    CHECK_EQ_INT(ss.sensors_dropped, 4 * 100);
    CHECK(ss.readings >= 99);
    /* NaN points are left out without breaking the reading. */
    set_point(&p[0], "s0", T0 + 200000, NAN);
    g.n = 1;
    mdx_device_stage_ops.on_points(r.s, &g, &ref);
    mdx_device_stage_stats(r.s, &ss);
    CHECK_EQ_INT(ss.sensors_dropped, 4 * 100);
    rig_close(&r);
}

/*
 * A device that publishes one sensor has no relation to learn: nothing is
 * scored, however long it runs (it once pushed readings into a detector that
 * was never initialised, which read out of bounds once it thought it had a model).
 */
static void one_sensor_device_is_never_scored(void)
{
    struct mdx_alerting_conf conf = default_conf();
    struct mdx_device_stage_stats ss;
    struct rig r;

    if (rig_open(&r, &conf) != 0) {
        return;
    }
    rng_state = 23;
    for (int i = 0; i < 5000; i++) {
        feed_point(r.s, "single", "current_mean", T0 + (int64_t)i * 1000,
                   2.5 + (i % 7) + gauss());
    }
    mdx_device_stage_stats(r.s, &ss);
    CHECK_EQ_INT(ss.readings, 0);
    CHECK_EQ_INT(ss.raised, 0);
    CHECK_EQ_INT(ss.devices, 1);
    rig_close(&r);
}

static const struct mdx_test tests[] = {
    {"issue 15: a broken relation raises a device alert naming its sensors",
     issue15_broken_relation_raises_device_alert_naming_sensors},
    {"healthy devices raise no alert", healthy_devices_raise_no_alert},
    {"readings form from one point per message", readings_form_from_one_point_per_message},
    {"issue 15: the device table stays bounded", issue15_device_table_stays_bounded},
    {"issue 15: sensors beyond the maximum are counted",
     issue15_sensors_beyond_the_maximum_are_counted},
    {"a device with one sensor is never scored", one_sensor_device_is_never_scored},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
