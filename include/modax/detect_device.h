/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_device.h - the streaming anomaly detector of one device over all
 * of its sensors at once (issue 15).
 *
 * A machine's sensors move together: motor currents, vibration and
 * temperatures follow the load. A fault often shows first as a broken
 * relation between them while each sensor alone stays in its usual range,
 * which the per-sensor detector (detect.h) cannot see. This detector
 * learns the sensors' joint behaviour online and scores how far each
 * reading (one value per sensor) is from it:
 *
 *   - each sensor is standardised by its own slow baseline;
 *   - an exponentially weighted correlation matrix of the standardised
 *     values is learned, shrunk towards the identity, and its inverse is
 *     refreshed every MDX_DEVICE_REFRESH readings (Cholesky; more often
 *     during the first 1,000);
 *   - the reading's Mahalanobis distance D^2 = z' R^-1 z (Hotelling's T^2
 *     over all components) measures how unusual the reading is jointly,
 *     and (R^-1 z)_j^2 / (R^-1)_jj is the squared residual of sensor j
 *     given all the others (what the others predict it to be): the sensors
 *     with the largest residuals are the ones that broke the relation;
 *   - D^2 / sensors is averaged over three window lengths (1, ~5 and ~50
 *     readings); each average is compared with what is usual for it on
 *     this device (learned online, anomalies clipped out), and the
 *     strongest excess becomes a score in [0, 1] on the same scale as the
 *     per-sensor detector's: 0.5 at 3 usual standard deviations above
 *     normal, 0.9 at 9. Each sensor's recent residual (~10 readings) is
 *     compared the same way, a little stricter (0.9 at 12): one relation
 *     that loosens shows there before it moves the whole distance;
 *   - readings far from the model teach it less, and while the score is
 *     0.5 or more the model learns ten times slower: a fault that lasts is
 *     not learned as normal within hours; a lasting change of the machine
 *     is, within about 100,000 readings;
 *   - an operating change (a new speed or load: many sensors' levels move
 *     at once, in the direction the learned relations expect) is told
 *     from a fault: while it settles, the baselines follow the new levels
 *     fast and a score needs twice the usual excess, so that a sensor that
 *     follows the load only after minutes (a temperature) is not read as
 *     a broken relation;
 *   - the device stopping (every sensor's reading-to-reading change falls
 *     below an eighth of its usual) is a channel of its own: it is an
 *     operating change too, but not a normal one.
 *
 * Fixed size, no heap: MDX_DEVICE_DETECTOR_BYTES (3,344 bytes) for up to
 * MDX_DEVICE_SENSORS_MAX sensors. O(sensors^2) time per reading, plus an
 * O(sensors^3) refresh every MDX_DEVICE_REFRESH readings (amortised
 * O(sensors^2) for sensors <= MDX_DEVICE_REFRESH). Causal and
 * deterministic: the same readings give the same scores.
 */
#ifndef MODAX_DETECT_DEVICE_H
#define MODAX_DETECT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#define MDX_DEVICE_SENSORS_MAX 16  /* sensors of one device the detector can model */
#define MDX_DEVICE_PACKED (MDX_DEVICE_SENSORS_MAX * (MDX_DEVICE_SENSORS_MAX + 1) / 2)
#define MDX_DEVICE_WINDOWS 3       /* averaging windows of the joint statistic */
#define MDX_DEVICE_REFRESH 32      /* readings between refreshes of the inverse */
#define MDX_DEVICE_WARMUP 250      /* readings before the first non-zero score */

struct mdx_device_detector {
    uint32_t sensors;                          /* sensors per reading, 2..MDX_DEVICE_SENSORS_MAX */
    uint32_t n;                                /* readings learned from (saturates) */
    uint32_t cal_n;                            /* readings the calibration has seen */
    uint32_t since_refresh;                    /* readings since the inverse was refreshed */
    uint32_t settling;                         /* readings left of an operating change */
    int have_inverse;                          /* 'prec' holds an inverse */
    double mean[MDX_DEVICE_SENSORS_MAX];       /* slow baseline of each sensor */
    double var[MDX_DEVICE_SENSORS_MAX];
    double cov[MDX_DEVICE_PACKED];             /* E[z z'] of standardised values, packed lower */
    double prec[MDX_DEVICE_PACKED];            /* inverse of the shrunk correlation, packed */
    double contrib[MDX_DEVICE_SENSORS_MAX];    /* recent squared residual of each sensor */
    double win[MDX_DEVICE_WINDOWS];            /* D^2 / sensors averaged over each window */
    double cal_mean[MDX_DEVICE_WINDOWS];       /* what each window's average usually is */
    double cal_var[MDX_DEVICE_WINDOWS];
    double res_mean[MDX_DEVICE_SENSORS_MAX];   /* what each sensor's recent residual usually is */
    double res_var[MDX_DEVICE_SENSORS_MAX];
    double d2;                                 /* D^2 of the last reading */
    double score;                              /* score of the last reading */
    /* Operating changes (device.c, "operating changes"): */
    double level_fast[MDX_DEVICE_SENSORS_MAX]; /* each sensor's raw value, ~64 readings */
    double level_slow[MDX_DEVICE_SENSORS_MAX]; /* the same, ~512 readings */
    double change_mean, change_var;            /* what the level change usually is */
    /* Activity (device.c, "the device stops"): */
    double prev_z[MDX_DEVICE_SENSORS_MAX];     /* the last reading, standardised */
    double activity_fast;                      /* reading-to-reading change, ~32 readings */
    double activity_usual;                     /* the same, ~2,000 readings */
};

#define MDX_DEVICE_DETECTOR_BYTES sizeof(struct mdx_device_detector)

/*
 * Sets 'd' to a fresh detector of readings of 'sensors' values.
 * MDX_EINVAL (d unchanged) unless 2 <= sensors <= MDX_DEVICE_SENSORS_MAX.
 */
int mdx_device_detector_init(struct mdx_device_detector *d, size_t sensors);

/*
 * Feeds one reading: x[0 .. sensors-1], one value per sensor in a fixed
 * order. Returns its anomaly score in [0, 1]; 0 during the warm-up
 * (MDX_DEVICE_WARMUP readings). A reading with a non-finite value is
 * ignored (score 0, state unchanged): which sensor it would have been is
 * unknown. Values beyond +-1e15 count as +-1e15.
 */
double mdx_device_detector_push(struct mdx_device_detector *d, const double *x);

/*
 * The sensors that contributed most to the recent scores: writes up to
 * 'k' sensor indexes to 'idx', largest contribution first, and their
 * shares of the total (0..1) to 'share' (may be NULL). Returns how many
 * were written (0 before the first score).
 */
size_t mdx_device_detector_top(const struct mdx_device_detector *d, size_t *idx, double *share,
                               size_t k);

#endif
