/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live_event.c - decoded points and events to the live stream's SSE data
 * (see live_event.h), written into the caller's buffer and handed to the
 * hub, which copies it: no allocation per point event, one cJSON tree per
 * safety, status or command event.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "modax/status.h"

#include "api/api_int.h"
#include "api/live_event.h"

#define DETAIL_MAX 256 /* command_ack detail passed on, at most */

/* Bounded text builder over an api_live_buf. */
struct out {
    char *p;
    size_t len, cap;
    int overflow;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = 1;
        o->p[o->len] = '\0';
        return;
    }
    o->len += (size_t)n;
}

size_t api_live_points(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                       const char *device, const struct mdx_point *v, size_t n)
{
    struct out o = {.p = b->data, .cap = sizeof(b->data)};
    char item[MDX_NAME_MAX + 96];
    size_t head_len, in_event = 0, events = 0;

    out_printf(&o, "{\"device\":\"%s\",\"points\":[", device);
    head_len = o.len;
    for (size_t i = 0; i < n; i++) {
        const struct mdx_point *p = &v[i];
        int k = snprintf(item, sizeof(item), "%s{\"sensor\":\"%s\",\"ts_ms\":%lld,\"value\":%.15g}",
                         in_event > 0 ? "," : "", p->sensor, (long long)p->ts_ms, p->value);
        if (k < 0 || (size_t)k >= sizeof(item)) {
            continue; /* cannot happen: names are at most 64 bytes */
        }
        if (in_event > 0 && o.len + (size_t)k + 2 >= o.cap) {
            /* This event is full: send it and start the next with this point. */
            out_printf(&o, "]}");
            api_hub_publish(h, tenant, device, "point", o.p, o.len);
            events++;
            o.len = head_len;
            o.p[o.len] = '\0';
            in_event = 0;
            k = snprintf(item, sizeof(item), "{\"sensor\":\"%s\",\"ts_ms\":%lld,\"value\":%.15g}",
                         p->sensor, (long long)p->ts_ms, p->value);
        }
        out_printf(&o, "%s", item);
        in_event++;
    }
    if (in_event > 0) {
        out_printf(&o, "]}");
        if (!o.overflow) {
            api_hub_publish(h, tenant, device, "point", o.p, o.len);
            events++;
        }
    }
    return events;
}

int api_live_json(struct api_hub *h, struct api_live_buf *b, const char *tenant, const char *device,
                  const char *event, cJSON *root)
{
    if (!cJSON_PrintPreallocated(root, b->data, (int)sizeof(b->data), 0)) {
        return MDX_EINVAL; /* larger than one event may be */
    }
    api_hub_publish(h, tenant, device, event, b->data, strlen(b->data));
    return MDX_OK;
}

/* status: {"device","state"}; a status without a state says nothing to a viewer. */
static int status_event(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                        const char *device, const cJSON *body)
{
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(body, "state");
    cJSON *out;
    int rc = MDX_ENOMEM;

    if (!cJSON_IsString(state) || state->valuestring[0] == '\0') {
        return MDX_EINVAL;
    }
    out = cJSON_CreateObject();
    if (out != NULL && cJSON_AddStringToObject(out, "device", device) != NULL &&
        cJSON_AddStringToObject(out, "state", state->valuestring) != NULL) {
        rc = api_live_json(h, b, tenant, device, "status", out);
    }
    cJSON_Delete(out);
    return rc;
}

/* safety: the flags as sent, with "device" from the topic and the event's time. */
static int safety_event(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                        const char *device, const struct mdx_event *ev, cJSON *body)
{
    cJSON_DeleteItemFromObjectCaseSensitive(body, "device_id");
    cJSON_DeleteItemFromObjectCaseSensitive(body, "device");
    if (cJSON_AddStringToObject(body, "device", device) == NULL ||
        cJSON_AddNumberToObject(body, "ts_ms", (double)ev->ts_ms) == NULL) {
        return MDX_ENOMEM;
    }
    return api_live_json(h, b, tenant, device, "safety", body);
}

/* command: the outcome of a command, with the device's detail cut to DETAIL_MAX bytes. */
static int command_event(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                         const char *device, const struct mdx_event *ev, const cJSON *body)
{
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(body, "detail");
    char text[DETAIL_MAX + 1];
    cJSON *out = cJSON_CreateObject();
    int rc = MDX_ENOMEM;

    if (out == NULL || cJSON_AddStringToObject(out, "device", device) == NULL ||
        cJSON_AddNumberToObject(out, "command_id", (double)ev->command_id) == NULL ||
        cJSON_AddStringToObject(out, "status", ev->command_ok ? "acked" : "rejected") == NULL) {
        goto done;
    }
    if (cJSON_IsString(detail)) {
        snprintf(text, sizeof(text), "%s", detail->valuestring);
        if (cJSON_AddStringToObject(out, "detail", text) == NULL) {
            goto done;
        }
    }
    rc = api_live_json(h, b, tenant, device, "command", out);

done:
    cJSON_Delete(out);
    return rc;
}

int api_live_event(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                   const char *device, const struct mdx_event *ev)
{
    cJSON *body = cJSON_Parse(ev->body);
    int rc;

    if (body == NULL) {
        return MDX_ENOMEM; /* the decoder wrote it: only memory can fail here */
    }
    switch (ev->kind) {
    case MDX_MSG_STATUS:
        rc = status_event(h, b, tenant, device, body);
        break;
    case MDX_MSG_SAFETY:
        rc = safety_event(h, b, tenant, device, ev, body);
        break;
    case MDX_MSG_COMMAND_ACK:
        rc = command_event(h, b, tenant, device, ev, body);
        break;
    default:
        rc = MDX_EINVAL;
        break;
    }
    cJSON_Delete(body);
    return rc;
}
