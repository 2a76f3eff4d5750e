/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_detect_state.c - the detector's state as bytes (detect.h,
 * detect_state.c): a detector saved part-way and loaded into a fresh one
 * gives the very same scores on the points that follow, anomaly included;
 * the fixed fields are little endian at their documented offsets; and a
 * blob of another size, version, byte order or estimator layout, or a
 * truncated or empty one, is refused without touching the detector.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "modax/detect.h"
#include "modax/status.h"

#define T0 1700000000000LL

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}

/* A wave with noise, and a spike at point 'spike'. */
static double value(int i, int spike)
{
    double x = 50.0 + 5.0 * sin((double)i / 40.0) + (urand() - 0.5);

    return i == spike ? x + 40.0 : x;
}

static void round_trip_gives_identical_scores(void)
{
    struct mdx_detector a, b;
    uint8_t blob[MDX_DETECTOR_STATE_BYTES], again[MDX_DETECTOR_STATE_BYTES];
    const int cut = 2500, n = 4000, spike = 3000;
    int same = 1, alerted = 0;

    mdx_detector_init(&a);
    for (int i = 0; i < cut; i++) {
        mdx_detector_push(&a, T0 + (int64_t)i * 1000, value(i, spike));
    }
    mdx_detector_save(&a, blob);
    memset(&b, 0xa5, sizeof(b)); /* whatever was there before */
    CHECK_EQ_INT(mdx_detector_load(&b, blob, sizeof(blob)), MDX_OK);
    mdx_detector_save(&b, again);
    CHECK(memcmp(blob, again, sizeof(blob)) == 0);
    for (int i = cut; i < n; i++) {
        double x = value(i, spike);
        double sa = mdx_detector_push(&a, T0 + (int64_t)i * 1000, x);
        double sb = mdx_detector_push(&b, T0 + (int64_t)i * 1000, x);

        same &= sa == sb; /* bit for bit, not nearly */
        if (i == spike) {
            alerted = sa >= 0.9;
        }
    }
    CHECK(same);
    CHECK(alerted); /* the comparison covered a real anomaly */
    CHECK(memcmp(&a.view, &b.view, sizeof(a.view)) == 0);
    CHECK_EQ_INT(a.n, b.n);
}

static void fixed_fields_are_little_endian(void)
{
    struct mdx_detector d;
    uint8_t blob[MDX_DETECTOR_STATE_BYTES];

    mdx_detector_init(&d);
    for (int i = 0; i < 0x0102; i++) {
        mdx_detector_push(&d, T0 + (int64_t)i * 1000, 1.0 + (i % 7));
    }
    mdx_detector_save(&d, blob);
    CHECK(memcmp(blob, "MDXD", 4) == 0);
    CHECK_EQ_INT(blob[4] | blob[5] << 8, MDX_DETECTOR_STATE_VERSION);
    CHECK_EQ_INT(blob[7], MDX_ESTIMATORS);
    /* n at offset 20, last_ts at 28 */
    CHECK_EQ_INT(blob[20] | blob[21] << 8 | blob[22] << 16 | blob[23] << 24, 0x0102);
    {
        uint64_t ts = 0;
        for (int i = 0; i < 8; i++) {
            ts |= (uint64_t)blob[28 + i] << (8 * i);
        }
        CHECK_EQ_INT((int64_t)ts, d.last_ts);
    }
}

/* Loads 'blob' into a detector filled with a known pattern: refused, and left as it was. */
static void refused(const uint8_t *blob, size_t len)
{
    struct mdx_detector d, before;

    memset(&d, 0x3c, sizeof(d));
    before = d;
    CHECK_EQ_INT(mdx_detector_load(&d, blob, len), MDX_EINVAL);
    CHECK(memcmp(&d, &before, sizeof(d)) == 0);
}

static void wrong_size_version_or_layout_is_refused(void)
{
    struct mdx_detector d;
    uint8_t good[MDX_DETECTOR_STATE_BYTES + 1], bad[MDX_DETECTOR_STATE_BYTES + 1];

    mdx_detector_init(&d);
    for (int i = 0; i < 500; i++) {
        mdx_detector_push(&d, T0 + (int64_t)i * 1000, 10.0 + urand());
    }
    mdx_detector_save(&d, good);
    good[MDX_DETECTOR_STATE_BYTES] = 0;
    /* sizes: empty, one short, one long, NULL */
    refused(good, 0);
    refused(good, MDX_DETECTOR_STATE_BYTES - 1);
    refused(good, MDX_DETECTOR_STATE_BYTES + 1);
    refused(NULL, MDX_DETECTOR_STATE_BYTES);
    /* each header byte changed: magic, version, byte order, estimators, their sizes */
    for (int at = 0; at < 20; at++) {
        memcpy(bad, good, sizeof(bad));
        bad[at] ^= 0x40;
        refused(bad, MDX_DETECTOR_STATE_BYTES);
    }
    /* the next version of the format, which this build does not know */
    memcpy(bad, good, sizeof(bad));
    bad[4] = (uint8_t)(MDX_DETECTOR_STATE_VERSION + 1);
    refused(bad, MDX_DETECTOR_STATE_BYTES);
    /* the good one still loads */
    CHECK_EQ_INT(mdx_detector_load(&d, good, MDX_DETECTOR_STATE_BYTES), MDX_OK);
}

static const struct mdx_test tests[] = {
    {"a saved and loaded detector scores the following points identically",
     round_trip_gives_identical_scores},
    {"the fixed fields are little endian at their documented offsets",
     fixed_fields_are_little_endian},
    {"a state of the wrong size, version, byte order or layout is refused untouched",
     wrong_size_version_or_layout_is_refused},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
