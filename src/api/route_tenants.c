/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_tenants.c - tenants and API keys: the platform key lists and
 * creates tenants and makes a tenant's first keys; a tenant's admin
 * lists, makes and revokes the keys of its own tenant. A new key's text
 * is in the creating response only; the store keeps its hash.
 */
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/alloc.h"
#include "modax/apikey.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/validate.h"

static const char *const no_params[] = {NULL};

static int add_tenant(void *arg, const char *name)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddStringToObject(o, "name", name) == NULL ||
        !cJSON_AddItemToArray(arg, o)) {
        cJSON_Delete(o);
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

/* GET /api/v1/tenants */
static void list_tenants(struct api_req *r)
{
    cJSON *body, *arr;

    if (api_query_allow(r, no_params) != 0 ||
        (body = api_list_doc(r, "tenants", &arr)) == NULL) {
        return;
    }
    api_reply_listed(r, body, mdx_store_tenant_list(r->store, add_tenant, arr));
}

/* POST /api/v1/tenants {"name"} */
static void create_tenant(struct api_req *r)
{
    static const char *const fields[] = {"name", NULL};
    char name[MDX_NAME_MAX + 1];
    cJSON *body;
    int rc;

    if (api_query_allow(r, no_params) != 0 || api_body_require(r, fields) != 0 ||
        api_body_name(r, "name", API_REQUIRED, name) < 0) {
        return;
    }
    rc = mdx_store_tenant_add(r->store, name);
    if (rc == MDX_EEXIST) {
        api_error(r, 409, "conflict", "tenant '%s' exists already", name);
        return;
    }
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return;
    }
    body = cJSON_CreateObject();
    if (body != NULL && cJSON_AddStringToObject(body, "name", name) == NULL) {
        cJSON_Delete(body);
        body = NULL;
    }
    api_reply_json(r, 201, body);
}

/*
 * Makes a key of 'role' (from the body {"role","label"?}) for 'tenant' and
 * replies 201 with it: the only time its text is shown.
 */
static void make_key(struct api_req *r, const char *tenant)
{
    static const char *const fields[] = {"role", "label", NULL};
    const cJSON *role_item, *label_item;
    char text[MDX_APIKEY_TEXT_MAX];
    struct mdx_apikey rec;
    const char *label = "";
    cJSON *body = NULL;
    int role, rc;

    if (api_body_require(r, fields) != 0) {
        return;
    }
    role_item = cJSON_GetObjectItemCaseSensitive(r->body, "role");
    label_item = cJSON_GetObjectItemCaseSensitive(r->body, "label");
    if (!cJSON_IsString(role_item) || mdx_role_parse(role_item->valuestring, &role) != MDX_OK ||
        role == MDX_ROLE_PLATFORM) {
        api_error(r, 400, "bad_request", "field 'role' must be \"viewer\", \"operator\" or "
                                         "\"admin\"");
        return;
    }
    if (label_item != NULL && !cJSON_IsNull(label_item)) {
        if (!cJSON_IsString(label_item) || strlen(label_item->valuestring) > MDX_NAME_MAX) {
            api_error(r, 400, "bad_request", "field 'label' must be a string of at most %d bytes",
                      MDX_NAME_MAX);
            return;
        }
        label = label_item->valuestring;
    }
    rc = mdx_apikey_generate(tenant, role, label, mdx_now_ms(), &rec, text);
    if (rc == MDX_OK) {
        rc = mdx_store_apikey_add(r->store, &rec);
    }
    if (rc == MDX_OK) {
        const char *role_name = mdx_role_name(rec.role);

        body = cJSON_CreateObject();
        if (body != NULL && (cJSON_AddStringToObject(body, "id", rec.id) == NULL ||
                             cJSON_AddStringToObject(body, "key", text) == NULL ||
                             cJSON_AddStringToObject(body, "tenant", rec.tenant) == NULL ||
                             cJSON_AddStringToObject(body, "role", role_name) == NULL ||
                             cJSON_AddStringToObject(body, "label", rec.label) == NULL)) {
            cJSON_Delete(body);
            body = NULL;
        }
    }
    mdx_memzero(text, sizeof(text));
    mdx_memzero(rec.hash, sizeof(rec.hash));
    if (api_store_check(r, rc, "tenant", tenant) == 0) {
        api_reply_json(r, 201, body); /* the reply frees the body and its copy of the key */
    }
}

/* POST /api/v1/tenants/{tenant}/keys */
static void create_tenant_key(struct api_req *r)
{
    const char *tenant = r->params[0];
    int rc;

    if (api_query_allow(r, no_params) != 0) {
        return;
    }
    if (!mdx_valid_segment(tenant, strlen(tenant))) {
        api_not_found(r, "tenant", tenant);
        return;
    }
    rc = mdx_store_tenant_exists(r->store, tenant);
    if (api_store_check(r, rc, "tenant", tenant) == 0) {
        make_key(r, tenant);
    }
}

static int add_key(void *arg, const struct mdx_apikey *k)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL || cJSON_AddStringToObject(o, "id", k->id) == NULL ||
        cJSON_AddStringToObject(o, "role", mdx_role_name(k->role)) == NULL ||
        cJSON_AddStringToObject(o, "label", k->label) == NULL ||
        api_add_time_ms(o, "created", k->created_ms) != 0 ||
        api_add_time_ms(o, "revoked", k->revoked_ms) != 0 || !cJSON_AddItemToArray(arg, o)) {
        cJSON_Delete(o);
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

/* GET /api/v1/keys: the caller's tenant's keys, revoked ones too. */
static void list_keys(struct api_req *r)
{
    cJSON *body, *arr;

    if (api_query_allow(r, no_params) != 0 || (body = api_list_doc(r, "keys", &arr)) == NULL) {
        return;
    }
    api_reply_listed(r, body, mdx_store_apikey_list(r->store, r->caller.tenant, add_key, arr));
}

/* POST /api/v1/keys */
static void create_key(struct api_req *r)
{
    if (api_query_allow(r, no_params) != 0) {
        return;
    }
    make_key(r, r->caller.tenant);
}

/* DELETE /api/v1/keys/{id}: another tenant's key answers 404 like an unknown one. */
static void revoke_key(struct api_req *r)
{
    const char *id = r->params[0];
    struct mdx_apikey k;
    int rc;

    if (api_query_allow(r, no_params) != 0) {
        return;
    }
    if (strlen(id) != MDX_APIKEY_ID_LEN) {
        api_not_found(r, "key", id);
        return;
    }
    rc = mdx_store_apikey_get(r->store, id, &k);
    mdx_memzero(k.hash, sizeof(k.hash));
    if (rc == MDX_ENOTFOUND || (rc == MDX_OK && strcmp(k.tenant, r->caller.tenant) != 0)) {
        api_not_found(r, "key", id);
        return;
    }
    if (rc == MDX_OK && k.revoked_ms > 0) {
        rc = MDX_EEXIST;
    }
    if (rc == MDX_OK) {
        rc = mdx_store_apikey_revoke(r->store, id, mdx_now_ms());
    }
    if (rc == MDX_EEXIST) {
        api_error(r, 409, "conflict", "key '%s' is revoked already", id);
    } else if (rc != MDX_OK) {
        api_store_error(r, rc);
    } else {
        api_reply_empty(r, 204);
    }
}

const struct api_route api_routes_tenants[] = {
    {"GET", "/api/v1/tenants", API_PLATFORM, list_tenants},
    {"POST", "/api/v1/tenants", API_PLATFORM, create_tenant},
    {"POST", "/api/v1/tenants/{tenant}/keys", API_PLATFORM, create_tenant_key},
    {"GET", "/api/v1/keys", API_ADMIN, list_keys},
    {"POST", "/api/v1/keys", API_ADMIN, create_key},
    {"DELETE", "/api/v1/keys/{id}", API_ADMIN, revoke_key},
    {NULL, NULL, 0, NULL},
};
