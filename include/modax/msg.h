/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msg.h - what flows between the stages: a received message, the points
 * decoded from it, and the events (safety, status) it may carry.
 */
#ifndef MODAX_MSG_H
#define MODAX_MSG_H

#include <stddef.h>
#include <stdint.h>

#define MDX_NAME_MAX 64            /* tenant, device and sensor names: at most 64 bytes */
#define MDX_SENSORS_PER_READING 256 /* at most this many sensors in one reading */
#define MDX_EVENT_BODY_MAX 1024    /* stored body of a safety or status event */

enum mdx_msg_kind {
    MDX_MSG_SENSOR_DATA = 0, /* modax/{tenant}/{device}/sensor_data */
    MDX_MSG_SAFETY,          /* .../safety */
    MDX_MSG_STATUS,          /* .../status */
    MDX_MSG_COMMAND_ACK      /* .../command_ack */
};

/* Name of a kind as in the topic ("sensor_data"...). */
const char *mdx_msg_kind_name(enum mdx_msg_kind kind);

/* One received message. Borrowed pointers: valid for the duration of the call it is passed to. */
struct mdx_msg {
    const char *topic;
    const uint8_t *payload;
    size_t len;
    int64_t recv_ms;                /* when the ingest received it (epoch ms) */
    /* Filled by mdx_validate_topic(): */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    enum mdx_msg_kind kind;
};

/* The timestamp was implausible (device without clock); receive time was stored instead. */
#define MDX_POINT_TS_SUBSTITUTED 0x01u

struct mdx_point {
    int64_t ts_ms;                  /* epoch milliseconds */
    double value;
    uint8_t flags;                  /* MDX_POINT_* */
    uint8_t sensor_len;
    char sensor[MDX_NAME_MAX + 1];  /* NUL-terminated */
};

/* A bounded list of points; 'cap' is fixed by whoever owns 'v'. */
struct mdx_points {
    struct mdx_point *v;
    size_t n;
    size_t cap;
};

/* A safety or status event. */
struct mdx_event {
    enum mdx_msg_kind kind;
    int64_t ts_ms;                  /* from the payload, or receive time */
    uint8_t flags;                  /* MDX_POINT_TS_SUBSTITUTED when receive time was used */
    char body[MDX_EVENT_BODY_MAX];  /* compact JSON of the event, NUL-terminated */
    /* command_ack only (issue 5): which command, and what the device said. */
    int64_t command_id;             /* > 0 */
    int command_ok;                 /* 1 "ok", 0 "rejected" */
};

#endif
