/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_spike.c - estimator of sudden jumps: the distance of the value from
 * a short-term prediction (a fast moving average) in units of the
 * prediction's own past errors. It sees a spike riding on a cycle or a trend
 * that stays within the series' overall range, and the first point of a step.
 */
#include <math.h>

#include "modax/detect.h"

#define A_PREDICT 0.7    /* the prediction follows the last two or three points */
#define A_ERROR 0.01     /* error variance: about 100 points */
#define CLIP 4.0         /* an error feeds the variance clipped to CLIP of its sd */

struct spike_state {
    double predict;
    double err_var;
    int seeded;
};

static void spike_init(void *state)
{
    struct spike_state *s = state;

    s->predict = 0.0;
    s->err_var = 0.0;
    s->seeded = 0;
}

static double spike_update(void *state, const struct mdx_detect_input *in)
{
    struct spike_state *s = state;
    double err, err2, var, z2;

    if (!s->seeded || in->dt > 10.0) {
        s->predict = in->x;
        s->err_var = in->sd * in->sd;
        s->seeded = 1;
        return NAN; /* no prediction to compare with */
    }
    err = in->x - s->predict;
    err2 = err * err;
    /* The floor keeps a series that moves in rare steps finite. */
    var = s->err_var + 1e-4 * in->sd * in->sd;
    z2 = err2 / var;
    if (z2 > CLIP * CLIP) {
        err2 = CLIP * CLIP * var;
    }
    s->err_var += A_ERROR * (err2 - s->err_var);
    s->predict += A_PREDICT * (in->x - s->predict);
    return err >= 0.0 ? sqrt(z2) : -sqrt(z2);
}

const struct mdx_estimator mdx_estimator_spike = {
    .name = "spike",
    .two_sided = 1,
    .state_size = sizeof(struct spike_state),
    .init = spike_init,
    .update = spike_update,
};
