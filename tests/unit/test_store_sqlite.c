/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_sqlite.c - what only the SQLite store has, through the store
 * interface: a bad open, a locked database, migrations of the file, and
 * damaged chunks. What every back end does (registry, batches, duplicates,
 * late points into stored chunks, events, dead letters, the checkpoint, a
 * failed batch) is checked on both in test_store.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "store_util.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store/sqlite/migrations.h"

#define T0 1760000000000LL

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

/* ---- tests ---- */

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

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void store_returns_busy_while_locked_then_succeeds(void)
{
    const char *path = tmp_db_fresh();
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
    CHECK_EQ_INT(query_points(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 25);
    sqlite3_close(other);
    mdx_store_close(st);
    tmp_db_remove();
}

/*
 * Two writers on one database (two workers of a Kafka group after a rebalance,
 * or shared MQTT subscriptions): each caches the head chunk of a series, and
 * neither may write back a head that lacks the other's points.
 */
static void two_writers_on_one_series_keep_each_others_points(void)
{
    const char *path = tmp_db_fresh();
    struct mdx_store *a = open_default(path), *b = open_default(path);
    struct mdx_point p[8];
    struct mdx_batch_result res;
    static struct got g;

    if (a == NULL || b == NULL) {
        CHECK(0);
        mdx_store_close(a);
        mdx_store_close(b);
        return;
    }
    add_tenant_device(a, "acme", "press-1");
    for (int i = 0; i < 8; i++) {
        set_point(&p[i], "rpm", T0 + i * 1000, i, 0);
    }
    /* a, b, a, b, ...: each append lands in the same head chunk. */
    for (int i = 0; i < 8; i++) {
        CHECK_EQ_INT(write_points(i % 2 ? b : a, "acme", "press-1", &p[i], 1, &res), MDX_OK);
        CHECK_EQ_INT(res.points_written, 1);
    }
    CHECK_EQ_INT(query_points(a, "acme", "press-1", "rpm", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 8);
    CHECK_EQ_INT(query_points(b, "acme", "press-1", "rpm", INT64_MIN, INT64_MAX, 0, &g), MDX_OK);
    CHECK_EQ_INT(g.n, 8);
    /* A point the other writer stored is a duplicate here too. */
    CHECK_EQ_INT(write_points(a, "acme", "press-1", &p[7], 1, &res), MDX_OK);
    CHECK_EQ_INT(res.points_duplicate, 1);
    mdx_store_close(a);
    mdx_store_close(b);
    tmp_db_remove();
}

static void store_migrates_once_and_reopens(void)
{
    const char *path = tmp_db_fresh();
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
    tmp_db_remove();
}

static void store_reports_corrupt_chunks(void)
{
    const char *path = tmp_db_fresh();
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
    CHECK_EQ_INT(query_points(st, "acme", "press-1", "temp", INT64_MIN, INT64_MAX, 0, &g),
                 MDX_ECORRUPT);
    set_point(&p[0], "temp", T0 + 9000, 1.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 1, NULL), MDX_ECORRUPT);
    mdx_store_close(st);
    tmp_db_remove();
}

static long mode_of(const char *path, const char *suffix)
{
    char p[256];
    struct stat sb;

    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (long)(sb.st_mode & 0777) : -1;
}

/* Every tenant's data and all secret hashes: only the service's user may read them. */
static void database_and_its_wal_files_are_created_0600(void)
{
    const char *path = tmp_db_fresh();
    mode_t old = umask(022);
    struct mdx_store *st;

    CHECK(path != NULL);
    st = open_default(path);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK); /* a write: WAL and SHM exist */
        CHECK_EQ_INT(mode_of(path, ""), 0600);
        CHECK_EQ_INT(mode_of(path, "-wal"), 0600);
        CHECK_EQ_INT(mode_of(path, "-shm"), 0600);
        mdx_store_close(st);
    }
    umask(old);
    tmp_db_remove();
}

static const struct mdx_test tests[] = {
    {"store refuses a bad open", store_refuses_bad_open},
    {"store returns busy while locked, then succeeds",
     store_returns_busy_while_locked_then_succeeds},
    {"two writers on one series keep each other's points",
     two_writers_on_one_series_keep_each_others_points},
    {"store migrates once and reopens", store_migrates_once_and_reopens},
    {"store reports corrupt chunks", store_reports_corrupt_chunks},
    {"issue 16: database and its WAL files are created 0600",
     database_and_its_wal_files_are_created_0600},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
