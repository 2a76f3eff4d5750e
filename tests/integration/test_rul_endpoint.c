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
#include "support/gcp_standin.h"
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
static int64_t feed_shift_ms; /* added to every fed point's time (a later pass of the units) */

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
                set_point(&p[i], spec->inputs[i], T0 + feed_shift_ms + (int64_t)d->time[row] * 1000,
                          d->values[row * d->n_inputs + (size_t)col], 0);
            }
            mdx_rul_live_stage.on_points(r, &g, &ref);
        }
    }
}

/* rul.endpoint_credentials and rul.endpoint_token_file of the next run_live. */
static const char *creds_mode, *creds_file;

/* A live stage on a fresh store, fed the units and asked to predict; its stats into *s. */
/* Feeds the units of the training subset to 'r', laid out for the model 'base'. */
static void feed_subset(struct mdx_rul_live *r)
{
    struct mdx_rul_read_opts ro = {.format = MDX_RUL_FMT_CMAPSS};
    struct mdx_rul_dataset *d = NULL;
    struct mdx_rul_model *m;
    char why[512];
    int err;

    m = mdx_rul_model_load(base, why, sizeof(why), &err);
    CHECK(m != NULL);
    CHECK_EQ_INT(mdx_rul_dataset_read(subset, &ro, &d, why, sizeof(why)), MDX_OK);
    if (m != NULL && d != NULL) {
        feed_units(r, &mdx_rul_model_manifest(m)->spec, d);
    }
    mdx_rul_dataset_free(d);
    mdx_rul_model_free(m);
}

/* A live stage for 'conf' on 'st', its models polled and the units fed once; NULL on failure. */
static struct mdx_rul_live *live_fed(const struct mdx_rul_live_conf *conf, struct mdx_store *st)
{
    struct mdx_rul_live *r = NULL;
    int err;

    CHECK(st != NULL);
    if (st != NULL) {
        r = mdx_rul_live_create(conf, st, NULL, &err);
        CHECK(r != NULL);
    }
    if (r != NULL) {
        mdx_rul_live_poll_now(r);
        feed_subset(r);
    }
    return r;
}

static struct mdx_store *run_live(const char *name, const char *endpoint,
                                  struct mdx_rul_live_stats *s)
{
    struct mdx_rul_live_conf conf = {.enabled = 1, .row_interval_s = 1,
                                     .predict_interval_s = 3600, .threshold_cycles = 20,
                                     .max_devices = 10, .history_keep = 10, .model_poll_s = 3600,
                                     .endpoint = (char *)endpoint, .endpoint_timeout_ms = 10000,
                                     .endpoint_credentials = (char *)creds_mode,
                                     .endpoint_token_file = (char *)creds_file};
    struct mdx_store *st = live_store(name);
    struct mdx_rul_live *r = live_fed(&conf, st);

    memset(s, 0, sizeof(*s));
    if (r != NULL) {
        mdx_rul_live_predict_now(r);
        if (endpoint != NULL) { /* sent to the endpoint's thread: its answers come later */
            int got = 0;
            CHECK_WAIT((got |= mdx_rul_live_collect_now(r)) == 1, 20000);
        }
        mdx_rul_live_stats(r, s);
    }
    mdx_rul_live_destroy(r);
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

/*
 * A slow endpoint (4 s an answer) does not hold up the writer: the round
 * is sent and predict_now returns at once; a round due meanwhile waits and
 * is counted; the answers are stored once they come.
 */
static void test_slow_endpoint_does_not_block(void)
{
    struct mdx_rul_live_conf conf = {.enabled = 1, .row_interval_s = 1,
                                     .predict_interval_s = 3600, .threshold_cycles = 20,
                                     .max_devices = 10, .history_keep = 10, .model_poll_s = 3600,
                                     .endpoint_timeout_ms = 20000};
    struct mdx_store *st = live_store("slow");
    struct mdx_rul_live *r;
    struct mdx_rul_live_stats s;
    struct mdx_rul_prediction p;
    char ep[256];

    endpoint_url(ep, sizeof(ep), "slow");
    conf.endpoint = ep;
    r = live_fed(&conf, st);
    if (r != NULL) {
        int64_t t0 = mdx_mono_us();
        mdx_rul_live_predict_now(r);
        int64_t sent_ms = (mdx_mono_us() - t0) / 1000;
        CHECK(sent_ms < 2000); /* the answer takes 4 s: the round was not waited for */
        CHECK_EQ_INT(mdx_rul_live_collect_now(r), 0);
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "unit-1", &p), MDX_ENOTFOUND);
        feed_shift_ms = 1000000000; /* later rows: due again */
        feed_subset(r);
        feed_shift_ms = 0;
        mdx_rul_live_predict_now(r);
        mdx_rul_live_stats(r, &s);
        CHECK(s.endpoint_busy >= 1); /* held while the first round is out */
        int got = 0;
        CHECK_WAIT((got |= mdx_rul_live_collect_now(r)) == 1, 30000);
        mdx_rul_live_stats(r, &s);
        CHECK_EQ_INT((int)s.predictions, DEVICES);
        CHECK_EQ_INT((int)s.endpoint_errors, 0);
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "unit-1", &p), MDX_OK);
        CHECK(!isnan(p.rul));
    }
    mdx_rul_live_destroy(r);
    mdx_store_close(st);
}

/* The first prediction of unit-1 in 'st' (closes it). */
static struct mdx_rul_prediction unit1(struct mdx_store *st)
{
    struct mdx_rul_prediction p;

    memset(&p, 0, sizeof(p));
    p.rul = NAN;
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_rul_prediction_latest(st, "acme", "unit-1", &p), MDX_OK);
        mdx_store_close(st);
    }
    return p;
}

/*
 * rul.endpoint_credentials: a key in a token file (Azure ML), a Google
 * token from the metadata server (Vertex AI on GKE), a SigV4 signature
 * (SageMaker) are sent and accepted; a wrong secret is a 403;
 * a wrong key is a 401 stored as each device's reason; an unknown mode, a
 * token_file mode without its file, a file that is not there are refused
 * with the reason.
 */
static void test_endpoint_credentials(void)
{
    struct mdx_rul_live_conf bad = {.enabled = 1, .row_interval_s = 1, .predict_interval_s = 60,
                                    .max_devices = 10, .history_keep = 10, .model_poll_s = 60,
                                    .endpoint_timeout_ms = 1000};
    struct mdx_rul_live_stats s;
    struct mdx_rul_prediction p;
    struct gcp_standin g = {0};
    char ep[256], key[900], host[64];
    FILE *f;
    int err;

    endpoint_url(ep, sizeof(ep), "secured");
    snprintf(key, sizeof(key), "%s/endpoint.key", dir);
    f = fopen(key, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    fputs("s3cret-key\n", f);
    fclose(f);
    creds_mode = "token_file";
    creds_file = key;
    p = unit1(run_live("key", ep, &s));
    CHECK_EQ_INT((int)s.predictions, DEVICES);
    CHECK(!isnan(p.rul));

    f = fopen(key, "w"); /* read again for every request: a rotated, wrong key */
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("wrong-key\n", f);
        fclose(f);
    }
    p = unit1(run_live("wrong-key", ep, &s));
    CHECK_EQ_INT((int)s.predictions, 0);
    CHECK_EQ_INT((int)s.endpoint_errors, 1);
    CHECK(isnan(p.rul) && strstr(p.reason, "HTTP 401") != NULL);

    creds_file = "/nonexistent/endpoint.key";
    p = unit1(run_live("no-key-file", ep, &s));
    CHECK_EQ_INT((int)s.endpoint_errors, 1);
    CHECK(strstr(p.reason, "rul.endpoint_token_file") != NULL);
    CHECK(strstr(p.reason, "unreadable") != NULL);

    CHECK_EQ_INT(gcp_standin_start(&g, 1), 0);
    snprintf(host, sizeof(host), "127.0.0.1:%d", g.port);
    setenv("GCE_METADATA_HOST", host, 1);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    creds_mode = "gcp";
    creds_file = NULL;
    p = unit1(run_live("gcp", ep, &s));
    CHECK_EQ_INT((int)s.predictions, DEVICES);
    CHECK(!isnan(p.rul));
    CHECK(atomic_load(&g.issued) >= 1);
    unsetenv("GCE_METADATA_HOST");
    gcp_standin_stop(&g);

    /* SageMaker: SigV4 checked by AWS's own signer in the stand-in. */
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/endpoints/rul/invocations", port);
    setenv("AWS_ACCESS_KEY_ID", "AKIDMODAXTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "modax/test/secret/key/not/used/anywhere/else", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    creds_mode = "aws";
    p = unit1(run_live("aws", ep, &s));
    CHECK_EQ_INT((int)s.predictions, DEVICES);
    CHECK(!isnan(p.rul));
    setenv("AWS_SECRET_ACCESS_KEY", "a-wrong-secret", 1);
    p = unit1(run_live("aws-wrong", ep, &s));
    CHECK_EQ_INT((int)s.endpoint_errors, 1);
    CHECK(isnan(p.rul) && strstr(p.reason, "HTTP 403") != NULL);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    bad.endpoint = ep;
    bad.endpoint_credentials = "aws"; /* no region anywhere */
    CHECK(mdx_rul_live_create(&bad, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    creds_mode = NULL;

    bad.endpoint = ep;
    bad.endpoint_credentials = "kerberos";
    CHECK(mdx_rul_live_create(&bad, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    bad.endpoint_credentials = "token_file";
    CHECK(mdx_rul_live_create(&bad, NULL, NULL, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
}

static const struct mdx_test tests[] = {
    {"issue 15: train, export and serve it from a KServe v2 stand-in", test_start},
    {"issue 15: modax predict --endpoint predicts as in-process", test_same_predictions},
    {"issue 15: an endpoint down, busy or answering short is an error", test_endpoint_errors},
    {"issue 15: the live stage with rul.endpoint stores the in-process predictions",
     test_live_stage},
    {"issue 15: a slow rul.endpoint does not hold up the live stage",
     test_slow_endpoint_does_not_block},
    {"issue 15: rul.endpoint credentials: key file, Google token, SigV4; wrong ones refused",
     test_endpoint_credentials},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
