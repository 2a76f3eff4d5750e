/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_shift.c - estimator of level shifts: a fast moving average (about
 * 8 points) away from the slow baseline, in baseline sd. A single spike
 * moves it little; a new level moves it all the way within a few points.
 */
#include <math.h>

#include "modax/detect.h"

#define ALPHA 0.125

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

    if (!s->seeded || in->dt > 10.0) {
        s->fast = in->x; /* first point, or back after a long gap */
        s->seeded = 1;
        return NAN;
    }
    s->fast += ALPHA * (in->x - s->fast);
    return (s->fast - in->mean) * in->inv_sd;
}

const struct mdx_estimator mdx_estimator_shift = {
    .name = "shift",
    .two_sided = 1,
    .state_size = sizeof(struct shift_state),
    .init = shift_init,
    .update = shift_update,
};
