/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_columns.c - `modax detect --columns`: a device's sensors as CSV
 * columns, scored with the device-level detector (detect_device.h), the
 * same code as the live pipeline's device stage. One score per data row,
 * in full precision; a row that cannot be read (a different number of
 * cells than the header, a cell that is not a number, a bad timestamp)
 * scores 0 and is reported on stderr with its line number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/detect_columns.h"
#include "modax/clock.h"
#include "modax/detect_device.h"
#include "modax/status.h"

#define LINE_MAX_BYTES 8192
#define CELLS_MAX (MDX_DEVICE_SENSORS_MAX + 2) /* one more than allowed, to say "too many" */
#define BAD_REPORTED 10                         /* bad rows reported one by one */

/*
 * Splits 'line' in place at commas into at most CELLS_MAX cells (quotes
 * around a cell removed, trailing CR/LF dropped). Returns the number of
 * cells, CELLS_MAX + 1 when there are more.
 */
static size_t split(char *line, char **cell)
{
    size_t n = 0, len = strlen(line);
    char *p = line;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    for (;;) {
        char *comma = strchr(p, ',');
        size_t l;

        if (n == CELLS_MAX) {
            return CELLS_MAX + 1;
        }
        if (comma != NULL) {
            *comma = '\0';
        }
        l = strlen(p);
        if (l >= 2 && p[0] == '"' && p[l - 1] == '"') {
            p[l - 1] = '\0';
            p++;
        }
        cell[n++] = p;
        if (comma == NULL) {
            return n;
        }
        p = comma + 1;
    }
}

static int parse_number(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && errno != ERANGE ? MDX_OK : MDX_EINVAL;
}

/* Reads one line into 'line'; an over-long line is consumed and left empty. 0 at the end. */
static int read_line(FILE *in, char *line, size_t len)
{
    if (fgets(line, (int)len, in) == NULL) {
        return 0;
    }
    if (strchr(line, '\n') == NULL && !feof(in)) {
        int c;
        while ((c = fgetc(in)) != EOF && c != '\n') {
        }
        line[0] = '\0';
    }
    return 1;
}

/* Checks the header row; its cell count in *cells. On error says why on stderr. */
static int check_header(char *line, const char *name, size_t *cells)
{
    char *cell[CELLS_MAX];
    size_t n = split(line, cell);
    int64_t ts;
    double v;

    if (n > 0 && (mdx_parse_time_ms(cell[0], &ts) == MDX_OK ||
                  (n > 1 && parse_number(cell[1], &v) == MDX_OK))) {
        fprintf(stderr,
                "modax detect: %s: line 1 is data, not a header; the first row must name the "
                "columns: timestamp,sensor1,sensor2,...\n",
                name);
        return MDX_EINVAL;
    }
    if (n < 3 || n > MDX_DEVICE_SENSORS_MAX + 1) {
        /* n - 1 sensor columns; split() stops counting past CELLS_MAX cells. */
        fprintf(stderr,
                "modax detect: %s: %s%zu sensor columns; the device detector takes 2 to %d "
                "(header: timestamp,sensor1,sensor2,...)\n",
                name, n > CELLS_MAX ? "more than " : "", n > CELLS_MAX ? CELLS_MAX - 1 : n - 1,
                MDX_DEVICE_SENSORS_MAX);
        return MDX_EINVAL;
    }
    for (size_t i = 1; i < n; i++) {
        if (cell[i][0] == '\0') {
            fprintf(stderr, "modax detect: %s: column %zu of the header has no name\n", name,
                    i + 1);
            return MDX_EINVAL;
        }
    }
    *cells = n;
    return MDX_OK;
}

/* Reads one data row into x; on error a static reason in *why. */
static int parse_row(char *line, size_t cells, double *x, const char **why)
{
    char *cell[CELLS_MAX];
    size_t n = split(line, cell);
    int64_t ts;

    if (n != cells) {
        *why = n > cells ? "more cells than the header" : "fewer cells than the header";
        return MDX_EINVAL;
    }
    if (mdx_parse_time_ms(cell[0], &ts) != MDX_OK) {
        *why = "the timestamp is not a time";
        return MDX_EINVAL;
    }
    for (size_t i = 1; i < n; i++) {
        if (parse_number(cell[i], &x[i - 1]) != MDX_OK) {
            *why = "a cell is not a number";
            return MDX_EINVAL;
        }
    }
    return MDX_OK;
}

int detect_columns(FILE *in, const char *name)
{
    struct mdx_device_detector det;
    char line[LINE_MAX_BYTES];
    size_t cells = 0;
    long lineno = 1, bad = 0, rows = 0;

    if (!read_line(in, line, sizeof(line))) {
        fprintf(stderr, "modax detect: %s: empty; expected a header row "
                        "timestamp,sensor1,sensor2,... and data rows\n", name);
        return CLI_FAIL;
    }
    if (check_header(line, name, &cells) != MDX_OK) {
        return CLI_FAIL;
    }
    if (mdx_device_detector_init(&det, cells - 1) != MDX_OK) {
        return CLI_FAIL; /* check_header() bounds the count */
    }
    while (read_line(in, line, sizeof(line))) {
        double x[MDX_DEVICE_SENSORS_MAX], score = 0.0;
        const char *why = "the line is too long";

        lineno++;
        if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n')) {
            continue;
        }
        rows++;
        if (line[0] != '\0' && parse_row(line, cells, x, &why) == MDX_OK) {
            score = mdx_device_detector_push(&det, x);
        } else {
            if (bad < BAD_REPORTED) {
                fprintf(stderr, "modax detect: %s: line %ld: %s; scored 0\n", name, lineno, why);
            }
            bad++;
        }
        printf("%.17g\n", score);
    }
    if (bad > 0) {
        fprintf(stderr, "modax detect: %s: %ld of %ld rows could not be read\n", name, bad, rows);
    }
    return CLI_OK;
}
