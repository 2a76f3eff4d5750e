/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_live_fleet.c - RUL from the simulator's own histories to live
 * predictions, end to end with real processes: Mosquitto, `modax serve`
 * (ingest, API, alerting and the live RUL stage) and modax-edge with short
 * machine lives (time-scaled).
 *
 *   1. A fleet runs to failure a few times; the store keeps the failure
 *      markers; `modax rul export` writes one asset per life and `modax
 *      train --format csv` learns from that file (two versions).
 *   2. register refuses a model whose feature specification the pipeline
 *      cannot produce (an input no device sends) and a file that is not
 *      XGBoost JSON, with exit code 2 and the reason.
 *   3. With a version active, a live fleet gets predictions in the store
 *      (`modax rul`) and over GET /api/v1/devices/{id}/rul and /api/v1/rul;
 *      a device with one row of history shows why it has none; an alert
 *      with source "rul" opens below the tenant's threshold; activating
 *      the other version changes model_version without restarting serve.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/clock.h"
#include "support/api.h"
#include "support/support.h"

#define TENANT "acme"

static struct api_fixture fx;
static char out[1 << 16];

static void env_set(void)
{
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    setenv("MODAX_RUL_ENABLED", "true", 1);
    setenv("MODAX_RUL_ROW_INTERVAL_S", "60", 1);
    setenv("MODAX_RUL_PREDICT_INTERVAL_S", "1", 1);
    setenv("MODAX_RUL_MODEL_POLL_S", "1", 1);
    setenv("MODAX_API_RATE_LIMIT_RPS", "100000", 1);
    setenv("MODAX_API_RATE_LIMIT_BURST", "100000", 1);
}

static void env_clear(void)
{
    unsetenv("MODAX_INGEST_AUTO_REGISTER");
    unsetenv("MODAX_RUL_ENABLED");
    unsetenv("MODAX_RUL_ROW_INTERVAL_S");
    unsetenv("MODAX_RUL_PREDICT_INTERVAL_S");
    unsetenv("MODAX_RUL_MODEL_POLL_S");
    unsetenv("MODAX_API_RATE_LIMIT_RPS");
    unsetenv("MODAX_API_RATE_LIMIT_BURST");
}

/* GET path with the viewer key; the parsed body (caller frees), NULL unless 'want' status. */
static cJSON *get_json(const char *path, long want, char *text, size_t textlen)
{
    struct http_resp r;
    char url[256];
    cJSON *j = NULL;

    if (http_call("GET", api_url(&fx, path, url, sizeof(url)), fx.viewer, NULL, &r) != 0) {
        return NULL;
    }
    if (text != NULL) {
        snprintf(text, textlen, "%s", r.body != NULL ? r.body : "");
    }
    if (r.status == want && r.body != NULL) {
        j = cJSON_Parse(r.body);
    }
    http_resp_free(&r);
    return j;
}

/* The string member 'key' of 'o', or "". */
static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "";
}

static int64_t count_lines(const char *path, const char *prefix)
{
    char line[4096];
    int64_t n = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    }
    fclose(f);
    return n;
}

/* Copies the manifest of base A to base B with 'from' replaced by 'to' everywhere. */
static int manifest_rewrite(const char *a, const char *b, const char *from, const char *to)
{
    char path[800], text[1 << 15], res[1 << 15];
    size_t n, k = 0, lf = strlen(from), lt = strlen(to);
    FILE *f;

    snprintf(path, sizeof(path), "%s.manifest.json", a);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    for (const char *p = text; *p != '\0' && k + lt + 1 < sizeof(res);) {
        if (strncmp(p, from, lf) == 0) {
            memcpy(res + k, to, lt);
            k += lt;
            p += lf;
        } else {
            res[k++] = *p++;
        }
    }
    res[k] = '\0';
    snprintf(path, sizeof(path), "%s.manifest.json", b);
    f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(res, f);
    return fclose(f);
}

static int copy_file(const char *from, const char *to)
{
    char buf[1 << 16];
    size_t n;
    FILE *in = fopen(from, "rb"), *o = fopen(to, "wb");
    int rc = in != NULL && o != NULL ? 0 : -1;

    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
        rc = fwrite(buf, 1, n, o) == n ? 0 : -1;
    }
    if (in != NULL) {
        fclose(in);
    }
    if (o != NULL && fclose(o) != 0) {
        rc = -1;
    }
    return rc;
}

struct edge_job {
    char port[16];
    char out[1 << 14];
    int rc;
};

/* The live fleet: 2 machines, a life (an hour) in about 6 real seconds, for 20 seconds. */
static void *live_fleet(void *arg)
{
    struct edge_job *j = arg;

    j->rc = edge_run(j->out, sizeof(j->out), "--port", j->port, "--tenant", TENANT, "--prefix",
                     "live-", "--machines", "2", "--rate", "0.1", "--life", "1",
                     "--time-scale", "600", "--duration", "20", "--start-ago", "30000",
                     "--seed", "11", "--batch", "10", "--quiet", "--no-commands", NULL);
    return NULL;
}

/*
 * press-1 gets one row of history: two readings a minute apart close one
 * row (sent once the live stage serves the tenant: without an active model
 * it builds no rows).
 */
static void one_row_device(void)
{
    struct pub *p = pub_connect(fx.broker.port, "rul-fleet-test");
    int64_t t0 = (mdx_now_ms() / 60000 - 10) * 60000;
    char payload[256];

    CHECK(p != NULL);
    for (int k = 0; k < 2 && p != NULL; k++) {
        snprintf(payload, sizeof(payload),
                 "{\"device_id\":\"press-1\",\"timestamp\":%" PRId64
                 ",\"sensor_data\":{\"vibration_x\":1.5,\"current_mean\":4.5}}",
                 t0 + 1000 + k * 60000);
        CHECK_EQ_INT(pub_send(p, "modax/" TENANT "/press-1/sensor_data", payload,
                              strlen(payload)), 0);
    }
    if (p != NULL) {
        CHECK_EQ_INT(pub_wait_acked(p, 10000), 0);
        pub_close(p);
    }
}

static void rul_live_fleet(void)
{
    char port[16], csv[700], base_a[600], base_b[600], bad[700], path[800], text[4096];
    char ver_a[64] = "", ver_b[64] = "";
    struct edge_job job;
    pthread_t th;
    int64_t lives = 0, rows = 0, t_start = mdx_mono_us();
    int rc, seen_a = 0, seen_b = 0, reason = 0, alert = 0, fleet = 0, sent_one_row = 0;

    env_set();
    CHECK(api_fixture_start(&fx, "rul-live-fleet", NULL) == 0);
    snprintf(port, sizeof(port), "%d", fx.broker.port);

    /* 1. Histories: 3 machines, 2400 readings each 10 s apart, lives of an hour. */
    rc = edge_run(out, sizeof(out), "--port", port, "--tenant", TENANT, "--prefix", "hist-",
                  "--machines", "3", "--rate", "0.1", "--life", "1", "--time-scale", "3600",
                  "--count", "2400", "--start-ago", "172800", "--seed", "3", "--batch", "10",
                  "--quiet", "--no-commands", NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(wait_points(fx.dir, TENANT, 3 * 2400 * 7, 60000), 3 * 2400 * 7);
    snprintf(csv, sizeof(csv), "%s/histories.csv", fx.dir);
    /* The failure markers are stored too (events): wait until the export sees them all. */
    for (int i = 0; i < 100; i++) {
        rc = modax_run(out, sizeof(out), "rul", "export", "--tenant", TENANT, "--out", csv, NULL);
        CHECK_EQ_INT(rc, 0);
        if (sscanf(out, "exported %" SCNd64 " lives (%" SCNd64 " rows", &lives, &rows) == 2 &&
            lives >= 15) {
            break;
        }
        mdx_sleep_ms(100);
    }
    /* 2400 readings of 10 s: 6.7 hours, 6 failures per machine or more (they start part-worn). */
    CHECK(lives >= 15 && lives <= 24);
    CHECK(strstr(out, "of 3 devices") != NULL);
    CHECK(strstr(out, "3 lives not run to failure") != NULL);
    CHECK_EQ_INT(count_lines(csv, "asset,ts_ms,current_max,current_mean,"), 1);
    CHECK(count_lines(csv, "hist-0002.life3,") > 20); /* a whole life: ~60 rows of a minute */
    CHECK(count_lines(csv, "hist-0002.life3,") < 75);
    CHECK_EQ_INT(count_lines(csv, "press-"), 0); /* no points: no rows */
    /* Unknown tenant: a clear error. */
    rc = modax_stderr(out, sizeof(out), "rul", "export", "--tenant", "nobody", "--out", csv, NULL);
    CHECK(rc != 0);
    CHECK(strstr(out, "no tenant 'nobody'") != NULL);
    snprintf(csv, sizeof(csv), "%s/histories.csv", fx.dir);
    rc = modax_run(out, sizeof(out), "rul", "export", "--tenant", TENANT, "--out", csv, NULL);
    CHECK_EQ_INT(rc, 0);

    /* Two versions trained on the simulator's histories. */
    snprintf(base_a, sizeof(base_a), "%s/sim-a", fx.dir);
    snprintf(base_b, sizeof(base_b), "%s/sim-b", fx.dir);
    rc = modax_run(out, sizeof(out), "train", "--data", csv, "--format", "csv", "--window",
                   "10", "--cap", "60", "--folds", "3", "--rounds", "80", "--version", "sim-a",
                   "--out", base_a, NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "RMSE") != NULL);
    rc = modax_run(out, sizeof(out), "train", "--data", csv, "--format", "csv", "--window",
                   "10", "--cap", "60", "--folds", "3", "--rounds", "80", "--seed", "2",
                   "--version", "sim-b", "--out", base_b, NULL);
    CHECK_EQ_INT(rc, 0);
    snprintf(ver_a, sizeof(ver_a), "sim-a");
    snprintf(ver_b, sizeof(ver_b), "sim-b");

    fprintf(stderr, "histories and training: %.1f s\n", (double)(mdx_mono_us() - t_start) / 1e6);
    /* 2. register refuses what the pipeline cannot serve. */
    snprintf(bad, sizeof(bad), "%s/other", fx.dir);
    snprintf(path, sizeof(path), "%s.json", base_a);
    snprintf(text, sizeof(text), "%s.json", bad);
    CHECK(copy_file(path, text) == 0);
    CHECK(manifest_rewrite(base_a, bad, "vibration_x", "vibration_q") == 0);
    CHECK(manifest_rewrite(bad, bad, "\"sim-a\"", "\"other\"") == 0);
    rc = modax_stderr(out, sizeof(out), "model", "register", text, NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "its feature specification cannot be produced by the live pipeline: "
                      "input 'vibration_q' is not a sensor any device sends") != NULL);
    snprintf(text, sizeof(text), "%s/not-xgboost.json", fx.dir);
    {
        FILE *f = fopen(text, "w");
        CHECK(f != NULL);
        fputs("{\"learner\": \"no\"}\n", f);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/not-xgboost.manifest.json", fx.dir);
    snprintf(bad, sizeof(bad), "%s.manifest.json", base_a);
    CHECK(copy_file(bad, path) == 0);
    rc = modax_stderr(out, sizeof(out), "model", "register", text, NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "is refused") != NULL);
    CHECK(strstr(out, "is not an XGBoost JSON model") != NULL);
    rc = modax_run(out, sizeof(out), "model", "list", NULL);
    CHECK(strstr(out, "other") == NULL && strstr(out, "not-xgboost") == NULL);

    /* 3. Live: version a for the tenant, alert below 30 rows. */
    snprintf(path, sizeof(path), "%s.json", base_a);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "register", path, NULL), 0);
    snprintf(path, sizeof(path), "%s.json", base_b);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "register", path, NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "activate", ver_a, "--tenant", TENANT,
                           NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "threshold", TENANT, "30", NULL), 0);

    memset(&job, 0, sizeof(job));
    snprintf(job.port, sizeof(job.port), "%d", fx.broker.port);
    CHECK(pthread_create(&th, NULL, live_fleet, &job) == 0);
    for (int i = 0; i < 600 && !(seen_a && reason && alert && fleet); i++) {
        cJSON *j = get_json("/api/v1/devices/live-0001/rul", 200, NULL, 0);

        if (j != NULL && strcmp(str_of(j, "model_version"), ver_a) == 0 &&
            cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "rul"))) {
            double v = cJSON_GetObjectItemCaseSensitive(j, "rul")->valuedouble;
            seen_a = v >= 0 && v <= 60;
        }
        cJSON_Delete(j);
        if (seen_a && !sent_one_row) {
            one_row_device();
            sent_one_row = 1;
        }
        if (sent_one_row && !reason) {
            cJSON_Delete(get_json("/api/v1/devices/press-1/rul", 404, text, sizeof(text)));
            reason = strstr(text, "needs ") != NULL && strstr(text, "(has 1 of ") != NULL;
        }
        j = get_json("/api/v1/alerts", 200, NULL, 0);
        for (const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "alerts")
                                   ? cJSON_GetObjectItemCaseSensitive(j, "alerts")->child
                                   : NULL;
             a != NULL; a = a->next) {
            alert |= strcmp(str_of(a, "source"), "rul") == 0 &&
                     strncmp(str_of(a, "device"), "live-", 5) == 0;
        }
        cJSON_Delete(j);
        j = get_json("/api/v1/rul", 200, NULL, 0);
        for (const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "devices")
                                  ? cJSON_GetObjectItemCaseSensitive(j, "devices")->child
                                  : NULL;
             d != NULL; d = d->next) {
            fleet |= strcmp(str_of(d, "device"), "live-0002") == 0 &&
                     cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(d, "rul"));
        }
        cJSON_Delete(j);
        mdx_sleep_ms(100);
    }
    fprintf(stderr, "live predictions, reason, alert: %.1f s\n",
            (double)(mdx_mono_us() - t_start) / 1e6);
    CHECK(seen_a);
    CHECK(reason);
    CHECK(alert);
    CHECK(fleet);
    /* The CLI reads the same predictions from the store. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "rul", TENANT, NULL), 0);
    CHECK(strstr(out, "live-0001") != NULL && strstr(out, ver_a) != NULL);
    CHECK(strstr(out, "press-1") != NULL && strstr(out, "needs ") != NULL);

    /* Another version, no restart: new predictions carry it. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "activate", ver_b, "--tenant", TENANT,
                           NULL), 0);
    for (int i = 0; i < 300 && !seen_b; i++) {
        cJSON *j = get_json("/api/v1/devices/live-0002/rul", 200, NULL, 0);

        seen_b = j != NULL && strcmp(str_of(j, "model_version"), ver_b) == 0;
        cJSON_Delete(j);
        mdx_sleep_ms(100);
    }
    CHECK(seen_b);
    CHECK(fx.serve.pid > 0 && kill(fx.serve.pid, 0) == 0); /* the same process */
    pthread_join(th, NULL);
    CHECK_EQ_INT(job.rc, 0);
    fprintf(stderr, "rul_live_fleet: %d lives exported, %.1f s\n", (int)lives,
            (double)(mdx_mono_us() - t_start) / 1e6);
    CHECK_EQ_INT(api_fixture_stop(&fx), 0); /* a clean exit: no sanitizer report */
    env_clear();
}

static const struct mdx_test tests[] = {
    {"rul_live_fleet", rul_live_fleet},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
