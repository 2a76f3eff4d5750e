/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_demo_model.c - the RUL model that `make run` trains at its first
 * start (scripts/demo-rul-model.sh: the simulator's own run-to-failure
 * histories from modax-edge --histories, then `modax train`), served live:
 *
 *   1. The script trains it in seconds and prints its version; the
 *      histories are the same file for the same arguments (deterministic).
 *   2. Registered and active for the tenant, it predicts for a machine of
 *      the simulator wearing through Mosquitto and `modax serve` on a
 *      compressed clock (8 simulated hours of life, as in the demo; 3.5
 *      hours of it in 35 real seconds): the predicted remaining useful life
 *      falls about as fast as the machine's life runs out (one row a
 *      simulated minute), and stays within one life.
 *   3. modax-edge refuses what it cannot do: --lives 0, a histories file
 *      it cannot write, a fault pace of 0 or an unknown fault kind.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/clock.h"
#include "support/api.h"
#include "support/support.h"

#define TENANT "acme"
#define DEVICE "wear-0001"
#define LIFE_H "8"
#define PREDS_MAX 512

static struct api_fixture fx;
static char out[1 << 16];

static void env_set(void)
{
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    setenv("MODAX_RUL_ENABLED", "true", 1);
    setenv("MODAX_RUL_PREDICT_INTERVAL_S", "1", 1);
    setenv("MODAX_RUL_MODEL_POLL_S", "1", 1);
    setenv("MODAX_API_RATE_LIMIT_RPS", "100000", 1);
    setenv("MODAX_API_RATE_LIMIT_BURST", "100000", 1);
}

static void env_clear(void)
{
    unsetenv("MODAX_INGEST_AUTO_REGISTER");
    unsetenv("MODAX_RUL_ENABLED");
    unsetenv("MODAX_RUL_PREDICT_INTERVAL_S");
    unsetenv("MODAX_RUL_MODEL_POLL_S");
    unsetenv("MODAX_API_RATE_LIMIT_RPS");
    unsetenv("MODAX_API_RATE_LIMIT_BURST");
}

/* Runs scripts/demo-rul-model.sh BUILD DIR LIFE_H; its first output line into 'version'. */
static int demo_script(const char *dir, char *version, size_t len)
{
    const char *src = getenv("MODAX_SOURCE_DIR"), *bin = getenv("MODAX_BIN_DIR");
    char cmd[2048];
    FILE *p;
    int rc;

    snprintf(cmd, sizeof(cmd), "sh '%s/scripts/demo-rul-model.sh' '%s' '%s' %s",
             src != NULL ? src : ".", bin != NULL ? bin : "build", dir, LIFE_H);
    p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    version[0] = '\0';
    if (fgets(version, (int)len, p) != NULL) {
        version[strcspn(version, "\n")] = '\0';
    }
    rc = pclose(p);
    return rc == 0 ? 0 : -1;
}

/* Non-zero when files a and b have the same bytes. */
static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa != NULL && fb != NULL, ca, cb;

    while (same) {
        ca = fgetc(fa);
        cb = fgetc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF) {
            break;
        }
    }
    if (fa != NULL) {
        fclose(fa);
    }
    if (fb != NULL) {
        fclose(fb);
    }
    return same;
}

struct edge_job {
    char port[16];
    char out[1 << 14];
    int rc;
};

/*
 * Machine 1 of the demo's fleet (seed 1, part-worn, at least 4 hours of its
 * 8 left) at the demo's 1 reading a second, 360 times faster than real time:
 * 3.5 simulated hours in 35 s, ending about now.
 */
static void *wearing_machine(void *arg)
{
    struct edge_job *j = arg;

    j->rc = edge_run(j->out, sizeof(j->out), "--port", j->port, "--tenant", TENANT, "--prefix",
                     "wear-", "--machines", "1", "--seed", "1", "--life", LIFE_H, "--rate", "1",
                     "--time-scale", "360", "--start-ago", "12700", "--duration", "35",
                     "--batch", "20", "--quiet", "--no-commands", NULL);
    return NULL;
}

/* The latest prediction of DEVICE: 1 with *rul and *ts_ms, 0 if none yet. */
static int latest(double *rul, int64_t *ts_ms, char *version, size_t len)
{
    struct http_resp r;
    char url[256];
    cJSON *j = NULL, *v, *t, *m;
    int ok = 0;

    if (http_call("GET", api_url(&fx, "/api/v1/devices/" DEVICE "/rul", url, sizeof(url)),
                  fx.viewer, NULL, &r) != 0) {
        return 0;
    }
    if (r.status == 200 && r.body != NULL) {
        j = cJSON_Parse(r.body);
    }
    http_resp_free(&r);
    v = cJSON_GetObjectItemCaseSensitive(j, "rul");
    t = cJSON_GetObjectItemCaseSensitive(j, "ts_ms");
    m = cJSON_GetObjectItemCaseSensitive(j, "model_version");
    if (cJSON_IsNumber(v) && cJSON_IsNumber(t) && cJSON_IsString(m)) {
        *rul = v->valuedouble;
        *ts_ms = (int64_t)t->valuedouble;
        snprintf(version, len, "%s", m->valuestring);
        ok = 1;
    }
    cJSON_Delete(j);
    return ok;
}

static void demo_model_predicts_falling_rul(void)
{
    static double rul[PREDS_MAX];
    static int64_t ts[PREDS_MAX];
    char dir[700], version[128], path[1024], again[1024], seen_version[128] = "";
    struct edge_job job;
    pthread_t th;
    int n = 0, rc;
    int64_t t_start = mdx_mono_us(), t_fleet;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, slope, lo = 1e9, hi = -1e9;

    env_set();
    CHECK(api_fixture_start(&fx, "rul-demo-model", NULL) == 0);

    /* 1. The demo's model, trained as `make run` trains it. */
    snprintf(dir, sizeof(dir), "%s/rul", fx.dir);
    CHECK_EQ_INT(demo_script(dir, version, sizeof(version)), 0);
    CHECK(strcmp(version, "demo-sim-life" LIFE_H "h") == 0);
    fprintf(stderr, "trained %s in %.1f s\n", version, (double)(mdx_mono_us() - t_start) / 1e6);
    snprintf(path, sizeof(path), "%s/histories.csv", dir);
    snprintf(again, sizeof(again), "%s/histories-again.csv", fx.dir);
    rc = edge_run(out, sizeof(out), "--histories", again, "--prefix", "sim-", "--machines", "6",
                  "--seed", "1001", "--life", LIFE_H, "--lives", "3", "--quiet", NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(same_file(path, again));

    /* 2. A wearing machine through serve; the model registered once its sensors are stored. */
    memset(&job, 0, sizeof(job));
    snprintf(job.port, sizeof(job.port), "%d", fx.broker.port);
    t_fleet = mdx_mono_us();
    CHECK(pthread_create(&th, NULL, wearing_machine, &job) == 0);
    CHECK(wait_points(fx.dir, TENANT, 7 * 20, 30000) >= 7 * 20);
    snprintf(path, sizeof(path), "%s/%s.json", dir, version);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "register", path, NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "model", "activate", version, "--tenant", TENANT,
                           NULL), 0);
    /* The fleet runs 35 s; the last rows are predicted within a few seconds after. */
    while (mdx_mono_us() - t_fleet < 45 * 1000000LL && n < PREDS_MAX) {
        double v;
        int64_t t;

        if (latest(&v, &t, seen_version, sizeof(seen_version)) && (n == 0 || t > ts[n - 1])) {
            rul[n] = v;
            ts[n] = t;
            n++;
        }
        mdx_sleep_ms(100);
    }
    pthread_join(th, NULL);
    CHECK_EQ_INT(job.rc, 0);
    CHECK(strcmp(seen_version, version) == 0);

    /* Least-squares slope of the prediction (rows) over point time (minutes = rows). */
    for (int i = 0; i < n; i++) {
        double x = (double)(ts[i] - ts[0]) / 60000.0;

        sx += x;
        sy += rul[i];
        sxx += x * x;
        sxy += x * rul[i];
        lo = rul[i] < lo ? rul[i] : lo;
        hi = rul[i] > hi ? rul[i] : hi;
    }
    slope = n > 1 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0.0;
    fprintf(stderr,
            "%d predictions over %.0f simulated minutes: first %.1f, last %.1f, range %.1f..%.1f, "
            "slope %.2f rows per minute (%.1f s)\n",
            n, n > 0 ? (double)(ts[n - 1] - ts[0]) / 60000.0 : 0.0, n > 0 ? rul[0] : 0.0,
            n > 0 ? rul[n - 1] : 0.0, lo, hi, slope, (double)(mdx_mono_us() - t_start) / 1e6);
    CHECK(n >= 30);
    CHECK(n > 0 && ts[n - 1] - ts[0] >= 120 * 60000LL); /* two simulated hours or more */
    CHECK(slope < -0.5 && slope > -2.0);                  /* about one row per minute */
    CHECK(n > 0 && rul[n - 1] < rul[0] - 60);
    CHECK(lo >= 0 && hi <= 8 * 60);
    CHECK_EQ_INT(api_fixture_stop(&fx), 0); /* a clean exit: no sanitizer report */
    env_clear();
}

static void edge_refuses_bad_options(void)
{
    int rc;

    rc = edge_run(out, sizeof(out), "--histories", "/tmp/x.csv", "--lives", "0", NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "--lives '0': expected an integer from 1 to 1000") != NULL);
    rc = edge_run(out, sizeof(out), "--histories", "/nonexistent-dir/h.csv", "--machines", "1",
                  NULL);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(out, "cannot write /nonexistent-dir/h.csv") != NULL);
    rc = edge_run(out, sizeof(out), "--fault", "m-0001:bearing@60x0", "--count", "1", NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "expected a number from 0.001 to 1e+06") != NULL);
    rc = edge_run(out, sizeof(out), "--fault", "m-0001:melt@60", "--count", "1", NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "kind must be overheat, spike, bearing, dropout, estop or drag") != NULL);
}

static const struct mdx_test tests[] = {
    {"demo_model_predicts_falling_rul", demo_model_predicts_falling_rul},
    {"edge_refuses_bad_options", edge_refuses_bad_options},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
