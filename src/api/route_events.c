/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_events.c - a device's safety and status events, newest first,
 * optionally of one kind. The store walks the device's newest events (at
 * most EVENTS_SCAN of them, whatever their kind: a back end may hold the
 * whole result in memory) and the walk stops once 'limit' are gathered.
 */
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/status.h"

#define EVENTS_DEFAULT 100
#define EVENTS_MAX 1000
#define EVENTS_SCAN 10000 /* newest events looked at, of every kind */
#define WALK_DONE 1   /* returned by the callback to stop the store's walk: enough gathered */

struct event_walk {
    cJSON *arr;
    int kind;             /* enum mdx_msg_kind, -1 for safety and status */
    int64_t left;
};

static int add_event(void *arg, const struct mdx_event *ev)
{
    struct event_walk *w = arg;
    cJSON *o;

    if (w->kind >= 0 ? (int)ev->kind != w->kind
                     : ev->kind != MDX_MSG_SAFETY && ev->kind != MDX_MSG_STATUS) {
        return MDX_OK;
    }
    o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "kind", mdx_msg_kind_name(ev->kind)) == NULL ||
        api_add_time(o, "time", ev->ts_ms) == NULL ||
        cJSON_AddNumberToObject(o, "ts_ms", (double)ev->ts_ms) == NULL ||
        api_add_json_text(o, "body", ev->body) != 0 || !cJSON_AddItemToArray(w->arr, o)) {
        cJSON_Delete(o);
        return MDX_ENOMEM;
    }
    return --w->left > 0 ? MDX_OK : WALK_DONE;
}

/* GET /api/v1/devices/{id}/events?kind=safety|status&limit=N */
static void list_events(struct api_req *r)
{
    static const char *const params[] = {"kind", "limit", NULL};
    struct event_walk w = {NULL, -1, 0};
    struct mdx_device_info d;
    const char *kind;
    cJSON *body;
    int rc;

    if (api_query_allow(r, params) != 0 ||
        api_query_int(r, "limit", EVENTS_DEFAULT, 1, EVENTS_MAX, &w.left) != 0) {
        return;
    }
    kind = api_query(r, "kind");
    if (kind != NULL && strcmp(kind, "safety") == 0) {
        w.kind = MDX_MSG_SAFETY;
    } else if (kind != NULL && strcmp(kind, "status") == 0) {
        w.kind = MDX_MSG_STATUS;
    } else if (kind != NULL) {
        api_error(r, 400, "bad_request", "query parameter 'kind' must be safety or status");
        return;
    }
    if (api_device(r, r->params[0], &d) != MDX_OK ||
        (body = api_list_doc(r, "events", &w.arr)) == NULL) {
        return;
    }
    /* Events of other kinds are skipped; the callback stops the walk when it has enough. */
    rc = mdx_store_event_list(r->store, d.tenant, d.device, EVENTS_SCAN, add_event, &w);
    api_reply_listed(r, body, rc == WALK_DONE ? MDX_OK : rc);
}

const struct api_route api_routes_events[] = {
    {"GET", "/api/v1/devices/{id}/events", API_VIEWER, list_events},
    {NULL, NULL, 0, NULL},
};
