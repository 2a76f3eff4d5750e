/* SPDX-License-Identifier: Apache-2.0 */
/*
 * payload.h - JSON payloads of the edge agent, written into fixed buffers.
 *
 * Two telemetry forms (see docs/DESIGN.md, Topics and payloads):
 *   cloud: {"device_id":"m-0001","timestamp":<ms>,"sensor_data":{"current_mean":..,..}}
 *   field: {"timestamp":<ms>,"device_id":..,"motor_currents":[a,b],
 *           "vibration":{"x":..,"y":..,"z":..,"magnitude":..},"temperatures":[t]}
 * and a batch: a JSON array of readings of one form; also the safety
 * message and the answer to a command (command_ack). A sensor group that
 * was not read (dropout) is left out. Numbers are printed with %.3f; a
 * non-finite value is refused rather than printed.
 *
 * Writers append to a struct mdx_payload whose status is sticky: the
 * first failure (buffer too small, non-finite value) sticks and later
 * appends do nothing, so callers check once at the end.
 */
#ifndef MODAX_EDGE_PAYLOAD_H
#define MODAX_EDGE_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "reading.h"

/* Room one reading needs at most, in either form, with a separator. */
#define MDX_PAYLOAD_READING_MAX 640

enum mdx_edge_form {
    MDX_EDGE_FORM_CLOUD, /* {"device_id":..,"timestamp":..,"sensor_data":{..}} */
    MDX_EDGE_FORM_FIELD  /* the original ESP32 firmware form */
};

struct mdx_safety_state {
    uint8_t emergency_stop;
    uint8_t door_closed;
    uint8_t overload_detected;
    uint8_t temperature_ok;
};

struct mdx_payload {
    char *buf;  /* borrowed; always NUL-terminated once initialised */
    size_t cap; /* bytes in buf, including the NUL */
    size_t len; /* bytes written, without the NUL */
    int status; /* MDX_OK, MDX_EFULL or MDX_EINVAL; sticky */
};

/* Starts an empty payload over 'buf' (borrowed, 'cap' bytes, cap >= 1). */
void mdx_payload_init(struct mdx_payload *pl, char *buf, size_t cap);

/* Appends the literal text 's' (for "[", "," and "]"). */
void mdx_payload_text(struct mdx_payload *pl, const char *s);

/* Appends reading 'r' of 'device_id' as one JSON object in 'form'. */
void mdx_payload_reading(struct mdx_payload *pl, enum mdx_edge_form form, const char *device_id,
                         const struct mdx_edge_reading *r);

/*
 * Writes 'r' as one JSON object into 'buf'. Returns the length (without
 * the NUL), or MDX_EFULL / MDX_EINVAL; 'buf' is NUL-terminated either way.
 */
int mdx_payload_encode(enum mdx_edge_form form, const char *device_id,
                       const struct mdx_edge_reading *r, char *buf, size_t cap);

/* Writes the 'n' readings of 'rs' as a JSON array. Returns as mdx_payload_encode(). */
int mdx_payload_encode_batch(enum mdx_edge_form form, const char *device_id,
                             const struct mdx_edge_reading *rs, size_t n, char *buf, size_t cap);

/*
 * Writes a safety message {"emergency_stop":..,"door_closed":..,
 * "overload_detected":..,"temperature_ok":..,"timestamp":..}. Returns as
 * mdx_payload_encode().
 */
int mdx_payload_encode_safety(const struct mdx_safety_state *s, int64_t ts_ms, char *buf,
                              size_t cap);

/*
 * Writes a device's answer to command 'command_id':
 *   {"device_id":..,"command_id":42,"status":"ok"} when 'detail' is NULL,
 *   {"device_id":..,"command_id":42,"status":"rejected","detail":"..."} else
 * ('detail' escaped as a JSON string). Returns as mdx_payload_encode().
 */
int mdx_payload_encode_ack(const char *device_id, int64_t command_id, const char *detail,
                           char *buf, size_t cap);

#endif
