/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.c - the route tables in matching order, and the path of a
 * request through them (router.h).
 *
 * A request is matched against the routes (404 under /api/ when no
 * pattern fits, 405 with Allow when the path fits another method), then,
 * unless the route is public, authenticated (auth.c: 401, 429, 503) and
 * checked against the route's access (403). The body, read by the
 * listener up to api.body_max_bytes (413), is parsed as JSON (400); then
 * the handler runs on the server thread with that thread's store handle.
 * Paths outside /api/ that no route takes are the dashboard's files
 * (static_files.c).
 *
 * A new resource is one route_*.c file exporting its table, plus one line
 * in api_route_tables below.
 */
#include <stdio.h>
#include <string.h>

#include "api/reply.h"
#include "api/request.h"
#include "api/router.h"
#include "modax/alloc.h"
#include "modax/apikey.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "api"
#define SEGS_MAX 16              /* path segments matched against route patterns */

const struct api_route *const api_route_tables[] = {
    api_routes_system,      /* /healthz, /readyz, /metrics, openapi, /api/v1/me */
    api_routes_tenants,     /* platform: tenants and their first keys */
    api_routes_devices,
    api_routes_telemetry,   /* latest, range, export */
    api_routes_events,      /* safety and status events */
    api_routes_alerts,
    api_routes_rules,
    api_routes_commands,
    api_routes_deadletters,
    api_routes_stream,      /* live stream (SSE) */
    api_routes_rul,         /* RUL predictions (issue 7) */
};

const size_t api_route_tables_n = sizeof(api_route_tables) / sizeof(api_route_tables[0]);

int api_router_init(struct api *a)
{
    size_t n = 0, k = 0;

    for (size_t t = 0; t < api_route_tables_n; t++) {
        for (const struct api_route *rt = api_route_tables[t]; rt->method != NULL; rt++) {
            n++;
        }
    }
    a->routes = mdx_calloc(n > 0 ? n : 1, sizeof(*a->routes));
    if (a->routes == NULL) {
        return MDX_ENOMEM;
    }
    for (size_t t = 0; t < api_route_tables_n; t++) {
        for (const struct api_route *rt = api_route_tables[t]; rt->method != NULL; rt++) {
            a->routes[k++] = rt;
        }
    }
    a->n_routes = n;
    return MDX_OK;
}

void api_router_fini(struct api *a)
{
    MDX_FREE(a->routes);
    a->n_routes = 0;
}

/* ---- matching ---- */

struct segs {
    const char *p[SEGS_MAX];
    size_t len[SEGS_MAX];
    size_t n;
    int overflow;
};

/* Splits "/a/b/c" into its segments (empty ones kept, so "/a/" does not match "/a"). */
static void split(const char *path, struct segs *s)
{
    const char *p = path[0] == '/' ? path + 1 : path;

    s->n = 0;
    s->overflow = 0;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (s->n == SEGS_MAX) {
            s->overflow = 1;
            return;
        }
        s->p[s->n] = p;
        s->len[s->n++] = len;
        if (slash == NULL) {
            return;
        }
        p = slash + 1;
    }
}

/* 1 if 'path' fits 'pattern'; the segment numbers of its {captures} into caps. */
static int match(const char *pattern, const struct segs *path, size_t caps[API_PARAMS_MAX],
                 size_t *n_caps)
{
    struct segs pat;

    split(pattern, &pat);
    if (path->overflow || pat.n != path->n) {
        return 0;
    }
    *n_caps = 0;
    for (size_t i = 0; i < pat.n; i++) {
        if (pat.len[i] > 2 && pat.p[i][0] == '{' && pat.p[i][pat.len[i] - 1] == '}') {
            if (path->len[i] == 0 || *n_caps == API_PARAMS_MAX) {
                return 0;
            }
            caps[(*n_caps)++] = i;
        } else if (pat.len[i] != path->len[i] || memcmp(pat.p[i], path->p[i], pat.len[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* HEAD is served by the GET routes. */
static int method_is(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/*
 * Finds the route of the request: its index, or n_routes. When the path
 * fits routes of other methods only, their methods go to 'allow'.
 */
static size_t find_route(struct api *a, struct api_call *c, char *allow, size_t allow_len)
{
    struct segs path;
    size_t caps[API_PARAMS_MAX], n_caps = 0;

    allow[0] = '\0';
    split(c->r.url, &path);
    for (size_t i = 0; i < a->n_routes; i++) {
        const struct api_route *rt = a->routes[i];
        if (!match(rt->pattern, &path, caps, &n_caps)) {
            continue;
        }
        if (!method_is(rt->method, c->r.method)) {
            if (strstr(allow, rt->method) == NULL &&
                strlen(allow) + strlen(rt->method) + 3 < allow_len) {
                if (allow[0] != '\0') {
                    strcat(allow, ", ");
                }
                strcat(allow, rt->method);
            }
            continue;
        }
        char *out = c->captures;
        for (size_t k = 0; k < n_caps; k++) {
            memcpy(out, path.p[caps[k]], path.len[caps[k]]);
            out[path.len[caps[k]]] = '\0';
            c->r.params[k] = out;
            out += path.len[caps[k]] + 1;
        }
        c->r.n_params = n_caps;
        return i;
    }
    return a->n_routes;
}

/* 1 if the caller's key may use a route of 'access'. */
static int access_ok(int access, const struct api_caller *c)
{
    int tenant_key = c->role != MDX_ROLE_PLATFORM;

    switch (access) {
    case API_VIEWER: return tenant_key;
    case API_OPERATOR: return tenant_key && c->role >= MDX_ROLE_OPERATOR;
    case API_ADMIN: return tenant_key && c->role == MDX_ROLE_ADMIN;
    case API_PLATFORM: return c->role == MDX_ROLE_PLATFORM;
    case API_OPERATOR_OR_PLATFORM: return c->role >= MDX_ROLE_OPERATOR;
    default: return 0;
    }
}

static const char *access_name(int access)
{
    switch (access) {
    case API_VIEWER: return "a tenant key";
    case API_OPERATOR: return "a tenant key with role operator or admin";
    case API_ADMIN: return "a tenant key with role admin";
    case API_PLATFORM: return "the platform key";
    case API_OPERATOR_OR_PLATFORM: return "an operator, admin or platform key";
    default: return "no key";
    }
}

/* ---- admission and dispatch ---- */

void api_router_headers(struct api *a, struct api_call *c)
{
    struct api_req *r = &c->r;
    char allow[64];
    const char *why = NULL;
    int retry = 0;
    unsigned rc;

    c->route_idx = find_route(a, c, allow, sizeof(allow));
    if (c->route_idx == a->n_routes) {
        if (allow[0] != '\0') {
            char msg[128];
            snprintf(msg, sizeof(msg), "method %s not allowed here; allowed: %s", r->method,
                     allow);
            api_error_header(r, 405, "method_not_allowed", "Allow", allow, msg);
        } else if (api_path_is_api(r->url)) {
            api_error(r, 404, "not_found", "no such route: %s %.200s", r->method, r->url);
        } else if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
            api_error_header(r, 405, "method_not_allowed", "Allow", "GET, HEAD",
                             "the dashboard's files are read with GET");
        }
        return; /* a dashboard file: served when the request is complete */
    }
    r->route = a->routes[c->route_idx];
    r->store = api_stores_get(a->stores);
    if (r->route->access != API_PUBLIC) {
        rc = api_auth_check(a->auth, r->store, api_req_key(r), mdx_now_ms(), &r->caller, &why,
                            &retry);
        if (rc == 429) {
            char ra[16];
            snprintf(ra, sizeof(ra), "%d", retry);
            api_error_header(r, 429, "rate_limited", "Retry-After", ra, why);
            return;
        }
        if (rc == 401) {
            api_error(r, 401, "unauthorized", "%s", why);
            return;
        }
        if (rc != 0) {
            api_error(r, 503, "unavailable", "%s; retry later", why);
            return;
        }
        if (!access_ok(r->route->access, &r->caller)) {
            api_error(r, 403, "forbidden", "%s %s needs %s", r->route->method, r->route->pattern,
                      access_name(r->route->access));
            return;
        }
    }
    if (api_req_length_over(r, a->conf->body_max_bytes)) {
        api_error(r, 413, "payload_too_large", "the body is larger than %lld bytes",
                  (long long)a->conf->body_max_bytes);
    }
}

/* Calls the route's handler; the request is checked and its body parsed. */
static void call_handler(struct api *a, struct api_req *r)
{
    if (r->route->access != API_PUBLIC && r->store == NULL) {
        api_error(r, 503, "unavailable", "the store is unavailable; retry later");
        return;
    }
    r->route->handler(r);
    if (r->status == 0) {
        mdx_log_error(MOD, "route handler sent no reply", MDX_F_STR("route", r->route->pattern));
        api_error(r, 500, "internal", "the handler sent no reply");
    }
    if (r->store_broken) {
        api_stores_drop(a->stores); /* the next request on this thread opens another */
        r->store = NULL;
    }
}

void api_router_dispatch(struct api *a, struct api_call *c)
{
    struct api_req *r = &c->r;

    if (c->route_idx == a->n_routes) {
        api_static_serve(r);
        return;
    }
    if (c->raw.err == MDX_EFULL) {
        api_error(r, 413, "payload_too_large", "the body is larger than %lld bytes",
                  (long long)a->conf->body_max_bytes);
        return;
    }
    if (api_req_parse_body(r, &c->raw) != 0) {
        return;
    }
    call_handler(a, r);
}
