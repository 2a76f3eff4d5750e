/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_query_cli.c - `modax query --step/--agg` (issue 3): bucket output
 * as CSV and JSON from a store filled through the store interface, and
 * the bad parameters that must exit 2 with a message saying what to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define T0 1760000400000LL /* 2025-10-09T09:00:00Z */

/* Three hours of one point a minute into the test's store; value = minute in the hour. */
static int fill_store(const char *dir)
{
    static struct mdx_point p[180];
    struct mdx_point_group g = {"acme", "press-1", p, 180};
    struct mdx_batch b = {0};
    struct mdx_batch_result res;
    struct mdx_store *st;
    int rc;

    st = test_store_open(dir); /* SQLite, or PostgreSQL with MODAX_TEST_STORE=postgresql */
    if (st == NULL) {
        return MDX_ESTORE;
    }
    for (int i = 0; i < 180; i++) {
        memset(&p[i], 0, sizeof(p[i]));
        memcpy(p[i].sensor, "temp", 5);
        p[i].sensor_len = 4;
        p[i].ts_ms = T0 + i * 60000LL + 1000;
        p[i].value = (double)(i % 60) + 0.5;
    }
    b.groups = &g;
    b.n_groups = 1;
    rc = mdx_store_tenant_add(st, "acme");
    if (rc == MDX_OK) {
        rc = mdx_store_device_add(st, "acme", "press-1", 0);
    }
    if (rc == MDX_OK) {
        rc = mdx_store_write(st, &b, &res);
    }
    mdx_store_close(st);
    return rc;
}

static void query_step_prints_buckets(void)
{
    static char out[16384];
    char dir[256];

    tmp_make(dir, sizeof(dir), "query");
    modax_env(dir, 1);
    CHECK_EQ_INT(fill_store(dir), MDX_OK);

    CHECK_EQ_INT(modax_run(out, sizeof(out), "query", "--tenant", "acme", "--device", "press-1",
                           "--sensor", "temp", "--from", "2025-10-09 09:00:00", "--to",
                           "2025-10-09 11:59:59", "--step", "1h", "--agg", "max", NULL),
                 0);
    CHECK_STR(out, "time,ts_ms,value,count\n"
                   "2025-10-09T09:00:00.000Z,1760000400000,59.5,60\n"
                   "2025-10-09T10:00:00.000Z,1760004000000,59.5,60\n"
                   "2025-10-09T11:00:00.000Z,1760007600000,59.5,60\n");

    /* 15 minutes, average, from the minute rollup; --limit counts buckets. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "query", "--tenant", "acme", "--device", "press-1",
                           "--sensor", "temp", "--from", "1760000400000", "--to", "1760011199999",
                           "--step", "15m", "--limit", "2", NULL),
                 0);
    CHECK_STR(out, "time,ts_ms,value,count\n"
                   "2025-10-09T09:00:00.000Z,1760000400000,7.5,15\n"
                   "2025-10-09T09:15:00.000Z,1760001300000,22.5,15\n");

    /* 30 s from raw points, count, JSON; a range beyond the data is fine. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "query", "--tenant", "acme", "--device", "press-1",
                           "--sensor", "temp", "--from", "2025-10-09 11:58:00", "--to",
                           "2025-10-10 00:00:00", "--step", "30s", "--agg", "count",
                           "--format", "json", NULL),
                 0);
    CHECK_STR(out, "[{\"time\":\"2025-10-09T11:58:00.000Z\",\"ts_ms\":1760011080000,"
                   "\"value\":1,\"count\":1},\n"
                   " {\"time\":\"2025-10-09T11:59:00.000Z\",\"ts_ms\":1760011140000,"
                   "\"value\":1,\"count\":1}]\n");

    /* A day of min: one bucket. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "query", "--tenant", "acme", "--device", "press-1",
                           "--sensor", "temp", "--from", "2025-10-09 00:00:00", "--to",
                           "2025-10-09 23:59:59", "--step", "1d", "--agg", "min", NULL),
                 0);
    CHECK_STR(out, "time,ts_ms,value,count\n"
                   "2025-10-09T00:00:00.000Z,1759968000000,0.5,180\n");
    tmp_remove(dir);
}

static void query_step_refuses_bad_parameters(void)
{
    static const struct {
        const char *opt;
        const char *val;
        const char *says;
    } cases[] = {
        {"--step", "0", "--step '0' is not a duration"},
        {"--step", "abc", "--step 'abc' is not a duration"},
        {"--step", "-1h", "--step '-1h' is not a duration"},
        {"--step", "1.5h", "is not a duration"},
        {"--step", "1w", "is not a duration"},
        {"--agg", "median", "--agg must be avg, min, max or count, not 'median'"},
    };
    char dir[256], err[4096];

    tmp_make(dir, sizeof(dir), "query-bad");
    modax_env(dir, 1);
    CHECK_EQ_INT(fill_store(dir), MDX_OK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_EQ_INT(modax_stderr(err, sizeof(err), "query", "--tenant", "acme", "--device",
                                  "press-1", "--sensor", "temp", "--step", "1h", cases[i].opt,
                                  cases[i].val, NULL),
                     2);
        if (strstr(err, cases[i].says) == NULL) {
            fprintf(stderr, "  %s %s: got '%s'\n", cases[i].opt, cases[i].val, err);
            CHECK(0);
        }
    }
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "query", "--tenant", "acme", "--device",
                              "press-1", "--sensor", "temp", "--from", "2025-10-09 12:00:00",
                              "--to", "2025-10-09 11:00:00", "--step", "1h", NULL),
                 2);
    CHECK(strstr(err, "--from is after --to") != NULL);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "query", "--tenant", "acme", "--device",
                              "press-1", "--sensor", "temp", "--agg", "max", NULL),
                 2);
    CHECK(strstr(err, "--agg needs --step") != NULL);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"issue 3: query --step prints buckets from rollups and raw points",
     query_step_prints_buckets},
    {"issue 3: query --step 0/abc, --agg median, --from after --to exit 2",
     query_step_refuses_bad_parameters},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
