/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul.h - remaining-useful-life prediction (issue 7): features over a
 * sliding window of an asset's rows, XGBoost models with a manifest, and
 * prediction in batches.
 *
 * A row is one observation of an asset: a cycle of a C-MAPSS engine, or
 * for a live device the mean of each sensor over rul.row_interval_s. The
 * feature specification (which inputs, window, which statistics) is part
 * of a model: the pipeline computes exactly the features the model was
 * trained on, and a model whose specification it cannot produce is
 * refused. Training and offline prediction: rul_train.c, rul_dataset.c;
 * features: rul_features.c; models and manifests: rul_model.c.
 */
#ifndef MODAX_RUL_H
#define MODAX_RUL_H

#include <stddef.h>
#include <stdint.h>

#include "modax/msg.h"

#define MDX_RUL_INPUTS_MAX 32     /* input columns (sensors) a model reads */
#define MDX_RUL_WINDOW_MAX 512    /* rows in a feature window */

/* The statistics computed per input over the window (bits of spec.stats). */
enum {
    MDX_RUL_LEVEL = 1u << 0,      /* the last row's value */
    MDX_RUL_MEAN = 1u << 1,       /* mean over the window */
    MDX_RUL_SLOPE = 1u << 2,      /* least-squares slope per row over the window */
    MDX_RUL_SPREAD = 1u << 3,     /* standard deviation over the window */
    MDX_RUL_EWMA = 1u << 4,       /* exponentially weighted mean (alpha), over the whole history */
    MDX_RUL_MINMAX = 1u << 5      /* min and max over the window */
};

struct mdx_rul_spec {
    size_t n_inputs;
    char inputs[MDX_RUL_INPUTS_MAX][MDX_NAME_MAX + 1]; /* names, in feature order */
    int window;                   /* rows; fewer rows of history: no prediction */
    unsigned stats;               /* MDX_RUL_* bits */
    double ewma_alpha;            /* (0, 1] */
    int with_age;                 /* also the number of rows seen (cycle count) as a feature */
    /*
     * Rows of history needed for a prediction, in [2, window]; 0 means
     * 'window' (models from before partial windows). With min_rows <= rows
     * seen < window the window statistics are computed over the rows seen
     * (a partial window); the EWMA and the age always cover the whole history.
     */
    int min_rows;
};

/* spec->min_rows, or spec->window when it is 0. */
int mdx_rul_spec_min_rows(const struct mdx_rul_spec *spec);

/* Features per row for 'spec'. */
size_t mdx_rul_n_features(const struct mdx_rul_spec *spec);

/*
 * The rolling state of one asset (bounded: window rows). Init, push rows
 * oldest first, and read the features of the newest row.
 */
struct mdx_rul_window {
    double rows[MDX_RUL_WINDOW_MAX][MDX_RUL_INPUTS_MAX]; /* ring */
    size_t head;                  /* next slot */
    int64_t seen;                 /* rows pushed since init */
    double ewma[MDX_RUL_INPUTS_MAX];
};
void mdx_rul_window_init(struct mdx_rul_window *w);
/* values[spec->n_inputs]; NaN marks a missing value (carried from the previous row). */
void mdx_rul_window_push(struct mdx_rul_window *w, const struct mdx_rul_spec *spec,
                         const double *values);
/*
 * Features of the newest row into out[mdx_rul_n_features(spec)], over the
 * last min(rows pushed, spec->window) rows. MDX_EAGAIN while fewer than
 * mdx_rul_spec_min_rows(spec) rows were pushed (the reason for "no
 * prediction yet").
 */
int mdx_rul_window_features(const struct mdx_rul_window *w, const struct mdx_rul_spec *spec,
                            float *out);

/* A loaded model: the booster and its manifest. */
struct mdx_rul_manifest {
    char version[64];             /* e.g. "fd001-20261127T103000Z" */
    struct mdx_rul_spec spec;
    double cap;                   /* piecewise-linear target cap used in training */
    char data_sha256[65];         /* of the training data */
    double cv_rmse;               /* grouped cross-validated RMSE */
    double cv_phm08;              /* PHM08 score */
    int64_t trained_ms;
    int64_t rounds;               /* boosted rounds kept (early stopping) */
    /* Added with rul_train.c (fields after this line are informative only). */
    double cv_last_rmse;          /* last-row protocol: truncated held-out trajectories */
    double cv_last_phm08;         /* PHM08 sum over those last rows, per 100 trajectories */
    int64_t n_assets;             /* assets trained on */
    int64_t n_rows;               /* rows (windows) trained on */
};

struct mdx_rul_model;
/*
 * Loads MODEL.json (XGBoost JSON) and MODEL.manifest.json next to it.
 * MDX_EINVAL with a message in 'why' for a file that is not an XGBoost JSON
 * model, a missing/invalid manifest, or a feature count that disagrees.
 */
struct mdx_rul_model *mdx_rul_model_load(const char *path, char *why, size_t whylen, int *err);
void mdx_rul_model_free(struct mdx_rul_model *m);
const struct mdx_rul_manifest *mdx_rul_model_manifest(const struct mdx_rul_model *m);
/*
 * Writes 'm' to 'path' as an ONNX model (an ai.onnx.ml TreeEnsembleRegressor
 * and a Clip to [0, cap]: the predictions of mdx_rul_predict, input
 * "features" float32 [N, n_features], outputs "rul" and "rul_unclipped"),
 * with the feature specification in its metadata_props (rul_onnx.c).
 * MDX_EINVAL with 'why' for a model ONNX's trees cannot express (not
 * gbtree, a transforming objective, categorical splits), MDX_EIO when
 * 'path' cannot be written (nothing is left behind), MDX_ENOMEM.
 */
int mdx_rul_model_export_onnx(const struct mdx_rul_model *m, const char *path, char *why,
                              size_t whylen);
/*
 * Predicts n rows of features (row-major, n x n_features) into rul[n],
 * clipped to [0, cap]. One call per batch: the cost per row falls with n.
 * A model is used by one thread at a time.
 */
int mdx_rul_predict(struct mdx_rul_model *m, const float *features, size_t n, float *rul);

/*
 * Predicts n rows of features (n x nf, row-major) at a model endpoint
 * speaking the KServe v2 inference protocol (Triton serving the ONNX export,
 * deploy/ml/): one POST of all rows to 'url' (e.g.
 * http://host:8000/v2/models/rul/infer), answers into rul[n], clipped to
 * [0, cap] (rul_endpoint.c). 'auth' adds the request's credentials
 * (src/rul/rul_endpoint_auth.h; NULL: none). MDX_EAGAIN when it cannot be
 * reached in timeout_ms or answers 5xx/429, MDX_EDENIED on 401/403,
 * MDX_EINVAL for an answer that is not n numbers in an output "rul" or a
 * non-finite feature, with 'why'.
 */
struct mdx_rul_auth;
int mdx_rul_endpoint_predict(const char *url, struct mdx_rul_auth *auth, int64_t timeout_ms,
                             const float *features, size_t n, size_t nf, double cap, float *rul,
                             char *why, size_t whylen);

/* The default statistics of a new model and of `modax train`. */
#define MDX_RUL_STATS_DEFAULT (MDX_RUL_LEVEL | MDX_RUL_MEAN | MDX_RUL_SLOPE | MDX_RUL_SPREAD | MDX_RUL_EWMA)

/*
 * Checks a specification (inputs named and unique, window in [2,
 * MDX_RUL_WINDOW_MAX], min_rows 0 or in [2, window], known stats bits,
 * alpha in (0, 1]). MDX_EINVAL with the reason in 'why'.
 */
int mdx_rul_spec_check(const struct mdx_rul_spec *spec, char *why, size_t whylen);
/* MDX_OK when a and b compute the same features; MDX_EINVAL with the first difference. */
int mdx_rul_spec_compare(const struct mdx_rul_spec *want, const struct mdx_rul_spec *have,
                         char *why, size_t whylen);
/* Name of feature i, e.g. "s2.slope", "age", into buf. */
void mdx_rul_feature_name(const struct mdx_rul_spec *spec, size_t i, char *buf, size_t len);

/*
 * Run-to-failure (or truncated) histories read from a file: rows grouped
 * by asset, each asset's rows in time order. Owned by the caller:
 * mdx_rul_dataset_free().
 */
struct mdx_rul_dataset {
    size_t n_inputs;
    char inputs[MDX_RUL_INPUTS_MAX][MDX_NAME_MAX + 1]; /* column names, in values' order */
    size_t n_rows;
    double *values;               /* n_rows x n_inputs, row-major; NaN never (see nan_carry) */
    double *time;                 /* n_rows: cycle or timestamp (ms) */
    size_t n_assets;
    char (*asset)[MDX_NAME_MAX + 1]; /* n_assets names, in order of first appearance */
    size_t *asset_start;          /* n_assets + 1: rows of asset a are [start[a], start[a+1]) */
    size_t skipped_assets;        /* assets with fewer than min_rows rows, left out */
    char sha256[65];              /* of the file's bytes */
};

/* AUTO: the caller picks (the CLI: csv for a .csv file); read as cmapss. */
enum mdx_rul_format { MDX_RUL_FMT_AUTO = -1, MDX_RUL_FMT_CMAPSS = 0, MDX_RUL_FMT_CSV = 1 };

/*
 * How to read a file. Columns are named by header name or by 1-based index
 * ("3"); 'inputs' is a comma-separated list of names, indexes and index
 * ranges ("3-26"), NULL for every column but asset and time.
 * cmapss: whitespace-separated, no header; columns are named unit, cycle,
 * setting1..setting3, s1..s21; asset defaults to "unit", time to "cycle".
 * csv: comma-separated with a header line; asset defaults to column 1,
 * time to column 2. Times are numbers (cycles) or timestamps.
 * NaN (a cell "nan"/"NaN" or an empty input cell) is refused with its
 * line and column unless nan_carry, which carries the asset's previous
 * value (the live pipeline's rule); a NaN in an asset's first row, in the
 * asset or in the time column is always refused.
 */
struct mdx_rul_read_opts {
    enum mdx_rul_format format;
    const char *asset_col;        /* NULL: the format's default */
    const char *time_col;
    const char *inputs;
    int nan_carry;
    size_t min_rows;              /* assets with fewer rows are skipped and counted; 0: keep all */
};

/*
 * Reads 'path'. MDX_EINVAL with "line L, column C: ..." in 'why' for bad
 * input (missing column, non-numeric cell, NaN, empty file, no asset with
 * min_rows rows), MDX_EIO if unreadable, MDX_ENOMEM.
 */
int mdx_rul_dataset_read(const char *path, const struct mdx_rul_read_opts *o,
                         struct mdx_rul_dataset **out, char *why, size_t whylen);
void mdx_rul_dataset_free(struct mdx_rul_dataset *d);
/* Index of input 'name' in d->inputs, or -1. */
int mdx_rul_dataset_input(const struct mdx_rul_dataset *d, const char *name);

/* Training (rul_train.c). */
struct mdx_rul_train_opts {
    struct mdx_rul_spec spec;     /* inputs: candidates (constant ones are dropped);
                                     window 80, min_rows 15 */
    double cap;                   /* piecewise-linear target cap (125) */
    int folds;                    /* grouped CV folds by asset (5), >= 2 */
    uint64_t seed;                /* CV split, truncation points, XGBoost seed */
    int nthread;                  /* XGBoost threads (1; results equal for any count with hist) */
    int max_rounds;               /* upper bound on boosted rounds (1000) */
    int early_stop;               /* rounds without improvement on held-out assets (50) */
    int max_depth;                /* tree depth (4) */
    double eta;                   /* learning rate (0.1) */
    double subsample;             /* row subsample per tree (0.8) */
    double colsample;             /* feature subsample per tree (0.5) */
    double min_child_weight;      /* (5) */
    int last_draws;               /* truncation points per held-out asset (10) */
    int progress;                 /* draw a progress bar on stderr */
    const char *version;          /* manifest version; NULL: "rul-<UTC time>" */
};
/* Fills the defaults above with spec inputs empty (stats default, alpha 0.1, with age). */
void mdx_rul_train_opts_init(struct mdx_rul_train_opts *o);

/*
 * Cross-validates and trains on 'd', saves OUT.json and OUT.manifest.json
 * ('out_base' without extension) and fills 'man' (metrics included).
 * Input names of o->spec must be columns of 'd' (all of them when
 * n_inputs is 0). MDX_EINVAL with 'why' on bad options or data.
 */
int mdx_rul_train(const struct mdx_rul_dataset *d, const struct mdx_rul_train_opts *o,
                  const char *out_base, struct mdx_rul_manifest *man, char *why, size_t whylen);

/* RMSE and PHM08 score (d = predicted - true; late predictions cost more). */
double mdx_rul_rmse(const float *pred, const float *truth, size_t n);
double mdx_rul_phm08(const float *pred, const float *truth, size_t n);

#endif
