/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_sim.c - the simulated machine: deterministic for a seed,
 * plausible when healthy, and each injected fault visible in its signal.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "sim_machine.h"

#define HOUR 3600
#define LIFE_LONG (30.0 * 24 * 3600)

static void step_n(struct mdx_sim_machine *m, int n, struct mdx_edge_reading *out)
{
    int i;

    for (i = 0; i < n; i++) {
        mdx_sim_step(m, 1.0, &out[i]);
    }
}

static int same_reading(const struct mdx_edge_reading *a, const struct mdx_edge_reading *b)
{
    return a->present == b->present && a->current_mean == b->current_mean &&
           a->current_max == b->current_max && a->current_b_mean == b->current_b_mean &&
           memcmp(a->vibration, b->vibration, sizeof(a->vibration)) == 0 &&
           a->temperature == b->temperature;
}

static void same_seed_same_readings(void)
{
    static struct mdx_edge_reading a[100], b[100];
    struct mdx_sim_machine m1, m2;
    int i, same = 1;

    mdx_sim_init(&m1, 42, 3, LIFE_LONG);
    mdx_sim_init(&m2, 42, 3, LIFE_LONG);
    step_n(&m1, 100, a);
    step_n(&m2, 100, b);
    for (i = 0; i < 100; i++) {
        same = same && same_reading(&a[i], &b[i]);
    }
    CHECK(same);
}

static void other_seed_or_machine_differs(void)
{
    struct mdx_edge_reading a, b, c;
    struct mdx_sim_machine m1, m2, m3;

    mdx_sim_init(&m1, 42, 3, LIFE_LONG);
    mdx_sim_init(&m2, 43, 3, LIFE_LONG);
    mdx_sim_init(&m3, 42, 4, LIFE_LONG);
    mdx_sim_step(&m1, 1.0, &a);
    mdx_sim_step(&m2, 1.0, &b);
    mdx_sim_step(&m3, 1.0, &c);
    CHECK(!same_reading(&a, &b));
    CHECK(!same_reading(&a, &c));
}

static void healthy_machine_stays_plausible_for_an_hour(void)
{
    static struct mdx_edge_reading r[HOUR];
    struct mdx_sim_machine m;
    uint32_t n;
    int i, ok = 1;

    for (n = 1; n <= 5; n++) {
        double cmin = 1e9, cmax = 0, csum = 0;

        mdx_sim_init(&m, 7, n, LIFE_LONG);
        step_n(&m, HOUR, r);
        for (i = 0; i < HOUR; i++) {
            const struct mdx_edge_reading *x = &r[i];

            ok = ok && x->present == MDX_EDGE_HAS_ALL;
            ok = ok && x->current_mean > 3.0 && x->current_mean < 7.0;
            ok = ok && x->current_max >= x->current_mean && x->current_max < 8.0;
            ok = ok && x->current_b_mean > 3.0 && x->current_b_mean < 7.5;
            ok = ok && x->vibration[0] > 0.5 && x->vibration[0] < 2.0;
            ok = ok && x->vibration[1] > 0.5 && x->vibration[1] < 2.0;
            ok = ok && x->vibration[2] > 0.5 && x->vibration[2] < 2.0;
            ok = ok && x->vibration[3] > 1.0 && x->vibration[3] < 3.5;
            ok = ok && x->temperature > 35.0 && x->temperature < 55.0;
            cmin = x->current_mean < cmin ? x->current_mean : cmin;
            cmax = x->current_mean > cmax ? x->current_mean : cmax;
            csum += x->current_mean;
        }
        /* The press cycle shows: loaded and unloaded differ by > 1 A. */
        CHECK(cmax - cmin > 1.0);
        CHECK(csum / HOUR > 4.0 && csum / HOUR < 6.0);
        CHECK(m.failures == 0);
    }
    CHECK(ok);
}

static void load_cycle_repeats_about_every_30_s(void)
{
    static struct mdx_edge_reading r[600];
    struct mdx_sim_machine m;
    int i, rises = 0;
    double mid;

    mdx_sim_init(&m, 11, 1, LIFE_LONG);
    step_n(&m, 600, r);
    mid = m.current_base + 0.5 * m.current_load;
    for (i = 1; i < 600; i++) {
        rises += r[i - 1].current_mean < mid && r[i].current_mean >= mid;
    }
    /* 600 s / 26..34 s cycles */
    CHECK(rises >= 16 && rises <= 24);
}

static void overheat_crosses_85_c(void)
{
    static struct mdx_edge_reading r[HOUR];
    struct mdx_sim_machine m;
    double before = 0, after = 0;
    int i;

    mdx_sim_init(&m, 1, 2, LIFE_LONG);
    mdx_sim_inject(&m, MDX_SIM_FAULT_OVERHEAT, 60);
    step_n(&m, HOUR, r);
    for (i = 0; i < 59; i++) {
        before = r[i].temperature > before ? r[i].temperature : before;
    }
    for (i = 60; i < HOUR; i++) {
        after = r[i].temperature > after ? r[i].temperature : after;
    }
    CHECK(before < 55.0);
    CHECK(after > 85.0);
    CHECK(r[60 + 15 * 60].temperature > 85.0); /* within 15 minutes */
}

static void spike_crosses_10_a(void)
{
    static struct mdx_edge_reading r[600];
    struct mdx_sim_machine m;
    int i, spikes = 0, early = 0;

    mdx_sim_init(&m, 1, 3, LIFE_LONG);
    mdx_sim_inject(&m, MDX_SIM_FAULT_SPIKE, 120);
    step_n(&m, 600, r);
    for (i = 0; i < 600; i++) {
        if (r[i].current_max > 10.0) {
            spikes++;
            early += i < 119;
        }
    }
    CHECK_EQ_INT(early, 0);
    CHECK(spikes >= 10); /* ~one per 15 s over 480 s */
}

static double mean_magnitude(const struct mdx_edge_reading *r, int from, int n)
{
    double s = 0;
    int i;

    for (i = from; i < from + n; i++) {
        s += r[i].vibration[3];
    }
    return s / n;
}

static void bearing_drift_raises_vibration(void)
{
    static struct mdx_edge_reading sick[1800], well[1800];
    struct mdx_sim_machine a, b;
    double sick_rise, well_rise;

    mdx_sim_init(&a, 5, 4, LIFE_LONG);
    mdx_sim_init(&b, 5, 4, LIFE_LONG);
    mdx_sim_inject(&a, MDX_SIM_FAULT_BEARING, 0);
    step_n(&a, 1800, sick);
    step_n(&b, 1800, well);
    sick_rise = mean_magnitude(sick, 1680, 120) / mean_magnitude(sick, 0, 120);
    well_rise = mean_magnitude(well, 1680, 120) / mean_magnitude(well, 0, 120);
    CHECK(sick_rise > 1.3);  /* > 30 % over 30 minutes */
    CHECK(well_rise < 1.05); /* the healthy twin barely moves */
}

static void dropout_removes_temperature(void)
{
    static struct mdx_edge_reading r[300];
    struct mdx_sim_machine m;
    int i, ok = 1;

    mdx_sim_init(&m, 1, 5, LIFE_LONG);
    mdx_sim_inject(&m, MDX_SIM_FAULT_DROPOUT, 100);
    step_n(&m, 300, r);
    for (i = 0; i < 98; i++) {
        ok = ok && r[i].present == MDX_EDGE_HAS_ALL;
    }
    for (i = 101; i < 300; i++) {
        ok = ok && r[i].present == (MDX_EDGE_HAS_CURRENT | MDX_EDGE_HAS_VIBRATION);
    }
    CHECK(ok);
}

static void wear_runs_to_failure_and_the_machine_is_replaced(void)
{
    static struct mdx_edge_reading r[2 * HOUR];
    struct mdx_sim_machine m;
    int i, failed_at = -1;

    mdx_sim_init(&m, 9, 6, HOUR); /* a one-hour life */
    for (i = 0; i < 2 * HOUR; i++) {
        if (mdx_sim_step(&m, 1.0, &r[i]) && failed_at < 0) {
            failed_at = i;
        }
    }
    CHECK(failed_at > 0 && failed_at < 2 * HOUR);
    CHECK(m.failures >= 1);
    if (failed_at > 300 && failed_at < 2 * HOUR - 300) {
        /* Worn out just before, as new just after. */
        CHECK(mean_magnitude(r, failed_at - 120, 120) > 1.5 * mean_magnitude(r, failed_at, 120));
    }
}

static double mean_current(const struct mdx_edge_reading *r, int from, int n)
{
    double s = 0;
    int i;

    for (i = from; i < from + n; i++) {
        s += r[i].current_mean;
    }
    return s / n;
}

/* Drag: the motor current rises by 2.5 A over 2 minutes; vibration and heat stay its twin's. */
static void drag_raises_current_but_not_vibration(void)
{
    static struct mdx_edge_reading sick[600], well[600];
    struct mdx_sim_machine a, b;
    double rise;
    int i, hot = 0;

    mdx_sim_init(&a, 9, 14, LIFE_LONG);
    mdx_sim_init(&b, 9, 14, LIFE_LONG);
    mdx_sim_inject(&a, MDX_SIM_FAULT_DRAG, 300);
    step_n(&a, 600, sick);
    step_n(&b, 600, well);
    for (i = 0; i < 300; i++) {
        hot += !same_reading(&sick[i], &well[i]); /* nothing before the onset */
    }
    CHECK_EQ_INT(hot, 0);
    /* Whole load cycles (26-34 s) of 5 minutes each: the cycle averages out. */
    rise = mean_current(sick, 420, 180) - mean_current(well, 420, 180);
    CHECK(rise > 2.3 && rise < 2.7);
    CHECK(fabs(mean_magnitude(sick, 420, 180) / mean_magnitude(well, 420, 180) - 1.0) < 0.02);
    for (i = 300; i < 600; i++) {
        hot += fabs(sick[i].temperature - well[i].temperature) > 0.5;
    }
    CHECK_EQ_INT(hot, 0);
}

/* A pace of 10: the bearing's vibration after 3 minutes is what 30 minutes make at pace 1. */
static void pace_makes_a_fault_develop_faster(void)
{
    static struct mdx_edge_reading fast[1800], slow[1800];
    struct mdx_sim_machine a, b;
    double fast_rise, slow_rise;

    mdx_sim_init(&a, 5, 4, LIFE_LONG);
    mdx_sim_init(&b, 5, 4, LIFE_LONG);
    mdx_sim_inject(&a, MDX_SIM_FAULT_BEARING, 0);
    mdx_sim_pace(&a, MDX_SIM_FAULT_BEARING, 10.0);
    mdx_sim_inject(&b, MDX_SIM_FAULT_BEARING, 0);
    step_n(&a, 180, fast);
    step_n(&b, 1800, slow);
    fast_rise = mean_magnitude(fast, 150, 30) / mean_magnitude(fast, 0, 30);
    slow_rise = mean_magnitude(slow, 1500, 300) / mean_magnitude(slow, 0, 300);
    CHECK(fast_rise > 1.3);
    CHECK(fabs(fast_rise - slow_rise) < 0.15);
}

static void fault_names_round_trip(void)
{
    int k;

    for (k = 0; k < MDX_SIM_FAULT_COUNT; k++) {
        CHECK_EQ_INT(mdx_sim_fault_parse(mdx_sim_fault_name((enum mdx_sim_fault)k)), k);
    }
    CHECK_EQ_INT(mdx_sim_fault_parse("melt"), -1);
}

static const struct mdx_test tests[] = {
    {"same seed gives the same first 100 readings", same_seed_same_readings},
    {"another seed or machine number differs", other_seed_or_machine_differs},
    {"healthy machine stays plausible for a simulated hour",
     healthy_machine_stays_plausible_for_an_hour},
    {"press load cycle repeats about every 30 s", load_cycle_repeats_about_every_30_s},
    {"overheat fault crosses 85 C", overheat_crosses_85_c},
    {"spike fault crosses 10 A", spike_crosses_10_a},
    {"bearing fault raises vibration by more than 30 %", bearing_drift_raises_vibration},
    {"dropout fault removes the temperature sensor", dropout_removes_temperature},
    {"wear runs to failure and the machine is replaced",
     wear_runs_to_failure_and_the_machine_is_replaced},
    {"drag raises the current but not the vibration", drag_raises_current_but_not_vibration},
    {"a pace makes a fault develop faster", pace_makes_a_fault_develop_faster},
    {"fault names round-trip", fault_names_round_trip},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
