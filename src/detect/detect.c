/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect.c - one series' anomaly detector: a shared slow baseline, the
 * table of estimators, their calibration per series, and the score.
 *
 * Per point every estimator reports a surprise in its own units (two-sided
 * ones with a sign; each side is a view of its own). Each view's surprise is
 * divided by a reference learned from this series: the larger of its usual
 * high value (a streaming 99.5th percentile) and its records (the highest
 * surprise before the current block of BLOCK points, fading; a long record
 * counts at LONG_WEIGHT). The largest ratio u is the point's evidence: u > 1
 * means the point is more unusual, in some view, than anything the series
 * did lately. Calibrating every view on the series itself is what lets one
 * global threshold serve a smooth temperature and a bursty count alike.
 * Records are folded in per block, not per point, so that an anomaly that
 * builds up over a few dozen points (a step seen through an average, a
 * sensor going stuck) is compared with the time before it, not with its own
 * previous point.
 *
 * The score maps ln u through a logistic curve. Its upper part (from
 * STRONG_CAP) also needs the surprise to be far above the view's usual high
 * value, not just a new record: the live alert threshold (0.9) then fires on
 * clear anomalies only, and a long stretch of plain noise, which sets a new
 * record now and then, stays below it.
 *
 * The spread estimator is strong-only: it adds only such clear readings (see
 * score_of). The drift estimator is absolute: its surprise, in long-horizon
 * spreads, is scored directly (drift_score), because a slow ramp raises any
 * reference learned from the recent past as fast as it grows.
 *
 * Then comes onset emphasis: an anomaly is news when it starts, so once a
 * score reaches EPISODE_AT, the scores of the next EPISODE_HOLD points are
 * damped unless the evidence clearly grows. One anomaly reads as one alert.
 *
 * Last, the alert point follows the series' pace (alert_scale). The live
 * threshold (0.9) is a budget of false alerts per day, not per point: a
 * series read every 5 minutes has 300 times fewer chances a day to set a
 * chance record than one read every second, so the same 0.9 asks for
 * strong evidence at 1 s and up and for a record of some view from about
 * 5 minutes on (the NAB corpus's pace), log-linearly in between. Scores
 * below SLOW_ALERT_AT are not touched, and nor is any score at 1 s or less.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "modax/detect.h"

#define WARMUP 150           /* points before any score: baseline and calibration are forming */
#define RECORD_FROM 75       /* points before the records start (the first ones are unsettled) */
#define GAP_INTERVALS 10.0   /* a pause this many intervals long is a gap */
#define AFTER_GAP 5          /* points without score after a gap */
#define A_BASE 0.0016        /* slow baseline: about 600 points */
#define A_INTERVAL 0.05
#define CLIP_SD 6.0          /* values feed the baseline clipped to mean +- CLIP_SD sd */
#define TAIL 0.005f          /* a view's surprise exceeds its usual high value this often */
#define Q_FLOOR 0.05f
#define BLOCK 64             /* points between foldings of the block's highest into the records */
#define FADE 0.9995f         /* the record halves in about 1,400 points */
#define FADE_LONG 0.99998f   /* the long record in about 35,000 */
#define LONG_WEIGHT 0.8f     /* a point must reach this share of the long record */
#define SCORE_SLOPE 8.0      /* logistic in ln u: steepness */
#define SCORE_MID 0.27       /* ... and ln u at which the score is 0.5 */
#define SCORE_HALF 8.6711    /* exp(SCORE_SLOPE * SCORE_MID) */
#define STRONG_FROM 0.2      /* a record scoring this much may be strong (strong-only views: STRONG_CAP) */
#define STRONG_CAP 0.6       /* above this a score needs strong evidence */
#define STRONG_ONLY_FROM 0.99 /* ... and what a strong-only view must reach to score at all */
#define STRONG_MID 0.51      /* ln(surprise / usual high) at which strong evidence scores 0.5 */
#define STRONG_HALF 59.145   /* exp(SCORE_SLOPE * STRONG_MID) */
#define DRIFT_ALERT 2.5      /* a drift of this many long-horizon spreads scores 0.9 */
#define DRIFT_REARM 1.25     /* ... once, until it falls back below this many */
#define DRIFT_BEYOND 1.0     /* ... on a point this many baseline sd beyond the baseline */
#define EPISODE_AT 0.2       /* a score from here on opens an episode */
#define EPISODE_HOLD 100     /* points an episode lasts at least */
#define EPISODE_GAIN 0.4     /* within it a new peak must close this share of the gap to 1 */
#define EPISODE_DAMP 0.5     /* other scores within an episode are scaled by this */
#define ALERT_AT 0.9         /* alert.detector_threshold's default: strong evidence at 1 s */
#define SLOW_ALERT_AT 0.515  /* ... what scores as much at SLOW_INTERVAL_MS and slower */
#define FAST_INTERVAL_MS 1000.0
#define SLOW_INTERVAL_MS 300000.0

enum { EST_LEVEL, EST_SPIKE, EST_SHIFT, EST_DRIFT, EST_VARIANCE, EST_RARITY };

/*
 * Each estimator's first view: two per two-sided one (upper, lower), one per
 * one-sided one, none for the absolute drift. mdx_detector_push reads them in
 * this layout, which is what the table's flags say (test_detect checks that
 * the two agree).
 */
enum {
    VIEW_LEVEL = 0,
    VIEW_SPIKE = 2,
    VIEW_SHIFT = 4,
    VIEW_VARIANCE = 6,
    VIEW_RARITY = 8,
};
_Static_assert(VIEW_RARITY + 1 == MDX_VIEWS, "every view has its place");

static const struct mdx_estimator *const estimators[MDX_ESTIMATORS] = {
    [EST_LEVEL] = &mdx_estimator_level,       /* far from the level */
    [EST_SPIKE] = &mdx_estimator_spike,       /* sudden jumps */
    [EST_SHIFT] = &mdx_estimator_shift,       /* a new level */
    [EST_DRIFT] = &mdx_estimator_drift,       /* slow sustained trends */
    [EST_VARIANCE] = &mdx_estimator_variance, /* more (or no) spread */
    [EST_RARITY] = &mdx_estimator_rarity,     /* values the series does not visit */
};

const struct mdx_estimator *const *mdx_estimators(void)
{
    return estimators;
}

/* Where each estimator's state starts in d->est: 8-byte aligned, packed in table order. */
static size_t est_offset[MDX_ESTIMATORS];
static pthread_once_t est_offset_once = PTHREAD_ONCE_INIT;

static void compute_offsets(void)
{
    size_t off = 0;

    for (int i = 0; i < MDX_ESTIMATORS; i++) {
        est_offset[i] = off;
        off += (estimators[i]->state_size + 7) & ~(size_t)7;
    }
}

static void *est_state(struct mdx_detector *d, int i)
{
    return (unsigned char *)d->est + est_offset[i];
}

void mdx_detector_init(struct mdx_detector *d)
{
    pthread_once(&est_offset_once, compute_offsets);
    memset(d, 0, sizeof(*d));
    for (int i = 0; i < MDX_ESTIMATORS; i++) {
        estimators[i]->init(est_state(d, i));
    }
}

/*
 * Interval-normalised time since the last point when it is a gap (1 for any
 * shorter pause); learns the usual interval.
 */
static double step_time(struct mdx_detector *d, int64_t ts_ms)
{
    double delta, dt = 1.0;

    if (d->n > 0 && ts_ms > d->last_ts) {
        delta = (double)(ts_ms - d->last_ts);
        if (d->interval_ms <= 0.0f) {
            d->interval_ms = (float)delta;
        }
        if (delta < GAP_INTERVALS * d->interval_ms) {
            d->interval_ms += (float)(A_INTERVAL * (delta - d->interval_ms));
        } else {
            dt = delta / d->interval_ms; /* only a gap needs its length: no division otherwise */
        }
    }
    if (d->n == 0 || ts_ms > d->last_ts) {
        d->last_ts = ts_ms;
    }
    return dt;
}

static void update_baseline(struct mdx_detector *d, double x, double sd, double sd_raw)
{
    double a = d->n < WARMUP ? 1.0 / (d->n + 1.0) : A_BASE;
    double diff;

    /*
     * An outlier must not drag the baseline along. A series that has been
     * constant has no spread to clip with: its first change is learned as is,
     * or the baseline would never leave the old value.
     */
    if (d->n >= WARMUP && sd_raw > 0.5 * sd) {
        if (x > d->mean + CLIP_SD * sd) {
            x = d->mean + CLIP_SD * sd;
        } else if (x < d->mean - CLIP_SD * sd) {
            x = d->mean - CLIP_SD * sd;
        }
    }
    diff = x - d->mean;
    d->mean += a * diff;
    d->var = (1.0 - a) * (d->var + a * diff * diff);
}

/*
 * The steps of the streaming high quantile at the current point: larger
 * early, so the first few hundred points lay it out. Worked out once per
 * point, not once per view.
 */
struct steps {
    float up, down;           /* factors when exceeded, and otherwise */
    int capped;               /* past the warm-up: never above the record */
    uint32_t n;
};

static struct steps steps_at(uint32_t n)
{
    float eta = n < 100 ? 0.2f : (n < 1000 ? 0.05f : 0.02f);

    return (struct steps){1.0f + eta * (1.0f - TAIL), 1.0f - eta * TAIL, n >= WARMUP, n};
}

/*
 * Streaming high quantile of one view's surprise: up by a step when
 * exceeded, down by a TAIL-sized step otherwise, so it settles where it is
 * exceeded TAIL of the time. Multiplicative steps: any scale, no division.
 * Never above the record, so an unsettled start does not linger.
 */
static inline void calibrate(float *q, float z, float top, const struct steps *st)
{
    float v = *q;

    if (v <= 0.0f) {
        v = z;
    } else {
        v *= z > v ? st->up : st->down;
    }
    if (st->capped && v > top) {
        v = top;
    }
    *q = v > Q_FLOOR ? v : Q_FLOOR;
}

/* What one point reads, over all views. */
struct evidence {
    /*
     * The largest ratio of a surprise to its view's reference, kept as the
     * pair (z, ref) so that no view divides: the ratio is worked out once,
     * at the end of the point, and only when it matters.
     */
    float z, ref;
    float z_usual, ref_usual; /* the same against the usual high value alone (>= z / ref) */
};

#define NO_EVIDENCE {0.0f, 1.0f, 0.0f, 1.0f}
#define Z_MAX 1e18f          /* surprises are capped here: the products of evidence stay finite in float */

/*
 * Reads one view's surprise z (>= 0) against its references, then learns
 * from it. A side of a two-sided estimator learns (and its records fade) only
 * when that side is read.
 */
static inline void read_view(struct mdx_detect_view *v, float z, int strong,
                             const struct steps *st, struct evidence *ev)
{
    float ref = v->q, top = v->top;

    if (ref <= 0.0f) { /* its first reading: nothing to compare with yet */
        calibrate(&v->q, z, z, st);
        return;
    }
    ref = top > ref ? top : ref;
    ref = LONG_WEIGHT * v->top_long > ref ? LONG_WEIGHT * v->top_long : ref;
    if (z * ev->ref > ev->z * ref) {
        ev->z = z;
        ev->ref = ref;
    }
    if (strong && z * ev->ref_usual > ev->z_usual * v->q) {
        ev->z_usual = z;
        ev->ref_usual = v->q;
    }
    calibrate(&v->q, z, top > v->block_top ? top : v->block_top, st);
    v->top = top * FADE;
    v->top_long *= FADE_LONG;
    if (st->n >= RECORD_FROM && z > v->block_top) {
        v->block_top = z;
    }
}

/*
 * One estimator's reading, read by its view (the side of a two-sided one
 * that the sign picks). Called once per estimator with constant arguments,
 * and laid out in place (always_inline: as a call, each set of evidence goes
 * through memory, about 180 instructions more per point).
 */
static inline __attribute__((always_inline)) void read_as(struct mdx_detector *d, int est, int view,
                           const struct mdx_detect_input *in, const struct steps *st,
                           struct evidence *ev)
{
    double z = estimators[est]->update(est_state(d, est), in);

    if (isnan(z)) {
        return; /* no reading yet */
    }
    if (z < 0.0) {
        view++; /* the lower side (the table's one-sided estimators never read below 0) */
        z = -z;
    }
    /* The table's one records-only estimator, by position so that it folds (test_detect checks). */
    read_view(&d->view[view], z < Z_MAX ? (float)z : Z_MAX, est != EST_RARITY, st, ev);
}

/* End of a block: every view's highest of the block joins its records. */
static void fold_records(struct mdx_detector *d)
{
    for (int k = 0; k < MDX_VIEWS; k++) {
        struct mdx_detect_view *v = &d->view[k];

        v->top = v->block_top > v->top ? v->block_top : v->top;
        v->top_long = v->block_top > v->top_long ? v->block_top : v->top_long;
        v->block_top = 0.0f;
    }
}

/*
 * The logistic curve in ln u, 1 / (1 + exp(-SCORE_SLOPE (ln u - mid))), as
 * 1 / (1 + exp(8 mid) / u^8): no logarithm or exponential per point (u > 1;
 * an overflowing u^8 gives 1). 'at_half' is exp(8 mid).
 */
_Static_assert((int)SCORE_SLOPE == 8, "logistic_of_ln() raises u to the 8th power");

static double logistic_of_ln(double u, double at_half)
{
    double u2 = u * u, u4 = u2 * u2, u8 = u4 * u4;

    return 1.0 / (1.0 + at_half / u8);
}

/*
 * The score of one set of views. Ordinary views score from their records
 * (capped at STRONG_CAP without strong evidence). Strong-only views (the
 * spread) score only when clearly anomalous, so that a stuck sensor alerts
 * live while their routine wobbles on real data do not add detections: on
 * NAB they cost about a point as ordinary views.
 */
static double score_of(const struct evidence *ev, int strong_only)
{
    double score, strong;

    if (ev->z <= ev->ref) {
        return 0.0; /* nothing the series has not done lately */
    }
    score = logistic_of_ln((double)ev->z / ev->ref, SCORE_HALF);
    if (score > STRONG_CAP) {
        score = STRONG_CAP;
    }
    if (score >= (strong_only ? STRONG_CAP : STRONG_FROM)) {
        strong = logistic_of_ln((double)ev->z_usual / ev->ref_usual, STRONG_HALF);
        if (strong_only) {
            return strong >= STRONG_ONLY_FROM ? strong : 0.0;
        }
        return strong > STRONG_CAP ? strong : score;
    }
    return strong_only ? 0.0 : score;
}

/*
 * The score of an absolute drift reading (in long-horizon spreads, signed):
 * 0.9 once it has reached DRIFT_ALERT, at the first point that also stands
 * a baseline sd beyond the baseline in the drift's direction; nothing else
 * until the reading has fallen back below DRIFT_REARM. A drift is one clear
 * alert at its onset: a lasting reading must neither keep an episode open (it
 * would damp every other anomaly meanwhile) nor alert again and again. The
 * point it is reported on shows the drift in its value too, which is what a
 * live alert checks (alert.detector_min_change). The onset is not damped by
 * an episode in progress (see mdx_detector_push).
 */
static double drift_score(struct mdx_detector *d, double drift, const struct mdx_detect_input *in)
{
    double beyond = drift > 0.0 ? in->x - in->mean : in->mean - in->x;

    drift = fabs(drift);
    if (drift < DRIFT_REARM) {
        d->drift_raised = 0;
    } else if (drift >= DRIFT_ALERT && !d->drift_raised && beyond >= DRIFT_BEYOND * in->sd) {
        d->drift_raised = 1;
        return 0.9;
    }
    return 0.0;
}

/*
 * Onset emphasis: once a score reaches EPISODE_AT, the episode's later
 * scores are damped for at least EPISODE_HOLD points and until the scores
 * calm down, unless the evidence clearly grows (a new peak closer to 1).
 */
static double episode(struct mdx_detector *d, double score)
{
    if (d->peak <= 0.0f) {
        if (score >= EPISODE_AT) {
            d->peak = (float)score;
            d->hold = EPISODE_HOLD;
        }
        return score;
    }
    if (score > d->peak + EPISODE_GAIN * (1.0 - d->peak)) {
        d->peak = (float)score;
        d->hold = EPISODE_HOLD;
        return score;
    }
    if (d->hold > 0) {
        d->hold--;
    } else if (score < EPISODE_AT) {
        d->peak = 0.0f;
    }
    return score * EPISODE_DAMP;
}

/*
 * Moves the alert point of a slow series: its raw score 'at' (ALERT_AT at
 * FAST_INTERVAL_MS or faster, SLOW_ALERT_AT at SLOW_INTERVAL_MS or slower,
 * log-linear in the interval between) becomes ALERT_AT, linearly on each
 * side down to SLOW_ALERT_AT and up to 1. Monotonic, so the order of scores
 * is kept; called only for scores from SLOW_ALERT_AT on (the log is rare).
 */
static double alert_scale(const struct mdx_detector *d, double score)
{
    double pace, at;

    if (d->interval_ms <= FAST_INTERVAL_MS) {
        return score;
    }
    pace = log(d->interval_ms / FAST_INTERVAL_MS) / log(SLOW_INTERVAL_MS / FAST_INTERVAL_MS);
    at = ALERT_AT - (ALERT_AT - SLOW_ALERT_AT) * (pace < 1.0 ? pace : 1.0);
    if (score < at) {
        return SLOW_ALERT_AT + (score - SLOW_ALERT_AT) * (ALERT_AT - SLOW_ALERT_AT) /
                                   (at - SLOW_ALERT_AT);
    }
    return ALERT_AT + (score - at) * (1.0 - ALERT_AT) / (1.0 - at);
}

double mdx_detector_push(struct mdx_detector *d, int64_t ts_ms, double x)
{
    struct mdx_detect_input in;
    struct evidence ev = NO_EVIDENCE, ev_strong = NO_EVIDENCE;
    double score = 0.0, drift, drift_onset = 0.0;
    struct steps st = steps_at(d->n);

    if (!isfinite(x)) {
        return 0.0;
    }
    in.dt = step_time(d, ts_ms);
    if (in.dt >= GAP_INTERVALS) {
        d->gap_points = 0;
    }
    in.x = x;
    in.n = d->n;
    in.mean = d->n > 0 ? d->mean : x;
    /* The floor keeps a constant series finite: a change of 0.1 % is then one sd. */
    in.sd_raw = sqrt(d->var);
    in.sd = in.sd_raw + 1e-3 * fabs(in.mean) + 1e-9;
    in.inv_sd = 1.0 / in.sd;
    /* In table order; the roles are those of the table's flags (see read_as). */
    read_as(d, EST_LEVEL, VIEW_LEVEL, &in, &st, &ev);
    read_as(d, EST_SPIKE, VIEW_SPIKE, &in, &st, &ev);
    read_as(d, EST_SHIFT, VIEW_SHIFT, &in, &st, &ev);
    drift = estimators[EST_DRIFT]->update(est_state(d, EST_DRIFT), &in);
    drift = isnan(drift) ? 0.0 : drift;
    read_as(d, EST_VARIANCE, VIEW_VARIANCE, &in, &st, &ev_strong);
    read_as(d, EST_RARITY, VIEW_RARITY, &in, &st, &ev);
    if (d->n % BLOCK == BLOCK - 1) {
        fold_records(d);
    }
    update_baseline(d, x, in.sd, in.sd_raw);
    if (d->n >= WARMUP && d->gap_points >= AFTER_GAP) {
        double strong = score_of(&ev_strong, 1);

        score = score_of(&ev, 0);
        score = strong > score ? strong : score;
        drift_onset = drift_score(d, drift, &in);
    }
    if (drift_onset > d->peak && drift_onset >= score) {
        /*
         * A drift is reported once at its onset, also within an episode that
         * has not reached as high: that episode's damping would hide it for
         * good. Within one that did, it has been reported already.
         */
        score = drift_onset; /* it opens an episode, or raises the current one's peak */
        d->peak = (float)score;
        d->hold = EPISODE_HOLD;
    } else {
        score = episode(d, score);
    }
    d->n++;
    if (d->gap_points < AFTER_GAP) {
        d->gap_points++;
    }
    return score >= SLOW_ALERT_AT ? alert_scale(d, score) : score;
}
