/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_rul.c - the store functions of issue 7 through the store
 * interface, on SQLite (a fresh temp file per case) and on PostgreSQL 15
 * (a fresh database per case in a throwaway cluster the test starts; a
 * missing PostgreSQL fails it): the RUL model registry, activation per
 * tenant with the platform default, thresholds, and predictions (latest
 * per device with the reason when there is none, bounded history).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store_util.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000000000LL

static struct mdx_rul_model_rec *model(const char *version, int64_t created)
{
    static struct mdx_rul_model_rec m;

    memset(&m, 0, sizeof(m));
    snprintf(m.version, sizeof(m.version), "%s", version);
    snprintf(m.path, sizeof(m.path), "/models/%s.json", version);
    snprintf(m.manifest, sizeof(m.manifest), "{\"version\":\"%s\",\"window\":30}", version);
    m.created_ms = created;
    return &m;
}

struct seen {
    int n;
    char names[8][MDX_RUL_VERSION_MAX + MDX_NAME_MAX + 2];
    double rul[8];
    char reason[8][MDX_RUL_REASON_MAX];
    int64_t ts[8];
};

static int collect_model(void *arg, const struct mdx_rul_model_rec *m)
{
    struct seen *s = arg;

    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", m->version);
    }
    s->n++;
    return MDX_OK;
}

static int collect_active(void *arg, const char *tenant, const char *version)
{
    struct seen *s = arg;

    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s=%s", tenant, version);
    }
    s->n++;
    return MDX_OK;
}

static int collect_pred(void *arg, const struct mdx_rul_prediction *p)
{
    struct seen *s = arg;

    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", p->device);
        s->rul[s->n] = p->rul;
        snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", p->reason);
        s->ts[s->n] = p->ts_ms;
    }
    s->n++;
    return MDX_OK;
}

static struct mdx_rul_prediction pred(const char *tenant, const char *device, int64_t ts,
                                      double rul, const char *version, const char *reason)
{
    struct mdx_rul_prediction p;

    memset(&p, 0, sizeof(p));
    snprintf(p.tenant, sizeof(p.tenant), "%s", tenant);
    snprintf(p.device, sizeof(p.device), "%s", device);
    p.ts_ms = ts;
    p.rul = rul;
    snprintf(p.model_version, sizeof(p.model_version), "%s", version);
    snprintf(p.reason, sizeof(p.reason), "%s", reason);
    return p;
}

/* ---- cases ---- */

static void registers_and_lists_models(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_rul_model_rec *got;
    struct seen s = {0};

    if (st == NULL) {
        return;
    }
    got = calloc(1, sizeof(*got));
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("fd001-a", T0 + 2)), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("sim-b.1", T0 + 1)), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("fd001-a", T0 + 3)), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("bad version", T0)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("x'; DROP TABLE rul_models;--", T0)),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_rul_model_get(st, "fd001-a", got), MDX_OK);
    CHECK_STR(got->version, "fd001-a");
    CHECK_STR(got->path, "/models/fd001-a.json");
    CHECK_STR(got->manifest, "{\"version\":\"fd001-a\",\"window\":30}");
    CHECK_EQ_INT(got->created_ms, T0 + 2);
    CHECK_EQ_INT(mdx_store_rul_model_get(st, "nope", got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_model_list(st, collect_model, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 2);
    CHECK_STR(s.names[0], "sim-b.1"); /* oldest first */
    CHECK_STR(s.names[1], "fd001-a");
    free(got);
    store_close_fresh(st);
}

static void activates_per_tenant_with_a_default(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    char v[MDX_RUL_VERSION_MAX];
    struct seen s = {0};

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "beta"), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("m1", T0)), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_put(st, model("m2", T0 + 1)), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "acme", v, sizeof(v)), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "", "m1", T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "acme", v, sizeof(v)), MDX_OK);
    CHECK_STR(v, "m1");
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "acme", "m2", T0), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "acme", v, sizeof(v)), MDX_OK);
    CHECK_STR(v, "m2");
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "beta", v, sizeof(v)), MDX_OK);
    CHECK_STR(v, "m1");
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "", v, sizeof(v)), MDX_OK);
    CHECK_STR(v, "m1");
    /* Switching back and forth replaces the activation. */
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "acme", "m1", T0 + 5), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "acme", v, sizeof(v)), MDX_OK);
    CHECK_STR(v, "m1");
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "acme", "m9", T0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "ghost", "m1", T0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_model_active(st, "bad name!", v, sizeof(v)), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_active_list(st, collect_active, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 2);
    CHECK_STR(s.names[0], "=m1");
    CHECK_STR(s.names[1], "acme=m1");
    store_close_fresh(st);
}

static void keeps_tenant_thresholds(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    double c = -1;

    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_threshold_get(st, "acme", &c), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "acme", 25.5), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_threshold_get(st, "acme", &c), MDX_OK);
    CHECK(c == 25.5);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "acme", 40), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_threshold_get(st, "acme", &c), MDX_OK);
    CHECK(c == 40);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "acme", -1), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "acme", INFINITY), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "ghost", 10), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_threshold_set(st, "acme", NAN), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_threshold_get(st, "acme", &c), MDX_ENOTFOUND);
    store_close_fresh(st);
}

static void keeps_latest_predictions_and_bounded_history(const struct store_backend *be)
{
    struct mdx_store *st = store_open_fresh(be);
    struct mdx_rul_prediction p[4], got;
    struct seen s = {0};

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &got), MDX_ENOTFOUND);
    CHECK(isnan(got.rul));

    /* Too little history: only the reason, no prediction. An unknown device is skipped. */
    p[0] = pred("acme", "press-1", T0, NAN, "", "needs 12 more rows");
    p[1] = pred("acme", "ghost", T0, 50, "m1", "");
    CHECK_EQ_INT(mdx_store_rul_prediction_put(st, p, 2, 3), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &got), MDX_OK);
    CHECK(isnan(got.rul));
    CHECK_STR(got.reason, "needs 12 more rows");
    CHECK_EQ_INT(got.reason_ms, T0);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "ghost", &got), MDX_ENOTFOUND);

    /* Predictions: five of press-1, the history keeps the newest three. */
    for (int i = 0; i < 5; i++) {
        p[0] = pred("acme", "press-1", T0 + 1000 * (i + 1), 100 - 10 * i, i < 3 ? "m1" : "m2", "");
        p[1] = pred("acme", "press-2", T0 + 1000 * (i + 1), 80, "m1", "");
        CHECK_EQ_INT(mdx_store_rul_prediction_put(st, p, i == 0 ? 1 : 2, 3), MDX_OK);
    }
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &got), MDX_OK);
    CHECK(got.rul == 60);
    CHECK_STR(got.model_version, "m2");
    CHECK_STR(got.reason, "");
    CHECK_EQ_INT(got.ts_ms, T0 + 5000);
    CHECK_EQ_INT(mdx_store_rul_prediction_list(st, "acme", "press-1", 0, collect_pred, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.ts[0], T0 + 5000); /* newest first */
    CHECK_EQ_INT(s.ts[2], T0 + 3000);
    CHECK(s.rul[2] == 80);

    /* A reason later (a restarted stage) keeps the prediction readable. */
    p[0] = pred("acme", "press-1", T0 + 9000, NAN, "", "needs 3 more rows");
    CHECK_EQ_INT(mdx_store_rul_prediction_put(st, p, 1, 3), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &got), MDX_OK);
    CHECK(got.rul == 60);
    CHECK_STR(got.reason, "needs 3 more rows");

    /* The tenant's latest, by device. */
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(mdx_store_rul_prediction_list(st, "acme", NULL, 0, collect_pred, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 2);
    CHECK_STR(s.names[0], "press-1");
    CHECK_STR(s.names[1], "press-2");
    CHECK(s.rul[1] == 80);
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(mdx_store_rul_prediction_list(st, "acme", NULL, 1, collect_pred, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(mdx_store_rul_prediction_list(st, "ghost", NULL, 0, collect_pred, &s),
                 MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_rul_prediction_list(st, "acme", "ghost", 0, collect_pred, &s),
                 MDX_ENOTFOUND);

    /* Bad input: infinite RUL, a prediction without a valid version, keep 0. */
    p[0] = pred("acme", "press-1", T0, INFINITY, "m1", "");
    CHECK_EQ_INT(mdx_store_rul_prediction_put(st, p, 1, 3), MDX_EINVAL);
    p[0] = pred("acme", "press-1", T0, 5, "", "");
    CHECK_EQ_INT(mdx_store_rul_prediction_put(st, p, 1, 3), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_rul_prediction_put(st, p, 0, 0), MDX_EINVAL);

    /* Deleting the device deletes its predictions. */
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "press-1"), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "press-1", &got), MDX_ENOTFOUND);
    add_tenant_device(st, "acme", "press-1");
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(mdx_store_rul_prediction_list(st, "acme", "press-1", 0, collect_pred, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 0);
    store_close_fresh(st);
}

STORE_ON_BOTH(registers_and_lists_models)
STORE_ON_BOTH(activates_per_tenant_with_a_default)
STORE_ON_BOTH(keeps_tenant_thresholds)
STORE_ON_BOTH(keeps_latest_predictions_and_bounded_history)

static const struct mdx_test tests[] = {
    STORE_CASE("store registers, gets and lists rul models", registers_and_lists_models),
    STORE_CASE("store activates rul models per tenant with a platform default",
               activates_per_tenant_with_a_default),
    STORE_CASE("store keeps per-tenant rul thresholds", keeps_tenant_thresholds),
    STORE_CASE("store keeps latest rul predictions, reasons and a bounded history",
               keeps_latest_predictions_and_bounded_history),
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
