/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.h - the validate stage: topic, names, numbers and clocks.
 *
 * Pure functions, no I/O. Registration of tenant and device is checked by
 * the engine against the registry (see registry.h), not here.
 */
#ifndef MODAX_VALIDATE_H
#define MODAX_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/msg.h"

/* Earliest plausible device timestamp: 2000-01-01T00:00:00Z. */
#define MDX_TS_MIN_MS 946684800000LL
/*
 * Largest accepted |value| of a point. A bucket of a range query holds at
 * most one point per millisecond of its step (at most 2^50 ms, the store's
 * bound), so its sum stays below 2^50 * 1e290 < 1.2e305 and the average
 * (sum / count) never overflows to inf (issue 16).
 */
#define MDX_VALUE_ABS_MAX 1e290
/* A timestamp more than this far ahead of receive time is implausible. */
#define MDX_TS_MAX_AHEAD_MS (5LL * 60 * 1000)

/*
 * Splits "modax/{tenant}/{device}/{kind}" into msg->tenant, msg->device and
 * msg->kind. Segments must match [A-Za-z0-9_-]{1,64}. Returns MDX_OK or
 * MDX_EINVAL with *why set.
 */
int mdx_validate_topic(const char *topic, struct mdx_msg *msg, const char **why);

/* Non-zero if 's' (length n) is a valid name segment: [A-Za-z0-9_-]{1,64}. */
int mdx_valid_segment(const char *s, size_t n);
/* Non-zero if 's' (length n) is a valid sensor name: [a-z0-9_]{1,64}. */
int mdx_valid_sensor(const char *s, size_t n);
/* Non-zero if 'p' (length n) is well-formed UTF-8 (no overlongs, no surrogates). */
int mdx_valid_utf8(const uint8_t *p, size_t n);

/*
 * Checks decoded points: finite values within +-MDX_VALUE_ABS_MAX
 * ("value out of range"), sensor names, and replaces
 * implausible timestamps (before 2000 or more than 5 minutes after
 * 'recv_ms') by 'recv_ms', setting MDX_POINT_TS_SUBSTITUTED. Returns
 * MDX_OK or MDX_EINVAL with *why set (the whole message is refused).
 */
int mdx_validate_points(struct mdx_points *pts, int64_t recv_ms, const char **why);

/* Applies the same clock rule to one timestamp; returns non-zero if it was substituted. */
int mdx_validate_clock(int64_t *ts_ms, int64_t recv_ms);

#endif
