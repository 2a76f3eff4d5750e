/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_sqlite.c - the SQLite store through the store interface:
 * registry, batches of points (appends, duplicates, late points), events,
 * dead letters, the checkpoint, failed batches and a locked database.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store/migrations_sqlite.h"

#define T0 1760000000000LL

static char tmp_dir[64];
static char db_path[128];

/* A fresh temp folder and database path per test. */
static const char *fresh_path(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/mdx-store-XXXXXX");
    if (mkdtemp(tmp_dir) == NULL) {
        return NULL;
    }
    snprintf(db_path, sizeof(db_path), "%s/t.db", tmp_dir);
    return db_path;
}

static void remove_path(void)
{
    char p[160];

    unlink(db_path);
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
    rmdir(tmp_dir);
}

static struct mdx_store *open_with(const char *path, int64_t chunk_points, int64_t cache_series,
                                   int64_t deadletter_max, int64_t busy_ms)
{
    struct mdx_store_conf conf = {
        .backend = "sqlite",
        .sqlite_path = (char *)path,
        .busy_timeout_ms = busy_ms,
        .chunk_points = chunk_points,
        .cache_series = cache_series,
        .deadletter_max = deadletter_max,
        .synchronous_full = 0,
    };
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", path, mdx_strerror(err));
    }
    return st;
}

static struct mdx_store *open_default(const char *path)
{
    return open_with(path, 64, 1000, 100, 1000);
}

static void set_point(struct mdx_point *p, const char *sensor, int64_t ts, double v, unsigned fl)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->sensor, sizeof(p->sensor), "%s", sensor);
    p->sensor_len = (uint8_t)strlen(p->sensor);
    p->ts_ms = ts;
    p->value = v;
    p->flags = (uint8_t)fl;
}

static void add_tenant_device(struct mdx_store *st, const char *tenant, const char *device)
{
    int rc = mdx_store_tenant_add(st, tenant);

    CHECK(rc == MDX_OK || rc == MDX_EEXIST);
    rc = mdx_store_device_add(st, tenant, device, 0);
    CHECK(rc == MDX_OK || rc == MDX_EEXIST);
}

/* Writes one group of points; returns the status, results in *res. */
static int write_points(struct mdx_store *st, const char *tenant, const char *device,
                        const struct mdx_point *pts, size_t n, struct mdx_batch_result *res)
{
    struct mdx_point_group g = {tenant, device, pts, n};
    struct mdx_batch b = {0};
    struct mdx_batch_result dummy;

    b.groups = &g;
    b.n_groups = 1;
    return mdx_store_write(st, &b, res != NULL ? res : &dummy);
}

struct got {
    int64_t ts[8192];
    double v[8192];
    unsigned flags[8192];
    size_t n;
};

static int collect(void *arg, int64_t ts, double v, unsigned flags)
{
    struct got *g = arg;

    if (g->n < 8192) {
        g->ts[g->n] = ts;
        g->v[g->n] = v;
        g->flags[g->n] = flags;
    }
    g->n++;
    return MDX_OK;
}

static int query(struct mdx_store *st, const char *tenant, const char *device, const char *sensor,
                 int64_t from, int64_t to, int64_t limit, struct got *g)
{
    struct mdx_query q = {tenant, device, sensor, from, to, limit};

    g->n = 0;
    return mdx_store_query_points(st, &q, collect, g);
}

static int sorted_unique(const struct got *g)
{
    for (size_t i = 1; i < g->n && i < 8192; i++) {
        if (g->ts[i] <= g->ts[i - 1]) {
            return 0;
        }
    }
    return 1;
}

static int64_t count_all(struct mdx_store *st)
{
    int64_t n = -1;

    CHECK_EQ_INT(mdx_store_point_count(st, NULL, &n), MDX_OK);
    return n;
}

/* Checks with a second connection that no two chunks of a series overlap. */
static int chunks_disjoint(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t prev_series = -1, prev_end = 0;
    int ok = 1;

    if (sqlite3_open(path, &db) != SQLITE_OK) {
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

/* ---- tests ---- */

static void store_registry_adds_lists_and_refuses(void)
{
    struct mdx_store *st = open_default(":memory:");
    struct mdx_device_info info;
    char long_name[80];
    int n = 0;

    if (st == NULL) {
        CHECK(0);
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
}

static void store_refuses_bad_open(void)
{
    struct mdx_store_conf conf = {.backend = "nosuch", .sqlite_path = ":memory:",
                                  .busy_timeout_ms = 100, .chunk_points = 64,
                                  .cache_series = 100, .deadletter_max = 100};
    int err = 0;

    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    conf.backend = "sqlite";
    conf.sqlite_path = "/nonexistent-dir/x/y.db";
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_EIO);
    conf.sqlite_path = ":memory:";
    conf.chunk_points = 3;
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_EINVAL);
    mdx_store_close(NULL);
}

/* 600 series: 60 devices x 10 sensors, interleaved as the engine sends them. */
static void store_round_trips_600_interleaved_series(void)
{
    enum { DEVICES = 60, SENSORS = 10, STEPS = 300, PER_BATCH = 50 };
    const char *path = fresh_path();
    struct mdx_store *st = open_with(path, 64, 100000, 100, 1000);
    struct mdx_point_group groups[DEVICES];
    struct mdx_point *pts = calloc((size_t)DEVICES * SENSORS * PER_BATCH, sizeof(*pts));
    char names[DEVICES][16];
    static struct got g;
    uint64_t written = 0;

    if (st == NULL || pts == NULL) {
        CHECK(0);
        free(pts);
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
            CHECK_EQ_INT(query(st, "acme", names[d], sensor, INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
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
    CHECK_EQ_INT(query(st, "acme", "dev-05", "s1", T0 + 100000, T0 + 199999, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 100);
    CHECK_EQ_INT(g.ts[0], T0 + 100005);
    CHECK_EQ_INT(query(st, "acme", "dev-05", "s1", T0 + 100000, T0 + 199999, 7, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 7);
    CHECK_EQ_INT(query(st, "acme", "dev-05", "nosensor", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 0);
    {
        int n = 0;
        CHECK_EQ_INT(mdx_store_sensor_list(st, "acme", "dev-05", count_names, &n), MDX_OK);
        CHECK_EQ_INT(n, SENSORS);
    }
    CHECK(chunks_disjoint(path));
    mdx_store_close(st);
    free(pts);
    remove_path();
}

static void store_counts_duplicates_in_batch_next_batch_and_after_reopen(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_default(path);
    struct mdx_point p[6];
    struct mdx_batch_result res;
    static struct got g;

    if (st == NULL) {
        CHECK(0);
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

    st = open_default(path); /* cold cache */
    if (st == NULL) {
        CHECK(0);
        return;
    }
    set_point(&p[5], "temp", T0 + 3000, 4.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 6, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 1);
    CHECK_EQ_INT(res.points_duplicate, 5);
    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 4);
    CHECK(g.v[0] == 1.0 && g.v[1] == 2.0 && g.v[2] == 3.0 && g.v[3] == 4.0);
    CHECK_EQ_INT(count_all(st), 4);
    mdx_store_close(st);
    remove_path();
}

/* Even seconds first, in several chunks; then the odd ones, newest first. */
static void store_merges_late_points_into_old_chunks(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_with(path, 16, 1000, 100, 1000);
    static struct mdx_point p[1000];
    struct mdx_batch_result res;
    static struct got g;
    int bad = 0;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int i = 0; i < 500; i++) {
        set_point(&p[i], "temp", T0 + i * 2000, i * 2, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 500, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 500);
    for (int i = 0; i < 500; i++) {
        set_point(&p[i], "temp", T0 + (499 - i) * 2000 + 1000, (499 - i) * 2 + 1, 0);
    }
    /* Half of them in one batch, the rest with repeats of both kinds in the next. */
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 250, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 250);
    for (int i = 500; i < 600; i++) {
        set_point(&p[i], "temp", T0 + (i - 500) * 2000, -1.0, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 600, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 250);
    CHECK_EQ_INT(res.points_duplicate, 350);

    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 1000);
    for (size_t i = 0; i < g.n && i < 1000; i++) {
        if (g.ts[i] != T0 + (int64_t)i * 1000 || g.v[i] != (double)i) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(count_all(st), 1000);
    CHECK(chunks_disjoint(path));
    mdx_store_close(st);
    remove_path();
}

static void store_takes_points_older_than_every_chunk(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_with(path, 16, 1000, 100, 1000);
    static struct mdx_point p[100];
    struct mdx_batch_result res;
    static struct got g;

    if (st == NULL) {
        CHECK(0);
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
    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 141);
    CHECK(sorted_unique(&g));
    CHECK_EQ_INT(g.ts[0], T0 - 1000 - 99 * 10);
    CHECK_EQ_INT(g.ts[100], T0);
    CHECK(chunks_disjoint(path));
    mdx_store_close(st);
    remove_path();
}

static void store_keeps_flags(void)
{
    struct mdx_store *st = open_default(":memory:");
    struct mdx_point p[3];
    static struct got g;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    set_point(&p[0], "temp", T0 + 1000, 1.0, MDX_POINT_TS_SUBSTITUTED);
    set_point(&p[1], "temp", T0 + 2000, 1.0, 0);
    set_point(&p[2], "temp", T0 + 500, 1.0, MDX_POINT_TS_SUBSTITUTED); /* merged path */
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 3, NULL), MDX_OK);
    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_INT(g.flags[0], MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(g.flags[1], MDX_POINT_TS_SUBSTITUTED);
    CHECK_EQ_INT(g.flags[2], 0);
    mdx_store_close(st);
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

static void store_retried_batch_after_failure_is_exactly_once(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_with(path, 16, 1000, 100, 1000);
    static struct mdx_point p[200];
    struct mdx_point_group g = {"acme", "press-1", p, 0};
    struct mdx_deadletter dl = {0, T0, "boom", "modax/acme/press-1/sensor_data",
                                (const uint8_t *)"x", 1, 1};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_spool_pos pos;
    static struct got q;
    sqlite3 *db;

    if (st == NULL || sqlite3_open(path, &db) != SQLITE_OK) {
        CHECK(0);
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    g.n = mixed_batch(p, 0);
    b.groups = &g;
    b.n_groups = 1;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 100);

    /* The next batch fails at its very end: nothing of it may stay. */
    CHECK_EQ_INT(sqlite3_exec(db,
                              "CREATE TRIGGER boom BEFORE INSERT ON dead_letters "
                              "WHEN NEW.reason = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    g.n = mixed_batch(p, 1);
    b.dead = &dl;
    b.n_dead = 1;
    b.has_checkpoint = 1;
    b.checkpoint_owner = "worker-a";
    b.checkpoint.segment = 3;
    b.checkpoint.offset = 4096;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_ESTORE);
    CHECK_EQ_INT(count_all(st), 100);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 0 && pos.offset == 0);

    /* Allocation failures anywhere in the batch also leave nothing behind. */
    sqlite3_exec(db, "DROP TRIGGER boom", NULL, NULL, NULL);
    for (long n = 0; n < 10000; n++) {
        mdx_alloc_fail_after(n);
        int rc = mdx_store_write(st, &b, &res);
        mdx_alloc_fail_after(-1);
        if (rc == MDX_OK) {
            CHECK(n >= 5); /* device, series, head buffers... each failed once */
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
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 3 && pos.offset == 4096);

    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(res.points_duplicate, g.n);
    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &q), MDX_OK);
    CHECK_EQ_INT(q.n, 100);
    CHECK(sorted_unique(&q));
    CHECK_EQ_INT(query(st, "acme", "press-1", "new", INT64_MIN, INT64_MAX, 0, &q), MDX_OK);
    CHECK_EQ_INT(q.n, 80);
    CHECK(chunks_disjoint(path));
    sqlite3_close(db);
    mdx_store_close(st);
    remove_path();
}

static void store_saves_checkpoint_with_the_batch(void)
{
    struct mdx_store *st = open_default(":memory:");
    struct mdx_point p;
    struct mdx_point_group g = {"acme", "press-1", &p, 1};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_spool_pos pos = {9, 9};

    if (st == NULL) {
        CHECK(0);
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
    /* A batch for an unregistered device fails as a whole. */
    g.device = "ghost";
    b.checkpoint.offset = 200;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == 1 && pos.offset == 100);
    /* A batch with only a checkpoint. */
    b.n_groups = 0;
    b.checkpoint.segment = UINT64_MAX;
    CHECK_EQ_INT(mdx_store_write(st, &b, &res), MDX_OK);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "worker-a", &pos), MDX_OK);
    CHECK(pos.segment == UINT64_MAX && pos.offset == 200);
    mdx_store_close(st);
}

struct dl_seen {
    int n;
    int64_t first_id, last_id;
    int64_t first_recv;
    size_t first_len, first_orig;
    int ordered;
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

static void store_evicts_oldest_dead_letters_and_counts_reasons(void)
{
    struct mdx_store *st = open_with(":memory:", 64, 1000, 10, 1000);
    static uint8_t big[6000];
    struct mdx_deadletter dl[9];
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct dl_seen s = {0};

    if (st == NULL) {
        CHECK(0);
        return;
    }
    memset(big, 'x', sizeof(big));
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

static void store_ignores_redelivered_events(void)
{
    struct mdx_store *st = open_default(":memory:");
    static struct mdx_event ev[3];
    struct mdx_event_rec rec[4];
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_device_info info;
    struct ev_seen s = {0};

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    ev[0] = (struct mdx_event){MDX_MSG_SAFETY, T0, 0, "{\"estop\":true}"};
    ev[1] = (struct mdx_event){MDX_MSG_STATUS, T0 + 5000, 0, "{\"state\":\"run\"}"};
    ev[2] = (struct mdx_event){MDX_MSG_SAFETY, T0, 0, "{\"estop\":false}"};
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
}

static void store_tracks_last_seen_and_point_counts_per_tenant(void)
{
    struct mdx_store *st = open_default(":memory:");
    struct mdx_point p[3];
    struct mdx_device_info info;
    int64_t n = -1;

    if (st == NULL) {
        CHECK(0);
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
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void store_returns_busy_while_locked_then_succeeds(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_with(path, 64, 1000, 100, 150);
    struct mdx_point p[50];
    struct mdx_batch_result res;
    static struct got g;
    sqlite3 *other;
    int64_t t;

    if (st == NULL || sqlite3_open(path, &other) != SQLITE_OK) {
        CHECK(0);
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int i = 0; i < 50; i++) {
        set_point(&p[i], i % 2 ? "rpm" : "temp", T0 + i * 1000, i, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 20, &res), MDX_OK);
    CHECK_EQ_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    t = mono_ms();
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 50, &res), MDX_EBUSY);
    CHECK(mono_ms() - t >= 100);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 50, &res), MDX_EBUSY);
    /* Reads go on while the writer is locked out. */
    CHECK_EQ_INT(count_all(st), 20);
    CHECK_EQ_INT(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 50, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 30);
    CHECK_EQ_INT(res.points_duplicate, 20);
    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 25);
    sqlite3_close(other);
    mdx_store_close(st);
    remove_path();
}

/* A cache far smaller than the series in use still gives exact results. */
static void store_small_cache_evicts_and_reloads_heads(void)
{
    struct mdx_store *st = open_with(":memory:", 16, 16, 100, 1000);
    static struct mdx_point p[200];
    struct mdx_batch_result res;
    static struct got g;
    uint64_t written = 0, dup = 0;

    if (st == NULL) {
        CHECK(0);
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
    CHECK_EQ_INT(query(st, "acme", "press-1", "s7", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, written / 50);
    CHECK(sorted_unique(&g));
    mdx_store_close(st);
}

static void store_migrates_once_and_reopens(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_default(path);
    sqlite3 *db;
    sqlite3_stmt *s;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    mdx_store_close(st);
    st = open_default(path);
    CHECK(st != NULL);
    mdx_store_close(st);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(version) FROM schema_migrations", -1, &s, NULL);
    CHECK_EQ_INT(sqlite3_step(s), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(s, 0), mdx_sqlite_schema_version());
    CHECK_EQ_INT(sqlite3_column_int(s, 1), mdx_sqlite_schema_version());
    sqlite3_finalize(s);
    /* A database from a newer program is refused. */
    sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, 0)", NULL, NULL, NULL);
    sqlite3_close(db);
    st = open_default(path);
    CHECK(st == NULL);
    mdx_store_close(st);
    remove_path();
}

static void store_reports_corrupt_chunks(void)
{
    const char *path = fresh_path();
    struct mdx_store *st = open_default(path);
    struct mdx_point p[3];
    static struct got g;
    sqlite3 *db;

    if (st == NULL) {
        CHECK(0);
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int i = 0; i < 3; i++) {
        set_point(&p[i], "temp", T0 + i * 1000, i, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 3, NULL), MDX_OK);
    mdx_store_close(st);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE chunks SET data = substr(data, 1, length(data) - 2)", NULL, NULL,
                 NULL);
    sqlite3_close(db);
    st = open_default(path);
    if (st == NULL) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(query(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g),
                 MDX_ECORRUPT);
    set_point(&p[0], "temp", T0 + 9000, 1.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 1, NULL), MDX_ECORRUPT);
    mdx_store_close(st);
    remove_path();
}

static const struct mdx_test tests[] = {
    {"store registry adds, lists and refuses", store_registry_adds_lists_and_refuses},
    {"store refuses a bad open", store_refuses_bad_open},
    {"store round-trips 600 interleaved series", store_round_trips_600_interleaved_series},
    {"store counts duplicates in a batch, the next one and after reopen",
     store_counts_duplicates_in_batch_next_batch_and_after_reopen},
    {"store merges late points into old chunks", store_merges_late_points_into_old_chunks},
    {"store takes points older than every chunk", store_takes_points_older_than_every_chunk},
    {"store keeps the ts-substituted flag", store_keeps_flags},
    {"store retried batch after a failure is exactly-once",
     store_retried_batch_after_failure_is_exactly_once},
    {"store saves the checkpoint with the batch", store_saves_checkpoint_with_the_batch},
    {"store evicts the oldest dead letters and counts reasons",
     store_evicts_oldest_dead_letters_and_counts_reasons},
    {"store ignores redelivered events", store_ignores_redelivered_events},
    {"store tracks last seen and point counts per tenant",
     store_tracks_last_seen_and_point_counts_per_tenant},
    {"store returns busy while locked, then succeeds",
     store_returns_busy_while_locked_then_succeeds},
    {"store small cache evicts and reloads heads", store_small_cache_evicts_and_reloads_heads},
    {"store migrates once and reopens", store_migrates_once_and_reopens},
    {"store reports corrupt chunks", store_reports_corrupt_chunks},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
