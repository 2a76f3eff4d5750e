/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_ring.c - the store-and-forward ring keeps order, stays within
 * its bounds, and drops (and counts) the oldest when full.
 */
#include "check.h"
#include "ring.h"

static struct mdx_edge_reading at(int64_t ts)
{
    struct mdx_edge_reading r = {.ts_ms = ts};
    return r;
}

static void keeps_order(void)
{
    struct mdx_edge_reading slots[4];
    struct mdx_edge_ring ring;

    mdx_edge_ring_init(&ring, slots, 4);
    CHECK(mdx_edge_ring_peek(&ring, 0) == NULL);
    CHECK_EQ_INT(mdx_edge_ring_push(&ring, &(struct mdx_edge_reading){.ts_ms = 1}), 0);
    CHECK_EQ_INT(mdx_edge_ring_push(&ring, &(struct mdx_edge_reading){.ts_ms = 2}), 0);
    CHECK_EQ_INT(ring.count, 2);
    CHECK_EQ_INT(mdx_edge_ring_peek(&ring, 0)->ts_ms, 1);
    CHECK_EQ_INT(mdx_edge_ring_peek(&ring, 1)->ts_ms, 2);
    CHECK(mdx_edge_ring_peek(&ring, 2) == NULL);
    mdx_edge_ring_pop(&ring, 1);
    CHECK_EQ_INT(mdx_edge_ring_peek(&ring, 0)->ts_ms, 2);
    CHECK_EQ_INT(ring.dropped, 0);
}

static void overflow_drops_oldest_and_counts(void)
{
    struct mdx_edge_reading slots[5];
    struct mdx_edge_ring ring;
    struct mdx_edge_reading r;
    int i, dropped = 0;

    mdx_edge_ring_init(&ring, slots, 5);
    for (i = 1; i <= 12; i++) {
        r = at(i);
        dropped += mdx_edge_ring_push(&ring, &r);
    }
    CHECK_EQ_INT(ring.count, 5);
    CHECK_EQ_INT(dropped, 7);
    CHECK_EQ_INT(ring.dropped, 7);
    for (i = 0; i < 5; i++) {
        CHECK_EQ_INT(mdx_edge_ring_peek(&ring, (uint32_t)i)->ts_ms, 8 + i); /* newest five */
    }
}

static void wraps_around_many_times(void)
{
    struct mdx_edge_reading slots[3];
    struct mdx_edge_ring ring;
    struct mdx_edge_reading r;
    int64_t next = 0, expect = 0;
    int round, ok = 1;

    mdx_edge_ring_init(&ring, slots, 3);
    for (round = 0; round < 100; round++) {
        r = at(next++);
        mdx_edge_ring_push(&ring, &r);
        r = at(next++);
        mdx_edge_ring_push(&ring, &r);
        ok = ok && mdx_edge_ring_peek(&ring, 0)->ts_ms == expect;
        mdx_edge_ring_pop(&ring, 2);
        expect += 2;
    }
    CHECK(ok);
    CHECK_EQ_INT(ring.count, 0);
    CHECK_EQ_INT(ring.dropped, 0);
}

static void pop_more_than_held_empties(void)
{
    struct mdx_edge_reading slots[3];
    struct mdx_edge_ring ring;
    struct mdx_edge_reading r = at(1);

    mdx_edge_ring_init(&ring, slots, 3);
    mdx_edge_ring_push(&ring, &r);
    mdx_edge_ring_pop(&ring, 10);
    CHECK_EQ_INT(ring.count, 0);
    mdx_edge_ring_push(&ring, &r);
    CHECK_EQ_INT(ring.count, 1);
}

static void zero_capacity_drops_everything(void)
{
    struct mdx_edge_ring ring;
    struct mdx_edge_reading r = at(1);

    mdx_edge_ring_init(&ring, NULL, 0);
    CHECK_EQ_INT(mdx_edge_ring_push(&ring, &r), 1);
    CHECK_EQ_INT(ring.count, 0);
    CHECK_EQ_INT(ring.dropped, 1);
}

static const struct mdx_test tests[] = {
    {"ring keeps order", keeps_order},
    {"overflow drops the oldest and counts", overflow_drops_oldest_and_counts},
    {"ring wraps around many times", wraps_around_many_times},
    {"popping more than held empties the ring", pop_more_than_held_empties},
    {"zero capacity drops everything", zero_capacity_drops_everything},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
