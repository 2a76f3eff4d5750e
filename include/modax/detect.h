/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect.h - the streaming anomaly detector of one series.
 *
 * One detector per (device, sensor). Each point costs O(1) time and the
 * state is a fixed-size struct (MDX_DETECTOR_BYTES, no heap), so a
 * million series cost a known amount of memory. The detector learns what
 * normal looks like for its series, with no per-series configuration, and
 * returns an anomaly score in [0, 1] for every point. Deterministic: the
 * same points give the same scores.
 *
 * It combines a few simple estimators (spike, level shift, variance
 * change, slow drift, rarity of the value), each in its own file behind
 * struct mdx_estimator, over a shared slow baseline; detect.c turns their
 * strongest reading into a score relative to what is usual for the series,
 * so a noisy but healthy series is not alarming.
 */
#ifndef MODAX_DETECT_H
#define MODAX_DETECT_H

#include <stddef.h>
#include <stdint.h>

/* What every estimator sees for one point. */
struct mdx_detect_input {
    double x;                 /* the value */
    double dt;                /* time since the previous point, in typical intervals (1 = usual) */
    double mean;              /* the series' slow baseline before this point */
    double sd;                /* its standard deviation (floored, > 0) */
    double sd_raw;            /* the same without the floor (0 for a constant series) */
    uint32_t n;               /* points seen before this one */
};

/*
 * An estimator: a named statistic over its own fixed-size state. update()
 * returns a severity >= 0: 0 normal, 1 clearly anomalous for its kind.
 */
struct mdx_estimator {
    const char *name;
    size_t state_size;        /* bytes of state it needs; at most MDX_ESTIMATOR_STATE_MAX */
    void (*init)(void *state);
    double (*update)(void *state, const struct mdx_detect_input *in);
};

#define MDX_ESTIMATOR_STATE_MAX 192
#define MDX_ESTIMATORS 5
#define MDX_DETECTOR_EST_BYTES 320 /* all estimators' states, packed */

extern const struct mdx_estimator mdx_estimator_spike;
extern const struct mdx_estimator mdx_estimator_shift;
extern const struct mdx_estimator mdx_estimator_variance;
extern const struct mdx_estimator mdx_estimator_drift;
extern const struct mdx_estimator mdx_estimator_rarity;

struct mdx_detector {
    uint32_t n;               /* points seen */
    uint32_t gap_points;      /* points since the last long gap */
    int64_t last_ts;          /* ms */
    double interval_ms;       /* typical interval between points (EWMA) */
    double mean, var;         /* slow baseline */
    double raw_mean, raw_var; /* what the strongest severity usually is */
    double raw_short;         /* and what it has been lately */
    double cusum;             /* accumulated excess of raw severity (sustained anomalies) */
    double peak;              /* highest score of the current episode (0: none) */
    uint32_t quiet;           /* calm points since the episode's last high score */
    double est[MDX_DETECTOR_EST_BYTES / sizeof(double)]; /* estimator states */
};

#define MDX_DETECTOR_BYTES sizeof(struct mdx_detector)

/* Sets 'd' to a fresh detector. */
void mdx_detector_init(struct mdx_detector *d);

/*
 * Feeds one point and returns its anomaly score in [0, 1]. Non-finite
 * values are ignored (score 0, state unchanged). Timestamps going
 * backwards or repeating are accepted as they come; a gap of many
 * intervals is treated as a restart of the short-term view.
 */
double mdx_detector_push(struct mdx_detector *d, int64_t ts_ms, double x);

/* Names of the estimators in table order (for reports). */
const struct mdx_estimator *const *mdx_estimators(void);

#endif
