/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_rarity.c - estimator of how rarely the series takes this value:
 * a 32-bin histogram with exponential forgetting (about the last 1,000
 * points) over a range that widens when a value falls outside it. The
 * levels a regular cycle visits are common and score nothing; a value in
 * a region the series has not visited lately scores high.
 */
#include "modax/detect.h"

#define BINS 32
#define KEEP 0.999          /* forgetting per point */
#define WARMUP 20           /* points before the range is laid out */
#define RESCALE_AT 1e20f

struct rarity_state {
    float count[BINS];
    double lo;              /* lower edge of bin 0 */
    double width;           /* bin width */
    float inc;              /* weight of the next point (grows instead of decaying all bins) */
    float total;
    int seeded;
};

static void rarity_init(void *state)
{
    struct rarity_state *s = state;

    for (int i = 0; i < BINS; i++) {
        s->count[i] = 0.0f;
    }
    s->lo = 0.0;
    s->width = 0.0;
    s->inc = 1.0f;
    s->total = 0.0f;
    s->seeded = 0;
}

/* Doubles the bin width, keeping the range's lower edge (grow up) or upper edge (grow down). */
static void widen(struct rarity_state *s, int down)
{
    float merged[BINS] = {0};

    for (int i = 0; i < BINS; i++) {
        int to = down ? BINS / 2 + i / 2 : i / 2;
        merged[to] += s->count[i];
    }
    for (int i = 0; i < BINS; i++) {
        s->count[i] = merged[i];
    }
    if (down) {
        s->lo -= BINS * s->width;
    }
    s->width *= 2.0;
}

static double rarity_update(void *state, const struct mdx_detect_input *in)
{
    struct rarity_state *s = state;
    double pos, p, severity = 0.0;
    int bin, widened = 0;

    if (!s->seeded) {
        if (in->n < WARMUP) {
            return 0.0;
        }
        s->width = in->sd / 2.0;
        s->lo = in->mean - BINS / 2 * s->width;
        s->seeded = 1;
    }
    pos = (in->x - s->lo) / s->width;
    while ((pos < 0.0 || pos >= BINS) && widened < 64) {
        widen(s, pos < 0.0);
        pos = (in->x - s->lo) / s->width;
        widened++;
    }
    if (pos < 0.0 || pos >= BINS) {
        return 1.0; /* beyond any sane range */
    }
    bin = (int)pos;
    if (s->total > 0.0f) {
        p = s->count[bin] / s->total;
        if (widened > 0 || p < 0.0005) {
            severity = 1.0;
        } else if (p < 0.002) {
            severity = 0.6;
        } else if (p < 0.01) {
            severity = 0.25;
        }
    }
    s->count[bin] += s->inc;
    s->total += s->inc;
    s->inc /= (float)KEEP;
    if (s->inc > RESCALE_AT) {
        for (int i = 0; i < BINS; i++) {
            s->count[i] /= s->inc;
        }
        s->total /= s->inc;
        s->inc = 1.0f;
    }
    return severity;
}

const struct mdx_estimator mdx_estimator_rarity = {
    .name = "rarity",
    .state_size = sizeof(struct rarity_state),
    .init = rarity_init,
    .update = rarity_update,
};
