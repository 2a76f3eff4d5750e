/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store.c - what every store back end must do, through the store
 * interface, run against SQLite (a fresh temp file per case) and against
 * PostgreSQL 15 (a fresh database per case in a throwaway cluster started
 * by the test; a missing PostgreSQL fails it): registry, batches of points
 * (appends, duplicates, late points, flags), a failed and retried batch,
 * the checkpoint, dead letters, events, last seen and point counts, a
 * small cache. What only one back end has (chunks, locking, connection
 * faults, partitions, migrations) is in test_store_sqlite.c and
 * test_store_pgsql.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "check.h"
#include "store_util.h"
#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000000000LL
#define DAY 86400000LL

/* Store options a case may ask for; the back end ignores what it has not. */
struct opts {
    int64_t chunk_points;
    int64_t cache_series;
    int64_t deadletter_max;
};

static const struct opts DEFAULTS = {64, 1000, 100};

/* A back end under test. Each case starts with fresh(), then opens. */
struct backend {
    const char *name;
    int (*fresh)(void);                          /* a new empty database; 0 on success */
    struct mdx_store *(*open)(const struct opts *o); /* the current database */
    void (*remove)(void);                        /* the current database, after the case */
    int64_t (*raw_int)(const char *sql);         /* first column of a query, -1 on error */
    int (*raw_exec)(const char *sql);            /* 1 on success */
    int (*layout_ok)(void);                      /* the back end's own invariants of its rows */
    const char *count_points_sql;                /* raw points stored */
    const char *boom_on;                         /* makes a dead letter of reason 'boom' fail */
    const char *boom_off;
    long batch_allocs;                           /* allocations a batch makes, at least */
};

/* ---- SQLite ---- */

static const char *db_path;

static int sq_fresh(void)
{
    db_path = tmp_db_fresh();
    return db_path != NULL ? 0 : -1;
}

static struct mdx_store *sq_open(const struct opts *o)
{
    struct mdx_store_conf conf = {
        .backend = "sqlite",
        .sqlite_path = (char *)db_path,
        .busy_timeout_ms = 1000,
        .chunk_points = o->chunk_points,
        .cache_series = o->cache_series,
        .deadletter_max = o->deadletter_max,
        .synchronous_full = 0,
    };
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", db_path, mdx_strerror(err));
    }
    return st;
}

static int64_t sq_raw_int(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;

    if (sqlite3_open(db_path, &db) != SQLITE_OK) {
        return -1;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        v = sqlite3_column_int64(s, 0);
    } else {
        fprintf(stderr, "  %s: %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static int sq_raw_exec(const char *sql)
{
    sqlite3 *db;
    int ok;

    if (sqlite3_open(db_path, &db) != SQLITE_OK) {
        return 0;
    }
    ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        fprintf(stderr, "  %s: %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return ok;
}

/* No two chunks of a series overlap, and none is empty or inverted. */
static int sq_layout_ok(void)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t prev_series = -1, prev_end = 0;
    int ok = 1;

    if (sqlite3_open(db_path, &db) != SQLITE_OK) {
        return 0;
    }
    sqlite3_prepare_v2(db, "SELECT series_id, t_start, t_end, n FROM chunks "
                           "ORDER BY series_id, t_start", -1, &s, NULL);
    while (sqlite3_step(s) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0), t0 = sqlite3_column_int64(s, 1);
        int64_t t1 = sqlite3_column_int64(s, 2), n = sqlite3_column_int64(s, 3);
        if (t1 < t0 || n < 1 || (id == prev_series && t0 <= prev_end)) {
            ok = 0;
        }
        prev_series = id;
        prev_end = t1;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return ok;
}

static const struct backend sqlite_be = {
    .name = "sqlite",
    .fresh = sq_fresh,
    .open = sq_open,
    .remove = tmp_db_remove,
    .raw_int = sq_raw_int,
    .raw_exec = sq_raw_exec,
    .layout_ok = sq_layout_ok,
    .count_points_sql = "SELECT COALESCE(sum(n), 0) FROM chunks",
    .boom_on = "CREATE TRIGGER boom BEFORE INSERT ON dead_letters "
               "WHEN NEW.reason = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
    .boom_off = "DROP TRIGGER boom",
    .batch_allocs = 5, /* device, series, head buffers... */
};

/* ---- PostgreSQL ---- */

/* Its cluster and fresh databases: store_pg_fresh() in store_util.h. */

static struct mdx_store *pg_open(const struct opts *o)
{
    struct mdx_store_conf conf;
    int err = 0;
    struct mdx_store *st;

    pg_store_conf(&conf, &store_pg_cluster, store_pg_url);
    conf.cache_series = o->cache_series;
    conf.deadletter_max = o->deadletter_max;
    st = mdx_store_open(&conf, &err);
    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", store_pg_url, mdx_strerror(err));
    }
    return st;
}

static void pg_remove(void)
{
    /* Databases go with the cluster at exit. */
}

static int64_t pgsql_int(const char *sql)
{
    PGconn *c = pg_raw_conn(&store_pg_cluster, store_pg_url);
    int64_t v = pg_raw_int(c, sql);

    PQfinish(c);
    return v;
}

static int pgsql_exec(const char *sql)
{
    PGconn *c = pg_raw_conn(&store_pg_cluster, store_pg_url);
    int ok = pg_raw_exec(c, sql);

    PQfinish(c);
    return ok;
}

/* Every point is in its day's partition, and counted in the rollups and its tenant. */
static int pg_layout_ok(void)
{
    int64_t points = pgsql_int("SELECT count(*) FROM points");

    return pgsql_int("SELECT count(*) FROM ONLY points") == 0 &&
           pgsql_int("SELECT COALESCE(sum(count), 0) FROM rollup_1m") == points &&
           pgsql_int("SELECT COALESCE(sum(count), 0) FROM rollup_1h") == points &&
           pgsql_int("SELECT COALESCE(sum(points), 0) FROM tenants") == points;
}

static const struct backend pgsql_be = {
    .name = "pgsql",
    .fresh = store_pg_fresh,
    .open = pg_open,
    .remove = pg_remove,
    .raw_int = pgsql_int,
    .raw_exec = pgsql_exec,
    .layout_ok = pg_layout_ok,
    .count_points_sql = "SELECT count(*) FROM points",
    .boom_on = "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$"
               " BEGIN IF NEW.reason = 'boom' THEN RAISE EXCEPTION 'boom'; END IF;"
               " RETURN NEW; END $$;"
               "CREATE TRIGGER boom BEFORE INSERT ON dead_letters"
               " FOR EACH ROW EXECUTE FUNCTION boom()",
    .boom_off = "DROP TRIGGER boom ON dead_letters",
    .batch_allocs = 0, /* caches and scratch buffers are warm from the failed try */
};

/* ---- helpers ---- */

/* A fresh database of 'be' and a store on it; NULL (and a failed check) if that fails. */
static struct mdx_store *open_fresh(const struct backend *be, const struct opts *o)
{
    struct mdx_store *st = be->fresh() == 0 ? be->open(o) : NULL;

    CHECK(st != NULL);
    return st;
}

static int query(struct mdx_store *st, const char *device, const char *sensor, int64_t from,
                 int64_t to, int64_t limit, struct got *g)
{
    return query_points(st, "acme", device, sensor, from, to, limit, g);
}

static int count_names(void *arg, const char *name)
{
    (void)name;
    (*(int *)arg)++;
    return MDX_OK;
}

static int count_devices(void *arg, const struct mdx_device_info *d)
{
    (void)d;
    (*(int *)arg)++;
    return MDX_OK;
}

static int stop_early(void *arg, const char *name)
{
    (void)name;
    (*(int *)arg)++;
    return MDX_EAGAIN;
}

/* ---- cases ---- */

static void registry_adds_lists_and_refuses(const struct backend *be)
{
    struct mdx_store *st = open_fresh(be, &DEFAULTS);
    struct mdx_device_info info;
    char long_name[80];
    int n = 0;

    if (st == NULL) {
        return;
    }
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "beta-2_x"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "a/b"), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_tenant_add(st, ""), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_tenant_add(st, long_name), MDX_EINVAL);
    long_name[64] = '\0';
    CHECK_EQ_INT(mdx_store_tenant_add(st, long_name), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_exists(st, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_tenant_exists(st, "nope"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_tenant_exists(st, "a'b"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_tenant_list(st, count_names, &n), MDX_OK);
    CHECK_EQ_INT(n, 3);
    n = 0;
    CHECK_EQ_INT(mdx_store_tenant_list(st, stop_early, &n), MDX_EAGAIN);
    CHECK_EQ_INT(n, 1);

    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-1", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-2", 1), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "beta-2_x", "press-1", 0), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "press-1", 0), MDX_EEXIST);
    CHECK_EQ_INT(mdx_store_device_add(st, "nope", "press-1", 0), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_add(st, "acme", "bad device", 0), MDX_EINVAL);

    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-2", &info), MDX_OK);
    CHECK_STR(info.tenant, "acme");
    CHECK_STR(info.device, "press-2");
    CHECK_EQ_INT(info.auto_registered, 1);
    CHECK_EQ_INT(info.last_seen_ms, 0);
    CHECK(info.created_ms > T0);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-9", &info), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_device_get(st, "nope", "press-1", &info), MDX_ENOTFOUND);

    n = 0;
    CHECK_EQ_INT(mdx_store_device_list(st, "acme", count_devices, &n), MDX_OK);
    CHECK_EQ_INT(n, 2);
    n = 0;
    CHECK_EQ_INT(mdx_store_device_list(st, NULL, count_devices, &n), MDX_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(mdx_store_device_list(st, "nope", count_devices, &n), MDX_ENOTFOUND);
    mdx_store_close(st);
    be->remove();
}

/* 600 series: 60 devices x 10 sensors, interleaved as the engine sends them. */
static void round_trips_600_interleaved_series(const struct backend *be)
{
    enum { DEVICES = 60, SENSORS = 10, STEPS = 300, PER_BATCH = 50 };
    const struct opts o = {64, 100000, 100};
    struct mdx_store *st = open_fresh(be, &o);
    struct mdx_point_group groups[DEVICES];
    struct mdx_point *pts = calloc((size_t)DEVICES * SENSORS * PER_BATCH, sizeof(*pts));
    char names[DEVICES][16];
    static struct got g;
    uint64_t written = 0;

    if (st == NULL || pts == NULL) {
        CHECK(pts != NULL);
        free(pts);
        mdx_store_close(st);
        return;
    }
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    for (int d = 0; d < DEVICES; d++) {
        snprintf(names[d], sizeof(names[d]), "dev-%02d", d);
        CHECK_EQ_INT(mdx_store_device_add(st, "acme", names[d], 0), MDX_OK);
    }
    for (int step = 0; step < STEPS; step += PER_BATCH) {
        struct mdx_batch b = {0};
        struct mdx_batch_result res;
        size_t k = 0;

        for (int d = 0; d < DEVICES; d++) {
            groups[d].tenant = "acme";
            groups[d].device = names[d];
            groups[d].points = pts + k;
            for (int i = step; i < step + PER_BATCH; i++) {
                for (int s = 0; s < SENSORS; s++) {
                    char sensor[16];
                    snprintf(sensor, sizeof(sensor), "s%d", s);
                    set_point(&pts[k++], sensor, T0 + i * 1000 + d, d * 100 + s + i * 0.25, 0);
                }
            }
            groups[d].n = (size_t)PER_BATCH * SENSORS;
        }
        b.groups = groups;
        b.n_groups = DEVICES;
        CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
        CHECK_EQ_INT(res.points_duplicate, 0);
        written += res.points_written;
    }
    CHECK_EQ_INT(written, DEVICES * SENSORS * STEPS);
    CHECK_EQ_INT(count_all(st), DEVICES * SENSORS * STEPS);

    for (int d = 0; d < DEVICES; d += 7) {
        for (int s = 0; s < SENSORS; s += 3) {
            char sensor[16];
            int bad = 0;
            snprintf(sensor, sizeof(sensor), "s%d", s);
            CHECK_EQ_INT(query(st, names[d], sensor, INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
            CHECK_EQ_INT(g.n, STEPS);
            for (int i = 0; i < STEPS && i < (int)g.n; i++) {
                if (g.ts[i] != T0 + i * 1000 + d || g.v[i] != d * 100 + s + i * 0.25) {
                    bad++;
                }
            }
            CHECK_EQ_INT(bad, 0);
        }
    }
    /* A range inside and across chunks, and a limit. */
    CHECK_EQ_INT(query(st, "dev-05", "s1", T0 + 100000, T0 + 199999, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 100);
    CHECK_EQ_INT(g.ts[0], T0 + 100005);
    CHECK_EQ_INT(query(st, "dev-05", "s1", T0 + 100000, T0 + 199999, 7, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 7);
    CHECK_EQ_INT(query(st, "dev-05", "nosensor", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 0);
    {
        int n = 0;
        CHECK_EQ_INT(mdx_store_sensor_list(st, "acme", "dev-05", count_names, &n), MDX_OK);
        CHECK_EQ_INT(n, SENSORS);
    }
    CHECK(be->layout_ok());
    mdx_store_close(st);
    free(pts);
    be->remove();
}

static void counts_duplicates_in_batch_next_batch_and_after_reopen(const struct backend *be)
{
    struct mdx_store *st = open_fresh(be, &DEFAULTS);
    struct mdx_point p[6];
    struct mdx_batch_result res;
    static struct got g;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    set_point(&p[0], "temp", T0, 1.0, 0);
    set_point(&p[1], "temp", T0 + 1000, 2.0, 0);
    set_point(&p[2], "temp", T0 + 1000, 9.0, 0); /* same ts in the same batch */
    set_point(&p[3], "temp", T0, 9.0, 0);
    set_point(&p[4], "temp", T0 + 2000, 3.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 5, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 3);
    CHECK_EQ_INT(res.points_duplicate, 2);

    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 5, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(res.points_duplicate, 5);
    mdx_store_close(st);

    st = be->open(&DEFAULTS); /* cold cache */
    if (st == NULL) {
        CHECK(0);
        return;
    }
    set_point(&p[5], "temp", T0 + 3000, 4.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 6, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 1);
    CHECK_EQ_INT(res.points_duplicate, 5);
    CHECK_EQ_INT(query(st, "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 4);
    CHECK(g.v[0] == 1.0 && g.v[1] == 2.0 && g.v[2] == 3.0 && g.v[3] == 4.0);
    CHECK_EQ_INT(count_all(st), 4);
    CHECK(be->layout_ok());
    mdx_store_close(st);
    be->remove();
}

/*
 * Even steps first, then the odd ones newest first, with repeats of both
 * kinds; 'step_ms' apart: 1 s (SQLite: into stored chunks of 16) and
 * 10 min (PostgreSQL: across three days). Then a day years ago and one
 * before 1970.
 */
static void takes_late_points_into_stored_ranges(const struct backend *be, int64_t step_ms)
{
    const struct opts o = {16, 1000, 100};
    struct mdx_store *st = open_fresh(be, &o);
    static struct mdx_point p[1000];
    struct mdx_batch_result res;
    static struct got g;
    int bad = 0;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int i = 0; i < 500; i++) {
        set_point(&p[i], "temp", T0 + i * 2 * step_ms, i * 2, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 500, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 500);
    for (int i = 0; i < 500; i++) {
        set_point(&p[i], "temp", T0 + ((499 - i) * 2 + 1) * step_ms, (499 - i) * 2 + 1, 0);
    }
    /* Half of them in one batch, the rest with repeats of both kinds in the next. */
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 250, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 250);
    for (int i = 500; i < 600; i++) {
        set_point(&p[i], "temp", T0 + (i - 500) * 2 * step_ms, -1.0, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 600, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 250);
    CHECK_EQ_INT(res.points_duplicate, 350);

    CHECK_EQ_INT(query(st, "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 1000);
    for (size_t i = 0; i < g.n && i < 1000; i++) {
        if (g.ts[i] != T0 + (int64_t)i * step_ms || g.v[i] != (double)i) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(count_all(st), 1000);
    CHECK(be->layout_ok());

    set_point(&p[0], "temp", 978307200000LL + 5000, 7.0, MDX_POINT_TS_SUBSTITUTED);
    set_point(&p[1], "temp", -DAY - 1, 8.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 2, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 2);
    CHECK_EQ_INT(query(st, "press-1", "temp", INT64_MIN, T0 - 1, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 2);
    CHECK(sorted_unique(&g));
    CHECK_EQ_INT(g.ts[0], -DAY - 1);
    CHECK_EQ_INT(g.flags[1], MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(count_all(st), 1002);
    CHECK(be->layout_ok());
    mdx_store_close(st);
    be->remove();
}

static void takes_late_points_1s(const struct backend *be)
{
    takes_late_points_into_stored_ranges(be, 1000);
}

static void takes_late_points_10min(const struct backend *be)
{
    takes_late_points_into_stored_ranges(be, 600000);
}

static void takes_points_older_than_everything(const struct backend *be)
{
    const struct opts o = {16, 1000, 100};
    struct mdx_store *st = open_fresh(be, &o);
    static struct mdx_point p[100];
    struct mdx_batch_result res;
    static struct got g;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int i = 0; i < 40; i++) {
        set_point(&p[i], "temp", T0 + 1000000 + i * 1000, 5.0, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 40, &res), MDX_OK);
    set_point(&p[0], "temp", T0, 1.0, 0); /* one point, far older */
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 1, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 1);
    for (int i = 0; i < 100; i++) { /* many, older still, more than one chunk's worth */
        set_point(&p[i], "temp", T0 - 1000 - i * 10, 2.0, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 100, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 100);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 100, &res), MDX_OK);
    CHECK_EQ_INT(res.points_duplicate, 100);
    CHECK_EQ_INT(query(st, "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 141);
    CHECK(sorted_unique(&g));
    CHECK_EQ_INT(g.ts[0], T0 - 1000 - 99 * 10);
    CHECK_EQ_INT(g.ts[100], T0);
    CHECK(be->layout_ok());
    mdx_store_close(st);
    be->remove();
}

static void keeps_flags(const struct backend *be)
{
    struct mdx_store *st = open_fresh(be, &DEFAULTS);
    struct mdx_point p[3];
    static struct got g;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    set_point(&p[0], "temp", T0 + 1000, 1.0, MDX_POINT_TS_SUBSTITUTED);
    set_point(&p[1], "temp", T0 + 2000, 1.0, 0);
    set_point(&p[2], "temp", T0 + 500, 1.0, MDX_POINT_TS_SUBSTITUTED); /* merged path */
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 3, NULL), MDX_OK);
    CHECK_EQ_INT(query(st, "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_INT(g.flags[0], MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(g.flags[1], MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(g.flags[2], 0);
    mdx_store_close(st);
    be->remove();
}

/* A batch touching every path: new series, appends, late points, repeats. */
static size_t mixed_batch(struct mdx_point *p, int round)
{
    size_t k = 0;

    for (int i = 0; i < 40; i++) {
        set_point(&p[k++], "temp", T0 + 100000 + round * 40000 + i * 1000, i, 0);
        set_point(&p[k++], "new", T0 + round * 40000 + i * 1000, -i, 0);
    }
    for (int i = 0; i < 20; i++) {
        set_point(&p[k++], "temp", T0 + i * 997, 7.5, 0); /* older than everything */
        set_point(&p[k++], "temp", T0 + 100000 + round * 40000 + i * 1000, 0.5, 0); /* repeat */
    }
    return k;
}

static void retried_batch_after_failure_is_exactly_once(const struct backend *be)
{
    const struct opts o = {16, 1000, 100};
    struct mdx_store *st = open_fresh(be, &o);
    static struct mdx_point p[200];
    struct mdx_point_group g = {"acme", "press-1", p, 0};
    struct mdx_deadletter dl = {0, T0, "boom", "modax/acme/press-1/sensor_data",
                                (const uint8_t *)"x", 1, 1};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_spool_pos pos;
    static struct got q;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    g.n = mixed_batch(p, 0);
    b.groups = &g;
    b.n_groups = 1;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 100);

    /* The next batch fails at its very end: nothing of it may stay. */
    CHECK(be->raw_exec(be->boom_on));
    g.n = mixed_batch(p, 1);
    b.dead = &dl;
    b.n_dead = 1;
    b.has_checkpoint = 1;
    b.checkpoint_owner = "worker-a";
    b.checkpoint.segment = 3;
    b.checkpoint.offset = 4096;
    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_TEXT, 0);
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_ESTORE);
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    CHECK_EQ_INT(count_all(st), 100);
    CHECK_EQ_INT(be->raw_int(be->count_points_sql), 100);
    CHECK_EQ_INT(be->raw_int("SELECT COALESCE(sum(count), 0) FROM rollup_1m"), 100);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 0 && pos.offset == 0);

    /* Allocation failures anywhere in the batch also leave nothing behind. */
    CHECK(be->raw_exec(be->boom_off));
    for (long n = 0; n < 10000; n++) {
        mdx_alloc_fail_after(n);
        int rc = mdx_store_write(st, &b, &res);
        mdx_alloc_fail_after(-1);
        if (rc == MDX_OK) {
            CHECK(n >= be->batch_allocs); /* each of them failed once */
            break;
        }
        CHECK_EQ_INT(rc, MDX_ENOMEM);
        CHECK_EQ_INT(count_all(st), 100);
        if (rc != MDX_ENOMEM) {
            break;
        }
    }
    CHECK_EQ_INT(res.points_written, 80); /* the 20 old and 20 repeated "temp" are not new */
    CHECK_EQ_INT(res.points_duplicate, 40);
    CHECK_EQ_INT(count_all(st), 180);
    CHECK_EQ_INT(be->raw_int(be->count_points_sql), 180);
    CHECK_EQ_INT(be->raw_int("SELECT sum(count) FROM rollup_1m"), 180);
    CHECK_EQ_INT(be->raw_int("SELECT sum(count) FROM rollup_1h"), 180);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 3 && pos.offset == 4096);

    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(res.points_duplicate, g.n);
    CHECK_EQ_INT(query(st, "press-1", "temp", INT64_MIN, INT64_MAX, 0, &q), MDX_OK);
    CHECK_EQ_INT(q.n, 100);
    CHECK(sorted_unique(&q));
    CHECK_EQ_INT(query(st, "press-1", "new", INT64_MIN, INT64_MAX, 0, &q), MDX_OK);
    CHECK_EQ_INT(q.n, 80);
    CHECK(be->layout_ok());
    mdx_store_close(st);
    be->remove();
}

static void saves_checkpoint_with_the_batch(const struct backend *be)
{
    struct mdx_store *st = open_fresh(be, &DEFAULTS);
    struct mdx_point p;
    struct mdx_point_group g = {"acme", "press-1", &p, 1};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_spool_pos pos = {9, 9};

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 0 && pos.offset == 0);
    set_point(&p, "temp", T0, 1.0, 0);
    b.groups = &g;
    b.n_groups = 1;
    b.has_checkpoint = 1;
    b.checkpoint_owner = "worker-a";
    b.checkpoint.segment = 1;
    b.checkpoint.offset = 100;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 1 && pos.offset == 100);
    /* Points of a device not registered (deleted since the ingest checked it) are refused
     * as a dead letter "unknown device"; the rest of the batch is stored. */
    g.device = "ghost";
    b.checkpoint.offset = 200;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 1 && pos.offset == 200);
    {
        struct mdx_device_info info;
        CHECK_EQ_INT(mdx_store_device_get(st, "acme", "ghost", &info), MDX_ENOTFOUND);
    }
    /* A batch with only a checkpoint. */
    b.n_groups = 0;
    b.checkpoint.segment = UINT64_MAX;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == UINT64_MAX && pos.offset == 200);
    /* Each worker has its own. */
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-b", &pos), MDX_OK);
    CHECK(pos.segment == 0 && pos.offset == 0);
    mdx_store_close(st);
    be->remove();
}

struct dl_seen {
    int n;
    int64_t first_id, last_id, first_recv;
    size_t first_len, first_orig;
    int ordered, payload_ok;
    int64_t a, b;
};

static int dl_collect(void *arg, const struct mdx_deadletter *dl)
{
    struct dl_seen *s = arg;

    if (s->n == 0) {
        s->first_id = dl->id;
        s->first_recv = dl->recv_ms;
        s->first_len = dl->payload_len;
        s->first_orig = dl->orig_len;
        s->payload_ok = dl->payload_len > 0 && dl->payload[0] == 'x' && dl->payload[10] == 0 &&
                        dl->payload[dl->payload_len - 1] == 'x';
    } else if (dl->id >= s->last_id) {
        s->ordered = 0;
    }
    s->last_id = dl->id;
    s->n++;
    return MDX_OK;
}

static int dl_counts(void *arg, const char *reason, int64_t count)
{
    struct dl_seen *s = arg;

    if (strcmp(reason, "bad json") == 0) {
        s->a = count;
    } else if (strcmp(reason, "bad topic") == 0) {
        s->b = count;
    }
    return MDX_OK;
}

static void evicts_oldest_dead_letters_and_counts_reasons(const struct backend *be)
{
    const struct opts o = {64, 1000, 10};
    struct mdx_store *st = open_fresh(be, &o);
    static uint8_t big[6000];
    struct mdx_deadletter dl[9];
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct dl_seen s = {0};

    if (st == NULL) {
        return;
    }
    memset(big, 'x', sizeof(big));
    big[10] = 0; /* binary payloads survive */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 9; i++) {
            dl[i] = (struct mdx_deadletter){0, T0 + round * 9 + i,
                                            i % 3 ? "bad json" : "bad topic", "modax/a/b/c",
                                            big, (size_t)(i + 1) * 100, (size_t)(i + 1) * 100};
        }
        dl[8].payload_len = sizeof(big); /* the caller passed too much: cut to 4 KiB */
        dl[8].orig_len = 100000;
        b.dead = dl;
        b.n_dead = 9;
        CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    }
    s.ordered = 1;
    CHECK_EQ_INT(mdx_store_deadletter_list(st, 0, dl_collect, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 10);
    CHECK(s.ordered);
    CHECK(s.payload_ok);
    CHECK_EQ_INT(s.first_recv, T0 + 26);
    CHECK_EQ_INT(s.first_len, MDX_DEADLETTER_PAYLOAD_MAX);
    CHECK_EQ_INT(s.first_orig, 100000);
    CHECK_EQ_INT(s.first_id - s.last_id, 9);
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(mdx_store_deadletter_list(st, 3, dl_collect, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(mdx_store_deadletter_counts(st, dl_counts, &s), MDX_OK);
    CHECK_EQ_INT(s.a, 18);
    CHECK_EQ_INT(s.b, 9);
    mdx_store_close(st);
    be->remove();
}

struct ev_seen {
    int n;
    int64_t ts[8];
    char body0[MDX_EVENT_BODY_MAX];
};

static int ev_collect(void *arg, const struct mdx_event *ev)
{
    struct ev_seen *s = arg;

    if (s->n == 0) {
        snprintf(s->body0, sizeof(s->body0), "%s", ev->body);
    }
    if (s->n < 8) {
        s->ts[s->n] = ev->ts_ms;
    }
    s->n++;
    return MDX_OK;
}

static void ignores_redelivered_events(const struct backend *be)
{
    struct mdx_store *st = open_fresh(be, &DEFAULTS);
    static struct mdx_event ev[3];
    struct mdx_event_rec rec[4];
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_device_info info;
    struct ev_seen s = {0};

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    ev[0] = (struct mdx_event){MDX_MSG_SAFETY, T0, 0, "{\"estop\":true}", 0, 0};
    ev[1] = (struct mdx_event){MDX_MSG_STATUS, T0 + 5000, 0, "{\"state\":\"run\"}", 0, 0};
    ev[2] = (struct mdx_event){MDX_MSG_SAFETY, T0, 0, "{\"estop\":false}", 0, 0};
    for (int i = 0; i < 4; i++) {
        rec[i] = (struct mdx_event_rec){"acme", "press-1", &ev[i % 3], T0 + 9000 + i};
    }
    b.events = rec;
    b.n_events = 4; /* rec[3] repeats rec[0] */
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(mdx_store_event_list(st, "acme", "press-1", 0, ev_collect, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.ts[0], T0 + 5000);
    CHECK_STR(s.body0, "{\"state\":\"run\"}");
    memset(&s, 0, sizeof(s));
    CHECK_EQ_INT(mdx_store_event_list(st, "acme", "press-1", 1, ev_collect, &s), MDX_OK);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_OK);
    CHECK_EQ_INT(info.last_seen_ms, T0 + 9003);
    mdx_store_close(st);
    be->remove();
}

static void tracks_last_seen_and_point_counts_per_tenant(const struct backend *be)
{
    struct mdx_store *st = open_fresh(be, &DEFAULTS);
    struct mdx_point p[3];
    struct mdx_device_info info;
    int64_t n = -1;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "beta", "press-1");
    set_point(&p[0], "temp", T0 + 3000, 1.0, 0);
    set_point(&p[1], "temp", T0 + 1000, 1.0, 0);
    set_point(&p[2], "rpm", T0 + 2000, 1.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 3, NULL), MDX_OK);
    CHECK_EQ_INT(write_points(st, "beta", "press-1", p, 1, NULL), MDX_OK);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p + 1, 1, NULL), MDX_OK); /* older */
    CHECK_EQ_INT(mdx_store_device_get(st, "acme", "press-1", &info), MDX_OK);
    CHECK_EQ_INT(info.last_seen_ms, T0 + 3000);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &n), MDX_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(mdx_store_point_count(st, "beta", &n), MDX_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(mdx_store_point_count(st, "nope", &n), MDX_ENOTFOUND);
    CHECK_EQ_INT(count_all(st), 4);
    mdx_store_close(st);
    be->remove();
}

/* A cache far smaller than the series in use still gives exact results. */
static void small_cache_evicts_and_reloads(const struct backend *be)
{
    const struct opts o = {16, 16, 100};
    struct mdx_store *st = open_fresh(be, &o);
    static struct mdx_point p[200];
    struct mdx_batch_result res;
    static struct got g;
    uint64_t written = 0, dup = 0;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 200; i++) {
            char sensor[16];
            snprintf(sensor, sizeof(sensor), "s%d", i % 50);
            set_point(&p[i], sensor, T0 + (round * 4 + i / 50) * 1000 - (round % 2) * 2000, i, 0);
        }
        CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 200, &res), MDX_OK);
        written += res.points_written;
        dup += res.points_duplicate;
    }
    /* Odd rounds repeat the last two seconds of the round before. */
    CHECK_EQ_INT(written + dup, 2000);
    CHECK_EQ_INT(dup, 5 * 100);
    CHECK_EQ_INT(count_all(st), (int64_t)written);
    CHECK_EQ_INT(query(st, "press-1", "s7", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, written / 50);
    CHECK(sorted_unique(&g));
    CHECK(be->layout_ok());
    mdx_store_close(st);
    be->remove();
}

/* ---- every case on every back end ---- */

#define ON_BOTH(fn)                                                                                \
    static void fn##_sqlite(void)                                                                  \
    {                                                                                              \
        fn(&sqlite_be);                                                                            \
    }                                                                                              \
    static void fn##_pgsql(void)                                                                   \
    {                                                                                              \
        fn(&pgsql_be);                                                                             \
    }

ON_BOTH(registry_adds_lists_and_refuses)
ON_BOTH(round_trips_600_interleaved_series)
ON_BOTH(counts_duplicates_in_batch_next_batch_and_after_reopen)
ON_BOTH(takes_late_points_1s)
ON_BOTH(takes_late_points_10min)
ON_BOTH(takes_points_older_than_everything)
ON_BOTH(keeps_flags)
ON_BOTH(retried_batch_after_failure_is_exactly_once)
ON_BOTH(saves_checkpoint_with_the_batch)
ON_BOTH(evicts_oldest_dead_letters_and_counts_reasons)
ON_BOTH(ignores_redelivered_events)
ON_BOTH(tracks_last_seen_and_point_counts_per_tenant)
ON_BOTH(small_cache_evicts_and_reloads)

#define CASE(title, fn) {"sqlite: " title, fn##_sqlite}, {"pgsql: " title, fn##_pgsql}

static const struct mdx_test tests[] = {
    CASE("store registry adds, lists and refuses", registry_adds_lists_and_refuses),
    CASE("store round-trips 600 interleaved series", round_trips_600_interleaved_series),
    CASE("store counts duplicates in a batch, the next one and after reopen",
         counts_duplicates_in_batch_next_batch_and_after_reopen),
    CASE("store takes late points 1 s apart, and days long ago", takes_late_points_1s),
    CASE("store takes late points 10 min apart, across days", takes_late_points_10min),
    CASE("store takes points older than everything stored", takes_points_older_than_everything),
    CASE("store keeps the ts-substituted flag", keeps_flags),
    CASE("store retried batch after a failure is exactly-once",
         retried_batch_after_failure_is_exactly_once),
    CASE("store saves the checkpoint with the batch", saves_checkpoint_with_the_batch),
    CASE("store evicts the oldest dead letters and counts reasons",
         evicts_oldest_dead_letters_and_counts_reasons),
    CASE("store ignores redelivered events", ignores_redelivered_events),
    CASE("store tracks last seen and point counts per tenant",
         tracks_last_seen_and_point_counts_per_tenant),
    CASE("store small cache evicts and reloads", small_cache_evicts_and_reloads),
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
