/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_chunk.c - the store's chunk codec: round trips, appends after a
 * load, and damaged blobs (which must give MDX_ECORRUPT, never a read
 * past the end: run under ASan).
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modax/alloc.h"
#include "modax/msg.h"
#include "modax/status.h"
#include "store/chunk.h"

#define N_MAX 2048

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static double rnd_double(void)
{
    uint64_t b = rnd();
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

/* Bitwise comparison, so NaN payloads and -0.0 count too. */
static int same_value(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Encodes pts[0..n), decodes and compares everything. Returns non-zero if equal. */
static int round_trip(const struct mdx_chunk_point *pts, size_t n)
{
    static struct mdx_chunk_point out[N_MAX];
    struct mdx_chunk c;
    size_t got = 0;
    int ok = 1;

    mdx_chunk_init(&c);
    for (size_t i = 0; i < n; i++) {
        if (mdx_chunk_append(&c, pts[i].ts_ms, pts[i].value, pts[i].flags) != MDX_OK) {
            ok = 0;
            goto done;
        }
    }
    if (c.n != n || (n > 0 && (c.t_start != pts[0].ts_ms || c.t_end != pts[n - 1].ts_ms))) {
        ok = 0;
        goto done;
    }
    if (mdx_chunk_decode(c.data, c.len, c.t_start, out, N_MAX, &got) != MDX_OK || got != n) {
        ok = 0;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (out[i].ts_ms != pts[i].ts_ms || !same_value(out[i].value, pts[i].value) ||
            out[i].flags != pts[i].flags) {
            ok = 0;
        }
    }
done:
    mdx_chunk_fini(&c);
    return ok;
}

static void chunk_round_trips_realistic_series(void)
{
    static struct mdx_chunk_point pts[512];
    int64_t ts = 1760000000000LL;
    double v = 21.5;

    for (size_t i = 0; i < 512; i++) {
        ts += 1000 + (int64_t)(rnd() % 21) - 10; /* 1 Hz with jitter */
        v += ((double)(rnd() % 201) - 100.0) / 1000.0;
        pts[i].ts_ms = ts;
        pts[i].value = round(v * 100.0) / 100.0;
        pts[i].flags = 0;
    }
    CHECK(round_trip(pts, 512));
}

static void chunk_round_trips_random_bits_and_gaps(void)
{
    static struct mdx_chunk_point pts[N_MAX];

    for (int round = 0; round < 50; round++) {
        int64_t ts = (int64_t)(rnd() >> 2) - (INT64_C(1) << 61);
        size_t n = 1 + rnd() % N_MAX;

        for (size_t i = 0; i < n; i++) {
            pts[i].ts_ms = ts;
            pts[i].value = rnd_double();
            pts[i].flags = (uint8_t)(rnd() & MDX_POINT_TS_SUBSTITUTED);
            ts += 1 + (int64_t)(rnd() % (round % 2 ? 3u : 100000000u));
        }
        CHECK(round_trip(pts, n));
    }
}

static void chunk_round_trips_constant_values_compactly(void)
{
    static struct mdx_chunk_point pts[512];
    struct mdx_chunk c;

    for (size_t i = 0; i < 512; i++) {
        pts[i].ts_ms = 1760000000000LL + (int64_t)i * 1000;
        pts[i].value = 42.0;
        pts[i].flags = 0;
    }
    CHECK(round_trip(pts, 512));

    mdx_chunk_init(&c);
    for (size_t i = 0; i < 512; i++) {
        CHECK_EQ_INT(mdx_chunk_append(&c, pts[i].ts_ms, pts[i].value, 0), MDX_OK);
    }
    /* Regular ts and equal values: 2 bytes per point after the first. */
    CHECK(c.len <= 1 + 11 + 2 * 511 + 2);
    mdx_chunk_fini(&c);
}

static void chunk_round_trips_extreme_timestamps(void)
{
    struct mdx_chunk_point pts[6] = {
        {INT64_MIN, 0.0, 0},
        {INT64_MIN + 1, -0.0, MDX_POINT_TS_SUBSTITUTED},
        {-1, INFINITY, 0},
        {0, -INFINITY, MDX_POINT_TS_SUBSTITUTED},
        {INT64_MAX - 1, NAN, 0},
        {INT64_MAX, 1e308, 0},
    };

    CHECK(round_trip(pts, 6));
    CHECK(round_trip(pts + 4, 2));
    CHECK(round_trip(pts, 1));
    CHECK(round_trip(pts, 0));
}

static void chunk_keeps_flags_of_first_and_later_points(void)
{
    struct mdx_chunk_point pts[4] = {
        {1000, 1.0, MDX_POINT_TS_SUBSTITUTED},
        {2000, 1.0, 0},
        {3000, 1.0, MDX_POINT_TS_SUBSTITUTED},
        {4000, 2.5, MDX_POINT_TS_SUBSTITUTED},
    };

    CHECK(round_trip(pts, 4));
}

static void chunk_refuses_points_not_after_the_end(void)
{
    struct mdx_chunk c;

    mdx_chunk_init(&c);
    CHECK_EQ_INT(mdx_chunk_append(&c, 5000, 1.0, 0), MDX_OK);
    CHECK_EQ_INT(mdx_chunk_append(&c, 5000, 2.0, 0), MDX_EINVAL);
    CHECK_EQ_INT(mdx_chunk_append(&c, 4000, 2.0, 0), MDX_EINVAL);
    CHECK_EQ_INT(c.n, 1);
    mdx_chunk_reset(&c);
    CHECK_EQ_INT(mdx_chunk_append(&c, 4000, 2.0, 0), MDX_OK);
    CHECK_EQ_INT(c.t_start, 4000);
    mdx_chunk_fini(&c);
    mdx_chunk_fini(&c); /* twice is harmless */
}

static void chunk_load_then_append_equals_one_encoding(void)
{
    struct mdx_chunk a, b;
    int64_t ts = 1760000000000LL;

    mdx_chunk_init(&a);
    mdx_chunk_init(&b);
    for (int i = 0; i < 300; i++) {
        ts += 900 + (int64_t)(rnd() % 200);
        double v = (double)(rnd() % 10000) / 100.0;
        unsigned fl = (unsigned)(rnd() & 1);
        CHECK_EQ_INT(mdx_chunk_append(&a, ts, v, fl), MDX_OK);
        if (i == 150) {
            CHECK_EQ_INT(mdx_chunk_load(&b, a.t_start, a.data, a.len), MDX_OK);
            CHECK_EQ_INT(b.n, a.n);
            CHECK_EQ_INT(b.t_end, a.t_end);
        } else if (i > 150) {
            CHECK_EQ_INT(mdx_chunk_append(&b, ts, v, fl), MDX_OK);
        }
    }
    CHECK_EQ_INT(a.len, b.len);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    mdx_chunk_fini(&a);
    mdx_chunk_fini(&b);
}

static void chunk_decode_reports_small_output(void)
{
    struct mdx_chunk c;
    struct mdx_chunk_point out[2];
    size_t n = 99;

    mdx_chunk_init(&c);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(mdx_chunk_append(&c, i, (double)i, 0), MDX_OK);
    }
    CHECK_EQ_INT(mdx_chunk_decode(c.data, c.len, c.t_start, out, 2, &n), MDX_EFULL);
    CHECK_EQ_INT(n, 0);
    mdx_chunk_fini(&c);
}

/* Decodes a damaged copy in an exactly sized heap block so ASan sees any overread. */
static int decode_damaged(const uint8_t *src, size_t len, int64_t t_start)
{
    static struct mdx_chunk_point out[N_MAX];
    struct mdx_chunk c;
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    size_t n;
    int rc, rc2;

    memcpy(copy, src, len);
    rc = mdx_chunk_decode(copy, len, t_start, out, N_MAX, &n);
    mdx_chunk_init(&c);
    rc2 = mdx_chunk_load(&c, t_start, copy, len);
    mdx_chunk_fini(&c);
    free(copy);
    if (rc != rc2) {
        return -100;
    }
    return rc;
}

static void chunk_truncated_blobs_are_corrupt_or_shorter(void)
{
    struct mdx_chunk c;
    int64_t ts = 1760000000000LL;
    int bad = 0;

    mdx_chunk_init(&c);
    for (int i = 0; i < 200; i++) {
        ts += 1 + (int64_t)(rnd() % 5000000);
        CHECK_EQ_INT(mdx_chunk_append(&c, ts, rnd_double(), 0), MDX_OK);
    }
    for (size_t len = 0; len < c.len; len++) {
        int rc = decode_damaged(c.data, len, c.t_start);
        if (rc != MDX_OK && rc != MDX_ECORRUPT) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* The last point cut in the middle must not decode as complete. */
    CHECK_EQ_INT(decode_damaged(c.data, c.len - 1, c.t_start), MDX_ECORRUPT);
    mdx_chunk_fini(&c);
}

static void chunk_damaged_bytes_never_overread(void)
{
    struct mdx_chunk c;
    uint8_t buf[4096];
    int64_t ts = 0;
    int bad = 0, corrupt = 0;

    mdx_chunk_init(&c);
    for (int i = 0; i < 150; i++) {
        ts += 1 + (int64_t)(rnd() % 2000);
        CHECK_EQ_INT(mdx_chunk_append(&c, ts, (double)(rnd() % 1000) / 10.0, 0), MDX_OK);
    }
    CHECK(c.len <= sizeof(buf));
    for (int round = 0; round < 5000; round++) {
        memcpy(buf, c.data, c.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            buf[rnd() % c.len] = (uint8_t)rnd();
        }
        int rc = decode_damaged(buf, c.len, c.t_start);
        if (rc == MDX_ECORRUPT) {
            corrupt++;
        } else if (rc != MDX_OK) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(corrupt > 0);
    /* Hand-made bad blobs. */
    const uint8_t wrong_format[] = {9, 0x08, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t long_varint[] = {MDX_CHUNK_FORMAT, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t bad_ctrl[] = {MDX_CHUNK_FORMAT, 0x09, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    const uint8_t lead_too_big[] = {MDX_CHUNK_FORMAT, 0x08, 0, 1, 2, 3, 4, 5, 6, 7, 8,
                                    2, 0x72, 1, 2};
    const uint8_t ts_backwards[] = {MDX_CHUNK_FORMAT, 0x08, 0, 1, 2, 3, 4, 5, 6, 7, 8,
                                    1, 0x00};
    CHECK_EQ_INT(decode_damaged(wrong_format, sizeof(wrong_format), 0), MDX_ECORRUPT);
    CHECK_EQ_INT(decode_damaged(long_varint, sizeof(long_varint), 0), MDX_ECORRUPT);
    CHECK_EQ_INT(decode_damaged(bad_ctrl, sizeof(bad_ctrl), 0), MDX_ECORRUPT);
    CHECK_EQ_INT(decode_damaged(lead_too_big, sizeof(lead_too_big), 0), MDX_ECORRUPT);
    CHECK_EQ_INT(decode_damaged(ts_backwards, sizeof(ts_backwards), 0), MDX_ECORRUPT);
    mdx_chunk_fini(&c);
}

static void chunk_append_failure_leaves_chunk_unchanged(void)
{
    struct mdx_chunk c;

    mdx_chunk_init(&c);
    mdx_alloc_fail_after(0);
    CHECK_EQ_INT(mdx_chunk_append(&c, 1, 1.0, 0), MDX_ENOMEM);
    mdx_alloc_fail_after(-1);
    CHECK_EQ_INT(c.n, 0);
    CHECK(round_trip((const struct mdx_chunk_point[]){{1, 1.0, 0}}, 1));
    mdx_chunk_fini(&c);
}

/* Decimal readings as devices send them ("45.27") take the decimal encoding, exactly. */
static void chunk_stores_decimal_readings_compactly_and_exactly(void)
{
    static struct mdx_chunk_point pts[1000];
    static const char *const odd[] = {"-0.0", "0.1", "1e-300", "123456.7", "-3.001",
                                      "1e22", "9007199254740993", "0.30000000000000004"};
    struct mdx_chunk c;
    double level = 45.0;

    for (int i = 0; i < 1000; i++) {
        char text[32];
        level += (double)((int)(rnd() % 21) - 10) / 100.0;
        snprintf(text, sizeof(text), "%.2f", level);
        pts[i].ts_ms = 1700000000000LL + i * 1000;
        pts[i].value = strtod(text, NULL); /* exactly what a JSON parser gives */
        pts[i].flags = (i % 97 == 0) ? MDX_POINT_TS_SUBSTITUTED : 0;
    }
    CHECK(round_trip(pts, 1000));
    mdx_chunk_init(&c);
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(mdx_chunk_append(&c, pts[i].ts_ms, pts[i].value, pts[i].flags), MDX_OK);
    }
    CHECK(c.len < 3 * 1000 + 16); /* ts 1 byte, control 1, difference 1 */
    mdx_chunk_fini(&c);
    /* Values that are not short decimals, mixed in, still round-trip bit for bit. */
    for (int i = 0; i < 1000; i++) {
        if (i % 3 == 0) {
            pts[i].value = strtod(odd[(i / 3) % 8], NULL);
        } else if (i % 7 == 0) {
            pts[i].value = rnd_double();
        }
    }
    CHECK(round_trip(pts, 1000));
}

static const struct mdx_test tests[] = {
    {"chunk stores decimal readings compactly and exactly",
     chunk_stores_decimal_readings_compactly_and_exactly},
    {"chunk round-trips a realistic 1 Hz series", chunk_round_trips_realistic_series},
    {"chunk round-trips random bits and gaps", chunk_round_trips_random_bits_and_gaps},
    {"chunk stores constant values compactly", chunk_round_trips_constant_values_compactly},
    {"chunk round-trips extreme timestamps and values", chunk_round_trips_extreme_timestamps},
    {"chunk keeps flags of first and later points", chunk_keeps_flags_of_first_and_later_points},
    {"chunk refuses points not after its end", chunk_refuses_points_not_after_the_end},
    {"chunk load then append equals one encoding", chunk_load_then_append_equals_one_encoding},
    {"chunk decode reports a too small output", chunk_decode_reports_small_output},
    {"chunk truncated blobs are corrupt, never overread",
     chunk_truncated_blobs_are_corrupt_or_shorter},
    {"chunk damaged bytes never overread", chunk_damaged_bytes_never_overread},
    {"chunk append failure leaves the chunk unchanged",
     chunk_append_failure_leaves_chunk_unchanged},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
