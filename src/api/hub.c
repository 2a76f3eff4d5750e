/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub.c - the live stream: GET /api/v1/stream (Server-Sent Events) and the
 * hub that hands each published event to the streams of its tenant.
 *
 * An event is formatted once into a reference-counted frame; each matching
 * client's fixed ring (api.stream_queue slots, API_HUB_CLIENT_BYTES_MAX
 * bytes) holds a reference. The publisher never blocks: a client whose
 * ring is full is dropped (its socket shut down, its frames released) and
 * counted. One mutex guards the client list and every ring. Each client
 * is counted in the hub's watch (watch.c) while it is open, so that
 * publishers can skip events nobody watches without taking that mutex.
 *
 * libmicrohttpd runs the response through a content reader on its polling
 * threads. With nothing queued the reader suspends its connection (the
 * header of 0.9.75 names the content reader as a safe place to call
 * MHD_suspend_connection) and returns 0; whoever queues an event, the ping
 * timer or the shutdown resumes it. Suspension happens under the hub
 * mutex and resumption only of a client marked suspended under the same
 * mutex, so a resume never precedes its suspend. A suspended connection
 * is never closed by libmicrohttpd, so the client (freed by the response's
 * free callback) stays valid while it is suspended.
 *
 * Shutdown: api_hub_destroy() ends every stream (resuming the suspended
 * ones, whose reader then ends the response) before the daemon stops, and
 * waits briefly for them to close. The hub is reference-counted by its
 * clients, so one still held by a connection that the daemon's stop
 * closes later frees the hub at that point.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/list.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#include "api/api_int.h"
#include "api/hub.h"
#include "api/reply.h"
#include "api/request.h"
#include "api/watch.h"

#define MOD "api"
#define HELLO ": stream open\n\n"
#define PING ": ping\n\n"
#define DESTROY_WAIT_MS 3000 /* how long api_hub_destroy() waits for streams to close */

/* One formatted SSE frame, shared by the rings of every client it went to. */
struct hub_frame {
    atomic_uint refs;
    size_t len;
    char text[];
};

struct api_hub_client {
    struct api_hub *hub;
    struct mdx_link link;           /* in the hub's clients */
    struct MHD_Connection *conn;    /* NULL: unit test, no suspension */
    int fd;                         /* the connection's socket; shut down when dropped */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];  /* "" = every device of the tenant */
    struct hub_frame **ring;        /* hub->queue_cap slots */
    size_t head, count;
    size_t off;                     /* bytes of ring[head] already handed to MHD */
    size_t bytes;                   /* bytes queued */
    int suspended;
    int dropped;                    /* ring overflowed: the stream ends */
    int ping_due;
    int hello_sent;
};

struct api_hub {
    pthread_mutex_t mu;
    pthread_cond_t cond;            /* the timer's sleep; clients leaving during destroy */
    pthread_t timer;
    int timer_started;
    atomic_uint refs;               /* the owner, one per client, one per api_hub_hold() */
    size_t queue_cap;
    size_t max_clients;
    struct mdx_list clients;        /* struct api_hub_client by 'link' */
    size_t n_clients;
    int stopping;
    struct api_hub_stats st;        /* 'clients' is n_clients */
    struct api_watch *watch;        /* who watches what, for the stage and the link */
};

/* ---- frames and references ---- */

static void frame_unref(struct hub_frame *f)
{
    if (f != NULL && atomic_fetch_sub(&f->refs, 1) == 1) {
        mdx_free(f);
    }
}

static void hub_unref(struct api_hub *h)
{
    if (atomic_fetch_sub(&h->refs, 1) != 1) {
        return;
    }
    pthread_cond_destroy(&h->cond);
    pthread_mutex_destroy(&h->mu);
    api_watch_destroy(h->watch);
    mdx_free(h);
}

void api_hub_hold(struct api_hub *h)
{
    atomic_fetch_add(&h->refs, 1);
}

void api_hub_release(struct api_hub *h)
{
    if (h != NULL) {
        hub_unref(h);
    }
}

/* Releases every queued frame of 'c'. Under h->mu. */
static struct api_hub_client *client_at(struct mdx_link *l)
{
    return MDX_LINK_ENTRY(l, struct api_hub_client, link);
}

static void ring_clear(struct api_hub_client *c)
{
    while (c->count > 0) {
        frame_unref(c->ring[c->head]);
        c->ring[c->head] = NULL;
        c->head = (c->head + 1) % c->hub->queue_cap;
        c->count--;
    }
    c->head = 0;
    c->off = 0;
    c->bytes = 0;
}

/* Lets libmicrohttpd run a suspended client again. Under h->mu. */
static void wake(struct api_hub_client *c)
{
    if (c->suspended) {
        c->suspended = 0;
        if (c->conn != NULL) {
            MHD_resume_connection(c->conn);
        }
    }
}

/*
 * Ends the stream of a client that fell behind: frees its queue now and
 * shuts its socket down, so that a client which never reads is closed
 * too (libmicrohttpd's next write or poll fails). The socket is still
 * open: it is closed only after the response's free callback, which
 * unregisters the client under this same mutex. Under h->mu.
 */
static void drop_slow(struct api_hub_client *c)
{
    c->dropped = 1;
    ring_clear(c);
    c->hub->st.dropped_slow++;
    if (c->conn != NULL && c->fd >= 0) {
        (void)shutdown(c->fd, SHUT_RDWR);
    }
    wake(c);
}

/* ---- the ping timer ---- */

static void *timer_main(void *arg)
{
    struct api_hub *h = arg;
    struct timespec at;

    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += API_HUB_PING_MS / 1000;
        at.tv_nsec += (long)(API_HUB_PING_MS % 1000) * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        while (!h->stopping) {
            int rc = pthread_cond_timedwait(&h->cond, &h->mu, &at);
            if (rc == ETIMEDOUT) {
                break;
            }
        }
        if (h->stopping) {
            break;
        }
        pthread_mutex_unlock(&h->mu);
        api_hub_ping(h);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

void api_hub_ping(struct api_hub *h)
{
    pthread_mutex_lock(&h->mu);
    for (struct api_hub_client *c = client_at(h->clients.head); c != NULL;
         c = client_at(c->link.next)) {
        if (!c->dropped) {
            c->ping_due = 1;
            wake(c);
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- the hub ---- */

struct api_hub *api_hub_create(const struct mdx_api_conf *conf)
{
    struct api_hub *h = mdx_calloc(1, sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->queue_cap = conf->stream_queue > 0 ? (size_t)conf->stream_queue : 1;
    h->max_clients = conf->stream_max_clients > 0 ? (size_t)conf->stream_max_clients : 1;
    atomic_init(&h->refs, 1);
    h->watch = api_watch_create();
    if (h->watch == NULL) {
        mdx_free(h);
        return NULL;
    }
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        api_watch_destroy(h->watch);
        mdx_free(h);
        return NULL;
    }
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        if (pthread_cond_init(&h->cond, &ca) != 0) {
            pthread_condattr_destroy(&ca);
            pthread_mutex_destroy(&h->mu);
            api_watch_destroy(h->watch);
            mdx_free(h);
            return NULL;
        }
        pthread_condattr_destroy(&ca);
    }
    if (pthread_create(&h->timer, NULL, timer_main, h) != 0) {
        hub_unref(h); /* the only reference: frees all of it */
        return NULL;
    }
    h->timer_started = 1;
    return h;
}

void api_hub_destroy(struct api_hub *h)
{
    struct timespec at;
    size_t left;

    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    for (struct api_hub_client *c = client_at(h->clients.head); c != NULL;
         c = client_at(c->link.next)) {
        ring_clear(c);
        wake(c); /* its reader sees 'stopping' and ends the response */
    }
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    if (h->timer_started) {
        pthread_join(h->timer, NULL);
        h->timer_started = 0;
    }
    /* Give the polling threads a moment to close the streams; a client blocked on a full
     * socket is closed by the daemon's stop instead, and frees the hub then. */
    clock_gettime(CLOCK_REALTIME, &at);
    at.tv_sec += DESTROY_WAIT_MS / 1000;
    pthread_mutex_lock(&h->mu);
    while (h->n_clients > 0) {
        if (pthread_cond_timedwait(&h->cond, &h->mu, &at) == ETIMEDOUT) {
            break;
        }
    }
    left = h->n_clients;
    pthread_mutex_unlock(&h->mu);
    if (left > 0) {
        mdx_log_info(MOD, "live streams still open at shutdown; the server closes them",
                     MDX_F_INT("streams", left));
    }
    hub_unref(h);
}

void api_hub_stats(struct api_hub *h, struct api_hub_stats *out)
{
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    out->clients = h->n_clients;
    pthread_mutex_unlock(&h->mu);
}

int api_hub_watched(const struct api_hub *h, const char *tenant, const char *device)
{
    return h != NULL && api_watch_any(h->watch, tenant, device != NULL ? device : "");
}

struct api_watch *api_hub_watch(struct api_hub *h)
{
    return h->watch;
}

/* Non-zero if 'data' (len bytes) holds a line break, which would split the SSE data line. */
static int has_line_break(const char *data, size_t len)
{
    return memchr(data, '\n', len) != NULL || memchr(data, '\r', len) != NULL;
}

void api_hub_publish(struct api_hub *h, const char *tenant, const char *device, const char *event,
                     const char *data, size_t len)
{
    struct hub_frame *f = NULL;
    size_t flen;

    if (h == NULL || tenant == NULL || event == NULL || data == NULL) {
        return;
    }
    if (device == NULL) {
        device = "";
    }
    /* "event: " E "\ndata: " D "\n\n" */
    flen = 7 + strlen(event) + 7 + len + 2;
    pthread_mutex_lock(&h->mu);
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return;
    }
    if (flen > API_HUB_EVENT_MAX || has_line_break(data, len) ||
        has_line_break(event, strlen(event))) {
        h->st.too_large++;
        pthread_mutex_unlock(&h->mu);
        mdx_log_warn(MOD, "live-stream event too large or not one line; dropped",
                     MDX_F_STR("event", event), MDX_F_INT("bytes", flen));
        return;
    }
    for (struct api_hub_client *c = client_at(h->clients.head); c != NULL;
         c = client_at(c->link.next)) {
        if (c->dropped || strcmp(c->tenant, tenant) != 0 ||
            (c->device[0] != '\0' && strcmp(c->device, device) != 0)) {
            continue;
        }
        if (f == NULL) {
            /* Formatted once, when the first client wants it. */
            f = mdx_malloc(sizeof(*f) + flen + 1);
            if (f == NULL) {
                break;
            }
            atomic_init(&f->refs, 1); /* ours, released below */
            f->len = (size_t)snprintf(f->text, flen + 1, "event: %s\ndata: %.*s\n\n", event,
                                      (int)len, data);
        }
        if (c->count == h->queue_cap || c->bytes + f->len > API_HUB_CLIENT_BYTES_MAX) {
            drop_slow(c);
            continue;
        }
        atomic_fetch_add(&f->refs, 1);
        c->ring[(c->head + c->count) % h->queue_cap] = f;
        c->count++;
        c->bytes += f->len;
        h->st.events++;
        wake(c);
    }
    pthread_mutex_unlock(&h->mu);
    frame_unref(f);
}

/* ---- one client ---- */

int api_hub_client_open(struct api_hub *h, const char *tenant, const char *device,
                        struct MHD_Connection *conn, int fd, struct api_hub_client **out)
{
    struct api_hub_client *c;

    *out = NULL;
    c = mdx_calloc(1, sizeof(*c));
    if (c == NULL) {
        return MDX_ENOMEM;
    }
    c->ring = mdx_calloc(h->queue_cap, sizeof(*c->ring));
    if (c->ring == NULL) {
        mdx_free(c);
        return MDX_ENOMEM;
    }
    c->hub = h;
    c->conn = conn;
    c->fd = fd;
    snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
    snprintf(c->device, sizeof(c->device), "%s", device != NULL ? device : "");
    /* Counted in before it can get events: the stage and the link start feeding it now. */
    if (api_watch_add(h->watch, c->tenant, c->device) != MDX_OK) {
        mdx_free(c->ring);
        mdx_free(c);
        return MDX_ENOMEM;
    }
    pthread_mutex_lock(&h->mu);
    if (h->stopping || h->n_clients >= h->max_clients) {
        int rc = h->stopping ? MDX_ESTOPPED : MDX_EFULL;
        if (!h->stopping) {
            h->st.refused_full++;
        }
        pthread_mutex_unlock(&h->mu);
        api_watch_remove(h->watch, c->tenant, c->device);
        mdx_free(c->ring);
        mdx_free(c);
        return rc;
    }
    mdx_list_push_front(&h->clients, &c->link);
    h->n_clients++;
    h->st.opened++;
    atomic_fetch_add(&h->refs, 1);
    pthread_mutex_unlock(&h->mu);
    *out = c;
    return MDX_OK;
}

/* Copies as much of 'text' (len) as fits at buf + *n (max). 1 if it all fitted. */
static int put_whole(char *buf, size_t max, size_t *n, const char *text, size_t len)
{
    if (max - *n < len) {
        return 0;
    }
    memcpy(buf + *n, text, len);
    *n += len;
    return 1;
}

ssize_t api_hub_client_read(void *client, uint64_t pos, char *buf, size_t max)
{
    struct api_hub_client *c = client;
    struct api_hub *h = c->hub;
    size_t n = 0;

    (void)pos;
    pthread_mutex_lock(&h->mu);
    if (c->dropped || h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (!c->hello_sent && put_whole(buf, max, &n, HELLO, sizeof(HELLO) - 1)) {
        c->hello_sent = 1;
    }
    while (c->count > 0 && n < max) {
        struct hub_frame *f = c->ring[c->head];
        size_t k = api_stream_put(buf + n, max - n, f->text + c->off, f->len - c->off);

        n += k;
        c->off += k;
        if (c->off == f->len) {
            c->bytes -= f->len;
            c->ring[c->head] = NULL;
            c->head = (c->head + 1) % h->queue_cap;
            c->count--;
            c->off = 0;
            frame_unref(f);
        }
    }
    if (n > 0) {
        c->ping_due = 0; /* anything sent keeps the stream alive as well */
    } else if (c->ping_due && put_whole(buf, max, &n, PING, sizeof(PING) - 1)) {
        c->ping_due = 0;
    }
    if (n == 0 && c->conn != NULL) {
        /* Parked until an event, the ping timer or shutdown resumes it. */
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&h->mu);
    return (ssize_t)n;
}

void api_hub_client_free(void *client)
{
    struct api_hub_client *c = client;
    struct api_hub *h;

    if (c == NULL) {
        return;
    }
    h = c->hub;
    pthread_mutex_lock(&h->mu);
    ring_clear(c);
    mdx_list_remove(&h->clients, &c->link);
    h->n_clients--;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
    api_watch_remove(h->watch, c->tenant, c->device);
    mdx_free(c->ring);
    mdx_free(c);
    hub_unref(h);
}

/* ---- GET /api/v1/stream ---- */

static void route_stream(struct api_req *r)
{
    static const char *const allowed[] = {"device", NULL};
    struct api_hub *h = r->api != NULL ? r->api->hub : NULL;
    struct api_hub_client *c = NULL;
    struct mdx_device_info dev;
    const union MHD_ConnectionInfo *ci;
    const char *device;
    int fd = -1, rc;

    if (api_query_allow(r, allowed) != 0) {
        return;
    }
    device = api_query(r, "device");
    if (device != NULL && api_device(r, device, &dev) != MDX_OK) {
        return; /* 404 (another tenant's device looks like none) or 500, replied */
    }
    if (h == NULL) {
        api_error(r, 503, "unavailable", "the live stream is not running");
        return;
    }
    ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL) {
        fd = ci->connect_fd;
    }
    rc = api_hub_client_open(h, r->caller.tenant, device, r->conn, fd, &c);
    if (rc == MDX_EFULL) {
        api_error(r, 503, "unavailable", "too many live streams (at most %lld); try again later",
                  (long long)r->api->conf->stream_max_clients);
        return;
    }
    if (rc == MDX_ESTOPPED) {
        api_error(r, 503, "unavailable", "the server is shutting down");
        return;
    }
    if (rc != MDX_OK) {
        api_error(r, 500, "internal", "cannot open the live stream: %s", mdx_strerror(rc));
        return;
    }
    /* The response owns the client from here: api_hub_client_free() runs when it ends. */
    api_reply_stream(r, 200, "text/event-stream", api_hub_client_read, c, api_hub_client_free,
                     NULL);
}

const struct api_route api_routes_stream[] = {
    {"GET", "/api/v1/stream", API_VIEWER, route_stream},
    {NULL, NULL, 0, NULL},
};
