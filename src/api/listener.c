/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listener.c - role "api": the server object (api.h), its libmicrohttpd
 * daemon (threads, TLS, connection limits), and the start and stop of the
 * server's parts. Each request is handed to the router (router.c) when
 * its headers are in and again when its body is; the listener keeps the
 * request's state between the two, and counts and logs each request once
 * it has its status.
 *
 * Each daemon has a connection guard (conn_guard.c): caps on connections
 * at once and per client address, and a deadline for reading each request.
 * With api.admin_port a second, small daemon serves /healthz, /readyz and
 * /metrics only, on connections of its own, so probes and scrapes are
 * answered while the main listener is full.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api/api_int.h"
#include "api/conn_guard.h"
#include "api/hub.h"
#include "api/reply.h"
#include "api/router.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/command_path.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "api"
#define CONN_TIMEOUT_S 120       /* a reply nobody reads is dropped after this idle time */
#define ADMIN_CONNS 32           /* connections of the admin listener at once */
#define ADMIN_CONNS_PER_ADDRESS 8
#define GUARD_MARGIN 64          /* libmicrohttpd's own limit lies this far above the guard's */

/* One daemon's context: what on_request gets as its closure. */
struct listener {
    struct api *api;
    int admin;                    /* serves /healthz, /readyz and /metrics only */
};

/* The running server: the shared parts (struct api) and what only the listener uses. */
struct mdx_api {
    struct api api;
    char *tls_cert, *tls_key;     /* PEM text, for the daemon's lifetime */
    struct listener main_l, admin_l;
    struct MHD_Daemon *admin_daemon;
};

/* The paths the admin listener serves. */
static int admin_path(const char *url)
{
    return strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
           strcmp(url, "/metrics") == 0;
}

/* One request's state, from its headers to its completion. */
struct conn_req {
    struct api_call call;
    int64_t t0_us;
    int recorded;                 /* counted and logged */
};

/* Counts and logs the request once it has its status. */
static void record(struct conn_req *s)
{
    const struct api_req *r = &s->call.r;
    int64_t us;

    if (s->recorded || r->status == 0) {
        return;
    }
    s->recorded = 1;
    api_guard_request_answered(r->conn); /* from now on a cut would not be sent a 408 */
    us = mdx_mono_us() - s->t0_us;
    if (r->api->metrics != NULL) {
        api_metrics_record(r->api->metrics, s->call.route_idx, r->status, us);
    }
    mdx_log_debug(MOD, "request", MDX_F_STR("method", r->method), MDX_F_STR("path", r->url),
                  MDX_F_INT("status", r->status), MDX_F_INT("us", us),
                  MDX_F_STR("key_id", r->caller.key_id));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    const struct listener *l = cls;
    struct api *a = l->api;
    struct conn_req *s = *con_cls;

    (void)version;
    if (s == NULL) {
        s = mdx_calloc(1, sizeof(*s));
        if (s == NULL) {
            return MHD_NO;
        }
        s->call.captures = mdx_malloc(strlen(url) + 1);
        if (s->call.captures == NULL) {
            mdx_free(s);
            return MHD_NO;
        }
        *con_cls = s;
        s->t0_us = mdx_mono_us();
        s->call.r.api = a;
        s->call.r.conn = conn;
        s->call.r.method = method;
        s->call.r.url = url;
        s->call.route_idx = a->n_routes;
        mdx_buf_init(&s->call.raw, (size_t)a->conf->body_max_bytes);
        if (l->admin && !admin_path(url)) {
            api_error(&s->call.r, 404, "not_found",
                      "this port (api.admin_port) serves /healthz, /readyz and /metrics only");
        } else {
            api_router_headers(a, &s->call);
        }
        record(s);
        return MHD_YES;
    }
    if (*upload_data_size == 0) {
        api_guard_request_read(conn); /* the request is in: its read deadline is over */
    }
    if (s->call.r.status != 0) {
        *upload_data_size = 0; /* refused already: the rest of the body is dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* Beyond the cap the buffer stays full (MDX_EFULL) and the rest is read and dropped. */
        if (mdx_buf_add(&s->call.raw, upload_data, *upload_data_size) == MDX_ENOMEM) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    api_router_dispatch(a, &s->call);
    record(s);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_req *s = *con_cls;

    (void)cls;
    (void)toe;
    api_guard_request_done(conn); /* a kept-alive connection's next request has a deadline too */
    if (s == NULL) {
        return;
    }
    cJSON_Delete(s->call.r.body);
    mdx_buf_fini(&s->call.raw);
    mdx_free(s->call.captures);
    mdx_free(s);
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
        buf = mdx_malloc((size_t)size + 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) == (size_t)size) {
            buf[size] = '\0';
        } else {
            mdx_free(buf);
            buf = NULL;
            errno = EIO;
        }
    } else {
        errno = EFBIG;
    }
    fclose(f);
    return buf;
}

/*
 * api.max_connections, or room for stream_max_clients streams plus
 * ordinary requests, as far as the fd limit allows.
 */
static unsigned connection_limit(const struct mdx_api_conf *conf)
{
    struct rlimit rl;
    rlim_t want = conf->max_connections > 0 ? (rlim_t)conf->max_connections
                                            : (rlim_t)conf->stream_max_clients + 512;

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

static void free_tls(struct mdx_api *m)
{
    mdx_free_secret(m->tls_key);
    mdx_free(m->tls_cert);
}

/*
 * Starts the main daemon, or with 'admin' the admin one on api.admin_port,
 * each with its connection guard.
 */
static int start_daemon(struct mdx_api *m, int admin)
{
    const struct mdx_api_conf *conf = m->api.conf;
    struct sockaddr_storage addr;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    uint16_t port = (uint16_t)(admin ? conf->admin_port : conf->port);
    unsigned threads = admin ? 1 : (unsigned)conf->threads;
    struct api_guard_conf gc = {
        .name = admin ? "admin" : "main",
        .max_conns = admin ? ADMIN_CONNS : connection_limit(conf),
        .max_per_address = admin ? ADMIN_CONNS_PER_ADDRESS : (unsigned)conf->max_conns_per_address,
        .read_timeout_ms = conf->read_timeout_ms,
        .plain_http = m->tls_cert == NULL,
    };
    struct listener *l = admin ? &m->admin_l : &m->main_l;
    struct api_guard **guard = admin ? &m->api.admin_guard : &m->api.guard;
    struct MHD_Daemon **daemon = admin ? &m->admin_daemon : &m->api.daemon;
    struct MHD_OptionItem opts[16];
    size_t n = 0;

    l->api = &m->api;
    l->admin = admin;
    *guard = api_guard_create(&gc);
    if (*guard == NULL) {
        mdx_log_error(MOD, "cannot set up the connection guard (out of memory or threads)");
        return MDX_ENOMEM;
    }
    memset(&addr, 0, sizeof(addr));
    if (inet_pton(AF_INET, conf->listen, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, conf->listen, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
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
    if (!admin) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL};
    }
    /*
     * The guard enforces the limit and counts refusals. libmicrohttpd's own
     * limit (split between its threads) lies above it on every thread, so
     * it only stops what races past the guard.
     */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t)((gc.max_conns + GUARD_MARGIN) * threads), NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT_S, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)api_guard_notify,
                                        *guard};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed,
                                        NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    *daemon = MHD_start_daemon(flags, port, api_guard_accept, *guard, on_request, l,
                               MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (*daemon == NULL) {
        mdx_log_error(MOD, admin ? "cannot listen; is api.admin_port taken?"
                                 : "cannot listen; is api.port taken or api.listen not an "
                                   "address here?",
                      MDX_F_STR("listen", conf->listen), MDX_F_INT("port", port));
        return MDX_EIO;
    }
    return MDX_OK;
}

/* The mqtt command path's way out: the API's MQTT link. */
static int link_publish(void *link, const char *topic, const void *payload, size_t len)
{
    return api_link_publish(link, topic, payload, len);
}

struct mdx_api *mdx_api_start(const struct mdx_api_conf *conf, const struct mdx_api_deps *deps,
                              int *err)
{
    struct mdx_api *m = mdx_calloc(1, sizeof(*m));
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
    if (deps->store == NULL || deps->mqtt == NULL) {
        rc = MDX_EINVAL;
        goto fail;
    }
    a->stores = api_stores_create(deps->store, (size_t)conf->threads + 16);
    if (a->stores == NULL) {
        goto fail;
    }
    if ((rc = load_tls(m, conf)) != MDX_OK || (rc = api_router_init(a)) != MDX_OK) {
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
    {
        char why[256];
        a->commands = mdx_command_paths_create(deps->command, link_publish, a->link, why,
                                               sizeof(why));
        if (a->commands == NULL) {
            rc = MDX_ECONF;
            mdx_log_error(MOD, "cannot set up the command paths; check command.*",
                          MDX_F_STR("reason", why));
            goto fail;
        }
    }
    if ((rc = start_daemon(m, 0)) != MDX_OK ||
        (conf->admin_port > 0 && (rc = start_daemon(m, 1)) != MDX_OK) ||
        (rc = api_emf_start(a, &a->emf)) != MDX_OK) {
        goto fail;
    }
    {
        char url[300];
        int v6 = strchr(conf->listen, ':') != NULL;
        snprintf(url, sizeof(url), "%s://%s%s%s:%lld/", m->tls_cert != NULL ? "https" : "http",
                 v6 ? "[" : "", conf->listen, v6 ? "]" : "", (long long)conf->port);
        mdx_log_info(MOD, "api listening", MDX_F_STR("url", url),
                     MDX_F_INT("threads", conf->threads), MDX_F_INT("routes", a->n_routes),
                     MDX_F_INT("admin_port", conf->admin_port));
    }
    *err = MDX_OK;
    return m;

fail:
    *err = rc;
    mdx_api_stop(m);
    return NULL;
}

void *mdx_api_live_stage(struct mdx_api *m)
{
    return m != NULL ? m->api.live : NULL;
}

int mdx_api_ready(struct mdx_api *m)
{
    struct mdx_store *st;
    int rc;

    if (m == NULL || m->api.link == NULL || !api_link_ready(m->api.link)) {
        return 0;
    }
    st = api_stores_get(m->api.stores);
    if (st == NULL) {
        return 0;
    }
    rc = mdx_store_tenant_exists(st, "readyz-probe");
    return rc == MDX_OK || rc == MDX_ENOTFOUND;
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
    if (m->admin_daemon != NULL) {
        MHD_stop_daemon(m->admin_daemon); /* its requests are short: /metrics at most */
        m->admin_daemon = NULL;
    }
    api_emf_stop(a->emf);               /* the EMF writer reads the hub */
    a->emf = NULL;
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
    api_guard_destroy(a->guard);        /* its callbacks ran on the daemons' threads */
    api_guard_destroy(a->admin_guard);
    a->guard = a->admin_guard = NULL;
    api_hub_release(a->hub);
    a->hub = NULL;
    mdx_command_paths_destroy(a->commands); /* no request runs now */
    api_link_stop(a->link);
    api_live_destroy(a->live);         /* the engine's writer, which runs it, stopped first */
    api_metrics_destroy(a->metrics);
    api_auth_destroy(a->auth);
    api_stores_destroy(a->stores);
    api_router_fini(a);
    free_tls(m);
    mdx_free(m);
}
