/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring.c - bounded store-and-forward ring of readings; see ring.h.
 */
#include "ring.h"

#include <stddef.h>

void mdx_edge_ring_init(struct mdx_edge_ring *ring, struct mdx_edge_reading *slots, uint32_t cap)
{
    ring->slots = slots;
    ring->cap = cap;
    ring->head = 0;
    ring->count = 0;
    ring->dropped = 0;
}

int mdx_edge_ring_push(struct mdx_edge_ring *ring, const struct mdx_edge_reading *r)
{
    int dropped = 0;

    if (ring->cap == 0) {
        ring->dropped++;
        return 1;
    }
    if (ring->count == ring->cap) {
        ring->head = (ring->head + 1) % ring->cap;
        ring->count--;
        ring->dropped++;
        dropped = 1;
    }
    ring->slots[(ring->head + ring->count) % ring->cap] = *r;
    ring->count++;
    return dropped;
}

const struct mdx_edge_reading *mdx_edge_ring_peek(const struct mdx_edge_ring *ring, uint32_t i)
{
    if (i >= ring->count) {
        return NULL;
    }
    return &ring->slots[(ring->head + i) % ring->cap];
}

void mdx_edge_ring_pop(struct mdx_edge_ring *ring, uint32_t n)
{
    if (n >= ring->count) {
        ring->head = 0;
        ring->count = 0;
        return;
    }
    ring->head = (ring->head + n) % ring->cap;
    ring->count -= n;
}
