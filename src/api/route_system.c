/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_system.c - the routes about the server itself: /healthz (alive),
 * /readyz (broker and store reachable), /metrics (metrics.c), the OpenAPI
 * document compiled into the binary, and /api/v1/me (who the key is).
 */
#include <stddef.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/apikey.h"
#include "modax/source.h"
#include "modax/status.h"

/* Generated from api/openapi.json at build time (cmake/embed_file.cmake). */
extern const unsigned char api_openapi_json[];
extern const size_t api_openapi_json_len;

static void healthz(struct api_req *r)
{
    cJSON *o = cJSON_CreateObject();

    if (o != NULL && cJSON_AddStringToObject(o, "status", "ok") == NULL) {
        cJSON_Delete(o);
        o = NULL;
    }
    api_reply_json(r, 200, o);
}

/* 1 if the store answers a cheap query on this thread's handle. */
static int store_answers(struct api_req *r)
{
    int rc;

    if (r->store == NULL) {
        return 0;
    }
    rc = mdx_store_tenant_exists(r->store, "readyz-probe");
    return rc == MDX_OK || rc == MDX_ENOTFOUND;
}

static void readyz(struct api_req *r)
{
    int store = store_answers(r);
    int broker = r->api->link != NULL && api_link_ready(r->api->link);
    const struct mdx_api_deps *d = &r->api->deps;
    int has_source = d->source_ops != NULL && d->source != NULL;
    int source = has_source && d->source_ops->ready(d->source);
    int ready = store && broker && (!has_source || source);
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddStringToObject(o, "status", ready ? "ready" : "not_ready") == NULL ||
        cJSON_AddBoolToObject(o, "broker", broker) == NULL ||
        cJSON_AddBoolToObject(o, "store", store) == NULL ||
        (has_source && cJSON_AddBoolToObject(o, "source", source) == NULL)) {
        cJSON_Delete(o);
        o = NULL;
    }
    api_reply_json(r, ready ? 200 : 503, o);
}

static void openapi(struct api_req *r)
{
    api_reply_bytes(r, 200, "application/json", api_openapi_json, api_openapi_json_len);
}

static void me(struct api_req *r)
{
    static const char *const no_params[] = {NULL};
    cJSON *o;

    if (api_query_allow(r, no_params) != 0) {
        return;
    }
    o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddStringToObject(o, "tenant", r->caller.tenant) == NULL ||
        cJSON_AddStringToObject(o, "role", mdx_role_name(r->caller.role)) == NULL ||
        cJSON_AddStringToObject(o, "key_id", r->caller.key_id) == NULL) {
        cJSON_Delete(o);
        o = NULL;
    }
    api_reply_json(r, 200, o);
}

const struct api_route api_routes_system[] = {
    {"GET", "/healthz", API_PUBLIC, healthz},
    {"GET", "/readyz", API_PUBLIC, readyz},
    {"GET", "/metrics", API_PUBLIC, api_route_metrics},
    {"GET", "/api/v1/openapi.json", API_PUBLIC, openapi},
    {"GET", "/api/v1/me", API_VIEWER, me},
    {NULL, NULL, 0, NULL},
};
