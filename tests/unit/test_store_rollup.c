/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_rollup.c - rollups and latest values of the SQLite store
 * (issue 3), through the store interface: rollups against a brute-force
 * aggregation of random points (late, out of order, duplicated, across
 * batches), bucket steps and aggregates, latest values per sensor, a
 * failed batch, a full delta buffer, and databases from before rollups.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store_util.h"
#include "modax/alloc.h"
#include "modax/status.h"
#include "modax/store.h"
#include "modax/validate.h"

#define T0 1760000400000LL /* a whole hour: 2025-10-09 09:00:00 UTC */
#define MIN_MS MDX_ROLLUP_MINUTE_MS
#define HOUR_MS MDX_ROLLUP_HOUR_MS

/* Small chunks, so late points go through the merge into stored chunks. */
static struct mdx_store *open_store(const char *path)
{
    struct mdx_store_conf conf = {0};
    int err = 0;
    struct mdx_store *st;

    conf.backend = "sqlite";
    conf.sqlite_path = (char *)path;
    conf.busy_timeout_ms = 1000;
    conf.chunk_points = 16;
    conf.cache_series = 1000;
    conf.deadletter_max = 100;
    st = mdx_store_open(&conf, &err);
    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", path, mdx_strerror(err));
    }
    return st;
}

static void add_device(struct mdx_store *st, const char *tenant, const char *device)
{
    int rc = mdx_store_tenant_add(st, tenant);

    CHECK(rc == MDX_OK || rc == MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_device_add(st, tenant, device, 0), MDX_OK);
}

/* A point without flags. */
static void set_value(struct mdx_point *p, const char *sensor, int64_t ts, double v)
{
    set_point(p, sensor, ts, v, 0);
}

/* Writes one group of points of tenant "acme". */
static int write_acme(struct mdx_store *st, const char *device, const struct mdx_point *pts,
                      size_t n, struct mdx_batch_result *res)
{
    return write_points(st, "acme", device, pts, n, res);
}

#define MAX_BUCKETS 4096

struct buckets {
    struct mdx_bucket b[MAX_BUCKETS];
    size_t n;
};

static int collect_bucket(void *arg, const struct mdx_bucket *b)
{
    struct buckets *out = arg;

    if (out->n < MAX_BUCKETS) {
        out->b[out->n] = *b;
    }
    out->n++;
    return MDX_OK;
}

static int buckets(struct mdx_store *st, const char *device, const char *sensor, int64_t from,
                   int64_t to, int64_t step, int64_t limit, struct buckets *out)
{
    struct mdx_query q = {"acme", device, sensor, from, to, limit};

    out->n = 0;
    return mdx_store_query_buckets(st, &q, step, collect_bucket, out);
}

static int close_enough(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (fabs(a) + fabs(b) + 1.0);
}

static int same_buckets(const struct buckets *x, const struct buckets *y)
{
    if (x->n != y->n) {
        fprintf(stderr, "  %zu buckets, expected %zu\n", x->n, y->n);
        return 0;
    }
    for (size_t i = 0; i < x->n && i < MAX_BUCKETS; i++) {
        const struct mdx_bucket *a = &x->b[i], *b = &y->b[i];
        if (a->start_ms != b->start_ms || a->count != b->count || a->min != b->min ||
            a->max != b->max || !close_enough(a->sum, b->sum)) {
            fprintf(stderr, "  bucket %zu: %lld n=%lld min=%g max=%g sum=%.17g, expected "
                            "%lld n=%lld min=%g max=%g sum=%.17g\n",
                    i, (long long)a->start_ms, (long long)a->count, a->min, a->max, a->sum,
                    (long long)b->start_ms, (long long)b->count, b->min, b->max, b->sum);
            return 0;
        }
    }
    return 1;
}

/* ---- the brute-force model: every point ever sent, the first of each ts wins ---- */

struct sent {
    int64_t ts;
    double v;
    uint32_t order;
};

#define MODEL_MAX 40000

struct model {
    struct sent p[MODEL_MAX];
    size_t n;
};

static int cmp_sent(const void *a, const void *b)
{
    const struct sent *x = a, *y = b;

    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }
    return (x->order > y->order) - (x->order < y->order);
}

/* Sorts and keeps the first arrival of each ts. */
static void model_settle(struct model *m)
{
    size_t k = 0;

    qsort(m->p, m->n, sizeof(m->p[0]), cmp_sent);
    for (size_t i = 0; i < m->n; i++) {
        if (k == 0 || m->p[k - 1].ts != m->p[i].ts) {
            m->p[k++] = m->p[i];
        }
    }
    m->n = k;
}

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t r = t % step;

    return t - (r < 0 ? r + step : r);
}

/* Whole buckets of 'step' that overlap [from, to], from the settled model. */
static void model_buckets(const struct model *m, int64_t from, int64_t to, int64_t step,
                          struct buckets *out)
{
    int64_t first = floor_to(from, step), end = floor_to(to, step) + step - 1;

    out->n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct sent *s = &m->p[i];
        int64_t start = floor_to(s->ts, step);
        struct mdx_bucket *b;

        if (s->ts < first || s->ts > end) {
            continue;
        }
        if (out->n > 0 && out->b[out->n - 1].start_ms == start) {
            b = &out->b[out->n - 1];
            b->min = s->v < b->min ? s->v : b->min;
            b->max = s->v > b->max ? s->v : b->max;
            b->sum += s->v;
            b->count++;
            continue;
        }
        b = &out->b[out->n++];
        b->start_ms = start;
        b->min = b->max = b->sum = s->v;
        b->count = 1;
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const sensors[] = {"current", "temp", "vibration"};

/* ---- tests ---- */

static void rollups_equal_brute_force_over_random_batches(void)
{
    const char *path = tmp_db_fresh();
    struct mdx_store *st = open_store(path);
    static struct model model[3];
    static struct mdx_point pts[3000];
    static struct buckets got, want;
    static const int64_t steps[] = {30000, MIN_MS, 5 * MIN_MS, 15 * MIN_MS, HOUR_MS,
                                    3 * HOUR_MS, MDX_DAY_MS, 7000};
    uint32_t order = 0;
    int64_t written = 0, dup = 0;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    memset(model, 0, sizeof(model));
    /* 8 batches over 5 hours: each mostly newer data, with late and repeated points. */
    for (int batch = 0; batch < 8; batch++) {
        struct mdx_batch_result res;

        for (size_t i = 0; i < 3000; i++) {
            int s = (int)(rnd() % 3);
            int64_t ts;
            double v = (double)((int64_t)(rnd() % 20001) - 10000) / 100.0;

            if (rnd() % 4 == 0) {
                ts = T0 + (int64_t)(rnd() % (5 * 3600)) * 1000; /* anywhere: late or repeated */
            } else {
                ts = T0 + batch * 2250000LL + (int64_t)(rnd() % 2250) * 1000;
            }
            if (rnd() % 10 == 0) {
                ts += (int64_t)(rnd() % 1000); /* off the second */
            }
            set_value(&pts[i], sensors[s], ts, v);
            model[s].p[model[s].n++] = (struct sent){ts, v, order++};
        }
        CHECK_EQ_INT(write_acme(st, "press-1", pts, 3000, &res), MDX_OK);
        written += (int64_t)res.points_written;
        dup += (int64_t)res.points_duplicate;
    }
    for (int s = 0; s < 3; s++) {
        model_settle(&model[s]);
    }
    CHECK_EQ_INT(written, (int64_t)(model[0].n + model[1].n + model[2].n));
    CHECK(dup > 0);
    for (int s = 0; s < 3; s++) {
        for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
            /* The whole range, and ranges that start and end inside buckets. */
            int64_t ranges[3][2] = {{INT64_MIN, INT64_MAX},
                                    {T0 + 1234567, T0 + 3 * HOUR_MS + 7777},
                                    {T0 - MDX_DAY_MS, T0 + 59999}};
            for (int r = 0; r < 3; r++) {
                int64_t from = ranges[r][0], to = ranges[r][1];

                model_buckets(&model[s], from == INT64_MIN ? T0 - MDX_DAY_MS : from,
                              to == INT64_MAX ? T0 + MDX_DAY_MS : to, steps[k], &want);
                CHECK_EQ_INT(buckets(st, "press-1", sensors[s], from, to, steps[k], 0, &got),
                             MDX_OK);
                if (!same_buckets(&got, &want)) {
                    fprintf(stderr, "  sensor %s step %lld range %d\n", sensors[s],
                            (long long)steps[k], r);
                    CHECK(0);
                }
            }
        }
    }
    mdx_store_close(st);
    tmp_db_remove();
}

static void late_point_corrects_its_bucket(void)
{
    struct mdx_store *st = open_store(":memory:");
    static struct mdx_point p[200];
    static struct buckets m, h;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    for (int i = 0; i < 200; i++) {
        set_value(&p[i], "temp", T0 + i * 1000LL, 20.0);
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 200, NULL), MDX_OK);
    /* Much later data moves the head on; then one point arrives late for minute 1. */
    set_value(&p[0], "temp", T0 + 5 * HOUR_MS, 21.0);
    CHECK_EQ_INT(write_acme(st, "press-1", p, 1, NULL), MDX_OK);
    set_value(&p[0], "temp", T0 + MIN_MS + 500, 99.5);
    set_value(&p[1], "temp", T0 + MIN_MS + 700, -4.0);
    CHECK_EQ_INT(write_acme(st, "press-1", p, 2, NULL), MDX_OK);

    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 5 * HOUR_MS, MIN_MS, 0, &m), MDX_OK);
    CHECK_EQ_INT(m.n, 5); /* minutes 0-3 and the one 5 h later */
    CHECK_EQ_INT(m.b[1].start_ms, T0 + MIN_MS);
    CHECK_EQ_INT(m.b[1].count, 62);
    CHECK(m.b[1].max == 99.5 && m.b[1].min == -4.0);
    CHECK(close_enough(m.b[1].sum, 60 * 20.0 + 99.5 - 4.0));
    CHECK_EQ_INT(m.b[0].count, 60);
    CHECK(m.b[0].max == 20.0);

    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 5 * HOUR_MS, HOUR_MS, 0, &h), MDX_OK);
    CHECK_EQ_INT(h.n, 2);
    CHECK_EQ_INT(h.b[0].count, 202);
    CHECK(h.b[0].max == 99.5 && h.b[0].min == -4.0);
    CHECK(close_enough(mdx_bucket_value(&h.b[0], MDX_AGG_AVG), (200 * 20.0 + 95.5) / 202.0));
    CHECK_EQ_INT(h.b[1].start_ms, T0 + 5 * HOUR_MS);
    CHECK_EQ_INT(h.b[1].count, 1);
    mdx_store_close(st);
}

static void duplicates_add_nothing(void)
{
    struct mdx_store *st = open_store(":memory:");
    static struct mdx_point p[300];
    static struct buckets before, after;
    struct mdx_batch_result res;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    for (int i = 0; i < 150; i++) {
        set_value(&p[i], "temp", T0 + i * 1000LL, i);
        set_value(&p[150 + i], "temp", T0 + i * 1000LL, 1000.0 + i); /* same ts, in the batch */
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 300, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 150);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + HOUR_MS, MIN_MS, 0, &before), MDX_OK);
    CHECK_EQ_INT(before.n, 3);
    CHECK(before.b[0].max == 59.0);
    /* Redelivered: the whole batch again, and again with other values. */
    CHECK_EQ_INT(write_acme(st, "press-1", p, 300, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(write_acme(st, "press-1", p + 150, 150, &res), MDX_OK);
    CHECK_EQ_INT(res.points_duplicate, 150);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + HOUR_MS, MIN_MS, 0, &after), MDX_OK);
    CHECK(same_buckets(&after, &before));
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + HOUR_MS, HOUR_MS, 0, &after), MDX_OK);
    CHECK_EQ_INT(after.n, 1);
    CHECK_EQ_INT(after.b[0].count, 150);
    CHECK(after.b[0].max == 149.0);
    mdx_store_close(st);
}

static void steps_and_aggregates(void)
{
    struct mdx_store *st = open_store(":memory:");
    static struct mdx_point p[7200];
    static struct buckets b;
    struct mdx_query q = {"acme", "press-1", "temp", T0, T0 + HOUR_MS, 0};

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    /* Two hours at 1 Hz; the value is the second within its minute (0..59). */
    for (int i = 0; i < 7200; i++) {
        set_value(&p[i], "temp", T0 + i * 1000LL, i % 60);
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 7200, NULL), MDX_OK);

    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, MIN_MS, 0, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 120);
    CHECK_EQ_INT(b.b[7].start_ms, T0 + 7 * MIN_MS);
    CHECK(mdx_bucket_value(&b.b[7], MDX_AGG_AVG) == 29.5);
    CHECK(mdx_bucket_value(&b.b[7], MDX_AGG_MIN) == 0.0);
    CHECK(mdx_bucket_value(&b.b[7], MDX_AGG_MAX) == 59.0);
    CHECK(mdx_bucket_value(&b.b[7], MDX_AGG_COUNT) == 60.0);

    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, 5 * MIN_MS, 0, &b),
                 MDX_OK);
    CHECK_EQ_INT(b.n, 24);
    CHECK_EQ_INT(b.b[1].start_ms, T0 + 5 * MIN_MS);
    CHECK_EQ_INT(b.b[1].count, 300);

    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, HOUR_MS, 0, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(b.b[1].count, 3600);
    CHECK(mdx_bucket_value(&b.b[1], MDX_AGG_AVG) == 29.5);

    /* A day: one bucket from the start of the UTC day. */
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, MDX_DAY_MS, 0, &b),
                 MDX_OK);
    CHECK_EQ_INT(b.n, 1);
    CHECK_EQ_INT(b.b[0].start_ms, floor_to(T0, MDX_DAY_MS));
    CHECK_EQ_INT(b.b[0].count, 7200);

    /* 30 s from raw points: halves of each minute. */
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + HOUR_MS - 1, 30000, 0, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 120);
    CHECK(b.b[0].max == 29.0 && b.b[1].min == 30.0 && b.b[1].count == 30);

    /* Whole buckets: a range starting mid-minute still counts the whole minute. */
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0 + 30500, T0 + 60000, MIN_MS, 0, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(b.b[0].count, 60);

    /* The limit bounds buckets; ranges beyond the data give what there is. */
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, MIN_MS, 10, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 10);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, 30000, 3, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 3);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0 - 365 * MDX_DAY_MS, T0 + 365 * MDX_DAY_MS,
                         HOUR_MS, 0, &b),
                 MDX_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0 + 3 * HOUR_MS, T0 + 4 * HOUR_MS, MIN_MS, 0,
                         &b),
                 MDX_OK);
    CHECK_EQ_INT(b.n, 0);
    CHECK_EQ_INT(buckets(st, "press-1", "nope", T0, T0 + HOUR_MS, MIN_MS, 0, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 0);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0 + HOUR_MS, T0, MIN_MS, 0, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 0);
    CHECK_EQ_INT(mdx_store_query_buckets(st, &q, 0, collect_bucket, &b), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_query_buckets(st, &q, -60000, collect_bucket, &b), MDX_EINVAL);
    mdx_store_close(st);
}

static void agg_names_parse(void)
{
    enum mdx_agg a = MDX_AGG_AVG;

    CHECK_EQ_INT(mdx_agg_parse("max", &a), MDX_OK);
    CHECK_EQ_INT(a, MDX_AGG_MAX);
    CHECK_EQ_INT(mdx_agg_parse("count", &a), MDX_OK);
    CHECK_EQ_INT(a, MDX_AGG_COUNT);
    CHECK_EQ_INT(mdx_agg_parse("median", &a), MDX_EINVAL);
    CHECK_EQ_INT(mdx_agg_parse("", &a), MDX_EINVAL);
}

struct latest {
    char sensor[8][MDX_NAME_MAX + 1];
    int64_t ts[8];
    double v[8];
    unsigned flags[8];
    int n;
};

static int collect_latest(void *arg, const char *sensor, int64_t ts, double v, unsigned flags)
{
    struct latest *l = arg;

    if (l->n < 8) {
        snprintf(l->sensor[l->n], sizeof(l->sensor[0]), "%s", sensor);
        l->ts[l->n] = ts;
        l->v[l->n] = v;
        l->flags[l->n] = flags;
    }
    l->n++;
    return MDX_OK;
}

static void latest_per_sensor(void)
{
    const char *path = tmp_db_fresh();
    struct mdx_store *st = open_store(path);
    static struct mdx_point p[100];
    struct latest l;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    add_device(st, "acme", "press-2");
    /* vibration: 40 points (several chunks); temp: newest point first, then older ones. */
    for (int i = 0; i < 40; i++) {
        set_value(&p[i], "vibration", T0 + i * 1000LL, 0.5 + i);
    }
    set_value(&p[40], "temp", T0 + 90000, 71.25);
    for (int i = 0; i < 20; i++) {
        set_value(&p[41 + i], "temp", T0 + i * 1000LL, 20.0 + i);
    }
    set_value(&p[61], "current", T0 + 5000, 3.5);
    p[61].flags = MDX_POINT_TS_SUBSTITUTED;
    CHECK_EQ_INT(write_acme(st, "press-1", p, 62, NULL), MDX_OK);
    set_value(&p[0], "vibration", T0 + 1500, 123.0); /* late: not the newest */
    CHECK_EQ_INT(write_acme(st, "press-1", p, 1, NULL), MDX_OK);

    for (int round = 0; round < 2; round++) {
        memset(&l, 0, sizeof(l));
        CHECK_EQ_INT(mdx_store_latest(st, "acme", "press-1", collect_latest, &l), MDX_OK);
        CHECK_EQ_INT(l.n, 3);
        CHECK_STR(l.sensor[0], "current");
        CHECK_STR(l.sensor[1], "temp");
        CHECK_STR(l.sensor[2], "vibration");
        CHECK_EQ_INT(l.ts[0], T0 + 5000);
        CHECK(l.v[0] == 3.5 && (l.flags[0] & MDX_POINT_TS_SUBSTITUTED) != 0);
        CHECK_EQ_INT(l.ts[1], T0 + 90000);
        CHECK(l.v[1] == 71.25);
        CHECK_EQ_INT(l.ts[2], T0 + 39000);
        CHECK(l.v[2] == 39.5);
        /* The same from a fresh handle: no cached heads. */
        mdx_store_close(st);
        st = open_store(path);
        if (st == NULL) {
            CHECK(0);
            return;
        }
    }
    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_latest(st, "acme", "press-2", collect_latest, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mdx_store_latest(st, "acme", "ghost", collect_latest, &l), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_latest(st, "nobody", "press-1", collect_latest, &l), MDX_ENOTFOUND);
    mdx_store_close(st);
    tmp_db_remove();
}

/* Points of press-1's sensor in the first two hours, by the hour rollup. */
static int64_t hour_total(struct mdx_store *st, const char *sensor)
{
    static struct buckets h;
    int64_t n = 0;

    CHECK_EQ_INT(buckets(st, "press-1", sensor, T0, T0 + 2 * HOUR_MS - 1, HOUR_MS, 0, &h),
                 MDX_OK);
    for (size_t i = 0; i < h.n; i++) {
        n += h.b[i].count;
    }
    return n;
}

static int count_point(void *arg, int64_t ts, double v, unsigned flags)
{
    (void)ts;
    (void)v;
    (void)flags;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

/* The same from the raw points. */
static int64_t raw_total(struct mdx_store *st, const char *sensor)
{
    struct mdx_query q = {"acme", "press-1", sensor, T0, T0 + 2 * HOUR_MS - 1, 0};
    int64_t n = 0;

    CHECK_EQ_INT(mdx_store_query_points(st, &q, count_point, &n), MDX_OK);
    return n;
}

static void failed_batch_leaves_rollups_unchanged(void)
{
    const char *path = tmp_db_fresh();
    struct mdx_store *st = open_store(path);
    static struct mdx_point p[400];
    static struct buckets m0, h0, m1, h1;
    struct mdx_point_group g = {"acme", "press-1", p, 400};
    struct mdx_deadletter dl = {0, T0, "boom", "modax/acme/press-1/sensor_data",
                                (const uint8_t *)"x", 1, 1};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    sqlite3 *db;
    int ok_at = -1;

    if (st == NULL || sqlite3_open(path, &db) != SQLITE_OK) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    for (int i = 0; i < 200; i++) {
        set_value(&p[i], "temp", T0 + i * 1000LL, i);
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 200, NULL), MDX_OK);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, MIN_MS, 0, &m0), MDX_OK);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, HOUR_MS, 0, &h0), MDX_OK);

    /* New points, late points and repeats; the batch fails at its very end. */
    for (int i = 0; i < 400; i++) {
        set_value(&p[i], i % 2 ? "temp" : "current", T0 + (int64_t)(rnd() % 7200) * 1000,
                  (double)(rnd() % 1000));
    }
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TRIGGER boom BEFORE INSERT ON dead_letters "
                              "WHEN NEW.reason = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    b.groups = &g;
    b.n_groups = 1;
    b.dead = &dl;
    b.n_dead = 1;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_ESTORE);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, MIN_MS, 0, &m1), MDX_OK);
    CHECK(same_buckets(&m1, &m0));
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, HOUR_MS, 0, &h1), MDX_OK);
    CHECK(same_buckets(&h1, &h0));
    CHECK_EQ_INT(buckets(st, "press-1", "current", T0, T0 + 2 * HOUR_MS, MIN_MS, 0, &m1),
                 MDX_OK);
    CHECK_EQ_INT(m1.n, 0);

    /* Allocation failures anywhere in the batch leave nothing either. */
    sqlite3_exec(db, "DROP TRIGGER boom", NULL, NULL, NULL);
    for (long n = 0; n < 10000; n++) {
        int rc;

        mdx_alloc_fail_after(n);
        rc = mdx_store_write(st, &b, &res);
        mdx_alloc_fail_after(-1);
        if (rc == MDX_OK) {
            ok_at = (int)n;
            break;
        }
        CHECK_EQ_INT(rc, MDX_ENOMEM);
        CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 2 * HOUR_MS, HOUR_MS, 0, &h1),
                     MDX_OK);
        if (!same_buckets(&h1, &h0)) {
            CHECK(0);
            break;
        }
    }
    CHECK(ok_at > 0);
    /* Once through, the hour totals count the stored points exactly once. */
    CHECK_EQ_INT(hour_total(st, "temp") + hour_total(st, "current"),
                 200 + (int64_t)res.points_written);
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(hour_total(st, "temp"), raw_total(st, "temp"));
    CHECK_EQ_INT(hour_total(st, "current"), raw_total(st, "current"));
    sqlite3_close(db);
    mdx_store_close(st);
    tmp_db_remove();
}

static void full_delta_buffer_is_written_early(void)
{
    struct mdx_store *st = open_store(":memory:");
    static struct mdx_point p[20000];
    static struct model model;
    static struct buckets got, want;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    /* 20,000 different minutes in one batch, in random order, some twice. */
    model.n = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        int64_t ts = T0 + (int64_t)(rnd() % 18000) * MIN_MS + (int64_t)(rnd() % 60) * 1000;
        double v = (double)(rnd() % 500);

        set_value(&p[i], "temp", ts, v);
        model.p[model.n++] = (struct sent){ts, v, i};
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 20000, NULL), MDX_OK);
    model_settle(&model);
    model_buckets(&model, T0, T0 + 18000 * MIN_MS, HOUR_MS, &want);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 18000 * MIN_MS, HOUR_MS, 0, &got),
                 MDX_OK);
    CHECK(same_buckets(&got, &want));
    model_buckets(&model, T0, T0 + 4000 * MIN_MS, MIN_MS, &want);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 4000 * MIN_MS, MIN_MS, 0, &got),
                 MDX_OK);
    CHECK(same_buckets(&got, &want));
    mdx_store_close(st);
}

static void database_from_before_rollups_is_rolled_up_at_open(void)
{
    const char *path = tmp_db_fresh();
    struct mdx_store *st = open_store(path);
    static struct mdx_point p[5000];
    static struct buckets before, after;
    sqlite3 *db;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    for (int i = 0; i < 5000; i++) {
        set_value(&p[i], "temp", T0 + i * 1700LL, (double)(i % 77));
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 5000, NULL), MDX_OK);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 3 * HOUR_MS, MIN_MS, 0, &before),
                 MDX_OK);
    mdx_store_close(st);
    /* As a version-1 database would be: points but no rollup rows. */
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "DELETE FROM rollup_1m; DELETE FROM rollup_1h", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    st = open_store(path);
    if (st == NULL) {
        CHECK(0);
        return;
    }
    CHECK(before.n > 100);
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 3 * HOUR_MS, MIN_MS, 0, &after),
                 MDX_OK);
    CHECK(same_buckets(&after, &before));
    CHECK_EQ_INT(buckets(st, "press-1", "temp", T0, T0 + 3 * HOUR_MS, HOUR_MS, 0, &after),
                 MDX_OK);
    CHECK_EQ_INT(after.n, 3);
    CHECK_EQ_INT(after.b[0].count + after.b[1].count + after.b[2].count, 5000);
    mdx_store_close(st);
    tmp_db_remove();
}

/* Values at the accepted limit: averages stay finite in minute, hour and raw buckets. */
static void values_at_the_magnitude_limit_average_without_overflow(void)
{
    struct mdx_store *st = open_store(":memory:");
    static struct mdx_point p[3];
    static struct buckets b;
    const int64_t steps[] = {MIN_MS, HOUR_MS, 1000, (INT64_C(1) << 50) - 1};

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_device(st, "acme", "press-1");
    for (int i = 0; i < 3; i++) {
        set_value(&p[i], "big", T0 + i * 1000LL, MDX_VALUE_ABS_MAX);
    }
    CHECK_EQ_INT(write_acme(st, "press-1", p, 3, NULL), MDX_OK);
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        CHECK_EQ_INT(buckets(st, "press-1", "big", T0, T0 + HOUR_MS, steps[k], 0, &b), MDX_OK);
        CHECK(b.n >= 1);
        for (size_t i = 0; i < b.n && i < MAX_BUCKETS; i++) {
            CHECK(isfinite(b.b[i].sum));
            CHECK(close_enough(mdx_bucket_value(&b.b[i], MDX_AGG_AVG), MDX_VALUE_ABS_MAX));
        }
    }
    mdx_store_close(st);
}

static const struct mdx_test tests[] = {
    {"rollups equal a brute-force aggregation over random batches",
     rollups_equal_brute_force_over_random_batches},
    {"a late point corrects its minute and hour", late_point_corrects_its_bucket},
    {"duplicates add nothing to rollups", duplicates_add_nothing},
    {"buckets of 1m, 5m, 1h, 1d and 30s with avg, min, max, count", steps_and_aggregates},
    {"aggregate names parse", agg_names_parse},
    {"latest value per sensor", latest_per_sensor},
    {"a failed batch leaves rollups unchanged", failed_batch_leaves_rollups_unchanged},
    {"a full delta buffer is written early", full_delta_buffer_is_written_early},
    {"a database from before rollups is rolled up at open",
     database_from_before_rollups_is_rolled_up_at_open},
    {"issue 16: values at the magnitude limit average without overflow",
     values_at_the_magnitude_limit_average_without_overflow},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
