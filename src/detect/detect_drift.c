/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_drift.c - estimator of slow drifts: three moving averages with
 * horizons of about 50, 500 and 5,000 points. A sustained trend puts them
 * in order (fast > medium > slow or the reverse) and pulls the fast one
 * away from the slow one; noise and cycles do neither for long.
 */
#include <math.h>

#include "modax/detect.h"

#define A_FAST 0.02
#define A_MEDIUM 0.002
#define A_SLOW 0.0002
#define D_NORMAL 2.0 /* fast-to-slow distance, in sd, that is still normal */
#define D_SPAN 2.0

struct drift_state {
    double fast, medium, slow;
    int seeded;
};

static void drift_init(void *state)
{
    struct drift_state *s = state;

    s->fast = s->medium = s->slow = 0.0;
    s->seeded = 0;
}

static double drift_update(void *state, const struct mdx_detect_input *in)
{
    struct drift_state *s = state;
    double d;

    if (!s->seeded) {
        s->fast = s->medium = s->slow = in->x;
        s->seeded = 1;
        return 0.0;
    }
    /* Early on each average is the plain mean so far, so the first values don't linger. */
    {
        double first = 1.0 / (in->n + 1.0);
        s->fast += (first > A_FAST ? first : A_FAST) * (in->x - s->fast);
        s->medium += (first > A_MEDIUM ? first : A_MEDIUM) * (in->x - s->medium);
        s->slow += (first > A_SLOW ? first : A_SLOW) * (in->x - s->slow);
    }
    if (in->n < 500) {
        return 0.0; /* the slow average has not seen enough yet */
    }
    if (!((s->fast > s->medium && s->medium > s->slow) ||
          (s->fast < s->medium && s->medium < s->slow))) {
        return 0.0;
    }
    d = fabs(s->fast - s->slow) / in->sd;
    return d > D_NORMAL ? (d - D_NORMAL) / D_SPAN : 0.0;
}

const struct mdx_estimator mdx_estimator_drift = {
    .name = "drift",
    .state_size = sizeof(struct drift_state),
    .init = drift_init,
    .update = drift_update,
};
