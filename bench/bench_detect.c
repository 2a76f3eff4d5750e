/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_detect.c - points per second through the anomaly detector on one
 * core, and the bytes of state per series. Interleaves many series as the
 * live pipeline does (each point touches a different detector), over
 * realistic values generated beforehand.
 *   detect: series=… points=… points_per_s=… ns_per_point=… bytes_per_series=…
 * Options: --series N (10000), --points N per series (2000).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/alloc.h"
#include "bench_util.h"
#include "modax/clock.h"
#include "modax/detect.h"

int main(int argc, char **argv)
{
    long series = 10000, points = 2000;
    struct mdx_detector *det;
    double *values, checksum = 0.0;
    uint64_t rng = 0x2545F4914F6CDD1DULL;
    int64_t t0, t1;

    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--series") == 0) {
            series = bench_parse_num(argv[++i], 1, 10000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--points") == 0) {
            points = bench_parse_num(argv[++i], 1, 100000000);
        } else {
            series = -1;
        }
    }
    if (series <= 0 || points <= 0) {
        fprintf(stderr, "usage: bench_detect [--series N] [--points N]\n");
        return 2;
    }
    det = mdx_calloc((size_t)series, sizeof(*det));
    values = mdx_calloc((size_t)points * 16, sizeof(*values)); /* a pool of values, reused */
    if (det == NULL || values == NULL) {
        fprintf(stderr, "bench_detect: out of memory\n");
        return 1;
    }
    for (long i = 0; i < points * 16; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        /* temperature-like: a slow wave, noise, rare spikes */
        values[i] = 45.0 + 5.0 * sin((double)i / 500.0) + (double)(rng >> 40) / 8388608.0 - 1.0 +
                    ((rng & 0xfff) == 0 ? 10.0 : 0.0);
    }
    for (long s = 0; s < series; s++) {
        mdx_detector_init(&det[s]);
    }
    t0 = mdx_mono_us();
    for (long p = 0; p < points; p++) {
        int64_t ts = 1700000000000LL + p * 1000;
        for (long s = 0; s < series; s++) {
            checksum += mdx_detector_push(&det[s], ts, values[(p * 16 + (s & 15)) % (points * 16)]);
        }
    }
    t1 = mdx_mono_us();
    {
        double n = (double)series * (double)points, secs = (double)(t1 - t0) / 1e6;
        printf("detect: series=%ld points=%.0f points_per_s=%.0f ns_per_point=%.1f "
               "bytes_per_series=%zu checksum=%.3f\n",
               series, n, n / secs, secs * 1e9 / n, sizeof(struct mdx_detector), checksum);
    }
    mdx_free(det);
    mdx_free(values);
    return 0;
}
