/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_util.h - what the store tests (tests/unit/test_store*.c) share: a
 * temp SQLite database path, making points, registering a device,
 * writing one group of points and collecting a query's points, and the
 * harness that runs a case on both back ends (a fresh SQLite file or a
 * fresh database in this program's throwaway PostgreSQL cluster). Include
 * it after check.h: the helpers CHECK() in the including test.
 */
#ifndef MODAX_TEST_STORE_UTIL_H
#define MODAX_TEST_STORE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

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

/* ---- one case on both back ends ---- */

/* This program's PostgreSQL cluster, started by the first store_pg_fresh() and
 * removed at exit, and the url of the database store_pg_fresh() made last. */
static struct pg_cluster store_pg_cluster;
static int store_pg_cluster_ok_ = -1;
static int store_pg_db_seq_;
static char store_pg_url[256];

static inline void store_pg_cluster_cleanup_(void)
{
    pg_cluster_destroy(&store_pg_cluster);
}

/* A new empty database in the cluster, its url in store_pg_url; 0 on success. */
static inline int store_pg_fresh(void)
{
    char db[32];

    if (store_pg_cluster_ok_ < 0) {
        store_pg_cluster_ok_ = pg_cluster_init(&store_pg_cluster, 0) == 0;
        atexit(store_pg_cluster_cleanup_);
    }
    if (!store_pg_cluster_ok_) {
        return -1;
    }
    snprintf(db, sizeof(db), "s%d", ++store_pg_db_seq_);
    if (pg_cluster_create_db(&store_pg_cluster, db) != 0) {
        fprintf(stderr, "  createdb %s failed\n", db);
        return -1;
    }
    pg_cluster_url(&store_pg_cluster, db, store_pg_url, sizeof(store_pg_url));
    return 0;
}

/* A back end under test: fresh() makes an empty database, open() a store on it. */
struct store_backend {
    int (*fresh)(void);
    struct mdx_store *(*open)(void);
};

static const char *store_sqlite_path_; /* the fresh SQLite database, NULL if none */

static inline int store_sqlite_fresh_(void)
{
    store_sqlite_path_ = tmp_db_fresh();
    return store_sqlite_path_ != NULL ? 0 : -1;
}

static inline struct mdx_store *store_sqlite_open_(void)
{
    struct mdx_store_conf conf = {
        .backend = "sqlite",
        .sqlite_path = (char *)store_sqlite_path_,
        .busy_timeout_ms = 1000,
        .chunk_points = 64,
        .cache_series = 1000,
        .deadletter_max = 100,
    };
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", store_sqlite_path_, mdx_strerror(err));
    }
    return st;
}

static inline struct mdx_store *store_pg_open_(void)
{
    struct mdx_store_conf conf;
    int err = 0;
    struct mdx_store *st;

    pg_store_conf(&conf, &store_pg_cluster, store_pg_url);
    conf.cache_series = 1000;
    conf.deadletter_max = 100;
    st = mdx_store_open(&conf, &err);
    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", store_pg_url, mdx_strerror(err));
    }
    return st;
}

static const struct store_backend store_sqlite_be = {store_sqlite_fresh_, store_sqlite_open_};
static const struct store_backend store_pgsql_be = {store_pg_fresh, store_pg_open_};

/* A fresh database of 'be' and a store on it; NULL (and a failed check) if that fails. */
static inline struct mdx_store *store_open_fresh(const struct store_backend *be)
{
    struct mdx_store *st = be->fresh() == 0 ? be->open() : NULL;

    CHECK(st != NULL);
    return st;
}

/* Closes a store of store_open_fresh() and removes its SQLite database, if any. */
static inline void store_close_fresh(struct mdx_store *st)
{
    mdx_store_close(st);
    if (store_sqlite_path_ != NULL) {
        tmp_db_remove();
        store_sqlite_path_ = NULL;
    }
}

/* fn_sqlite() and fn_pgsql(): the case fn(be) on each back end ... */
#define STORE_ON_BOTH(fn)                                                                          \
    static void fn##_sqlite(void) { fn(&store_sqlite_be); }                                        \
    static void fn##_pgsql(void) { fn(&store_pgsql_be); }

/* ... and their two entries in a struct mdx_test table. */
#define STORE_CASE(title, fn) {"sqlite: " title, fn##_sqlite}, {"pgsql: " title, fn##_pgsql}

#endif
