/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_detect.c - the streaming anomaly detector on constructed series:
 * what it must catch (spikes, level shifts, variance changes, slow drifts,
 * a spike riding on a cycle, a stuck sensor), what it must not flag
 * (noise, regular cycles, a constant series), and the bad inputs of issue
 * 4 (NaN and infinities, gaps, timestamps going backwards, one point).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modax/detect.h"

#define ALERT 0.9          /* the score an alert rule would use */
#define T0 1700000000000LL /* epoch ms of the first point */
#define ONSET 6000         /* anomalies start here, after a long normal stretch */

/* Deterministic noise: xorshift64 and Box-Muller. */
static uint64_t rng_state;

static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

typedef double (*series_fn)(int i);

struct outcome {
    double max_before;   /* highest score before ONSET (after the first 500 points) */
    int first_alert;     /* points after ONSET until the score reached ALERT; -1 never */
    int alerts_before;   /* points at or above ALERT before ONSET */
};

static struct outcome run(series_fn f, int n)
{
    struct mdx_detector d;
    struct outcome o = {0.0, -1, 0};

    rng_state = 0x9E3779B97F4A7C15ULL;
    mdx_detector_init(&d);
    for (int i = 0; i < n; i++) {
        double s = mdx_detector_push(&d, T0 + (int64_t)i * 1000, f(i));
        CHECK(s >= 0.0 && s <= 1.0);
        if (i < ONSET && i >= 500) {
            o.max_before = s > o.max_before ? s : o.max_before;
            o.alerts_before += s >= ALERT;
        } else if (i >= ONSET && o.first_alert < 0 && s >= ALERT) {
            o.first_alert = i - ONSET;
        }
    }
    return o;
}

static double noise(int i) { (void)i; return 20.0 + gauss(); }
static double press_cycle(int i) { return ((i / 15) % 2 ? 8.0 : 4.0) + 0.2 * gauss(); }
static double daily_wave(int i) { return 50.0 + 10.0 * sin(2.0 * M_PI * i / 300.0) + gauss(); }
static double spike(int i) { return 20.0 + gauss() + (i == ONSET ? 8.0 : 0.0); }
static double shift(int i) { return 20.0 + gauss() + (i >= ONSET ? 3.0 : 0.0); }
static double variance_up(int i) { return 20.0 + gauss() * (i >= ONSET ? 3.0 : 1.0); }
static double drift(int i) { return 20.0 + gauss() + (i >= ONSET ? (i - ONSET) * 0.002 : 0.0); }
static double wave_spike(int i)
{
    return 50.0 + 10.0 * sin(2.0 * M_PI * i / 300.0) + gauss() + (i == ONSET ? -15.0 : 0.0);
}
static double stuck(int i) { return i >= ONSET ? 21.3 : 20.0 + gauss(); }
static double constant(int i) { (void)i; return 42.0; }

static void quiet_on_noise_cycles_waves_and_constants(void)
{
    series_fn normal[] = {noise, press_cycle, daily_wave, constant};

    for (size_t k = 0; k < sizeof(normal) / sizeof(normal[0]); k++) {
        struct outcome o = run(normal[k], 12000);
        CHECK_EQ_INT(o.alerts_before, 0);
        CHECK_EQ_INT(o.first_alert, -1); /* nothing after the 'onset' either */
        CHECK(o.max_before < 0.8);
    }
}

/*
 * A press's vibration with its transitions: a load that follows a duty
 * cycle with a lag, ten noisy samples averaged per point, 3 decimals (as the
 * fleet simulator sends it). Its rare visits between and beyond the two
 * levels are new records of the rarity view, never strong evidence: five
 * presses, five hours each, stay below the alert score.
 */
static void quiet_on_a_press_load_cycle_with_transitions(void)
{
    int alerts = 0;

    for (int m = 0; m < 5; m++) {
        struct mdx_detector d;
        double t = 0.0, load = 1.0, cycle = 26.0 + 2.0 * m, duty = 0.55 + 0.03 * m;

        rng_state = 0x9E3779B97F4A7C15ULL * (uint64_t)(m + 1);
        mdx_detector_init(&d);
        for (int i = 0; i < 18000; i++) {
            double sum = 0.0, x;
            char text[32];

            for (int k = 0; k < 10; k++) {
                t += 0.1;
                load += ((fmod(t + 3.0 * m, cycle) < duty * cycle ? 1.0 : 0.1) - load) *
                        (1.0 - exp(-0.1 / 0.8));
                sum += 0.95 * (0.85 + 0.3 * load) + 0.04 * gauss();
            }
            snprintf(text, sizeof(text), "%.3f", sum / 10.0);
            x = strtod(text, NULL);
            alerts += mdx_detector_push(&d, T0 + (int64_t)i * 1000, x) >= ALERT && i >= 300;
        }
    }
    CHECK_EQ_INT(alerts, 0);
}

static void catches_a_spike_at_once(void)
{
    struct outcome o = run(spike, ONSET + 100);
    CHECK_EQ_INT(o.alerts_before, 0);
    CHECK_EQ_INT(o.first_alert, 0);
}

static void catches_a_spike_riding_on_a_wave(void)
{
    struct outcome o = run(wave_spike, ONSET + 100);
    CHECK_EQ_INT(o.alerts_before, 0);
    CHECK_EQ_INT(o.first_alert, 0);
}

static void catches_a_level_shift_within_thirty_points(void)
{
    struct outcome o = run(shift, ONSET + 500);
    CHECK_EQ_INT(o.alerts_before, 0);
    CHECK(o.first_alert >= 0 && o.first_alert <= 30);
}

static void catches_a_variance_rise_within_sixty_points(void)
{
    struct outcome o = run(variance_up, ONSET + 500);
    CHECK_EQ_INT(o.alerts_before, 0);
    CHECK(o.first_alert >= 0 && o.first_alert <= 60);
}

static void catches_a_slow_drift(void)
{
    /* 0.002 sd per point: 6 sd after 3,000 points. */
    struct outcome o = run(drift, ONSET + 4000);
    CHECK_EQ_INT(o.alerts_before, 0);
    CHECK(o.first_alert >= 0 && o.first_alert <= 3500);
}

static void catches_a_stuck_sensor(void)
{
    struct outcome o = run(stuck, ONSET + 1000);
    CHECK_EQ_INT(o.alerts_before, 0);
    CHECK(o.first_alert >= 0 && o.first_alert <= 300);
}

static void adapts_to_a_new_normal_after_a_shift(void)
{
    struct mdx_detector d;
    double last_max = 0.0;

    rng_state = 42;
    mdx_detector_init(&d);
    for (int i = 0; i < 20000; i++) {
        double s = mdx_detector_push(&d, T0 + (int64_t)i * 1000, shift(i));
        if (i >= ONSET + 8000) {
            last_max = s > last_max ? s : last_max;
        }
    }
    CHECK(last_max < ALERT); /* maintenance done: the new level is normal again */
}

static void nan_and_infinities_are_ignored(void)
{
    struct mdx_detector d, copy;

    mdx_detector_init(&d);
    for (int i = 0; i < 100; i++) {
        mdx_detector_push(&d, T0 + i * 1000, 10.0 + (i % 3));
    }
    memcpy(&copy, &d, sizeof(d));
    CHECK(mdx_detector_push(&d, T0 + 100000, NAN) == 0.0);
    CHECK(mdx_detector_push(&d, T0 + 101000, INFINITY) == 0.0);
    CHECK(mdx_detector_push(&d, T0 + 102000, -INFINITY) == 0.0);
    CHECK(memcmp(&copy, &d, sizeof(d)) == 0);
}

static void constant_series_has_no_division_by_zero(void)
{
    struct mdx_detector d;

    mdx_detector_init(&d);
    for (int i = 0; i < 5000; i++) {
        double s = mdx_detector_push(&d, T0 + i * 1000, 0.0);
        CHECK(isfinite(s) && s == 0.0);
    }
    CHECK(isfinite(mdx_detector_push(&d, T0 + 5000 * 1000, 1.0)));
}

static void gaps_of_hours_do_not_alert(void)
{
    struct mdx_detector d;
    int alerts = 0;

    rng_state = 7;
    mdx_detector_init(&d);
    for (int i = 0; i < 6000; i++) {
        /* a three-hour pause every 1,000 points */
        int64_t ts = T0 + (int64_t)i * 1000 + (int64_t)(i / 1000) * 3 * 3600 * 1000;
        alerts += mdx_detector_push(&d, ts, noise(i)) >= ALERT;
    }
    CHECK_EQ_INT(alerts, 0);
}

/*
 * The alert point follows the series' pace: a series read every 5 minutes
 * alerts on a new record of some view (a spike of 4.5 sd after 2,000 points
 * of noise), one read every second needs strong evidence for the same
 * score. Below 0.515 the scores are the same at every pace, and above it
 * the slow series' score is never lower.
 */
static void the_alert_point_follows_the_pace(void)
{
    struct mdx_detector fast, slow;
    double spike_fast = 0.0, spike_slow = 0.0;
    int below_differ = 0, slow_lower = 0;

    rng_state = 0x9E3779B97F4A7C15ULL;
    mdx_detector_init(&fast);
    mdx_detector_init(&slow);
    for (int i = 0; i < 2200; i++) {
        double x = 20.0 + gauss() + (i == 2000 ? 4.5 : 0.0);
        double f = mdx_detector_push(&fast, T0 + (int64_t)i * 1000, x);
        double s = mdx_detector_push(&slow, T0 + (int64_t)i * 300000, x);
        below_differ += f < 0.515 && f != s;
        slow_lower += s < f;
        if (i == 2000) {
            spike_fast = f;
            spike_slow = s;
        }
    }
    CHECK(spike_fast > 0.515 && spike_fast < ALERT);
    CHECK(spike_slow >= ALERT);
    CHECK_EQ_INT(below_differ, 0);
    CHECK_EQ_INT(slow_lower, 0);
}

static void timestamps_going_backwards_are_scored(void)
{
    struct mdx_detector d;
    int alerts = 0;

    rng_state = 9;
    mdx_detector_init(&d);
    for (int i = 0; i < 3000; i++) {
        int64_t ts = T0 + (int64_t)(i % 2 ? i - 5 : i) * 1000; /* every other point back in time */
        double s = mdx_detector_push(&d, ts, noise(i));
        CHECK(s >= 0.0 && s <= 1.0);
        alerts += s >= ALERT;
    }
    CHECK_EQ_INT(alerts, 0);
}

static void a_sensor_seen_once_scores_zero(void)
{
    struct mdx_detector d;

    mdx_detector_init(&d);
    CHECK(mdx_detector_push(&d, T0, 1e9) == 0.0);
}

static void deterministic_and_bounded_state(void)
{
    struct mdx_detector a, b;

    CHECK(sizeof(struct mdx_detector) <= 512);
    {
        size_t used = 0;
        const struct mdx_estimator *const *est = mdx_estimators();
        for (int i = 0; i < MDX_ESTIMATORS; i++) {
            CHECK(est[i]->state_size <= MDX_ESTIMATOR_STATE_MAX);
            used += (est[i]->state_size + 7) & ~(size_t)7;
        }
        CHECK(used <= MDX_DETECTOR_EST_BYTES);
    }
    {
        /* detect.c lays the views out by these flags: two per two-sided, none for the absolute. */
        const struct mdx_estimator *const *est = mdx_estimators();
        int views = 0, absolute = 0;

        for (int i = 0; i < MDX_ESTIMATORS; i++) {
            views += est[i]->absolute ? 0 : 1 + est[i]->two_sided;
            absolute += est[i]->absolute;
            CHECK(!(est[i]->absolute && est[i]->strong_only));
        }
        CHECK_EQ_INT(views, MDX_VIEWS);
        CHECK_EQ_INT(absolute, 1);
        CHECK_STR(est[3]->name, "drift");
        CHECK(est[3]->absolute);
        CHECK_STR(est[4]->name, "variance");
        CHECK(est[4]->strong_only && est[4]->two_sided);
        CHECK_STR(est[5]->name, "rarity");
        CHECK(!est[5]->two_sided);
        for (int i = 0; i < MDX_ESTIMATORS; i++) {
            CHECK_EQ_INT(est[i]->records_only, i == 5); /* detect.c reads rarity as records only */
        }
    }
    mdx_detector_init(&a);
    mdx_detector_init(&b);
    rng_state = 11;
    for (int i = 0; i < 2000; i++) {
        double x = shift(i + ONSET - 1000);
        CHECK(mdx_detector_push(&a, T0 + i * 1000, x) == mdx_detector_push(&b, T0 + i * 1000, x));
    }
}

static const struct mdx_test tests[] = {
    {"quiet on noise, regular cycles, waves and constants",
     quiet_on_noise_cycles_waves_and_constants},
    {"quiet on a press's load cycle with transitions",
     quiet_on_a_press_load_cycle_with_transitions},
    {"catches a spike at once", catches_a_spike_at_once},
    {"catches a spike riding on a wave", catches_a_spike_riding_on_a_wave},
    {"catches a level shift within 30 points", catches_a_level_shift_within_thirty_points},
    {"catches a variance rise within 60 points", catches_a_variance_rise_within_sixty_points},
    {"catches a slow drift", catches_a_slow_drift},
    {"catches a stuck sensor", catches_a_stuck_sensor},
    {"adapts to a new normal after a shift", adapts_to_a_new_normal_after_a_shift},
    {"bad input: NaN and infinities are ignored", nan_and_infinities_are_ignored},
    {"bad input: constant series, no division by zero", constant_series_has_no_division_by_zero},
    {"bad input: gaps of hours do not alert", gaps_of_hours_do_not_alert},
    {"bad input: timestamps going backwards are scored", timestamps_going_backwards_are_scored},
    {"bad input: a sensor seen once scores zero", a_sensor_seen_once_scores_zero},
    {"deterministic, state within 512 bytes", deterministic_and_bounded_state},
    {"the alert point follows the series' pace", the_alert_point_follows_the_pace},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
