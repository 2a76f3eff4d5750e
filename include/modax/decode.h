/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode.h - the decode stage: payload bytes to points or events.
 *
 * mdx_decode() parses the JSON once and hands the root to the first
 * decoder in its table whose matches() accepts it. A decoder never
 * allocates per point: it appends to the caller's bounded mdx_points.
 * On refusal it returns MDX_EINVAL and sets *why to a static string,
 * which is what the dead letter records and the counters count.
 */
#ifndef MODAX_DECODE_H
#define MODAX_DECODE_H

#include "modax/msg.h"

struct cJSON;

struct mdx_decoder {
    const char *name;
    /* Non-zero when 'root' has this decoder's shape. */
    int (*matches)(const struct cJSON *root);
    /* Appends the points of 'root' to 'out'. Timestamps are raw (see mdx_validate_points). */
    int (*decode)(const struct cJSON *root, const struct mdx_msg *msg, struct mdx_points *out,
                  const char **why);
};

extern const struct mdx_decoder mdx_decoder_cloud;
extern const struct mdx_decoder mdx_decoder_field;
extern const struct mdx_decoder mdx_decoder_batch;

/*
 * Decodes the telemetry payload of 'msg' into 'out' (appending). Checks
 * emptiness, UTF-8 and JSON syntax, then dispatches. Returns MDX_OK,
 * MDX_EINVAL (bad input, *why set) or MDX_ENOMEM.
 */
int mdx_decode(const struct mdx_msg *msg, struct mdx_points *out, const char **why);

/*
 * Decodes a dispatching helper for decode_batch: the first non-batch
 * decoder that matches 'item' decodes it.
 */
int mdx_decode_item(const struct cJSON *item, const struct mdx_msg *msg, struct mdx_points *out,
                    const char **why);

/*
 * Decodes a safety or status payload into 'ev'. Safety: a JSON object
 * whose known keys (emergency_stop, door_closed, overload_detected,
 * temperature_ok) are booleans, optional "timestamp". Status: a JSON
 * object or the bare words online/offline. Returns MDX_OK or MDX_EINVAL.
 */
int mdx_decode_event(const struct mdx_msg *msg, struct mdx_event *ev, const char **why);

#endif
