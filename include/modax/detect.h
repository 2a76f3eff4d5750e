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
 * A few views of the point (its distance from the level and from a
 * short-term prediction, a new level, a drift, a change of spread, a rare
 * value), each in its own file behind struct mdx_estimator, report how
 * surprising the point is in their own units. detect.c calibrates every
 * view against what this series itself has done lately (a streaming high
 * quantile and a fading record), so the score says how unusual the point is
 * for this series, and it reports each anomaly once, at its onset. The drift
 * view alone is on a fixed scale (the series' long-horizon spread), so that
 * a slow ramp is not learned as normal while it grows.
 */
#ifndef MODAX_DETECT_H
#define MODAX_DETECT_H

#include <stddef.h>
#include <stdint.h>

/* What every estimator sees for one point. */
struct mdx_detect_input {
    double x;                 /* the value */
    double dt;                /* time since the previous point in typical intervals if >= 10 (a gap), else 1 */
    double mean;              /* the series' slow baseline before this point */
    double sd;                /* its standard deviation (floored, > 0) */
    double sd_raw;            /* the same without the floor (0 for a constant series) */
    double inv_sd;            /* 1 / sd: estimators multiply by it rather than divide */
    uint32_t n;               /* points seen before this one */
};

/*
 * An estimator: a named statistic over its own fixed-size state. update()
 * returns the point's surprise in the estimator's own units, larger in
 * magnitude is more unusual, or NAN while it has no reading yet. A two-sided
 * estimator's surprise carries a sign (above or below what it expects), and
 * detect.c calibrates the two sides apart: what is usual upwards for a
 * series (bursts of a count) can be alarming downwards, and the reverse.
 * A one-sided estimator returns surprises >= 0.
 */
struct mdx_estimator {
    const char *name;
    size_t state_size;        /* bytes of state it needs; at most MDX_ESTIMATOR_STATE_MAX */
    int two_sided;            /* its surprise has a sign */
    int strong_only;          /* it only raises scores when far outside its usual (detect.c) */
    int records_only;         /* it raises scores by new records only, never as strong evidence (detect.c) */
    int absolute;             /* its surprise is on a fixed scale: scored directly, not calibrated */
    void (*init)(void *state);
    double (*update)(void *state, const struct mdx_detect_input *in);
};

#define MDX_ESTIMATOR_STATE_MAX 160
#define MDX_ESTIMATORS 6
#define MDX_VIEWS 9                /* calibrated views: two per two-sided estimator, none per absolute one */
#define MDX_DETECTOR_EST_BYTES 200 /* all estimators' states, packed */

extern const struct mdx_estimator mdx_estimator_level;
extern const struct mdx_estimator mdx_estimator_spike;
extern const struct mdx_estimator mdx_estimator_shift;
extern const struct mdx_estimator mdx_estimator_drift;
extern const struct mdx_estimator mdx_estimator_variance;
extern const struct mdx_estimator mdx_estimator_rarity;

struct mdx_detector {
    uint32_t n;               /* points seen */
    uint8_t gap_points;       /* points since the last long gap (saturates) */
    uint8_t drift_raised;     /* the current drift has been reported */
    uint16_t hold;            /* points the current episode lasts at least */
    int64_t last_ts;          /* ms */
    float interval_ms;        /* typical interval between points (EWMA) */
    float peak;               /* highest score of the current episode (0: none) */
    double mean, var;         /* slow baseline */
    struct mdx_detect_view {
        float q;              /* its usual high surprise (99.5th percentile) */
        float top;            /* its record: highest before this block, fading in about 2,000 points */
        float top_long;       /* and fading in about 50,000 */
        float block_top;      /* its highest in the current block, not yet in the records */
    } view[MDX_VIEWS];        /* per calibrated view */
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

/*
 * The detector's state as bytes, to keep it in the store (a worker that
 * takes a Kafka partition over resumes a series' baseline instead of
 * warming up again; detect_state.c). Format MDX_DETECTOR_STATE_VERSION,
 * exactly MDX_DETECTOR_STATE_BYTES long:
 *
 *   0   4  "MDXD"
 *   4   2  format version (little endian)
 *   6   1  byte order of the estimator states: 1 little endian, 2 big endian
 *   7   1  number of estimators (MDX_ESTIMATORS)
 *   8  12  each estimator's state_size, u16 little endian, in table order
 *   20 40  n u32, gap_points u8, drift_raised u8, hold u16, last_ts i64,
 *          interval_ms f32, peak f32, mean f64, var f64 (little endian;
 *          floats as their IEEE 754 bits)
 *   60 144 per calibrated view q, top, top_long, block_top (f32, little endian)
 *   204 200 the estimators' states as they are in memory (host order)
 *
 * The estimators' states are copied as they lie in memory: a blob is read
 * back by a host of the same byte order (every target: x86-64, arm64) with
 * the same estimator layout; the header says both, and a blob that does
 * not match is refused. A change of struct mdx_detector or of any
 * estimator's state must bump the version (detect_state.c checks the size).
 */
#define MDX_DETECTOR_STATE_VERSION 1
#define MDX_DETECTOR_STATE_BYTES 404

/* Writes the state of 'd' into 'out' (MDX_DETECTOR_STATE_BYTES). */
void mdx_detector_save(const struct mdx_detector *d, uint8_t out[MDX_DETECTOR_STATE_BYTES]);
/*
 * Sets 'd' to the state in 'blob' ('len' bytes): MDX_OK, or MDX_EINVAL
 * (and 'd' untouched) for a blob of another size, version, byte order or
 * estimator layout.
 */
int mdx_detector_load(struct mdx_detector *d, const uint8_t *blob, size_t len);

/* Names of the estimators in table order (for reports). */
const struct mdx_estimator *const *mdx_estimators(void);

#endif
