/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_resources.c - the resource routes of the HTTP API (issue 5):
 * tenants and keys, devices, events, alerts, rules and dead letters, on a
 * real `modax serve --roles ingest,api` with a real Mosquitto (the fixture
 * of tests/support/api.h: tenant acme with press-1 and press-2 and a key
 * of every role, tenant globex with mill-1 and an admin key, the platform
 * key). Alerts, events and dead letters are put in the server's store
 * directly through the test's own store handle (SQLite WAL lets both in).
 *
 * Besides each route's success path: tenancy (globex's admin sees none of
 * acme's devices and alerts, and its 404s read exactly like those of ids
 * that do not exist), roles (403), malformed and unknown input (400 naming
 * the field or parameter), SQL injection strings in every path and query
 * parameter (404 or 400, the stored data intact) and a revoked key (401
 * once api.key_cache_s has passed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/api.h"

static struct api_fixture fx;
static int fx_state; /* 0 not started, 1 running, -1 failed */

/* The shared fixture; NULL (and a failed CHECK) if it could not start. */
static struct api_fixture *fixture(void)
{
    if (fx_state == 0) {
        /* Keys are re-checked with the store after 1 s: the revoke test relies on it. */
        setenv("MODAX_API_KEY_CACHE_S", "1", 1);
        /* The injection test sends a few hundred requests in a burst: no 429s here. */
        setenv("MODAX_API_RATE_LIMIT_RPS", "100000", 1);
        setenv("MODAX_API_RATE_LIMIT_BURST", "100000", 1);
        fx_state = api_fixture_start(&fx, "api-resources", NULL) == 0 ? 1 : -1;
    }
    CHECK(fx_state == 1);
    return fx_state == 1 ? &fx : NULL;
}

/* One request to 'path' of the fixture; the response's JSON (or NULL) in *json. */
static long call(const char *method, const char *path, const char *key, const char *body,
                 struct http_resp *resp, cJSON **json)
{
    char url[2048];

    memset(resp, 0, sizeof(*resp));
    api_url(&fx, path, url, sizeof(url));
    if (http_call(method, url, key, body, resp) != 0) {
        fprintf(stderr, "  no response: %s %s\n", method, path);
        *json = NULL;
        return 0;
    }
    *json = resp->body != NULL ? cJSON_Parse(resp->body) : NULL;
    return resp->status;
}

/* Status of one request, its body dropped. */
static long status_of(const char *method, const char *path, const char *key, const char *body)
{
    struct http_resp resp;
    cJSON *json;
    long status = call(method, path, key, body, &resp, &json);

    cJSON_Delete(json);
    http_resp_free(&resp);
    return status;
}

/* Non-zero if 'json' is an error of 'code' whose message contains 'word' (NULL: any). */
static int is_error(const cJSON *json, const char *code, const char *word)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(json, "error");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(err, "code");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "message");

    if (!cJSON_IsString(c) || !cJSON_IsString(m) || strcmp(c->valuestring, code) != 0 ||
        (word != NULL && strstr(m->valuestring, word) == NULL)) {
        char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;

        fprintf(stderr, "  expected error %s naming '%s', got %s\n", code, word ? word : "",
                text != NULL ? text : "(no JSON)");
        cJSON_free(text);
        return 0;
    }
    return 1;
}

/* The request answers 'status' with an error of 'code' naming 'word'. */
static int fails_with(const char *method, const char *path, const char *key, const char *body,
                      long status, const char *code, const char *word)
{
    struct http_resp resp;
    cJSON *json;
    long got = call(method, path, key, body, &resp, &json);
    int ok = got == status && is_error(json, code, word);

    if (got != status) {
        fprintf(stderr, "  %s %s: status %ld, expected %ld: %s\n", method, path, got, status,
                resp.body != NULL ? resp.body : "");
    }
    cJSON_Delete(json);
    http_resp_free(&resp);
    return ok;
}

static const char *str_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(v) ? v->valuedouble : -1.0;
}

/* The element of array 'arr' whose member 'name' is the string 'value', or NULL. */
static const cJSON *find_by(const cJSON *arr, const char *name, const char *value)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, arr) {
        const char *s = str_of(e, name);

        if (s != NULL && strcmp(s, value) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Every byte but [A-Za-z0-9_.~-] as %XX, for a path segment or a query value. */
static const char *pct(const char *s, char *buf, size_t len)
{
    size_t o = 0;

    for (; *s != '\0' && o + 4 < len; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '~' || c == '-') {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, len - o, "%%%02X", c);
            o += 3;
        }
    }
    buf[o] = '\0';
    return buf;
}

static int count_device(void *arg, const struct mdx_device_info *d)
{
    (void)d;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

static int count_alert(void *arg, const struct mdx_alert *a)
{
    (void)a;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

static int count_rule(void *arg, const struct mdx_rule *r)
{
    (void)r;
    (*(int64_t *)arg)++;
    return MDX_OK;
}

/* Devices, alerts and rules of both tenants, as the store has them; -1 on failure. */
static int64_t stored_rows(void)
{
    struct mdx_alert_filter f = {NULL, NULL, -1, -1, 0};
    struct mdx_store *st = test_store_open(fx.dir);
    int64_t n = 0;
    int rc;

    if (st == NULL) {
        return -1;
    }
    rc = mdx_store_device_list(st, "acme", count_device, &n);
    if (rc == MDX_OK) {
        rc = mdx_store_device_list(st, "globex", count_device, &n);
    }
    if (rc == MDX_OK) {
        rc = mdx_store_alert_list(st, &f, count_alert, &n);
    }
    if (rc == MDX_OK) {
        rc = mdx_store_rule_list(st, NULL, count_rule, &n);
    }
    mdx_store_close(st);
    return rc == MDX_OK ? n : -1;
}

/* Stores an open alert of 'tenant'/'device'; its id, or -1. */
static int64_t put_alert(const char *tenant, const char *device, const char *sensor, int severity,
                         int64_t opened_ms)
{
    struct mdx_store *st = test_store_open(fx.dir);
    struct mdx_alert a;
    int rc;

    if (st == NULL) {
        return -1;
    }
    memset(&a, 0, sizeof(a));
    snprintf(a.tenant, sizeof(a.tenant), "%s", tenant);
    snprintf(a.device, sizeof(a.device), "%s", device);
    snprintf(a.source, sizeof(a.source), "rule:test_%s", sensor);
    snprintf(a.sensor, sizeof(a.sensor), "%s", sensor);
    a.severity = severity;
    a.state = MDX_ALERT_OPEN;
    a.opened_ms = a.updated_ms = opened_ms;
    a.value = 12.5;
    snprintf(a.summary, sizeof(a.summary), "%s %s high", device, sensor);
    rc = mdx_store_alert_put(st, &a);
    mdx_store_close(st);
    return rc == MDX_OK ? a.id : -1;
}

/* ---- tenants and keys ---- */

static void platform_manages_tenants(void)
{
    struct api_fixture *f = fixture();
    struct http_resp resp;
    cJSON *json;
    char path[256], key[128];

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call("GET", "/api/v1/tenants", f->platform, NULL, &resp, &json), 200);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "tenants"), "name", "acme") != NULL);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "tenants"), "name", "globex") != NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("POST", "/api/v1/tenants", f->platform, "{\"name\":\"initech\"}", &resp,
                      &json), 201);
    CHECK_STR(str_of(json, "name"), "initech");
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK(fails_with("POST", "/api/v1/tenants", f->platform, "{\"name\":\"initech\"}", 409,
                     "conflict", "initech"));
    CHECK(fails_with("POST", "/api/v1/tenants", f->platform, "{\"name\":\"a b/c\"}", 400,
                     "bad_request", "name"));
    CHECK(fails_with("POST", "/api/v1/tenants", f->platform, "{\"name\":\"x\",\"plan\":1}", 400,
                     "bad_request", "plan"));
    CHECK(fails_with("POST", "/api/v1/tenants", f->admin, "{\"name\":\"evil\"}", 403, "forbidden",
                     NULL));
    CHECK(fails_with("GET", "/api/v1/tenants", f->admin, NULL, 403, "forbidden", NULL));

    /* The new tenant's first key works, and sees an empty fleet. */
    CHECK_EQ_INT(call("POST", "/api/v1/tenants/initech/keys", f->platform,
                      "{\"role\":\"admin\",\"label\":\"first\"}", &resp, &json), 201);
    CHECK_STR(str_of(json, "tenant"), "initech");
    CHECK_STR(str_of(json, "role"), "admin");
    CHECK_STR(str_of(json, "label"), "first");
    snprintf(key, sizeof(key), "%s", str_of(json, "key") != NULL ? str_of(json, "key") : "");
    CHECK(strncmp(key, "mdx_", 4) == 0);
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK_EQ_INT(call("GET", "/api/v1/devices", key, NULL, &resp, &json), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(json, "devices")), 0);
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK(fails_with("POST", "/api/v1/tenants/nosuch/keys", f->platform, "{\"role\":\"admin\"}",
                     404, "not_found", "nosuch"));
    CHECK(fails_with("POST", "/api/v1/tenants/initech/keys", f->platform,
                     "{\"role\":\"platform\"}", 400, "bad_request", "role"));
    snprintf(path, sizeof(path), "/api/v1/tenants/initech/keys");
    CHECK(fails_with("POST", path, f->platform, "{\"role\":\"viewer\",\"label\":7}", 400,
                     "bad_request", "label"));
}

static void admin_manages_keys_and_revoked_key_is_refused(void)
{
    struct api_fixture *f = fixture();
    struct http_resp resp;
    cJSON *json;
    const cJSON *k;
    char id[64], key[128], path[128];

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call("POST", "/api/v1/keys", f->admin, "{\"role\":\"viewer\",\"label\":\"hmi\"}",
                      &resp, &json), 201);
    snprintf(id, sizeof(id), "%s", str_of(json, "id") != NULL ? str_of(json, "id") : "");
    snprintf(key, sizeof(key), "%s", str_of(json, "key") != NULL ? str_of(json, "key") : "");
    CHECK_STR(str_of(json, "tenant"), "acme");
    CHECK_STR(str_of(json, "role"), "viewer");
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("GET", "/api/v1/keys", f->admin, NULL, &resp, &json), 200);
    k = find_by(cJSON_GetObjectItemCaseSensitive(json, "keys"), "id", id);
    CHECK(k != NULL);
    CHECK_STR(str_of(k, "label"), "hmi");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(k, "revoked")));
    CHECK(num_of(k, "created_ms") > 0);
    CHECK(strstr(resp.body, key) == NULL); /* the key text is never listed */
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* globex's admin sees none of acme's keys and cannot revoke them. */
    CHECK_EQ_INT(call("GET", "/api/v1/keys", f->globex_admin, NULL, &resp, &json), 200);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "keys"), "id", id) == NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);
    snprintf(path, sizeof(path), "/api/v1/keys/%s", id);
    CHECK(fails_with("DELETE", path, f->globex_admin, NULL, 404, "not_found", id));
    CHECK(fails_with("DELETE", path, f->viewer, NULL, 403, "forbidden", NULL));
    CHECK(fails_with("POST", "/api/v1/keys", f->operator_, "{\"role\":\"admin\"}", 403,
                     "forbidden", NULL));

    /* The key works (and is now cached), is revoked, then refused once the cache has expired. */
    CHECK_EQ_INT(status_of("GET", "/api/v1/devices", key, NULL), 200);
    CHECK_EQ_INT(status_of("DELETE", path, f->admin, NULL), 204);
    CHECK(fails_with("DELETE", path, f->admin, NULL, 409, "conflict", id));
    mdx_sleep_ms(1300); /* the cache must expire (api.key_cache_s = 1): time must pass */
    CHECK(fails_with("GET", "/api/v1/devices", key, NULL, 401, "unauthorized", NULL));
    CHECK(fails_with("DELETE", "/api/v1/keys/0000000000000000", f->admin, NULL, 404, "not_found",
                     NULL));
}

/* ---- devices ---- */

static void devices_register_get_patch_delete(void)
{
    static const char create[] =
        "{\"id\":\"press-9\",\"type\":\"hydraulic\",\"meta\":{\"line\":\"L2\"},"
        "\"limits\":{\"speed_pct\":{\"min\":0,\"max\":100}}}";
    struct api_fixture *f = fixture();
    struct http_resp resp;
    cJSON *json;
    const cJSON *lim;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call("GET", "/api/v1/devices", f->viewer, NULL, &resp, &json), 200);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "devices"), "id", "press-1") != NULL);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "devices"), "id", "press-2") != NULL);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "devices"), "id", "mill-1") == NULL);
    CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(
        find_by(cJSON_GetObjectItemCaseSensitive(json, "devices"), "id", "press-1"),
        "emergency_stop")));
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("POST", "/api/v1/devices", f->admin, create, &resp, &json), 201);
    CHECK_STR(str_of(json, "id"), "press-9");
    CHECK_STR(str_of(json, "type"), "hydraulic");
    CHECK_STR(str_of(cJSON_GetObjectItemCaseSensitive(json, "meta"), "line"), "L2");
    lim = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "limits"),
                                           "speed_pct");
    CHECK(num_of(lim, "max") == 100.0);
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(json, "sensors")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(json, "auto_registered")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(json, "status")));
    CHECK(str_of(json, "created") != NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, create, 409, "conflict", "press-9"));

    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-9", f->viewer, NULL, &resp, &json), 200);
    CHECK_STR(str_of(json, "type"), "hydraulic");
    CHECK_STR(str_of(cJSON_GetObjectItemCaseSensitive(json, "meta"), "line"), "L2");
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("PATCH", "/api/v1/devices/press-9", f->admin,
                      "{\"type\":\"pneumatic\","
                      "\"limits\":{\"pressure_bar\":{\"min\":1,\"max\":6}}}",
                      &resp, &json), 200);
    CHECK_STR(str_of(json, "type"), "pneumatic");
    CHECK_STR(str_of(cJSON_GetObjectItemCaseSensitive(json, "meta"), "line"), "L2"); /* kept */
    lim = cJSON_GetObjectItemCaseSensitive(json, "limits");
    CHECK(cJSON_GetObjectItemCaseSensitive(lim, "speed_pct") == NULL);
    CHECK(num_of(cJSON_GetObjectItemCaseSensitive(lim, "pressure_bar"), "max") == 6.0);
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* Bad limits and metadata are refused, and nothing changes. */
    CHECK(fails_with("PATCH", "/api/v1/devices/press-9", f->admin,
                     "{\"limits\":{\"speed_pct\":{\"min\":5,\"max\":1}}}", 400, "bad_request",
                     "limits"));
    CHECK(fails_with("PATCH", "/api/v1/devices/press-9", f->admin,
                     "{\"limits\":{\"speed_pct\":{\"min\":\"low\"}}}", 400, "bad_request",
                     "limits"));
    CHECK(fails_with("PATCH", "/api/v1/devices/press-9", f->admin, "{\"meta\":[1,2]}", 400,
                     "bad_request", "meta"));
    CHECK(fails_with("POST", "/api/v1/devices", f->admin,
                     "{\"id\":\"press-10\",\"limits\":{\"x\":{\"min\":1,\"max\":\"y\"}}}", 400,
                     "bad_request", "limits"));
    CHECK_EQ_INT(status_of("GET", "/api/v1/devices/press-10", f->admin, NULL), 404);
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-9", f->viewer, NULL, &resp, &json), 200);
    CHECK(num_of(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "limits"),
                                                  "pressure_bar"), "min") == 1.0);
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(status_of("DELETE", "/api/v1/devices/press-9", f->admin, NULL), 204);
    CHECK(fails_with("GET", "/api/v1/devices/press-9", f->viewer, NULL, 404, "not_found",
                     "press-9"));
    CHECK(fails_with("DELETE", "/api/v1/devices/press-9", f->admin, NULL, 404, "not_found",
                     "press-9"));
}

static void meta_over_limit_is_refused(void)
{
    struct api_fixture *f = fixture();
    char *body;
    size_t n = MDX_DEVICE_JSON_MAX + 100, o;

    if (f == NULL) {
        return;
    }
    body = malloc(n + 64);
    CHECK(body != NULL);
    if (body == NULL) {
        return;
    }
    o = (size_t)snprintf(body, n + 64, "{\"meta\":{\"note\":\"");
    memset(body + o, 'a', n - o);
    snprintf(body + n, 64, "\"}}");
    CHECK(fails_with("PATCH", "/api/v1/devices/press-2", f->admin, body, 400, "bad_request",
                     "meta"));
    free(body);
}

/* ---- tenancy and roles ---- */

/* 'a' equals 'b' once 'from' in 'b' is replaced by 'to' (the same words about another id). */
static int same_but_id(const char *a, const char *b, const char *from, const char *to)
{
    char buf[1024];
    const char *p = strstr(b, from);

    if (p == NULL) {
        fprintf(stderr, "  '%s' not in %s\n", from, b);
        return 0;
    }
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - b), b, to, p + strlen(from));
    if (strcmp(a, buf) != 0) {
        fprintf(stderr, "  404 bodies differ:\n  %s\n  %s\n", a, buf);
        return 0;
    }
    return 1;
}

static void other_tenant_sees_nothing_of_acme(void)
{
    struct api_fixture *f = fixture();
    struct http_resp theirs, ghost;
    cJSON *j1, *j2;
    char path[128], ghost_path[128], idtext[32];
    int64_t alert;

    if (f == NULL) {
        return;
    }
    alert = put_alert("acme", "press-1", "current_mean", MDX_SEVERITY_WARNING, mdx_now_ms());
    CHECK(alert > 0);

    /* A device of acme answers globex exactly like one that does not exist. */
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1", f->globex_admin, NULL, &theirs, &j1), 404);
    CHECK_EQ_INT(call("GET", "/api/v1/devices/ghost-1", f->globex_admin, NULL, &ghost, &j2), 404);
    CHECK(theirs.body != NULL && ghost.body != NULL &&
          same_but_id(theirs.body, ghost.body, "ghost-1", "press-1"));
    cJSON_Delete(j1);
    cJSON_Delete(j2);
    http_resp_free(&theirs);
    http_resp_free(&ghost);

    /* The same for an alert of acme and an alert id that was never given. */
    snprintf(idtext, sizeof(idtext), "%lld", (long long)alert);
    snprintf(path, sizeof(path), "/api/v1/alerts/%s", idtext);
    snprintf(ghost_path, sizeof(ghost_path), "/api/v1/alerts/%lld", (long long)alert + 100000);
    CHECK_EQ_INT(call("GET", path, f->globex_admin, NULL, &theirs, &j1), 404);
    CHECK_EQ_INT(call("GET", ghost_path, f->globex_admin, NULL, &ghost, &j2), 404);
    {
        char ghost_id[32];

        snprintf(ghost_id, sizeof(ghost_id), "%lld", (long long)alert + 100000);
        CHECK(theirs.body != NULL && ghost.body != NULL &&
              same_but_id(theirs.body, ghost.body, ghost_id, idtext));
    }
    cJSON_Delete(j1);
    cJSON_Delete(j2);
    http_resp_free(&theirs);
    http_resp_free(&ghost);
    snprintf(path, sizeof(path), "/api/v1/alerts/%s/ack", idtext);
    CHECK(fails_with("POST", path, f->globex_admin, NULL, 404, "not_found", idtext));

    /* Lists show only globex's own. */
    CHECK_EQ_INT(call("GET", "/api/v1/devices", f->globex_admin, NULL, &theirs, &j1), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j1, "devices")), 1);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(j1, "devices"), "id", "mill-1") != NULL);
    cJSON_Delete(j1);
    http_resp_free(&theirs);
    CHECK_EQ_INT(call("GET", "/api/v1/alerts?device=press-1", f->globex_admin, NULL, &theirs,
                      &j1), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j1, "alerts")), 0);
    cJSON_Delete(j1);
    http_resp_free(&theirs);
    CHECK_EQ_INT(call("GET", "/api/v1/alerts", f->globex_admin, NULL, &theirs, &j1), 200);
    {
        const cJSON *a;

        cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(j1, "alerts")) {
            CHECK_STR(str_of(a, "device"), "mill-1");
        }
    }
    cJSON_Delete(j1);
    http_resp_free(&theirs);

    /* Changing or deleting acme's device from globex is a 404 and changes nothing. */
    CHECK(fails_with("PATCH", "/api/v1/devices/press-1", f->globex_admin, "{\"type\":\"x\"}",
                     404, "not_found", "press-1"));
    CHECK(fails_with("DELETE", "/api/v1/devices/press-1", f->globex_admin, NULL, 404,
                     "not_found", "press-1"));
    CHECK(fails_with("GET", "/api/v1/devices/press-1/events", f->globex_admin, NULL, 404,
                     "not_found", "press-1"));
    CHECK_EQ_INT(status_of("GET", "/api/v1/devices/press-1", f->viewer, NULL), 200);
}

static void roles_are_enforced(void)
{
    struct api_fixture *f = fixture();
    char path[128];
    int64_t alert;

    if (f == NULL) {
        return;
    }
    CHECK(fails_with("POST", "/api/v1/devices", f->viewer, "{\"id\":\"press-77\"}", 403,
                     "forbidden", NULL));
    CHECK(fails_with("POST", "/api/v1/devices", f->operator_, "{\"id\":\"press-77\"}", 403,
                     "forbidden", NULL));
    CHECK(fails_with("DELETE", "/api/v1/devices/press-2", f->operator_, NULL, 403, "forbidden",
                     NULL));
    CHECK(fails_with("POST", "/api/v1/rules", f->viewer, "{\"name\":\"x\"}", 403, "forbidden",
                     NULL));
    CHECK(fails_with("GET", "/api/v1/deadletters", f->viewer, NULL, 403, "forbidden", NULL));
    CHECK_EQ_INT(status_of("GET", "/api/v1/devices/press-77", f->admin, NULL), 404);

    alert = put_alert("acme", "press-2", "temperature_mean", MDX_SEVERITY_CRITICAL,
                      mdx_now_ms());
    CHECK(alert > 0);
    snprintf(path, sizeof(path), "/api/v1/alerts/%lld/ack", (long long)alert);
    CHECK(fails_with("POST", path, f->viewer, NULL, 403, "forbidden", NULL));
    CHECK_EQ_INT(status_of("POST", path, f->operator_, NULL), 200);
}

/* ---- bad input ---- */

static void bad_bodies_and_parameters_are_named(void)
{
    struct api_fixture *f = fixture();

    if (f == NULL) {
        return;
    }
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "{\"id\":", 400, "bad_request", NULL));
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "[1,2]", 400, "bad_request", NULL));
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "{\"id\":\"p-5\",\"colour\":\"red\"}",
                     400, "bad_request", "colour"));
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "{\"type\":\"a\"}", 400, "bad_request",
                     "id"));
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "{\"id\":\"bad id/..\"}", 400,
                     "bad_request", "id"));
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "{\"id\":42}", 400, "bad_request",
                     "id"));
    CHECK(fails_with("PATCH", "/api/v1/devices/press-1", f->admin, "{\"owner\":\"me\"}", 400,
                     "bad_request", "owner"));
    CHECK(fails_with("GET", "/api/v1/devices?foo=1", f->viewer, NULL, 400, "bad_request", "foo"));
    CHECK(fails_with("GET", "/api/v1/alerts?state=bogus", f->viewer, NULL, 400, "bad_request",
                     "state"));
    CHECK(fails_with("GET", "/api/v1/alerts?severity=loud", f->viewer, NULL, 400, "bad_request",
                     "severity"));
    CHECK(fails_with("GET", "/api/v1/alerts?sort=id", f->viewer, NULL, 400, "bad_request",
                     "sort"));
    CHECK(fails_with("GET", "/api/v1/devices/press-1/events?kind=ack", f->viewer, NULL, 400,
                     "bad_request", "kind"));
    CHECK(fails_with("GET", "/api/v1/rules?x=y", f->viewer, NULL, 400, "bad_request", "x"));
    static const char *const limits[] = {"0", "-1", "abc", "1e3", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char path[128];

        snprintf(path, sizeof(path), "/api/v1/alerts?limit=%s", limits[i]);
        CHECK(fails_with("GET", path, f->viewer, NULL, 400, "bad_request", "limit"));
        snprintf(path, sizeof(path), "/api/v1/devices/press-1/events?limit=%s", limits[i]);
        CHECK(fails_with("GET", path, f->viewer, NULL, 400, "bad_request", "limit"));
        snprintf(path, sizeof(path), "/api/v1/deadletters?limit=%s", limits[i]);
        CHECK(fails_with("GET", path, f->operator_, NULL, 400, "bad_request", "limit"));
    }
    CHECK(fails_with("POST", "/api/v1/keys", f->admin, "{\"role\":\"king\"}", 400, "bad_request",
                     "role"));
    CHECK(fails_with("POST", "/api/v1/keys", f->admin, "{\"role\":\"viewer\",\"scope\":1}", 400,
                     "bad_request", "scope"));
    CHECK(fails_with("POST", "/api/v1/alerts/1/ack", f->operator_, "{\"note\":\"x\"}", 400,
                     "bad_request", "note"));
}

static void sql_injection_changes_nothing(void)
{
    static const char *const evil[] = {
        "x' OR '1'='1", "1;DROP TABLE devices", "press-1' --", "press-1\"; DELETE FROM devices;--",
        "1 OR 1=1", "%27%20OR%20%271%27%3D%271", "../press-1", "press-1%00", "1) UNION SELECT 1--",
    };
    struct api_fixture *f = fixture();
    int64_t before, after;

    if (f == NULL) {
        return;
    }
    before = stored_rows();
    CHECK(before > 0);
    for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
        char e[256], path[512];
        long st;

        pct(evil[i], e, sizeof(e));
#define REFUSED(method, key, body, ...)                                                            \
    do {                                                                                           \
        snprintf(path, sizeof(path), __VA_ARGS__);                                                 \
        st = status_of(method, path, key, body);                                                   \
        if (st != 404 && st != 400) {                                                              \
            fprintf(stderr, "  %s %s: %ld\n", method, path, st);                                   \
        }                                                                                          \
        CHECK(st == 404 || st == 400);                                                             \
    } while (0)
        REFUSED("GET", f->admin, NULL, "/api/v1/devices/%s", e);
        REFUSED("PATCH", f->admin, "{\"type\":\"t\"}", "/api/v1/devices/%s", e);
        REFUSED("DELETE", f->admin, NULL, "/api/v1/devices/%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/devices/%s/events", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/alerts/%s", e);
        REFUSED("POST", f->admin, NULL, "/api/v1/alerts/%s/ack", e);
        REFUSED("POST", f->admin, NULL, "/api/v1/alerts/%s/resolve", e);
        REFUSED("DELETE", f->admin, NULL, "/api/v1/rules/%s", e);
        REFUSED("DELETE", f->admin, NULL, "/api/v1/keys/%s", e);
        REFUSED("POST", f->platform, "{\"role\":\"viewer\"}", "/api/v1/tenants/%s/keys", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/alerts?device=%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/alerts?state=%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/alerts?severity=%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/alerts?limit=%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/devices/press-1/events?kind=%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/devices/press-1/events?limit=%s", e);
        REFUSED("GET", f->operator_, NULL, "/api/v1/deadletters?limit=%s", e);
        REFUSED("GET", f->admin, NULL, "/api/v1/devices?%s=1", e);
#undef REFUSED
    }
    /* The same strings as body values are refused as names. */
    CHECK(fails_with("POST", "/api/v1/devices", f->admin, "{\"id\":\"x' OR '1'='1\"}", 400,
                     "bad_request", "id"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"device\":\"1;DROP TABLE devices\",\"sensor\":\"a\","
                     "\"cmp\":\">\",\"threshold\":1}", 400, "bad_request", "device"));
    after = stored_rows();
    CHECK_EQ_INT(after, before);
    CHECK_EQ_INT(status_of("GET", "/api/v1/devices/press-1", f->viewer, NULL), 200);
}

/* ---- alerts ---- */

static void alerts_filter_ack_and_resolve(void)
{
    struct api_fixture *f = fixture();
    struct http_resp resp;
    cJSON *json;
    const cJSON *arr, *a;
    char path[128];
    int64_t now = mdx_now_ms(), warn, crit;

    if (f == NULL) {
        return;
    }
    warn = put_alert("acme", "press-1", "vibration_rms", MDX_SEVERITY_WARNING, now + 1000);
    crit = put_alert("acme", "press-2", "pressure_max", MDX_SEVERITY_CRITICAL, now + 2000);
    CHECK(warn > 0 && crit > 0);

    CHECK_EQ_INT(call("GET", "/api/v1/alerts?state=open&limit=2", f->viewer, NULL, &resp, &json),
                 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "alerts");
    CHECK_EQ_INT(cJSON_GetArraySize(arr), 2);
    CHECK(num_of(cJSON_GetArrayItem(arr, 0), "id") == (double)crit); /* newest first */
    CHECK(num_of(cJSON_GetArrayItem(arr, 1), "id") == (double)warn);
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("GET", "/api/v1/alerts?severity=critical&device=press-2&state=active",
                      f->viewer, NULL, &resp, &json), 200);
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(json, "alerts")) {
        CHECK_STR(str_of(a, "severity"), "critical");
        CHECK_STR(str_of(a, "device"), "press-2");
    }
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "alerts"), "sensor", "pressure_max") !=
          NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    snprintf(path, sizeof(path), "/api/v1/alerts/%lld", (long long)warn);
    CHECK_EQ_INT(call("GET", path, f->viewer, NULL, &resp, &json), 200);
    CHECK(num_of(json, "id") == (double)warn);
    CHECK_STR(str_of(json, "device"), "press-1");
    CHECK_STR(str_of(json, "source"), "rule:test_vibration_rms");
    CHECK_STR(str_of(json, "state"), "open");
    CHECK_STR(str_of(json, "severity"), "warning");
    CHECK(num_of(json, "opened_ms") == (double)(now + 1000));
    CHECK(str_of(json, "opened") != NULL);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(json, "resolved")));
    CHECK(num_of(json, "value") == 12.5);
    CHECK(cJSON_GetObjectItemCaseSensitive(json, "tenant") == NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    snprintf(path, sizeof(path), "/api/v1/alerts/%lld/ack", (long long)warn);
    CHECK_EQ_INT(call("POST", path, f->operator_, NULL, &resp, &json), 200);
    CHECK_STR(str_of(json, "state"), "acknowledged");
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK(fails_with("POST", path, f->operator_, NULL, 409, "conflict", "acknowledged"));

    snprintf(path, sizeof(path), "/api/v1/alerts/%lld/resolve", (long long)warn);
    CHECK_EQ_INT(call("POST", path, f->operator_, "{}", &resp, &json), 200);
    CHECK_STR(str_of(json, "state"), "resolved");
    CHECK(num_of(json, "resolved_ms") > 0);
    CHECK(str_of(json, "resolved") != NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK(fails_with("POST", path, f->operator_, NULL, 409, "conflict", "resolved"));
    snprintf(path, sizeof(path), "/api/v1/alerts/%lld/ack", (long long)warn);
    CHECK(fails_with("POST", path, f->operator_, NULL, 409, "conflict", "resolved"));

    /* An open alert can be resolved straight away; the store agrees. */
    snprintf(path, sizeof(path), "/api/v1/alerts/%lld/resolve", (long long)crit);
    CHECK_EQ_INT(status_of("POST", path, f->operator_, NULL), 200);
    CHECK_EQ_INT(call("GET", "/api/v1/alerts?state=resolved", f->viewer, NULL, &resp, &json), 200);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "alerts"), "sensor", "pressure_max") !=
          NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);
}

/* ---- rules ---- */

static void rules_create_replace_delete(void)
{
    static const char rule[] =
        "{\"name\":\"hot_oil\",\"device\":\"press-1\",\"sensor\":\"oil_temp\",\"cmp\":\">=\","
        "\"threshold\":70.5,\"hysteresis\":2,\"min_duration_ms\":30000,\"severity\":\"critical\"}";
    struct api_fixture *f = fixture();
    struct http_resp resp;
    cJSON *json;
    char path[128];
    double id;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(call("GET", "/api/v1/rules", f->viewer, NULL, &resp, &json), 200);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "rules"), "name", "overcurrent") != NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("POST", "/api/v1/rules", f->admin, rule, &resp, &json), 201);
    id = num_of(json, "id");
    CHECK(id > 0);
    CHECK_STR(str_of(json, "device"), "press-1");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(json, "device_type")));
    CHECK_STR(str_of(json, "cmp"), ">=");
    CHECK(num_of(json, "threshold") == 70.5);
    CHECK(num_of(json, "min_duration_ms") == 30000);
    CHECK_STR(str_of(json, "severity"), "critical");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "enabled")));
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* Same name and scope: replaced, same id. */
    CHECK_EQ_INT(call("POST", "/api/v1/rules", f->admin,
                      "{\"name\":\"hot_oil\",\"device\":\"press-1\",\"sensor\":\"oil_temp\","
                      "\"cmp\":\"gt\",\"threshold\":75,\"enabled\":false}", &resp, &json), 201);
    CHECK(num_of(json, "id") == id);
    CHECK(num_of(json, "threshold") == 75);
    CHECK_STR(str_of(json, "cmp"), ">");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(json, "enabled")));
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* globex does not see it. */
    CHECK_EQ_INT(call("GET", "/api/v1/rules", f->globex_admin, NULL, &resp, &json), 200);
    CHECK(find_by(cJSON_GetObjectItemCaseSensitive(json, "rules"), "name", "hot_oil") == NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"a\",\"cmp\":\"~\",\"threshold\":1}", 400,
                     "bad_request", "cmp"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"a\",\"cmp\":\">\",\"threshold\":\"abc\"}", 400,
                     "bad_request", "threshold"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"A B\",\"cmp\":\">\",\"threshold\":1}", 400,
                     "bad_request", "sensor"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"a\",\"cmp\":\">\",\"threshold\":1,"
                     "\"device\":\"press-1\",\"device_type\":\"hydraulic\"}", 400, "bad_request",
                     "device_type"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"a\",\"cmp\":\">\",\"threshold\":1,"
                     "\"hysteresis\":-1}", 400, "bad_request", "hysteresis"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"a\",\"cmp\":\">\",\"threshold\":1,"
                     "\"min_duration_ms\":1.5}", 400, "bad_request", "min_duration_ms"));
    CHECK(fails_with("POST", "/api/v1/rules", f->admin,
                     "{\"name\":\"r\",\"sensor\":\"a\",\"cmp\":\">\",\"threshold\":1,"
                     "\"id\":4}", 400, "bad_request", "id"));

    snprintf(path, sizeof(path), "/api/v1/rules/%.0f", id);
    CHECK(fails_with("DELETE", path, f->globex_admin, NULL, 404, "not_found", NULL));
    CHECK_EQ_INT(status_of("DELETE", path, f->admin, NULL), 204);
    CHECK(fails_with("DELETE", path, f->admin, NULL, 404, "not_found", NULL));
}

/* ---- events and dead letters (written into the store) ---- */

static int store_events_and_deadletters(int64_t t0)
{
    static const uint8_t bad_utf8[] = {'{', '"', 'v', '"', ':', 0xFF, 0xC3, '}', 0x00, 'z'};
    struct mdx_event ev[3];
    struct mdx_event_rec recs[3];
    struct mdx_deadletter dl[2];
    struct mdx_batch b;
    struct mdx_store *st = test_store_open(fx.dir);
    int rc;

    if (st == NULL) {
        return MDX_ESTORE;
    }
    memset(ev, 0, sizeof(ev));
    memset(&b, 0, sizeof(b));
    ev[0].kind = MDX_MSG_STATUS;
    ev[0].ts_ms = t0;
    snprintf(ev[0].body, sizeof(ev[0].body), "{\"state\":\"online\"}");
    ev[1].kind = MDX_MSG_SAFETY;
    ev[1].ts_ms = t0 + 1000;
    snprintf(ev[1].body, sizeof(ev[1].body), "{\"emergency_stop\":false,\"door_open\":true}");
    ev[2].kind = MDX_MSG_SAFETY;
    ev[2].ts_ms = t0 + 2000;
    snprintf(ev[2].body, sizeof(ev[2].body), "{\"emergency_stop\":false,\"door_open\":false}");
    for (int i = 0; i < 3; i++) {
        recs[i].tenant = "acme";
        recs[i].device = "press-2";
        recs[i].event = &ev[i];
        recs[i].recv_ms = ev[i].ts_ms;
    }
    dl[0] = (struct mdx_deadletter){0, t0, "malformed_json", "modax/acme/press-2/sensor_data",
                                    bad_utf8, sizeof(bad_utf8), 5000};
    dl[1] = (struct mdx_deadletter){0, t0, "unknown_device", "modax/globex/mill-9/sensor_data",
                                    (const uint8_t *)"{}", 2, 2};
    b.events = recs;
    b.n_events = 3;
    b.dead = dl;
    b.n_dead = 2;
    rc = mdx_store_write(st, &b, NULL);
    mdx_store_close(st);
    return rc;
}

static void events_and_deadletters(void)
{
    struct api_fixture *f = fixture();
    struct http_resp resp;
    cJSON *json;
    const cJSON *arr, *e;
    int64_t t0 = mdx_now_ms() - 60000;

    if (f == NULL) {
        return;
    }
    CHECK_EQ_INT(store_events_and_deadletters(t0), MDX_OK);

    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-2/events", f->viewer, NULL, &resp, &json), 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "events");
    CHECK_EQ_INT(cJSON_GetArraySize(arr), 3);
    e = cJSON_GetArrayItem(arr, 0); /* newest first */
    CHECK_STR(str_of(e, "kind"), "safety");
    CHECK(num_of(e, "ts_ms") == (double)(t0 + 2000));
    CHECK(str_of(e, "time") != NULL);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(e, "body"), "door_open")));
    CHECK_STR(str_of(cJSON_GetArrayItem(arr, 2), "kind"), "status");
    cJSON_Delete(json);
    http_resp_free(&resp);

    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-2/events?kind=status", f->viewer, NULL, &resp,
                      &json), 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "events");
    CHECK_EQ_INT(cJSON_GetArraySize(arr), 1);
    CHECK_STR(str_of(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "body"), "state"),
              "online");
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-2/events?kind=safety&limit=1", f->viewer, NULL,
                      &resp, &json), 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "events");
    CHECK_EQ_INT(cJSON_GetArraySize(arr), 1);
    CHECK(num_of(cJSON_GetArrayItem(arr, 0), "ts_ms") == (double)(t0 + 2000));
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* The status event shows in the device. */
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-2", f->viewer, NULL, &resp, &json), 200);
    CHECK_STR(str_of(json, "status"), "online");
    CHECK(str_of(json, "status_time") != NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* An operator of acme sees acme's dead letter only, its payload as text. */
    CHECK_EQ_INT(call("GET", "/api/v1/deadletters", f->operator_, NULL, &resp, &json), 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "deadletters");
    e = find_by(arr, "topic", "modax/acme/press-2/sensor_data");
    CHECK(e != NULL);
    CHECK(find_by(arr, "topic", "modax/globex/mill-9/sensor_data") == NULL);
    cJSON_ArrayForEach(e, arr) {
        CHECK(strncmp(str_of(e, "topic") ? str_of(e, "topic") : "", "modax/acme/", 11) == 0);
    }
    e = find_by(arr, "topic", "modax/acme/press-2/sensor_data");
    CHECK_STR(str_of(e, "payload"), "{\"v\":\xEF\xBF\xBD\xEF\xBF\xBD}\xEF\xBF\xBDz");
    CHECK(num_of(e, "size") == 5000);
    CHECK_STR(str_of(e, "reason"), "malformed_json");
    CHECK(num_of(cJSON_GetObjectItemCaseSensitive(json, "counts"), "malformed_json") >= 1);
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(json, "counts"),
                                           "unknown_device") == NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);

    /* globex's admin sees its own; the platform key sees both. */
    CHECK_EQ_INT(call("GET", "/api/v1/deadletters", f->globex_admin, NULL, &resp, &json), 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "deadletters");
    CHECK(find_by(arr, "topic", "modax/globex/mill-9/sensor_data") != NULL);
    CHECK(find_by(arr, "topic", "modax/acme/press-2/sensor_data") == NULL);
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK_EQ_INT(call("GET", "/api/v1/deadletters?limit=1000", f->platform, NULL, &resp, &json),
                 200);
    arr = cJSON_GetObjectItemCaseSensitive(json, "deadletters");
    CHECK(find_by(arr, "topic", "modax/globex/mill-9/sensor_data") != NULL);
    CHECK(find_by(arr, "topic", "modax/acme/press-2/sensor_data") != NULL);
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(json, "counts")));
    cJSON_Delete(json);
    http_resp_free(&resp);
    CHECK_EQ_INT(call("GET", "/api/v1/deadletters?limit=1", f->platform, NULL, &resp, &json), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(json, "deadletters")), 1);
    cJSON_Delete(json);
    http_resp_free(&resp);
}

/* After all of the above the server stops cleanly (under ASan: no leak, no error). */
static void server_exits_cleanly(void)
{
    if (fixture() == NULL) {
        return;
    }
    CHECK_EQ_INT(serve_stop(&fx.serve, 15), 0);
    api_fixture_stop(&fx);
    fx_state = 0;
}

static const struct mdx_test tests[] = {
    {"platform key lists and creates tenants and their first keys", platform_manages_tenants},
    {"admin lists, makes and revokes keys; a revoked key gets 401",
     admin_manages_keys_and_revoked_key_is_refused},
    {"devices: register, get detail, patch type/meta/limits, delete",
     devices_register_get_patch_delete},
    {"device metadata over MDX_DEVICE_JSON_MAX is refused", meta_over_limit_is_refused},
    {"another tenant's devices and alerts answer 404 like missing ones",
     other_tenant_sees_nothing_of_acme},
    {"roles: viewer cannot register or ack, operator acks", roles_are_enforced},
    {"bad bodies and query parameters are refused, naming them",
     bad_bodies_and_parameters_are_named},
    {"SQL injection strings in paths and queries change nothing", sql_injection_changes_nothing},
    {"alerts: filters, get, ack, resolve, 409 when nothing changes",
     alerts_filter_ack_and_resolve},
    {"rules: list, create, replace, refuse bad ones, delete", rules_create_replace_delete},
    {"events newest first by kind; dead letters by tenant with payload text",
     events_and_deadletters},
    {"the server exits cleanly after all of these requests", server_exits_cleanly},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
