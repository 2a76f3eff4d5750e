/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine_detector_handover.c - issue 12 item 3: a device's detector
 * baseline survives a handover between workers. Worker A (an engine with
 * its alerting stage) learns a device's series past warm-up and saves the
 * detector state with its batches; it stops. Worker B, a new engine and
 * alerting stage on the same store, sees the device for the first time
 * and gets an anomaly: it alerts at once, with exactly the score an
 * uninterrupted detector gives that point. Worker C, the same without
 * saved states (alert.detector_state_save_s 0), is still in warm-up and
 * raises nothing. On SQLite and on a real PostgreSQL.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/clock.h"
#include "modax/detect.h"
#include "modax/engine.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define LEARN 600          /* points worker A sees: past the warm-up of 300 */
#define SPIKE 4.0          /* added to the point worker B sees: scored 0.99, not saturated */

enum backend { SQLITE, PGSQL };

static int64_t t0;

/* The series: a slow wave with deterministic noise. */
static double value(int i)
{
    uint64_t r = (uint64_t)i * 0x9E3779B97F4A7C15ULL;

    r ^= r >> 29;
    return 50.0 + 5.0 * sin((double)i / 40.0) + (double)(r % 1000) / 1000.0 - 0.5;
}

static struct mdx_store *store_open(enum backend be, const char *dir)
{
    static char db[300], url[256];
    struct mdx_store_conf sc;
    int err = 0;

    memset(&sc, 0, sizeof(sc));
    if (be == SQLITE) {
        snprintf(db, sizeof(db), "%s/modax.db", dir);
        sc = (struct mdx_store_conf){.backend = "sqlite", .sqlite_path = db,
                                     .busy_timeout_ms = 2000, .chunk_points = 64,
                                     .cache_series = 1000, .deadletter_max = 1000};
    } else {
        struct pg_cluster *cl = pg_shared();
        char name[64];

        if (cl == NULL) {
            fprintf(stderr, "  no PostgreSQL cluster\n");
            return NULL;
        }
        snprintf(name, sizeof(name), "handover%lld", (long long)(mdx_mono_us() % 1000000));
        if (pg_cluster_create_db(cl, name) != 0) {
            return NULL;
        }
        pg_cluster_url(cl, name, url, sizeof(url));
        pg_store_conf(&sc, cl, url);
    }
    return mdx_store_open(&sc, &err);
}

/* One worker: an engine and its alerting stage over 'st'. */
struct worker {
    struct mdx_engine *e;
    struct mdx_alerting *a;
    int submitted;
};

static void worker_start(struct worker *w, struct mdx_store *st, const char *dir, const char *name,
                         int64_t save_s)
{
    static char spool[300];
    struct mdx_engine_conf ec;
    struct mdx_alerting_conf ac = {.detect = 1, .rules = 0, .detector_threshold = 0.9,
                                   .detector_min_change = 0.02, .detector_warmup = 300,
                                   .series_max = 1000, .alerts_max = 1000,
                                   .auto_resolve_s = 300, .flap_s = 600, .stale_intervals = 0,
                                   .reload_s = 5, .detector_state_save_s = save_s};
    int err = 0;

    snprintf(spool, sizeof(spool), "%s/spool-%s", dir, name);
    ec = (struct mdx_engine_conf){.spool_dir = spool, .spool_max_mb = 64, .spool_segment_mb = 4,
                                  .spool_fsync_ms = -1, .max_payload_bytes = 262144,
                                  .max_points_per_msg = 4096, .batch_msgs = 100, .batch_ms = 20,
                                  .auto_register = 1, .registry_cache = 1000,
                                  .retry_max_ms = 100, .stats_interval_s = 0,
                                  .worker = (char *)name};
    memset(w, 0, sizeof(*w));
    w->e = mdx_engine_create(&ec, st, &err);
    w->a = mdx_alerting_create(&ac, st, NULL, NULL, NULL, &err);
    CHECK(w->e != NULL && w->a != NULL);
    CHECK_EQ_INT(mdx_engine_add_stage(w->e, &mdx_alerting_stage, w->a), MDX_OK);
    CHECK_EQ_INT(mdx_engine_start(w->e), MDX_OK);
}

static void submit(struct worker *w, int i, double x)
{
    char payload[160];

    snprintf(payload, sizeof(payload), "{\"timestamp\":%lld,\"sensor_data\":{\"temperature\":%.17g}}",
             (long long)(t0 + (int64_t)i * 1000), x);
    CHECK_EQ_INT(mdx_engine_submit(w->e, "modax/acme/m1/sensor_data", payload, strlen(payload),
                                   mdx_now_ms()),
                 MDX_OK);
    w->submitted++;
}

static void wait_stored(struct worker *w)
{
    struct mdx_engine_stats es;
    int64_t deadline = mdx_mono_us() + 20000000;

    do {
        mdx_engine_stats(w->e, &es);
        if (es.msgs_stored >= (uint64_t)w->submitted) {
            break;
        }
        mdx_sleep_ms(5);
    } while (mdx_mono_us() < deadline);
    CHECK_EQ_INT(es.msgs_stored, w->submitted);
}

static void worker_stop(struct worker *w, struct mdx_alerting_stats *out)
{
    mdx_engine_stop(w->e, 5000);
    mdx_alerting_stats(w->a, out);
    mdx_engine_destroy(w->e);
    mdx_alerting_destroy(w->a);
}

/* The saved state of m1/temperature, loaded; its n, or -1 if none (or unreadable). */
static int saved_n(void *arg, const struct mdx_detector_state_row *r)
{
    struct mdx_detector d;

    if (strcmp(r->sensor, "temperature") == 0 && mdx_detector_load(&d, r->state, r->len) == MDX_OK) {
        *(int64_t *)arg = d.n;
    }
    return MDX_OK;
}

static int64_t stored_state_points(struct mdx_store *st)
{
    int64_t n = -1;

    CHECK_EQ_INT(mdx_store_detector_state_list(st, "acme", "m1", saved_n, &n), MDX_OK);
    return n;
}

struct found {
    int n;
    double score;
    int64_t opened_ms;
};

static int detector_alert(void *arg, const struct mdx_alert *al)
{
    struct found *f = arg;

    if (strcmp(al->source, "detector") == 0 && strcmp(al->sensor, "temperature") == 0) {
        f->n++;
        f->score = al->score;
        f->opened_ms = al->opened_ms;
    }
    return MDX_OK;
}

static void handover_keeps_the_baseline(enum backend be)
{
    char dir[256];
    struct mdx_store *st;
    struct worker w;
    struct mdx_alerting_stats as;
    struct mdx_detector ref;
    struct mdx_alert_filter f = {"acme", "m1", -1, -1, 0};
    struct found found = {0, 0.0, 0};
    double ref_score;

    t0 = mdx_now_ms() - 3600000;
    tmp_make(dir, sizeof(dir), "detector-handover");
    st = store_open(be, dir);
    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);

    /* The uninterrupted detector: all the points, then the anomaly. */
    mdx_detector_init(&ref);
    for (int i = 0; i < LEARN; i++) {
        mdx_detector_push(&ref, t0 + (int64_t)i * 1000, value(i));
    }
    ref_score = mdx_detector_push(&ref, t0 + (int64_t)LEARN * 1000, value(LEARN) + SPIKE);
    if ((double)ref.peak > ref_score) {
        ref_score = ref.peak;
    }
    CHECK(ref_score >= 0.9 && ref_score < 1.0);

    /*
     * Worker A learns, then stops. Its save period is an hour: what it saves,
     * it saves because it stops (the engine's handover at a stop), and all of
     * what it learned.
     */
    worker_start(&w, st, dir, "worker-a", 3600);
    for (int i = 0; i < LEARN; i++) {
        submit(&w, i, value(i));
    }
    wait_stored(&w);
    CHECK_EQ_INT(stored_state_points(st), -1);
    worker_stop(&w, &as);
    CHECK_EQ_INT(stored_state_points(st), LEARN);
    CHECK_EQ_INT(as.detector_states_saved, 1);
    CHECK_EQ_INT(as.opened, 0);

    /* Worker C never saves nor loads: the same anomaly finds it in warm-up. */
    worker_start(&w, st, dir, "worker-c", 0);
    submit(&w, LEARN, value(LEARN) + SPIKE);
    wait_stored(&w);
    worker_stop(&w, &as);
    CHECK_EQ_INT(as.detector_states_loaded, 0);
    CHECK_EQ_INT(as.opened, 0);

    /* Worker B takes the device over and alerts at once, with A's score. */
    worker_start(&w, st, dir, "worker-b", 1);
    submit(&w, LEARN, value(LEARN) + SPIKE);
    wait_stored(&w);
    worker_stop(&w, &as);
    CHECK_EQ_INT(as.detector_states_loaded, 1);
    CHECK_EQ_INT(as.detector_states_refused, 0);
    CHECK_EQ_INT(as.opened, 1);
    CHECK_EQ_INT(mdx_store_alert_list(st, &f, detector_alert, &found), MDX_OK);
    CHECK_EQ_INT(found.n, 1);
    CHECK(found.score == ref_score);
    CHECK_EQ_INT(found.opened_ms, t0 + (int64_t)LEARN * 1000);
    fprintf(stderr, "  after the handover: score %.6f, uninterrupted detector %.6f\n", found.score,
            ref_score);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void sqlite_handover(void)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    handover_keeps_the_baseline(SQLITE);
}

static void pgsql_handover(void)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    handover_keeps_the_baseline(PGSQL);
}

static const struct mdx_test tests[] = {
    {"sqlite: the worker taking a device over scores at once, as the first would have",
     sqlite_handover},
    {"pgsql: the worker taking a device over scores at once, as the first would have",
     pgsql_handover},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
