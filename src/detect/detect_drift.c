/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_drift.c - estimator of slow drifts: a medium moving average (about
 * 64 points) against a very slow one (about 4,000 points), in baseline sd.
 * The shared baseline (about 500 points) follows a slow trend closely
 * enough to hide it from the other estimators; the very slow average does
 * not, and noise averages out over 64 points, so a lasting trend stands out.
 */
#include <math.h>

#include "modax/detect.h"

#define A_MEDIUM (1.0 / 64.0)
#define A_SLOW (1.0 / 4096.0)

struct drift_state {
    double medium, slow;
    int seeded;
};

static void drift_init(void *state)
{
    struct drift_state *s = state;

    s->medium = s->slow = 0.0;
    s->seeded = 0;
}

static double drift_update(void *state, const struct mdx_detect_input *in)
{
    struct drift_state *s = state;
    double first, a;

    if (!s->seeded) {
        s->medium = s->slow = in->x;
        s->seeded = 1;
        return NAN;
    }
    /* Early on each average is the plain mean so far, so the first values don't linger. */
    first = 1.0 / (in->n + 1.0);
    a = first > A_MEDIUM ? first : A_MEDIUM;
    s->medium += a * (in->x - s->medium);
    a = first > A_SLOW ? first : A_SLOW;
    s->slow += a * (in->x - s->slow);
    return (s->medium - s->slow) / in->sd;
}

const struct mdx_estimator mdx_estimator_drift = {
    .name = "drift",
    .two_sided = 1,
    .strong_only = 1,
    .state_size = sizeof(struct drift_state),
    .init = drift_init,
    .update = drift_update,
};
