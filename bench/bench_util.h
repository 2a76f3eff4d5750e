/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_util.h - what the benchmark programs share: a monotonic clock in
 * seconds and a fixed-seed xorshift generator, so every run loads the
 * same data, and a strict number parser for options.
 */
#ifndef MODAX_BENCH_UTIL_H
#define MODAX_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bench_rng_ = 88172645463325252ull;

/* The next 64 random bits (xorshift64). */
static inline uint64_t rnd(void)
{
    bench_rng_ ^= bench_rng_ << 13;
    bench_rng_ ^= bench_rng_ >> 7;
    bench_rng_ ^= bench_rng_ << 17;
    return bench_rng_;
}

/* Uniform in [0, 1). */
static inline double rnd_unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* The whole of 's' as a whole number in [lo, hi], or -1. */
static inline long bench_parse_num(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    return (end == s || *end != '\0' || v < lo || v > hi) ? -1 : v;
}

#endif
