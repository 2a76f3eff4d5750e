/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_commands.c - operators' commands over the API: sending one to a
 * device (checked against its safety limits and emergency stop before
 * anything is sent, stored, then delivered on its tenant's command path:
 * MQTT, an IoT Hub direct method whose answer is its acknowledgement, or
 * Pub/Sub), and reading commands back with the state its answer set.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modax/clock.h"
#include "modax/command.h"
#include "modax/command_path.h"
#include "modax/log.h"
#include "modax/status.h"

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"

/* The command as the API shows it; NULL on out of memory. */
static cJSON *command_json(const struct mdx_command *c)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddNumberToObject(o, "id", (double)c->id) == NULL ||
        cJSON_AddStringToObject(o, "device", c->device) == NULL ||
        cJSON_AddStringToObject(o, "name", c->name) == NULL ||
        cJSON_AddNumberToObject(o, "value", c->value) == NULL ||
        cJSON_AddStringToObject(o, "state", mdx_command_state_name(c->state)) == NULL ||
        api_add_string_or_null(o, "detail", c->detail) != 0 ||
        api_add_string_or_null(o, "issued_by", c->issued_by) != 0 ||
        api_add_time(o, "created", c->created_ms) == NULL ||
        cJSON_AddNumberToObject(o, "created_ms", (double)c->created_ms) == NULL ||
        api_add_time(o, "updated", c->updated_ms) == NULL ||
        cJSON_AddNumberToObject(o, "updated_ms", (double)c->updated_ms) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static const char *const command_fields[] = {"name", "value", NULL};
static const char *const no_params[] = {NULL};

/* POST /api/v1/devices/{id}/commands  body {"name","value"} */
static void route_command_send(struct api_req *r)
{
    struct mdx_device_info dev;
    struct mdx_device_config cfg;
    struct mdx_command cmd;
    const cJSON *name, *value;
    struct mdx_command_result result;
    char why[256];
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_body_require(r, command_fields) != 0) {
        return;
    }
    name = cJSON_GetObjectItemCaseSensitive(r->body, "name");
    value = cJSON_GetObjectItemCaseSensitive(r->body, "value");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        api_error(r, 400, "bad_request", "name: required, the parameter to set (a string)");
        return;
    }
    if (!cJSON_IsNumber(value) || !isfinite(value->valuedouble)) {
        api_error(r, 400, "bad_request", "value: required, a finite number");
        return;
    }
    if (api_device(r, r->params[0], &dev) != 0) {
        return;
    }
    rc = mdx_store_device_config_get(r->store, r->caller.tenant, dev.device, &cfg);
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    rc = mdx_command_check(&cfg, &dev, name->valuestring, value->valuedouble, why, sizeof(why));
    if (rc == MDX_EDENIED) {
        api_error(r, 409, "conflict", "%s", why);
        return;
    }
    if (rc != MDX_OK) {
        api_error(r, 422, "unprocessable", "%s", why);
        return;
    }
    memset(&cmd, 0, sizeof(cmd));
    snprintf(cmd.tenant, sizeof(cmd.tenant), "%s", r->caller.tenant);
    snprintf(cmd.device, sizeof(cmd.device), "%s", dev.device);
    snprintf(cmd.name, sizeof(cmd.name), "%s", name->valuestring); /* checked: at most 64 */
    snprintf(cmd.issued_by, sizeof(cmd.issued_by), "%s", r->caller.key_id);
    cmd.value = value->valuedouble;
    cmd.state = MDX_COMMAND_SENT;
    cmd.created_ms = cmd.updated_ms = mdx_now_ms();
    rc = mdx_store_command_put(r->store, &cmd);
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    /* The tenant's path (command_path.h): published, or answered by the device at once. */
    rc = mdx_command_deliver(r->api->commands, &cmd, &result);
    if (rc != MDX_OK || result.state != MDX_COMMAND_SENT) {
        cmd.state = result.state;
        snprintf(cmd.detail, sizeof(cmd.detail), "%s", result.detail);
        cmd.updated_ms = mdx_now_ms();
        int rc2 = mdx_store_command_put(r->store, &cmd);
        if (rc2 != MDX_OK) {
            mdx_log_error("api", "command state not stored", MDX_F_INT("command_id", cmd.id),
                          MDX_F_ERR(rc2));
        }
    }
    if (rc != MDX_OK) {
        mdx_log_warn("api", "command not delivered", MDX_F_STR("tenant", cmd.tenant),
                     MDX_F_STR("device", cmd.device), MDX_F_INT("command_id", cmd.id),
                     MDX_F_STR("path", mdx_command_path_name(r->api->commands, cmd.tenant)),
                     MDX_F_ERR(rc));
        api_error(r, 503, "unavailable", "%s; command %" PRId64 " failed", cmd.detail, cmd.id);
        return;
    }
    mdx_log_info("api", "command sent", MDX_F_STR("tenant", cmd.tenant),
                 MDX_F_STR("device", cmd.device), MDX_F_INT("command_id", cmd.id),
                 MDX_F_STR("name", cmd.name), MDX_F_DBL("value", cmd.value),
                 MDX_F_STR("key_id", cmd.issued_by),
                 MDX_F_STR("state", mdx_command_state_name(cmd.state)));
    api_reply_json(r, cmd.state == MDX_COMMAND_SENT ? 202 : 200, command_json(&cmd));
}

static int command_collect(void *arg, const struct mdx_command *c)
{
    return api_array_add(arg, command_json(c));
}

static const char *const list_params[] = {"limit", NULL};

/* GET /api/v1/devices/{id}/commands?limit= */
static void route_command_list(struct api_req *r)
{
    struct mdx_device_info dev;
    cJSON *root, *arr;
    int64_t limit;

    if (api_query_allow(r, list_params) != 0 ||
        api_query_int(r, "limit", 100, 1, 10000, &limit) != 0 ||
        api_device(r, r->params[0], &dev) != 0 || (root = api_list_doc(r, "commands", &arr)) == NULL) {
        return;
    }
    api_reply_listed(r, root, mdx_store_command_list(r->store, r->caller.tenant, dev.device, limit,
                                                     command_collect, arr));
}


/* GET /api/v1/commands/{id} */
static void route_command_get(struct api_req *r)
{
    struct mdx_command cmd;
    int64_t id;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_param_id(r, 0, "command", &id) != 0) {
        return;
    }
    rc = mdx_store_command_get(r->store, r->caller.tenant, id, &cmd);
    if (api_store_check(r, rc, "command", r->params[0]) == 0) {
        api_reply_json(r, 200, command_json(&cmd));
    }
}

const struct api_route api_routes_commands[] = {
    {"POST", "/api/v1/devices/{id}/commands", API_OPERATOR, route_command_send},
    {"GET", "/api/v1/devices/{id}/commands", API_VIEWER, route_command_list},
    {"GET", "/api/v1/commands/{id}", API_VIEWER, route_command_get},
    {NULL, NULL, 0, NULL},
};
