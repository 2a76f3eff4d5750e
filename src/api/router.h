/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.h - the path of a request from its headers to its handler: the
 * route tables, matching, the key and access checks, the body checks, and
 * the call of the route's handler (or the dashboard's file). The listener
 * (listener.c) feeds it from libmicrohttpd.
 */
#ifndef MODAX_API_ROUTER_H
#define MODAX_API_ROUTER_H

#include <stddef.h>

#include "api/api_int.h"
#include "base/buf.h"

/* One request's state from its headers to its completion; the listener keeps one per request. */
struct api_call {
    struct api_req r;
    size_t route_idx;             /* index into api->routes; n_routes when none */
    struct mdx_buf raw;           /* the body as received, capped at api.body_max_bytes */
    char *captures;               /* storage of r.params: strlen(url) + 1 bytes, the caller's */
};

/* Flattens the route tables into a->routes (freed by api_router_fini). MDX_OK or MDX_ENOMEM. */
int api_router_init(struct api *a);
void api_router_fini(struct api *a);

/*
 * Everything that can be decided from the headers: route, key, access,
 * announced length. Replies (sets c->r.status) when the request is refused.
 */
void api_router_headers(struct api *a, struct api_call *c);

/*
 * The whole request is in (c->raw): body checks, then the route's handler
 * or the dashboard's file. Replies always.
 */
void api_router_dispatch(struct api *a, struct api_call *c);

#endif
