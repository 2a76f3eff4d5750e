/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_shift.c - estimator of level shifts: a fast moving average that
 * settles away from the slow baseline. A single spike moves it little; a
 * new level moves it all the way within about ten points.
 */
#include <math.h>

#include "modax/detect.h"

#define ALPHA 0.15   /* fast average: about 7 points */
#define D_NORMAL 1.5 /* fast average within this many sd of the baseline is normal */
#define D_SPAN 1.5

struct shift_state {
    double fast;
    int seeded;
};

static void shift_init(void *state)
{
    struct shift_state *s = state;

    s->fast = 0.0;
    s->seeded = 0;
}

static double shift_update(void *state, const struct mdx_detect_input *in)
{
    struct shift_state *s = state;
    double d;

    if (!s->seeded || in->dt > 10.0) {
        s->fast = in->x; /* first point, or back after a long gap */
        s->seeded = 1;
        return 0.0;
    }
    s->fast += ALPHA * (in->x - s->fast);
    d = fabs(s->fast - in->mean) / in->sd;
    return d > D_NORMAL ? (d - D_NORMAL) / D_SPAN : 0.0;
}

const struct mdx_estimator mdx_estimator_shift = {
    .name = "shift",
    .state_size = sizeof(struct shift_state),
    .init = shift_init,
    .update = shift_update,
};
