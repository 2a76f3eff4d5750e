/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_variance.c - estimator of changes in variance: the spread of the
 * last few dozen points against the baseline's. A rise (a loosening
 * bearing, a failing sensor) counts fully; a collapse (a stuck sensor)
 * counts only when the spread nearly vanishes, since calm phases of
 * normal cycles look similar.
 */
#include "modax/detect.h"

#define ALPHA 0.05        /* about 20 points */
#define RISE_NORMAL 4.0   /* variance ratio up to here is normal */
#define RISE_SPAN 8.0
#define FALL_LIMIT 0.01   /* below this ratio the series has (almost) stopped moving */

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
    double d, ratio;

    if (!s->seeded || in->dt > 10.0) {
        s->mean = in->x;
        s->var = in->sd * in->sd;
        s->seeded = 1;
        return 0.0;
    }
    d = in->x - s->mean;
    s->mean += ALPHA * d;
    s->var = (1.0 - ALPHA) * (s->var + ALPHA * d * d);
    ratio = s->var / (in->sd * in->sd);
    if (ratio > RISE_NORMAL) {
        return (ratio - RISE_NORMAL) / RISE_SPAN;
    }
    /* A series that is normally constant is not "stuck" when it stays constant. */
    if (ratio < FALL_LIMIT && in->n > 200 && in->sd_raw > 0.5 * in->sd) {
        return ratio < FALL_LIMIT / 10.0 ? 1.0 : 0.5 * (FALL_LIMIT - ratio) / FALL_LIMIT;
    }
    return 0.0;
}

const struct mdx_estimator mdx_estimator_variance = {
    .name = "variance",
    .state_size = sizeof(struct variance_state),
    .init = variance_init,
    .update = variance_update,
};
