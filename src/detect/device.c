/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device.c - the device-level detector (detect_device.h): the joint
 * behaviour of a device's sensors, learned online, and how far each
 * reading is from it (Mahalanobis distance over the shrunk correlation of
 * the standardised sensors), with the sensors that broke the relation.
 *
 * The per-sensor detector (detect.c) stays the judge of one series; this
 * one only adds what needs several: a reading can be unusual as a whole
 * while each of its values is usual on its own.
 *
 * Operating changes. A new speed or load moves many sensors' levels at
 * once; a sensor that follows the load only through a lag (a temperature,
 * minutes behind the current) then stands far from the relation the model
 * learned at the old, steady level, a transient the model has never seen.
 * Such a change is recognised at its start: the sensors' levels (a ~64-
 * reading average against a ~512-reading one) move well beyond their
 * usual wander, many of them together (each sensor's move counts up to
 * twice the median sensor's), and along the learned relations (the move's
 * Mahalanobis length is small against its plain length: the sensors that
 * usually rise together rose together). While it settles (as long as the
 * levels keep moving, and SETTLE_HOLD readings after), the baselines
 * follow the new levels fast (their spread is kept) and a score needs
 * SETTLE_RAISE times the usual excess. A fault that breaks a relation
 * (one sensor, or some sensors without the ones they move with) is not
 * such a change.
 *
 * The device stops. An emergency stop is an operating change too, and
 * one the relations explain: everything falls together. What gives it
 * away is that the machine stops moving: the readings' change from one to
 * the next (standardised, over all sensors, ~32 readings) falls to a
 * small share of what is usual (~2,000 readings). A channel of its own
 * scores that share: 0 from a quarter, 0.9 at an eighth. A machine that
 * runs slower keeps moving (at half speed about 0.3 of usual).
 */
#include <math.h>
#include <string.h>

#include "modax/detect_device.h"
#include "modax/status.h"

#define VALUE_MAX 1e15     /* values are clamped to +-VALUE_MAX: their squares stay finite */
#define A_BASE 0.0001      /* per-sensor baselines: about 10,000 readings */
#define BASE_WARMUP 30     /* readings that set the baselines before anything else */
#define CLIP_SD 4.0        /* values feed their baseline clipped to mean +- CLIP_SD sd */
#define Z_MAX 12.0         /* standardised values are capped here (one broken sensor is news,
                              its size beyond this is not) */
#define A_COV 0.0001       /* correlation: about 10,000 readings; a relation that drifts
                              away within hours is not learned as normal */
#define COV_FIRST 80       /* readings before the first inverse */
#define EARLY 1000         /* while the model is young, its inverse is refreshed ... */
#define EARLY_REFRESH 8    /* ... this often */
#define SHRINK 0.002       /* correlation shrunk this far towards the identity */
#define ROBUST 3.0         /* readings with D^2 above ROBUST * sensors teach the model less */
#define EPISODE_AT 0.5     /* from this score on an anomaly is in progress ... */
#define EPISODE_LEARN 0.1  /* ... and the model learns this much slower: a fault lasting hours
                              is not learned as normal; a lasting change of the machine is, in
                              about 100,000 readings (a day at 1 Hz) */
#define CAL_WARMUP (MDX_DEVICE_WARMUP - COV_FIRST) /* calibration readings before scores */
#define A_CAL 0.0005       /* what is usual for each window: about 2,000 readings */
#define CAL_FLOOR 0.05     /* a window's usual spread is at least this share of its level */
#define SCORE_HALF 3.0     /* an excess of this many usual sd scores 0.5 (as detect.c) */
#define RES_HALF 4.0       /* the same for one sensor's residual: stricter, as there are
                              as many of them as sensors (0.9 at 12 usual sd) */
#define A_CONTRIB 0.1      /* recent residuals per sensor, for the report */
#define A_LEVEL_FAST (1.0 / 64.0)   /* a sensor's current level: averages over load cycles */
#define A_LEVEL_SLOW (1.0 / 512.0)  /* ... and its level before a change */
#define A_CHANGE 0.0005    /* what the level change usually is: about 2,000 readings */
#define CHANGE_MIN 0.02    /* an operating change moves the levels at least this far (mean
                              squared, in baseline sd) ... */
#define CHANGE_SD 3.0      /* ... and this many usual sd beyond their usual wander (cube root) */
#define CHANGE_SHARED 2.0  /* ... counting each sensor's move up to this many times the median
                              sensor's (a sensor that moves alone, or far more, as one that lags
                              with a large gain does, cannot make a change on its own) ... */
#define CHANGE_ALONG 0.4   /* ... and along the learned relations: Mahalanobis length at most
                              this share of the plain length */
#define SETTLE_HOLD 300    /* readings an operating change settles after the levels stop */
#define SETTLE_BASE (1.0 / 256.0) /* baselines follow the new levels at this rate meanwhile */
#define SETTLE_RAISE 2.0   /* ... and a score needs this many times the usual excess */
#define A_ACT_FAST 0.03    /* activity (reading-to-reading change): ~32 readings */
#define A_ACT_USUAL 0.0005 /* ... what it usually is: about 2,000 readings */
#define ACT_SETTLED 1000   /* readings before the usual activity resists a stop */
#define STOP_FROM 4.0      /* activity below a STOP_FROM-th of usual starts to score ... */
#define STOP_AT 8.0        /* ... and scores 0.9 at a STOP_AT-th */

/* Averaging weight of each window of D^2 / sensors: one reading, ~5, ~50. */
static const double window_weight[MDX_DEVICE_WINDOWS] = {1.0, 0.2, 0.02};

static size_t tri(size_t i, size_t j)
{
    return i >= j ? i * (i + 1) / 2 + j : j * (j + 1) / 2 + i;
}

int mdx_device_detector_init(struct mdx_device_detector *d, size_t sensors)
{
    if (sensors < 2 || sensors > MDX_DEVICE_SENSORS_MAX) {
        return MDX_EINVAL;
    }
    memset(d, 0, sizeof(*d));
    d->sensors = (uint32_t)sensors;
    for (size_t i = 0; i < sensors; i++) {
        d->cov[tri(i, i)] = 1.0;
    }
    return MDX_OK;
}

/* Standard deviation of sensor i's baseline, floored so that a constant sensor stays finite. */
static double sensor_sd(const struct mdx_device_detector *d, size_t i)
{
    return sqrt(d->var[i]) + 1e-3 * fabs(d->mean[i]) + 1e-9;
}

static double running(uint32_t n, double a)
{
    /* A plain average until it holds about 1 / a values, then exponential forgetting. */
    return 1.0 / (n + 1.0) > a ? 1.0 / (n + 1.0) : a;
}

static void update_baselines(struct mdx_device_detector *d, const double *x)
{
    double a = running(d->n, A_BASE) * (d->score >= EPISODE_AT ? EPISODE_LEARN : 1.0);

    if (d->settling > 0) {
        /* An operating change: the new levels are normal; the spread around them is not new. */
        for (size_t i = 0; i < d->sensors; i++) {
            d->mean[i] += SETTLE_BASE * (x[i] - d->mean[i]);
        }
        return;
    }

    for (size_t i = 0; i < d->sensors; i++) {
        double v = x[i], sd = sensor_sd(d, i), diff;

        /* An excursion must not drag the baseline along (a constant sensor learns as is). */
        if (d->n >= BASE_WARMUP && sqrt(d->var[i]) > 0.5 * sd) {
            v = v > d->mean[i] + CLIP_SD * sd ? d->mean[i] + CLIP_SD * sd : v;
            v = v < d->mean[i] - CLIP_SD * sd ? d->mean[i] - CLIP_SD * sd : v;
        }
        diff = v - d->mean[i];
        d->mean[i] += a * diff;
        d->var[i] = (1.0 - a) * (d->var[i] + a * diff * diff);
    }
}

/*
 * prec = inverse of (1 - SHRINK) * corr(cov) + SHRINK * I, by Cholesky.
 * Shrinking keeps it well conditioned (sensors that are copies of each
 * other, a constant sensor: the smallest eigenvalue stays >= SHRINK) and
 * bounds how much a perfectly learned relation can amplify a small
 * deviation. O(sensors^3).
 */
static void refresh_inverse(struct mdx_device_detector *d)
{
    size_t s = d->sensors;
    double l[MDX_DEVICE_SENSORS_MAX][MDX_DEVICE_SENSORS_MAX];
    double inv_sd[MDX_DEVICE_SENSORS_MAX];

    for (size_t i = 0; i < s; i++) {
        double c = d->cov[tri(i, i)];
        inv_sd[i] = c > 1e-12 ? 1.0 / sqrt(c) : 0.0;
    }
    /* Cholesky of the shrunk correlation, in place in l (lower triangle). */
    for (size_t j = 0; j < s; j++) {
        for (size_t i = j; i < s; i++) {
            double v = i == j ? 1.0
                              : (1.0 - SHRINK) * d->cov[tri(i, j)] * inv_sd[i] * inv_sd[j];
            for (size_t k = 0; k < j; k++) {
                v -= l[i][k] * l[j][k];
            }
            if (i == j) {
                /* Positive by the shrinkage; the floor only guards rounding. */
                l[j][j] = sqrt(v > SHRINK * 1e-3 ? v : SHRINK * 1e-3);
            } else {
                l[i][j] = v / l[j][j];
            }
        }
    }
    /* Inverse of L (lower), then prec = L^-T L^-1. */
    for (size_t j = 0; j < s; j++) {
        l[j][j] = 1.0 / l[j][j];
        for (size_t i = j + 1; i < s; i++) {
            double v = 0.0;
            for (size_t k = j; k < i; k++) {
                v -= l[i][k] * l[k][j];
            }
            l[i][j] = v / l[i][i];
        }
    }
    for (size_t i = 0; i < s; i++) {
        for (size_t j = 0; j <= i; j++) {
            double v = 0.0;
            for (size_t k = i; k < s; k++) {
                v += l[k][i] * l[k][j];
            }
            d->prec[tri(i, j)] = v;
        }
    }
    d->have_inverse = 1;
    d->since_refresh = 0;
}

/* Learns the reading's standardised values 'z' into the correlation, with weight 'w'. */
static void update_cov(struct mdx_device_detector *d, const double *z, double w)
{
    double a = running(d->n - BASE_WARMUP, A_COV) * w;

    for (size_t i = 0; i < d->sensors; i++) {
        for (size_t j = 0; j <= i; j++) {
            double *c = &d->cov[tri(i, j)];
            *c += a * (z[i] * z[j] - *c);
        }
    }
}

/*
 * The score of statistic 'v' against what is usual for it (*mean, *var of
 * its cube root: averages of chi-square-like values become nearly normal,
 * Wilson-Hilferty); then learns what is usual with weight 'a'. Scores only
 * once 'warm'.
 */
static double excess_score(double v, double *mean, double *var_, int warm, double a,
                           double half)
{
    double floor = CAL_FLOOR * *mean;
    double var = *var_ + floor * floor + 1e-12;
    double excess = cbrt(v) - *mean, score = 0.0;

    if (warm && excess > 0.0) {
        double e = excess * excess / var;
        score = e / (e + half * half);
    }
    /* An anomaly in progress must not become usual within a few readings. */
    if (warm && excess > 2.0 * sqrt(var)) {
        excess = 2.0 * sqrt(var);
    }
    *mean += a * excess;
    *var_ = (1.0 - a) * (*var_ + a * excess * excess);
    return score;
}

/* How far the device has stopped moving: 0 at a STOP_FROM-th of its usual activity, 0.9 at a
 * STOP_AT-th (and the activity is below the first). */
static double stop_score(const struct mdx_device_detector *d)
{
    double u = log(d->activity_usual / (d->activity_fast + 1e-300));
    double f = (u - log(STOP_FROM)) / (log(STOP_AT) - log(STOP_FROM));
    double v = 9.0 * f * f;

    return v / (v + 1.0);
}

/*
 * Follows how much the device moves from one reading to the next: the
 * mean squared change of the standardised values 'z', recent and usual
 * (a stop, or an anomaly in progress, is not learned as usual quickly).
 */
static void update_activity(struct mdx_device_detector *d, const double *z)
{
    size_t s = d->sensors;
    double step = 0.0, a, fast;

    if (d->n >= COV_FIRST) {
        for (size_t i = 0; i < s; i++) {
            step += (z[i] - d->prev_z[i]) * (z[i] - d->prev_z[i]);
        }
        step /= (double)s;
        d->activity_fast += running(d->n - COV_FIRST, A_ACT_FAST) * (step - d->activity_fast);
        fast = d->activity_fast;
        if (d->n >= ACT_SETTLED && fast < 0.5 * d->activity_usual) {
            fast = 0.5 * d->activity_usual;
        }
        a = running(d->n - COV_FIRST, A_ACT_USUAL) * (d->score >= EPISODE_AT ? EPISODE_LEARN : 1.0);
        d->activity_usual += a * (fast - d->activity_usual);
    }
    memcpy(d->prev_z, z, s * sizeof(*z));
}

/* The median of |v[0 .. s-1]|. */
static double median_abs(const double *v, size_t s)
{
    double a[MDX_DEVICE_SENSORS_MAX];

    for (size_t i = 0; i < s; i++) {
        double x = fabs(v[i]);
        size_t j = i;

        for (; j > 0 && a[j - 1] > x; j--) {
            a[j] = a[j - 1];
        }
        a[j] = x;
    }
    return s % 2 ? a[s / 2] : 0.5 * (a[s / 2 - 1] + a[s / 2]);
}

/*
 * Recognises the start of an operating change and counts down its
 * settling (see the top of this file). 'xv' is the reading, 'sd' each
 * sensor's baseline sd. The
 * Mahalanobis length costs O(sensors^2) and is computed only when the
 * levels have moved far and no change is settling.
 */
static void follow_operating_point(struct mdx_device_detector *d, const double *xv,
                                   const double *sd)
{
    size_t s = d->sensors;
    double move[MDX_DEVICE_SENSORS_MAX], plain = 0.0, excess;
    double af = running(d->n, A_LEVEL_FAST), as = running(d->n, A_LEVEL_SLOW);

    for (size_t i = 0; i < s; i++) {
        d->level_fast[i] += af * (xv[i] - d->level_fast[i]);
        d->level_slow[i] += as * (xv[i] - d->level_slow[i]);
        move[i] = (d->level_fast[i] - d->level_slow[i]) / sd[i];
        plain += move[i] * move[i];
    }
    plain /= (double)s;
    /*
     * How far above its usual wander, in usual sd of its cube root (as the
     * windows are calibrated: the wander of a load cycle and that of a
     * drifting operating point are tailed very differently); a change in
     * progress is not learned as the usual wander.
     */
    {
        double floor = CAL_FLOOR * d->change_mean;
        double usual_sd = sqrt(d->change_var + floor * floor + 1e-12);
        double e = cbrt(plain) - d->change_mean, a = running(d->n, A_CHANGE);

        excess = e / usual_sd;
        if (d->settling == 0) {
            e = d->n > EARLY && e > 2.0 * usual_sd ? 2.0 * usual_sd : e;
            d->change_mean += a * e;
            d->change_var = (1.0 - a) * (d->change_var + a * e * e);
        }
    }
    if (d->settling > 0) {
        d->settling--;
    }
    if (!d->have_inverse || d->cal_n < CAL_WARMUP || plain < CHANGE_MIN || excess < CHANGE_SD) {
        return;
    }
    if (d->settling > 0) {
        /* Still moving: the change goes on settling. */
        d->settling = SETTLE_HOLD > d->settling ? SETTLE_HOLD : d->settling;
    } else {
        /* The move shared by many sensors: a lagging or faulty one's share held to theirs. */
        double cap = CHANGE_SHARED * median_abs(move, s), common = 0.0, along = 0.0;

        for (size_t i = 0; i < s; i++) {
            move[i] = move[i] > cap ? cap : (move[i] < -cap ? -cap : move[i]);
            common += move[i] * move[i];
        }
        if (common < CHANGE_MIN * (double)s) {
            return;
        }
        for (size_t i = 0; i < s; i++) {
            double y = 0.0;
            for (size_t j = 0; j < s; j++) {
                y += d->prec[tri(i, j)] * move[j];
            }
            along += move[i] * y;
        }
        if (along <= CHANGE_ALONG * common) {
            d->settling = SETTLE_HOLD;
        }
    }
}

/*
 * The strongest of: each window of D^2 / sensors, and each sensor's recent
 * residual given the others (a relation of one sensor that loosens, e.g.
 * one that grows noisy, without moving the whole distance much), against
 * what is usual for it.
 */
static double calibrate(struct mdx_device_detector *d)
{
    double score = 0.0;
    int warm = d->cal_n >= CAL_WARMUP;
    double a = running(d->cal_n, A_CAL) * (d->score >= EPISODE_AT ? EPISODE_LEARN : 1.0);
    double raise = d->settling > 0 ? SETTLE_RAISE : 1.0;

    for (int k = 0; k < MDX_DEVICE_WINDOWS; k++) {
        double sc = excess_score(d->win[k], &d->cal_mean[k], &d->cal_var[k], warm, a,
                                 SCORE_HALF * raise);
        score = sc > score ? sc : score;
    }
    for (size_t i = 0; i < d->sensors; i++) {
        double sc = excess_score(d->contrib[i], &d->res_mean[i], &d->res_var[i], warm, a,
                                 RES_HALF * raise);
        score = sc > score ? sc : score;
    }
    if (warm && d->activity_fast * STOP_FROM < d->activity_usual) {
        double sc = stop_score(d);
        score = sc > score ? sc : score;
    }
    if (d->cal_n < UINT32_MAX) {
        d->cal_n++;
    }
    return score;
}

double mdx_device_detector_push(struct mdx_device_detector *d, const double *x)
{
    size_t s = d->sensors;
    double xv[MDX_DEVICE_SENSORS_MAX], z[MDX_DEVICE_SENSORS_MAX], zc[MDX_DEVICE_SENSORS_MAX];
    double sd[MDX_DEVICE_SENSORS_MAX];
    double score = 0.0;

    if (s < 2) {
        return 0.0; /* not initialised: mdx_device_detector_init refuses fewer than 2 */
    }
    for (size_t i = 0; i < s; i++) {
        if (!isfinite(x[i])) {
            return 0.0;
        }
        xv[i] = x[i] > VALUE_MAX ? VALUE_MAX : (x[i] < -VALUE_MAX ? -VALUE_MAX : x[i]);
    }
    for (size_t i = 0; i < s; i++) {
        double v;

        sd[i] = sensor_sd(d, i);
        v = d->n > 0 ? (xv[i] - d->mean[i]) / sd[i] : 0.0;
        z[i] = v > Z_MAX ? Z_MAX : (v < -Z_MAX ? -Z_MAX : v);
    }
    update_activity(d, z);
    follow_operating_point(d, xv, sd);
    if (d->have_inverse) {
        double d2 = 0.0, u;

        for (size_t i = 0; i < s; i++) {
            /* A sensor that has been constant (no spread to learn) moving is news. */
            double c = d->cov[tri(i, i)];
            zc[i] = z[i] / sqrt(c > 1e-2 ? c : 1e-2);
        }
        for (size_t i = 0; i < s; i++) {
            double y = 0.0, r;
            for (size_t j = 0; j < s; j++) {
                y += d->prec[tri(i, j)] * zc[j];
            }
            d2 += zc[i] * y;
            r = y * y / d->prec[tri(i, i)]; /* squared residual of i given the others */
            d->contrib[i] += A_CONTRIB * (r - d->contrib[i]);
        }
        d->d2 = d2 > 0.0 ? d2 : 0.0;
        u = d->d2 / (double)s;
        for (int k = 0; k < MDX_DEVICE_WINDOWS; k++) {
            d->win[k] = d->cal_n == 0 ? u : d->win[k] + window_weight[k] * (u - d->win[k]);
        }
        score = calibrate(d);
    }
    if (d->n >= BASE_WARMUP) {
        /* Readings far out teach the correlation less: a fault is not learned as normal. */
        double lim = ROBUST * (double)s;
        double w = !d->have_inverse || d->d2 <= lim ? 1.0 : lim / d->d2;
        update_cov(d, z, d->score >= EPISODE_AT ? w * EPISODE_LEARN : w);
    }
    d->score = score;
    update_baselines(d, xv);
    if (d->n < UINT32_MAX) {
        d->n++;
    }
    if (d->n >= COV_FIRST &&
        ++d->since_refresh >= (d->n < EARLY ? EARLY_REFRESH : MDX_DEVICE_REFRESH)) {
        refresh_inverse(d);
    } else if (d->n == COV_FIRST) {
        refresh_inverse(d);
    }
    return score;
}

size_t mdx_device_detector_top(const struct mdx_device_detector *d, size_t *idx, double *share,
                               size_t k)
{
    double total = 0.0;
    size_t n = 0;
    int taken[MDX_DEVICE_SENSORS_MAX] = {0};

    if (d->cal_n == 0) {
        return 0;
    }
    for (size_t i = 0; i < d->sensors; i++) {
        total += d->contrib[i];
    }
    for (; n < k && n < d->sensors; n++) {
        size_t best = 0;
        int found = 0;

        for (size_t i = 0; i < d->sensors; i++) {
            if (!taken[i] && (!found || d->contrib[i] > d->contrib[best])) {
                best = i;
                found = 1;
            }
        }
        taken[best] = 1;
        idx[n] = best;
        if (share != NULL) {
            share[n] = total > 0.0 ? d->contrib[best] / total : 0.0;
        }
    }
    return n;
}
