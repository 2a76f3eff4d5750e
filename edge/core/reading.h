/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reading.h - one aggregated reading of one machine, as kept in the
 * store-and-forward ring and turned into a payload.
 *
 * A reading summarises one sampling window (mean/max per sensor). Floats
 * keep the ring small; the payload prints them with three decimals.
 */
#ifndef MODAX_EDGE_READING_H
#define MODAX_EDGE_READING_H

#include <stdint.h>

/* Longest device id, with its NUL. */
#define MDX_EDGE_DEVICE_ID_MAX 48

/* Bits of mdx_edge_reading.present: which sensor groups were read. */
enum {
    MDX_EDGE_HAS_CURRENT = 1u << 0,
    MDX_EDGE_HAS_VIBRATION = 1u << 1,
    MDX_EDGE_HAS_TEMPERATURE = 1u << 2,
    MDX_EDGE_HAS_ALL = 0x7u
};

struct mdx_edge_reading {
    int64_t ts_ms;        /* end of the window, epoch ms (simulated clock) */
    uint32_t machine;     /* index of the machine in its agent */
    uint32_t present;     /* MDX_EDGE_HAS_* */
    float current_mean;   /* A, motor 0, window mean */
    float current_max;    /* A, motor 0, window maximum */
    float current_b_mean; /* A, motor 1, window mean */
    float vibration[4];   /* mm/s RMS: x, y, z, magnitude */
    float temperature;    /* deg C, window mean */
};

#endif
