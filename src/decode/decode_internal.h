/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode_internal.h - helpers shared by the files of src/decode/.
 *
 * Not an interface: only the decoders include it. The helpers hold the
 * rules every payload form shares (parsing, device_id, timestamp, how a
 * value becomes a point), so that each form applies them the same way.
 */
#ifndef MODAX_DECODE_INTERNAL_H
#define MODAX_DECODE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "modax/decode.h"

/*
 * One reading (one timestamp, up to MDX_SENSORS_PER_READING sensors)
 * being appended to 'out'. Lives on the caller's stack.
 */
struct mdx_reading {
    struct mdx_points *out; /* borrowed */
    size_t first;           /* index in out->v of the reading's first point */
    size_t members;         /* sensors seen so far, duplicates included */
    int64_t ts_ms;          /* raw timestamp of the payload; 0 when absent */
};

/*
 * Parses exactly 'len' bytes at 'p' (not NUL-terminated) as one JSON value
 * with nothing but whitespace after it. Checks emptiness and UTF-8 first.
 * On MDX_OK the caller owns *root and frees it with cJSON_Delete().
 */
int mdx_decode_parse(const uint8_t *p, size_t len, cJSON **root, const char **why);

/* Checks the optional "device_id" of 'obj': a string equal to msg->device. */
int mdx_decode_device(const cJSON *obj, const struct mdx_msg *msg, const char **why);

/*
 * Reads the optional "timestamp" of 'obj': an integral JSON number of
 * epoch milliseconds, kept raw (the clock rule is validate's). Absent
 * gives *ts_ms = 0 and *present = 0.
 */
int mdx_decode_timestamp(const cJSON *obj, int64_t *ts_ms, int *present, const char **why);

/*
 * The head of a reading object 'obj': checks its "device_id", reads its
 * "timestamp" and starts 'r' with it at the end of 'out'. MDX_OK, or
 * MDX_EINVAL with *why.
 */
int mdx_reading_open(struct mdx_reading *r, const cJSON *obj, const struct mdx_msg *msg,
                     struct mdx_points *out, const char **why);

/*
 * Appends sensor 'name' (length 'len', not necessarily NUL-terminated)
 * with JSON value 'value' to the reading. A sensor already in this
 * reading is skipped: the first occurrence wins. 'value' is type-checked
 * even then.
 */
int mdx_reading_add(struct mdx_reading *r, const char *name, size_t len, const cJSON *value,
                    const char **why);

/* Finishes a reading; a reading without any sensor is refused. */
int mdx_reading_end(const struct mdx_reading *r, const char **why);

#endif
