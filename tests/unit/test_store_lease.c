/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_lease.c - named leases (store_lease.h) on SQLite and on a
 * real PostgreSQL: take, renew, refusal while held, takeover once expired,
 * release only by the holder, bad arguments, and two store handles that
 * race for one lease and never both win.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store_util.h"
#include "support/support.h"

#define T0 1760000000000LL

enum backend { SQLITE, PGSQL };

static const char *db_path;   /* SQLite: from tmp_db_fresh() */
static struct pg_cluster *cl; /* PostgreSQL: the program's shared cluster */
static int db_seq;
static char url[256];

static int fresh(enum backend be)
{
    char db[32];

    if (be == SQLITE) {
        db_path = tmp_db_fresh();
        return db_path != NULL ? 0 : -1;
    }
    cl = pg_shared();
    if (cl == NULL) {
        fprintf(stderr, "  no PostgreSQL cluster\n");
        return -1;
    }
    snprintf(db, sizeof(db), "lease%d", ++db_seq);
    if (pg_cluster_create_db(cl, db) != 0) {
        return -1;
    }
    pg_cluster_url(cl, db, url, sizeof(url));
    return 0;
}

static struct mdx_store *reopen(enum backend be)
{
    struct mdx_store_conf conf;
    int err = 0;

    if (be == SQLITE) {
        memset(&conf, 0, sizeof(conf));
        conf.backend = "sqlite";
        conf.sqlite_path = (char *)db_path;
        conf.busy_timeout_ms = 5000;
        conf.chunk_points = 64;
        conf.cache_series = 1000;
        conf.deadletter_max = 100;
    } else {
        pg_store_conf(&conf, cl, url);
    }
    return mdx_store_open(&conf, &err);
}

static void take_renew_refuse_expire_release(enum backend be)
{
    struct mdx_store *a, *b;
    struct mdx_lease cur;

    CHECK(fresh(be) == 0);
    a = reopen(be);
    b = reopen(be);
    CHECK(a != NULL && b != NULL);
    if (a == NULL || b == NULL) {
        goto out;
    }
    CHECK_EQ_INT(mdx_store_lease_take(a, "archiver", "host-a:1:1", T0, 10000, NULL), MDX_OK);
    /* the holder renews; another is refused and told who holds it until when */
    CHECK_EQ_INT(mdx_store_lease_take(a, "archiver", "host-a:1:1", T0 + 5000, 10000, NULL), MDX_OK);
    memset(&cur, 0, sizeof(cur));
    CHECK_EQ_INT(mdx_store_lease_take(b, "archiver", "host-b:2:1", T0 + 14000, 10000, &cur),
                 MDX_EEXIST);
    CHECK_STR(cur.holder, "host-a:1:1");
    CHECK_EQ_INT(cur.expires_ms, T0 + 15000);
    /* another name is another lease */
    CHECK_EQ_INT(mdx_store_lease_take(b, "trainer", "host-b:2:1", T0, 10000, NULL), MDX_OK);
    /* once expired, the other takes over and the first one's renewal is refused */
    CHECK_EQ_INT(mdx_store_lease_take(b, "archiver", "host-b:2:1", T0 + 15000, 10000, NULL), MDX_OK);
    CHECK_EQ_INT(mdx_store_lease_take(a, "archiver", "host-a:1:1", T0 + 16000, 10000, &cur),
                 MDX_EEXIST);
    CHECK_STR(cur.holder, "host-b:2:1");
    /* only the holder releases; then anyone takes it at once */
    CHECK_EQ_INT(mdx_store_lease_release(a, "archiver", "host-a:1:1"), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_store_lease_release(b, "archiver", "host-b:2:1"), MDX_OK);
    CHECK_EQ_INT(mdx_store_lease_take(a, "archiver", "host-a:1:1", T0 + 16000, 10000, NULL), MDX_OK);
out:
    mdx_store_close(a);
    mdx_store_close(b);
    if (be == SQLITE) {
        tmp_db_remove();
    }
}

static void bad_arguments_are_refused(enum backend be)
{
    struct mdx_store *st;
    char longname[200];

    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(fresh(be) == 0);
    st = reopen(be);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_lease_take(st, "", "h", T0, 1000, NULL), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "", T0, 1000, NULL), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_take(st, NULL, "h", T0, 1000, NULL), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_take(st, longname, "h", T0, 1000, NULL), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", longname, T0, 1000, NULL), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "h", T0, 0, NULL), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "h", INT64_MAX - 5, 10, NULL),
                     MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_lease_release(st, "archiver", NULL), MDX_EINVAL);
        /* a quote in a name is data, not SQL */
        CHECK_EQ_INT(mdx_store_lease_take(st, "x'; DROP TABLE leases; --", "h", T0, 1000, NULL),
                     MDX_OK);
        CHECK_EQ_INT(mdx_store_lease_take(st, "archiver", "h", T0, 1000, NULL), MDX_OK);
        mdx_store_close(st);
    }
    if (be == SQLITE) {
        tmp_db_remove();
    }
}

/* Two handles race for an expired lease at the same instants: each round one wins. */
struct racer {
    struct mdx_store *st;
    const char *holder;
    pthread_barrier_t *bar;
    int wins[200];
    int errors;
};

static void *race(void *arg)
{
    struct racer *r = arg;

    for (int i = 0; i < 200; i++) {
        int rc;
        pthread_barrier_wait(r->bar);
        /* round i: the lease of round i-1 (1 ms long) has expired at T0 + 10 i */
        rc = mdx_store_lease_take(r->st, "race", r->holder, T0 + 10 * i, 1, NULL);
        r->wins[i] = rc == MDX_OK;
        r->errors += rc != MDX_OK && rc != MDX_EEXIST;
    }
    return NULL;
}

static void two_handles_never_both_win(enum backend be)
{
    pthread_barrier_t bar;
    struct racer r[2] = {{.holder = "one"}, {.holder = "two"}};
    pthread_t t[2];
    int both = 0, none = 0;

    CHECK(fresh(be) == 0);
    pthread_barrier_init(&bar, NULL, 2);
    for (int k = 0; k < 2; k++) {
        r[k].st = reopen(be);
        r[k].bar = &bar;
        CHECK(r[k].st != NULL);
    }
    if (r[0].st != NULL && r[1].st != NULL) {
        for (int k = 0; k < 2; k++) {
            pthread_create(&t[k], NULL, race, &r[k]);
        }
        for (int k = 0; k < 2; k++) {
            pthread_join(t[k], NULL);
        }
        for (int i = 0; i < 200; i++) {
            both += r[0].wins[i] && r[1].wins[i];
            none += !r[0].wins[i] && !r[1].wins[i];
        }
        CHECK_EQ_INT(both, 0);
        CHECK_EQ_INT(none, 0);
        CHECK_EQ_INT(r[0].errors + r[1].errors, 0);
    }
    for (int k = 0; k < 2; k++) {
        mdx_store_close(r[k].st);
    }
    pthread_barrier_destroy(&bar);
    if (be == SQLITE) {
        tmp_db_remove();
    }
}

#define BOTH(fn)                                                                                   \
    static void sqlite_##fn(void)                                                                  \
    {                                                                                              \
        fn(SQLITE);                                                                                \
    }                                                                                              \
    static void pgsql_##fn(void)                                                                   \
    {                                                                                              \
        fn(PGSQL);                                                                                 \
    }

BOTH(take_renew_refuse_expire_release)
BOTH(bad_arguments_are_refused)
BOTH(two_handles_never_both_win)

#define TESTS(label, fn)                                                                           \
    {"sqlite: " label, sqlite_##fn}, { "pgsql: " label, pgsql_##fn }

static const struct mdx_test tests[] = {
    TESTS("a lease is taken, renewed, refused while held, taken over once expired, released",
          take_renew_refuse_expire_release),
    TESTS("bad names, holders and times are refused", bad_arguments_are_refused),
    TESTS("two handles racing for one lease never both win", two_handles_never_both_win),
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
