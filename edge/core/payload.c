/* SPDX-License-Identifier: Apache-2.0 */
/*
 * payload.c - JSON payloads of the edge agent; see payload.h.
 *
 * Built with snprintf into the caller's buffer: no heap, no JSON library,
 * so the same code runs on a microcontroller. Device ids are checked by
 * the agent at start-up to need no escaping; they are printed as given.
 */
#include "payload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"

void mdx_payload_init(struct mdx_payload *pl, char *buf, size_t cap)
{
    pl->buf = buf;
    pl->cap = cap;
    pl->len = 0;
    pl->status = MDX_OK;
    if (cap > 0) {
        buf[0] = '\0';
    } else {
        pl->status = MDX_EFULL;
    }
}

static void append(struct mdx_payload *pl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void append(struct mdx_payload *pl, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room;

    if (pl->status != MDX_OK) {
        return;
    }
    room = pl->cap - pl->len;
    va_start(ap, fmt);
    n = vsnprintf(pl->buf + pl->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        pl->buf[pl->len] = '\0'; /* drop the partial piece */
        pl->status = MDX_EFULL;
        return;
    }
    pl->len += (size_t)n;
}

/* Appends "name":value with 3 decimals; refuses NaN and infinities. */
static void number(struct mdx_payload *pl, const char *name, float v)
{
    if (!isfinite(v)) {
        if (pl->status == MDX_OK) {
            pl->status = MDX_EINVAL;
        }
        return;
    }
    if (name != NULL) {
        append(pl, "\"%s\":%.3f", name, (double)v);
    } else {
        append(pl, "%.3f", (double)v);
    }
}

static void cloud(struct mdx_payload *pl, const char *device_id, const struct mdx_edge_reading *r)
{
    const char *sep = "";

    append(pl, "{\"device_id\":\"%s\",\"timestamp\":%lld,\"sensor_data\":{", device_id,
           (long long)r->ts_ms);
    if (r->present & MDX_EDGE_HAS_CURRENT) {
        number(pl, "current_mean", r->current_mean);
        append(pl, ",");
        number(pl, "current_max", r->current_max);
        sep = ",";
    }
    if (r->present & MDX_EDGE_HAS_VIBRATION) {
        append(pl, "%s", sep);
        number(pl, "vibration_x", r->vibration[0]);
        append(pl, ",");
        number(pl, "vibration_y", r->vibration[1]);
        append(pl, ",");
        number(pl, "vibration_z", r->vibration[2]);
        append(pl, ",");
        number(pl, "vibration_magnitude", r->vibration[3]);
        sep = ",";
    }
    if (r->present & MDX_EDGE_HAS_TEMPERATURE) {
        append(pl, "%s", sep);
        number(pl, "temperature_mean", r->temperature);
    }
    append(pl, "}}");
}

static void field(struct mdx_payload *pl, const char *device_id, const struct mdx_edge_reading *r)
{
    append(pl, "{\"timestamp\":%lld,\"device_id\":\"%s\"", (long long)r->ts_ms, device_id);
    if (r->present & MDX_EDGE_HAS_CURRENT) {
        append(pl, ",\"motor_currents\":[");
        number(pl, NULL, r->current_mean);
        append(pl, ",");
        number(pl, NULL, r->current_b_mean);
        append(pl, "]");
    }
    if (r->present & MDX_EDGE_HAS_VIBRATION) {
        append(pl, ",\"vibration\":{");
        number(pl, "x", r->vibration[0]);
        append(pl, ",");
        number(pl, "y", r->vibration[1]);
        append(pl, ",");
        number(pl, "z", r->vibration[2]);
        append(pl, ",");
        number(pl, "magnitude", r->vibration[3]);
        append(pl, "}");
    }
    if (r->present & MDX_EDGE_HAS_TEMPERATURE) {
        append(pl, ",\"temperatures\":[");
        number(pl, NULL, r->temperature);
        append(pl, "]");
    }
    append(pl, "}");
}

void mdx_payload_text(struct mdx_payload *pl, const char *s)
{
    append(pl, "%s", s);
}

void mdx_payload_reading(struct mdx_payload *pl, enum mdx_edge_form form, const char *device_id,
                         const struct mdx_edge_reading *r)
{
    if (form == MDX_EDGE_FORM_FIELD) {
        field(pl, device_id, r);
    } else {
        cloud(pl, device_id, r);
    }
}

static int finish(struct mdx_payload *pl)
{
    if (pl->status != MDX_OK) {
        if (pl->cap > 0) {
            pl->buf[0] = '\0';
        }
        return pl->status;
    }
    return (int)pl->len;
}

int mdx_payload_encode(enum mdx_edge_form form, const char *device_id,
                       const struct mdx_edge_reading *r, char *buf, size_t cap)
{
    struct mdx_payload pl;

    mdx_payload_init(&pl, buf, cap);
    mdx_payload_reading(&pl, form, device_id, r);
    return finish(&pl);
}

int mdx_payload_encode_batch(enum mdx_edge_form form, const char *device_id,
                             const struct mdx_edge_reading *rs, size_t n, char *buf, size_t cap)
{
    struct mdx_payload pl;
    size_t i;

    mdx_payload_init(&pl, buf, cap);
    mdx_payload_text(&pl, "[");
    for (i = 0; i < n; i++) {
        if (i > 0) {
            mdx_payload_text(&pl, ",");
        }
        mdx_payload_reading(&pl, form, device_id, &rs[i]);
    }
    mdx_payload_text(&pl, "]");
    return finish(&pl);
}

static const char *boolean(uint8_t v)
{
    return v ? "true" : "false";
}

int mdx_payload_encode_safety(const struct mdx_safety_state *s, int64_t ts_ms, char *buf,
                              size_t cap)
{
    struct mdx_payload pl;

    mdx_payload_init(&pl, buf, cap);
    append(&pl,
           "{\"emergency_stop\":%s,\"door_closed\":%s,\"overload_detected\":%s,"
           "\"temperature_ok\":%s,\"timestamp\":%lld}",
           boolean(s->emergency_stop), boolean(s->door_closed), boolean(s->overload_detected),
           boolean(s->temperature_ok), (long long)ts_ms);
    return finish(&pl);
}

/* Appends 's' as a JSON string, quotes included, escaping what JSON requires. */
static void string(struct mdx_payload *pl, const char *s)
{
    append(pl, "\"");
    for (; *s != '\0' && pl->status == MDX_OK; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch == '"' || ch == '\\') {
            append(pl, "\\%c", ch);
        } else if (ch < 0x20) {
            append(pl, "\\u%04x", ch);
        } else {
            append(pl, "%c", ch);
        }
    }
    append(pl, "\"");
}

int mdx_payload_encode_ack(const char *device_id, int64_t command_id, const char *detail,
                           char *buf, size_t cap)
{
    struct mdx_payload pl;

    mdx_payload_init(&pl, buf, cap);
    append(&pl, "{\"device_id\":\"%s\",\"command_id\":%lld,\"status\":\"%s\"", device_id,
           (long long)command_id, detail == NULL ? "ok" : "rejected");
    if (detail != NULL) {
        append(&pl, ",\"detail\":");
        string(&pl, detail);
    }
    append(&pl, "}");
    return finish(&pl);
}
