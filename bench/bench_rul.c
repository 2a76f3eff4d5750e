/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rul.c - microseconds per device RUL prediction: one device alone
 * (features + one-row predict) and amortized over a batch of 1,000
 * devices predicted together, with a model trained here on the shipped
 * C-MAPSS subset (default options, one thread). One line:
 *   rul: rounds=… features=… us_alone=… us_batch1000=… (targets 40 / 4)
 * through XGBoost 1.7.4's XGBoosterPredictFromDense.
 * Options: --model M (use a trained model instead), --iters N (2000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"

#define BATCH 1000

int main(int argc, char **argv)
{
    const char *model_path = NULL;
    long iters = 2000;
    char why[512], base[600], data[700];
    struct mdx_rul_model *m;
    int err;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--model") == 0) {
            model_path = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--iters") == 0) {
            iters = bench_parse_num(argv[++i], 1, 100000000);
        } else {
            iters = -1;
        }
    }
    if (iters <= 0) {
        fprintf(stderr, "usage: bench_rul [--model M] [--iters N]\n");
        return 2;
    }
    if (model_path == NULL) {
        struct mdx_rul_read_opts ro = {.format = MDX_RUL_FMT_CMAPSS, .min_rows = 30};
        struct mdx_rul_train_opts o;
        struct mdx_rul_manifest man;
        struct mdx_rul_dataset *d;
        const char *src = getenv("MODAX_SOURCE_DIR");

        snprintf(data, sizeof(data), "%s/tests/data/cmapss/train_FD001_units1-10.txt",
                 src ? src : ".");
        snprintf(base, sizeof(base), "/tmp/bench_rul_%ld", (long)getpid());
        if (mdx_rul_dataset_read(data, &ro, &d, why, sizeof(why)) != MDX_OK) {
            fprintf(stderr, "bench_rul: %s: %s\n", data, why);
            return 1;
        }
        mdx_rul_train_opts_init(&o);
        o.nthread = 1;
        if (mdx_rul_train(d, &o, base, &man, why, sizeof(why)) != MDX_OK) {
            fprintf(stderr, "bench_rul: %s\n", why);
            return 1;
        }
        mdx_rul_dataset_free(d);
        model_path = base;
    }
    m = mdx_rul_model_load(model_path, why, sizeof(why), &err);
    if (m == NULL) {
        fprintf(stderr, "bench_rul: %s\n", why);
        return 1;
    }
    const struct mdx_rul_manifest *man = mdx_rul_model_manifest(m);
    size_t nf = mdx_rul_n_features(&man->spec);
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    float *x = mdx_malloc(BATCH * nf * sizeof(float)), *rul = mdx_malloc(BATCH * sizeof(float));
    double vals[MDX_RUL_INPUTS_MAX], sum = 0.0;

    /* 1,000 devices' features: random walks, a window's worth of rows each */
    for (size_t dev = 0; dev < BATCH; dev++) {
        mdx_rul_window_init(w);
        for (int r = 0; r < man->spec.window + 20; r++) {
            for (size_t i = 0; i < man->spec.n_inputs; i++) {
                vals[i] = 100.0 + 10.0 * rnd_unit() + 0.05 * r;
            }
            mdx_rul_window_push(w, &man->spec, vals);
        }
        mdx_rul_window_features(w, &man->spec, &x[dev * nf]);
    }
    /* one device alone: push its new row, compute its features, predict one row */
    double t0 = now_s();
    for (long it = 0; it < iters; it++) {
        for (size_t i = 0; i < man->spec.n_inputs; i++) {
            vals[i] = 100.0 + (double)(it & 7);
        }
        mdx_rul_window_push(w, &man->spec, vals);
        mdx_rul_window_features(w, &man->spec, x);
        mdx_rul_predict(m, x, 1, rul);
        sum += rul[0];
    }
    double alone = (now_s() - t0) * 1e6 / (double)iters;
    long batches = iters / 20 > 5 ? iters / 20 : 5;
    t0 = now_s();
    for (long it = 0; it < batches; it++) {
        mdx_rul_predict(m, x, BATCH, rul);
        sum += rul[it % BATCH];
    }
    double amortized = (now_s() - t0) * 1e6 / ((double)batches * BATCH);
    printf("rul: rounds=%lld features=%zu us_alone=%.2f us_batch1000=%.3f "
           "(targets <= 40, <= 4) checksum=%.1f\n", (long long)man->rounds, nf, alone,
           amortized, sum);
    mdx_free(w);
    mdx_free(x);
    mdx_free(rul);
    mdx_rul_model_free(m);
    if (model_path == base) {
        char p[700];
        snprintf(p, sizeof(p), "%s.json", base);
        remove(p);
        snprintf(p, sizeof(p), "%s.manifest.json", base);
        remove(p);
    }
    return 0;
}
