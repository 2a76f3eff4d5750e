/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_train.c - `modax train`: learns a RUL model from run-to-failure
 * histories (C-MAPSS or CSV), cross-validates it by asset and saves it as
 * XGBoost JSON plus manifest; prints the report.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_rul.h"
#include "modax/clock.h"
#include "modax/rul.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax train --data FILE [--format cmapss|csv] [--asset-col COL]\n"
            "                   [--time-col COL] [--inputs COLS] [--nan refuse|carry]\n"
            "                   [--window 80] [--min-rows 15] [--cap 125] [--folds 5]\n"
            "                   [--seed 1] [--threads 1] [--rounds 1000] [--depth 4]\n"
            "                   [--eta 0.1] [--alpha 0.1 (EWMA)]\n"
            "                   [--version TEXT] [--out DIR/NAME]\n\n"
            "Learns a remaining-useful-life model (XGBoost) from run-to-failure histories:\n"
            "one row per cycle (or time step) of an asset, until its failure. Features over\n"
            "a sliding window of WINDOW rows per input: level, mean, slope, spread, EWMA,\n"
            "plus the age in rows; constant inputs are dropped. An asset with MIN_ROWS to\n"
            "WINDOW rows of history has features over the rows it has (a partial window),\n"
            "and training includes such rows; fewer than MIN_ROWS rows: no prediction.\n"
            "The target is the rows left to the asset's last row, capped at CAP. Grouped\n"
            "K-fold cross-validation by asset (never by row) with early stopping on\n"
            "held-out assets gives the report; the final model trains on every asset.\n"
            "Saves OUT.json (XGBoost JSON) and OUT.manifest.json (default OUT: rul-model).\n"
            "Deterministic for a seed and thread count.\n\n"
            "Columns are header names or 1-based indexes; COLS is a comma-separated list\n"
            "of them and ranges (3-26); default: every column but asset and time.\n"
            "cmapss: whitespace-separated, no header, columns unit cycle setting1-3 s1-s21.\n"
            "csv: comma-separated with a header; asset column 1, time column 2 by default.\n"
            "--nan refuse (default) stops at a NaN or empty cell; carry repeats the asset's\n"
            "previous value. Assets with fewer than MIN_ROWS rows are skipped and counted.\n");
}

int cmd_train(int argc, char **argv)
{
    struct mdx_rul_train_opts o;
    struct mdx_rul_read_opts ro;
    struct mdx_rul_dataset *d = NULL;
    struct mdx_rul_manifest man;
    const char *data = NULL, *out = "rul-model";
    char why[512];
    int rc, min_rows = 0;

    mdx_rul_train_opts_init(&o);
    memset(&ro, 0, sizeof(ro));
    ro.format = MDX_RUL_FMT_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int used = 1;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        rc = cli_rul_read_option(a, v, &ro);
        if (rc < 0) {
            return CLI_USAGE;
        }
        if (rc > 0) {
            i++;
            continue;
        }
        if (v == NULL) {
            used = 0;
        } else if (strcmp(a, "--data") == 0) {
            data = v;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--version") == 0) {
            o.version = v;
        } else if (strcmp(a, "--window") == 0) {
            used = cli_rul_int(a, v, 2, MDX_RUL_WINDOW_MAX, &o.spec.window);
        } else if (strcmp(a, "--min-rows") == 0) {
            used = cli_rul_int(a, v, 2, MDX_RUL_WINDOW_MAX, &min_rows);
        } else if (strcmp(a, "--folds") == 0) {
            used = cli_rul_int(a, v, 2, 100, &o.folds);
        } else if (strcmp(a, "--threads") == 0) {
            used = cli_rul_int(a, v, 1, 256, &o.nthread);
        } else if (strcmp(a, "--rounds") == 0) {
            used = cli_rul_int(a, v, 1, 100000, &o.max_rounds);
        } else if (strcmp(a, "--depth") == 0) {
            used = cli_rul_int(a, v, 1, 20, &o.max_depth);
        } else if (strcmp(a, "--cap") == 0) {
            used = cli_rul_double(a, v, 1.0, 1e9, &o.cap);
        } else if (strcmp(a, "--alpha") == 0) {
            used = cli_rul_double(a, v, 1e-6, 1.0, &o.spec.ewma_alpha);
        } else if (strcmp(a, "--eta") == 0) {
            used = cli_rul_double(a, v, 1e-6, 1.0, &o.eta);
        } else if (strcmp(a, "--seed") == 0) {
            int s;
            used = cli_rul_int(a, v, 0, 2147483647, &s);
            o.seed = (uint64_t)s;
        } else {
            used = 0;
        }
        if (used < 0) {
            return CLI_USAGE;
        }
        if (used == 0) {
            fprintf(stderr, "modax train: unknown option or missing value '%s'; see 'modax train "
                            "--help'\n", a);
            return CLI_USAGE;
        }
        i++;
    }
    if (data == NULL) {
        fprintf(stderr, "modax train: --data FILE is required; see 'modax train --help'\n");
        return CLI_USAGE;
    }
    cli_rul_default_format(&ro, data);
    if (min_rows > 0) {
        o.spec.min_rows = min_rows; /* checked against the window by the training */
    } else if (o.spec.min_rows > o.spec.window) {
        o.spec.min_rows = o.spec.window; /* a short window without --min-rows */
    }
    ro.min_rows = (size_t)mdx_rul_spec_min_rows(&o.spec);
    o.progress = isatty(STDERR_FILENO);
    int64_t t0 = mdx_mono_us();
    rc = mdx_rul_dataset_read(data, &ro, &d, why, sizeof(why));
    if (rc != MDX_OK) {
        fprintf(stderr, "modax train: %s: %s\n", data, why);
        return rc == MDX_EIO ? CLI_FAIL : CLI_USAGE;
    }
    if (d->skipped_assets > 0) {
        fprintf(stderr, "modax train: %zu assets skipped: fewer rows than min_rows (%d)\n",
                d->skipped_assets, mdx_rul_spec_min_rows(&o.spec));
    }
    rc = mdx_rul_train(d, &o, out, &man, why, sizeof(why));
    if (rc != MDX_OK) {
        fprintf(stderr, "modax train: %s\n", why);
        mdx_rul_dataset_free(d);
        return rc == MDX_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    double secs = (double)(mdx_mono_us() - t0) / 1e6;
    printf("data: %s (sha256 %.12s...), %zu assets (%zu skipped), %lld windows of %d rows "
           "(%d to %d rows of history)\n", data, d->sha256, d->n_assets, d->skipped_assets,
           (long long)man.n_rows, man.spec.window, mdx_rul_spec_min_rows(&man.spec),
           man.spec.window);
    printf("inputs: %zu used:", man.spec.n_inputs);
    for (size_t i = 0; i < man.spec.n_inputs; i++) {
        printf(" %s", man.spec.inputs[i]);
    }
    printf(" (%zu features; constant inputs dropped, see the manifest)\n",
           mdx_rul_n_features(&man.spec));
    printf("grouped %d-fold CV by asset, seed %llu, target cap %g:\n", o.folds,
           (unsigned long long)o.seed, o.cap);
    printf("  every held-out row with >= 30 rows of history (truth capped):\n"
           "                                          RMSE %.2f  PHM08 %.3f per prediction\n",
           man.cv_rmse, man.cv_phm08);
    printf("  last row of truncated trajectories:     RMSE %.2f  PHM08 %.1f per 100 trajectories\n"
           "    (%d truncation points per held-out asset, true RUL uniform in [1, 145], uncapped)\n",
           man.cv_last_rmse, man.cv_last_phm08, o.last_draws);
    printf("model: %s.json + %s.manifest.json, version %s, %lld rounds, %.1f s\n", out, out,
           man.version, (long long)man.rounds, secs);
    mdx_rul_dataset_free(d);
    return CLI_OK;
}
