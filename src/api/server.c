/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c - role "api": the libmicrohttpd daemon and the path of every
 * request through it (api.h, api_int.h).
 *
 * A request is matched against the route tables (404 under /api/ when no
 * pattern fits, 405 with Allow when the path fits another method), then,
 * unless the route is public, authenticated (auth.c: 401, 429, 503) and
 * checked against the route's access (403). The body is read up to
 * api.body_max_bytes (413) and parsed as JSON (400); then the handler runs
 * on the server thread with that thread's store handle. Paths outside
 * /api/ that no route takes are the dashboard's files (static_files.c).
 *
 * Each server thread opens its own store handle on first use; the server
 * keeps a list of them to close at stop. A handle whose connection broke
 * is dropped and opened again by the next request.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_int.h"
#include "api/hub.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/validate.h"

#define MOD "api"
#define SEGS_MAX 16              /* path segments matched against route patterns */
#define STORE_RETRY_MS 1000      /* a thread whose store open failed tries again after this */
#define CONN_TIMEOUT_S 120       /* idle connections are closed after this */
#define STREAM_BLOCK 32768       /* block size of streamed responses */
#define KEY_HEADER_MAX 256       /* longer key headers are malformed keys */

/* The running server: the shared parts (struct api) and what only server.c uses. */
struct mdx_api {
    struct api api;
    uint64_t gen;                 /* tells this server's thread-local store handles from others' */
    pthread_mutex_t stores_mu;
    struct mdx_store **stores;    /* every handle opened by a server thread */
    size_t n_stores, cap_stores;
    char *tls_cert, *tls_key;     /* PEM text, for the daemon's lifetime */
};

/* One request's state, from its headers to its completion. */
struct req_state {
    struct api_req r;
    size_t route_idx;             /* index into api->routes; n_routes when none */
    int64_t t0_us;
    char *body;                   /* received body, NUL-terminated */
    size_t len;
    int too_large;
    int recorded;                 /* counted and logged */
    char *pbuf;                   /* storage of the path captures */
};

static atomic_uint_fast64_t next_gen = 1;
static _Thread_local struct mdx_store *tl_store;
static _Thread_local uint64_t tl_gen;
static _Thread_local int64_t tl_retry_ms;

static struct mdx_api *outer(struct api *a)
{
    return (struct mdx_api *)a; /* struct api is the first member */
}

/* ---- store handles ---- */

/* This thread's store handle for the server, opened on first use; NULL if the store is down. */
static struct mdx_store *thread_store(struct api *a)
{
    struct mdx_api *m = outer(a);
    struct mdx_store *st;
    int64_t now = mdx_mono_us() / 1000;
    int err = MDX_OK;

    if (tl_gen == m->gen && tl_store != NULL) {
        return tl_store;
    }
    if (tl_gen == m->gen && now < tl_retry_ms) {
        return NULL;
    }
    tl_gen = m->gen;
    tl_store = NULL;
    pthread_mutex_lock(&m->stores_mu);
    if (m->n_stores == m->cap_stores) {
        pthread_mutex_unlock(&m->stores_mu);
        mdx_log_error(MOD, "too many store handles; not opening another");
        tl_retry_ms = now + STORE_RETRY_MS;
        return NULL;
    }
    pthread_mutex_unlock(&m->stores_mu);
    st = mdx_store_open(a->deps.store, &err);
    if (st == NULL) {
        mdx_log_warn(MOD, "cannot open the store; requests answer 503 until it is back",
                     MDX_F_ERR(err));
        tl_retry_ms = now + STORE_RETRY_MS;
        return NULL;
    }
    pthread_mutex_lock(&m->stores_mu);
    m->stores[m->n_stores++] = st;
    pthread_mutex_unlock(&m->stores_mu);
    tl_store = st;
    return st;
}

/* Closes this thread's handle after a connection failure, so the next request reopens it. */
static void thread_store_drop(struct api *a)
{
    struct mdx_api *m = outer(a);
    struct mdx_store *st = tl_store;

    if (tl_gen != m->gen || st == NULL) {
        return;
    }
    tl_store = NULL;
    pthread_mutex_lock(&m->stores_mu);
    for (size_t i = 0; i < m->n_stores; i++) {
        if (m->stores[i] == st) {
            m->stores[i] = m->stores[--m->n_stores];
            break;
        }
    }
    pthread_mutex_unlock(&m->stores_mu);
    mdx_store_close(st);
}

/* ---- replies ---- */

static int under_api(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;
}

/* Counts and logs the request once it has its status. */
static void record(struct req_state *s)
{
    struct api *a = s->r.api;
    int64_t us;

    if (s->recorded || s->r.status == 0) {
        return;
    }
    s->recorded = 1;
    us = mdx_mono_us() - s->t0_us;
    if (a->metrics != NULL) {
        api_metrics_record(a->metrics, s->route_idx, s->r.status, us);
    }
    mdx_log_debug(MOD, "request", MDX_F_STR("method", s->r.method), MDX_F_STR("path", s->r.url),
                  MDX_F_INT("status", s->r.status), MDX_F_INT("us", us),
                  MDX_F_STR("key_id", s->r.caller.key_id));
}

/* Adds the headers every response carries, queues it and frees our reference. */
static void queue(struct api_req *r, unsigned status, struct MHD_Response *resp)
{
    if (resp == NULL) {
        mdx_log_error(MOD, "cannot create a response (out of memory)");
        r->status = 500; /* the connection is closed without an answer */
        return;
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (under_api(r->url) || r->route != NULL) {
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES) {
        mdx_log_warn(MOD, "cannot queue a response", MDX_F_INT("status", status));
    }
    MHD_destroy_response(resp);
    r->status = status;
}

static struct MHD_Response *json_response(char *text)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_buffer_with_free_callback(strlen(text), text, cJSON_free);
    if (resp == NULL) {
        cJSON_free(text);
        return NULL;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    return resp;
}

/* The error document; extra header 'hname: hval' when hname is not NULL. */
static void error_hdr(struct api_req *r, unsigned status, const char *code, const char *hname,
                      const char *hval, const char *msg)
{
    cJSON *doc = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(doc, "error");
    struct MHD_Response *resp = NULL;
    char *text = NULL;

    if (err != NULL && cJSON_AddStringToObject(err, "code", code) != NULL &&
        cJSON_AddStringToObject(err, "message", msg) != NULL) {
        text = cJSON_PrintUnformatted(doc);
    }
    cJSON_Delete(doc);
    if (text != NULL) {
        resp = json_response(text);
    }
    if (resp != NULL && hname != NULL) {
        MHD_add_response_header(resp, hname, hval);
    }
    queue(r, status, resp);
}

void api_error(struct api_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    error_hdr(r, status, code, status == 401 ? "WWW-Authenticate" : NULL, "Bearer", msg);
}

void api_reply_json(struct api_req *r, unsigned status, cJSON *body)
{
    char *text;

    if (body == NULL) {
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (text == NULL) {
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    queue(r, status, json_response(text));
}

void api_reply_empty(struct api_req *r, unsigned status)
{
    queue(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

void api_reply_bytes(struct api_req *r, unsigned status, const char *content_type,
                     const void *data, size_t len)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp != NULL) {
        MHD_add_response_header(resp, "Content-Type", content_type);
    }
    queue(r, status, resp);
}

void api_reply_stream(struct api_req *r, unsigned status, const char *content_type,
                      MHD_ContentReaderCallback reader, void *cls,
                      MHD_ContentReaderFreeCallback free_cls, const char *filename)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, reader, cls,
                                             free_cls);
    if (resp == NULL) {
        if (free_cls != NULL) {
            free_cls(cls);
        }
        api_error(r, 500, "internal", "out of memory");
        return;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    if (filename != NULL) {
        char disp[300];
        snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(resp, "Content-Disposition", disp);
    }
    queue(r, status, resp);
}

/* ---- request parsing helpers ---- */

const char *api_query(struct api_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct allow_walk {
    const char *const *names;
    const char *unknown;
};

static enum MHD_Result allow_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct allow_walk *w = cls;

    (void)kind;
    (void)value;
    for (const char *const *n = w->names; *n != NULL; n++) {
        if (strcmp(*n, key) == 0) {
            return MHD_YES;
        }
    }
    w->unknown = key;
    return MHD_NO;
}

int api_query_allow(struct api_req *r, const char *const *names)
{
    struct allow_walk w = {names, NULL};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, allow_each, &w);
    if (w.unknown != NULL) {
        api_error(r, 400, "bad_request", "unknown query parameter '%.64s'", w.unknown);
        return -1;
    }
    return 0;
}

/* The whole of 's' as a signed decimal integer; -1 if it is not one. */
static int parse_int64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s[0] == '\0' || s[0] == ' ' || s[0] == '+') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

int api_query_int(struct api_req *r, const char *name, int64_t def, int64_t min, int64_t max,
                  int64_t *out)
{
    const char *v = api_query(r, name);
    int64_t n;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (parse_int64(v, &n) != 0 || n < min || n > max) {
        api_error(r, 400, "bad_request",
                  "query parameter '%s' must be a whole number from %lld to %lld", name,
                  (long long)min, (long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

int api_query_time(struct api_req *r, const char *name, int64_t def, int64_t *out)
{
    const char *v = api_query(r, name);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (mdx_parse_time_ms(v, out) != MDX_OK) {
        api_error(r, 400, "bad_request",
                  "query parameter '%s' must be epoch milliseconds or an ISO 8601 UTC time "
                  "(2026-11-27T10:00:00Z)", name);
        return -1;
    }
    return 0;
}

int api_body_allow(struct api_req *r, const char *const *names)
{
    const cJSON *m;

    if (r->body == NULL) {
        return 0;
    }
    if (!cJSON_IsObject(r->body)) {
        api_error(r, 400, "bad_request", "the body must be a JSON object");
        return -1;
    }
    cJSON_ArrayForEach(m, r->body) {
        const char *const *n = names;
        while (*n != NULL && strcmp(*n, m->string) != 0) {
            n++;
        }
        if (*n == NULL) {
            api_error(r, 400, "bad_request", "unknown field '%.64s'", m->string);
            return -1;
        }
    }
    return 0;
}

int api_body_require(struct api_req *r, const char *const *names)
{
    if (r->body == NULL) {
        api_error(r, 400, "bad_request", "body required: a JSON object");
        return -1;
    }
    return api_body_allow(r, names);
}

/* ---- tenancy ---- */

int api_device(struct api_req *r, const char *device, struct mdx_device_info *out)
{
    int rc;

    if (device == NULL || !mdx_valid_segment(device, strlen(device))) {
        api_error(r, 404, "not_found", "device '%.64s' not found", device != NULL ? device : "");
        return -1;
    }
    rc = mdx_store_device_get(r->store, r->caller.tenant, device, out);
    if (rc == MDX_ENOTFOUND) {
        api_error(r, 404, "not_found", "device '%s' not found", device);
        return -1;
    }
    if (rc != MDX_OK) {
        api_store_error(r, rc);
        return -1;
    }
    return 0;
}

void api_store_error(struct api_req *r, int rc)
{
    if (rc == MDX_ENOTFOUND) {
        api_error(r, 404, "not_found", "not found");
        return;
    }
    if (rc == MDX_ECONN) {
        thread_store_drop(r->api);
    }
    if (mdx_status_is_transient(rc) || rc == MDX_ECONN || rc == MDX_EAGAIN) {
        api_error(r, 503, "unavailable", "the store is unavailable (%s); retry later",
                  mdx_strerror(rc));
        return;
    }
    mdx_log_error(MOD, "store error", MDX_F_STR("path", r->url), MDX_F_ERR(rc));
    api_error(r, 500, "internal", "store error (%s)", mdx_strerror(rc));
}

/* ---- JSON helpers ---- */

cJSON *api_add_time(cJSON *obj, const char *name, int64_t ms)
{
    char buf[40];

    if (ms <= 0) {
        return cJSON_AddNullToObject(obj, name);
    }
    mdx_format_iso_ms(ms, buf, sizeof(buf));
    return cJSON_AddStringToObject(obj, name, buf);
}

/* ---- routing ---- */

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
static size_t find_route(struct api *a, struct req_state *s, char *allow, size_t allow_len)
{
    struct segs path;
    size_t caps[API_PARAMS_MAX], n_caps = 0;

    allow[0] = '\0';
    split(s->r.url, &path);
    for (size_t i = 0; i < a->n_routes; i++) {
        const struct api_route *rt = a->routes[i];
        if (!match(rt->pattern, &path, caps, &n_caps)) {
            continue;
        }
        if (!method_is(rt->method, s->r.method)) {
            if (strstr(allow, rt->method) == NULL &&
                strlen(allow) + strlen(rt->method) + 3 < allow_len) {
                if (allow[0] != '\0') {
                    strcat(allow, ", ");
                }
                strcat(allow, rt->method);
            }
            continue;
        }
        char *out = s->pbuf;
        for (size_t c = 0; c < n_caps; c++) {
            memcpy(out, path.p[caps[c]], path.len[caps[c]]);
            out[path.len[caps[c]]] = '\0';
            s->r.params[c] = out;
            out += path.len[caps[c]] + 1;
        }
        s->r.n_params = n_caps;
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

/* The presented key: "Authorization: Bearer KEY", else "X-API-Key: KEY"; NULL if none. */
static const char *presented_key(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

    if (h != NULL) {
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            return "?"; /* another scheme: refused as a malformed key */
        }
        h += 7;
        while (*h == ' ') {
            h++;
        }
        return strlen(h) < KEY_HEADER_MAX ? h : "?";
    }
    h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");
    if (h != NULL && strlen(h) >= KEY_HEADER_MAX) {
        return "?";
    }
    return h;
}

/*
 * Everything that can be decided from the headers: route, key, access,
 * announced length. Replies (sets r.status) when the request is refused.
 */
static void on_headers(struct api *a, struct req_state *s)
{
    struct api_req *r = &s->r;
    char allow[64];
    const char *why = NULL, *key, *clen;
    int retry = 0;
    unsigned rc;

    s->route_idx = find_route(a, s, allow, sizeof(allow));
    if (s->route_idx == a->n_routes) {
        if (allow[0] != '\0') {
            char msg[128];
            snprintf(msg, sizeof(msg), "method %s not allowed here; allowed: %s", r->method,
                     allow);
            error_hdr(r, 405, "method_not_allowed", "Allow", allow, msg);
        } else if (under_api(r->url)) {
            api_error(r, 404, "not_found", "no such route: %s %.200s", r->method, r->url);
        } else if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
            error_hdr(r, 405, "method_not_allowed", "Allow", "GET, HEAD",
                      "the dashboard's files are read with GET");
        }
        return; /* a dashboard file: served when the request is complete */
    }
    r->route = a->routes[s->route_idx];
    r->store = thread_store(a);
    if (r->route->access != API_PUBLIC) {
        key = presented_key(r->conn);
        rc = api_auth_check(a->auth, r->store, key, mdx_now_ms(), &r->caller, &why, &retry);
        if (rc == 429) {
            char ra[16];
            snprintf(ra, sizeof(ra), "%d", retry);
            error_hdr(r, 429, "rate_limited", "Retry-After", ra, why);
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
    clen = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (clen != NULL) {
        int64_t n;
        if (parse_int64(clen, &n) == 0 && n > a->conf->body_max_bytes) {
            api_error(r, 413, "payload_too_large", "the body is larger than %lld bytes",
                      (long long)a->conf->body_max_bytes);
        }
    }
}

/* Keeps a chunk of the body, up to the limit; beyond it the rest is read and dropped. */
static int on_body(struct api *a, struct req_state *s, const char *data, size_t n)
{
    char *grown;

    if (s->too_large) {
        return 0;
    }
    if (s->len + n > (size_t)a->conf->body_max_bytes) {
        s->too_large = 1;
        free(s->body);
        s->body = NULL;
        s->len = 0;
        return 0;
    }
    grown = realloc(s->body, s->len + n + 1);
    if (grown == NULL) {
        return -1;
    }
    s->body = grown;
    memcpy(s->body + s->len, data, n);
    s->len += n;
    s->body[s->len] = '\0';
    return 0;
}

/* The whole request is in: body checks, then the handler or the dashboard file. */
static void on_complete(struct api *a, struct req_state *s)
{
    struct api_req *r = &s->r;

    if (s->route_idx == a->n_routes) {
        api_static_serve(r);
        return;
    }
    if (s->too_large) {
        api_error(r, 413, "payload_too_large", "the body is larger than %lld bytes",
                  (long long)a->conf->body_max_bytes);
        return;
    }
    if (s->len > 0) {
        const char *end = NULL;
        /* + 1: cJSON's null-terminated check looks for the NUL inside the given length */
        r->body = cJSON_ParseWithLengthOpts(s->body, s->len + 1, &end, 1);
        if (r->body == NULL) {
            size_t at = end != NULL && end >= s->body ? (size_t)(end - s->body) : 0;
            api_error(r, 400, "bad_request", "the body is not valid JSON (at byte %zu)", at);
            return;
        }
    }
    if (r->route->access != API_PUBLIC && r->store == NULL) {
        api_error(r, 503, "unavailable", "the store is unavailable; retry later");
        return;
    }
    r->route->handler(r);
    if (r->status == 0) {
        mdx_log_error(MOD, "route handler sent no reply", MDX_F_STR("route", r->route->pattern));
        api_error(r, 500, "internal", "the handler sent no reply");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct api *a = cls;
    struct req_state *s = *con_cls;

    (void)version;
    if (s == NULL) {
        s = calloc(1, sizeof(*s));
        if (s == NULL) {
            return MHD_NO;
        }
        s->pbuf = malloc(strlen(url) + 1);
        if (s->pbuf == NULL) {
            free(s);
            return MHD_NO;
        }
        *con_cls = s;
        s->t0_us = mdx_mono_us();
        s->r.api = a;
        s->r.conn = conn;
        s->r.method = method;
        s->r.url = url;
        s->route_idx = a->n_routes;
        on_headers(a, s);
        record(s);
        return MHD_YES;
    }
    if (s->r.status != 0) {
        *upload_data_size = 0; /* refused already: the rest of the body is dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (on_body(a, s, upload_data, *upload_data_size) != 0) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    on_complete(a, s);
    record(s);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_state *s = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (s == NULL) {
        return;
    }
    cJSON_Delete(s->r.body);
    free(s->body);
    free(s->pbuf);
    free(s);
    *con_cls = NULL;
}

/*
 * Decodes %XX like libmicrohttpd does, except %00, which stays as it is:
 * a NUL would cut the path short ("/x.html%00.png"); left encoded, it
 * names nothing.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *out = s;

    (void)cls;
    (void)conn;
    for (const char *in = s; *in != '\0'; in++) {
        unsigned v;
        if (in[0] == '%' && in[1] != '\0' && in[2] != '\0' && sscanf(in + 1, "%2x", &v) == 1 &&
            isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2]) && v != 0) {
            *out++ = (char)v;
            in += 2;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    mdx_log_warn(MOD, "libmicrohttpd", MDX_F_STR("detail", msg));
}

/* ---- start and stop ---- */

/* The whole of a small file into a NUL-terminated heap string; NULL with errno. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < (1L << 20) &&
        fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) == (size_t)size) {
            buf[size] = '\0';
        } else {
            free(buf);
            buf = NULL;
            errno = EIO;
        }
    } else {
        errno = EFBIG;
    }
    fclose(f);
    return buf;
}

/* Room for stream_max_clients streams plus ordinary requests, as far as the fd limit allows. */
static unsigned connection_limit(const struct mdx_api_conf *conf)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)conf->stream_max_clients + 512;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 1000;
    }
    if (rl.rlim_cur < want + 256 && rl.rlim_cur < rl.rlim_max) {
        rlim_t raised = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want + 256
                            ? want + 256 : rl.rlim_max;
        struct rlimit nl = {raised, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) {
            rl.rlim_cur = raised;
        }
    }
    if (rl.rlim_cur < want + 256) {
        rlim_t fit = rl.rlim_cur > 320 ? rl.rlim_cur - 256 : 64;
        mdx_log_warn(MOD, "the open file limit caps the API's connections; raise ulimit -n",
                     MDX_F_INT("limit", rl.rlim_cur), MDX_F_INT("connections", fit),
                     MDX_F_INT("wanted", want));
        return (unsigned)fit;
    }
    return (unsigned)want;
}

static int load_tls(struct mdx_api *m, const struct mdx_api_conf *conf)
{
    int has_cert = conf->tls_cert_file != NULL && conf->tls_cert_file[0] != '\0';
    int has_key = conf->tls_key_file != NULL && conf->tls_key_file[0] != '\0';

    if (!has_cert && !has_key) {
        return MDX_OK;
    }
    if (has_cert != has_key) {
        mdx_log_error(MOD, "api.tls_cert_file and api.tls_key_file go together; set both or "
                           "neither");
        return MDX_ECONF;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        mdx_log_error(MOD, "this libmicrohttpd has no TLS support; unset api.tls_*_file");
        return MDX_ECONF;
    }
    m->tls_cert = read_file(conf->tls_cert_file);
    if (m->tls_cert == NULL) {
        mdx_log_error(MOD, "cannot read api.tls_cert_file", MDX_F_STR("path", conf->tls_cert_file),
                      MDX_F_STR("reason", strerror(errno)));
        return MDX_ECONF;
    }
    m->tls_key = read_file(conf->tls_key_file);
    if (m->tls_key == NULL) {
        mdx_log_error(MOD, "cannot read api.tls_key_file", MDX_F_STR("path", conf->tls_key_file),
                      MDX_F_STR("reason", strerror(errno)));
        return MDX_ECONF;
    }
    return MDX_OK;
}

/* Flattens the route tables into api->routes. */
static int flatten_routes(struct api *a)
{
    size_t n = 0, k = 0;

    for (size_t t = 0; t < api_route_tables_n; t++) {
        for (const struct api_route *rt = api_route_tables[t]; rt->method != NULL; rt++) {
            n++;
        }
    }
    a->routes = calloc(n > 0 ? n : 1, sizeof(*a->routes));
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

static void free_tls(struct mdx_api *m)
{
    if (m->tls_key != NULL) {
        memset(m->tls_key, 0, strlen(m->tls_key));
    }
    free(m->tls_key);
    free(m->tls_cert);
}

static int start_daemon(struct mdx_api *m)
{
    const struct mdx_api_conf *conf = m->api.conf;
    struct sockaddr_storage addr;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem opts[16];
    size_t n = 0;

    memset(&addr, 0, sizeof(addr));
    if (inet_pton(AF_INET, conf->listen, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)conf->port);
    } else if (inet_pton(AF_INET6, conf->listen, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)conf->port);
        flags |= MHD_USE_IPv6;
    } else {
        mdx_log_error(MOD, "api.listen is not an IPv4 or IPv6 address",
                      MDX_F_STR("listen", conf->listen));
        return MDX_ECONF;
    }
    /* The logger first, so that the options' own messages go through it too. */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)log_mhd, NULL};
    if (m->tls_cert != NULL) {
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, m->tls_cert};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, m->tls_key};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)conf->threads,
                                        NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t)connection_limit(conf), NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed,
                                        NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    m->api.daemon = MHD_start_daemon(flags, (uint16_t)conf->port, NULL, NULL, on_request, &m->api,
                                     MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (m->api.daemon == NULL) {
        mdx_log_error(MOD, "cannot listen; is api.port taken or api.listen not an address here?",
                      MDX_F_STR("listen", conf->listen), MDX_F_INT("port", conf->port));
        return MDX_EIO;
    }
    return MDX_OK;
}

struct mdx_api *mdx_api_start(const struct mdx_api_conf *conf, const struct mdx_api_deps *deps,
                              int *err)
{
    struct mdx_api *m = calloc(1, sizeof(*m));
    struct api *a;
    int rc = MDX_ENOMEM;

    if (m == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    a = &m->api;
    a->conf = conf;
    a->deps = *deps;
    a->started_ms = mdx_now_ms();
    m->gen = atomic_fetch_add(&next_gen, 1);
    pthread_mutex_init(&m->stores_mu, NULL);
    m->cap_stores = (size_t)conf->threads + 16;
    m->stores = calloc(m->cap_stores, sizeof(*m->stores));
    if (m->stores == NULL || deps->store == NULL || deps->mqtt == NULL) {
        rc = m->stores == NULL ? MDX_ENOMEM : MDX_EINVAL;
        goto fail;
    }
    if ((rc = load_tls(m, conf)) != MDX_OK || (rc = flatten_routes(a)) != MDX_OK) {
        goto fail;
    }
    rc = MDX_ENOMEM;
    a->auth = api_auth_create(conf);
    a->metrics = api_metrics_create(conf, a->n_routes);
    a->hub = api_hub_create(conf);
    if (a->auth == NULL || a->metrics == NULL || a->hub == NULL) {
        mdx_log_error(MOD, "cannot create the API's parts (out of memory)");
        goto fail;
    }
    if (deps->ingest_in_process && (a->live = api_live_create(a->hub)) == NULL) {
        goto fail;
    }
    a->link = api_link_start(deps->mqtt, a->hub, deps->ingest_in_process,
                             deps->max_payload_bytes, &rc);
    if (a->link == NULL) {
        mdx_log_error(MOD, "cannot start the API's MQTT connection; check mqtt.*", MDX_F_ERR(rc));
        goto fail;
    }
    if ((rc = start_daemon(m)) != MDX_OK || (rc = api_metrics_start(a->metrics, a)) != MDX_OK) {
        goto fail;
    }
    {
        char url[300];
        int v6 = strchr(conf->listen, ':') != NULL;
        snprintf(url, sizeof(url), "%s://%s%s%s:%lld/", m->tls_cert != NULL ? "https" : "http",
                 v6 ? "[" : "", conf->listen, v6 ? "]" : "", (long long)conf->port);
        mdx_log_info(MOD, "api listening", MDX_F_STR("url", url),
                     MDX_F_INT("threads", conf->threads), MDX_F_INT("routes", a->n_routes));
    }
    *err = MDX_OK;
    return m;

fail:
    *err = rc;
    mdx_api_stop(m);
    return NULL;
}

int mdx_api_ready(struct mdx_api *m)
{
    struct mdx_store *st;
    int rc;

    if (m == NULL || m->api.link == NULL || !api_link_ready(m->api.link)) {
        return 0;
    }
    st = thread_store(&m->api);
    if (st == NULL) {
        return 0;
    }
    rc = mdx_store_tenant_exists(st, "readyz-probe");
    return rc == MDX_OK || rc == MDX_ENOTFOUND;
}

void *mdx_api_live_stage(struct mdx_api *m)
{
    return m != NULL ? m->api.live : NULL;
}

void mdx_api_stop(struct mdx_api *m)
{
    struct api *a;

    if (m == NULL) {
        return;
    }
    a = &m->api;
    if (a->daemon != NULL) {
        MHD_socket fd = MHD_quiesce_daemon(a->daemon); /* no new connections */
        if (fd != MHD_INVALID_SOCKET) {
            close(fd);
        }
    }
    api_metrics_stop(a->metrics);       /* the EMF writer reads the hub */
    if (a->hub != NULL) {
        /* Requests still running (/metrics, a stream opened on a kept-alive connection)
         * may read the hub until the daemon has stopped: keep it until then. A stopping
         * hub refuses new streams. */
        api_hub_hold(a->hub);
        api_hub_destroy(a->hub);        /* ends the live streams */
    }
    if (a->daemon != NULL) {
        MHD_stop_daemon(a->daemon);     /* waits for running requests */
        a->daemon = NULL;
    }
    api_hub_release(a->hub);
    a->hub = NULL;
    api_link_stop(a->link);
    api_live_destroy(a->live);         /* the engine's writer, which runs it, stopped first */
    api_metrics_destroy(a->metrics);
    api_auth_destroy(a->auth);
    for (size_t i = 0; i < m->n_stores; i++) {
        mdx_store_close(m->stores[i]);
    }
    free(m->stores);
    free(a->routes);
    free_tls(m);
    pthread_mutex_destroy(&m->stores_mu);
    free(m);
}
