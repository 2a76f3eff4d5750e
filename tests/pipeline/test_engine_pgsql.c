/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine_pgsql.c - the ingest engine in-process over a real
 * PostgreSQL 15 (started by the test) through its outages (issue 3):
 * down at start (the engine starts, spools, and ingests once it is up),
 * restarted mid-stream, and down at a restart with a spool and a stored
 * checkpoint. Every point is stored once; dead letters are not repeated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/engine.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define TOPIC "modax/acme/press-1/sensor_data"

static struct pg_cluster cl;
static int cl_ok = -1;
static int db_seq;

static void cluster_cleanup(void)
{
    pg_cluster_destroy(&cl);
}

struct rig {
    char dir[256];
    char spool[300];
    char url[256];
    struct mdx_store_conf sconf;
    struct mdx_engine_conf econf;
    struct mdx_store *store;
    struct mdx_engine *engine;
};

static int rig_init(struct rig *r, const char *name)
{
    char db[32];
    int err = 0;

    memset(r, 0, sizeof(*r));
    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_TEXT, 0);
    if (cl_ok < 0) {
        cl_ok = pg_cluster_init(&cl, 0) == 0;
        atexit(cluster_cleanup);
    }
    snprintf(db, sizeof(db), "e%d", ++db_seq);
    if (!cl_ok || (!cl.running && pg_cluster_start(&cl) != 0) ||
        pg_cluster_create_db(&cl, db) != 0) {
        return -1;
    }
    tmp_make(r->dir, sizeof(r->dir), name);
    snprintf(r->spool, sizeof(r->spool), "%s/spool", r->dir);
    pg_cluster_url(&cl, db, r->url, sizeof(r->url));
    pg_store_conf(&r->sconf, &cl, r->url);
    r->econf = (struct mdx_engine_conf){.spool_dir = r->spool, .spool_max_mb = 64,
                                        .spool_segment_mb = 1, .spool_fsync_ms = -1,
                                        .max_payload_bytes = 262144, .max_points_per_msg = 4096,
                                        .batch_msgs = 50, .batch_ms = 10, .auto_register = 0,
                                        .registry_cache = 100, .retry_max_ms = 100,
                                        .stats_interval_s = 0, .worker = "test-worker"};
    r->store = mdx_store_open(&r->sconf, &err);
    if (r->store == NULL || mdx_store_tenant_add(r->store, "acme") != MDX_OK ||
        mdx_store_device_add(r->store, "acme", "press-1", 0) != MDX_OK) {
        return -1;
    }
    return 0;
}

static int rig_start_engine(struct rig *r)
{
    int err = 0;

    if (r->store == NULL) {
        r->store = mdx_store_open(&r->sconf, &err);
    }
    if (r->store == NULL) {
        return -1;
    }
    r->engine = mdx_engine_create(&r->econf, r->store, &err);
    if (r->engine == NULL) {
        fprintf(stderr, "  engine create: %s\n", mdx_strerror(err));
        return -1;
    }
    return mdx_engine_start(r->engine) == MDX_OK ? 0 : -1;
}

static void rig_stop_engine(struct rig *r)
{
    mdx_engine_stop(r->engine, 30000);
    mdx_engine_destroy(r->engine);
    mdx_store_close(r->store);
    r->engine = NULL;
    r->store = NULL;
}

static void rig_fini(struct rig *r)
{
    if (r->engine != NULL) {
        rig_stop_engine(r);
    }
    mdx_store_close(r->store);
    r->store = NULL;
    if (!cl.running) {
        pg_cluster_start(&cl);
    }
    tmp_remove(r->dir);
}

/* Message i: two points at base + i s. */
static void submit(struct rig *r, int64_t base, int i)
{
    char buf[160];

    snprintf(buf, sizeof(buf), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":%d,\"b\":%d.5}}",
             (long long)(base + i * 1000LL), i, i);
    CHECK_EQ_INT(mdx_engine_submit(r->engine, TOPIC, buf, strlen(buf), mdx_now_ms()), MDX_OK);
}

/* Points stored, read with a fresh handle. */
static int64_t stored(struct rig *r)
{
    struct mdx_store *st;
    int64_t n = -1;
    int err;

    st = mdx_store_open(&r->sconf, &err);
    if (st == NULL) {
        return -1;
    }
    if (mdx_store_point_count(st, "acme", &n) != MDX_OK) {
        n = -1;
    }
    mdx_store_close(st);
    return n;
}

static int count_dead(void *arg, const struct mdx_deadletter *dl)
{
    (void)dl;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

static int64_t dead_letters(struct rig *r)
{
    struct mdx_store *st;
    int64_t n = 0;
    int err;

    st = mdx_store_open(&r->sconf, &err);
    if (st == NULL || mdx_store_deadletter_list(st, 0, count_dead, &n) != MDX_OK) {
        n = -1;
    }
    mdx_store_close(st);
    return n;
}

struct seq {
    int64_t base;
    int next;
    int bad;
};

static int seq_check(void *arg, int64_t ts, double v, unsigned flags)
{
    struct seq *s = arg;

    (void)flags;
    if (ts != s->base + s->next * 1000LL || v != (double)s->next) {
        s->bad++;
    }
    s->next++;
    return MDX_OK;
}

/* Exact content: series "a" holds value i at base + i s for every i < n, nothing else. */
static int exact(struct rig *r, int64_t base, int n)
{
    struct mdx_query q = {"acme", "press-1", "a", INT64_MIN, INT64_MAX, 0};
    struct seq s = {base, 0, 0};
    struct mdx_store *st;
    int err;

    st = mdx_store_open(&r->sconf, &err);
    if (st == NULL || mdx_store_query_points(st, &q, seq_check, &s) != MDX_OK) {
        mdx_store_close(st);
        return 0;
    }
    mdx_store_close(st);
    if (s.next != n || s.bad != 0) {
        fprintf(stderr, "  series a: %d points, %d wrong (want %d)\n", s.next, s.bad, n);
    }
    return s.next == n && s.bad == 0;
}

static int64_t wait_stored(struct rig *r, int64_t want, int timeout_ms)
{
    int64_t deadline = mdx_mono_us() + (int64_t)timeout_ms * 1000, n = -1;

    do {
        n = stored(r);
        if (n >= want) {
            return n;
        }
        mdx_sleep_ms(50);
    } while (mdx_mono_us() < deadline);
    return n;
}

/* Failed store attempts of the engine so far. */
static uint64_t store_retries(struct rig *r)
{
    struct mdx_engine_stats s;

    mdx_engine_stats(r->engine, &s);
    return s.store_retries;
}

static void engine_pg_down_at_start_ingests_from_the_spool_when_it_comes_up(void)
{
    struct rig r;
    int64_t base = mdx_now_ms() - 3600000;
    struct mdx_engine_stats s;

    if (rig_init(&r, "engine-pg-down") != 0) {
        CHECK(0);
        rig_fini(&r);
        return;
    }
    mdx_store_close(r.store);
    r.store = NULL;
    CHECK_EQ_INT(pg_cluster_stop(&cl, "fast"), 0);
    CHECK_EQ_INT(rig_start_engine(&r), 0); /* the service starts without its store */
    if (r.engine == NULL) {
        rig_fini(&r);
        return;
    }
    for (int i = 0; i < 300; i++) {
        submit(&r, base, i);
    }
    CHECK_WAIT(store_retries(&r) > 0, 10000); /* the writer tried and found it down */
    mdx_engine_stats(r.engine, &s);
    CHECK_EQ_INT(s.points_written, 0);
    CHECK(s.spool_pending_bytes > 0);
    CHECK_EQ_INT(pg_cluster_start(&cl), 0);
    for (int i = 300; i < 400; i++) {
        submit(&r, base, i);
    }
    CHECK_EQ_INT(wait_stored(&r, 800, 30000), 800);
    rig_stop_engine(&r);
    CHECK(exact(&r, base, 400));
    rig_fini(&r);
}

static void engine_pg_restarted_mid_stream_loses_and_repeats_nothing(void)
{
    struct rig r;
    int64_t base = mdx_now_ms() - 3600000;

    if (rig_init(&r, "engine-pg-restart") != 0 || rig_start_engine(&r) != 0) {
        CHECK(0);
        rig_fini(&r);
        return;
    }
    for (int i = 0; i < 3000; i++) {
        submit(&r, base, i);
        if (i == 1000 || i == 2000) {
            /* A crash (immediate) and a clean restart (fast), mid-stream. */
            CHECK_EQ_INT(pg_cluster_stop(&cl, i == 1000 ? "immediate" : "fast"), 0);
            mdx_sleep_ms(300); /* the outage: messages keep coming while it is down */
            CHECK_EQ_INT(pg_cluster_start(&cl), 0);
        }
        if (i % 100 == 0) {
            mdx_sleep_ms(5); /* a stream over time, so that the stops fall mid-batch */
        }
    }
    CHECK_EQ_INT(wait_stored(&r, 6000, 30000), 6000);
    rig_stop_engine(&r);
    CHECK(exact(&r, base, 3000));
    CHECK_EQ_INT(stored(&r), 6000);
    rig_fini(&r);
}

static void engine_pg_down_at_restart_skips_what_the_store_has(void)
{
    struct rig r;
    int64_t base = mdx_now_ms() - 3600000;
    const char *bad = "{not json";

    if (rig_init(&r, "engine-pg-resume") != 0 || rig_start_engine(&r) != 0) {
        CHECK(0);
        rig_fini(&r);
        return;
    }
    for (int i = 0; i < 200; i++) {
        submit(&r, base, i);
    }
    CHECK_EQ_INT(mdx_engine_submit(r.engine, TOPIC, bad, strlen(bad), mdx_now_ms()), MDX_OK);
    CHECK_EQ_INT(wait_stored(&r, 400, 30000), 400);
    rig_stop_engine(&r);
    CHECK_EQ_INT(dead_letters(&r), 1);
    /* Down when the service starts again: the spool still holds the stored records. */
    CHECK_EQ_INT(pg_cluster_stop(&cl, "fast"), 0);
    CHECK_EQ_INT(rig_start_engine(&r), 0);
    if (r.engine == NULL) {
        rig_fini(&r);
        return;
    }
    for (int i = 200; i < 300; i++) {
        submit(&r, base, i);
    }
    CHECK_WAIT(store_retries(&r) > 0, 10000); /* it started and found the store down */
    CHECK_EQ_INT(pg_cluster_start(&cl), 0);
    CHECK_EQ_INT(wait_stored(&r, 600, 30000), 600);
    rig_stop_engine(&r);
    CHECK(exact(&r, base, 300));
    CHECK_EQ_INT(dead_letters(&r), 1); /* the refused message was not read again */
    rig_fini(&r);
}

static const struct mdx_test tests[] = {
    {"issue 3: PostgreSQL down at start: the engine spools and ingests when it comes up",
     engine_pg_down_at_start_ingests_from_the_spool_when_it_comes_up},
    {"issue 3: PostgreSQL restarted mid-stream: no loss, no duplicate",
     engine_pg_restarted_mid_stream_loses_and_repeats_nothing},
    {"issue 3: PostgreSQL down at a restart: the writer resumes at the stored checkpoint",
     engine_pg_down_at_restart_skips_what_the_store_has},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
