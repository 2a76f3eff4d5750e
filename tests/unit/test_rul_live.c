/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_live.c - the live RUL stage (rul_live.h) on a real SQLite store
 * and real XGBoost models: rows from points, the reason while a device has
 * too little history (no prediction, no crash), predictions in the store,
 * an alert through the alerting stage below the tenant's threshold, and a
 * newly activated model version serving without a restart.
 *
 * The models are tiny boosters trained here on a synthetic rule (RUL falls
 * as the input's level rises) and saved with rul_model_save(), the format
 * `modax train` writes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xgboost/c_api.h>

#include "check.h"
#include "store_util.h"
#include "support/support.h"
#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/log.h"
#include "modax/rul.h"
#include "modax/rul_live.h"
#include "modax/status.h"
#include "modax/store.h"
#include "rul/rul_int.h"

#define T0 1760000000000LL
#define ROW_MS 1000
#define WINDOW 5

static char dir[256];

static struct mdx_rul_spec spec(void)
{
    struct mdx_rul_spec s;

    memset(&s, 0, sizeof(s));
    s.n_inputs = 1;
    snprintf(s.inputs[0], sizeof(s.inputs[0]), "temperature_mean");
    s.window = WINDOW;
    s.stats = MDX_RUL_LEVEL | MDX_RUL_MEAN;
    s.ewma_alpha = 0.1;
    return s;
}

/*
 * Trains a booster on level = mean = x, target = scale * (100 - x), x in
 * 0..100, and saves it as dir/NAME.json with its manifest. 0 on success.
 */
static int make_model(const char *name, double scale)
{
    enum { N = 101 };
    float x[N * 2], y[N];
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    struct mdx_rul_manifest m;
    char base[512], why[256] = "";
    int rc = -1;

    for (int i = 0; i < N; i++) {
        x[i * 2] = x[i * 2 + 1] = (float)i;
        y[i] = (float)(scale * (100 - i));
    }
    if (XGDMatrixCreateFromMat(x, N, 2, NAN, &dm) != 0 || XGDMatrixSetFloatInfo(dm, "label", y, N) != 0 ||
        XGBoosterCreate(&dm, 1, &b) != 0 || XGBoosterSetParam(b, "max_depth", "4") != 0 ||
        XGBoosterSetParam(b, "eta", "0.5") != 0 || XGBoosterSetParam(b, "nthread", "1") != 0) {
        goto out;
    }
    for (int it = 0; it < 30; it++) {
        if (XGBoosterUpdateOneIter(b, it, dm) != 0) {
            goto out;
        }
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.version, sizeof(m.version), "%s", name);
    m.spec = spec();
    m.cap = 125;
    m.rounds = 30;
    snprintf(base, sizeof(base), "%s/%s", dir, name);
    rc = rul_model_save(b, &m, "test", "", base, why, sizeof(why)) == MDX_OK ? 0 : -1;
    if (rc != 0) {
        fprintf(stderr, "  save: %s\n", why);
    }
out:
    XGBoosterFree(b);
    XGDMatrixFree(dm);
    return rc;
}

static int register_model(struct mdx_store *st, const char *name)
{
    struct mdx_rul_model_rec *rec = calloc(1, sizeof(*rec));
    int rc;

    snprintf(rec->version, sizeof(rec->version), "%s", name);
    snprintf(rec->path, sizeof(rec->path), "%s/%s.json", dir, name);
    snprintf(rec->manifest, sizeof(rec->manifest), "{}");
    rec->created_ms = T0;
    rc = mdx_store_rul_model_put(st, rec);
    free(rec);
    return rc;
}

/* One message of 'device' with temperature_mean = v (and another sensor the model ignores). */
static void feed(struct mdx_rul_live *r, const char *device, int64_t ts, double v)
{
    struct mdx_point p[2];
    struct mdx_point_group g = {"acme", device, p, 2};
    struct mdx_device_ref ref = {"acme", device, ""};

    set_point(&p[0], "current_mean", ts, 5.0, 0);
    set_point(&p[1], "temperature_mean", ts, v, 0);
    mdx_rul_live_stage.on_points(r, &g, &ref);
}

static struct mdx_store *open_store(void)
{
    struct mdx_store_conf conf = {.backend = "sqlite", .sqlite_path = (char *)tmp_db_fresh(),
                                  .busy_timeout_ms = 1000, .chunk_points = 64,
                                  .cache_series = 1000, .deadletter_max = 100};
    int err = 0;

    return conf.sqlite_path != NULL ? mdx_store_open(&conf, &err) : NULL;
}

static const struct mdx_rul_live_conf live_conf = {
    .enabled = 1, .row_interval_s = 1, .predict_interval_s = 3600, .threshold_cycles = 20,
    .max_devices = 2, .history_keep = 100, .model_poll_s = 3600};

static void serves_predictions_reasons_alerts_and_swaps(void)
{
    struct mdx_alerting_conf ac = {.detect = 0, .rules = 0, .detector_threshold = 0.9,
                                   .detector_warmup = 300, .series_max = 100, .alerts_max = 100,
                                   .auto_resolve_s = 300, .flap_s = 600, .reload_s = 3600};
    struct mdx_store *st = open_store();
    struct mdx_alerting *al;
    struct mdx_rul_live *r;
    struct mdx_rul_live_stats s;
    struct mdx_rul_prediction p;
    struct mdx_batch b;
    int err;

    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    CHECK_EQ_INT(make_model("m-a", 1.0), 0);
    CHECK_EQ_INT(make_model("m-b", 0.5), 0);
    CHECK_EQ_INT(register_model(st, "m-a"), MDX_OK);
    CHECK_EQ_INT(register_model(st, "m-b"), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "", "m-a", T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "acme", 30), MDX_OK);
    al = mdx_alerting_create(&ac, st, NULL, NULL, NULL, &err);
    CHECK(al != NULL);
    r = mdx_rul_live_create(&live_conf, st, al, &err);
    CHECK(r != NULL);
    if (al == NULL || r == NULL) {
        goto out;
    }

    /* Three rows of press-1 (the third one still open): too little history. */
    for (int i = 0; i < 3; i++) {
        feed(r, "press-1", T0 + i * ROW_MS, 20.0);
    }
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK(isnan(p.rul));
    CHECK_STR(p.reason, "needs 3 more rows (has 2 of 5)");
    mdx_rul_live_stats(r, &s);
    CHECK_EQ_INT(s.waiting, 1);
    CHECK_EQ_INT(s.predictions, 0);

    /* Enough rows: a prediction near 100 - 20 = 80 (above the threshold: no alert). */
    for (int i = 3; i < 8; i++) {
        feed(r, "press-1", T0 + i * ROW_MS, 20.0);
    }
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK(p.rul > 70 && p.rul < 90);
    CHECK_STR(p.model_version, "m-a");
    CHECK_STR(p.reason, "");
    CHECK_EQ_INT(mdx_alerting_stage.pending(al), 0);

    /* Worn out: level 90 -> RUL ~10 < the tenant's 30: an alert of source "rul". */
    for (int i = 8; i < 16; i++) {
        feed(r, "press-1", T0 + i * ROW_MS, 90.0);
    }
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK(p.rul < 30);
    CHECK(mdx_alerting_stage.pending(al));
    memset(&b, 0, sizeof(b));
    mdx_alerting_stage.before_commit(al, &b);
    CHECK_EQ_INT(b.n_alerts, 1);
    if (b.n_alerts == 1) {
        CHECK_STR(b.alerts[0].source, "rul");
        CHECK_STR(b.alerts[0].device, "press-1");
        CHECK_EQ_INT(b.alerts[0].state, MDX_ALERT_OPEN);
    }

    /* A new version activated: swapped in by the poll, rows kept (same specification). */
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "acme", "m-b", T0 + 1), MDX_OK);
    mdx_rul_live_poll_now(r);
    feed(r, "press-1", T0 + 16 * ROW_MS, 20.0);
    feed(r, "press-1", T0 + 17 * ROW_MS, 20.0);
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK_STR(p.model_version, "m-b");
    mdx_rul_live_stats(r, &s);
    CHECK_EQ_INT(s.model_loads, 2);

    /* max_devices = 2: a third device is counted, not tracked. */
    feed(r, "press-2", T0, 1.0);
    feed(r, "press-3", T0, 1.0);
    mdx_rul_live_stats(r, &s);
    CHECK_EQ_INT(s.devices, 2);
    CHECK_EQ_INT(s.devices_overflow, 2);

out:
    mdx_rul_live_destroy(r);
    mdx_alerting_destroy(al);
    mdx_store_close(st);
    tmp_db_remove();
}

static void model_that_cannot_load_gives_no_prediction(void)
{
    struct mdx_store *st = open_store();
    struct mdx_rul_live *r;
    struct mdx_rul_live_stats s;
    struct mdx_rul_prediction p;
    char path[512];
    FILE *f;
    int err;

    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    snprintf(path, sizeof(path), "%s/junk.json", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("not json at all", f);
        fclose(f);
    }
    CHECK_EQ_INT(register_model(st, "junk"), MDX_OK); /* the store does not check; the CLI does */
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "", "junk", T0), MDX_OK);
    r = mdx_rul_live_create(&live_conf, st, NULL, &err);
    CHECK(r != NULL);
    if (r != NULL) {
        feed(r, "press-1", T0, 1.0);
        feed(r, "press-1", T0 + ROW_MS, 1.0);
        mdx_rul_live_predict_now(r);
        mdx_rul_live_stats(r, &s);
        CHECK_EQ_INT(s.model_errors, 1);
        CHECK_EQ_INT(s.predictions, 0);
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p),
                     MDX_ENOTFOUND); /* no rows are built without a model */
        mdx_rul_live_destroy(r);
    }
    mdx_store_close(st);
    tmp_db_remove();
}

/* A status event of press-1 saying it failed at ts_ms (as modax-edge publishes it). */
static void fail_event(struct mdx_rul_live *r, int64_t ts_ms)
{
    struct mdx_event ev;
    struct mdx_event_rec er = {"acme", "press-1", &ev, ts_ms};
    struct mdx_device_ref ref = {"acme", "press-1", ""};

    memset(&ev, 0, sizeof(ev));
    ev.kind = MDX_MSG_STATUS;
    ev.ts_ms = ts_ms;
    snprintf(ev.body, sizeof(ev.body),
             "{\"device_id\":\"press-1\",\"state\":\"failed\",\"timestamp\":%lld,"
             "\"failures\":1}", (long long)ts_ms);
    mdx_rul_live_stage.on_event(r, &er, &ref);
}

static void failure_starts_a_new_life(void)
{
    struct mdx_store *st = open_store();
    struct mdx_rul_live *r = NULL;
    struct mdx_rul_live_stats s;
    struct mdx_rul_prediction p;
    struct mdx_event ev;
    struct mdx_event_rec er = {"acme", "press-1", &ev, T0};
    struct mdx_device_ref ref = {"acme", "press-1", ""};
    int err;

    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    CHECK_EQ_INT(make_model("m-life", 1.0), 0);
    CHECK_EQ_INT(register_model(st, "m-life"), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "", "m-life", T0), MDX_OK);
    r = mdx_rul_live_create(&live_conf, st, NULL, &err);
    CHECK(r != NULL);
    if (r == NULL) {
        goto out;
    }
    for (int i = 0; i < 10; i++) {
        feed(r, "press-1", T0 + i * ROW_MS, 90.0);
    }
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK(p.rul < 30);
    /* Other status events change nothing. */
    memset(&ev, 0, sizeof(ev));
    ev.kind = MDX_MSG_STATUS;
    snprintf(ev.body, sizeof(ev.body), "{\"state\":\"online\"}");
    mdx_rul_live_stage.on_event(r, &er, &ref);
    mdx_rul_live_stats(r, &s);
    CHECK_EQ_INT(s.lives, 0);

    /* It failed inside row 9: the window starts again, row 9's late points are ignored. */
    fail_event(r, T0 + 9 * ROW_MS + 500);
    feed(r, "press-1", T0 + 9 * ROW_MS + 200, 90.0);
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK_STR(p.reason, "needs 5 more rows (has 0 of 5)");
    mdx_rul_live_stats(r, &s);
    CHECK_EQ_INT(s.lives, 1);
    CHECK_EQ_INT(s.points_old_life, 1);

    /* The new machine: a fresh history, predicted from its own rows only. */
    for (int i = 10; i < 17; i++) {
        feed(r, "press-1", T0 + i * ROW_MS, 10.0);
    }
    mdx_rul_live_predict_now(r);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &p), MDX_OK);
    CHECK(p.rul > 75);
    CHECK_STR(p.reason, "");

out:
    mdx_rul_live_destroy(r);
    mdx_store_close(st);
    tmp_db_remove();
}

static const struct mdx_test tests[] = {
    {"rul live serves predictions, reasons and alerts, and swaps models",
     serves_predictions_reasons_alerts_and_swaps},
    {"rul live gives no prediction for a model that cannot load",
     model_that_cannot_load_gives_no_prediction},
    {"rul live starts a device's history again when it failed", failure_starts_a_new_life},
    {NULL, NULL}};

int main(int argc, char **argv)
{
    int rc;

    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    snprintf(dir, sizeof(dir), "/tmp/modax-rul-live-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    rc = mdx_test_run(tests, argc, argv);
    tmp_remove(dir);
    return rc;
}
