/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_model_export.c - `modax model export --onnx FILE [MODEL]`: a RUL
 * model as ONNX for the clouds' ML services (deploy/ml/), written by
 * mdx_rul_model_export_onnx (src/rul/rul_onnx.c).
 *
 * MODEL is a model file (MODEL.json with its manifest, as `modax train`
 * writes it) or a registered version; without it, the model that serves
 * every tenant without their own (the store's platform default).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_rul.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modax model export --onnx FILE [MODEL]\n\n"
            "Writes a RUL model as ONNX (an ai.onnx.ml TreeEnsembleRegressor and a clip to\n"
            "[0, cap]; input \"features\" float32 [N, n_features], output \"rul\"), with the\n"
            "feature specification (inputs, window, statistics, feature order) in the\n"
            "model's metadata_props. MODEL is MODEL.json (with MODEL.manifest.json next to\n"
            "it) or a registered version; without MODEL, the active default model of the\n"
            "store. deploy/ml/ serves the file from SageMaker, Azure ML or Vertex AI.\n");
}

/* MODEL names a file rather than a version: a path or a .json name (versions have neither). */
static int is_path(const char *model)
{
    size_t n = strlen(model);

    return strchr(model, '/') != NULL || (n > 5 && strcmp(model + n - 5, ".json") == 0);
}

/* The file of the registered 'version', or of the active default when NULL, into 'path'. */
static int path_from_store(const char *version, char *path, size_t len)
{
    struct mdx_rul_model_rec *rec = mdx_calloc(1, sizeof(*rec));
    char active[MDX_RUL_VERSION_MAX];
    struct cli_conf conf;
    struct mdx_store *st;
    int rc;

    if (rec == NULL) {
        return CLI_FAIL;
    }
    rc = cli_open(&conf, &st);
    if (rc != CLI_OK) {
        mdx_free(rec);
        return rc;
    }
    if (version == NULL) {
        rc = mdx_store_rul_model_active(st, "", active, sizeof(active));
        if (rc == MDX_ENOTFOUND) {
            fprintf(stderr, "modax model export: no RUL model is active, so there is none to "
                            "export: train one (modax train), register and activate it "
                            "(modax model register PATH; modax model activate VERSION), or "
                            "name MODEL.json\n");
        }
        version = active;
    }
    if (rc == MDX_OK) {
        rc = mdx_store_rul_model_get(st, version, rec);
        if (rc == MDX_ENOTFOUND) {
            fprintf(stderr, "modax model export: no model version '%s' (see modax model "
                            "list)\n", version);
        }
    }
    if (rc == MDX_OK) {
        snprintf(path, len, "%s", rec->path);
    } else if (rc != MDX_ENOTFOUND) {
        fprintf(stderr, "modax model export: %s\n", mdx_strerror(rc));
    }
    mdx_free(rec);
    return cli_finish(&conf, st, rc);
}

int cmd_model_export(int argc, char **argv)
{
    const char *onnx = NULL, *model = NULL;
    char path[sizeof(((struct mdx_rul_model_rec *)0)->path)], why[1024] = "";
    struct mdx_rul_model *m;
    int rc, err = MDX_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        }
        if (strcmp(argv[i], "--onnx") == 0 && i + 1 < argc && onnx == NULL) {
            onnx = argv[++i];
        } else if (argv[i][0] != '-' && model == NULL) {
            model = argv[i];
        } else {
            return cli_usage_error(usage);
        }
    }
    if (onnx == NULL || onnx[0] == '\0') {
        return cli_usage_error(usage);
    }
    if (model != NULL && is_path(model)) {
        if (strlen(model) >= sizeof(path)) {
            fprintf(stderr, "modax model export: the model's path is over %zu bytes\n",
                    sizeof(path) - 1);
            return CLI_USAGE;
        }
        snprintf(path, sizeof(path), "%s", model);
    } else {
        rc = path_from_store(model, path, sizeof(path));
        if (rc != CLI_OK) {
            return rc;
        }
    }
    m = mdx_rul_model_load(path, why, sizeof(why), &err);
    if (m == NULL) {
        fprintf(stderr, "modax model export: cannot load the model: %s\n",
                why[0] ? why : mdx_strerror(err));
        return err == MDX_ENOTFOUND ? CLI_NOTFOUND : CLI_USAGE;
    }
    rc = mdx_rul_model_export_onnx(m, onnx, why, sizeof(why));
    if (rc == MDX_OK) {
        const struct mdx_rul_manifest *man = mdx_rul_model_manifest(m);
        printf("exported %s (%zu features, window %d) to %s\n", man->version,
               mdx_rul_n_features(&man->spec), man->spec.window, onnx);
    } else {
        fprintf(stderr, "modax model export: %s\n", why);
    }
    mdx_rul_model_free(m);
    return rc == MDX_OK ? CLI_OK : rc == MDX_EIO ? CLI_FAIL : CLI_USAGE;
}
