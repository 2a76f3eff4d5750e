/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rul_features.c - RUL window features against hand-computed values,
 * the specification checks, feature names and the two error measures.
 */
#include <math.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/rul.h"
#include "modax/status.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-4)

static void spec2(struct mdx_rul_spec *s, int window, unsigned stats)
{
    memset(s, 0, sizeof(*s));
    s->n_inputs = 2;
    snprintf(s->inputs[0], sizeof(s->inputs[0]), "x");
    snprintf(s->inputs[1], sizeof(s->inputs[1]), "c");
    s->window = window;
    s->stats = stats;
    s->ewma_alpha = 0.5;
    s->with_age = 1;
}

static void test_hand_computed(void)
{
    struct mdx_rul_spec s;
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    const double xs[] = {1, 2, 4, 8};
    float f[32];

    spec2(&s, 4, MDX_RUL_STATS_DEFAULT | MDX_RUL_MINMAX);
    CHECK_EQ_INT(mdx_rul_n_features(&s), 2 * 7 + 1);
    mdx_rul_window_init(w);
    for (int i = 0; i < 4; i++) {
        double v[2] = {xs[i], 7.0};
        CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_EAGAIN); /* fewer rows than the window */
        mdx_rul_window_push(w, &s, v);
    }
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_OK);
    /* x = 1 2 4 8: level 8, mean 3.75, slope 11.5/5, spread sqrt(28.75/4), ewma(0.5) 5.375 */
    CHECK(NEAR(f[0], 8.0));
    CHECK(NEAR(f[1], 3.75));
    CHECK(NEAR(f[2], 2.3));
    CHECK(NEAR(f[3], sqrt(7.1875)));
    CHECK(NEAR(f[4], 5.375));
    CHECK(NEAR(f[5], 1.0));
    CHECK(NEAR(f[6], 8.0));
    /* the constant input: level 7, mean 7, slope 0, spread 0, ewma 7 */
    CHECK(NEAR(f[7], 7.0) && NEAR(f[8], 7.0) && NEAR(f[9], 0.0) && NEAR(f[10], 0.0) &&
          NEAR(f[11], 7.0));
    CHECK(NEAR(f[14], 4.0)); /* age */
    mdx_free(w);
}

/* min_rows <= rows < window: the statistics of the rows there are; fewer: no features. */
static void test_partial_window(void)
{
    struct mdx_rul_spec s;
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    float f[32];

    spec2(&s, 30, MDX_RUL_STATS_DEFAULT | MDX_RUL_MINMAX);
    s.min_rows = 2;
    mdx_rul_window_init(w);
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_EAGAIN);
    mdx_rul_window_push(w, &s, (double[2]){1.0, 7.0});
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_EAGAIN); /* 1 row < min_rows 2 */
    mdx_rul_window_push(w, &s, (double[2]){2.0, 7.0});
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_OK);
    /* x = 1 2: level 2, mean 1.5, slope 1, spread 0.5, ewma(0.5) 1.5, min 1, max 2; age 2 */
    CHECK(NEAR(f[0], 2.0) && NEAR(f[1], 1.5) && NEAR(f[2], 1.0) && NEAR(f[3], 0.5) &&
          NEAR(f[4], 1.5) && NEAR(f[5], 1.0) && NEAR(f[6], 2.0));
    CHECK(NEAR(f[14], 2.0));
    mdx_rul_window_push(w, &s, (double[2]){4.0, 7.0});
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_OK);
    /* x = 1 2 4: mean 7/3, slope 3/2, spread sqrt(42/27), ewma 2.75; age 3 */
    CHECK(NEAR(f[0], 4.0) && NEAR(f[1], 7.0 / 3.0) && NEAR(f[2], 1.5) &&
          NEAR(f[3], sqrt(42.0 / 27.0)) && NEAR(f[4], 2.75) && NEAR(f[5], 1.0) && NEAR(f[6], 4.0));
    CHECK(NEAR(f[14], 3.0));
    /* a full window later: the last 30 rows only */
    for (int i = 0; i < 40; i++) {
        mdx_rul_window_push(w, &s, (double[2]){100.0 + i, 7.0});
    }
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_OK);
    CHECK(NEAR(f[1], 100.0 + 24.5) && NEAR(f[2], 1.0) && NEAR(f[5], 110.0));
    CHECK(NEAR(f[14], 43.0));
    /* min_rows 0: the window (models from before partial windows) */
    s.min_rows = 0;
    CHECK_EQ_INT(mdx_rul_spec_min_rows(&s), 30);
    mdx_rul_window_init(w);
    for (int i = 0; i < 29; i++) {
        mdx_rul_window_push(w, &s, (double[2]){1.0, 7.0});
    }
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_EAGAIN);
    mdx_free(w);
}

static void test_ring_wraps(void)
{
    struct mdx_rul_spec s;
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    float f[32];

    spec2(&s, 5, MDX_RUL_LEVEL | MDX_RUL_MEAN | MDX_RUL_SLOPE);
    s.with_age = 0;
    mdx_rul_window_init(w);
    for (int i = 0; i < 1300; i++) { /* more than twice MDX_RUL_WINDOW_MAX */
        double v[2] = {(double)i, (double)(-2 * i)};
        mdx_rul_window_push(w, &s, v);
    }
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_OK);
    CHECK(NEAR(f[0], 1299.0));
    CHECK(NEAR(f[1], 1297.0));
    CHECK(NEAR(f[2], 1.0));
    CHECK(NEAR(f[5], -2.0));
    mdx_free(w);
}

static void test_nan_carried(void)
{
    struct mdx_rul_spec s;
    struct mdx_rul_window *w = mdx_malloc(sizeof(*w));
    const double xs[] = {1, NAN, 3, NAN};
    float f[32];

    spec2(&s, 4, MDX_RUL_MEAN | MDX_RUL_LEVEL);
    mdx_rul_window_init(w);
    for (int i = 0; i < 4; i++) {
        double v[2] = {xs[i], 0.0};
        mdx_rul_window_push(w, &s, v);
    }
    CHECK_EQ_INT(mdx_rul_window_features(w, &s, f), MDX_OK);
    CHECK(NEAR(f[0], 3.0));               /* the last row carried 3 */
    CHECK(NEAR(f[1], (1 + 1 + 3 + 3) / 4.0));
    mdx_free(w);
}

static void test_spec_and_names(void)
{
    struct mdx_rul_spec s, t;
    char why[256], name[80];

    spec2(&s, 30, MDX_RUL_STATS_DEFAULT);
    CHECK_EQ_INT(mdx_rul_spec_check(&s, why, sizeof(why)), MDX_OK);
    mdx_rul_feature_name(&s, 0, name, sizeof(name));
    CHECK_STR(name, "x.level");
    mdx_rul_feature_name(&s, 7, name, sizeof(name));
    CHECK_STR(name, "c.slope");
    mdx_rul_feature_name(&s, 10, name, sizeof(name));
    CHECK_STR(name, "age");
    t = s;
    t.window = 1;
    CHECK_EQ_INT(mdx_rul_spec_check(&t, why, sizeof(why)), MDX_EINVAL);
    CHECK(strstr(why, "window") != NULL);
    t = s;
    snprintf(t.inputs[1], sizeof(t.inputs[1]), "x");
    CHECK_EQ_INT(mdx_rul_spec_check(&t, why, sizeof(why)), MDX_EINVAL);
    CHECK(strstr(why, "twice") != NULL);
    t = s;
    t.stats = 1u << 9;
    CHECK_EQ_INT(mdx_rul_spec_check(&t, why, sizeof(why)), MDX_EINVAL);
    t = s;
    t.min_rows = 31; /* above the window */
    CHECK_EQ_INT(mdx_rul_spec_check(&t, why, sizeof(why)), MDX_EINVAL);
    CHECK(strstr(why, "min_rows") != NULL);
    t.min_rows = 1;
    CHECK_EQ_INT(mdx_rul_spec_check(&t, why, sizeof(why)), MDX_EINVAL);
    t.min_rows = 10;
    CHECK_EQ_INT(mdx_rul_spec_check(&t, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_rul_spec_compare(&s, &t, why, sizeof(why)), MDX_EINVAL);
    CHECK(strstr(why, "min_rows") != NULL);
    t.min_rows = 30; /* the same as 0 for window 30 */
    CHECK_EQ_INT(mdx_rul_spec_compare(&s, &t, why, sizeof(why)), MDX_OK);
    t = s;
    CHECK_EQ_INT(mdx_rul_spec_compare(&s, &t, why, sizeof(why)), MDX_OK);
    snprintf(t.inputs[1], sizeof(t.inputs[1]), "s9");
    CHECK_EQ_INT(mdx_rul_spec_compare(&s, &t, why, sizeof(why)), MDX_EINVAL);
    CHECK(strstr(why, "s9") != NULL);
    t = s;
    t.window = 20;
    CHECK_EQ_INT(mdx_rul_spec_compare(&s, &t, why, sizeof(why)), MDX_EINVAL);
}

static void test_metrics(void)
{
    const float pred[] = {10.0f, 0.0f}, truth[] = {0.0f, 13.0f};

    CHECK(NEAR(mdx_rul_rmse(pred, truth, 2), sqrt((100.0 + 169.0) / 2.0)));
    /* late by 10: e^(10/10) - 1; early by 13: e^(13/13) - 1 */
    CHECK(NEAR(mdx_rul_phm08(pred, truth, 2), 2.0 * (exp(1.0) - 1.0)));
    CHECK(NEAR(mdx_rul_phm08(pred, truth, 1), exp(1.0) - 1.0));
}

static const struct mdx_test tests[] = {
    {"features_hand_computed", test_hand_computed},
    {"features_partial_window", test_partial_window},
    {"features_ring_wraps", test_ring_wraps},
    {"features_nan_carried", test_nan_carried},
    {"spec_checks_and_names", test_spec_and_names},
    {"metrics_rmse_phm08", test_metrics},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
