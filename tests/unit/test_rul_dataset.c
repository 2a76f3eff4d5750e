/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_dataset.c - reading RUL histories: the C-MAPSS subset, CSV with
 * named columns, and every bad input refused with its line and column
 * (missing columns, non-numeric cells, empty file, NaN, short units).
 */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "modax/rul.h"
#include "modax/status.h"
#include "support/support.h"

static char dir[512];

static const char *write_file(const char *name, const char *text)
{
    static char path[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int read_text(const char *name, const char *text, const struct mdx_rul_read_opts *o,
                     struct mdx_rul_dataset **d, char *why, size_t len)
{
    return mdx_rul_dataset_read(write_file(name, text), o, d, why, len);
}

static void test_cmapss_subset(void)
{
    struct mdx_rul_read_opts o = {.format = MDX_RUL_FMT_CMAPSS, .min_rows = 30};
    struct mdx_rul_dataset *d = NULL;
    char why[512], path[700];

    snprintf(path, sizeof(path), "%s/cmapss/train_FD001_units1-10.txt", getenv("MODAX_TEST_DATA"));
    CHECK_EQ_INT(mdx_rul_dataset_read(path, &o, &d, why, sizeof(why)), MDX_OK);
    if (d == NULL) {
        fprintf(stderr, "  %s\n", why);
        return;
    }
    CHECK_EQ_INT(d->n_assets, 10);
    CHECK_EQ_INT(d->n_rows, 2136);
    CHECK_EQ_INT(d->n_inputs, 24);
    CHECK_STR(d->inputs[0], "setting1");
    CHECK_STR(d->inputs[4], "s2");
    CHECK_STR(d->asset[0], "1");
    CHECK_EQ_INT(d->asset_start[1], 192); /* unit 1 runs 192 cycles */
    CHECK(fabs(d->values[4] - 641.82) < 1e-9);
    CHECK(d->time[1] == 2.0);
    CHECK_EQ_INT(strlen(d->sha256), 64);
    CHECK_EQ_INT(mdx_rul_dataset_input(d, "s21"), 23);
    mdx_rul_dataset_free(d);
}

static void test_csv_named_columns(void)
{
    struct mdx_rul_read_opts o = {.format = MDX_RUL_FMT_CSV, .asset_col = "machine",
                                  .time_col = "ts", .inputs = "temp,4"};
    struct mdx_rul_dataset *d = NULL;
    char why[512];

    /* rows out of order and interleaved: grouped by asset (first appearance), in time order */
    CHECK_EQ_INT(read_text("a.csv", "ts,machine,temp,vib,\"unused\"\n"
                                    "2026-01-01T00:00:02Z,m2,20,0.5,x\n"
                                    "2026-01-01T00:00:01Z,m1,10,0.1,x\n"
                                    "2026-01-01T00:00:00Z,m2,19,0.4,x\n",
                           &o, &d, why, sizeof(why)), MDX_OK);
    if (d == NULL) {
        fprintf(stderr, "  %s\n", why);
        return;
    }
    CHECK_EQ_INT(d->n_assets, 2);
    CHECK_STR(d->asset[0], "m2");
    CHECK_STR(d->inputs[1], "vib");
    CHECK(d->values[0] == 19.0 && d->values[2] == 20.0 && d->values[5] == 0.1);
    CHECK(d->time[1] - d->time[0] == 2000.0);
    mdx_rul_dataset_free(d);
}

/* Reads 'text' expecting MDX_EINVAL with every one of 'want' in the message. */
static void refused(const char *text, const struct mdx_rul_read_opts *o, const char *w1,
                    const char *w2)
{
    struct mdx_rul_dataset *d = NULL;
    char why[512] = "";

    CHECK_EQ_INT(read_text("bad.txt", text, o, &d, why, sizeof(why)), MDX_EINVAL);
    CHECK(d == NULL);
    CHECK(strstr(why, w1) != NULL);
    CHECK(w2 == NULL || strstr(why, w2) != NULL);
    if (strstr(why, w1) == NULL || (w2 != NULL && strstr(why, w2) == NULL)) {
        fprintf(stderr, "  got: %s\n", why);
    }
    mdx_rul_dataset_free(d);
}

static void test_bad_inputs(void)
{
    struct mdx_rul_read_opts ws = {.format = MDX_RUL_FMT_CMAPSS};
    struct mdx_rul_read_opts csv = {.format = MDX_RUL_FMT_CSV};
    struct mdx_rul_read_opts named = {.format = MDX_RUL_FMT_CSV, .inputs = "temp,pressure"};
    struct mdx_rul_read_opts idx = {.format = MDX_RUL_FMT_CMAPSS, .inputs = "3-9"};

    /* missing columns: a short row, an input named that is not there, an index beyond */
    refused("1 1 5.0 6.0\n1 2 5.1\n", &ws, "line 2", "3 columns, expected 4");
    refused("asset,time,temp\na,1,3\n", &named, "line 1", "no input column named 'pressure'");
    refused("1 1 5.0 6.0\n", &idx, "missing column", "columns 1-4");
    /* non-numeric cells */
    refused("asset,time,temp\na,1,3\na,2,hot\n", &csv, "line 3, column 3 (temp)", "not a number");
    refused("1 1 5.0\n1 x 5.1\n", &ws, "line 2, column 2 (cycle)", "not a number");
    /* empty files */
    refused("", &ws, "empty file", NULL);
    refused("\n  \n", &csv, "empty file", NULL);
    refused("asset,time,temp\n", &csv, "no data rows", NULL);
    /* NaN: refused by default, also as an empty cell */
    refused("1 1 5.0\n1 2 NaN\n", &ws, "line 2, column 3 (setting1)", "NaN");
    refused("asset,time,temp\na,1,3\na,2,\n", &csv, "line 3, column 3", "NaN");
}

static void test_nan_carry(void)
{
    struct mdx_rul_read_opts o = {.format = MDX_RUL_FMT_CMAPSS, .nan_carry = 1};
    struct mdx_rul_dataset *d = NULL;
    char why[512];

    CHECK_EQ_INT(read_text("n.txt", "1 1 5.0\n1 2 nan\n1 3 7.0\n", &o, &d, why, sizeof(why)), MDX_OK);
    if (d != NULL) {
        CHECK(d->values[1] == 5.0); /* carried */
        CHECK(d->values[2] == 7.0);
    }
    mdx_rul_dataset_free(d);
    /* nothing to carry in an asset's first row */
    refused("1 1 nan\n1 2 7.0\n", &o, "line 1, column 3", "first row");
}

static void test_short_units(void)
{
    struct mdx_rul_read_opts o = {.format = MDX_RUL_FMT_CMAPSS, .min_rows = 3};
    struct mdx_rul_dataset *d = NULL;
    char why[512];

    /* unit 2 has 2 rows, fewer than 3: skipped and counted */
    CHECK_EQ_INT(read_text("s.txt", "1 1 1\n1 2 2\n1 3 3\n2 1 1\n2 2 2\n", &o, &d, why, sizeof(why)),
                 MDX_OK);
    if (d != NULL) {
        CHECK_EQ_INT(d->n_assets, 1);
        CHECK_EQ_INT(d->skipped_assets, 1);
        CHECK_EQ_INT(d->n_rows, 3);
    }
    mdx_rul_dataset_free(d);
    /* nothing remains: an error */
    refused("1 1 1\n2 1 1\n", &o, "no asset has at least 3 rows", "2 skipped");
}

static void cleanup(void)
{
    tmp_remove(dir);
}

static void setup(void)
{
    tmp_make(dir, sizeof(dir), "rul-dataset");
    atexit(cleanup);
}

static const struct mdx_test tests[] = {
    {"dataset_setup", setup},
    {"dataset_cmapss_subset", test_cmapss_subset},
    {"dataset_csv_named_columns", test_csv_named_columns},
    {"dataset_bad_inputs_line_and_column", test_bad_inputs},
    {"dataset_nan_carry_rule", test_nan_carry},
    {"dataset_short_units_skipped", test_short_units},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
