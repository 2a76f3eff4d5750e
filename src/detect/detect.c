/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect.c - one series' anomaly detector: a shared slow baseline, the
 * table of estimators, and the score.
 *
 * Per point: the estimators read the value against the baseline and each
 * reports a severity (0 normal, 1 clearly anomalous for its kind). The
 * strongest, weighted by how rare the value is, is the point's raw
 * severity. The score compares a short average of raw severities with
 * their long-run mean and spread for this series: a series whose raw
 * severities are routinely high (noisy but healthy) needs a much larger
 * excursion to score high than a quiet one. A CUSUM of the raw severity
 * catches small sustained excesses (drifts). Finally the score emphasises
 * onsets: within an episode of high scores only a clearly stronger reading
 * scores high again, so one anomaly reads as one alert, not hundreds of
 * points while the statistics settle.
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "modax/detect.h"

#define WARMUP 30            /* points before any score: the baseline is still forming */
#define GAP_INTERVALS 10.0   /* a pause this many intervals long is a gap */
#define AFTER_GAP 5          /* points without score after a gap */
#define A_BASE 0.002         /* slow baseline: about 500 points */
#define A_INTERVAL 0.05
#define CLIP_SD 4.0          /* values feed the baseline clipped to mean +- CLIP_SD sd */
#define A_RAW 0.0005         /* long-run raw severity statistics: about 2,000 points */
#define A_SHORT 0.5          /* short average of raw severities */
#define RAW_VAR_FLOOR 0.0025
#define RAW_MAX 8.0          /* raw severities are capped here */
#define SCORE_HALF 3.0       /* excess of this many raw sd scores 0.5 */
#define CUSUM_ALLOW 0.15     /* raw severity above the usual by less than this does not add up */
#define CUSUM_MAX 50.0
#define CUSUM_HALF 6.0       /* accumulated excess that scores 0.5 */
#define EPISODE_AT 0.5       /* a score from here on opens an episode */
#define EPISODE_QUIET 12     /* points below EPISODE_AT that close it */
#define EPISODE_GAIN 0.5     /* within an episode a new peak must halve the distance to 1 */
#define EPISODE_DAMP 0.5     /* other scores within an episode are scaled by this */

enum { EST_SPIKE, EST_SHIFT, EST_VARIANCE, EST_DRIFT, EST_RARITY };

static const struct mdx_estimator *const estimators[MDX_ESTIMATORS] = {
    [EST_SPIKE] = &mdx_estimator_spike,       /* one-point excursions */
    [EST_SHIFT] = &mdx_estimator_shift,       /* a new level */
    [EST_VARIANCE] = &mdx_estimator_variance, /* more (or no) spread */
    [EST_DRIFT] = &mdx_estimator_drift,       /* slow sustained trends */
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

/* Interval-normalised time since the last point; learns the usual interval. */
static double step_time(struct mdx_detector *d, int64_t ts_ms)
{
    double delta, dt = 1.0;

    if (d->n > 0 && ts_ms > d->last_ts) {
        delta = (double)(ts_ms - d->last_ts);
        if (d->interval_ms <= 0.0) {
            d->interval_ms = delta;
        }
        dt = delta / d->interval_ms;
        if (dt < GAP_INTERVALS) {
            d->interval_ms += A_INTERVAL * (delta - d->interval_ms);
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
 * Onset emphasis. An anomaly is news when it starts, not for as long as the
 * statistics take to settle: once a score reaches EPISODE_AT, the episode's
 * later scores are damped below it unless the evidence clearly grows (a new
 * peak closer to 1). The episode ends after EPISODE_QUIET calm points.
 */
static double episode(struct mdx_detector *d, double score, double short_score, int growing)
{
    if (d->peak <= 0.0) {
        if (score >= EPISODE_AT) {
            d->peak = score;
            d->quiet = 0;
        }
        return score;
    }
    /*
     * Calm: the short view is low and the accumulated excess no longer grows
     * (it lingers by design after an excursion, and must not reopen one).
     */
    d->quiet = short_score < EPISODE_AT && !growing ? d->quiet + 1 : 0;
    if (d->quiet >= EPISODE_QUIET) {
        d->peak = 0.0;
        d->cusum = 0.0; /* what it had accumulated was reported in the episode */
        return score * EPISODE_DAMP;
    }
    if (score > d->peak + EPISODE_GAIN * (1.0 - d->peak)) {
        d->peak = score;
        return score;
    }
    return score * EPISODE_DAMP;
}

double mdx_detector_push(struct mdx_detector *d, int64_t ts_ms, double x)
{
    struct mdx_detect_input in;
    double sev[MDX_ESTIMATORS], core, raw, z, excess, score = 0.0, short_score = 0.0;
    double cusum_before = d->cusum;

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
    for (int i = 0; i < MDX_ESTIMATORS; i++) {
        sev[i] = estimators[i]->update(est_state(d, i), &in);
    }
    update_baseline(d, x, in.sd, in.sd_raw);

    core = sev[EST_SPIKE];
    for (int i = EST_SHIFT; i <= EST_DRIFT; i++) {
        core = sev[i] > core ? sev[i] : core;
    }
    raw = core * (0.6 + 0.4 * (sev[EST_RARITY] < 1.0 ? sev[EST_RARITY] : 1.0)) +
          0.25 * sev[EST_RARITY];
    raw = raw < RAW_MAX ? raw : RAW_MAX; /* a jump of 1e10 sd is no more news than one of 30 */
    d->raw_short += A_SHORT * (raw - d->raw_short);
    excess = d->raw_short - d->raw_mean;
    /* Squared z of the short view against the usual; its sign is the excess's. */
    z = excess * excess / (d->raw_var + RAW_VAR_FLOOR);
    if (d->n >= WARMUP && d->gap_points >= AFTER_GAP) {
        /* Small but sustained excesses add up: a drift or a shift that the short view misses. */
        d->cusum += raw - d->raw_mean - CUSUM_ALLOW;
        d->cusum = d->cusum < 0.0 ? 0.0 : (d->cusum > CUSUM_MAX ? CUSUM_MAX : d->cusum);
        double c = d->cusum * d->cusum / (d->cusum * d->cusum + CUSUM_HALF * CUSUM_HALF);
        if (excess > 0.0) {
            short_score = z / (z + SCORE_HALF * SCORE_HALF);
        }
        score = c > short_score ? c : short_score;
    }
    /*
     * Long-run statistics of the raw severity, learned from the points
     * themselves, with each point's excess clipped so that an anomaly in
     * progress is not learned as normal within a few points.
     */
    excess = raw - d->raw_mean;
    if (excess > 0.0 && excess * excess > 4.0 * (d->raw_var + RAW_VAR_FLOOR)) {
        excess = 2.0 * sqrt(d->raw_var + RAW_VAR_FLOOR);
    }
    d->raw_mean += A_RAW * excess;
    d->raw_var = (1.0 - A_RAW) * (d->raw_var + A_RAW * excess * excess);
    score = episode(d, score, short_score, d->cusum > cusum_before);
    d->n++;
    if (d->gap_points < AFTER_GAP) {
        d->gap_points++;
    }
    return score;
}
