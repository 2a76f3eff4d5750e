/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_detect.c - `modax detect`: offline scoring of a `timestamp,value` CSV
 * with the same detector code as the live pipeline, one score per data row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/detect_columns.h"
#include "modax/clock.h"
#include "modax/detect.h"
#include "modax/detect_device.h"
#include "modax/status.h"

#define LINE_MAX_BYTES 4096

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax detect [FILE]\n"
            "       modax detect --columns [FILE]\n\n"
            "Scores a series offline with the live pipeline's anomaly detector. Reads\n"
            "CSV from FILE or standard input: a header line, then 'timestamp,value' rows\n"
            "(timestamp 'YYYY-MM-DD HH:MM:SS' in UTC or epoch milliseconds). Prints exactly\n"
            "one score in [0, 1] per data row, in full precision. A row that cannot be\n"
            "read scores 0 and is reported on stderr with its line number.\n\n"
            "With --columns, scores one device over its sensors with the live pipeline's\n"
            "device-level detector: a header row 'timestamp,sensor1,sensor2,...' naming\n"
            "2 to %d sensors, then one row per reading; one device score per row.\n",
            MDX_DEVICE_SENSORS_MAX);
}

/* Splits "timestamp,value" (optionally quoted fields, trailing CR/LF). */
static int parse_row(char *line, int64_t *ts, double *value)
{
    char *comma, *end, *t = line, *v;
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        line[--n] = '\0';
    }
    comma = strchr(line, ',');
    if (comma == NULL) {
        return MDX_EINVAL;
    }
    *comma = '\0';
    v = comma + 1;
    if (*t == '"' && n > 1 && comma > t + 1 && comma[-1] == '"') {
        t++;
        comma[-1] = '\0';
    }
    if (*v == '"' && strlen(v) > 1 && v[strlen(v) - 1] == '"') {
        v++;
        v[strlen(v) - 1] = '\0';
    }
    if (mdx_parse_time_ms(t, ts) != MDX_OK) {
        return MDX_EINVAL;
    }
    errno = 0;
    *value = strtod(v, &end);
    if (end == v || *end != '\0' || errno == ERANGE) {
        return MDX_EINVAL;
    }
    return MDX_OK;
}

int cmd_detect(int argc, char **argv)
{
    struct mdx_detector det;
    char line[LINE_MAX_BYTES];
    FILE *in = stdin;
    long lineno = 0, bad = 0, rows = 0;
    int columns = argc >= 2 && strcmp(argv[1], "--columns") == 0;

    if (columns) {
        argc--;
        argv++;
    }
    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))) {
        usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? CLI_OK : CLI_USAGE;
    }
    if (argc == 2 && strcmp(argv[1], "-") != 0) {
        in = fopen(argv[1], "r");
        if (in == NULL) {
            fprintf(stderr, "modax detect: cannot open '%s': %s\n", argv[1], strerror(errno));
            return CLI_FAIL;
        }
    }
    if (columns) {
        int rc = detect_columns(in, in == stdin ? "stdin" : argv[1]);
        if (in != stdin) {
            fclose(in);
        }
        return rc;
    }
    mdx_detector_init(&det);
    while (fgets(line, sizeof(line), in) != NULL) {
        int64_t ts;
        double value, score = 0.0;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(in)) {
            int c;
            while ((c = fgetc(in)) != EOF && c != '\n') {
            }
            line[0] = '\0'; /* over-long line: a bad row */
        }
        if (lineno == 1) {
            continue; /* header */
        }
        if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n')) {
            continue;
        }
        rows++;
        if (parse_row(line, &ts, &value) == MDX_OK) {
            score = mdx_detector_push(&det, ts, value);
        } else {
            if (bad < 10) {
                fprintf(stderr, "modax detect: line %ld: expected 'timestamp,value'; scored 0\n",
                        lineno);
            }
            bad++;
        }
        printf("%.17g\n", score);
    }
    if (in != stdin) {
        fclose(in);
    }
    if (bad > 0) {
        fprintf(stderr, "modax detect: %ld of %ld rows could not be read\n", bad, rows);
    }
    return CLI_OK;
}
