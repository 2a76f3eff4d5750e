/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_rules.c - a tenant's threshold rules: list, create (a rule with
 * the same name and scope is replaced, keeping its id), delete. A body is
 * checked like `modax rule add` checks its options.
 */
#include <math.h>
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/alert.h"
#include "modax/status.h"
#include "modax/validate.h"

#define MIN_DURATION_MAX_MS (7LL * 24 * 3600 * 1000) /* a week, as the CLI allows */

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

/* Body member 'field' as a finite number (absent: *out kept, unless required). -1 if refused. */
static int body_number(struct api_req *r, const char *field, int required, double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(r->body, field);

    if (item == NULL) {
        if (required) {
            api_error(r, 400, "bad_request", "field '%s' is required", field);
            return -1;
        }
        return 0;
    }
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) {
        api_error(r, 400, "bad_request", "field '%s' must be a number", field);
        return -1;
    }
    *out = item->valuedouble;
    return 0;
}

/* Body member 'field' as a string naming a choice parsed by 'parse'. -1 if refused. */
static int body_choice(struct api_req *r, const char *field, int required,
                       int (*parse)(const char *, int *), const char *choices, int *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(r->body, field);

    if (item == NULL && !required) {
        return 0;
    }
    if (!cJSON_IsString(item) || parse(item->valuestring, out) != MDX_OK) {
        api_error(r, 400, "bad_request", "field '%s' must be one of %s", field, choices);
        return -1;
    }
    return 0;
}

/* Reads the body into 'ru' (tenant and defaults set); -1 if refused (replied). */
static int read_rule(struct api_req *r, struct mdx_rule *ru)
{
    static const char *const fields[] = {"name", "device_type", "device", "sensor", "cmp",
                                         "threshold", "hysteresis", "min_duration_ms",
                                         "severity", "enabled", NULL};
    const cJSON *sensor, *enabled;
    double dur = 0;

    if (api_body_require(r, fields) != 0 ||
        api_body_name(r, "name", API_REQUIRED, ru->name) < 0 ||
        api_body_name(r, "device_type", API_EMPTY_OK, ru->device_type) < 0 ||
        api_body_name(r, "device", API_EMPTY_OK, ru->device) < 0) {
        return -1;
    }
    if (ru->device_type[0] != '\0' && ru->device[0] != '\0') {
        api_error(r, 400, "bad_request",
                  "field 'device' and field 'device_type' exclude each other: a rule targets "
                  "the tenant, one device type or one device");
        return -1;
    }
    sensor = cJSON_GetObjectItemCaseSensitive(r->body, "sensor");
    if (!cJSON_IsString(sensor) || strlen(sensor->valuestring) > MDX_NAME_MAX ||
        !mdx_valid_sensor(sensor->valuestring, strlen(sensor->valuestring))) {
        api_error(r, 400, "bad_request",
                  "field 'sensor' must be a sensor name: [a-z0-9_]{1,64}, e.g. current_mean");
        return -1;
    }
    memcpy(ru->sensor, sensor->valuestring, strlen(sensor->valuestring) + 1);
    if (body_choice(r, "cmp", 1, mdx_cmp_parse, "\">\", \">=\", \"<\", \"<=\"", &ru->cmp) != 0 ||
        body_number(r, "threshold", 1, &ru->threshold) != 0 ||
        body_number(r, "hysteresis", 0, &ru->hysteresis) != 0 ||
        body_number(r, "min_duration_ms", 0, &dur) != 0 ||
        body_choice(r, "severity", 0, mdx_severity_parse, "info, warning, critical",
                    &ru->severity) != 0) {
        return -1;
    }
    if (ru->hysteresis < 0) {
        api_error(r, 400, "bad_request", "field 'hysteresis' must be >= 0");
        return -1;
    }
    if (dur < 0 || dur > (double)MIN_DURATION_MAX_MS || dur != floor(dur)) {
        api_error(r, 400, "bad_request",
                  "field 'min_duration_ms' must be a whole number from 0 to %lld (a week)",
                  (long long)MIN_DURATION_MAX_MS);
        return -1;
    }
    ru->min_duration_ms = (int64_t)dur;
    enabled = cJSON_GetObjectItemCaseSensitive(r->body, "enabled");
    if (enabled != NULL && !cJSON_IsBool(enabled)) {
        api_error(r, 400, "bad_request", "field 'enabled' must be true or false");
        return -1;
    }
    ru->enabled = enabled == NULL || cJSON_IsTrue(enabled);
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
    if (rc == MDX_ENOTFOUND) {
        api_not_found(r, "rule", r->params[0]);
    } else if (rc != MDX_OK) {
        api_store_error(r, rc);
    } else {
        api_reply_empty(r, 204);
    }
}

const struct api_route api_routes_rules[] = {
    {"GET", "/api/v1/rules", API_VIEWER, list_rules},
    {"POST", "/api/v1/rules", API_ADMIN, create_rule},
    {"DELETE", "/api/v1/rules/{id}", API_ADMIN, delete_rule},
    {NULL, NULL, 0, NULL},
};
