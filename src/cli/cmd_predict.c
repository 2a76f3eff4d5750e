/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_predict.c - `modax predict`: one RUL per asset of a history file,
 * for the asset's last row (the truncated-trajectory test protocol), with
 * the features computed by the same window code as the live pipeline;
 * with --endpoint, the trees evaluated by a model endpoint (rul_endpoint.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_rul.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"

#define ENDPOINT_TIMEOUT_MS 30000 /* one request for all assets */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax predict --model M --data FILE [--format cmapss|csv]\n"
            "                     [--asset-col COL] [--time-col COL] [--nan refuse|carry]\n"
            "                     [--endpoint URL]\n\n"
            "Predicts the remaining useful life of every asset in FILE at its last row\n"
            "with model M (M.json + M.manifest.json, from 'modax train'). Prints one line\n"
            "per asset, in file order: 'ASSET RUL', or 'ASSET - no prediction: REASON'\n"
            "when the asset has fewer rows than the model's min_rows. The model's inputs\n"
            "are read from the columns of the same names; the file options are those\n"
            "of 'modax train'. --endpoint URL sends the features to a KServe v2 endpoint\n"
            "serving M's ONNX export (Triton: http://HOST:8000/v2/models/rul/infer; see\n"
            "deploy/ml/) and prints its answers: a check of a deployed model.\n");
}

int cmd_predict(int argc, char **argv)
{
    struct mdx_rul_read_opts ro;
    struct mdx_rul_dataset *d = NULL;
    struct mdx_rul_model *model;
    const struct mdx_rul_manifest *man;
    struct mdx_rul_window *w = NULL;
    const char *model_path = NULL, *data = NULL, *endpoint = NULL;
    char why[512], inputs[MDX_RUL_INPUTS_MAX * (MDX_NAME_MAX + 1) + 1];
    float *x = NULL, *rul = NULL;
    int *ok = NULL, err, rc = CLI_OK;
    size_t nf, n = 0;

    memset(&ro, 0, sizeof(ro));
    ro.format = MDX_RUL_FMT_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--inputs") == 0) {
            fprintf(stderr, "modax predict: the inputs are the model's; --inputs is not taken\n");
            return CLI_USAGE;
        }
        r = cli_rul_read_option(a, v, &ro);
        if (r < 0) {
            return CLI_USAGE;
        }
        if (r == 0 && v != NULL && strcmp(a, "--model") == 0) {
            model_path = v;
        } else if (r == 0 && v != NULL && strcmp(a, "--data") == 0) {
            data = v;
        } else if (r == 0 && v != NULL && strcmp(a, "--endpoint") == 0) {
            endpoint = v;
        } else if (r == 0) {
            fprintf(stderr, "modax predict: unknown option or missing value '%s'; see 'modax "
                            "predict --help'\n", a);
            return CLI_USAGE;
        }
        i++;
    }
    if (model_path == NULL || data == NULL) {
        fprintf(stderr, "modax predict: --model M and --data FILE are required\n");
        return CLI_USAGE;
    }
    model = mdx_rul_model_load(model_path, why, sizeof(why), &err);
    if (model == NULL) {
        fprintf(stderr, "modax predict: %s\n", why);
        return err == MDX_ENOTFOUND ? CLI_NOTFOUND : CLI_USAGE;
    }
    man = mdx_rul_model_manifest(model);
    nf = mdx_rul_n_features(&man->spec);
    inputs[0] = '\0';
    for (size_t i = 0; i < man->spec.n_inputs; i++) {
        strcat(inputs, i ? "," : "");
        strcat(inputs, man->spec.inputs[i]);
    }
    ro.inputs = inputs;
    cli_rul_default_format(&ro, data);
    err = mdx_rul_dataset_read(data, &ro, &d, why, sizeof(why));
    if (err != MDX_OK) {
        fprintf(stderr, "modax predict: %s: %s\n", data, why);
        mdx_rul_model_free(model);
        return err == MDX_EIO ? CLI_FAIL : CLI_USAGE;
    }
    w = mdx_malloc(sizeof(*w));
    x = mdx_malloc(d->n_assets * nf * sizeof(float));
    rul = mdx_malloc(d->n_assets * sizeof(float));
    ok = mdx_calloc(d->n_assets, sizeof(int));
    if (w == NULL || x == NULL || rul == NULL || ok == NULL) {
        fprintf(stderr, "modax predict: out of memory\n");
        rc = CLI_FAIL;
        goto out;
    }
    /* the dataset's inputs are the model's, in the model's order */
    for (size_t a = 0; a < d->n_assets; a++) {
        mdx_rul_window_init(w);
        for (size_t r = d->asset_start[a]; r < d->asset_start[a + 1]; r++) {
            mdx_rul_window_push(w, &man->spec, &d->values[r * d->n_inputs]);
        }
        if (mdx_rul_window_features(w, &man->spec, &x[n * nf]) == MDX_OK) {
            ok[a] = 1;
            n++;
        }
    }
    if (endpoint != NULL) {
        if (mdx_rul_endpoint_predict(endpoint, NULL, ENDPOINT_TIMEOUT_MS, x, n, nf, man->cap, rul, why,
                                     sizeof(why)) != MDX_OK) {
            fprintf(stderr, "modax predict: %s\n", why);
            rc = CLI_FAIL;
            goto out;
        }
    } else if (mdx_rul_predict(model, x, n, rul) != MDX_OK) {
        fprintf(stderr, "modax predict: prediction failed\n");
        rc = CLI_FAIL;
        goto out;
    }
    for (size_t a = 0, k = 0; a < d->n_assets; a++) {
        if (ok[a]) {
            printf("%s %.2f\n", d->asset[a], (double)rul[k++]);
        } else {
            printf("%s - no prediction: %zu rows of history, the model needs %d\n", d->asset[a],
                   d->asset_start[a + 1] - d->asset_start[a], mdx_rul_spec_min_rows(&man->spec));
        }
    }
out:
    mdx_free(w);
    mdx_free(x);
    mdx_free(rul);
    mdx_free(ok);
    mdx_rul_dataset_free(d);
    mdx_rul_model_free(model);
    return rc;
}
