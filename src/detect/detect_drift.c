/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_drift.c - estimator of slow drifts: a medium moving average (about
 * 64 points) away from a very slow one (about 8,000 points), in units of the
 * series' long-horizon spread (its spread around the very slow average,
 * learned over about 30,000 points from values clipped to 2 of that spread
 * or of the baseline's, whichever is larger).
 *
 * Unlike the other estimators its surprise is on a fixed scale and detect.c
 * scores it directly, not against what the series did lately: a ramp of a
 * few thousandths of an sd per point (bearing wear, fouling) grows so slowly
 * that any reference calibrated on the recent past grows with it. The
 * long-horizon spread does not: the slow learning and the clipping let it
 * grow by about a third over the few thousand points a slow ramp takes to
 * stand out (the clip follows the baseline's spread too, so that a series
 * that starts flat still learns its real spread), and a
 * series that wanders by nature has a large long-horizon spread, so its
 * wandering reads as usual.
 */
#include <math.h>

#include "modax/detect.h"

#define A_MEDIUM (1.0 / 64.0)
#define A_SLOW (1.0 / 8192.0)
#define A_SPREAD (1.0 / 32768.0)
#define CLIP 2.0            /* a value feeds the spread clipped to CLIP spreads from the slow average */
#define CLIP_FROM 150       /* points before the clipping: the baseline's spread is forming */
#define READ_FROM 512       /* points before the first reading: the averages are forming */
#define SPREAD_EVERY 64     /* points between refreshes of the spread (it moves slowly); a power of 2 */

struct drift_state {
    double medium, slow;
    double var;             /* long-horizon variance around 'slow' */
    double spread;          /* sqrt(var), floored, refreshed every SPREAD_EVERY points */
    double inv_spread;      /* 1 / spread (0: none yet) */
};

static void drift_init(void *state)
{
    struct drift_state *s = state;

    s->medium = s->slow = 0.0;
    s->var = 0.0;
    s->spread = s->inv_spread = 0.0;
}

static double drift_update(void *state, const struct mdx_detect_input *in)
{
    struct drift_state *s = state;
    double first, dev, limit;

    if (in->n == 0) {
        s->medium = s->slow = in->x;
        return NAN;
    }
    /*
     * Early on each average is the plain mean so far, so the first values
     * don't linger (the division only while it matters).
     */
    first = in->n < 1.0 / A_SPREAD ? 1.0 / (in->n + 1.0) : 0.0;
    s->medium += (first > A_MEDIUM ? first : A_MEDIUM) * (in->x - s->medium);
    s->slow += (first > A_SLOW ? first : A_SLOW) * (in->x - s->slow);
    dev = in->x - s->slow;
    if (in->n >= CLIP_FROM) {
        limit = CLIP * (s->spread > in->sd ? s->spread : in->sd);
        dev = dev > limit ? limit : (dev < -limit ? -limit : dev);
    }
    first = first > A_SPREAD ? first : A_SPREAD;
    s->var = (1.0 - first) * (s->var + first * dev * dev);
    if ((in->n & (SPREAD_EVERY - 1)) == 0) {
        /* A series that has been constant has no spread: the floor keeps it finite. */
        s->spread = sqrt(s->var) + 1e-3 * fabs(s->slow) + 1e-9;
        s->inv_spread = 1.0 / s->spread;
    }
    if (in->n < READ_FROM) {
        return NAN;
    }
    return (s->medium - s->slow) * s->inv_spread;
}

const struct mdx_estimator mdx_estimator_drift = {
    .name = "drift",
    .two_sided = 1,
    .absolute = 1,
    .state_size = sizeof(struct drift_state),
    .init = drift_init,
    .update = drift_update,
};
