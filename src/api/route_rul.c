/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_rul.c - remaining-useful-life predictions over the API (issue 7):
 * a device's latest (404 with the reason when it has none), and the
 * latest of every device of the tenant for the fleet page (one query).
 */
#include <math.h>
#include <stdio.h>

#include "modax/status.h"

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"

static const char *const no_params[] = {NULL};

/* {"device","rul","model_version","time","ts_ms"} plus "note" when a reason is set. */
static cJSON *prediction_json(const struct mdx_rul_prediction *p)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddStringToObject(o, "device", p->device) == NULL ||
        cJSON_AddNumberToObject(o, "rul", round(p->rul * 10.0) / 10.0) == NULL ||
        cJSON_AddStringToObject(o, "model_version", p->model_version) == NULL ||
        api_add_time(o, "time", p->ts_ms) == NULL ||
        cJSON_AddNumberToObject(o, "ts_ms", (double)p->ts_ms) == NULL ||
        (p->reason[0] != '\0' && cJSON_AddStringToObject(o, "note", p->reason) == NULL)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* GET /api/v1/devices/{id}/rul */
static void route_device_rul(struct api_req *r)
{
    struct mdx_device_info dev;
    struct mdx_rul_prediction p;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_device(r, r->params[0], &dev) != 0) {
        return;
    }
    rc = mdx_store_rul_prediction_latest(r->store, r->caller.tenant, dev.device, &p);
    if (rc == MDX_ENOTFOUND) {
        api_error(r, 404, "not_found",
                  "no RUL prediction for device %s yet (is rul.enabled on and a model active?)",
                  dev.device);
        return;
    }
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    if (isnan(p.rul)) {
        api_error(r, 404, "not_found", "no RUL prediction for device %s: %s", dev.device,
                  p.reason[0] ? p.reason : "none yet");
        return;
    }
    api_reply_json(r, 200, prediction_json(&p));
}

static int add_prediction(void *arg, const struct mdx_rul_prediction *p)
{
    cJSON *list = arg, *o;

    if (isnan(p->rul)) {
        o = cJSON_CreateObject();
        if (o == NULL || cJSON_AddStringToObject(o, "device", p->device) == NULL ||
            cJSON_AddNullToObject(o, "rul") == NULL ||
            cJSON_AddStringToObject(o, "note", p->reason) == NULL) {
            cJSON_Delete(o);
            return MDX_ENOMEM;
        }
    } else {
        o = prediction_json(p);
        if (o == NULL) {
            return MDX_ENOMEM;
        }
    }
    cJSON_AddItemToArray(list, o);
    return MDX_OK;
}

/* GET /api/v1/rul: the latest of every device of the tenant that has one. */
static void route_fleet_rul(struct api_req *r)
{
    cJSON *root = cJSON_CreateObject(), *list;
    int rc;

    if (api_query_allow(r, no_params) != 0) {
        cJSON_Delete(root);
        return;
    }
    list = root != NULL ? cJSON_AddArrayToObject(root, "devices") : NULL;
    rc = list != NULL ? mdx_store_rul_prediction_list(r->store, r->caller.tenant, NULL, 0,
                                                      add_prediction, list)
                      : MDX_ENOMEM;
    if (rc != MDX_OK) {
        cJSON_Delete(root);
        if (rc == MDX_ENOMEM) {
            api_reply_json(r, 500, NULL);
        } else {
            api_store_error(r, rc);
        }
        return;
    }
    api_reply_json(r, 200, root);
}

const struct api_route api_routes_rul[] = {
    {"GET", "/api/v1/rul", API_VIEWER, route_fleet_rul},
    {"GET", "/api/v1/devices/{id}/rul", API_VIEWER, route_device_rul},
    {NULL, NULL, 0, NULL},
};
