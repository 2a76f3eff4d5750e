/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_archive.c - archive throughput and size of the archive.
 *
 * Loads DAYS days (default 3) of 10 devices x 6 sensors at 1 Hz into a
 * temp SQLite store: motor currents, temperatures and vibration with noise,
 * slow drift and a daily cycle, rounded as the edge agent sends them (2 or
 * 3 decimals). Then one archive pass to a local object store, timed as a
 * whole (export, CSV, gzip, SHA-256, write, read back, verify, delete).
 * Prints one line. Usage: bench_archive [days]
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "modax/archive.h"
#include "modax/log.h"
#include "modax/objstore.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define DEVICES 10
#define SENSORS 6
#define STEPS 600 /* seconds per write batch */
#define T0 1735689600000LL /* 2025-01-01T00:00:00Z */

static const struct {
    const char *name;
    double base, noise, cycle, scale; /* scale: 100 = 2 decimals */
} sensor_def[SENSORS] = {
    {"motor_current_1", 12.0, 0.15, 1.5, 100},
    {"motor_current_2", 11.6, 0.15, 1.5, 100},
    {"temperature_motor", 45.0, 0.05, 3.0, 100},
    {"temperature_bearing", 38.0, 0.05, 2.0, 100},
    {"vibration_x", 0.80, 0.02, 0.05, 1000},
    {"vibration_y", 0.70, 0.02, 0.05, 1000},
};

static double gauss(void)
{
    double u, v;

    u = ((double)(rnd() >> 11) + 1.0) / 9007199254740993.0;
    v = rnd_unit();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static int load(struct mdx_store *st, int days)
{
    static struct mdx_point pts[DEVICES * STEPS * SENSORS];
    static struct mdx_point_group groups[DEVICES * STEPS];
    static char devices[DEVICES][16];
    double drift[DEVICES][SENSORS] = {{0}};
    int64_t total = (int64_t)days * 86400;

    for (int d = 0; d < DEVICES; d++) {
        snprintf(devices[d], sizeof(devices[d]), "m-%04d", d + 1);
        if (mdx_store_device_add(st, "bench", devices[d], 0) != MDX_OK) {
            return -1;
        }
    }
    for (int64_t s0 = 0; s0 < total; s0 += STEPS) {
        struct mdx_batch b = {0};
        struct mdx_batch_result res;
        size_t k = 0, g = 0;

        for (int64_t s = s0; s < s0 + STEPS && s < total; s++) {
            for (int d = 0; d < DEVICES; d++) {
                groups[g] = (struct mdx_point_group){"bench", devices[d], &pts[k], SENSORS};
                for (int i = 0; i < SENSORS; i++) {
                    struct mdx_point *p = &pts[k++];
                    double v;

                    drift[d][i] += gauss() * sensor_def[i].noise * 0.02;
                    v = sensor_def[i].base * (1.0 + 0.02 * d) + drift[d][i] +
                        sensor_def[i].cycle * sin((double)s / 86400.0 * 6.283185307179586) +
                        gauss() * sensor_def[i].noise;
                    memset(p, 0, sizeof(*p));
                    snprintf(p->sensor, sizeof(p->sensor), "%s", sensor_def[i].name);
                    p->sensor_len = (uint8_t)strlen(p->sensor);
                    p->ts_ms = T0 + s * 1000;
                    p->value = round(v * sensor_def[i].scale) / sensor_def[i].scale;
                }
                g++;
            }
        }
        b.groups = groups;
        b.n_groups = g;
        if (mdx_store_write(st, &b, &res) != MDX_OK) {
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    char dir[512], db[600], arch[600];
    int days = 3, err = 0, rc;
    struct mdx_store_conf sconf = {.backend = "sqlite", .sqlite_path = db,
                                   .busy_timeout_ms = 5000, .chunk_points = 512,
                                   .cache_series = 100000, .deadletter_max = 10000};
    struct mdx_objstore_conf oconf = {.kind = "local", .local_dir = arch};
    struct mdx_archive_conf aconf = {.after_days = 1, .expire_days = 3650, .interval_s = 3600,
                                     .max_object_mb = 256, .lease_s = 120};
    struct mdx_archive_stats s;
    struct mdx_store *st;
    struct mdx_objstore *os;
    struct mdx_archiver *ar;
    int64_t points = 0;
    double t;

    if (argc > 1) {
        char *end = NULL;
        long v;
        errno = 0;
        v = strtol(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || v < 1 || v > 60) {
            fprintf(stderr, "usage: bench_archive [days 1..60]\n");
            return 2;
        }
        days = (int)v;
    }
    mdx_log_setup(MDX_LOG_WARN, MDX_LOG_TEXT, 0);
    tmp_make(dir, sizeof(dir), "bench-archive");
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    snprintf(arch, sizeof(arch), "%s/archive", dir);
    st = mdx_store_open(&sconf, &err);
    if (st == NULL || mdx_store_tenant_add(st, "bench") != MDX_OK || load(st, days) != 0 ||
        mdx_store_point_count(st, "bench", &points) != MDX_OK) {
        fprintf(stderr, "bench_archive: loading the store failed\n");
        return 1;
    }
    os = mdx_objstore_open(&oconf, &err);
    ar = os != NULL ? mdx_archiver_create(&aconf, st, os) : NULL;
    if (ar == NULL) {
        fprintf(stderr, "bench_archive: cannot open the archive\n");
        return 1;
    }
    t = now_s();
    rc = mdx_archiver_run(ar, "bench", 0, T0 + (int64_t)(days + 1) * 86400000LL, &s);
    t = now_s() - t;
    if (rc != MDX_OK || s.points != points || s.deleted != points) {
        fprintf(stderr, "bench_archive: pass failed: %s (archived %lld of %lld points)\n",
                mdx_strerror(rc), (long long)s.points, (long long)points);
        return 1;
    }
    printf("archive: points=%lld points_per_s=%.0f bytes_per_point=%.2f objects=%lld\n",
           (long long)s.points, (double)s.points / t, (double)s.bytes / (double)s.points,
           (long long)s.objects);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
    return 0;
}
