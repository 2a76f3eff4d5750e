/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_detect_columns.c - `modax detect --columns` (issue 15): one device
 * score per data row of a 'timestamp,s1,s2,...' CSV, from the device-level
 * detector; a decoupled pair of sensors in a generated file is found; and
 * each bad input of the issue: ragged rows and non-numeric cells (scored 0,
 * named by line on stderr), too many columns, an empty file and a missing
 * header (refused with a reason).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support/support.h"

#define ROWS 3000
#define ONSET 2000
#define OUT_MAX (ROWS * 32 + 1024)

static char dir[512];
static char out[OUT_MAX];

static void write_file(const char *name, const char *text, char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/%s", dir, name);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

/* Deterministic noise for the generated file. */
static uint64_t rng = 0x853C49E6748FEA9BULL;

static double noise(void)
{
    double s = 0.0;

    for (int i = 0; i < 4; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        s += (double)(rng >> 11) * (1.0 / 9007199254740992.0) - 0.5;
    }
    return s * 0.3;
}

/*
 * A machine of three sensors: current, a second current that follows it,
 * a vibration. From row ONSET on the second current runs its own cycle
 * half a period off: still in its range, but no longer with the first.
 */
static void write_decoupled(char *path, size_t len)
{
    FILE *f;

    snprintf(path, len, "%s/decoupled.csv", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) {
        return;
    }
    fprintf(f, "timestamp,current_a,current_b,vibration\n");
    for (int i = 0; i < ROWS; i++) {
        double load = (i % 30) < 18 ? 1.0 : 0.2;
        double load_b = i >= ONSET ? ((i + 15) % 30 < 18 ? 1.0 : 0.2) : load;

        fprintf(f, "%lld,%.4f,%.4f,%.4f\n", 1700000000000LL + i * 1000LL,
                2.0 + 4.0 * load + noise(), 1.8 + 3.6 * load_b + noise(),
                1.0 + 0.5 * load + 0.2 * noise());
    }
    fclose(f);
}

/* The scores printed, one per line; returns how many. */
static int scores(const char *text, double *v, int max)
{
    int n = 0;
    const char *p = text;

    while (*p != '\0' && n < max) {
        char *end;
        v[n++] = strtod(p, &end);
        if (end == p) {
            return -1;
        }
        p = end;
        while (*p == '\n') {
            p++;
        }
    }
    return n;
}

static void issue15_decoupled_pair_scores_high_after_onset_only(void)
{
    static double v[ROWS + 10];
    char path[700];
    double before = 0.0, after = 0.0;

    write_decoupled(path, sizeof(path));
    CHECK_EQ_INT(modax_run(out, sizeof(out), "detect", "--columns", path, NULL), 0);
    CHECK_EQ_INT(scores(out, v, ROWS + 10), ROWS);
    for (int i = 0; i < ROWS; i++) {
        CHECK(v[i] >= 0.0 && v[i] <= 1.0);
        if (i < ONSET) {
            before = v[i] > before ? v[i] : before;
        } else if (i < ONSET + 100) {
            after = v[i] > after ? v[i] : after;
        }
    }
    CHECK(before < 0.9);
    CHECK(after >= 0.9);
    /* The same file on stdin gives the same scores. */
    {
        static char again[OUT_MAX];
        char cmd[1600];
        FILE *p;
        size_t n;

        snprintf(cmd, sizeof(cmd), "%s/modax detect --columns < %s", getenv("MODAX_BIN_DIR"),
                 path);
        p = popen(cmd, "r");
        CHECK(p != NULL);
        if (p != NULL) {
            n = fread(again, 1, sizeof(again) - 1, p);
            again[n] = '\0';
            CHECK_EQ_INT(pclose(p), 0);
            CHECK(strcmp(out, again) == 0);
        }
    }
}

static void issue15_ragged_rows_score_zero_and_are_named(void)
{
    char path[700], err[4096];
    double v[8];

    write_file("ragged.csv",
               "timestamp,a,b\n"
               "1700000000000,1,2\n"
               "1700000001000,1\n"
               "1700000002000,1,2,3\n"
               "\"1700000003000\",\"1\",\"2\"\r\n",
               path, sizeof(path));
    CHECK_EQ_INT(modax_run(out, sizeof(out), "detect", "--columns", path, NULL), 0);
    CHECK_EQ_INT(scores(out, v, 8), 4);
    CHECK(v[1] == 0.0 && v[2] == 0.0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 0);
    CHECK(strstr(err, "line 3: fewer cells than the header") != NULL);
    CHECK(strstr(err, "line 4: more cells than the header") != NULL);
    CHECK(strstr(err, "line 5") == NULL); /* quoted cells and CRLF are fine */
    CHECK(strstr(err, "2 of 4 rows could not be read") != NULL);
}

static void issue15_non_numeric_cells_score_zero_and_are_named(void)
{
    char path[700], err[4096];
    double v[8];

    write_file("non-numeric.csv",
               "timestamp,a,b\n"
               "1700000000000,1,2\n"
               "1700000001000,1,high\n"
               "1700000002000,,2\n"
               "1700000003000,1,2\n",
               path, sizeof(path));
    CHECK_EQ_INT(modax_run(out, sizeof(out), "detect", "--columns", path, NULL), 0);
    CHECK_EQ_INT(scores(out, v, 8), 4);
    CHECK(v[1] == 0.0 && v[2] == 0.0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 0);
    CHECK(strstr(err, "line 3: a cell is not a number") != NULL);
    CHECK(strstr(err, "line 4: a cell is not a number") != NULL);
}

static void issue15_too_many_columns_are_refused(void)
{
    char path[700], err[4096], text[512];
    int n = snprintf(text, sizeof(text), "timestamp");

    for (int i = 0; i < 17; i++) {
        n += snprintf(text + n, sizeof(text) - (size_t)n, ",s%d", i);
    }
    snprintf(text + n, sizeof(text) - (size_t)n, "\n");
    write_file("too-many-columns.csv", text, path, sizeof(path));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 1);
    CHECK(strstr(err, "17 sensor columns; the device detector takes 2 to 16") != NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "detect", "--columns", path, NULL), 1);
    CHECK_STR(out, "");
    /* One sensor is too few for a relation. */
    write_file("one-column.csv", "timestamp,a\n1700000000000,1\n", path, sizeof(path));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 1);
    CHECK(strstr(err, "1 sensor columns") != NULL);
}

static void issue15_empty_file_is_refused(void)
{
    char path[700], err[4096];

    write_file("empty.csv", "", path, sizeof(path));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 1);
    CHECK(strstr(err, "empty") != NULL);
}

static void issue15_missing_header_is_refused(void)
{
    char path[700], err[4096];

    write_file("missing-header.csv", "1700000000000,1,2\n1700000001000,1,2\n", path,
               sizeof(path));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 1);
    CHECK(strstr(err, "line 1 is data, not a header") != NULL);
    /* A header whose first cell is a name but whose others are numbers is data too. */
    write_file("numbers-header.csv", "t,1,2\n1700000001000,1,2\n", path, sizeof(path));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "detect", "--columns", path, NULL), 1);
    CHECK(strstr(err, "not a header") != NULL);
}

static const struct mdx_test tests[] = {
    {"issue 15: a decoupled pair scores high after its onset only",
     issue15_decoupled_pair_scores_high_after_onset_only},
    {"issue 15: ragged rows score 0 and are named", issue15_ragged_rows_score_zero_and_are_named},
    {"issue 15: non-numeric cells score 0 and are named",
     issue15_non_numeric_cells_score_zero_and_are_named},
    {"issue 15: too many columns are refused", issue15_too_many_columns_are_refused},
    {"issue 15: an empty file is refused", issue15_empty_file_is_refused},
    {"issue 15: a missing header is refused", issue15_missing_header_is_refused},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    int rc;

    tmp_make(dir, sizeof(dir), "detect-columns");
    rc = mdx_test_run(tests, argc, argv);
    tmp_remove(dir);
    return rc;
}
