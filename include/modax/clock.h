/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.h - wall and monotonic clocks in milliseconds and microseconds.
 */
#ifndef MODAX_CLOCK_H
#define MODAX_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC). */
int64_t mdx_now_ms(void);
/* Monotonic microseconds, for durations only. */
int64_t mdx_mono_us(void);
/*
 * For work done every 'period_us': 1 when monotonic 'now_us' has reached
 * '*next_us', which then moves to now_us + period_us; else 0.
 */
int mdx_due(int64_t now_us, int64_t *next_us, int64_t period_us);
/* Sleeps 'ms' milliseconds (restarts after signals). */
void mdx_sleep_ms(int64_t ms);
/* Formats epoch ms as "2026-11-27T08:15:00.123Z" into buf (>= 25 bytes). */
void mdx_format_iso_ms(int64_t ms, char *buf, unsigned len);
/* Parses "YYYY-MM-DD HH:MM:SS[.mmm]" / "YYYY-MM-DDTHH:MM:SS[.mmm][Z]" (UTC) or epoch ms digits. */
int mdx_parse_time_ms(const char *s, int64_t *out);

/* a / b rounded down (toward minus infinity), so times before 1970 land on the right day. */
int64_t mdx_floor_div(int64_t a, int64_t b);

#endif
