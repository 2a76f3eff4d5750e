/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_train.c - training a RUL model: features over sliding windows of
 * each asset's rows, piecewise-linear target (capped), grouped K-fold
 * cross-validation by asset with early stopping on held-out assets, the
 * final XGBoost model on every asset, and the metrics in its manifest.
 *
 * Protocol (also written into the manifest):
 *  - Assets are shuffled with the seed and dealt into K folds; a fold's
 *    assets never appear in its training rows.
 *  - Within each fold's training assets, every fifth (shuffled) asset is
 *    held out for early stopping (RMSE on capped truth); the fold's
 *    held-out assets are then predicted with the best round.
 *  - Training rows: every row with at least min_rows rows of history
 *    (partial windows included, so the model learns short histories).
 *  - "all rows": every held-out row with at least EVAL_HISTORY rows of
 *    history (or min_rows if larger; the same rows for any window, so
 *    windows compare), truth capped at 'cap'; RMSE and PHM08 mean per
 *    prediction.
 *  - "last row": the hidden test protocol of truncated trajectories. Each
 *    held-out asset is truncated at last_draws points drawn with the
 *    seed, the true (uncapped) RUL uniform in [1, min(rows - EVAL_HISTORY,
 *    145)] as in FD001's test set (true RULs 7-145, at least 31 rows); the
 *    prediction at the truncation row depends only on rows up to it. RMSE
 *    against uncapped truth, PHM08 summed per 100 trajectories.
 *  - The final model trains on every asset for the mean best round count.
 * Deterministic for a seed: fixed nthread, hist trees, seeded sampling.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xgboost/c_api.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "rul/rul_int.h"

#define LAST_RUL_MAX 145
#define EVAL_HISTORY 30 /* rows of history of the rows scored (see above) */

/* The feature rows of a dataset. */
struct feats {
    size_t n, nf;
    float *x;          /* n x nf */
    float *y;          /* capped RUL */
    float *rul;        /* true RUL (rows to the asset's last row) */
    size_t *asset;     /* asset index per feature row */
    int *hist;         /* rows of history at the feature row (1 = the asset's first row) */
};

struct trainer {
    const struct mdx_rul_train_opts *o;
    char *why;
    size_t whylen;
    int progress_drawn;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(size_t *a, size_t n, uint64_t *s)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(splitmix(s) % i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void mdx_rul_train_opts_init(struct mdx_rul_train_opts *o)
{
    memset(o, 0, sizeof(*o));
    /* tuned by grouped 5-fold CV on train_FD001 (seeds 1-3), see the closing note of issue 7 */
    o->spec.window = 80;
    o->spec.min_rows = 15;
    o->spec.stats = MDX_RUL_STATS_DEFAULT;
    o->spec.ewma_alpha = 0.1;
    o->spec.with_age = 1;
    o->cap = 125.0;
    o->folds = 5;
    o->seed = 1;
    o->nthread = 1;
    o->max_rounds = 1000;
    o->early_stop = 50;
    o->max_depth = 4;
    o->eta = 0.1;
    o->subsample = 0.8;
    o->colsample = 0.5;
    o->min_child_weight = 5.0;
    o->last_draws = 10;
}

static void progress(struct trainer *t, double done, const char *what)
{
    char bar[41];
    int fill = (int)(done * 40.0 + 0.5);

    if (!t->o->progress) {
        return;
    }
    fill = fill < 0 ? 0 : fill > 40 ? 40 : fill;
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(40 - fill));
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%% %-28s", bar, done * 100.0, what);
    fflush(stderr);
    t->progress_drawn = 1;
}

/* Picks the inputs: named ones (or all), less those constant over the data. */
static int choose_inputs(struct trainer *t, const struct mdx_rul_dataset *d,
                         struct mdx_rul_spec *spec, int *cols, char *dropped, size_t dlen)
{
    const struct mdx_rul_spec *want = &t->o->spec;
    size_t n = 0, cand = want->n_inputs ? want->n_inputs : d->n_inputs;

    *spec = *want;
    spec->n_inputs = 0;
    dropped[0] = '\0';
    for (size_t i = 0; i < cand; i++) {
        const char *name = want->n_inputs ? want->inputs[i] : d->inputs[i];
        int c = mdx_rul_dataset_input(d, name);
        double lo = INFINITY, hi = -INFINITY;

        if (c < 0) {
            snprintf(t->why, t->whylen, "input '%s' is not a column of the data", name);
            return MDX_EINVAL;
        }
        for (size_t r = 0; r < d->n_rows; r++) {
            double v = d->values[r * d->n_inputs + (size_t)c];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        if (!(hi > lo)) {
            size_t used = strlen(dropped);
            snprintf(dropped + used, dlen - used, "%s%s", used ? "," : "", name);
            continue;
        }
        if (n == MDX_RUL_INPUTS_MAX) {
            snprintf(t->why, t->whylen, "more than %d inputs", MDX_RUL_INPUTS_MAX);
            return MDX_EINVAL;
        }
        snprintf(spec->inputs[n], sizeof(spec->inputs[n]), "%s", name);
        cols[n++] = c;
    }
    spec->n_inputs = n;
    if (n == 0) {
        snprintf(t->why, t->whylen, "every input is constant over the data (%s)", dropped);
        return MDX_EINVAL;
    }
    return mdx_rul_spec_check(spec, t->why, t->whylen);
}

static void feats_free(struct feats *f)
{
    mdx_free(f->x);
    mdx_free(f->y);
    mdx_free(f->rul);
    mdx_free(f->asset);
    mdx_free(f->hist);
}

/* Features of every row with min_rows of history, through the same window code as serving. */
static int build_features(const struct mdx_rul_dataset *d, const struct mdx_rul_spec *spec,
                          const int *cols, double cap, struct feats *f)
{
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    double vals[MDX_RUL_INPUTS_MAX];

    memset(f, 0, sizeof(*f));
    f->nf = mdx_rul_n_features(spec);
    f->x = mdx_malloc(d->n_rows * f->nf * sizeof(float) + 1);
    f->y = mdx_malloc(d->n_rows * sizeof(float) + 1);
    f->rul = mdx_malloc(d->n_rows * sizeof(float) + 1);
    f->asset = mdx_malloc(d->n_rows * sizeof(size_t) + 1);
    f->hist = mdx_malloc(d->n_rows * sizeof(int) + 1);
    if (w == NULL || f->x == NULL || f->y == NULL || f->rul == NULL || f->asset == NULL ||
        f->hist == NULL) {
        mdx_free(w);
        feats_free(f);
        return MDX_ENOMEM;
    }
    for (size_t a = 0; a < d->n_assets; a++) {
        size_t first = d->asset_start[a], last = d->asset_start[a + 1];
        mdx_rul_window_init(w);
        for (size_t r = first; r < last; r++) {
            for (size_t i = 0; i < spec->n_inputs; i++) {
                vals[i] = d->values[r * d->n_inputs + (size_t)cols[i]];
            }
            mdx_rul_window_push(w, spec, vals);
            if (mdx_rul_window_features(w, spec, &f->x[f->n * f->nf]) == MDX_OK) {
                double rul = (double)(last - 1 - r);
                f->rul[f->n] = (float)rul;
                f->y[f->n] = (float)(rul < cap ? rul : cap);
                f->asset[f->n] = a;
                f->hist[f->n] = (int)(r - first + 1);
                f->n++;
            }
        }
    }
    mdx_free(w);
    return MDX_OK;
}

/* A DMatrix of the feature rows whose asset is selected (sel[asset] == want). */
static DMatrixHandle subset(const struct feats *f, const int *sel, int want, int nthread,
                            size_t *n_out)
{
    size_t n = 0;
    float *x, *y;
    DMatrixHandle m = NULL;

    for (size_t i = 0; i < f->n; i++) {
        n += sel[f->asset[i]] == want;
    }
    *n_out = n;
    if (n == 0) {
        return NULL;
    }
    x = mdx_malloc(n * f->nf * sizeof(float));
    y = mdx_malloc(n * sizeof(float));
    if (x != NULL && y != NULL) {
        size_t k = 0;
        for (size_t i = 0; i < f->n; i++) {
            if (sel[f->asset[i]] == want) {
                memcpy(&x[k * f->nf], &f->x[i * f->nf], f->nf * sizeof(float));
                y[k++] = f->y[i];
            }
        }
        if (XGDMatrixCreateFromMat_omp(x, n, f->nf, NAN, &m, nthread) != 0 ||
            XGDMatrixSetFloatInfo(m, "label", y, n) != 0) {
            if (m != NULL) {
                XGDMatrixFree(m);
            }
            m = NULL;
        }
    }
    mdx_free(x);
    mdx_free(y);
    return m;
}

/* XGBoosterSetParam with an integer or a number written out in full; non-zero if refused. */
static int set_int(BoosterHandle h, const char *name, int value)
{
    char v[32];

    snprintf(v, sizeof(v), "%d", value);
    return XGBoosterSetParam(h, name, v);
}

static int set_dbl(BoosterHandle h, const char *name, double value)
{
    char v[64];

    snprintf(v, sizeof(v), "%.17g", value);
    return XGBoosterSetParam(h, name, v);
}

static int set_params(struct trainer *t, BoosterHandle h)
{
    const struct mdx_rul_train_opts *o = t->o;
    int rc = 0;

    rc |= XGBoosterSetParam(h, "objective", "reg:squarederror");
    rc |= XGBoosterSetParam(h, "tree_method", "hist");
    rc |= XGBoosterSetParam(h, "verbosity", "0");
    rc |= set_int(h, "nthread", o->nthread);
    rc |= set_int(h, "max_depth", o->max_depth);
    rc |= set_dbl(h, "eta", o->eta);
    rc |= set_dbl(h, "subsample", o->subsample);
    rc |= set_dbl(h, "colsample_bytree", o->colsample);
    rc |= set_dbl(h, "min_child_weight", o->min_child_weight);
    rc |= set_int(h, "seed", (int)(o->seed % 2147483647u));
    rc |= XGBoosterSetParam(h, "eval_metric", "rmse");
    if (rc != 0) {
        snprintf(t->why, t->whylen, "XGBoost refused a parameter: %s", XGBGetLastError());
        return MDX_EINVAL;
    }
    return MDX_OK;
}

/*
 * Starts the trees from the mean training target instead of XGBoost
 * 1.7's 0.5: fewer trees spent on the mean, so fewer trees to predict.
 */
static int set_base_score(struct trainer *t, BoosterHandle h, DMatrixHandle train)
{
    const float *y = NULL;
    bst_ulong n = 0;
    double sum = 0.0;
    char v[64];

    if (XGDMatrixGetFloatInfo(train, "label", &n, &y) != 0 || n == 0) {
        snprintf(t->why, t->whylen, "XGBoost: no labels: %s", XGBGetLastError());
        return MDX_EINVAL;
    }
    for (bst_ulong i = 0; i < n; i++) {
        sum += y[i];
    }
    snprintf(v, sizeof(v), "%.9g", sum / (double)n);
    if (XGBoosterSetParam(h, "base_score", v) != 0) {
        snprintf(t->why, t->whylen, "XGBoost refused base_score: %s", XGBGetLastError());
        return MDX_EINVAL;
    }
    return MDX_OK;
}

/* Trains on 'train' for up to max_rounds (or exactly 'rounds' when es == NULL). */
static int boost(struct trainer *t, DMatrixHandle train, DMatrixHandle es, int rounds,
                 BoosterHandle *out, int *best_round, double base, double span, const char *what)
{
    DMatrixHandle cache[2] = {train, es};
    const char *names[1] = {"es"};
    BoosterHandle h = NULL;
    double best = INFINITY;
    int best_it = 0;

    if (XGBoosterCreate(cache, es ? 2 : 1, &h) != 0 || set_params(t, h) != MDX_OK ||
        set_base_score(t, h, train) != MDX_OK) {
        if (h == NULL) {
            snprintf(t->why, t->whylen, "XGBoost: %s", XGBGetLastError());
        } else {
            XGBoosterFree(h);
        }
        return MDX_EINVAL;
    }
    for (int it = 0; it < rounds; it++) {
        if (XGBoosterUpdateOneIter(h, it, train) != 0) {
            snprintf(t->why, t->whylen, "XGBoost training failed: %s", XGBGetLastError());
            XGBoosterFree(h);
            return MDX_EINVAL;
        }
        if (es != NULL) {
            const char *res = NULL, *colon;
            double rmse;
            if (XGBoosterEvalOneIter(h, it, &es, names, 1, &res) != 0 || res == NULL ||
                (colon = strchr(res, ':')) == NULL) {
                snprintf(t->why, t->whylen, "XGBoost evaluation failed: %s", XGBGetLastError());
                XGBoosterFree(h);
                return MDX_EINVAL;
            }
            rmse = strtod(colon + 1, NULL);
            if (rmse < best) {
                best = rmse;
                best_it = it;
            } else if (it - best_it >= t->o->early_stop) {
                break;
            }
        } else {
            best_it = it;
        }
        if (it % 10 == 0) {
            progress(t, base + span * (double)it / (double)rounds, what);
        }
    }
    *out = h;
    *best_round = best_it + 1;
    return MDX_OK;
}

/* Predictions of the first 'rounds' rounds for every feature row of assets with sel == want. */
static int predict_rows(BoosterHandle h, DMatrixHandle m, int rounds, float *out, size_t n)
{
    char config[256];
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;

    snprintf(config, sizeof(config),
             "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": %d, "
             "\"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}", rounds);
    if (XGBoosterPredictFromDMatrix(h, m, config, &shape, &dim, &res) != 0) {
        return MDX_EINVAL;
    }
    memcpy(out, res, n * sizeof(float));
    return MDX_OK;
}

/* The cross-validation: fills pred[] (per feature row, out of fold) and the mean best round. */
static int cross_validate(struct trainer *t, const struct mdx_rul_dataset *d, const struct feats *f,
                          float *pred, double *mean_rounds)
{
    const struct mdx_rul_train_opts *o = t->o;
    size_t *order = mdx_malloc(d->n_assets * sizeof(size_t));
    int *fold = mdx_malloc(d->n_assets * sizeof(int));
    int *sel = mdx_malloc(d->n_assets * sizeof(int));
    uint64_t rng = o->seed ^ 0x5eedf01d5ull;
    int rc = MDX_OK;
    double rounds_sum = 0.0;

    if (order == NULL || fold == NULL || sel == NULL) {
        rc = MDX_ENOMEM;
        goto out;
    }
    for (size_t a = 0; a < d->n_assets; a++) {
        order[a] = a;
    }
    shuffle(order, d->n_assets, &rng);
    for (size_t k = 0; k < d->n_assets; k++) {
        fold[order[k]] = (int)(k % (size_t)o->folds);
    }
    for (int k = 0; k < o->folds && rc == MDX_OK; k++) {
        /* sel: 0 = fold training, 1 = early stopping, 2 = held out */
        size_t n_train_assets = 0, j = 0, n_tr, n_es, n_ho;
        for (size_t q = 0; q < d->n_assets; q++) {
            size_t a = order[q];
            sel[a] = fold[a] == k ? 2 : 0;
            n_train_assets += fold[a] != k;
        }
        for (size_t q = 0; q < d->n_assets; q++) {
            size_t a = order[(q * 7919 + (size_t)k) % d->n_assets]; /* a different order per fold */
            if (sel[a] == 0 && j++ % 5 == 4) {
                sel[a] = 1;
            }
        }
        (void)n_train_assets;
        DMatrixHandle tr = subset(f, sel, 0, o->nthread, &n_tr);
        DMatrixHandle es = subset(f, sel, 1, o->nthread, &n_es);
        DMatrixHandle ho = subset(f, sel, 2, o->nthread, &n_ho);
        BoosterHandle h = NULL;
        int best = 0;
        char what[64];

        snprintf(what, sizeof(what), "fold %d/%d", k + 1, o->folds);
        if (tr == NULL || es == NULL || ho == NULL) {
            snprintf(t->why, t->whylen, "fold %d has no training, early-stopping or held-out rows "
                     "(too few assets for %d folds?)", k + 1, o->folds);
            rc = MDX_EINVAL;
        } else {
            rc = boost(t, tr, es, o->max_rounds, &h, &best,
                       (double)k / (o->folds + 1), 1.0 / (o->folds + 1), what);
        }
        if (rc == MDX_OK) {
            float *p = mdx_malloc(n_ho * sizeof(float));
            if (p == NULL || predict_rows(h, ho, best, p, n_ho) != MDX_OK) {
                snprintf(t->why, t->whylen, "prediction of fold %d failed: %s", k + 1,
                         p == NULL ? "out of memory" : XGBGetLastError());
                rc = MDX_EINVAL;
            } else {
                for (size_t i = 0, q = 0; i < f->n; i++) {
                    if (sel[f->asset[i]] == 2) {
                        pred[i] = p[q++];
                    }
                }
            }
            mdx_free(p);
            rounds_sum += best;
        }
        if (h != NULL) {
            XGBoosterFree(h);
        }
        if (tr != NULL) {
            XGDMatrixFree(tr);
        }
        if (es != NULL) {
            XGDMatrixFree(es);
        }
        if (ho != NULL) {
            XGDMatrixFree(ho);
        }
    }
    *mean_rounds = rounds_sum / o->folds;
out:
    mdx_free(order);
    mdx_free(fold);
    mdx_free(sel);
    return rc;
}

/* The metrics of out-of-fold predictions, both protocols. */
static int score(struct trainer *t, const struct mdx_rul_dataset *d, const struct feats *f,
                 float *pred, struct mdx_rul_manifest *man)
{
    size_t draws = (size_t)t->o->last_draws, n_last = 0, n_all = 0;
    int from = mdx_rul_spec_min_rows(&man->spec);
    float *lp = mdx_malloc((d->n_assets * draws + f->n + 1) * sizeof(float));
    float *lt = mdx_malloc((d->n_assets * draws + f->n + 1) * sizeof(float));
    size_t *first = mdx_calloc(d->n_assets + 1, sizeof(size_t));
    uint64_t rng = t->o->seed ^ 0x7a57ull;

    if (lp == NULL || lt == NULL || first == NULL) {
        mdx_free(lp);
        mdx_free(lt);
        mdx_free(first);
        return MDX_ENOMEM;
    }
    from = from > EVAL_HISTORY ? from : EVAL_HISTORY;
    for (size_t i = 0; i < f->n; i++) {
        pred[i] = pred[i] < 0.0f ? 0.0f : pred[i] > (float)man->cap ? (float)man->cap : pred[i];
        if (f->hist[i] >= from) {
            lp[n_all] = pred[i];
            lt[n_all++] = f->y[i];
        }
    }
    man->cv_rmse = mdx_rul_rmse(lp, lt, n_all);
    man->cv_phm08 = mdx_rul_phm08(lp, lt, n_all) / (double)(n_all ? n_all : 1);
    /* scored rows of asset a: [first[a], first[a+1]); the last one has RUL 0 */
    for (size_t i = 0, a = 0; a <= d->n_assets; a++) {
        while (i < f->n && (f->asset[i] < a || (f->asset[i] == a && f->hist[i] < from))) {
            i++;
        }
        first[a] = i;
    }
    for (size_t a = 0; a < d->n_assets; a++) {
        size_t end = first[a];
        while (end < f->n && f->asset[end] == a) {
            end++;
        }
        size_t rows = end - first[a];
        size_t hi = rows == 0 ? 0 : rows - 1; /* the most RUL with 'from' rows of history */
        hi = hi < LAST_RUL_MAX ? hi : LAST_RUL_MAX;
        for (size_t k = 0; k < draws && rows > 0; k++) {
            size_t rul = hi <= 1 ? hi : 1 + (size_t)(splitmix(&rng) % hi);
            size_t i = end - 1 - rul;
            lp[n_last] = pred[i];
            lt[n_last++] = f->rul[i];
        }
    }
    man->cv_last_rmse = mdx_rul_rmse(lp, lt, n_last);
    man->cv_last_phm08 = n_last ? mdx_rul_phm08(lp, lt, n_last) * 100.0 / (double)n_last : 0.0;
    mdx_free(lp);
    mdx_free(lt);
    mdx_free(first);
    return MDX_OK;
}

int mdx_rul_train(const struct mdx_rul_dataset *d, const struct mdx_rul_train_opts *o,
                  const char *out_base, struct mdx_rul_manifest *man, char *why, size_t whylen)
{
    struct trainer t = {.o = o, .why = why, .whylen = whylen};
    int cols[MDX_RUL_INPUTS_MAX];
    char dropped[MDX_RUL_INPUTS_MAX * (MDX_NAME_MAX + 1) + 1], protocol[1024];
    struct feats f;
    float *pred = NULL;
    double mean_rounds = 0.0;
    int rc, rounds;

    memset(man, 0, sizeof(*man));
    if (o->folds < 2 || o->cap <= 0.0 || o->max_rounds < 1 || o->early_stop < 1 ||
        o->nthread < 1 || o->max_depth < 1 || !(o->eta > 0.0) || o->last_draws < 1) {
        snprintf(why, whylen, "bad training options (folds >= 2, cap > 0, rounds, threads, depth, "
                 "eta > 0)");
        return MDX_EINVAL;
    }
    if (d->n_assets < (size_t)o->folds * 2) {
        snprintf(why, whylen, "%zu assets are too few for %d folds (need at least %d)",
                 d->n_assets, o->folds, o->folds * 2);
        return MDX_EINVAL;
    }
    rc = choose_inputs(&t, d, &man->spec, cols, dropped, sizeof(dropped));
    if (rc != MDX_OK) {
        return rc;
    }
    man->cap = o->cap;
    rc = build_features(d, &man->spec, cols, o->cap, &f);
    if (rc != MDX_OK) {
        snprintf(why, whylen, "out of memory");
        return rc;
    }
    if (f.n == 0) {
        snprintf(why, whylen, "no asset has %d rows (min_rows)", mdx_rul_spec_min_rows(&man->spec));
        feats_free(&f);
        return MDX_EINVAL;
    }
    pred = mdx_malloc(f.n * sizeof(float));
    rc = pred == NULL ? MDX_ENOMEM : cross_validate(&t, d, &f, pred, &mean_rounds);
    if (rc == MDX_OK) {
        rc = score(&t, d, &f, pred, man);
    }
    if (rc == MDX_OK) {
        int *all = mdx_calloc(d->n_assets, sizeof(int));
        size_t n;
        DMatrixHandle m = all ? subset(&f, all, 0, o->nthread, &n) : NULL;
        BoosterHandle h = NULL;
        int best;

        rounds = (int)(mean_rounds + 0.5);
        rounds = rounds < 1 ? 1 : rounds;
        if (m == NULL) {
            snprintf(why, whylen, "cannot build the training matrix: %s", XGBGetLastError());
            rc = MDX_ENOMEM;
        } else {
            rc = boost(&t, m, NULL, rounds, &h, &best, (double)o->folds / (o->folds + 1),
                       1.0 / (o->folds + 1), "final model");
        }
        if (rc == MDX_OK) {
            man->rounds = rounds;
            man->n_assets = (int64_t)d->n_assets;
            man->n_rows = (int64_t)f.n;
            man->trained_ms = mdx_now_ms();
            snprintf(man->data_sha256, sizeof(man->data_sha256), "%s", d->sha256);
            if (o->version != NULL) {
                snprintf(man->version, sizeof(man->version), "%s", o->version);
            } else {
                time_t now = (time_t)(man->trained_ms / 1000);
                struct tm tm;
                gmtime_r(&now, &tm);
                strftime(man->version, sizeof(man->version), "rul-%Y%m%dT%H%M%SZ", &tm);
            }
            snprintf(protocol, sizeof(protocol),
                     "grouped %d-fold CV by asset (seed %llu), early stopping on 1/5 of each "
                     "fold's training assets; training rows: every row with at least min_rows "
                     "rows of history (partial windows); cv_rmse/cv_phm08: every held-out row "
                     "with at least max(%d, min_rows) rows of history, truth capped at %g, PHM08 "
                     "mean per prediction; cv_last_*: %d truncation points per held-out asset, "
                     "true RUL uniform in [1, min(rows - max(%d, min_rows), %d)], uncapped truth, "
                     "PHM08 sum per 100 trajectories; final model on every asset for the mean "
                     "best round count",
                     o->folds, (unsigned long long)o->seed, EVAL_HISTORY, o->cap, o->last_draws,
                     EVAL_HISTORY, LAST_RUL_MAX);
            rc = rul_model_save(h, man, protocol, dropped, out_base, why, whylen);
        }
        if (h != NULL) {
            XGBoosterFree(h);
        }
        if (m != NULL) {
            XGDMatrixFree(m);
        }
        mdx_free(all);
    } else if (rc == MDX_ENOMEM) {
        snprintf(why, whylen, "out of memory");
    }
    if (t.progress_drawn) {
        progress(&t, 1.0, "done");
        fputc('\n', stderr);
    }
    if (dropped[0] != '\0' && rc == MDX_OK) {
        mdx_log_info("rul", "constant inputs dropped", MDX_F_STR("inputs", dropped));
    }
    mdx_free(pred);
    feats_free(&f);
    return rc;
}
