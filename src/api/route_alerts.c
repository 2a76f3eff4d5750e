/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_alerts.c - a tenant's alerts: list with filters, get one, and an
 * operator's acknowledge and resolve (mdx_alert_change(), the same rules
 * as `modax alert ack|resolve`: 409 when nothing would change).
 */
#include <math.h>
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/alert.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/validate.h"

#define ALERTS_DEFAULT 100
#define ALERTS_MAX 1000

static const char *const no_params[] = {NULL};
static const char *const no_fields[] = {NULL};

static int add_number_or_null(cJSON *o, const char *name, double v)
{
    if (!isfinite(v)) {
        return cJSON_AddNullToObject(o, name) != NULL ? 0 : -1;
    }
    return cJSON_AddNumberToObject(o, name, v) != NULL ? 0 : -1;
}

/* An alert as in docs/api.md "Shapes"; NULL if out of memory. */
static cJSON *alert_json(const struct mdx_alert *a)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddNumberToObject(o, "id", (double)a->id) == NULL ||
        cJSON_AddStringToObject(o, "device", a->device) == NULL ||
        cJSON_AddStringToObject(o, "source", a->source) == NULL ||
        cJSON_AddStringToObject(o, "sensor", a->sensor) == NULL ||
        cJSON_AddStringToObject(o, "severity", mdx_severity_name(a->severity)) == NULL ||
        cJSON_AddStringToObject(o, "state", mdx_alert_state_name(a->state)) == NULL ||
        api_add_time_ms(o, "opened", a->opened_ms) != 0 ||
        api_add_time_ms(o, "updated", a->updated_ms) != 0 ||
        api_add_time_ms(o, "resolved", a->resolved_ms) != 0 ||
        add_number_or_null(o, "value", a->value) != 0 ||
        add_number_or_null(o, "score", a->score) != 0 ||
        cJSON_AddStringToObject(o, "summary", a->summary) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int add_alert(void *arg, const struct mdx_alert *a)
{
    return api_array_add(arg, alert_json(a));
}

/* GET /api/v1/alerts?state=&device=&severity=&limit= */
static void list_alerts(struct api_req *r)
{
    static const char *const params[] = {"state", "device", "severity", "limit", NULL};
    struct mdx_alert_filter f = {r->caller.tenant, NULL, -1, -1, ALERTS_DEFAULT};
    const char *state = api_query(r, "state"), *severity = api_query(r, "severity");
    cJSON *body, *arr;

    if (api_query_allow(r, params) != 0 ||
        api_query_int(r, "limit", ALERTS_DEFAULT, 1, ALERTS_MAX, &f.limit) != 0) {
        return;
    }
    if (state != NULL && mdx_alert_state_parse(state, &f.state) != MDX_OK) {
        api_error(r, 400, "bad_request",
                  "query parameter 'state' must be open, acknowledged, resolved or active");
        return;
    }
    if (severity != NULL && mdx_severity_parse(severity, &f.severity) != MDX_OK) {
        api_error(r, 400, "bad_request",
                  "query parameter 'severity' must be info, warning or critical");
        return;
    }
    f.device = api_query(r, "device");
    if (f.device != NULL && !mdx_valid_segment(f.device, strlen(f.device))) {
        api_error(r, 400, "bad_request",
                  "query parameter 'device' is not a valid device id; use [A-Za-z0-9_-]{1,64}");
        return;
    }
    body = api_list_doc(r, "alerts", &arr);
    if (body != NULL) {
        api_reply_listed(r, body, mdx_store_alert_list(r->store, &f, add_alert, arr));
    }
}

/* GET /api/v1/alerts/{id}: another tenant's alert answers like a missing one. */
static void get_alert(struct api_req *r)
{
    struct mdx_alert a;
    int64_t id;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_param_id(r, 0, "alert", &id) != 0) {
        return;
    }
    rc = mdx_store_alert_get(r->store, r->caller.tenant, id, &a);
    if (api_store_check(r, rc, "alert", r->params[0]) == 0) {
        api_reply_json(r, 200, alert_json(&a));
    }
}

/* POST .../ack and .../resolve: moves the alert on to 'want'. */
static void change(struct api_req *r, int want)
{
    struct mdx_alert a;
    int64_t id;
    int rc;

    if (api_query_allow(r, no_params) != 0 ||
        (r->body != NULL && api_body_allow(r, no_fields) != 0) ||
        api_param_id(r, 0, "alert", &id) != 0) {
        return;
    }
    rc = mdx_alert_change(r->store, r->caller.tenant, id, want, mdx_now_ms(), &a);
    if (rc == MDX_ENOTFOUND) {
        api_not_found(r, "alert", r->params[0]);
    } else if (rc == MDX_EEXIST) {
        api_error(r, 409, "conflict", "alert %lld is %s already; nothing changed%s",
                  (long long)id, mdx_alert_state_name(a.state),
                  a.state == MDX_ALERT_RESOLVED && want == MDX_ALERT_ACKNOWLEDGED
                      ? " (a resolved alert cannot be acknowledged)" : "");
    } else if (rc != MDX_OK) {
        api_store_error(r, rc);
    } else {
        api_reply_json(r, 200, alert_json(&a));
    }
}

static void ack_alert(struct api_req *r)
{
    change(r, MDX_ALERT_ACKNOWLEDGED);
}

static void resolve_alert(struct api_req *r)
{
    change(r, MDX_ALERT_RESOLVED);
}

const struct api_route api_routes_alerts[] = {
    {"GET", "/api/v1/alerts", API_VIEWER, list_alerts},
    {"GET", "/api/v1/alerts/{id}", API_VIEWER, get_alert},
    {"POST", "/api/v1/alerts/{id}/ack", API_OPERATOR, ack_alert},
    {"POST", "/api/v1/alerts/{id}/resolve", API_OPERATOR, resolve_alert},
    {NULL, NULL, 0, NULL},
};
