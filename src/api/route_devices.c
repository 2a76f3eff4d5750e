/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_devices.c - a tenant's devices: list, register, detail (metadata,
 * safety limits, sensors), change type/metadata/limits, delete. Limits are
 * checked by the command module's rules (mdx_limits_check) before they
 * are stored, so a command is only ever checked against valid limits.
 */
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/alloc.h"
#include "modax/command.h"
#include "modax/status.h"

static const char *const no_params[] = {NULL};

/* A device as in docs/api.md "Shapes"; NULL if out of memory. */
static cJSON *device_json(const struct mdx_device_info *d)
{
    cJSON *o = cJSON_CreateObject(), *held = NULL;

    if (o == NULL || cJSON_AddStringToObject(o, "id", d->device) == NULL ||
        api_add_string_or_null(o, "type", d->type) != 0 ||
        api_add_string_or_null(o, "status", d->status) != 0 ||
        api_add_time(o, "status_time", d->status_ms) == NULL ||
        api_add_time_ms(o, "last_seen", d->last_seen_ms) != 0 ||
        cJSON_AddBoolToObject(o, "emergency_stop", d->emergency_stop != 0) == NULL ||
        cJSON_AddBoolToObject(o, "auto_registered", d->auto_registered != 0) == NULL ||
        api_add_time(o, "created", d->created_ms) == NULL ||
        (held = cJSON_AddArrayToObject(o, "interlocks")) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    for (unsigned bit = 1; bit <= MDX_INTERLOCK_TEMPERATURE; bit <<= 1) {
        if ((d->interlocks & bit) != 0 &&
            !cJSON_AddItemToArray(held, cJSON_CreateString(mdx_interlock_name(bit)))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static int add_device(void *arg, const struct mdx_device_info *d)
{
    return api_array_add(arg, device_json(d));
}

static int add_sensor(void *arg, const char *name)
{
    return api_array_add(arg, cJSON_CreateString(name));
}

/* Replies 'status' with the detail of device 'd' (meta, limits, sensors read from the store). */
static void reply_detail(struct api_req *r, unsigned status, const struct mdx_device_info *d)
{
    struct mdx_device_config *cfg;
    cJSON *o, *sensors;
    int rc;

    cfg = mdx_malloc(sizeof(*cfg)); /* 8 KiB: off the server thread's stack */
    if (cfg == NULL) {
        api_reply_json(r, 500, NULL);
        return;
    }
    rc = mdx_store_device_config_get(r->store, d->tenant, d->device, cfg);
    if (rc != MDX_OK) {
        mdx_free(cfg);
        api_store_error(r, rc);
        return;
    }
    o = device_json(d);
    if (o == NULL || api_add_json_text(o, "meta", cfg->meta) != 0 ||
        api_add_json_text(o, "limits", cfg->limits) != 0 ||
        (sensors = cJSON_AddArrayToObject(o, "sensors")) == NULL) {
        mdx_free(cfg);
        cJSON_Delete(o);
        api_reply_json(r, status, NULL);
        return;
    }
    mdx_free(cfg);
    rc = mdx_store_sensor_list(r->store, d->tenant, d->device, add_sensor, sensors);
    if (rc != MDX_OK) {
        cJSON_Delete(o);
        api_store_error(r, rc);
        return;
    }
    api_reply_json(r, status, o);
}

/* What a POST or PATCH body sets; absent members are left as they are. */
struct device_change {
    int has_type, has_meta, has_limits;
    char type[MDX_NAME_MAX + 1];
    struct mdx_device_config cfg;
};

/* Reads and checks "type", "meta" and "limits" of the body into 'c'; -1 if refused (replied). */
static int read_change(struct api_req *r, struct device_change *c)
{
    char why[256];

    c->has_type = api_body_name(r, "type", API_EMPTY_OK, c->type);
    if (c->has_type < 0) {
        return -1;
    }
    if (c->has_type == 0 && r->body != NULL &&
        cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r->body, "type"))) {
        c->has_type = 1; /* "type": null clears it like "" */
    }
    c->has_meta = api_body_object(r, "meta", c->cfg.meta, sizeof(c->cfg.meta));
    if (c->has_meta < 0) {
        return -1;
    }
    c->has_limits = api_body_object(r, "limits", c->cfg.limits, sizeof(c->cfg.limits));
    if (c->has_limits < 0) {
        return -1;
    }
    why[0] = '\0';
    if (c->has_limits && mdx_limits_check(c->cfg.limits, why, sizeof(why)) != MDX_OK) {
        api_error(r, 400, "bad_request", "field 'limits' is invalid: %s", why);
        return -1;
    }
    return 0;
}

/* Stores what 'c' changes on the caller's device 'device'. */
static int apply_change(struct api_req *r, const char *device, const struct device_change *c)
{
    int rc = MDX_OK;

    if (c->has_type) {
        rc = mdx_store_device_set_type(r->store, r->caller.tenant, device, c->type);
    }
    if (rc == MDX_OK && (c->has_meta || c->has_limits)) {
        rc = mdx_store_device_config_set(r->store, r->caller.tenant, device,
                                         c->has_meta ? c->cfg.meta : NULL,
                                         c->has_limits ? c->cfg.limits : NULL);
    }
    return rc;
}

/* GET /api/v1/devices */
static void list_devices(struct api_req *r)
{
    cJSON *body, *arr;

    if (api_query_allow(r, no_params) != 0 ||
        (body = api_list_doc(r, "devices", &arr)) == NULL) {
        return;
    }
    api_reply_listed(r, body, mdx_store_device_list(r->store, r->caller.tenant, add_device, arr));
}

/*
 * Reads the change in the body and stores it for device 'id' (added first
 * when 'create'), then replies with the device as stored and 'status'.
 * Everything is checked before anything is stored.
 */
static void store_change(struct api_req *r, const char *id, int create, unsigned status)
{
    struct device_change *c = mdx_calloc(1, sizeof(*c));
    struct mdx_device_info d;
    int rc = MDX_OK;

    if (c == NULL) {
        api_reply_json(r, 500, NULL);
        return;
    }
    if (read_change(r, c) != 0) {
        mdx_free(c);
        return;
    }
    if (create) {
        rc = mdx_store_device_add(r->store, r->caller.tenant, id, 0);
    }
    if (rc == MDX_OK) {
        rc = apply_change(r, id, c);
    }
    mdx_free(c);
    if (create && rc == MDX_EEXIST) {
        api_error(r, 409, "conflict", "device '%s' exists already", id);
        return;
    }
    if (rc == MDX_OK) {
        rc = mdx_store_device_get(r->store, r->caller.tenant, id, &d);
    }
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    reply_detail(r, status, &d);
}

/* POST /api/v1/devices {"id","type"?,"meta"?,"limits"?} */
static void create_device(struct api_req *r)
{
    static const char *const fields[] = {"id", "type", "meta", "limits", NULL};
    char id[MDX_NAME_MAX + 1];

    if (api_query_allow(r, no_params) != 0 || api_body_require(r, fields) != 0 ||
        api_body_name(r, "id", API_REQUIRED, id) < 0) {
        return;
    }
    store_change(r, id, 1, 201);
}

/* GET /api/v1/devices/{id} */
static void get_device(struct api_req *r)
{
    struct mdx_device_info d;

    if (api_query_allow(r, no_params) != 0 || api_device(r, r->params[0], &d) != MDX_OK) {
        return;
    }
    reply_detail(r, 200, &d);
}

/* PATCH /api/v1/devices/{id} {"type"?,"meta"?,"limits"?} */
static void patch_device(struct api_req *r)
{
    static const char *const fields[] = {"type", "meta", "limits", NULL};
    char id[MDX_NAME_MAX + 1];
    struct mdx_device_info d;

    if (api_query_allow(r, no_params) != 0 || api_device(r, r->params[0], &d) != MDX_OK ||
        api_body_require(r, fields) != 0) {
        return;
    }
    memcpy(id, d.device, sizeof(id));
    store_change(r, id, 0, 200);
}

/* DELETE /api/v1/devices/{id}: its points, events, alerts and commands go too. */
static void delete_device(struct api_req *r)
{
    struct mdx_device_info d;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_device(r, r->params[0], &d) != MDX_OK) {
        return;
    }
    rc = mdx_store_device_delete(r->store, r->caller.tenant, d.device);
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    api_reply_empty(r, 204);
}

const struct api_route api_routes_devices[] = {
    {"GET", "/api/v1/devices", API_VIEWER, list_devices},
    {"POST", "/api/v1/devices", API_ADMIN, create_device},
    {"GET", "/api/v1/devices/{id}", API_VIEWER, get_device},
    {"PATCH", "/api/v1/devices/{id}", API_ADMIN, patch_device},
    {"DELETE", "/api/v1/devices/{id}", API_ADMIN, delete_device},
    {NULL, NULL, 0, NULL},
};
