/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_query.c - query latency of a store (issue 3).
 *
 * Loads 30 days of 10 devices x 6 sensors at 1 Hz (155.5 M points; the
 * issue's "15.5 M" is that with --interval-ms 10000) through
 * mdx_store_write() in batches the size the engine makes (10,000 messages
 * of one reading of a device each), then measures p50 and p99
 * over many repetitions, each on a random device or sensor, of:
 *   latest   the newest value of every sensor of a device
 *   raw1h    one hour of raw points of a sensor (3,600 at 1 Hz)
 *   day30_1h the whole range at a 1-hour step, avg (720 buckets)
 * Prints one line. load_s times the write calls only.
 *
 * The store comes from the "store.*" config keys, so the config file
 * ($MODAX_CONFIG) and MODAX_STORE_* environment variables apply; --store
 * picks the back end. For sqlite the database is always a fresh temp
 * file. For postgresql the bench starts its own throwaway PostgreSQL 15
 * cluster (fsync on, as bench_ingest; see tests/support/pg.c), removed at
 * the end, unless MODAX_STORE_PGSQL_URL names a server: that database must
 * be empty, as the bench adds tenant "benchq" and refuses to run if it
 * exists.
 *
 * Usage: bench_query [--store sqlite|postgresql] [--days N] [--interval-ms N]
 *                    [--reps N]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "modax/alloc.h"
#include "modax/conf.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define DEVICES 10
#define SENSORS 6
#define STEPS_PER_BATCH 1000  /* x 10 devices = 10,000 messages, 60,000 points */
#define BATCH_POINTS (STEPS_PER_BATCH * DEVICES * SENSORS)
#define T0 1760054400000LL    /* 2025-10-10T00:00:00Z */
#define TENANT "benchq"

static const char *const sensor_names[SENSORS] = {
    "current_1", "current_2", "temperature_motor", "temperature_bearing",
    "vibration_x", "vibration_y"};

struct gen {
    char devices[DEVICES][16];
    double level[DEVICES * SENSORS];
    struct mdx_point pts[BATCH_POINTS];
    struct mdx_point_group groups[STEPS_PER_BATCH * DEVICES];
    int64_t interval_ms;      /* between readings of a device */
};

/* One batch: readings [first, first + STEPS_PER_BATCH) of every device. */
static void fill_batch(struct gen *g, int64_t first, struct mdx_batch *b)
{
    size_t k = 0, ng = 0;

    for (int64_t step = first; step < first + STEPS_PER_BATCH; step++) {
        for (int d = 0; d < DEVICES; d++) {
            struct mdx_point_group *grp = &g->groups[ng++];
            int64_t ts = T0 + step * g->interval_ms + d * 13;

            grp->tenant = TENANT;
            grp->device = g->devices[d];
            grp->points = &g->pts[k];
            grp->n = SENSORS;
            for (int s = 0; s < SENSORS; s++) {
                struct mdx_point *p = &g->pts[k++];
                double *lv = &g->level[d * SENSORS + s];

                *lv += (rnd_unit() - 0.5) * 0.2;
                p->ts_ms = ts;
                p->value = round((*lv + (rnd_unit() - 0.5) * 0.5) * 100.0) / 100.0;
                p->flags = 0;
                p->sensor_len = (uint8_t)strlen(sensor_names[s]);
                memcpy(p->sensor, sensor_names[s], p->sensor_len + 1u);
            }
        }
    }
    memset(b, 0, sizeof(*b));
    b->groups = g->groups;
    b->n_groups = ng;
}

static int count_sensor(void *arg, const char *sensor, int64_t ts, double v, unsigned flags)
{
    (void)sensor;
    (void)ts;
    (void)v;
    (void)flags;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

static int count_point(void *arg, int64_t ts, double v, unsigned flags)
{
    (void)ts;
    (void)v;
    (void)flags;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

static int count_bucket(void *arg, const struct mdx_bucket *b)
{
    *(double *)arg += mdx_bucket_value(b, MDX_AGG_AVG);
    return MDX_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* p-th percentile (0..100) of v[0..n), in microseconds; sorts v. */
static double pct_us(double *v, int n, double p)
{
    int i = (int)ceil(p / 100.0 * n) - 1;

    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[i < 0 ? 0 : i] * 1e6;
}

enum query_kind { Q_LATEST, Q_RAW1H, Q_DAY30 };

/* Runs one query of 'kind' on a random device/sensor; returns its seconds, or -1 on error. */
static double run_one(struct mdx_store *st, struct gen *g, enum query_kind kind, int64_t days,
                      int64_t *seen)
{
    const char *dev = g->devices[rnd() % DEVICES];
    struct mdx_query q = {TENANT, dev, sensor_names[rnd() % SENSORS], 0, 0, 0};
    int64_t n = 0;
    double sum = 0, t0;
    int rc;

    t0 = now_s();
    switch (kind) {
    case Q_LATEST:
        rc = mdx_store_latest(st, TENANT, dev, count_sensor, &n);
        break;
    case Q_RAW1H:
        q.from_ms = T0 + (int64_t)(rnd() % (uint64_t)(days * 86400 - 3600)) * 1000;
        q.to_ms = q.from_ms + 3600 * 1000 - 1;
        rc = mdx_store_query_points(st, &q, count_point, &n);
        break;
    default:
        q.from_ms = T0;
        q.to_ms = T0 + days * MDX_DAY_MS - 1;
        rc = mdx_store_query_buckets(st, &q, MDX_ROLLUP_HOUR_MS, count_bucket, &sum);
        n = sum != 0;
        break;
    }
    t0 = now_s() - t0;
    if (rc != MDX_OK) {
        fprintf(stderr, "bench_query: query: %s\n", mdx_strerror(rc));
        return -1;
    }
    *seen += n;
    return t0;
}

/* Measures 'reps' queries of 'kind'; p50 and p99 in microseconds. */
static int measure(struct mdx_store *st, struct gen *g, enum query_kind kind, int64_t days,
                   int reps, double *p50, double *p99)
{
    double *lat = mdx_calloc((size_t)reps, sizeof(*lat));
    int64_t seen = 0;

    if (lat == NULL) {
        return MDX_ENOMEM;
    }
    for (int i = 0; i < reps / 10 + 1; i++) { /* warm-up */
        if (run_one(st, g, kind, days, &seen) < 0) {
            mdx_free(lat);
            return MDX_ESTORE;
        }
    }
    for (int i = 0; i < reps; i++) {
        lat[i] = run_one(st, g, kind, days, &seen);
        if (lat[i] < 0) {
            mdx_free(lat);
            return MDX_ESTORE;
        }
    }
    *p50 = pct_us(lat, reps, 50);
    *p99 = pct_us(lat, reps, 99);
    mdx_free(lat);
    return seen > 0 ? MDX_OK : MDX_ENOTFOUND;
}

/* Points the PostgreSQL config at database "benchq" of a new throwaway cluster 'c'. */
static int own_cluster(struct mdx_store_conf *conf, struct pg_cluster *c)
{
    char url[256];

    if (pg_cluster_init(c, 1) != 0 || pg_cluster_create_db(c, "benchq") != 0) {
        fprintf(stderr, "bench_query: cannot start a PostgreSQL cluster\n");
        return MDX_ESTORE;
    }
    pg_cluster_url(c, "benchq", url, sizeof(url));
    mdx_free(conf->pgsql_url);
    mdx_free(conf->pgsql_password);
    mdx_free(conf->pgsql_sslmode);
    conf->pgsql_url = mdx_strdup(url);
    conf->pgsql_password = mdx_strdup(c->password);
    conf->pgsql_sslmode = mdx_strdup("disable");
    return conf->pgsql_url != NULL && conf->pgsql_password != NULL &&
                   conf->pgsql_sslmode != NULL
               ? MDX_OK
               : MDX_ENOMEM;
}

/* The store's config from its key table (file, environment), then the command line. */
static int load_conf(struct mdx_store_conf *conf, const char *backend, const char *sqlite_path)
{
    struct mdx_conf_section sec = {"store", mdx_store_conf_keys, conf};
    char err[256];

    memset(conf, 0, sizeof(*conf));
    if (mdx_conf_load(&sec, 1, getenv("MODAX_CONFIG"), err, sizeof(err)) != MDX_OK) {
        fprintf(stderr, "bench_query: %s\n", err);
        return MDX_ECONF;
    }
    mdx_free(conf->backend);
    conf->backend = mdx_strdup(backend);
    if (strcmp(backend, "sqlite") == 0) {
        mdx_free(conf->sqlite_path);
        conf->sqlite_path = mdx_strdup(sqlite_path);
    }
    return conf->backend != NULL && conf->sqlite_path != NULL ? MDX_OK : MDX_ENOMEM;
}

static int parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    if (end == s || *end != '\0' || v < lo || v > hi) {
        return MDX_EINVAL;
    }
    *out = v;
    return MDX_OK;
}

int main(int argc, char **argv)
{
    const char *backend = "sqlite";
    int64_t days = 30, reps = 2000, interval_ms = 1000;
    char dir[] = "/tmp/mdx-bench-query-XXXXXX", path[80], wal[96], shm[96];
    struct mdx_store_conf conf;
    struct pg_cluster cluster = {0};
    struct mdx_store *st = NULL;
    struct gen *g = NULL;
    struct mdx_batch b;
    struct mdx_batch_result res;
    double t_load = 0, t0, p[6];
    int64_t points = 0, batches;
    int err, rc = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
            backend = argv[++i];
        } else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc &&
                   parse_count(argv[i + 1], 1, 365, &days) == MDX_OK) {
            i++;
        } else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc &&
                   parse_count(argv[i + 1], 100, 3600000, &interval_ms) == MDX_OK) {
            i++;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc &&
                   parse_count(argv[i + 1], 10, 10000000, &reps) == MDX_OK) {
            i++;
        } else {
            fprintf(stderr, "usage: bench_query [--store sqlite|postgresql] [--days 1..365] "
                            "[--interval-ms 100..3600000] [--reps 10..]\n");
            return 2;
        }
    }
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_query: mkdtemp failed\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    if (load_conf(&conf, backend, path) != MDX_OK) {
        goto done;
    }
    if (strcmp(backend, "postgresql") == 0 && getenv("MODAX_STORE_PGSQL_URL") == NULL &&
        own_cluster(&conf, &cluster) != MDX_OK) {
        goto done;
    }
    g = mdx_calloc(1, sizeof(*g));
    st = mdx_store_open(&conf, &err);
    if (g == NULL || st == NULL) {
        fprintf(stderr, "bench_query: open %s store: %s\n", backend,
                g == NULL ? "out of memory" : mdx_strerror(err));
        goto done;
    }
    err = mdx_store_tenant_add(st, TENANT);
    if (err != MDX_OK) {
        fprintf(stderr, "bench_query: add tenant %s: %s (the database must be empty)\n", TENANT,
                mdx_strerror(err));
        goto done;
    }
    for (int d = 0; d < DEVICES; d++) {
        snprintf(g->devices[d], sizeof(g->devices[d]), "mill-%02d", d);
        mdx_store_device_add(st, TENANT, g->devices[d], 0);
    }
    for (int i = 0; i < DEVICES * SENSORS; i++) {
        g->level[i] = 20.0 + (double)(i % 40);
    }
    g->interval_ms = interval_ms;
    batches = days * MDX_DAY_MS / interval_ms / STEPS_PER_BATCH;
    for (int64_t i = 0; i < batches; i++) {
        fill_batch(g, i * STEPS_PER_BATCH, &b);
        t0 = now_s();
        err = mdx_store_write(st, &b, &res);
        t_load += now_s() - t0;
        if (err != MDX_OK) {
            fprintf(stderr, "bench_query: write: %s\n", mdx_strerror(err));
            goto done;
        }
        points += (int64_t)res.points_written;
    }
    err = measure(st, g, Q_LATEST, days, (int)reps, &p[0], &p[1]);
    if (err == MDX_OK) {
        err = measure(st, g, Q_RAW1H, days, (int)(reps / 2), &p[2], &p[3]);
    }
    if (err == MDX_OK) {
        err = measure(st, g, Q_DAY30, days, (int)(reps / 4), &p[4], &p[5]);
    }
    if (err != MDX_OK) {
        fprintf(stderr, "bench_query: measure: %s\n", mdx_strerror(err));
        goto done;
    }
    printf("query: store=%s points=%lld load_s=%.1f latest_p50_us=%.0f latest_p99_us=%.0f "
           "raw1h_p50_us=%.0f raw1h_p99_us=%.0f day30_1h_p50_us=%.0f day30_1h_p99_us=%.0f\n",
           backend, (long long)points, t_load, p[0], p[1], p[2], p[3], p[4], p[5]);
    rc = 0;

done:
    mdx_store_close(st);
    pg_cluster_destroy(&cluster);
    mdx_conf_fini(&(struct mdx_conf_section){"store", mdx_store_conf_keys, &conf});
    mdx_free(g);
    unlink(path);
    unlink(wal);
    unlink(shm);
    rmdir(dir);
    return rc;
}
