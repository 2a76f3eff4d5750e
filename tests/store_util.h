/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_util.h - what the store tests (tests/unit/test_store*.c) share: a
 * temp SQLite database path, making points, registering a device,
 * writing one group of points and collecting a query's points. Include it
 * after check.h: the helpers CHECK() in the including test.
 */
#ifndef MODAX_TEST_STORE_UTIL_H
#define MODAX_TEST_STORE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "modax/status.h"
#include "modax/store.h"

static char tmp_db_dir_[64];
static char tmp_db_path_[128];

/* A fresh temp folder and database path in it (one at a time); NULL on failure. */
static inline const char *tmp_db_fresh(void)
{
    snprintf(tmp_db_dir_, sizeof(tmp_db_dir_), "/tmp/mdx-store-XXXXXX");
    if (mkdtemp(tmp_db_dir_) == NULL) {
        return NULL;
    }
    snprintf(tmp_db_path_, sizeof(tmp_db_path_), "%s/t.db", tmp_db_dir_);
    return tmp_db_path_;
}

/* Removes the database of tmp_db_fresh(), its WAL files and its folder. */
static inline void tmp_db_remove(void)
{
    char p[160];

    unlink(tmp_db_path_);
    snprintf(p, sizeof(p), "%s-wal", tmp_db_path_);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", tmp_db_path_);
    unlink(p);
    rmdir(tmp_db_dir_);
}

static inline void set_point(struct mdx_point *p, const char *sensor, int64_t ts, double v,
                             unsigned fl)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->sensor, sizeof(p->sensor), "%s", sensor);
    p->sensor_len = (uint8_t)strlen(p->sensor);
    p->ts_ms = ts;
    p->value = v;
    p->flags = (uint8_t)fl;
}

/* Registers 'tenant' and its 'device'; either may exist already. */
static inline void add_tenant_device(struct mdx_store *st, const char *tenant,
                                     const char *device)
{
    int rc = mdx_store_tenant_add(st, tenant);

    CHECK(rc == MDX_OK || rc == MDX_EEXIST);
    rc = mdx_store_device_add(st, tenant, device, 0);
    CHECK(rc == MDX_OK || rc == MDX_EEXIST);
}

/* Writes one group of points; returns the status, results in *res (may be NULL). */
static inline int write_points(struct mdx_store *st, const char *tenant, const char *device,
                               const struct mdx_point *pts, size_t n,
                               struct mdx_batch_result *res)
{
    struct mdx_point_group g = {tenant, device, pts, n};
    struct mdx_batch b = {0};
    struct mdx_batch_result dummy;

    b.groups = &g;
    b.n_groups = 1;
    return mdx_store_write(st, &b, res != NULL ? res : &dummy);
}

/* The points of a query, the first GOT_MAX of them kept. */
#define GOT_MAX 8192
struct got {
    int64_t ts[GOT_MAX];
    double v[GOT_MAX];
    unsigned flags[GOT_MAX];
    size_t n;
};

static inline int collect(void *arg, int64_t ts, double v, unsigned flags)
{
    struct got *g = arg;

    if (g->n < GOT_MAX) {
        g->ts[g->n] = ts;
        g->v[g->n] = v;
        g->flags[g->n] = flags;
    }
    g->n++;
    return MDX_OK;
}

/* The points of (tenant, device, sensor) in [from, to], at most 'limit' (0: all), into g. */
static inline int query_points(struct mdx_store *st, const char *tenant, const char *device,
                               const char *sensor, int64_t from, int64_t to, int64_t limit,
                               struct got *g)
{
    struct mdx_query q = {tenant, device, sensor, from, to, limit};

    g->n = 0;
    return mdx_store_query_points(st, &q, collect, g);
}

static inline int sorted_unique(const struct got *g)
{
    for (size_t i = 1; i < g->n && i < GOT_MAX; i++) {
        if (g->ts[i] <= g->ts[i - 1]) {
            return 0;
        }
    }
    return 1;
}

/* Points stored for all tenants. */
static inline int64_t count_all(struct mdx_store *st)
{
    int64_t n = -1;

    CHECK_EQ_INT(mdx_store_point_count(st, NULL, &n), MDX_OK);
    return n;
}

#endif
