/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_model.c - training on the shipped C-MAPSS subset (deterministic
 * for a seed), saving and loading models, prediction, and refusing model
 * files that are not XGBoost JSON or carry another feature specification.
 */
#include <stdlib.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"
#include "support/support.h"

static char dir[512];
static struct mdx_rul_dataset *data;

static void cleanup(void)
{
    mdx_rul_dataset_free(data);
    tmp_remove(dir);
}

static void setup(void)
{
    struct mdx_rul_read_opts o = {.format = MDX_RUL_FMT_CMAPSS, .min_rows = 30};
    char path[700], why[512];

    tmp_make(dir, sizeof(dir), "rul-model");
    atexit(cleanup);
    snprintf(path, sizeof(path), "%s/cmapss/train_FD001_units1-10.txt", getenv("MODAX_TEST_DATA"));
    CHECK_EQ_INT(mdx_rul_dataset_read(path, &o, &data, why, sizeof(why)), MDX_OK);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = mdx_malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int train(const char *name, uint64_t seed, struct mdx_rul_manifest *man)
{
    struct mdx_rul_train_opts o;
    char base[700], why[512];
    int rc;

    mdx_rul_train_opts_init(&o);
    o.seed = seed;
    o.max_rounds = 150;
    o.nthread = 1;
    o.version = "test-1";
    snprintf(base, sizeof(base), "%s/%s", dir, name);
    rc = mdx_rul_train(data, &o, base, man, why, sizeof(why));
    if (rc != MDX_OK) {
        fprintf(stderr, "  train: %s\n", why);
    }
    return rc;
}

static void test_train_deterministic(void)
{
    struct mdx_rul_manifest m1, m2, m3;
    char p1[700], p2[700], p3[700];
    size_t l1 = 0, l2 = 0, l3 = 0;

    if (data == NULL) {
        CHECK(data != NULL);
        return;
    }
    CHECK_EQ_INT(train("a", 7, &m1), MDX_OK);
    CHECK_EQ_INT(train("b", 7, &m2), MDX_OK);
    CHECK_EQ_INT(train("c", 8, &m3), MDX_OK);
    snprintf(p1, sizeof(p1), "%s/a.json", dir);
    snprintf(p2, sizeof(p2), "%s/b.json", dir);
    snprintf(p3, sizeof(p3), "%s/c.json", dir);
    char *a = slurp(p1, &l1), *b = slurp(p2, &l2), *c = slurp(p3, &l3);
    CHECK(a != NULL && b != NULL && c != NULL);
    CHECK(l1 > 1000 && l1 == l2 && memcmp(a, b, l1) == 0); /* same seed: byte-identical */
    CHECK(l1 != l3 || memcmp(a, c, l1) != 0);              /* another seed: another model */
    CHECK(m1.cv_rmse == m2.cv_rmse && m1.cv_last_rmse == m2.cv_last_rmse);
    CHECK(m1.cv_rmse > 1.0 && m1.cv_rmse < 40.0);
    CHECK(m1.rounds >= 1 && m1.rounds <= 150);
    /* constant columns of FD001 dropped from the specification */
    for (size_t i = 0; i < m1.spec.n_inputs; i++) {
        CHECK(strcmp(m1.spec.inputs[i], "s1") != 0 && strcmp(m1.spec.inputs[i], "setting3") != 0);
    }
    CHECK(m1.spec.n_inputs > 10 && m1.spec.n_inputs < 24);
    mdx_free(a);
    mdx_free(b);
    mdx_free(c);
}

/* Features of asset a truncated to its first 'rows' rows. */
static int features_at(const struct mdx_rul_manifest *man, size_t a, size_t rows, float *out)
{
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    double v[MDX_RUL_INPUTS_MAX];
    int rc;

    mdx_rul_window_init(w);
    for (size_t r = data->asset_start[a]; r < data->asset_start[a] + rows; r++) {
        for (size_t i = 0; i < man->spec.n_inputs; i++) {
            v[i] = data->values[r * data->n_inputs +
                                (size_t)mdx_rul_dataset_input(data, man->spec.inputs[i])];
        }
        mdx_rul_window_push(w, &man->spec, v);
    }
    rc = mdx_rul_window_features(w, &man->spec, out);
    mdx_free(w);
    return rc;
}

static void test_load_and_predict(void)
{
    char path[700], why[512];
    struct mdx_rul_model *m;
    const struct mdx_rul_manifest *man;
    int err;

    snprintf(path, sizeof(path), "%s/a.json", dir);
    m = mdx_rul_model_load(path, why, sizeof(why), &err);
    CHECK(m != NULL);
    if (m == NULL) {
        fprintf(stderr, "  %s\n", why);
        return;
    }
    man = mdx_rul_model_manifest(m);
    CHECK_STR(man->version, "test-1");
    CHECK(man->cap == 125.0);
    CHECK_STR(man->data_sha256, data->sha256);
    size_t nf = mdx_rul_n_features(&man->spec);
    float *x = mdx_malloc(20 * nf * sizeof(float)), rul[20], one;
    /* each asset at its last row (RUL 0) and 150 rows before (RUL 150, capped 125) */
    for (size_t a = 0; a < 10; a++) {
        size_t len = data->asset_start[a + 1] - data->asset_start[a];
        CHECK_EQ_INT(features_at(man, a, len, &x[a * nf]), MDX_OK);
        CHECK_EQ_INT(features_at(man, a, len - 150 > 30 ? len - 150 : 30, &x[(10 + a) * nf]), MDX_OK);
    }
    CHECK_EQ_INT(mdx_rul_predict(m, x, 20, rul), MDX_OK);
    double end = 0, early = 0;
    for (size_t a = 0; a < 10; a++) {
        end += rul[a] / 10.0;
        early += rul[10 + a] / 10.0;
        CHECK(rul[a] >= 0.0f && rul[10 + a] <= 125.0f);
    }
    CHECK(end < 25.0);   /* near failure */
    CHECK(early > 90.0); /* healthy */
    /* one row alone predicts as in the batch */
    CHECK_EQ_INT(mdx_rul_predict(m, &x[3 * nf], 1, &one), MDX_OK);
    CHECK(one == rul[3]);
    /* too little history: no features, no prediction; min_rows rows: a partial window */
    int min_rows = mdx_rul_spec_min_rows(&man->spec);
    CHECK(min_rows >= 2 && min_rows < man->spec.window);
    CHECK_EQ_INT(features_at(man, 0, (size_t)min_rows - 1, x), MDX_EAGAIN);
    CHECK_EQ_INT(features_at(man, 0, (size_t)min_rows, x), MDX_OK);
    CHECK_EQ_INT(mdx_rul_predict(m, x, 1, &one), MDX_OK);
    CHECK(one > 90.0f); /* a new engine is healthy */
    mdx_free(x);
    mdx_rul_model_free(m);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void copy_file(const char *from, const char *to)
{
    size_t n;
    char *b = slurp(from, &n);
    FILE *f = fopen(to, "wb");

    if (b != NULL && f != NULL) {
        fwrite(b, 1, n, f);
    }
    if (f != NULL) {
        fclose(f);
    }
    mdx_free(b);
}

static void expect_refused(const char *base, const char *want)
{
    char why[512] = "";
    int err = 0;
    struct mdx_rul_model *m = mdx_rul_model_load(base, why, sizeof(why), &err);

    CHECK(m == NULL);
    CHECK_EQ_INT(err, MDX_EINVAL);
    CHECK(strstr(why, want) != NULL);
    if (strstr(why, want) == NULL) {
        fprintf(stderr, "  got: %s\n", why);
    }
    mdx_rul_model_free(m);
}

static void test_refuses_bad_models(void)
{
    char src[700], p[700], q[700];
    size_t n;
    char *man;

    snprintf(src, sizeof(src), "%s/a.manifest.json", dir);
    /* not XGBoost JSON: other JSON, and not JSON at all */
    snprintf(p, sizeof(p), "%s/x.json", dir);
    snprintf(q, sizeof(q), "%s/x.manifest.json", dir);
    copy_file(src, q);
    write_text(p, "{\"weights\": [1, 2, 3]}");
    expect_refused(p, "is not an XGBoost JSON model");
    write_text(p, "binf\x01\x02 not json");
    expect_refused(p, "is not an XGBoost JSON model");
    /* another feature specification: the manifest's window and stats differ from the booster */
    snprintf(p, sizeof(p), "%s/a.json", dir);
    snprintf(q, sizeof(q), "%s/y.json", dir);
    copy_file(p, q);
    man = slurp(src, &n);
    if (man == NULL) {
        CHECK(man != NULL);
        return;
    }
    char *stats = strstr(man, "\"stats\"");
    CHECK(stats != NULL);
    if (stats != NULL) {
        char edited[65536];
        char *open = strchr(stats, '['), *close = strchr(stats, ']');
        /* keep level only: features listed no longer match the specification */
        snprintf(edited, sizeof(edited), "%.*s[\"level\"%s", (int)(open - man), man, close);
        snprintf(p, sizeof(p), "%s/y.manifest.json", dir);
        write_text(p, edited);
        expect_refused(q, "feature list disagrees with its specification");
    }
    /* a manifest from before partial windows (no min_rows): the window's rows are needed */
    char *mr = strstr(man, "\"min_rows\"");
    CHECK(mr != NULL);
    if (mr != NULL) {
        char edited[65536], *eol = strchr(mr, '\n');
        struct mdx_rul_model *old;
        int err = 0;
        snprintf(edited, sizeof(edited), "%.*s%s", (int)(mr - man), man, eol + 1);
        snprintf(p, sizeof(p), "%s/y.manifest.json", dir);
        write_text(p, edited);
        old = mdx_rul_model_load(q, p, sizeof(p), &err);
        CHECK(old != NULL);
        if (old != NULL) {
            const struct mdx_rul_spec *os = &mdx_rul_model_manifest(old)->spec;
            CHECK_EQ_INT(mdx_rul_spec_min_rows(os), os->window);
        }
        mdx_rul_model_free(old);
    }
    mdx_free(man);
    /* a booster with another feature count under a valid manifest */
    struct mdx_rul_read_opts o = {.format = MDX_RUL_FMT_CMAPSS, .min_rows = 30};
    (void)o;
    snprintf(p, sizeof(p), "%s/c.json", dir); /* trained alike: same count, so build one that is not */
    {
        struct mdx_rul_train_opts to;
        struct mdx_rul_manifest mm;
        char base[700], why[512];
        mdx_rul_train_opts_init(&to);
        to.max_rounds = 20;
        to.nthread = 1;
        to.spec.n_inputs = 2;
        snprintf(to.spec.inputs[0], sizeof(to.spec.inputs[0]), "s2");
        snprintf(to.spec.inputs[1], sizeof(to.spec.inputs[1]), "s3");
        snprintf(base, sizeof(base), "%s/z", dir);
        CHECK_EQ_INT(mdx_rul_train(data, &to, base, &mm, why, sizeof(why)), MDX_OK);
        CHECK_EQ_INT(mm.spec.n_inputs, 2);
        snprintf(p, sizeof(p), "%s/z.json", dir);
        snprintf(q, sizeof(q), "%s/w.json", dir);
        copy_file(p, q);           /* 11-feature booster ... */
        snprintf(q, sizeof(q), "%s/w.manifest.json", dir);
        copy_file(src, q);         /* ... under the 86-feature manifest */
        snprintf(q, sizeof(q), "%s/w.json", dir);
        expect_refused(q, "another feature specification");
    }
}

static const struct mdx_test tests[] = {
    {"model_setup", setup},
    {"train_deterministic_for_seed", test_train_deterministic},
    {"model_load_and_predict", test_load_and_predict},
    {"model_refuses_not_xgboost_or_other_spec", test_refuses_bad_models},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
