/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_detect_device.c - the device-level detector (issue 15): its speed
 * on one core and its figures on simulated machines (edge/sim).
 *
 * Speed: many simulated devices of 9 sensors, readings interleaved as the
 * live pipeline sees them (each reading touches another device):
 *   detect_device: devices=… sensors=… readings=… readings_per_s=… points_per_s=…
 *                  ns_per_reading=… bytes_per_device=…
 * With --eval, the figures of docs/detector.md instead: false device alerts
 * per machine-day on healthy machines, and per fault kind (the simulator's
 * and constructed relation faults) how many machines were alerted within
 * 4 hours and the detection delay, next to the per-sensor detector's.
 * Alerts follow the live rules: a score from 0.9 after 300 readings opens
 * one, it is held while the score stays from 0.5, resolves after 300 s
 * below, and one raised within 600 s of its resolve is the same alert.
 * Options: --devices N (2000), --readings N per device (3000), --eval,
 * --machines N per case (20), --days N healthy days per machine (1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/detect.h"
#include "modax/detect_device.h"
#include "sim_machine.h"

#define SENSORS 8                /* currents 3, vibration 4, temperature */
#define SEED 20261207
#define LIFE_S (720.0 * 3600.0)  /* the simulator's default life */
#define WARM_S 7200              /* healthy before a fault starts */
#define WATCH_S (4 * 3600)       /* how long after the onset a detection counts */
#define THRESHOLD 0.9            /* alert.detector_threshold */
#define WARMUP 300               /* alert.detector_warmup */
#define HOLD 0.5
#define RESOLVE_S 300            /* alert.auto_resolve_s */
#define FLAP_S 600               /* alert.flap_s */
#define MIN_CHANGE 0.02          /* alert.detector_min_change (per-sensor alerts) */
#define DELAY_MAX 64             /* readings a constructed fault can delay a sensor by */

/* Faults built here on top of the simulator's: each sensor stays within its range. */
enum constructed {
    C_NONE = MDX_SIM_FAULT_COUNT,
    C_DECOUPLE_MOTORS,   /* motor 1's current half a load cycle behind motor 0's */
    C_DECOUPLE_AXIS,     /* vibration_y half a load cycle behind the other axes */
    C_GAIN_DRIFT,        /* motor 0's current sensor reads up to 12 % low over an hour */
    C_KINDS,
    C_SPEED_CHANGES      /* healthy, but the operator sets a new speed every two hours */
};

static const char *kind_name(int kind)
{
    static const char *const names[] = {"decouple-motors", "decouple-axis", "gain-drift"};

    return kind < MDX_SIM_FAULT_COUNT ? mdx_sim_fault_name((enum mdx_sim_fault)kind)
                                      : names[kind - C_DECOUPLE_MOTORS];
}

/* The alert lifecycle of the live pipeline, on point time: counts alerts opened. */
struct lifecycle {
    int active;
    int64_t last_bad, resolved_at;
    long opened;
    int64_t first_open;  /* time of the first alert opened; -1 none */
};

static void lifecycle_init(struct lifecycle *l)
{
    memset(l, 0, sizeof(*l));
    l->resolved_at = INT64_MIN / 2;
    l->first_open = -1;
}

static void lifecycle_step(struct lifecycle *l, int64_t t, int raise, int hold)
{
    if (raise) {
        if (!l->active && t - l->resolved_at >= FLAP_S) {
            l->opened++;
            l->first_open = l->first_open < 0 ? t : l->first_open;
        }
        l->active = 1;
        l->last_bad = t;
    } else if (l->active && hold) {
        l->last_bad = t;
    } else if (l->active && t - l->last_bad >= RESOLVE_S) {
        l->active = 0;
        l->resolved_at = t;
    }
}

/* One simulated machine read once a second, as the payload carries it (3 decimals). */
struct rig {
    struct mdx_sim_machine m;
    double hist[DELAY_MAX][SENSORS];  /* recent readings, for the constructed faults */
    long n;
    double last_temp;
};

static void rig_read(struct rig *r, int kind, double t, double *x)
{
    struct mdx_edge_reading rd;
    long delay;

    mdx_sim_step(&r->m, 1.0, &rd);
    x[0] = rd.current_mean;
    x[1] = rd.current_max;
    x[2] = rd.current_b_mean;
    x[3] = rd.vibration[0];
    x[4] = rd.vibration[1];
    x[5] = rd.vibration[2];
    x[6] = rd.vibration[3];
    /* A missing temperature keeps its last value, as the live stage carries it. */
    x[7] = (rd.present & MDX_EDGE_HAS_TEMPERATURE) ? rd.temperature : r->last_temp;
    r->last_temp = x[7];
    memcpy(r->hist[r->n % DELAY_MAX], x, sizeof(r->hist[0]));
    r->n++;
    delay = lround(r->m.cycle_s / 2.0);
    if (t >= WARM_S && r->n > DELAY_MAX) {
        const double *old = r->hist[(r->n - 1 - delay) % DELAY_MAX];
        if (kind == C_DECOUPLE_MOTORS) {
            x[2] = old[2];
        } else if (kind == C_DECOUPLE_AXIS) {
            x[4] = old[4];
        } else if (kind == C_GAIN_DRIFT) {
            double f = (t - WARM_S) / 3600.0;
            x[0] *= 1.0 - 0.12 * (f < 1.0 ? f : 1.0);
        }
    }
    for (int k = 0; k < SENSORS; k++) {
        x[k] = round(x[k] * 1000.0) / 1000.0;
    }
}

struct result {
    long alerts;          /* device alerts opened before the onset (healthy: all) */
    long found;           /* machines alerted within WATCH_S of the onset */
    double delays[64];    /* their delays, seconds */
    long sensor_alerts;   /* the same for the per-sensor detector */
    long sensor_found;
    double sensor_delays[64];
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, long n)
{
    if (n == 0) {
        return NAN;
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * Runs 'machines' machines with fault 'kind' (C_NONE, C_SPEED_CHANGES:
 * healthy for 'seconds').
 */
static void run_case(int kind, long machines, long seconds, struct result *res)
{
    static struct rig r;
    struct mdx_device_detector dd;
    struct mdx_detector det[SENSORS];

    memset(res, 0, sizeof(*res));
    for (long mi = 0; mi < machines; mi++) {
        struct lifecycle dev, sens;
        int healthy = kind == C_NONE || kind == C_SPEED_CHANGES;
        uint32_t number = (uint32_t)(mi + 1 + (kind == C_NONE ? 0 : 1000 * (kind + 1)));

        memset(&r, 0, sizeof(r));
        mdx_sim_init(&r.m, SEED, number, LIFE_S);
        if (kind < MDX_SIM_FAULT_COUNT) {
            /* Reading t covers simulated (t, t + 1]: this one is the first with the fault. */
            mdx_sim_inject(&r.m, (enum mdx_sim_fault)kind, WARM_S + 0.5);
        }
        mdx_device_detector_init(&dd, SENSORS);
        for (int k = 0; k < SENSORS; k++) {
            mdx_detector_init(&det[k]);
        }
        lifecycle_init(&dev);
        lifecycle_init(&sens);
        for (long t = 0; t < seconds; t++) {
            double x[SENSORS], s = 0.0;
            int sensor_raise = 0, sensor_hold = 0;
            int64_t ts = 1767225600000LL + t * 1000;

            if (kind == C_SPEED_CHANGES && t % 7200 == 3600) {
                const char *why;
                /* 50 to 100 %, a different sequence per machine */
                mdx_sim_command(&r.m, "speed_pct", 50.0 + (double)((t / 7200 * 37 + mi * 11) % 51),
                                &why);
            }
            rig_read(&r, kind, (double)t, x);
            s = mdx_device_detector_push(&dd, x);
            lifecycle_step(&dev, t, s >= THRESHOLD && t >= WARMUP, s >= HOLD);
            for (int k = 0; k < SENSORS; k++) {
                double v = mdx_detector_push(&det[k], ts, x[k]);
                /* As the live stage: an episode's peak alerts once the value has moved. */
                v = (double)det[k].peak > v ? (double)det[k].peak : v;
                sensor_raise |= v >= THRESHOLD && t >= WARMUP &&
                                fabs(x[k] - det[k].mean) >= MIN_CHANGE * fabs(det[k].mean);
                sensor_hold |= det[k].peak > 0.0;
            }
            lifecycle_step(&sens, t, sensor_raise, sensor_hold);
            if (!healthy && t == WARM_S - 1) {
                res->alerts += dev.opened;
                res->sensor_alerts += sens.opened;
            }
        }
        if (healthy) {
            res->alerts += dev.opened;
            res->sensor_alerts += sens.opened;
            continue;
        }
        /* A machine alerted before the onset counts as a miss (and as a false alert). */
        if (dev.first_open >= WARM_S) {
            res->delays[res->found++] = (double)(dev.first_open - WARM_S);
        }
        if (sens.first_open >= WARM_S) {
            res->sensor_delays[res->sensor_found++] = (double)(sens.first_open - WARM_S);
        }
    }
}

static void evaluate(long machines, long days)
{
    struct result res;
    double dev_median, sensor_median;

    for (int kind = C_NONE; kind <= C_SPEED_CHANGES; kind += C_SPEED_CHANGES - C_NONE) {
        printf("%s: machines=%ld days=%ld", kind == C_NONE ? "healthy" : "healthy-speed-changes",
               machines, days);
        run_case(kind, machines, days * 86400, &res);
        printf(" device_alerts_per_machine_day=%.3f sensor_alerts_per_machine_day=%.3f\n",
               (double)res.alerts / (double)(machines * days),
               (double)res.sensor_alerts / (double)(machines * days));
    }
    for (int kind = 0; kind < C_KINDS; kind++) {
        if (kind == C_NONE) {
            continue;
        }
        run_case(kind, machines, WARM_S + WATCH_S, &res);
        dev_median = median(res.delays, res.found); /* sorts: the last is the longest */
        sensor_median = median(res.sensor_delays, res.sensor_found);
        printf("fault %-16s device: found=%ld/%ld median_delay_s=%.0f max_delay_s=%.0f "
               "alerts_before=%ld | per-sensor: found=%ld/%ld median_delay_s=%.0f "
               "alerts_before=%ld\n",
               kind_name(kind), res.found, machines, dev_median,
               res.found ? res.delays[res.found - 1] : NAN, res.alerts, res.sensor_found,
               machines, sensor_median, res.sensor_alerts);
    }
}

static void speed(long devices, long readings)
{
    struct mdx_device_detector *dd = mdx_calloc((size_t)devices, sizeof(*dd));
    double *pool, checksum = 0.0;
    long pool_n = 4096;
    struct rig *r = mdx_calloc(1, sizeof(*r));
    int64_t t0, t1;

    pool = mdx_calloc((size_t)pool_n * SENSORS, sizeof(*pool));
    if (dd == NULL || pool == NULL || r == NULL) {
        fprintf(stderr, "bench_detect_device: out of memory\n");
        exit(1);
    }
    /* Realistic readings, generated beforehand: the simulator is not what is timed. */
    mdx_sim_init(&r->m, SEED, 1, LIFE_S);
    for (long i = 0; i < pool_n; i++) {
        rig_read(r, C_NONE, 0.0, &pool[i * SENSORS]);
    }
    for (long d = 0; d < devices; d++) {
        mdx_device_detector_init(&dd[d], SENSORS);
    }
    t0 = mdx_mono_us();
    for (long p = 0; p < readings; p++) {
        for (long d = 0; d < devices; d++) {
            checksum += mdx_device_detector_push(&dd[d], &pool[((p + d * 7) % pool_n) * SENSORS]);
        }
    }
    t1 = mdx_mono_us();
    {
        double n = (double)devices * (double)readings, secs = (double)(t1 - t0) / 1e6;
        printf("detect_device: devices=%ld sensors=%d readings=%.0f readings_per_s=%.0f "
               "points_per_s=%.0f ns_per_reading=%.1f bytes_per_device=%zu checksum=%.3f\n",
               devices, SENSORS, n, n / secs, n * (SENSORS) / secs, secs * 1e9 / n,
               sizeof(struct mdx_device_detector), checksum);
    }
    mdx_free(dd);
    mdx_free(pool);
    mdx_free(r);
}

int main(int argc, char **argv)
{
    long devices = 2000, readings = 3000, machines = 20, days = 1;
    int eval = 0;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--devices") == 0) {
            devices = bench_parse_num(argv[++i], 1, 1000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--readings") == 0) {
            readings = bench_parse_num(argv[++i], 1, 100000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--machines") == 0) {
            machines = bench_parse_num(argv[++i], 1, 64);
        } else if (i + 1 < argc && strcmp(argv[i], "--days") == 0) {
            days = bench_parse_num(argv[++i], 1, 365);
        } else if (strcmp(argv[i], "--eval") == 0) {
            eval = 1;
        } else {
            devices = -1;
        }
    }
    if (devices <= 0 || readings <= 0 || machines <= 0 || days <= 0) {
        fprintf(stderr, "usage: bench_detect_device [--devices N] [--readings N] "
                        "[--eval [--machines N] [--days N]]\n");
        return 2;
    }
    if (eval) {
        evaluate(machines, days);
    } else {
        speed(devices, readings);
    }
    return 0;
}
