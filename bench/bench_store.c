/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_store.c - write throughput of the SQLite store.
 *
 * 600 series (60 devices x 10 sensors) at 1 Hz with noisy values rounded
 * to 2 decimals, written through mdx_store_write() in batches of 60,000
 * points, one group per message (device, second) as the engine sends
 * them. Then one batch again, all duplicates. Only the write calls are
 * timed. Usage: bench_store [points] [chunk_points]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "modax/alloc.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store/sqlite/sqlite_int.h"
#include "store/store_int.h"

#define DEVICES 60
#define SENSORS 10
#define SERIES (DEVICES * SENSORS)
#define STEPS_PER_BATCH 100
#define BATCH_POINTS (SERIES * STEPS_PER_BATCH)
#define T0 1760000000000LL

struct gen {
    char devices[DEVICES][16];
    char sensors[SENSORS][16];
    double level[SERIES];
    struct mdx_point pts[BATCH_POINTS];
    struct mdx_point_group groups[DEVICES * STEPS_PER_BATCH];
};

/* Fills one batch: steps [first, first + STEPS_PER_BATCH) of every series. */
static void fill_batch(struct gen *g, int64_t first, struct mdx_batch *b)
{
    size_t k = 0, ng = 0;

    for (int64_t step = first; step < first + STEPS_PER_BATCH; step++) {
        for (int d = 0; d < DEVICES; d++) {
            struct mdx_point_group *grp = &g->groups[ng++];
            int64_t ts = T0 + step * 1000 + d * 7 + (int64_t)(rnd_unit() * 20);

            grp->tenant = "acme";
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
                p->sensor_len = (uint8_t)strlen(g->sensors[s]);
                memcpy(p->sensor, g->sensors[s], p->sensor_len + 1u);
            }
        }
    }
    memset(b, 0, sizeof(*b));
    b->groups = g->groups;
    b->n_groups = ng;
}

int main(int argc, char **argv)
{
    int64_t points = argc > 1 ? strtoll(argv[1], NULL, 10) : 6000000;
    int64_t chunk_points = argc > 2 ? strtoll(argv[2], NULL, 10) : 512;
    char dir[] = "/tmp/mdx-bench-XXXXXX", path[64], wal[80];
    struct mdx_store_conf conf = {.backend = "sqlite", .sqlite_path = path,
                                  .busy_timeout_ms = 5000, .chunk_points = chunk_points,
                                  .cache_series = 100000, .deadletter_max = 10000};
    struct gen *g = mdx_calloc(1, sizeof(*g));
    struct mdx_batch b;
    struct mdx_batch_result res;
    struct mdx_store *st;
    double t_write = 0, t_count = 0, t0, t_dup;
    int64_t batches = points / BATCH_POINTS, written = 0, count = 0;
    size_t cache_bytes, cached;
    struct stat sb;
    int err;

    if (g == NULL || mkdtemp(dir) == NULL || batches < 1) {
        fprintf(stderr, "bench_store: setup failed\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/bench.db", dir);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    st = mdx_store_open(&conf, &err);
    if (st == NULL) {
        fprintf(stderr, "bench_store: open: %s\n", mdx_strerror(err));
        return 1;
    }
    mdx_store_tenant_add(st, "acme");
    for (int d = 0; d < DEVICES; d++) {
        snprintf(g->devices[d], sizeof(g->devices[d]), "press-%03d", d);
        mdx_store_device_add(st, "acme", g->devices[d], 0);
    }
    for (int s = 0; s < SENSORS; s++) {
        snprintf(g->sensors[s], sizeof(g->sensors[s]), "sensor_%d", s);
    }
    for (int i = 0; i < SERIES; i++) {
        g->level[i] = 20.0 + (double)(i % 50);
    }
    for (int64_t i = 0; i < batches; i++) {
        fill_batch(g, i * STEPS_PER_BATCH, &b);
        t0 = now_s();
        err = mdx_store_write(st, &b, &res);
        t_write += now_s() - t0;
        if (err != MDX_OK) {
            fprintf(stderr, "bench_store: write: %s\n", mdx_strerror(err));
            return 1;
        }
        written += (int64_t)res.points_written;
        t0 = now_s();
        mdx_store_point_count(st, NULL, &count); /* as a dashboard would poll it */
        t_count += now_s() - t0;
    }
    cache_bytes = mdx_sq_cache_bytes(st->impl, &cached);

    /* The last batch again: every point a duplicate, found in the heads. */
    t0 = now_s();
    err = mdx_store_write(st, &b, &res);
    t_dup = now_s() - t0;
    if (err != MDX_OK || res.points_duplicate != BATCH_POINTS || count != written) {
        fprintf(stderr, "bench_store: duplicates: %s, %llu\n", mdx_strerror(err),
                (unsigned long long)res.points_duplicate);
        return 1;
    }
    mdx_store_close(st); /* checkpoints and removes the WAL */
    if (stat(path, &sb) != 0) {
        sb.st_size = 0;
    }
    printf("store: series=%d points=%lld points_per_s=%.0f bytes_per_point=%.2f "
           "dup_points_per_s=%.0f chunk_points=%lld cache_bytes_per_series=%.0f "
           "point_count_us=%.1f\n",
           SERIES, (long long)written, (double)written / t_write,
           (double)sb.st_size / (double)written, BATCH_POINTS / t_dup, (long long)chunk_points,
           cached > 0 ? (double)cache_bytes / (double)cached : 0.0,
           t_count / (double)batches * 1e6);
    unlink(path);
    unlink(wal);
    rmdir(dir);
    mdx_free(g);
    return 0;
}
