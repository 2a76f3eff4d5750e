/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live_stage.c - the live stream fed in-process: a stage of the ingest
 * pipeline (stage.h) that hands each validated message to the hub as the
 * events of docs/api.md ("Live stream"), when the api role runs in the
 * same process as the ingest. The API's MQTT link then subscribes to
 * alerts only, so the broker delivers the fleet's messages once.
 *
 * The engine calls on_points and on_event on its writer thread for every
 * message, so the common case must cost nothing: unless the hub's watch
 * says a stream of that tenant or device is open (a few atomic loads, no
 * lock), the stage returns before formatting anything. When someone
 * watches, the events are formatted into the stage's buffer (the writer
 * thread's alone) and the hub copies them into its clients' bounded
 * queues; a client that falls behind is dropped there, never waited for.
 */
#include "modax/alloc.h"
#include "modax/api.h"
#include "modax/log.h"
#include "modax/stage.h"
#include "modax/status.h"

#include "api/api_int.h"
#include "api/hub.h"
#include "api/live_event.h"

#define MOD "api"

struct api_live {
    struct api_hub *hub;          /* held until api_live_destroy() */
    struct api_live_buf buf;      /* the writer thread's */
};

struct api_live *api_live_create(struct api_hub *hub)
{
    struct api_live *l = mdx_calloc(1, sizeof(*l));

    if (l == NULL) {
        return NULL;
    }
    api_hub_hold(hub); /* a stopped hub takes no events: the stage may outlive its streams */
    l->hub = hub;
    return l;
}

void api_live_destroy(struct api_live *l)
{
    if (l == NULL) {
        return;
    }
    api_hub_release(l->hub);
    mdx_free(l);
}

static void live_points(void *ctx, const struct mdx_point_group *g,
                        const struct mdx_device_ref *dev)
{
    struct api_live *l = ctx;

    (void)dev;
    if (!api_hub_watched(l->hub, g->tenant, g->device)) {
        return;
    }
    (void)api_live_points(l->hub, &l->buf, g->tenant, g->device, g->points, g->n);
}

static void live_event(void *ctx, const struct mdx_event_rec *ev, const struct mdx_device_ref *dev)
{
    struct api_live *l = ctx;
    int rc;

    (void)dev;
    if (!api_hub_watched(l->hub, ev->tenant, ev->device)) {
        return;
    }
    rc = api_live_event(l->hub, &l->buf, ev->tenant, ev->device, ev->event);
    if (rc != MDX_OK) {
        /* A status without a state, or an event too large for one SSE line. */
        mdx_log_debug(MOD, "live stream: event not streamed", MDX_F_STR("tenant", ev->tenant),
                      MDX_F_STR("device", ev->device), MDX_F_ERR(rc));
    }
}

const struct mdx_stage_ops mdx_api_live_stage_ops = {
    .name = "live",
    .on_points = live_points,
    .on_event = live_event,
};
