/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_variance.c - estimator of changes in spread: the standard deviation
 * of the last few dozen points against the baseline's, as a ratio either
 * way. A rise (a loosening bearing, a failing sensor) and a collapse (a
 * stuck sensor) both read high; how high is usual for the series is left to
 * the calibration in detect.c. A series that is normally constant has no
 * spread to compare with and gives no reading.
 */
#include <math.h>

#include "modax/detect.h"

#define ALPHA 0.05        /* about 20 points */
#define RATIO_MAX 1e3

struct variance_state {
    double mean;
    double var;
    int seeded;
};

static void variance_init(void *state)
{
    struct variance_state *s = state;

    s->mean = 0.0;
    s->var = 0.0;
    s->seeded = 0;
}

static double variance_update(void *state, const struct mdx_detect_input *in)
{
    struct variance_state *s = state;
    double d, base, ratio;

    if (!s->seeded || in->dt > 10.0) {
        s->mean = in->x;
        s->var = in->sd * in->sd;
        s->seeded = 1;
        return NAN;
    }
    d = in->x - s->mean;
    s->mean += ALPHA * d;
    s->var = (1.0 - ALPHA) * (s->var + ALPHA * d * d);
    if (in->sd_raw <= 0.5 * in->sd) {
        return NAN;
    }
    base = in->sd_raw * in->sd_raw;
    ratio = s->var > base ? s->var / base : base / (s->var + base / (RATIO_MAX * RATIO_MAX));
    return s->var > base ? sqrt(ratio) : -sqrt(ratio); /* up: more spread */
}

const struct mdx_estimator mdx_estimator_variance = {
    .name = "variance",
    .two_sided = 1,
    .strong_only = 1,
    .state_size = sizeof(struct variance_state),
    .init = variance_init,
    .update = variance_update,
};
