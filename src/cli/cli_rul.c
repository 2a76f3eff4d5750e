/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli_rul.c - the history-file options shared by `modax train` and
 * `modax predict`, and their strict number parsing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_rul.h"

int cli_rul_read_option(const char *opt, const char *v, struct mdx_rul_read_opts *ro)
{
    if (strcmp(opt, "--format") != 0 && strcmp(opt, "--asset-col") != 0 &&
        strcmp(opt, "--time-col") != 0 && strcmp(opt, "--inputs") != 0 &&
        strcmp(opt, "--nan") != 0) {
        return 0;
    }
    if (v == NULL) {
        fprintf(stderr, "modax: %s needs a value\n", opt);
        return -1;
    }
    if (strcmp(opt, "--format") == 0) {
        if (strcmp(v, "cmapss") == 0) {
            ro->format = MDX_RUL_FMT_CMAPSS;
        } else if (strcmp(v, "csv") == 0) {
            ro->format = MDX_RUL_FMT_CSV;
        } else {
            fprintf(stderr, "modax: --format is cmapss or csv, not '%s'\n", v);
            return -1;
        }
    } else if (strcmp(opt, "--asset-col") == 0) {
        ro->asset_col = v;
    } else if (strcmp(opt, "--time-col") == 0) {
        ro->time_col = v;
    } else if (strcmp(opt, "--inputs") == 0) {
        ro->inputs = v;
    } else if (strcmp(v, "refuse") == 0 || strcmp(v, "carry") == 0) {
        ro->nan_carry = strcmp(v, "carry") == 0;
    } else {
        fprintf(stderr, "modax: --nan is refuse or carry, not '%s'\n", v);
        return -1;
    }
    return 1;
}

void cli_rul_default_format(struct mdx_rul_read_opts *ro, const char *path)
{
    size_t n = strlen(path);

    if (ro->format == MDX_RUL_FMT_AUTO) {
        ro->format = n > 4 && strcmp(path + n - 4, ".csv") == 0 ? MDX_RUL_FMT_CSV : MDX_RUL_FMT_CMAPSS;
    }
}

int cli_rul_int(const char *opt, const char *v, int lo, int hi, int *out)
{
    char *end;
    long x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0 || x < lo || x > hi) {
        fprintf(stderr, "modax: %s takes a whole number in [%d, %d], not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 1;
}

int cli_rul_double(const char *opt, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !(x >= lo && x <= hi)) {
        fprintf(stderr, "modax: %s takes a number in [%g, %g], not '%s'\n", opt, lo, hi, v);
        return -1;
    }
    *out = x;
    return 1;
}
