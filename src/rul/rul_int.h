/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_int.h - what the RUL files share inside src/rul/: saving a trained
 * booster with its manifest (rul_model.c, called by rul_train.c), and what
 * the ONNX export (rul_onnx.c) reads of a loaded model.
 */
#ifndef MODAX_RUL_INT_H
#define MODAX_RUL_INT_H

#include <stddef.h>

#include "modax/rul.h"

/* The manifest's format tag and version. */
#define RUL_MANIFEST_FORMAT "modax-rul-manifest"
#define RUL_MANIFEST_VERSION 1

/*
 * Writes BASE.json (the XGBoost booster 'booster', a BoosterHandle, in
 * XGBoost's JSON format) and BASE.manifest.json. 'protocol' describes how
 * the metrics were measured and 'dropped' the constant inputs left out
 * (comma-separated), both kept in the manifest as text.
 */
int rul_model_save(void *booster, const struct mdx_rul_manifest *m, const char *protocol,
                   const char *dropped, const char *base, char *why, size_t whylen);

/* The XGBoost BoosterHandle of 'm'. Borrowed: valid while 'm' is alive. */
void *rul_model_booster(const struct mdx_rul_model *m);

/* The feature specification as the manifest's "spec" object; the caller cJSON_Delete()s it. */
struct cJSON *rul_spec_json(const struct mdx_rul_spec *s);
/* The spec's feature names in model input order, as a JSON array; NULL if out of memory. */
struct cJSON *rul_feature_names_json(const struct mdx_rul_spec *s);
/*
 * Adds the training facts of 'm' to 'o' (cap, data_sha256, trained_ms,
 * rounds, n_assets, n_rows and the "metrics" object with the CV figures);
 * returns that "metrics" object (borrowed, owned by 'o') for more fields.
 */
struct cJSON *rul_add_training_facts(struct cJSON *o, const struct mdx_rul_manifest *m);

#endif
