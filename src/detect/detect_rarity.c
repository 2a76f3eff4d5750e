/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_rarity.c - estimator of how rarely the series takes this value:
 * a 16-bin histogram with exponential forgetting (about the last 10,000
 * points) over a range that widens when a value falls outside it. The
 * surprise is -ln of the share of recent points in the value's bin: the
 * levels a regular cycle visits are common; a value in a region the series
 * has not visited lately is rare, however the series is distributed.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "modax/detect.h"

#define BINS 16
#define KEEP 0.9999         /* forgetting per point: about the last 10,000 points */
#define WARMUP 20           /* points before the range is laid out */
#define RESCALE_AT 1e20f

struct rarity_state {
    float count[BINS];
    double lo;              /* lower edge of bin 0 */
    double inv_width;       /* 1 / bin width */
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
    s->inv_width = 0.0;
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
        s->lo -= BINS / s->inv_width;
    }
    s->inv_width *= 0.5;
}

/*
 * Natural log to about 0.01: the exponent from the bits, the mantissa by a
 * quadratic. Far cheaper than log() on the per-point path, and exact enough
 * for a surprise that is calibrated per series anyway.
 */
static double quick_ln(double v)
{
    uint64_t bits;
    double m;
    int e;

    memcpy(&bits, &v, sizeof(bits));
    e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    memcpy(&m, &bits, sizeof(m)); /* v = m * 2^e, m in [1, 2) */
    m -= 1.0;
    return (e + m * (1.3465 - 0.3465 * m)) * 0.69314718055994531;
}

static double rarity_update(void *state, const struct mdx_detect_input *in)
{
    struct rarity_state *s = state;
    double pos, surprise = NAN;
    float c;
    int bin, widened = 0;

    if (!s->seeded) {
        if (in->n < WARMUP) {
            return NAN;
        }
        s->inv_width = 2.0 * in->inv_sd;
        s->lo = in->mean - BINS / 2 * (in->sd / 2.0);
        s->seeded = 1;
    }
    pos = (in->x - s->lo) * s->inv_width;
    while ((pos < 0.0 || pos >= BINS) && widened < 64) {
        widen(s, pos < 0.0);
        pos = (in->x - s->lo) * s->inv_width;
        widened++;
    }
    if (pos < 0.0 || pos >= BINS) {
        return NAN; /* beyond any sane range: the level estimator sees it */
    }
    bin = (int)pos;
    if (s->total > 0.0f) {
        c = s->count[bin] > 0.5f * s->inc ? s->count[bin] : 0.5f * s->inc; /* half a point */
        surprise = quick_ln((double)(s->total + s->inc)) - quick_ln((double)c); /* -ln(share), no division */
    }
    s->count[bin] += s->inc;
    s->total += s->inc;
    s->inc *= (float)(1.0 / KEEP);
    if (s->inc > RESCALE_AT) {
        for (int i = 0; i < BINS; i++) {
            s->count[i] /= s->inc;
        }
        s->total /= s->inc;
        s->inc = 1.0f;
    }
    return surprise;
}

const struct mdx_estimator mdx_estimator_rarity = {
    .name = "rarity",
    .two_sided = 0,
    .records_only = 1,
    .state_size = sizeof(struct rarity_state),
    .init = rarity_init,
    .update = rarity_update,
};
