/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live_event.h - the live stream's events (docs/api.md, "Live stream")
 * made from what the ingest decoded: points become "point" events, safety,
 * status and command_ack events become "safety", "status" and "command".
 * The in-process live stage (live_stage.c) and the MQTT link of an API
 * running alone (link.c) both publish through these, so the dashboard sees
 * the same text whichever feeds it.
 */
#ifndef MODAX_API_LIVE_EVENT_H
#define MODAX_API_LIVE_EVENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "modax/msg.h"

#include "api/hub.h"

/* One event's data at most, leaving room for its SSE frame within API_HUB_EVENT_MAX. */
#define API_LIVE_DATA_MAX (API_HUB_EVENT_MAX - 64)

/* Where an event's data is written before the hub copies it; used by one thread at a time. */
struct api_live_buf {
    char data[API_LIVE_DATA_MAX];
};

/*
 * Publishes points v[0..n) of 'tenant' / 'device' as "point" events
 * ({"device":D,"points":[{"sensor","ts_ms","value"},...]}), as many as
 * needed for each to fit. Returns the number of events published.
 */
size_t api_live_points(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                       const char *device, const struct mdx_point *v, size_t n);

/*
 * Publishes a decoded safety, status or command_ack event 'ev' of 'tenant'
 * / 'device': safety {"device", ...the flags, "ts_ms"}, status
 * {"device","state"}, command {"device","command_id","status":"acked"|
 * "rejected","detail"?}. MDX_OK once published; MDX_EINVAL when it says
 * nothing to a viewer (a status without a state) or does not fit one
 * event; MDX_ENOMEM.
 */
int api_live_event(struct api_hub *h, struct api_live_buf *b, const char *tenant,
                   const char *device, const struct mdx_event *ev);

/* Prints 'root' (borrowed) compactly and publishes it as 'event'. MDX_OK or MDX_EINVAL (too large). */
int api_live_json(struct api_hub *h, struct api_live_buf *b, const char *tenant, const char *device,
                  const char *event, cJSON *root);

#endif
