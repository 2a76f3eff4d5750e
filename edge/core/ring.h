/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring.h - bounded store-and-forward ring of readings.
 *
 * Readings wait here while the broker is unreachable (or until a batch is
 * full). The caller provides the slots once, at start-up; the ring never
 * allocates. When full, a push drops the oldest reading and counts it,
 * so a long outage loses the oldest data, never the newest.
 */
#ifndef MODAX_EDGE_RING_H
#define MODAX_EDGE_RING_H

#include <stdint.h>

#include "reading.h"

struct mdx_edge_ring {
    struct mdx_edge_reading *slots; /* borrowed from the caller, 'cap' long */
    uint32_t cap;
    uint32_t head;    /* index of the oldest reading */
    uint32_t count;   /* readings held */
    uint64_t dropped; /* readings overwritten because the ring was full */
};

/* Makes 'ring' an empty ring over 'slots' (borrowed; must outlive the ring). */
void mdx_edge_ring_init(struct mdx_edge_ring *ring, struct mdx_edge_reading *slots, uint32_t cap);

/* Appends a copy of 'r'. Returns 1 if the oldest reading was dropped to make room, else 0. */
int mdx_edge_ring_push(struct mdx_edge_ring *ring, const struct mdx_edge_reading *r);

/* The i-th oldest reading (0: oldest), or NULL past the end. Borrowed until the next push/pop. */
const struct mdx_edge_reading *mdx_edge_ring_peek(const struct mdx_edge_ring *ring, uint32_t i);

/* Removes the 'n' oldest readings (all, if fewer are held). */
void mdx_edge_ring_pop(struct mdx_edge_ring *ring, uint32_t n);

#endif
