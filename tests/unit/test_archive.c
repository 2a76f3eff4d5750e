/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_archive.c - the archiver over a real SQLite store and the local
 * object store (issue 3): objects, verification, deletion of exactly the
 * archived days, resuming after a stop at every step, late points, an
 * object that exists already, an unavailable / refusing / full / lying
 * object store, expiry, per-tenant retention, and the store operations
 * the archiver relies on (delete across chunk boundaries, head caches of
 * another connection).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/archive.h"
#include "modax/objstore.h"
#include "modax/status.h"
#include "modax/clock.h"
#include "modax/store.h"
#include "support/support.h"

#define DAY MDX_DAY_MS
#define D0 1735689600000LL     /* 2025-01-01T00:00:00Z */
#define NOW (D0 + 100 * DAY)   /* D0..D0+9 are older than 90 days */
#define STEP_MS 60000          /* one point per sensor per minute */
#define PER_DAY (DAY / STEP_MS)
#define N_SENSORS 3
#define OLD_DAYS 3

static char dir[512], db[600], arch[600];
static const char *const sensors[N_SENSORS] = {"current", "temperature", "vibration"};

static struct mdx_store *store_open(void)
{
    struct mdx_store_conf conf = {
        .backend = "sqlite",
        .sqlite_path = db,
        .busy_timeout_ms = 5000,
        .chunk_points = 64, /* many chunks, several across midnight */
        .cache_series = 1000,
        .deadletter_max = 100,
    };
    int err = 0;
    struct mdx_store *st = mdx_store_open(&conf, &err);

    if (st == NULL) {
        fprintf(stderr, "  store open: %s\n", mdx_strerror(err));
    }
    return st;
}

static struct mdx_objstore *os_open(const char *root)
{
    struct mdx_objstore_conf conf = {.kind = "local", .local_dir = (char *)root};
    int err = 0;

    return mdx_objstore_open(&conf, &err);
}

static const struct mdx_archive_conf aconf = {90, 365, 3600, 64, 120, NULL};

static void setup(const char *name)
{
    tmp_make(dir, sizeof(dir), name);
    snprintf(db, sizeof(db), "%s/t.db", dir);
    snprintf(arch, sizeof(arch), "%s/archive", dir);
}

static void write_range(struct mdx_store *st, const char *device, int64_t from, int64_t to,
                        int64_t step, double offset)
{
    size_t cap = 4096, n = 0;
    struct mdx_point *pts = calloc(cap, sizeof(*pts));
    struct mdx_point_group g = {"acme", device, pts, 0};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;

    b.groups = &g;
    b.n_groups = 1;
    for (int64_t ts = from; ts < to; ts += step) {
        for (int s = 0; s < N_SENSORS; s++) {
            struct mdx_point *p = &pts[n++];
            memset(p, 0, sizeof(*p));
            snprintf(p->sensor, sizeof(p->sensor), "%s", sensors[s]);
            p->sensor_len = (uint8_t)strlen(p->sensor);
            p->ts_ms = ts;
            p->value = offset + 40.0 + s + (double)((ts / STEP_MS) % 97) / 100.0;
            p->flags = (ts / STEP_MS) % 500 == 7 ? MDX_POINT_TS_SUBSTITUTED : 0;
        }
        if (n + N_SENSORS > cap || ts + step >= to) {
            g.n = n;
            CHECK(mdx_store_write(st, &b, &res) == MDX_OK);
            n = 0;
        }
    }
    free(pts);
}

/* tenant acme, devices m1 and m2: OLD_DAYS old days each, plus a recent day. */
static struct mdx_store *fixture(const char *name)
{
    struct mdx_store *st;

    setup(name);
    st = store_open();
    CHECK(st != NULL);
    CHECK(mdx_store_tenant_add(st, "acme") == MDX_OK);
    CHECK(mdx_store_device_add(st, "acme", "m1", 0) == MDX_OK);
    CHECK(mdx_store_device_add(st, "acme", "m2", 0) == MDX_OK);
    write_range(st, "m1", D0, D0 + OLD_DAYS * DAY, STEP_MS, 0);
    write_range(st, "m2", D0 + DAY, D0 + OLD_DAYS * DAY, STEP_MS, 5);
    write_range(st, "m1", NOW - DAY, NOW, STEP_MS, 0);
    return st;
}

#define OLD_POINTS ((OLD_DAYS + OLD_DAYS - 1) * PER_DAY * N_SENSORS)
#define NEW_POINTS (PER_DAY * N_SENSORS)

static int64_t points(struct mdx_store *st)
{
    int64_t n = -1;

    CHECK(mdx_store_point_count(st, "acme", &n) == MDX_OK);
    return n;
}

/* ---- reading the archive back ---- */

struct seen {
    char (*rows)[96];
    size_t n, cap;
    int objects;
    int bad;
};

static int read_obj(struct seen *s, const char *path, const char *device)
{
    gzFile f = gzopen(path, "rb");
    char line[256];
    int first = 1;

    if (f == NULL) {
        return -1;
    }
    while (gzgets(f, line, sizeof(line)) != NULL) {
        if (first) {
            if (strcmp(line, "sensor,ts_ms,value,ts_substituted\n") != 0) {
                s->bad++;
            }
            first = 0;
            continue;
        }
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->rows = realloc(s->rows, s->cap * sizeof(*s->rows));
        }
        if (snprintf(s->rows[s->n++], sizeof(s->rows[0]), "%s,%s", device, line) >=
            (int)sizeof(s->rows[0])) {
            s->bad++;
        }
    }
    gzclose(f);
    s->objects++;
    return 0;
}

static void walk(struct seen *s, const char *path, const char *device)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char sub[1024], dev[80];
        if (e->d_name[0] == '.') {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                s->bad++; /* a temp file was left */
            }
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        snprintf(dev, sizeof(dev), "%s", device);
        if (strncmp(e->d_name, "device=", 7) == 0) {
            snprintf(dev, sizeof(dev), "%s", e->d_name + 7);
        }
        if (e->d_type == DT_DIR) {
            walk(s, sub, dev);
        } else if (read_obj(s, sub, dev) != 0) {
            s->bad++;
        }
    }
    closedir(d);
}

static int cmp_row(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Every archived row once: returns rows, -1 on a duplicate or a bad object. */
static int64_t archived_rows(int *objects)
{
    struct seen s = {NULL, 0, 0, 0, 0};
    int64_t n;

    walk(&s, arch, "");
    if (s.n > 1) {
        qsort(s.rows, s.n, sizeof(*s.rows), cmp_row);
    }
    n = (int64_t)s.n;
    for (size_t i = 1; i < s.n; i++) {
        if (strcmp(s.rows[i - 1], s.rows[i]) == 0) {
            fprintf(stderr, "  duplicate row %s", s.rows[i]);
            n = -1;
            break;
        }
    }
    if (s.bad) {
        n = -1;
    }
    if (objects != NULL) {
        *objects = s.objects;
    }
    free(s.rows);
    return n;
}

static int file_exists(const char *rel)
{
    char p[1024];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/%s", arch, rel);
    return stat(p, &sb) == 0;
}

static int count_state(void *arg, const struct mdx_archive_obj *o)
{
    ((int *)arg)[o->state]++;
    return MDX_OK;
}

/* ---- tests ---- */

static void pass_archives_old_days_and_deletes_their_rows(void)
{
    struct mdx_store *st = fixture("arch-basic");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct mdx_archive_stats s;
    int objects = 0, states[3] = {0, 0, 0};

    CHECK(points(st) == OLD_POINTS + NEW_POINTS);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.partitions, 5);
    CHECK_EQ_INT(s.objects, 5);
    CHECK_EQ_INT(s.points, OLD_POINTS);
    CHECK_EQ_INT(s.deleted, OLD_POINTS);
    CHECK_EQ_INT(points(st), NEW_POINTS);
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);
    CHECK(file_exists("tenant=acme/device=m1/date=2025-01-01/points-1.csv.gz"));
    CHECK(file_exists("tenant=acme/device=m2/date=2025-01-03/points-1.csv.gz"));
    CHECK(!file_exists("tenant=acme/device=m2/date=2025-01-01"));
    CHECK(mdx_store_archive_obj_list(st, "acme", -1, 0, count_state, states) == MDX_OK);
    CHECK_EQ_INT(states[MDX_ARCHIVE_DONE], 5);
    CHECK_EQ_INT(states[MDX_ARCHIVE_PENDING] + states[MDX_ARCHIVE_VERIFIED], 0);

    /* A second pass finds nothing to do and writes nothing. */
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.objects, 0);
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);

    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void object_bytes_are_deterministic_gzip_csv(void)
{
    struct mdx_store *st = fixture("arch-det");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    void *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    const char *key = "tenant=acme/device=m1/date=2025-01-02/points-1.csv.gz";
    char line[256];
    char path[1024];
    gzFile f;

    CHECK(mdx_archiver_run(ar, "acme", 0, NOW, NULL) == MDX_OK);
    CHECK(os->ops->get(os->impl, key, &a, &la, 1 << 20) == MDX_OK);
    CHECK(la > 18);
    if (la > 18) {
        const uint8_t *g = a;
        CHECK(g[0] == 0x1f && g[1] == 0x8b);
        CHECK(g[4] == 0 && g[5] == 0 && g[6] == 0 && g[7] == 0); /* mtime 0 */
    }
    snprintf(path, sizeof(path), "%s/%s", arch, key);
    f = gzopen(path, "rb");
    CHECK(f != NULL);
    if (f != NULL) {
        CHECK(gzgets(f, line, sizeof(line)) != NULL);
        CHECK_STR(line, "sensor,ts_ms,value,ts_substituted\n");
        CHECK(gzgets(f, line, sizeof(line)) != NULL);
        CHECK_STR(line, "current,1735776000000,40.29,0\n");
        gzclose(f);
    }
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);

    /* The same points in a fresh store give the same bytes. */
    st = fixture("arch-det2");
    os = os_open(arch);
    ar = mdx_archiver_create(&aconf, st, os);
    CHECK(mdx_archiver_run(ar, "acme", 0, NOW, NULL) == MDX_OK);
    CHECK(os->ops->get(os->impl, key, &b, &lb, 1 << 20) == MDX_OK);
    CHECK(la == lb && a != NULL && b != NULL && memcmp(a, b, la) == 0);
    mdx_free(a);
    mdx_free(b);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void late_points_for_an_archived_day_get_the_next_object(void)
{
    struct mdx_store *st = fixture("arch-late");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct mdx_archive_stats s;
    int objects = 0;

    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_OK);
    /* Points arrive late for day 2 of m1, between the archived minutes. */
    write_range(st, "m1", D0 + DAY + 30000, D0 + DAY + 30000 + 10 * STEP_MS, STEP_MS, 0);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.objects, 1);
    CHECK_EQ_INT(s.points, 10 * N_SENSORS);
    CHECK(file_exists("tenant=acme/device=m1/date=2025-01-02/points-2.csv.gz"));
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS + 10 * N_SENSORS);
    CHECK_EQ_INT(objects, 6);
    CHECK_EQ_INT(points(st), NEW_POINTS);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

struct stop_at {
    int step;
    int nth;      /* stop at the nth time 'step' is reached */
    int seen;
};

static int stop_hook(void *arg, enum mdx_archive_step step, const struct mdx_archive_obj *o)
{
    struct stop_at *s = arg;

    (void)o;
    if ((int)step == s->step && ++s->seen == s->nth) {
        return MDX_ESTOPPED;
    }
    return MDX_OK;
}

static void run_stopped_at_any_step_is_finished_by_the_next(void)
{
    for (int step = MDX_ARCHIVE_STEP_RECORDED; step <= MDX_ARCHIVE_STEP_DELETED; step++) {
        for (int nth = 1; nth <= 5; nth += 2) {
            struct mdx_store *st = fixture("arch-kill");
            struct mdx_objstore *os = os_open(arch);
            struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
            struct stop_at at = {step, nth, 0};
            struct mdx_archive_stats s;
            int objects = 0, states[3] = {0, 0, 0}, failures = mdx_test_failures_;

            mdx_archiver_set_hook(ar, stop_hook, &at);
            CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_ESTOPPED);
            /* Late points while stopped, for a day not yet archived and for the stopped one. */
            write_range(st, "m2", D0 + 2 * DAY + 1000, D0 + 2 * DAY + 1000 + 3 * STEP_MS, STEP_MS,
                        0);
            mdx_archiver_destroy(ar);
            mdx_store_close(st);
            st = store_open(); /* as after a restart */
            ar = mdx_archiver_create(&aconf, st, os);
            CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
            CHECK_EQ_INT(points(st), NEW_POINTS);
            CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS + 3 * N_SENSORS);
            CHECK(objects >= 5 && objects <= 6);
            CHECK(mdx_store_archive_obj_list(st, "acme", -1, 0, count_state, states) == MDX_OK);
            CHECK_EQ_INT(states[MDX_ARCHIVE_DONE], objects);
            if (mdx_test_failures_ != failures) {
                fprintf(stderr, "  (stopped after step %d, object %d)\n", step, nth);
            }
            mdx_archiver_destroy(ar);
            mdx_objstore_close(os);
            mdx_store_close(st);
            tmp_remove(dir);
        }
    }
}

static void existing_object_with_other_content_is_not_overwritten(void)
{
    struct mdx_store *st = fixture("arch-exists");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    const char *key = "tenant=acme/device=m1/date=2025-01-01/points-1.csv.gz";
    void *data = NULL;
    size_t len = 0;
    int objects = 0;

    CHECK(os->ops->put(os->impl, key, "someone else's", 14, NULL) == MDX_OK);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_OK);
    CHECK(os->ops->get(os->impl, key, &data, &len, 1024) == MDX_OK);
    CHECK(len == 14 && data != NULL && memcmp(data, "someone else's", 14) == 0);
    mdx_free(data);
    CHECK(file_exists("tenant=acme/device=m1/date=2025-01-01/points-2.csv.gz"));
    CHECK(os->ops->del(os->impl, key) == MDX_OK);
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void existing_object_with_the_same_content_is_no_duplicate(void)
{
    struct mdx_store *st = fixture("arch-same");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct stop_at at = {MDX_ARCHIVE_STEP_UPLOADED, 1, 0};
    const char *key = "tenant=acme/device=m1/date=2025-01-01/points-1.csv.gz";
    int objects = 0;

    mdx_archiver_set_hook(ar, stop_hook, &at);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_ESTOPPED);
    CHECK(file_exists(key));
    /* The record is lost (say, a restored database): the object is found and adopted. */
    CHECK(mdx_store_archive_obj_delete(st, key) == MDX_OK);
    mdx_archiver_set_hook(ar, NULL, NULL);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_OK);
    CHECK(!file_exists("tenant=acme/device=m1/date=2025-01-01/points-2.csv.gz"));
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

/* An object store that fails on purpose, around the local one. */
static int fault_code;     /* returned by put/get/head when not MDX_OK */
static int fault_corrupt;  /* get returns changed bytes */
static struct mdx_objstore_ops faulty;
static void *faulty_create(const struct mdx_objstore_conf *c, int *err)
{
    return mdx_objstore_local.create(c, err);
}
static int faulty_put(void *os, const char *key, const void *d, size_t n, const char *tier)
{
    return fault_code != MDX_OK ? fault_code : mdx_objstore_local.put(os, key, d, n, tier);
}
static int faulty_head(void *os, const char *key, struct mdx_obj_info *info)
{
    return fault_code != MDX_OK ? fault_code : mdx_objstore_local.head(os, key, info);
}
static int faulty_get(void *os, const char *key, void **d, size_t *n, size_t max)
{
    int rc = fault_code != MDX_OK ? fault_code : mdx_objstore_local.get(os, key, d, n, max);

    if (rc == MDX_OK && fault_corrupt && *n > 20) {
        ((uint8_t *)*d)[*n / 2] ^= 0x55;
    }
    return rc;
}
static const char *faulty_error(void *os)
{
    (void)os;
    return fault_code == MDX_EDENIED ? "403 RequestTimeTooSkewed: clock skew of 20 min"
                                     : "503 Slow Down";
}

static struct mdx_objstore *faulty_open(void)
{
    struct mdx_objstore *os = calloc(1, sizeof(*os));
    int err = 0;
    struct mdx_objstore_conf conf = {.kind = "local", .local_dir = arch};

    faulty = mdx_objstore_local;
    faulty.create = faulty_create;
    faulty.put = faulty_put;
    faulty.head = faulty_head;
    faulty.get = faulty_get;
    faulty.last_error = faulty_error;
    os->ops = &faulty;
    os->impl = faulty.create(&conf, &err);
    return os;
}

static void faulty_close(struct mdx_objstore *os)
{
    os->ops->destroy(os->impl);
    free(os);
}

static void fault_keeps_every_row_then_next_pass_completes(int code, int expect)
{
    struct mdx_store *st = fixture("arch-fault");
    struct mdx_objstore *os = faulty_open();
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    int objects = 0;

    fault_code = code;
    CHECK_EQ_INT(mdx_archiver_run(ar, NULL, 0, NOW, NULL), expect);
    CHECK_EQ_INT(points(st), OLD_POINTS + NEW_POINTS);
    fault_code = MDX_OK;
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_OK);
    CHECK_EQ_INT(points(st), NEW_POINTS);
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);
    mdx_archiver_destroy(ar);
    faulty_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void store_unavailable_or_5xx_retries_later(void)
{
    fault_keeps_every_row_then_next_pass_completes(MDX_EAGAIN, MDX_EAGAIN);
}

static void store_refusing_ends_the_pass_with_denied(void)
{
    fault_keeps_every_row_then_next_pass_completes(MDX_EDENIED, MDX_EDENIED);
}

static void object_read_back_wrong_keeps_the_rows(void)
{
    struct mdx_store *st = fixture("arch-corrupt");
    struct mdx_objstore *os = faulty_open();
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct mdx_archive_stats s;
    int states[3] = {0, 0, 0}, objects = 0;

    fault_corrupt = 1;
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.skipped, 5);
    CHECK_EQ_INT(s.deleted, 0);
    CHECK_EQ_INT(points(st), OLD_POINTS + NEW_POINTS);
    CHECK(mdx_store_archive_obj_list(st, "acme", -1, 0, count_state, states) == MDX_OK);
    CHECK_EQ_INT(states[MDX_ARCHIVE_PENDING], 5);
    fault_corrupt = 0;
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.resumed, 5);
    CHECK_EQ_INT(points(st), NEW_POINTS);
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);
    mdx_archiver_destroy(ar);
    faulty_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void disk_full_in_local_store_keeps_the_rows(void)
{
    struct mdx_store *st = fixture("arch-full");
    pid_t pid;
    int status = 0, objects = 0;
    const int64_t dense = DAY / 1000 * N_SENSORS;

    /* The oldest partition is one large object: the first write the limit stops. */
    CHECK(mdx_store_device_add(st, "acme", "m3", 0) == MDX_OK);
    write_range(st, "m3", D0 - DAY, D0, 1000, 0);
    mdx_store_close(st);
    pid = fork();
    if (pid == 0) {
        /* A file size limit makes write() fail with EFBIG, as a full disk does with ENOSPC. */
        struct rlimit rl = {128 * 1024, 128 * 1024};
        struct mdx_store *cst = store_open();
        struct mdx_objstore *os = os_open(arch);
        struct mdx_archiver *ar = mdx_archiver_create(&aconf, cst, os);
        int rc;

        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        rc = mdx_archiver_run(ar, NULL, 0, NOW, NULL);
        _exit(rc == MDX_EFULL ? 0 : 1);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    st = store_open();
    CHECK_EQ_INT(points(st), OLD_POINTS + NEW_POINTS + dense);
    CHECK_EQ_INT(archived_rows(&objects), 0); /* no partial object, no temp file */
    {
        struct mdx_objstore *os = os_open(arch);
        struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
        CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) == MDX_OK);
        CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS + dense);
        CHECK_EQ_INT(points(st), NEW_POINTS);
        mdx_archiver_destroy(ar);
        mdx_objstore_close(os);
    }
    mdx_store_close(st);
    tmp_remove(dir);
}

static void unwritable_archive_dir_keeps_the_rows(void)
{
    struct mdx_store *st = fixture("arch-broken");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    char p[700];
    FILE *f;

    /* A file where the tenant's directory should be: no object can be written. */
    snprintf(p, sizeof(p), "%s/tenant=acme", arch);
    f = fopen(p, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fclose(f);
    }
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, NULL) != MDX_OK);
    CHECK_EQ_INT(points(st), OLD_POINTS + NEW_POINTS);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void dry_run_writes_nothing(void)
{
    struct mdx_store *st = fixture("arch-dry");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct mdx_archive_stats s;
    int objects = 0, states[3] = {0, 0, 0};

    CHECK(mdx_archiver_run(ar, NULL, 1, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.partitions, 5);
    CHECK_EQ_INT(s.points, OLD_POINTS);
    CHECK_EQ_INT(points(st), OLD_POINTS + NEW_POINTS);
    CHECK_EQ_INT(archived_rows(&objects), 0);
    CHECK(mdx_store_archive_obj_list(st, NULL, -1, 0, count_state, states) == MDX_OK);
    CHECK_EQ_INT(states[0] + states[1] + states[2], 0);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void tenant_retention_overrides_and_expiry(void)
{
    struct mdx_store *st = fixture("arch-ret");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct mdx_retention r = {200, 400}, got;
    struct mdx_archive_stats s;
    int objects = 0, states[3] = {0, 0, 0};

    CHECK(mdx_store_retention_get(st, "acme", &got) == MDX_ENOTFOUND);
    CHECK(mdx_store_retention_set(st, "nobody", &r) == MDX_ENOTFOUND);
    r.expire_after_days = 100; /* expiring before archiving would lose data */
    CHECK(mdx_store_retention_set(st, "acme", &r) == MDX_EINVAL);
    r.expire_after_days = 400;
    CHECK(mdx_store_retention_set(st, "acme", &r) == MDX_OK);
    CHECK(mdx_store_retention_get(st, "acme", &got) == MDX_OK);
    CHECK_EQ_INT(got.archive_after_days, 200);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.objects, 0); /* nothing is 200 days old */

    r.archive_after_days = 2;
    r.expire_after_days = 98; /* D0 ended 99 days before NOW, D0+1 98, D0+2 97 */
    CHECK(mdx_store_retention_set(st, "acme", &r) == MDX_OK);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.objects, 5);
    CHECK_EQ_INT(s.expired, 3); /* m1 day 1, m1 and m2 day 2 */
    CHECK_EQ_INT(archived_rows(&objects), 2 * PER_DAY * N_SENSORS);
    CHECK_EQ_INT(objects, 2);
    CHECK(!file_exists("tenant=acme/device=m1/date=2025-01-01"));
    CHECK(mdx_store_archive_obj_list(st, "acme", -1, 0, count_state, states) == MDX_OK);
    CHECK_EQ_INT(states[MDX_ARCHIVE_DONE], 2);
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

struct pts {
    int64_t n;
    int64_t first, last;
};

static int on_pt(void *arg, const char *sensor, int64_t ts, double v, unsigned fl)
{
    struct pts *p = arg;

    (void)sensor;
    (void)v;
    (void)fl;
    if (p->n == 0) {
        p->first = ts;
    }
    p->last = ts;
    p->n++;
    return MDX_OK;
}

static void delete_points_splits_chunks_across_midnight(void)
{
    struct mdx_store *st;
    struct pts p = {0, 0, 0};
    int64_t deleted = 0;

    setup("arch-del");
    st = store_open();
    CHECK(mdx_store_tenant_add(st, "acme") == MDX_OK);
    CHECK(mdx_store_device_add(st, "acme", "m1", 0) == MDX_OK);
    /* 7 s steps: chunks of 64 points straddle every midnight. */
    write_range(st, "m1", D0 - 3600000, D0 + 2 * DAY + 3600000, 7000, 0);
    CHECK(mdx_store_export_points(st, "acme", "m1", D0, D0 + DAY, on_pt, &p) == MDX_OK);
    /* A point arrived since the count: nothing is deleted. */
    CHECK(mdx_store_delete_points(st, "acme", "m1", D0, D0 + DAY, p.n - 1, &deleted) ==
          MDX_EAGAIN);
    CHECK_EQ_INT(deleted, 0);
    CHECK(mdx_store_delete_points(st, "acme", "m1", D0, D0 + DAY, p.n, &deleted) == MDX_OK);
    CHECK_EQ_INT(deleted, p.n);
    memset(&p, 0, sizeof(p));
    CHECK(mdx_store_export_points(st, "acme", "m1", D0 - DAY, D0 + 3 * DAY, on_pt, &p) == MDX_OK);
    CHECK(p.n > 0);
    {
        struct pts q = {0, 0, 0};
        CHECK(mdx_store_export_points(st, "acme", "m1", D0, D0 + DAY, on_pt, &q) == MDX_OK);
        CHECK_EQ_INT(q.n, 0);
        CHECK(mdx_store_export_points(st, "acme", "m1", D0 - 7000, D0, on_pt, &q) == MDX_OK);
        CHECK_EQ_INT(q.n, N_SENSORS); /* the last point before midnight stays */
    }
    CHECK_EQ_INT(points(st), p.n);
    mdx_store_close(st);
    tmp_remove(dir);
}

static void delete_by_another_connection_invalidates_cached_heads(void)
{
    struct mdx_store *writer, *archiver;
    struct pts p = {0, 0, 0};
    int64_t deleted = 0;

    setup("arch-heads");
    writer = store_open();
    CHECK(mdx_store_tenant_add(writer, "acme") == MDX_OK);
    CHECK(mdx_store_device_add(writer, "acme", "m1", 0) == MDX_OK);
    /* A device silent since D0: its head chunk (cached by 'writer') lies in D0. */
    write_range(writer, "m1", D0, D0 + 10 * STEP_MS, STEP_MS, 0);
    archiver = store_open();
    CHECK(mdx_store_delete_points(archiver, "acme", "m1", D0, D0 + DAY, -1, &deleted) == MDX_OK);
    CHECK_EQ_INT(deleted, 10 * N_SENSORS);
    /* The device comes back: appending to a stale cached head would resurrect D0. */
    write_range(writer, "m1", D0 + 20 * STEP_MS, D0 + 22 * STEP_MS, STEP_MS, 0);
    CHECK(mdx_store_export_points(archiver, "acme", "m1", D0, D0 + DAY, on_pt, &p) == MDX_OK);
    CHECK_EQ_INT(p.n, 2 * N_SENSORS);
    CHECK_EQ_INT(p.first, D0 + 20 * STEP_MS);
    CHECK_EQ_INT(points(writer), 2 * N_SENSORS);
    /* The same on one connection. */
    CHECK(mdx_store_delete_points(writer, "acme", "m1", D0, D0 + DAY, -1, &deleted) == MDX_OK);
    write_range(writer, "m1", D0 + 30 * STEP_MS, D0 + 31 * STEP_MS, STEP_MS, 0);
    memset(&p, 0, sizeof(p));
    CHECK(mdx_store_export_points(writer, "acme", "m1", D0, D0 + DAY, on_pt, &p) == MDX_OK);
    CHECK_EQ_INT(p.n, N_SENSORS);
    mdx_store_close(archiver);
    mdx_store_close(writer);
    tmp_remove(dir);
}

static void key_format_is_hive_style(void)
{
    char key[512];

    CHECK(mdx_archive_key(key, sizeof(key), "acme", "m-1", D0 + 31 * DAY + 5, 3) == MDX_OK);
    CHECK_STR(key, "tenant=acme/device=m-1/date=2025-02-01/points-3.csv.gz");
    CHECK(mdx_archive_key(key, 20, "acme", "m-1", D0, 1) == MDX_EINVAL);
}

/* Issue 13: while archiver A works, archiver B on another handle of the same database does nothing. */
struct second {
    struct mdx_objstore *os;
    int ran;
    int rc;
    struct mdx_archive_stats s;
};

static int run_second_archiver(void *arg, enum mdx_archive_step step,
                               const struct mdx_archive_obj *obj)
{
    struct second *b = arg;
    struct mdx_store *st2;
    struct mdx_archiver *ar2;

    (void)obj;
    if (step != MDX_ARCHIVE_STEP_UPLOADED || b->ran) {
        return MDX_OK;
    }
    b->ran = 1;
    st2 = store_open();
    ar2 = st2 != NULL ? mdx_archiver_create(&aconf, st2, b->os) : NULL;
    b->rc = ar2 != NULL ? mdx_archiver_run(ar2, NULL, 0, NOW, &b->s) : MDX_ENOMEM;
    mdx_archiver_destroy(ar2);
    mdx_store_close(st2);
    return MDX_OK;
}

static void one_archiver_at_a_time_and_a_lapsed_lease_is_taken_over(void)
{
    struct mdx_store *st = fixture("arch-lease");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archiver *ar = mdx_archiver_create(&aconf, st, os);
    struct second b = {os, 0, MDX_OK, {0}};
    struct mdx_archive_stats s;
    struct mdx_lease cur;
    int objects = 0;

    /* B, started while A holds the lease, does nothing and says so */
    mdx_archiver_set_hook(ar, run_second_archiver, &b);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK(b.ran);
    CHECK_EQ_INT(b.rc, MDX_EEXIST);
    CHECK_EQ_INT(b.s.objects + b.s.deleted + b.s.partitions, 0);
    CHECK_EQ_INT(s.objects, 5);
    CHECK_EQ_INT(archived_rows(&objects), OLD_POINTS);
    CHECK_EQ_INT(objects, 5);
    /* A gave the lease up at the end: anyone may take it now */
    CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "someone", mdx_now_ms(), 1000, NULL), MDX_OK);
    CHECK_EQ_INT(mdx_store_lease_release(st, "archiver", "someone"), MDX_OK);

    /* a holder that died: its lease runs out, then the next pass takes over */
    mdx_archiver_set_hook(ar, NULL, NULL);
    write_range(st, "m2", D0 + (OLD_DAYS + 1) * DAY, D0 + (OLD_DAYS + 2) * DAY, STEP_MS, 5);
    CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "dead:1:1", mdx_now_ms(), 60000, NULL),
                 MDX_OK);
    CHECK_EQ_INT(mdx_archiver_run(ar, NULL, 0, NOW, &s), MDX_EEXIST);
    CHECK_EQ_INT(s.objects, 0);
    CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "dead:1:1", mdx_now_ms() - 120000, 60000,
                                      NULL),
                 MDX_OK); /* as if taken two minutes ago and never renewed */
    CHECK_EQ_INT(mdx_archiver_run(ar, NULL, 0, NOW, &s), MDX_OK);
    CHECK_EQ_INT(s.objects, 1);
    memset(&cur, 0, sizeof(cur));
    CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "next", mdx_now_ms(), 1000, &cur), MDX_OK);
    /* a dry run needs no lease */
    CHECK_EQ_INT(mdx_archiver_run(ar, NULL, 1, NOW, &s), MDX_OK);

    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

/* Issue 13 (found there): an expiry older than 1970 must not read as "every day". */
static void a_century_of_retention_expires_nothing(void)
{
    struct mdx_store *st = fixture("arch-century");
    struct mdx_objstore *os = os_open(arch);
    struct mdx_archive_conf conf = aconf;
    struct mdx_archiver *ar;
    struct mdx_archive_stats s;
    int states[3] = {0, 0, 0};

    conf.expire_days = 36500; /* the largest archive.expire_days allows */
    ar = mdx_archiver_create(&conf, st, os);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW, &s) == MDX_OK);
    CHECK_EQ_INT(s.objects, 5);
    CHECK_EQ_INT(s.expired, 0);
    CHECK(mdx_archiver_run(ar, NULL, 0, NOW + 1000 * DAY, &s) == MDX_OK);
    CHECK_EQ_INT(s.expired, 0);
    CHECK(file_exists("tenant=acme/device=m1/date=2025-01-01/points-1.csv.gz"));
    CHECK(mdx_store_archive_obj_list(st, "acme", -1, 0, count_state, states) == MDX_OK);
    CHECK_EQ_INT(states[MDX_ARCHIVE_DONE], 6); /* the five, and the recent day, old by now */
    mdx_archiver_destroy(ar);
    mdx_objstore_close(os);
    mdx_store_close(st);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"issue 13: a century of retention expires nothing", a_century_of_retention_expires_nothing},
    {"issue 13: one archiver at a time; a lapsed lease is taken over",
     one_archiver_at_a_time_and_a_lapsed_lease_is_taken_over},
    {"issue 3: a pass archives old days, verifies, deletes their rows", pass_archives_old_days_and_deletes_their_rows},
    {"issue 3: object bytes are deterministic gzip CSV", object_bytes_are_deterministic_gzip_csv},
    {"issue 3: late points for an archived day get the next object", late_points_for_an_archived_day_get_the_next_object},
    {"issue 3: a run stopped at any step is finished by the next", run_stopped_at_any_step_is_finished_by_the_next},
    {"issue 3: an existing object with other content is not overwritten", existing_object_with_other_content_is_not_overwritten},
    {"issue 3: an existing object with the same content is no duplicate", existing_object_with_the_same_content_is_no_duplicate},
    {"issue 3: object store unavailable/5xx: retried later, nothing deleted", store_unavailable_or_5xx_retries_later},
    {"issue 3: object store 403: pass ends denied, nothing deleted", store_refusing_ends_the_pass_with_denied},
    {"issue 3: object read back wrong: rows kept, retried", object_read_back_wrong_keeps_the_rows},
    {"issue 3: disk full in the local object store: rows kept", disk_full_in_local_store_keeps_the_rows},
    {"issue 3: unwritable archive directory: rows kept", unwritable_archive_dir_keeps_the_rows},
    {"issue 3: dry run writes nothing", dry_run_writes_nothing},
    {"issue 3: per-tenant retention and expiry", tenant_retention_overrides_and_expiry},
    {"delete_points splits chunks across midnight", delete_points_splits_chunks_across_midnight},
    {"delete by another connection invalidates cached heads", delete_by_another_connection_invalidates_cached_heads},
    {"archive keys are Hive-style", key_format_is_hive_style},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
