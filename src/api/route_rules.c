/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_rules.c - a tenant's threshold rules: list, create (a rule with
 * the same name and scope is replaced, keeping its id), delete. A body is
 * checked like `modax rule add` checks its options.
 */
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "api/rule_body.h"
#include "modax/alert.h"
#include "modax/status.h"

static const char *const no_params[] = {NULL};

/* A rule as in docs/api.md "Shapes"; NULL if out of memory. */
static cJSON *rule_json(const struct mdx_rule *ru)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddNumberToObject(o, "id", (double)ru->id) == NULL ||
        cJSON_AddStringToObject(o, "name", ru->name) == NULL ||
        api_add_string_or_null(o, "device_type", ru->device_type) != 0 ||
        api_add_string_or_null(o, "device", ru->device) != 0 ||
        cJSON_AddStringToObject(o, "sensor", ru->sensor) == NULL ||
        cJSON_AddStringToObject(o, "cmp", mdx_cmp_symbol(ru->cmp)) == NULL ||
        cJSON_AddNumberToObject(o, "threshold", ru->threshold) == NULL ||
        cJSON_AddNumberToObject(o, "hysteresis", ru->hysteresis) == NULL ||
        cJSON_AddNumberToObject(o, "min_duration_ms", (double)ru->min_duration_ms) == NULL ||
        cJSON_AddStringToObject(o, "severity", mdx_severity_name(ru->severity)) == NULL ||
        cJSON_AddBoolToObject(o, "enabled", ru->enabled != 0) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int add_rule(void *arg, const struct mdx_rule *ru)
{
    return api_array_add(arg, rule_json(ru));
}

/* GET /api/v1/rules */
static void list_rules(struct api_req *r)
{
    cJSON *body, *arr;

    if (api_query_allow(r, no_params) != 0 ||
        (body = api_list_doc(r, "rules", &arr)) == NULL) {
        return;
    }
    api_reply_listed(r, body, mdx_store_rule_list(r->store, r->caller.tenant, add_rule, arr));
}

/* Reads the body into 'ru' (tenant and defaults set); -1 if refused (replied). */
static int read_rule(struct api_req *r, struct mdx_rule *ru)
{
    struct api_why why;

    if (api_rule_read(r->body, ru, &why) != 0) {
        api_error(r, 400, "bad_request", "%s", why.text);
        return -1;
    }
    return 0;
}

/* POST /api/v1/rules: the rule without id; 201 with the stored rule. */
static void create_rule(struct api_req *r)
{
    struct mdx_rule ru;
    int rc;

    memset(&ru, 0, sizeof(ru));
    ru.severity = MDX_SEVERITY_WARNING;
    ru.enabled = 1;
    if (api_query_allow(r, no_params) != 0 || read_rule(r, &ru) != 0) {
        return;
    }
    memcpy(ru.tenant, r->caller.tenant, sizeof(ru.tenant));
    rc = mdx_store_rule_put(r->store, &ru);
    if (rc == MDX_EINVAL) {
        api_error(r, 400, "bad_request", "the rule's names are not valid");
        return;
    }
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    api_reply_json(r, 201, rule_json(&ru));
}

/* DELETE /api/v1/rules/{id} */
static void delete_rule(struct api_req *r)
{
    int64_t id;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_param_id(r, 0, "rule", &id) != 0) {
        return;
    }
    rc = mdx_store_rule_delete(r->store, r->caller.tenant, id);
    if (api_store_check(r, rc, "rule", r->params[0]) == 0) {
        api_reply_empty(r, 204);
    }
}

const struct api_route api_routes_rules[] = {
    {"GET", "/api/v1/rules", API_VIEWER, list_rules},
    {"POST", "/api/v1/rules", API_ADMIN, create_rule},
    {"DELETE", "/api/v1/rules/{id}", API_ADMIN, delete_rule},
    {NULL, NULL, 0, NULL},
};
