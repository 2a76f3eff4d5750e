/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_endpoint.c - issue 15, item 4: RUL predictions from a model
 * endpoint. A local stand-in for Triton on SageMaker or Azure ML
 * (tests/js/kserve-standin.mjs: KServe v2 requests answered by the ONNX
 * export through onnxruntime-web) and `modax predict --endpoint` give the
 * predictions `modax predict` computes in-process, to the printed digit;
 * an endpoint that is not there, answers 503, or answers the wrong number
 * of values is an error with the reason, never a prediction. The live
 * stage with rul.endpoint stores the predictions it stores in-process for
 * the same rows (the C-MAPSS units fed as device points), and the
 * endpoint's failure as each device's reason.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "store_util.h"
#include "modax/clock.h"
#include "modax/rul.h"
#include "modax/rul_live.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000000000LL
#define DEVICES 3 /* the first C-MAPSS units, as devices unit-1.. */

static char dir[512], subset[700], base[700], onnx[800];
static int port; /* the stand-in's */
static char out[1 << 16], local[1 << 16];
static pid_t standin = -1;

static void cleanup(void)
{
    if (standin > 0) {
        kill(standin, SIGTERM);
        waitpid(standin, NULL, 0);
    }
    tmp_remove(dir);
}

/* The stand-in's port once it listens (it writes PORT_FILE whole), else 0. */
static int read_port(const char *file)
{
    FILE *f = fopen(file, "r");
    int p = 0;

    if (f != NULL) {
        if (fscanf(f, "%d", &p) != 1) {
            p = 0;
        }
        fclose(f);
    }
    return p;
}

static void test_start(void)
{
    char script[700], portfile[800];
    int rc;

    tmp_make(dir, sizeof(dir), "rul-endpoint");
    atexit(cleanup);
    snprintf(subset, sizeof(subset), "%s/cmapss/train_FD001_units1-10.txt",
             getenv("MODAX_TEST_DATA"));
    snprintf(base, sizeof(base), "%s/m", dir);
    snprintf(onnx, sizeof(onnx), "%s/m.onnx", dir);
    rc = modax_run(out, sizeof(out), "train", "--data", subset, "--folds", "2", "--rounds", "60",
                   "--out", base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    rc = modax_run(out, sizeof(out), "model", "export", "--onnx", onnx, base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    snprintf(script, sizeof(script), "%s/tests/js/kserve-standin.mjs", getenv("MODAX_SOURCE_DIR"));
    snprintf(portfile, sizeof(portfile), "%s/standin.port", dir);
    standin = fork();
    if (standin == 0) {
        execlp("node", "node", script, onnx, portfile, (char *)NULL);
        _exit(127);
    }
    CHECK(standin > 0);
    CHECK_WAIT((port = read_port(portfile)) > 0, 30000);
}

static void endpoint_url(char *buf, size_t len, const char *model)
{
    snprintf(buf, len, "http://127.0.0.1:%d/v2/models/%s/infer", port, model);
}

static void test_same_predictions(void)
{
    char ep[256];
    int rc, lines = 0;

    rc = modax_run(local, sizeof(local), "predict", "--model", base, "--data", subset,
                   (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    endpoint_url(ep, sizeof(ep), "rul");
    rc = modax_run(out, sizeof(out), "predict", "--model", base, "--data", subset, "--endpoint",
                   ep, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK_STR(out, local);
    for (const char *p = out; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    CHECK_EQ_INT(lines, 10);
}

static void test_endpoint_errors(void)
{
    char ep[256], err[4096];
    int rc;

    /* nothing listens there */
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/v2/models/rul/infer", free_port());
    rc = modax_stderr(err, sizeof(err), "predict", "--model", base, "--data", subset,
                      "--endpoint", ep, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "modax predict: endpoint http://127.0.0.1:") != NULL);
    /* busy */
    endpoint_url(ep, sizeof(ep), "busy");
    rc = modax_stderr(err, sizeof(err), "predict", "--model", base, "--data", subset,
                      "--endpoint", ep, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "answered HTTP 503") != NULL);
    /* one value short: no prediction printed from a wrong answer */
    endpoint_url(ep, sizeof(ep), "short");
    rc = modax_run(out, sizeof(out), "predict", "--model", base, "--data", subset, "--endpoint",
                   ep, (char *)NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK_STR(out, "");
    rc = modax_stderr(err, sizeof(err), "predict", "--model", base, "--data", subset,
                      "--endpoint", ep, (char *)NULL);
    CHECK(strstr(err, "answered 9 values for 10 rows") != NULL);
}

/* A store in the test folder with the model registered and active for every tenant. */
static struct mdx_store *live_store(const char *name)
{
    struct mdx_store_conf conf = {.backend = "sqlite", .busy_timeout_ms = 1000,
                                  .chunk_points = 64, .cache_series = 1000,
                                  .deadletter_max = 100};
    struct mdx_rul_model_rec *rec = calloc(1, sizeof(*rec));
    struct mdx_store *st;
    char path[800];
    int err = 0;

    snprintf(path, sizeof(path), "%s/%s.db", dir, name);
    conf.sqlite_path = path;
    st = mdx_store_open(&conf, &err);
    CHECK(st != NULL && rec != NULL);
    if (st == NULL || rec == NULL) {
        free(rec);
        return st;
    }
    snprintf(rec->version, sizeof(rec->version), "fd001-units1-10");
    snprintf(rec->path, sizeof(rec->path), "%s.json", base);
    snprintf(rec->manifest, sizeof(rec->manifest), "{}");
    rec->created_ms = T0;
    CHECK_EQ_INT(mdx_store_rul_model_put(st, rec), MDX_OK);
    CHECK_EQ_INT(mdx_store_rul_model_activate(st, "", rec->version, T0), MDX_OK);
    for (int u = 1; u <= DEVICES; u++) {
        char dev[32];
        snprintf(dev, sizeof(dev), "unit-%d", u);
        add_tenant_device(st, "acme", dev);
    }
    free(rec);
    return st;
}

/* The units' cycles as points of the model's inputs, one row per second. */
static void feed_units(struct mdx_rul_live *r, const struct mdx_rul_spec *spec,
                       const struct mdx_rul_dataset *d)
{
    struct mdx_point p[MDX_RUL_INPUTS_MAX];

    for (size_t a = 0; a < DEVICES && a < d->n_assets; a++) {
        char dev[32];
        snprintf(dev, sizeof(dev), "unit-%zu", a + 1);
        struct mdx_point_group g = {"acme", dev, p, spec->n_inputs};
        struct mdx_device_ref ref = {"acme", dev, ""};
        for (size_t row = d->asset_start[a]; row < d->asset_start[a + 1]; row++) {
            for (size_t i = 0; i < spec->n_inputs; i++) {
                int col = mdx_rul_dataset_input(d, spec->inputs[i]);
                set_point(&p[i], spec->inputs[i], T0 + (int64_t)d->time[row] * 1000,
                          d->values[row * d->n_inputs + (size_t)col], 0);
            }
            mdx_rul_live_stage.on_points(r, &g, &ref);
        }
    }
}

/* A live stage on a fresh store, fed the units and asked to predict; its stats into *s. */
static struct mdx_store *run_live(const char *name, const char *endpoint,
                                  struct mdx_rul_live_stats *s)
{
    struct mdx_rul_live_conf conf = {.enabled = 1, .row_interval_s = 1,
                                     .predict_interval_s = 3600, .threshold_cycles = 20,
                                     .max_devices = 10, .history_keep = 10, .model_poll_s = 3600,
                                     .endpoint = (char *)endpoint, .endpoint_timeout_ms = 10000};
    struct mdx_rul_read_opts ro = {.format = MDX_RUL_FMT_CMAPSS};
    struct mdx_store *st = live_store(name);
    struct mdx_rul_dataset *d = NULL;
    struct mdx_rul_model *m;
    struct mdx_rul_live *r = NULL;
    char why[512];
    int err;

    m = mdx_rul_model_load(base, why, sizeof(why), &err);
    CHECK(m != NULL && st != NULL);
    CHECK_EQ_INT(mdx_rul_dataset_read(subset, &ro, &d, why, sizeof(why)), MDX_OK);
    if (m != NULL && st != NULL && d != NULL) {
        r = mdx_rul_live_create(&conf, st, NULL, &err);
        CHECK(r != NULL);
    }
    if (r != NULL) {
        mdx_rul_live_poll_now(r);
        feed_units(r, &mdx_rul_model_manifest(m)->spec, d);
        mdx_rul_live_predict_now(r);
        mdx_rul_live_stats(r, s);
    }
    mdx_rul_live_destroy(r);
    mdx_rul_dataset_free(d);
    mdx_rul_model_free(m);
    return st;
}

static void test_live_stage(void)
{
    struct mdx_rul_live_stats si, se, sb;
    struct mdx_store *in = run_live("in-process", NULL, &si);
    char ep[256];
    struct mdx_store *remote, *busy;

    endpoint_url(ep, sizeof(ep), "rul");
    remote = run_live("endpoint", ep, &se);
    endpoint_url(ep, sizeof(ep), "busy");
    busy = run_live("busy", ep, &sb);
    CHECK_EQ_INT((int)si.predictions, DEVICES);
    CHECK_EQ_INT((int)se.predictions, DEVICES);
    CHECK_EQ_INT((int)se.endpoint_errors, 0);
    CHECK_EQ_INT((int)sb.predictions, 0);
    CHECK_EQ_INT((int)sb.endpoint_errors, 1);
    for (int u = 1; u <= DEVICES && in != NULL && remote != NULL && busy != NULL; u++) {
        struct mdx_rul_prediction a, b, c;
        char dev[32];

        snprintf(dev, sizeof(dev), "unit-%d", u);
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(in, "acme", dev, &a), MDX_OK);
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(remote, "acme", dev, &b), MDX_OK);
        CHECK(!isnan(a.rul) && a.rul == b.rul);
        CHECK_STR(b.model_version, a.model_version);
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(busy, "acme", dev, &c), MDX_OK);
        CHECK(isnan(c.rul));
        CHECK(strstr(c.reason, "endpoint: ") == c.reason && strstr(c.reason, "HTTP 503") != NULL);
    }
    mdx_store_close(in);
    mdx_store_close(remote);
    mdx_store_close(busy);
}

static const struct mdx_test tests[] = {
    {"issue 15: train, export and serve it from a KServe v2 stand-in", test_start},
    {"issue 15: modax predict --endpoint predicts as in-process", test_same_predictions},
    {"issue 15: an endpoint down, busy or answering short is an error", test_endpoint_errors},
    {"issue 15: the live stage with rul.endpoint stores the in-process predictions",
     test_live_stage},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
