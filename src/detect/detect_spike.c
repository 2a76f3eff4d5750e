/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_spike.c - estimator of single-point spikes. Two views: distance
 * from the slow baseline in baseline sd, and distance from a short-term
 * prediction (a fast moving average) in sd of its own past errors. The
 * second sees a spike riding on a cycle or a trend that stays within the
 * series' overall range.
 */
#include <math.h>

#include "modax/detect.h"

#define Z_NORMAL 4.0     /* up to here a value is ordinary noise */
#define Z_SPAN 3.0       /* severity 1 at Z_NORMAL + Z_SPAN */
#define A_PREDICT 0.5    /* the prediction follows the last few points */
#define A_ERROR 0.01     /* error variance: about 100 points */
#define CLIP 5.0         /* an error feeds the variance clipped to CLIP sd */
#define LOCAL_GAIN 3.0   /* the local z counts up to this many times the global z */

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
    double dev = (in->x - in->mean) / in->sd;
    double z2 = dev * dev; /* squared z: no square root on the common path */
    double err, err2, floor2, z2_local = 0.0;

    if (!s->seeded || in->dt > 10.0) {
        s->predict = in->x;
        s->err_var = in->sd * in->sd;
        s->seeded = 1;
    } else {
        err = in->x - s->predict;
        err2 = err * err;
        floor2 = s->err_var + 1e-6 * in->sd * in->sd;
        z2_local = err2 / floor2;
        if (err2 > CLIP * CLIP * floor2) {
            err2 = CLIP * CLIP * floor2;
        }
        s->err_var += A_ERROR * (err2 - s->err_var);
        s->predict += A_PREDICT * (in->x - s->predict);
    }
    /*
     * Before 50 points the error variance is forming. The local view may
     * sharpen the global one, not replace it: a sudden step that stays within
     * the series' usual range (a square wave) is not a spike.
     */
    if (z2_local > LOCAL_GAIN * LOCAL_GAIN * z2) {
        z2_local = LOCAL_GAIN * LOCAL_GAIN * z2;
    }
    if (in->n >= 50 && z2_local > z2) {
        z2 = z2_local;
    }
    return z2 > Z_NORMAL * Z_NORMAL ? (sqrt(z2) - Z_NORMAL) / Z_SPAN : 0.0;
}

const struct mdx_estimator mdx_estimator_spike = {
    .name = "spike",
    .state_size = sizeof(struct spike_state),
    .init = spike_init,
    .update = spike_update,
};
