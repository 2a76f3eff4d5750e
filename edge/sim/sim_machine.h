/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_machine.h - a simulated press with motor, vibration and temperature
 * sensors, for the fleet simulator and for tests downstream.
 *
 * Deterministic for a (seed, machine number): its own PRNG (splitmix64 /
 * xorshift64*), Gaussian noise by Box-Muller, no global state. Each
 * machine gets a personality (nominal current, load cycle, ambient
 * temperature) from its seed, then:
 *   - current: ~4-6 A, a press loading/unloading on a ~30 s cycle;
 *   - vibration x/y/z: ~1 mm/s RMS with noise, higher under load;
 *   - temperature: ~40-50 deg C, first-order thermal response to load;
 *   - wear: grows from its initial value to 1.0 over 'life_s'; vibration
 *     and temperature creep up with it. At 1.0 the machine fails and is
 *     replaced by a new one (wear 0), so run-to-failure histories exist.
 * Faults can be injected from a simulated time on: overheat, current
 * spikes, bearing wear, sensor dropout, an emergency stop (the
 * operator's button: the press stands still until it is released) and
 * drag (the motor current rises while vibration and temperature do not:
 * the usual relation between the sensors breaks). A fault may develop
 * faster than its natural pace (mdx_sim_pace), e.g. for a demo.
 * Commands set the speed (0..100 % of the press cycle's load), so
 * currents, vibration and temperature follow it.
 *
 * Portable C: no heap, no OS; the same rules as edge/core.
 */
#ifndef MODAX_EDGE_SIM_MACHINE_H
#define MODAX_EDGE_SIM_MACHINE_H

#include <stdint.h>

#include "reading.h"

/* Samples per reading window; the reading is their mean/max. */
#define MDX_SIM_SUBSTEPS 10

enum mdx_sim_fault {
    MDX_SIM_FAULT_OVERHEAT, /* cooling lost: temperature ramps past 85 C */
    MDX_SIM_FAULT_SPIKE,    /* short current spikes above 10 A, every ~15 s */
    MDX_SIM_FAULT_BEARING,  /* bearing damage: vibration grows fast */
    MDX_SIM_FAULT_DROPOUT,  /* the temperature sensor stops reporting */
    MDX_SIM_FAULT_ESTOP,    /* emergency stop pressed: no load, commands refused */
    MDX_SIM_FAULT_DRAG,     /* current +2.5 A over 2 minutes, vibration and heat unchanged */
    MDX_SIM_FAULT_COUNT
};

struct mdx_sim_rng {
    uint64_t s;
    int has_spare;
    double spare;
};

struct mdx_sim_machine {
    struct mdx_sim_rng rng;

    /* Personality, fixed by the seed. */
    double current_base;  /* A, motor 0 unloaded */
    double current_load;  /* A added at full load */
    double motor_b_ratio; /* motor 1 current / motor 0 current */
    double cycle_s;       /* load cycle period */
    double duty;          /* loaded fraction of the cycle */
    double phase_s;       /* offset into the cycle at t = 0 */
    double vib_base[3];   /* mm/s RMS per axis, new machine, no load */
    double ambient_c;     /* deg C, daily mean */
    double heat_per_load; /* deg C steady-state rise at full load */
    double tau_s;         /* thermal time constant */
    double life_s;        /* simulated seconds from new (wear 0) to failure */
    double speed;         /* 0..1, set by the speed_pct command; 1 at start */

    /* State. */
    double t_s;                             /* simulated seconds since start */
    double load;                            /* 0..1, lagging the load cycle */
    double temp_c;                          /* thermal state, without sensor effects */
    double wear;                            /* 0 new .. 1 failed */
    double spike_left_s;                    /* remaining length of the current spike */
    double spike_a;                         /* amplitude of the current spike */
    uint32_t failures;                      /* replacements so far */
    double fault_at_s[MDX_SIM_FAULT_COUNT]; /* onset, simulated seconds; < 0: never */
    double fault_end_s[MDX_SIM_FAULT_COUNT]; /* repaired at, simulated seconds; < 0: never */
    double fault_pace[MDX_SIM_FAULT_COUNT];  /* how many times faster than natural (1) */
};

/*
 * Sets up machine number 'number' (e.g. 1 for m-0001) of the fleet of
 * 'seed'. The same pair always yields the same machine. 'life_s' > 0 is
 * the simulated lifetime; the machine starts part-worn (0..0.5 of it).
 */
void mdx_sim_init(struct mdx_sim_machine *m, uint64_t seed, uint32_t number, double life_s);

/* Schedules fault 'kind' from simulated second 'at_s' (>= 0) on. */
void mdx_sim_inject(struct mdx_sim_machine *m, enum mdx_sim_fault kind, double at_s);

/*
 * Makes fault 'kind' develop 'pace' (> 0) times faster than its natural
 * pace: its effects at t seconds after onset are those of pace * t.
 */
void mdx_sim_pace(struct mdx_sim_machine *m, enum mdx_sim_fault kind, double pace);

/* Ends fault 'kind' at simulated second 'at_s' (repaired: the sensors read normal again). */
void mdx_sim_repair(struct mdx_sim_machine *m, enum mdx_sim_fault kind, double at_s);

/*
 * Advances the machine by 'dt_s' simulated seconds (> 0) and writes the
 * reading of that window to 'out' (ts_ms and machine are left to the
 * caller). Returns 1 if the machine failed and was replaced during the
 * window, else 0.
 */
int mdx_sim_step(struct mdx_sim_machine *m, double dt_s, struct mdx_edge_reading *out);

/* Non-zero while fault 'kind' is active (started, not yet repaired). */
int mdx_sim_fault_active(const struct mdx_sim_machine *m, enum mdx_sim_fault kind);

/*
 * Applies command 'name' = 'value' to the machine. Knows "speed_pct"
 * (0..100: the share of the press cycle's load). Returns 0, or -1 with
 * the reason for the device's rejection in *why (a static string):
 * "unknown command", a value out of range.
 */
int mdx_sim_command(struct mdx_sim_machine *m, const char *name, double value, const char **why);

/* Name of 'kind' ("overheat", "spike", "bearing", "dropout", "estop", "drag"). */
const char *mdx_sim_fault_name(enum mdx_sim_fault kind);

/* Kind named 'name', or -1. */
int mdx_sim_fault_parse(const char *name);

#endif
