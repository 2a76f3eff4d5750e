/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_cli.c - `modax train` and `modax predict` end to end on the
 * shipped C-MAPSS subset: the report and model files, one RUL per asset,
 * an asset with too little history (no prediction, the reason on its
 * line), one with a partial window (predicted), and the clear errors for
 * bad data and bad model files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support/support.h"

/* `modax train`'s defaults (mdx_rul_train_opts_init) */
#define DEFAULT_WINDOW "80"
#define DEFAULT_MIN_ROWS "15"

static char dir[512], subset[700], base[700];
static char out[1 << 16];

static void cleanup(void)
{
    tmp_remove(dir);
}

static void test_train(void)
{
    char path[800];
    FILE *f;
    int rc;

    tmp_make(dir, sizeof(dir), "rul-cli");
    atexit(cleanup);
    snprintf(subset, sizeof(subset), "%s/cmapss/train_FD001_units1-10.txt", getenv("MODAX_TEST_DATA"));
    snprintf(base, sizeof(base), "%s/fd001", dir);
    /* the default window and min_rows */
    rc = modax_run(out, sizeof(out), "train", "--data", subset, "--format", "cmapss",
                   "--cap", "125", "--folds", "5", "--seed", "3", "--threads", "1",
                   "--rounds", "150", "--out", base, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "10 assets (0 skipped)") != NULL);
    CHECK(strstr(out, "windows of " DEFAULT_WINDOW " rows (" DEFAULT_MIN_ROWS " to "
                      DEFAULT_WINDOW " rows of history)") != NULL);
    CHECK(strstr(out, "grouped 5-fold CV by asset") != NULL);
    CHECK(strstr(out, "RMSE") != NULL && strstr(out, "PHM08") != NULL);
    CHECK(strstr(out, "\r") == NULL); /* no progress bar when stderr is not a terminal */
    snprintf(path, sizeof(path), "%s.manifest.json", base);
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (f != NULL) {
        size_t n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = '\0';
        fclose(f);
        CHECK(strstr(out, "\"dropped_constant_inputs\":\t\"setting3,s1,s5,s10,s16,s18,s19\"") != NULL);
        CHECK(strstr(out, "\"s2.slope\"") != NULL);
    }
}

static void test_predict(void)
{
    char trunc[800], line[64];
    FILE *in, *f;
    int rc, lines = 0;

    /* units 1-10 truncated: unit 3 keeps 10 cycles, unit 4 20 (a partial window), the others 60 */
    snprintf(trunc, sizeof(trunc), "%s/test.txt", dir);
    in = fopen(subset, "r");
    f = fopen(trunc, "w");
    CHECK(in != NULL && f != NULL);
    if (in == NULL || f == NULL) {
        return;
    }
    {
        char row[1024];
        while (fgets(row, sizeof(row), in) != NULL) {
            int unit, cycle;
            if (sscanf(row, "%d %d", &unit, &cycle) == 2 &&
                cycle <= (unit == 3 ? 10 : unit == 4 ? 20 : 60)) {
                fputs(row, f);
            }
        }
    }
    fclose(in);
    fclose(f);
    rc = modax_run(out, sizeof(out), "predict", "--model", base, "--data", trunc, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    for (char *p = out; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    CHECK_EQ_INT(lines, 10);
    CHECK(strstr(out, "3 - no prediction: 10 rows of history, the model needs " DEFAULT_MIN_ROWS
                      "\n") != NULL);
    /* unit 4: 20 rows, fewer than the window: predicted from what it has, a new engine */
    double rul4 = -1;
    char *l4 = strstr(out, "\n4 ");
    CHECK(l4 != NULL && sscanf(l4 + 3, "%lf", &rul4) == 1 && rul4 > 90.0 && rul4 <= 125.0);
    /* unit 1 ran 192 cycles: at cycle 60 it has 132 left, so the capped model says well above 60 */
    double rul = -1;
    CHECK(sscanf(out, "1 %lf", &rul) == 1);
    CHECK(rul > 60.0 && rul <= 125.0);
    /* the full histories: every unit at its failure cycle */
    rc = modax_run(out, sizeof(out), "predict", "--model", base, "--data", subset, (char *)NULL);
    CHECK_EQ_INT(rc, 0);
    snprintf(line, sizeof(line), "10 ");
    char *l10 = strstr(out, "\n10 ");
    CHECK(l10 != NULL && sscanf(l10 + 4, "%lf", &rul) == 1 && rul < 30.0);
}

static void test_errors(void)
{
    char path[800], mpath[800];
    FILE *f;
    int rc;

    /* bad data: a non-numeric cell, with line and column */
    snprintf(path, sizeof(path), "%s/bad.txt", dir);
    f = fopen(path, "w");
    fputs("1 1 0 0 100 518.67 641.82\n1 2 0 0 100 518.67 oops\n", f);
    fclose(f);
    rc = modax_stderr(out, sizeof(out), "train", "--data", path, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "line 2, column 7 (s2): 'oops' is not a number") != NULL);
    /* empty file */
    f = fopen(path, "w");
    fclose(f);
    rc = modax_stderr(out, sizeof(out), "train", "--data", path, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "empty file") != NULL);
    /* the model's inputs missing from the data */
    f = fopen(path, "w");
    fputs("1 1 0 0 100\n", f);
    fclose(f);
    rc = modax_stderr(out, sizeof(out), "predict", "--model", base, "--data", path, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "missing column") != NULL);
    /* a model file that is not XGBoost JSON */
    snprintf(path, sizeof(path), "%s/bogus.json", dir);
    snprintf(mpath, sizeof(mpath), "%s.manifest.json", base);
    f = fopen(path, "w");
    fputs("{\"not\": \"a model\"}\n", f);
    fclose(f);
    rc = modax_stderr(out, sizeof(out), "predict", "--model", path, "--data", subset, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "is not an XGBoost JSON model") != NULL);
    /* usage */
    rc = modax_stderr(out, sizeof(out), "train", "--window", "1", "--data", subset, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    /* min_rows above the window */
    rc = modax_stderr(out, sizeof(out), "train", "--window", "20", "--min-rows", "25", "--data",
                      subset, (char *)NULL);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(out, "min_rows 25 is outside [2, window 20]") != NULL);
}

static const struct mdx_test tests[] = {
    {"rul_cli_train", test_train},
    {"rul_cli_predict", test_predict},
    {"rul_cli_errors", test_errors},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
