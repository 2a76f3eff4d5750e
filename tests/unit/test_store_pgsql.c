/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_pgsql.c - what only the PostgreSQL store has, against a real
 * PostgreSQL 15 started by the test (a missing PostgreSQL fails it):
 * partitions made on demand, migrations under concurrency, rollups,
 * latest values, retention and archive records, and the faults of issue
 * 3: PostgreSQL down at start, a restart mid-stream, a wrong password.
 * What every back end does (registry, batches, duplicates, late points,
 * events, dead letters, the checkpoint, a failed batch) is checked on
 * both in test_store.c.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "check.h"
#include "store_util.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store/pgsql/migrations.h"
#include "support/support.h"

#define T0 1760000000000LL
#define DAY 86400000LL

static struct pg_cluster cl;
static int cl_ok = -1;
static int db_seq;
static char url[256];

static void cluster_cleanup(void)
{
    pg_cluster_destroy(&cl);
}

/* A fresh database in the program's cluster; its url in 'url'. 0 on success. */
static int fresh_db(void)
{
    char db[32];

    if (cl_ok < 0) {
        mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
        cl_ok = pg_cluster_init(&cl, 0) == 0;
        atexit(cluster_cleanup);
    }
    if (!cl_ok) {
        return -1;
    }
    if (!cl.running && pg_cluster_start(&cl) != 0) {
        return -1;
    }
    snprintf(db, sizeof(db), "u%d", ++db_seq);
    if (pg_cluster_create_db(&cl, db) != 0) {
        fprintf(stderr, "  createdb %s failed\n", db);
        return -1;
    }
    pg_cluster_url(&cl, db, url, sizeof(url));
    return 0;
}

static struct mdx_store *open_with(int64_t cache_series, int64_t deadletter_max)
{
    struct mdx_store_conf conf;
    int err = 0;
    struct mdx_store *st;

    pg_store_conf(&conf, &cl, url);
    conf.cache_series = cache_series;
    conf.deadletter_max = deadletter_max;
    st = mdx_store_open(&conf, &err);
    if (st == NULL) {
        fprintf(stderr, "  open %s: %s\n", url, mdx_strerror(err));
    }
    return st;
}

/* A fresh database and a store on it; NULL (and a failed check) if anything is missing. */
static struct mdx_store *open_fresh(void)
{
    struct mdx_store *st = fresh_db() == 0 ? open_with(1000, 100) : NULL;

    CHECK(st != NULL);
    return st;
}

/* Runs fn with stderr going to a file, and returns what was written (static buffer). */
static const char *capture_stderr(struct mdx_store **out, struct mdx_store_conf *conf, int *err)
{
    static char buf[16384];
    char path[] = "/tmp/mdx-pg-log-XXXXXX";
    int fd = mkstemp(path), saved = dup(2);
    ssize_t n;

    buf[0] = '\0';
    if (fd < 0 || saved < 0) {
        return buf;
    }
    fflush(stderr);
    dup2(fd, 2);
    *out = mdx_store_open(conf, err);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return buf;
}

static void pg_refuses_bad_open_and_wrong_password_without_leaking_it(void)
{
    struct mdx_store_conf conf;
    struct mdx_store *st = NULL;
    char bad_url[300];
    const char *log;
    int err = 0;

    if (fresh_db() != 0) {
        CHECK(0);
        return;
    }
    pg_store_conf(&conf, &cl, url);
    conf.pgsql_sslmode = "sometimes";
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    conf.pgsql_sslmode = "disable";
    snprintf(bad_url, sizeof(bad_url), "%s password=inline", url);
    conf.pgsql_url = bad_url;
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    conf.pgsql_url = "host=127.0.0.1 port=1 dbname";
    CHECK(mdx_store_open(&conf, &err) == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);

    /* Issue 3: a wrong password gives a clear error that never shows the password. */
    mdx_log_setup(MDX_LOG_TRACE, MDX_LOG_JSON, 0);
    conf.pgsql_url = url;
    conf.pgsql_password = "Wr0ng-S3cret-Pw";
    log = capture_stderr(&st, &conf, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, MDX_EDENIED);
    CHECK(strstr(log, "refused the credentials") != NULL);
    CHECK(strstr(log, "host=127.0.0.1") != NULL);
    CHECK(strstr(log, "user=modax") != NULL);
    CHECK(strstr(log, "dbname=u") != NULL);
    CHECK(strstr(log, "MODAX_STORE_PGSQL_PASSWORD") != NULL);
    CHECK(strstr(log, "Wr0ng-S3cret-Pw") == NULL);
    CHECK(strstr(log, cl.password) == NULL);
    /* No password at all. */
    conf.pgsql_password = NULL;
    log = capture_stderr(&st, &conf, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, MDX_EDENIED);
    /* The right one: connected, and the log still holds no secret. */
    conf.pgsql_password = cl.password;
    log = capture_stderr(&st, &conf, &err);
    CHECK(st != NULL);
    CHECK(strstr(log, "connected to PostgreSQL") != NULL);
    CHECK(strstr(log, cl.password) == NULL);
    mdx_store_close(st);
    /* A database that does not exist is a configuration error, not an outage. */
    pg_cluster_url(&cl, "nosuchdb", bad_url, sizeof(bad_url));
    conf.pgsql_url = bad_url;
    log = capture_stderr(&st, &conf, &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
}

/* Days get partitions as points arrive: a week of them, a day years ago, one before 1970. */
static void pg_old_days_get_partitions_on_demand(void)
{
    struct mdx_store *st = open_fresh();
    static struct mdx_point p[500];
    PGconn *c;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    for (int i = 0; i < 500; i++) {
        set_point(&p[i], "temp", T0 + i * 2 * 600000LL, i * 2, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 500, NULL), MDX_OK);
    set_point(&p[0], "temp", 978307200000LL + 5000, 7.0, MDX_POINT_TS_SUBSTITUTED);
    set_point(&p[1], "temp", -DAY - 1, 8.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 2, NULL), MDX_OK);
    CHECK_EQ_INT(count_all(st), 502);
    c = pg_raw_conn(&cl, url);
    /* Each day has its own partition, with no rows outside it. */
    CHECK(pg_raw_int(c, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'points'::regclass") >=
          8);
    CHECK_EQ_INT(pg_raw_int(c, "SELECT count(*) FROM ONLY points"), 0);
    CHECK_EQ_INT(pg_raw_int(c, "SELECT count(*) FROM points_20010101"), 1);
    PQfinish(c);
    mdx_store_close(st);
}

struct opener {
    struct mdx_store *st;
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;

    o->st = open_with(1000, 100);
    return NULL;
}

static void pg_migrates_once_under_concurrency_and_refuses_newer(void)
{
    struct opener o[4];
    pthread_t t[4];
    struct mdx_store *st;
    PGconn *c;

    if (fresh_db() != 0) {
        CHECK(0);
        return;
    }
    for (int i = 0; i < 4; i++) {
        pthread_create(&t[i], NULL, open_thread, &o[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(o[i].st != NULL);
        mdx_store_close(o[i].st);
    }
    c = pg_raw_conn(&cl, url);
    CHECK_EQ_INT(pg_raw_int(c, "SELECT count(*) FROM schema_migrations"),
                 mdx_pgsql_schema_version());
    CHECK_EQ_INT(pg_raw_int(c, "SELECT max(version) FROM schema_migrations"),
                 mdx_pgsql_schema_version());
    CHECK(pg_raw_exec(c, "INSERT INTO schema_migrations VALUES (99, 0)"));
    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_TEXT, 0);
    st = open_with(1000, 100);
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    CHECK(st == NULL);
    mdx_store_close(st);
    PQfinish(c);
}

/* ---- rollups and latest values ---- */

struct buckets {
    struct mdx_bucket b[256];
    int n;
};

static int bucket_collect(void *arg, const struct mdx_bucket *b)
{
    struct buckets *s = arg;

    if (s->n < 256) {
        s->b[s->n] = *b;
    }
    s->n++;
    return MDX_OK;
}

static int buckets(struct mdx_store *st, const char *sensor, int64_t from, int64_t to,
                   int64_t step, struct buckets *out)
{
    struct mdx_query q = {"acme", "press-1", sensor, from, to, 0};

    out->n = 0;
    return mdx_store_query_buckets(st, &q, step, bucket_collect, out);
}

/* Brute force over raw points: the same buckets from rollups and from raw points. */
static int same_buckets(const struct buckets *a, const struct buckets *b)
{
    if (a->n != b->n) {
        return 0;
    }
    for (int i = 0; i < a->n && i < 256; i++) {
        if (a->b[i].start_ms != b->b[i].start_ms || a->b[i].count != b->b[i].count ||
            a->b[i].min != b->b[i].min || a->b[i].max != b->b[i].max ||
            fabs(a->b[i].sum - b->b[i].sum) > 1e-6) {
            return 0;
        }
    }
    return 1;
}

static void pg_rollups_follow_late_points_and_ignore_duplicates(void)
{
    struct mdx_store *st = open_fresh();
    static struct mdx_point p[4000];
    struct mdx_batch_result res;
    static struct buckets a, b;
    int64_t base = T0 - T0 % 3600000; /* on an hour */

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    /* Two hours at one point every 3 s, written newest first in 4 batches. */
    for (int i = 0; i < 2400; i++) {
        set_point(&p[i], "temp", base + (2399 - i) * 3000LL, (double)((2399 - i) % 97), 0);
    }
    for (int k = 0; k < 4; k++) {
        CHECK_EQ_INT(write_points(st, "acme", "press-1", p + k * 600, 600, &res), MDX_OK);
        CHECK_EQ_INT(res.points_written, 600);
    }
    /* Repeats with other values change nothing. */
    for (int i = 0; i < 300; i++) {
        set_point(&p[i], "temp", base + i * 3000LL * 7, 1000.0, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 300, &res), MDX_OK);
    CHECK_EQ_INT(res.points_duplicate, 300);
    /* A late point in the first minute corrects its minute and hour. */
    set_point(&p[0], "temp", base + 1500, -50.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 1, &res), MDX_OK);

    CHECK_EQ_INT(buckets(st, "temp", base, base + 7200000 - 1, 60000, &a), MDX_OK);
    CHECK_EQ_INT(a.n, 120);
    CHECK_EQ_INT(a.b[0].count, 21);
    CHECK(a.b[0].min == -50.0);
    CHECK_EQ_INT(a.b[1].count, 20);
    CHECK_EQ_INT(buckets(st, "temp", base, base + 7200000 - 1, 3600000, &b), MDX_OK);
    CHECK_EQ_INT(b.n, 2);
    CHECK_EQ_INT(b.b[0].count, 1201);
    CHECK_EQ_INT(b.b[1].count, 1200);
    CHECK(b.b[0].min == -50.0 && b.b[0].max == 96.0);
    /* 5 min from the minute rollup vs 5 min from raw (step 300001 is not whole minutes, so
     * compare 30 s raw buckets merged by ten with 5 min ones instead). */
    CHECK_EQ_INT(buckets(st, "temp", base, base + 7200000 - 1, 300000, &a), MDX_OK);
    CHECK_EQ_INT(a.n, 24);
    {
        static struct buckets raw;
        struct buckets merged = {0};
        CHECK_EQ_INT(buckets(st, "temp", base, base + 7200000 - 1, 30000, &raw), MDX_OK);
        CHECK_EQ_INT(raw.n, 240);
        for (int i = 0; i < raw.n && i < 240; i++) {
            struct mdx_bucket *m = &merged.b[i / 10];
            if (i % 10 == 0) {
                *m = raw.b[i];
                merged.n++;
            } else {
                m->min = fmin(m->min, raw.b[i].min);
                m->max = fmax(m->max, raw.b[i].max);
                m->sum += raw.b[i].sum;
                m->count += raw.b[i].count;
            }
        }
        CHECK(same_buckets(&a, &merged));
    }
    /* A day step from the hour rollup, a partial range widened to whole buckets. */
    CHECK_EQ_INT(buckets(st, "temp", base + 10, base + 20, DAY, &a), MDX_OK);
    CHECK_EQ_INT(a.n, 1);
    CHECK_EQ_INT(a.b[0].count, 2401);
    CHECK_EQ_INT(buckets(st, "nosensor", base, base + DAY, 60000, &a), MDX_OK);
    CHECK_EQ_INT(a.n, 0);
    {
        struct mdx_query q = {"acme", "press-1", "temp", base, base + DAY, 0};
        CHECK_EQ_INT(mdx_store_query_buckets(st, &q, 0, bucket_collect, &a), MDX_EINVAL);
        q.limit = 5;
        a.n = 0;
        CHECK_EQ_INT(mdx_store_query_buckets(st, &q, 60000, bucket_collect, &a), MDX_OK);
        CHECK_EQ_INT(a.n, 5);
    }
    mdx_store_close(st);
}

struct latest {
    char sensor[4][16];
    int64_t ts[4];
    double v[4];
    int n;
};

static int latest_collect(void *arg, const char *sensor, int64_t ts, double v, unsigned flags)
{
    struct latest *l = arg;

    (void)flags;
    if (l->n < 4) {
        snprintf(l->sensor[l->n], sizeof(l->sensor[0]), "%s", sensor);
        l->ts[l->n] = ts;
        l->v[l->n] = v;
    }
    l->n++;
    return MDX_OK;
}

static void pg_latest_value_per_sensor(void)
{
    struct mdx_store *st = open_fresh();
    struct mdx_point p[5];
    struct latest l = {0};

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    CHECK_EQ_INT(mdx_store_latest(st, "acme", "press-1", latest_collect, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 0);
    CHECK_EQ_INT(mdx_store_latest(st, "acme", "ghost", latest_collect, &l), MDX_ENOTFOUND);
    set_point(&p[0], "temp", T0 + 2000, 2.0, 0);
    set_point(&p[1], "temp", T0 + 1000, 1.0, 0);
    set_point(&p[2], "Z_rpm", T0 + 500, 5.0, 0);
    set_point(&p[3], "a_rpm", T0 + 700, 7.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 4, NULL), MDX_OK);
    set_point(&p[0], "temp", T0 + 1500, 1.5, 0); /* late: not the latest */
    set_point(&p[1], "a_rpm", T0 + 900, 9.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 2, NULL), MDX_OK);
    set_point(&p[0], "temp", T0 + 99000, 99.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-2", p, 1, NULL), MDX_OK);
    CHECK_EQ_INT(mdx_store_latest(st, "acme", "press-1", latest_collect, &l), MDX_OK);
    CHECK_EQ_INT(l.n, 3);
    CHECK_STR(l.sensor[0], "Z_rpm");
    CHECK_STR(l.sensor[1], "a_rpm");
    CHECK_STR(l.sensor[2], "temp");
    CHECK_EQ_INT(l.ts[1], T0 + 900);
    CHECK(l.v[1] == 9.0);
    CHECK_EQ_INT(l.ts[2], T0 + 2000);
    CHECK(l.v[2] == 2.0);
    mdx_store_close(st);
}

/* ---- retention and archive records ---- */

struct parts {
    char dev[8][16];
    int64_t day[8];
    int n;
};

static int part_collect(void *arg, const char *tenant, const char *device, int64_t day_ms)
{
    struct parts *p = arg;

    (void)tenant;
    if (p->n < 8) {
        snprintf(p->dev[p->n], sizeof(p->dev[0]), "%s", device);
        p->day[p->n] = day_ms;
    }
    p->n++;
    return MDX_OK;
}

struct exported {
    int n;
    int ordered;
    char last_sensor[16];
    int64_t last_ts;
};

static int export_collect(void *arg, const char *sensor, int64_t ts, double v, unsigned flags)
{
    struct exported *e = arg;
    int c = strcmp(sensor, e->last_sensor);

    (void)v;
    (void)flags;
    if (e->n > 0 && (c < 0 || (c == 0 && ts <= e->last_ts))) {
        e->ordered = 0;
    }
    snprintf(e->last_sensor, sizeof(e->last_sensor), "%s", sensor);
    e->last_ts = ts;
    e->n++;
    return MDX_OK;
}

static int obj_count(void *arg, const struct mdx_archive_obj *o)
{
    (void)o;
    (*(int *)arg)++;
    return MDX_OK;
}

static void pg_retention_partitions_export_delete_and_archive_records(void)
{
    struct mdx_store *st = open_fresh();
    static struct mdx_point p[600];
    struct mdx_retention r = {0, 0};
    struct parts parts = {0};
    struct exported ex = {0, 1, "", 0};
    struct mdx_archive_obj o;
    int64_t day0 = (T0 / DAY) * DAY, deleted = -1, n = 0;
    static struct buckets bk;
    int cnt = 0;

    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "press-1");
    add_tenant_device(st, "acme", "press-2");
    add_tenant_device(st, "beta", "press-1");
    CHECK_EQ_INT(mdx_store_retention_get(st, "acme", &r), MDX_ENOTFOUND);
    r = (struct mdx_retention){90, 365};
    CHECK_EQ_INT(mdx_store_retention_set(st, "acme", &r), MDX_OK);
    r = (struct mdx_retention){30, 60};
    CHECK_EQ_INT(mdx_store_retention_set(st, "acme", &r), MDX_OK);
    CHECK_EQ_INT(mdx_store_retention_set(st, "nope", &r), MDX_ENOTFOUND);
    r = (struct mdx_retention){30, 10};
    CHECK_EQ_INT(mdx_store_retention_set(st, "acme", &r), MDX_EINVAL);
    CHECK_EQ_INT(mdx_store_retention_get(st, "acme", &r), MDX_OK);
    CHECK(r.archive_after_days == 30 && r.expire_after_days == 60);

    /* press-1: days 0 and 2; press-2: day 1; beta: day 0. Two sensors each. */
    for (int i = 0; i < 100; i++) {
        set_point(&p[2 * i], "temp", day0 + i * 60000, i, 0);
        set_point(&p[2 * i + 1], "amps", day0 + i * 60000, -i, 0);
        set_point(&p[200 + 2 * i], "temp", day0 + 2 * DAY + i * 60000, i, 0);
        set_point(&p[200 + 2 * i + 1], "amps", day0 + 2 * DAY + i * 60000, -i, 0);
        set_point(&p[400 + i], "temp", day0 + DAY + i * 60000, i, 0);
    }
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 400, NULL), MDX_OK);
    CHECK_EQ_INT(write_points(st, "acme", "press-2", p + 400, 100, NULL), MDX_OK);
    CHECK_EQ_INT(write_points(st, "beta", "press-1", p, 10, NULL), MDX_OK);
    CHECK_EQ_INT(mdx_store_archive_partitions(st, "acme", day0 + 2 * DAY, part_collect, &parts),
                 MDX_OK);
    CHECK_EQ_INT(parts.n, 2);
    CHECK_STR(parts.dev[0], "press-1");
    CHECK_EQ_INT(parts.day[0], day0);
    CHECK_STR(parts.dev[1], "press-2");
    CHECK_EQ_INT(parts.day[1], day0 + DAY);
    parts.n = 0;
    CHECK_EQ_INT(mdx_store_archive_partitions(st, "acme", day0 + 3 * DAY - 1, part_collect,
                                              &parts),
                 MDX_OK);
    CHECK_EQ_INT(parts.n, 2);

    CHECK_EQ_INT(mdx_store_export_points(st, "acme", "press-1", day0, day0 + DAY,
                                         export_collect, &ex),
                 MDX_OK);
    CHECK_EQ_INT(ex.n, 200);
    CHECK(ex.ordered);
    CHECK_STR(ex.last_sensor, "temp");
    /* Not the count that was archived: nothing is deleted. */
    CHECK_EQ_INT(mdx_store_delete_points(st, "acme", "press-1", day0, day0 + DAY, 199, &deleted),
                 MDX_EAGAIN);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &n), MDX_OK);
    CHECK_EQ_INT(n, 500);
    CHECK_EQ_INT(mdx_store_delete_points(st, "acme", "press-1", day0, day0 + DAY, 200, &deleted),
                 MDX_OK);
    CHECK_EQ_INT(deleted, 200);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &n), MDX_OK);
    CHECK_EQ_INT(n, 300);
    CHECK_EQ_INT(mdx_store_point_count(st, "beta", &n), MDX_OK);
    CHECK_EQ_INT(n, 10);
    parts.n = 0;
    CHECK_EQ_INT(mdx_store_archive_partitions(st, "acme", day0 + 2 * DAY, part_collect, &parts),
                 MDX_OK);
    CHECK_EQ_INT(parts.n, 1);
    /* Rollups stay after the raw points went. */
    CHECK_EQ_INT(buckets(st, "temp", day0, day0 + DAY - 1, 3600000, &bk), MDX_OK);
    CHECK_EQ_INT(bk.n, 2);

    memset(&o, 0, sizeof(o));
    snprintf(o.tenant, sizeof(o.tenant), "acme");
    snprintf(o.device, sizeof(o.device), "press-1");
    o.day_ms = day0;
    o.seq = 1;
    snprintf(o.key, sizeof(o.key), "tenant=acme/device=press-1/date=x/points-1.csv.gz");
    o.state = MDX_ARCHIVE_PENDING;
    CHECK_EQ_INT(mdx_store_archive_obj_put(st, &o), MDX_OK);
    o.state = MDX_ARCHIVE_VERIFIED;
    o.size = 1234;
    CHECK_EQ_INT(mdx_store_archive_obj_put(st, &o), MDX_OK);
    o.day_ms = day0 + DAY;
    snprintf(o.key, sizeof(o.key), "k2");
    CHECK_EQ_INT(mdx_store_archive_obj_put(st, &o), MDX_OK);
    CHECK_EQ_INT(mdx_store_archive_obj_list(st, "acme", -1, 0, obj_count, &cnt), MDX_OK);
    CHECK_EQ_INT(cnt, 2);
    cnt = 0;
    CHECK_EQ_INT(mdx_store_archive_obj_list(st, NULL, MDX_ARCHIVE_VERIFIED, day0 + DAY,
                                            obj_count, &cnt),
                 MDX_OK);
    CHECK_EQ_INT(cnt, 1);
    cnt = 0;
    CHECK_EQ_INT(mdx_store_archive_obj_list(st, "beta", -1, 0, obj_count, &cnt), MDX_OK);
    CHECK_EQ_INT(cnt, 0);
    CHECK_EQ_INT(mdx_store_archive_obj_delete(st, "k2"), MDX_OK);
    cnt = 0;
    CHECK_EQ_INT(mdx_store_archive_obj_list(st, NULL, -1, 0, obj_count, &cnt), MDX_OK);
    CHECK_EQ_INT(cnt, 1);
    mdx_store_close(st);
}

/* ---- faults of issue 3 ---- */

static void pg_down_at_start_then_works_once_started(void)
{
    struct mdx_store *st;
    struct mdx_point p[2];
    struct mdx_spool_pos pos;
    struct mdx_batch_result res;
    int64_t n;

    if (fresh_db() != 0) {
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(pg_cluster_stop(&cl, "fast"), 0);
    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_TEXT, 0);
    st = open_with(1000, 100);
    CHECK(st != NULL); /* the service starts; every call says "not yet" */
    if (st == NULL) {
        pg_cluster_start(&cl);
        return;
    }
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "w", &pos), MDX_ECONN);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_ECONN);
    set_point(&p[0], "temp", T0, 1.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 1, &res), MDX_ECONN);
    CHECK(mdx_status_is_transient(MDX_ECONN));
    CHECK_EQ_INT(pg_cluster_start(&cl), 0);
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    CHECK_EQ_INT(mdx_store_checkpoint_get(st, "w", &pos), MDX_OK);
    add_tenant_device(st, "acme", "press-1");
    set_point(&p[1], "temp", T0 + 1000, 2.0, 0);
    CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 2, &res), MDX_OK);
    CHECK_EQ_INT(res.points_written, 2);

    /* Restarted under our feet: the next call fails as transient, the one after works. */
    CHECK_EQ_INT(pg_cluster_stop(&cl, "immediate"), 0);
    CHECK_EQ_INT(pg_cluster_start(&cl), 0);
    mdx_log_setup(MDX_LOG_OFF, MDX_LOG_TEXT, 0);
    {
        int rc = write_points(st, "acme", "press-1", p, 2, &res);
        CHECK(rc == MDX_ECONN || rc == MDX_OK);
        if (rc != MDX_OK) {
            CHECK_EQ_INT(write_points(st, "acme", "press-1", p, 2, &res), MDX_OK);
        }
    }
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    CHECK_EQ_INT(res.points_written, 0);
    CHECK_EQ_INT(res.points_duplicate, 2);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &n), MDX_OK);
    CHECK_EQ_INT(n, 2);
    mdx_store_close(st);
}

static const struct mdx_test tests[] = {
    {"issue 3: pgsql refuses a bad open; a wrong password is a clear error without the secret",
     pg_refuses_bad_open_and_wrong_password_without_leaking_it},
    {"pgsql old days get partitions on demand", pg_old_days_get_partitions_on_demand},
    {"pgsql migrates once under concurrency and refuses a newer schema",
     pg_migrates_once_under_concurrency_and_refuses_newer},
    {"issue 3: pgsql rollups follow late points and ignore duplicates",
     pg_rollups_follow_late_points_and_ignore_duplicates},
    {"issue 3: pgsql latest value per sensor", pg_latest_value_per_sensor},
    {"issue 3: pgsql retention, partitions, export, delete and archive records",
     pg_retention_partitions_export_delete_and_archive_records},
    {"issue 3: pgsql down at start, then works once started; rides out a restart",
     pg_down_at_start_then_works_once_started},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
