/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_machine.c - a simulated press; see sim_machine.h.
 *
 * Each reading window is sampled MDX_SIM_SUBSTEPS times; the reading is
 * the mean (and for motor 0 the max) of those samples, as a gateway
 * aggregating its ADC would report it. The numbers below are picked to
 * look like a small hydraulic press: they are plausible, not measured.
 */
#include "sim_machine.h"

#include <math.h>
#include <string.h>

#define PI 3.14159265358979323846

#define LOAD_LAG_S 0.8        /* how fast the motor follows the press cycle */
#define UNLOADED 0.1          /* load while the press is open */
#define CURRENT_NOISE_A 0.06  /* per sample */
#define SPIKE_EVERY_S 15.0    /* mean time between current spikes (fault) */
#define WEAR_HEAT_C 8.0       /* extra deg C at wear 1.0 */
#define DAY_SWING_C 1.5       /* ambient daily swing, amplitude */
#define OVERHEAT_C_PER_S 0.12 /* cooling lost: ramp of the overheat fault */
#define OVERHEAT_MAX_C 70.0
#define BEARING_MAX_X 20.0 /* cap of the bearing-fault vibration factor */
#define DRAG_MAX_A 2.5     /* drag: extra motor current once developed */
#define DRAG_RAMP_S 120.0  /* ... reached after this long */

static const char *const fault_names[MDX_SIM_FAULT_COUNT] = {
    [MDX_SIM_FAULT_OVERHEAT] = "overheat",
    [MDX_SIM_FAULT_SPIKE] = "spike",
    [MDX_SIM_FAULT_BEARING] = "bearing",
    [MDX_SIM_FAULT_DROPOUT] = "dropout",
    [MDX_SIM_FAULT_ESTOP] = "estop",
    [MDX_SIM_FAULT_DRAG] = "drag",
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z;

    *x += 0x9E3779B97F4A7C15ull;
    z = *x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* xorshift64*: small, fast, good enough for noise. */
static uint64_t next_u64(struct mdx_sim_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, 1). */
static double uniform(struct mdx_sim_rng *r)
{
    return (double)(next_u64(r) >> 11) * 0x1.0p-53;
}

/* Standard normal, Box-Muller; keeps the second value for the next call. */
static double gauss(struct mdx_sim_rng *r)
{
    double u1, u2, rad;

    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    u1 = 1.0 - uniform(r); /* (0, 1]: log() stays finite */
    u2 = uniform(r);
    rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * PI * u2);
    r->has_spare = 1;
    return rad * cos(2.0 * PI * u2);
}

static double clamp_min(double v, double lo)
{
    return v < lo ? lo : v;
}

void mdx_sim_init(struct mdx_sim_machine *m, uint64_t seed, uint32_t number, double life_s)
{
    uint64_t x = seed ^ ((uint64_t)number * 0xD1B54A32D192ED03ull);
    struct mdx_sim_rng *r = &m->rng;
    double mean_load;
    int i;

    memset(m, 0, sizeof(*m));
    r->s = splitmix64(&x);
    if (r->s == 0) {
        r->s = 1; /* xorshift must not start at zero */
    }
    m->current_base = 3.9 + 0.6 * uniform(r);
    m->current_load = 1.2 + 0.4 * uniform(r);
    m->motor_b_ratio = 0.93 + 0.10 * uniform(r);
    m->cycle_s = 26.0 + 8.0 * uniform(r);
    m->duty = 0.55 + 0.15 * uniform(r);
    m->phase_s = m->cycle_s * uniform(r);
    for (i = 0; i < 3; i++) {
        m->vib_base[i] = 0.85 + 0.2 * uniform(r);
    }
    m->ambient_c = 37.0 + 4.0 * uniform(r);
    m->heat_per_load = 5.0 + 3.0 * uniform(r);
    m->tau_s = 240.0 + 120.0 * uniform(r);
    m->life_s = life_s > 0 ? life_s : 1.0;
    m->speed = 1.0;
    m->wear = 0.5 * uniform(r);

    /* Start warm, at the mean of the load cycle, not with a cold transient. */
    mean_load = m->duty + UNLOADED * (1.0 - m->duty);
    m->temp_c = m->ambient_c + m->heat_per_load * mean_load + WEAR_HEAT_C * m->wear * m->wear;
    m->load = fmod(m->phase_s, m->cycle_s) < m->duty * m->cycle_s ? 1.0 : UNLOADED;
    for (i = 0; i < MDX_SIM_FAULT_COUNT; i++) {
        m->fault_at_s[i] = -1.0;
        m->fault_end_s[i] = -1.0;
        m->fault_pace[i] = 1.0;
    }
}

void mdx_sim_repair(struct mdx_sim_machine *m, enum mdx_sim_fault kind, double at_s)
{
    if ((int)kind >= 0 && kind < MDX_SIM_FAULT_COUNT) {
        m->fault_end_s[kind] = at_s < 0 ? 0 : at_s;
    }
}

void mdx_sim_pace(struct mdx_sim_machine *m, enum mdx_sim_fault kind, double pace)
{
    if ((int)kind >= 0 && kind < MDX_SIM_FAULT_COUNT && pace > 0) {
        m->fault_pace[kind] = pace;
    }
}

void mdx_sim_inject(struct mdx_sim_machine *m, enum mdx_sim_fault kind, double at_s)
{
    if ((int)kind >= 0 && kind < MDX_SIM_FAULT_COUNT) {
        m->fault_at_s[kind] = at_s < 0 ? 0 : at_s;
    }
}

/* Seconds since 'kind' started times its pace, or -1 while it is not active. */
static double fault_age(const struct mdx_sim_machine *m, enum mdx_sim_fault kind)
{
    double at = m->fault_at_s[kind];

    if (at < 0 || m->t_s < at) {
        return -1.0;
    }
    if (m->fault_end_s[kind] >= 0 && m->t_s >= m->fault_end_s[kind]) {
        return -1.0; /* repaired */
    }
    return (m->t_s - at) * m->fault_pace[kind];
}

int mdx_sim_fault_active(const struct mdx_sim_machine *m, enum mdx_sim_fault kind)
{
    return (int)kind >= 0 && kind < MDX_SIM_FAULT_COUNT && fault_age(m, kind) >= 0;
}

int mdx_sim_command(struct mdx_sim_machine *m, const char *name, double value, const char **why)
{
    if (strcmp(name, "speed_pct") != 0) {
        *why = "unknown command";
        return -1;
    }
    if (!(value >= 0.0 && value <= 100.0)) { /* NaN fails too */
        *why = "speed_pct must be from 0 to 100";
        return -1;
    }
    m->speed = value / 100.0;
    return 0;
}

static double vibration_factor(const struct mdx_sim_machine *m)
{
    double w = m->wear;
    /* Slow creep over most of the life, then a steep rise near the end. */
    double f = 1.0 + 0.35 * w + 1.5 * w * w * w * w;
    double s = fault_age(m, MDX_SIM_FAULT_BEARING);

    if (s >= 0) {
        double b = 1.0 + 0.0008 * s + (s / 3600.0) * (s / 3600.0);
        f *= b < BEARING_MAX_X ? b : BEARING_MAX_X;
    }
    return f;
}

/* Motor 0 current of one sample, spikes included. */
static double motor_current(struct mdx_sim_machine *m, double h)
{
    struct mdx_sim_rng *r = &m->rng;
    double ia = m->current_base + m->load * m->current_load + CURRENT_NOISE_A * gauss(r);
    double drag = fault_age(m, MDX_SIM_FAULT_DRAG);

    if (drag >= 0) {
        ia += DRAG_MAX_A * (drag < DRAG_RAMP_S ? drag / DRAG_RAMP_S : 1.0);
    }

    if (fault_age(m, MDX_SIM_FAULT_SPIKE) >= 0) {
        if (m->spike_left_s <= 0 && uniform(r) < h / SPIKE_EVERY_S) {
            m->spike_left_s = 0.2 + 0.4 * uniform(r);
            m->spike_a = 11.0 + 5.0 * uniform(r);
        }
        if (m->spike_left_s > 0) {
            ia = m->spike_a + 0.2 * gauss(r);
            m->spike_left_s -= h;
        }
    }
    return clamp_min(ia, 0.0);
}

int mdx_sim_step(struct mdx_sim_machine *m, double dt_s, struct mdx_edge_reading *out)
{
    struct mdx_sim_rng *r = &m->rng;
    double h = dt_s / MDX_SIM_SUBSTEPS;
    double ia_sum = 0, ia_max = 0, ib_sum = 0, t_sum = 0, v_sum[3] = {0, 0, 0};
    int failed = 0;
    int k, i;

    for (k = 0; k < MDX_SIM_SUBSTEPS; k++) {
        double pos, target, ia, ib, ambient, heat, overheat, vf, s;

        m->t_s += h;
        m->wear += h / m->life_s;
        if (m->wear >= 1.0) {
            m->wear = 0.0; /* failed: replaced by a new machine */
            m->failures++;
            failed = 1;
        }

        pos = fmod(m->t_s + m->phase_s, m->cycle_s);
        target = (pos < m->duty * m->cycle_s ? 1.0 : UNLOADED) * m->speed;
        if (fault_age(m, MDX_SIM_FAULT_ESTOP) >= 0) {
            target = 0.0; /* stopped: the motor idles */
        }
        m->load += (target - m->load) * (1.0 - exp(-h / LOAD_LAG_S));

        ia = motor_current(m, h);
        ib = clamp_min(ia * m->motor_b_ratio + CURRENT_NOISE_A * gauss(r), 0.0);
        if (ia > 10.0) {
            /* motor 1 doesn't share motor 0's spike */
            ib = clamp_min((m->current_base + m->load * m->current_load) * m->motor_b_ratio, 0.0);
        }
        ia_sum += ia;
        ib_sum += ib;
        if (k == 0 || ia > ia_max) {
            ia_max = ia;
        }

        ambient = m->ambient_c + DAY_SWING_C * sin(2.0 * PI * m->t_s / 86400.0);
        heat = ambient + m->heat_per_load * m->load + WEAR_HEAT_C * m->wear * m->wear;
        m->temp_c += (heat - m->temp_c) * (1.0 - exp(-h / m->tau_s));
        overheat = 0.0;
        s = fault_age(m, MDX_SIM_FAULT_OVERHEAT);
        if (s >= 0) {
            overheat = OVERHEAT_C_PER_S * s;
            overheat = overheat < OVERHEAT_MAX_C ? overheat : OVERHEAT_MAX_C;
        }
        t_sum += m->temp_c + overheat + 0.08 * gauss(r);

        vf = vibration_factor(m) * (0.85 + 0.3 * m->load);
        for (i = 0; i < 3; i++) {
            double v = m->vib_base[i] * (vf + 0.04 * gauss(r));
            v_sum[i] += clamp_min(v, 0.01);
        }
    }

    out->present = MDX_EDGE_HAS_ALL;
    if (fault_age(m, MDX_SIM_FAULT_DROPOUT) >= 0) {
        out->present &= ~(uint32_t)MDX_EDGE_HAS_TEMPERATURE;
    }
    out->current_mean = (float)(ia_sum / MDX_SIM_SUBSTEPS);
    out->current_max = (float)ia_max;
    out->current_b_mean = (float)(ib_sum / MDX_SIM_SUBSTEPS);
    for (i = 0; i < 3; i++) {
        out->vibration[i] = (float)(v_sum[i] / MDX_SIM_SUBSTEPS);
    }
    out->vibration[3] =
        sqrtf(out->vibration[0] * out->vibration[0] + out->vibration[1] * out->vibration[1] +
              out->vibration[2] * out->vibration[2]);
    out->temperature = (float)(t_sum / MDX_SIM_SUBSTEPS);
    return failed;
}

const char *mdx_sim_fault_name(enum mdx_sim_fault kind)
{
    if ((int)kind < 0 || kind >= MDX_SIM_FAULT_COUNT) {
        return "unknown";
    }
    return fault_names[kind];
}

int mdx_sim_fault_parse(const char *name)
{
    int i;

    for (i = 0; i < MDX_SIM_FAULT_COUNT; i++) {
        if (strcmp(name, fault_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}
