/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_detector.c - saved detector states (store_detector.h) on
 * SQLite and on a real PostgreSQL: written with a batch, in its
 * transaction, listed per device byte for byte; a newer save replaces the
 * row, a late save of older points does not; a state of a device that is
 * not registered stores nothing; an empty or oversized state fails the
 * whole batch (its points too); deleting the device deletes its states.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "store_util.h"
#include "support/support.h"

#define T0 1760000000000LL
#define LEN 404

enum backend { SQLITE, PGSQL };

static const char *db_path;
static struct pg_cluster *cl;
static int db_seq;
static char url[256];

static struct mdx_store *open_fresh(enum backend be)
{
    struct mdx_store_conf conf;
    char db[32];
    int err = 0;

    memset(&conf, 0, sizeof(conf));
    if (be == SQLITE) {
        db_path = tmp_db_fresh();
        if (db_path == NULL) {
            return NULL;
        }
        conf.backend = "sqlite";
        conf.sqlite_path = (char *)db_path;
        conf.busy_timeout_ms = 5000;
        conf.chunk_points = 64;
        conf.cache_series = 1000;
        conf.deadletter_max = 100;
    } else {
        cl = pg_shared();
        if (cl == NULL) {
            fprintf(stderr, "  no PostgreSQL cluster\n");
            return NULL;
        }
        snprintf(db, sizeof(db), "detstate%d", ++db_seq);
        if (pg_cluster_create_db(cl, db) != 0) {
            return NULL;
        }
        pg_cluster_url(cl, db, url, sizeof(url));
        pg_store_conf(&conf, cl, url);
    }
    return mdx_store_open(&conf, &err);
}

/* Every byte value, and the ones an encoding could trip on (0, '"', '\\'), seeded by 'seed'. */
static void fill(uint8_t *b, int seed)
{
    for (int i = 0; i < LEN; i++) {
        b[i] = (uint8_t)(i * 7 + seed);
    }
    b[0] = 0;
    b[1] = '"';
    b[2] = '\\';
    b[3] = (uint8_t)seed;
}

#define ROWS_MAX 8

struct listed {
    int n;
    char sensor[ROWS_MAX][MDX_NAME_MAX + 1];
    uint8_t state[ROWS_MAX][LEN];
    size_t len[ROWS_MAX];
    int32_t format[ROWS_MAX];
    int64_t last_ts[ROWS_MAX];
};

static int collect_row(void *arg, const struct mdx_detector_state_row *r)
{
    struct listed *l = arg;

    if (l->n < ROWS_MAX) {
        snprintf(l->sensor[l->n], sizeof(l->sensor[0]), "%s", r->sensor);
        l->len[l->n] = r->len;
        memcpy(l->state[l->n], r->state, r->len <= LEN ? r->len : LEN);
        l->format[l->n] = r->format;
        l->last_ts[l->n] = r->last_ts_ms;
    }
    l->n++;
    return MDX_OK;
}

static struct listed list(struct mdx_store *st, const char *device)
{
    struct listed l;

    memset(&l, 0, sizeof(l));
    CHECK_EQ_INT(mdx_store_detector_state_list(st, "acme", device, collect_row, &l), MDX_OK);
    return l;
}

static int write_states(struct mdx_store *st, const struct mdx_detector_state_row *rows, size_t n,
                        const struct mdx_point *pts, size_t n_pts)
{
    struct mdx_point_group g = {"acme", "m1", pts, n_pts};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;

    b.groups = &g;
    b.n_groups = n_pts > 0 ? 1 : 0;
    b.detector_states = rows;
    b.n_detector_states = n;
    return mdx_store_write(st, &b, &res);
}

static void saved_listed_replaced_and_deleted(enum backend be)
{
    struct mdx_store *st = open_fresh(be);
    uint8_t s1[LEN], s2[LEN], s3[LEN], s4[LEN];
    struct mdx_point p[2];
    struct listed l;
    int64_t count = 0;

    CHECK(st != NULL);
    if (st == NULL) {
        return;
    }
    add_tenant_device(st, "acme", "m1");
    fill(s1, 1);
    fill(s2, 2);
    fill(s3, 3);
    fill(s4, 4);
    set_point(&p[0], "temperature", T0, 20.5, 0);
    set_point(&p[1], "vibration", T0, 0.3, 0);
    {
        const struct mdx_detector_state_row rows[] = {
            {"acme", "m1", "temperature", 1, s1, LEN, T0, T0 + 5},
            {"acme", "m1", "vibration", 1, s2, LEN, T0, T0 + 5},
            {"acme", "ghost", "temperature", 1, s3, LEN, T0, T0 + 5}, /* not registered */
        };
        CHECK_EQ_INT(write_states(st, rows, 3, p, 2), MDX_OK);
    }
    l = list(st, "m1");
    CHECK_EQ_INT(l.n, 2);
    CHECK_STR(l.sensor[0], "temperature");
    CHECK_STR(l.sensor[1], "vibration");
    CHECK_EQ_INT(l.len[0], LEN);
    CHECK(memcmp(l.state[0], s1, LEN) == 0);
    CHECK(memcmp(l.state[1], s2, LEN) == 0);
    CHECK_EQ_INT(l.format[0], 1);
    CHECK_EQ_INT(l.last_ts[1], T0);
    CHECK_EQ_INT(list(st, "ghost").n, 0);
    CHECK_EQ_INT(mdx_store_point_count(st, "acme", &count), MDX_OK);
    CHECK_EQ_INT(count, 2);

    /* A newer save replaces; a late one of older points (a worker that lost the partition) not. */
    {
        const struct mdx_detector_state_row newer = {"acme", "m1", "temperature", 1, s3, LEN,
                                                     T0 + 60000, T0 + 60005};
        const struct mdx_detector_state_row older = {"acme", "m1", "vibration", 1, s4, LEN,
                                                     T0 - 1000, T0 + 60005};
        CHECK_EQ_INT(write_states(st, &newer, 1, NULL, 0), MDX_OK);
        CHECK_EQ_INT(write_states(st, &older, 1, NULL, 0), MDX_OK);
    }
    l = list(st, "m1");
    CHECK_EQ_INT(l.n, 2);
    CHECK(memcmp(l.state[0], s3, LEN) == 0);
    CHECK_EQ_INT(l.last_ts[0], T0 + 60000);
    CHECK(memcmp(l.state[1], s2, LEN) == 0);

    /* An empty or oversized state fails the batch, points and all. */
    {
        struct mdx_point q;
        const struct mdx_detector_state_row empty = {"acme", "m1", "temperature", 1, s1, 0,
                                                     T0 + 70000, T0};
        const struct mdx_detector_state_row huge = {"acme", "m1", "temperature", 1, s1,
                                                    MDX_DETECTOR_STATE_MAX + 1, T0 + 70000, T0};
        set_point(&q, "temperature", T0 + 1000, 21.0, 0);
        CHECK_EQ_INT(write_states(st, &empty, 1, &q, 1), MDX_EINVAL);
        CHECK_EQ_INT(write_states(st, &huge, 1, &q, 1), MDX_EINVAL);
        CHECK_EQ_INT(mdx_store_point_count(st, "acme", &count), MDX_OK);
        CHECK_EQ_INT(count, 2);
        l = list(st, "m1");
        CHECK(memcmp(l.state[0], s3, LEN) == 0);
    }

    /* The device goes, and its states with it. */
    CHECK_EQ_INT(mdx_store_device_delete(st, "acme", "m1"), MDX_OK);
    CHECK_EQ_INT(list(st, "m1").n, 0);
    mdx_store_close(st);
    if (be == SQLITE) {
        tmp_db_remove();
    }
}

static void sqlite_saved(void)
{
    saved_listed_replaced_and_deleted(SQLITE);
}

static void pgsql_saved(void)
{
    saved_listed_replaced_and_deleted(PGSQL);
}

static const struct mdx_test tests[] = {
    {"sqlite: states saved with a batch, listed, replaced by newer saves only, deleted",
     sqlite_saved},
    {"pgsql: states saved with a batch, listed, replaced by newer saves only, deleted",
     pgsql_saved},
    {NULL, NULL}};

int main(int argc, char **argv)
{
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    return mdx_test_run(tests, argc, argv);
}
