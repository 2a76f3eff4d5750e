/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_rul_export.c - `modax rul export`: the devices' run-to-failure
 * histories from the store as a CSV file `modax train --format csv` reads
 * (rul_export.h), one asset per machine life.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_rul.h"
#include "modax/clock.h"
#include "modax/rul_export.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax rul export --tenant T [--device D] [--from TIME] [--to TIME]\n"
            "                        [--row-interval SECONDS] [--open-lives] --out FILE\n\n"
            "Writes the devices' histories from the store as training data for `modax train\n"
            "--data FILE --format csv`: one row per row interval (default rul.row_interval_s,\n"
            "the rows the live predictions use: the mean of each sensor, aligned to the\n"
            "epoch), columns asset,ts_ms,SENSOR... (the sensors every device has, in name\n"
            "order). Each machine life is one asset, DEVICE.lifeN: a device's lives end at\n"
            "its status events {\"state\":\"failed\"} (modax-edge publishes one when a\n"
            "simulated machine runs to failure). The life a device is still in has not run\n"
            "to failure and is left out unless --open-lives. TIME: epoch ms or ISO 8601.\n");
}

int cmd_rul_export(int argc, char **argv)
{
    struct mdx_rul_export_opts o = {.from_ms = INT64_MIN, .to_ms = INT64_MAX};
    struct mdx_rul_export_stats s;
    struct cli_conf conf;
    struct mdx_store *st;
    const char *out = NULL;
    int64_t row_s = 0;
    char why[512];
    FILE *f;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--open-lives") == 0) {
            o.open_lives = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "modax rul export: %s needs a value\n", a);
            return cli_usage_error(usage);
        }
        i++;
        if (strcmp(a, "--tenant") == 0) {
            o.tenant = v;
        } else if (strcmp(a, "--device") == 0) {
            o.device = v;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
            int64_t *t = a[2] == 'f' ? &o.from_ms : &o.to_ms;
            if (mdx_parse_time_ms(v, t) != MDX_OK) {
                fprintf(stderr, "modax rul export: %s '%s' is not epoch ms or ISO 8601\n", a, v);
                return CLI_USAGE;
            }
        } else if (strcmp(a, "--row-interval") == 0) {
            row_s = cli_parse_positive(v);
            if (row_s <= 0 || row_s > 86400) {
                fprintf(stderr, "modax rul export: --row-interval '%s': seconds in [1, 86400]\n",
                        v);
                return CLI_USAGE;
            }
        } else {
            fprintf(stderr, "modax rul export: unknown option %s\n", a);
            return cli_usage_error(usage);
        }
    }
    if (o.tenant == NULL || out == NULL) {
        fprintf(stderr, "modax rul export: --tenant and --out are required\n");
        return cli_usage_error(usage);
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        return rc;
    }
    o.row_ms = (row_s > 0 ? row_s : conf.rul.row_interval_s) * 1000;
    f = fopen(out, "w");
    if (f == NULL) {
        fprintf(stderr, "modax rul export: %s: %s\n", out, strerror(errno));
        cli_close(&conf, st);
        return CLI_FAIL;
    }
    rc = mdx_rul_export(st, &o, f, &s, why, sizeof(why));
    if (fclose(f) != 0 && rc == MDX_OK) {
        rc = MDX_EIO;
    }
    if (rc == MDX_OK) {
        printf("exported %zu lives (%zu rows, %zu sensors) of %zu devices to %s; left out: "
               "%zu lives not run to failure, %zu incomplete leading rows\n",
               s.lives, s.rows, s.inputs, s.devices, out, s.open_lives, s.rows_incomplete);
        if (s.lives == 0) {
            fprintf(stderr, "modax rul export: no life ended in a failure in the range (try "
                            "--open-lives, or let the machines run longer)\n");
        }
    } else {
        fprintf(stderr, "modax rul export: %s\n", why[0] ? why : mdx_strerror(rc));
    }
    return cli_finish(&conf, st, rc);
}
