/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn_guard.c - a listener's defence against connection floods (issue 16
 * item 1; conn_guard.h).
 *
 * libmicrohttpd's own idle timeout restarts with every byte, so a client
 * that sends half a request and then one byte now and then holds its
 * connection for ever, and enough of them fill the listener. The guard
 * therefore keeps its own table of the daemon's connections (filled by
 * the connection notifications) with a deadline each: from accept, or from
 * the end of the previous reply on a kept-alive connection, the whole
 * next request must have arrived within the read timeout. A thread looks
 * at the deadlines a few times a second and cuts a late connection by
 * shutting its socket down (after a 408 when the connection is plain
 * HTTP); libmicrohttpd then reads the end of the stream and closes it
 * itself. shutdown() is safe from another thread because libmicrohttpd
 * reports a connection closed (which takes it out of the table, under the
 * guard's lock) before it closes the socket, so the number never names a
 * socket that was reused.
 *
 * At accept, a connection over the total cap or over the cap for its
 * address is refused, counted and logged (the logger suppresses repeats,
 * so a flood makes one line now and then with the count of the others).
 *
 * All tables are allocated once, sized for the daemon's connection limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/conn_guard.h"
#include "base/htab.h"
#include "base/thread_stop.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "api"
#define SLOT_MARGIN 64            /* slots beyond max_conns: accepts racing on other threads */
#define TICK_MIN_MS 10            /* the deadline thread looks at least this far apart ... */
#define TICK_MAX_MS 200           /* ... and at most this far apart */
#define ADDR_KEY_LEN 17           /* family byte + up to 16 address bytes */

static const char timeout_reply[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                    "Content-Length: 0\r\n\r\n";

/* An address with connections open now. */
struct guard_addr {
    struct mdx_hnode node;        /* first: a node pointer casts back to the entry */
    unsigned char key[ADDR_KEY_LEN];
    unsigned conns;
    struct guard_addr *next_free;
};

/* One open connection: the socket_context libmicrohttpd keeps for it. */
struct guard_conn {
    struct api_guard *g;
    struct guard_addr *addr;
    MHD_socket fd;
    int64_t deadline_us;          /* monotonic; 0: none (its request is being answered) */
    int in_use, cut;
    int answered;                 /* a reply is queued: a cut writes no 408 into it */
    struct guard_conn *next_free;
};

struct api_guard {
    struct api_guard_conf conf;
    char name[16];
    pthread_mutex_t lock;         /* everything below */
    pthread_cond_t wake;
    pthread_t thread;
    int thread_started, stopping;
    struct guard_conn *conns;     /* n_slots */
    struct guard_addr *addrs;     /* n_slots: never more addresses than connections */
    size_t n_slots;
    struct guard_conn *free_conns;
    struct guard_addr *free_addrs;
    struct mdx_htab by_addr;
    struct api_guard_stats stats;
};

/*
 * The table key of an address: an IPv4 address (also when IPv4-mapped), or
 * the /64 prefix of an IPv6 one, since whoever has one IPv6 address
 * usually has the whole /64. 0 if it is neither.
 */
static int addr_key(const struct sockaddr *sa, socklen_t len, unsigned char key[ADDR_KEY_LEN])
{
    memset(key, 0, ADDR_KEY_LEN);
    if (sa == NULL) {
        return 0;
    }
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)sa;
        key[0] = 4;
        memcpy(key + 1, &v4->sin_addr, 4);
        return 1;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
            key[0] = 4;
            memcpy(key + 1, v6->sin6_addr.s6_addr + 12, 4);
        } else {
            key[0] = 6;
            memcpy(key + 1, v6->sin6_addr.s6_addr, 8);
        }
        return 1;
    }
    return 0;
}

/* The address as text, for a log line. */
static void addr_text(const unsigned char key[ADDR_KEY_LEN], char *out, size_t len)
{
    if (key[0] != 4 || inet_ntop(AF_INET, key + 1, out, (socklen_t)len) == NULL) {
        if (key[0] != 6 || inet_ntop(AF_INET6, key + 1, out, (socklen_t)len) == NULL) {
            snprintf(out, len, "?");
        }
    }
}

/* The entry of 'key', NULL if the address has no connection open. Lock held. */
static struct guard_addr *addr_find(struct api_guard *g, const unsigned char key[ADDR_KEY_LEN],
                                    uint64_t hash)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&g->by_addr, hash); n != NULL; n = n->next) {
        struct guard_addr *a = (struct guard_addr *)(void *)n;
        if (n->hash == hash && memcmp(a->key, key, ADDR_KEY_LEN) == 0) {
            return a;
        }
    }
    return NULL;
}

enum MHD_Result api_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct api_guard *g = cls;
    unsigned char key[ADDR_KEY_LEN];
    const char *refused = NULL;
    uint64_t hash;

    addr_key(addr, addrlen, key);
    hash = mdx_hash_bytes(0, key, sizeof(key));
    pthread_mutex_lock(&g->lock);
    if (g->stats.open >= g->conf.max_conns) {
        g->stats.refused_full++;
        refused = "full";
    } else {
        const struct guard_addr *a = addr_find(g, key, hash);
        if (a != NULL && a->conns >= g->conf.max_per_address) {
            g->stats.refused_address++;
            refused = "per_address";
        }
    }
    pthread_mutex_unlock(&g->lock);
    if (refused != NULL) {
        char text[INET6_ADDRSTRLEN];
        addr_text(key, text, sizeof(text));
        if (refused[0] == 'f') {
            mdx_log_warn(MOD, "connection refused: the listener is full",
                         MDX_F_STR("listener", g->name), MDX_F_STR("address", text),
                         MDX_F_INT("max_connections", g->conf.max_conns));
        } else {
            mdx_log_warn(MOD, "connection refused: too many from one address",
                         MDX_F_STR("listener", g->name), MDX_F_STR("address", text),
                         MDX_F_INT("max_conns_per_address", g->conf.max_per_address));
        }
        return MHD_NO;
    }
    return MHD_YES;
}

/*
 * Tracks a new connection; NULL if there is no slot for it, or (*over_address set) its
 * address holds api.max_conns_per_address already: the accept check can be raced by
 * accepts in flight, this one cannot (lock held). The caller cuts it.
 */
static struct guard_conn *conn_track(struct api_guard *g, struct MHD_Connection *conn,
                                     int *over_address)
{
    const union MHD_ConnectionInfo *fd, *ca;
    unsigned char key[ADDR_KEY_LEN];
    struct guard_conn *c = g->free_conns;
    struct guard_addr *a;
    uint64_t hash;

    fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    ca = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (c == NULL || fd == NULL) {
        return NULL;
    }
    addr_key(ca != NULL ? ca->client_addr : NULL,
             ca != NULL && ca->client_addr != NULL && ca->client_addr->sa_family == AF_INET6
                 ? (socklen_t)sizeof(struct sockaddr_in6)
                 : (socklen_t)sizeof(struct sockaddr_in),
             key);
    hash = mdx_hash_bytes(0, key, sizeof(key));
    a = addr_find(g, key, hash);
    if (a != NULL && a->conns >= g->conf.max_per_address) {
        *over_address = 1;
        return NULL;
    }
    if (a == NULL) {
        a = g->free_addrs;        /* never NULL: as many entries as connection slots */
        g->free_addrs = a->next_free;
        memcpy(a->key, key, sizeof(key));
        a->conns = 0;
        a->node.hash = hash;
        mdx_htab_insert(&g->by_addr, &a->node);
    }
    a->conns++;
    g->free_conns = c->next_free;
    c->g = g;
    c->addr = a;
    c->fd = fd->connect_fd;
    c->deadline_us = mdx_mono_us() + g->conf.read_timeout_ms * 1000;
    c->in_use = 1;
    c->cut = 0;
    c->answered = 0;
    g->stats.open++;
    return c;
}

/* Forgets a closed connection. Lock held. */
static void conn_untrack(struct api_guard *g, struct guard_conn *c)
{
    struct guard_addr *a = c->addr;

    if (--a->conns == 0) {
        mdx_htab_remove(&g->by_addr, &a->node);
        a->next_free = g->free_addrs;
        g->free_addrs = a;
    }
    c->in_use = 0;
    c->addr = NULL;
    c->next_free = g->free_conns;
    g->free_conns = c;
    g->stats.open--;
}

void api_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    struct api_guard *g = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct guard_conn *c;
        int over_address = 0;
        pthread_mutex_lock(&g->lock);
        c = conn_track(g, conn, &over_address);
        if (c == NULL && over_address) {
            g->stats.refused_address++;
        } else if (c == NULL) {
            g->stats.refused_full++;
        }
        pthread_mutex_unlock(&g->lock);
        *socket_context = c;
        if (c == NULL) {
            /* Accepts raced past a cap: end this one now, without an answer. */
            const union MHD_ConnectionInfo *fd =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
            if (fd != NULL) {
                shutdown(fd->connect_fd, SHUT_RDWR);
            }
        }
        return;
    }
    if (*socket_context != NULL) {
        pthread_mutex_lock(&g->lock);
        conn_untrack(g, *socket_context);
        pthread_mutex_unlock(&g->lock);
        *socket_context = NULL;
    }
}

enum conn_phase { PHASE_READ, PHASE_ANSWERED, PHASE_DONE };

/* Moves the connection 'conn' to the request phase 'phase'. */
static void set_phase(struct MHD_Connection *conn, enum conn_phase phase)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct guard_conn *c = info != NULL ? info->socket_context : NULL;

    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->g->lock);
    switch (phase) {
    case PHASE_READ:
        c->deadline_us = 0;
        break;
    case PHASE_ANSWERED:
        c->answered = 1;
        break;
    case PHASE_DONE:
        c->deadline_us = mdx_mono_us() + c->g->conf.read_timeout_ms * 1000;
        c->answered = 0;
        break;
    }
    pthread_mutex_unlock(&c->g->lock);
}

void api_guard_request_read(struct MHD_Connection *conn)
{
    set_phase(conn, PHASE_READ);
}

void api_guard_request_answered(struct MHD_Connection *conn)
{
    set_phase(conn, PHASE_ANSWERED);
}

void api_guard_request_done(struct MHD_Connection *conn)
{
    set_phase(conn, PHASE_DONE);
}

/* Cuts every connection past its deadline; the number cut. Lock held. */
static unsigned cut_late(struct api_guard *g, int64_t now_us)
{
    unsigned n = 0;

    for (size_t i = 0; i < g->n_slots; i++) {
        struct guard_conn *c = &g->conns[i];
        if (!c->in_use || c->cut || c->deadline_us == 0 || now_us < c->deadline_us) {
            continue;
        }
        if (g->conf.plain_http && !c->answered) {
            /* Nothing of a reply is queued on it: the request is still unread. */
            (void)send(c->fd, timeout_reply, sizeof(timeout_reply) - 1,
                       MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        shutdown(c->fd, SHUT_RDWR);
        c->cut = 1;
        g->stats.timed_out++;
        n++;
    }
    return n;
}

static void *deadline_thread(void *arg)
{
    struct api_guard *g = arg;
    int64_t tick_ms = g->conf.read_timeout_ms / 10;

    if (tick_ms < TICK_MIN_MS) {
        tick_ms = TICK_MIN_MS;
    } else if (tick_ms > TICK_MAX_MS) {
        tick_ms = TICK_MAX_MS;
    }
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec until;
        unsigned cut;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)(tick_ms % 1000) * 1000000L;
        until.tv_sec += (time_t)(tick_ms / 1000) + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        if (g->stopping) {
            break;
        }
        cut = cut_late(g, mdx_mono_us());
        if (cut > 0) {
            pthread_mutex_unlock(&g->lock);
            mdx_log_warn(MOD, "connections cut: no whole request within api.read_timeout_ms",
                         MDX_F_STR("listener", g->name), MDX_F_INT("connections", cut),
                         MDX_F_INT("read_timeout_ms", g->conf.read_timeout_ms));
            pthread_mutex_lock(&g->lock);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct api_guard *api_guard_create(const struct api_guard_conf *conf)
{
    struct api_guard *g = mdx_calloc(1, sizeof(*g));
    pthread_condattr_t ca;
    size_t buckets = 16;

    if (g == NULL) {
        return NULL;
    }
    g->conf = *conf;
    snprintf(g->name, sizeof(g->name), "%s", conf->name);
    g->conf.name = g->name;
    g->n_slots = (size_t)conf->max_conns + SLOT_MARGIN;
    while (buckets < g->n_slots) {
        buckets *= 2;
    }
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    g->conns = mdx_calloc(g->n_slots, sizeof(*g->conns));
    g->addrs = mdx_calloc(g->n_slots, sizeof(*g->addrs));
    if (g->conns == NULL || g->addrs == NULL || mdx_htab_init(&g->by_addr, buckets) != MDX_OK) {
        goto fail;
    }
    for (size_t i = g->n_slots; i-- > 0;) {
        g->conns[i].next_free = g->free_conns;
        g->free_conns = &g->conns[i];
        g->addrs[i].next_free = g->free_addrs;
        g->free_addrs = &g->addrs[i];
    }
    if (pthread_create(&g->thread, NULL, deadline_thread, g) != 0) {
        goto fail;
    }
    g->thread_started = 1;
    return g;

fail:
    api_guard_destroy(g);
    return NULL;
}

void api_guard_destroy(struct api_guard *g)
{
    if (g == NULL) {
        return;
    }
    if (g->thread_started) {
        mdx_thread_stop(&g->lock, &g->wake, &g->stopping, g->thread);
    }
    mdx_htab_fini(&g->by_addr);
    mdx_free(g->conns);
    mdx_free(g->addrs);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    mdx_free(g);
}

void api_guard_stats(struct api_guard *g, struct api_guard_stats *out)
{
    pthread_mutex_lock(&g->lock);
    *out = g->stats;
    pthread_mutex_unlock(&g->lock);
}

void api_guard_render(struct mdx_buf *b, struct api_guard *const *guards, size_t n)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"modax_http_connections", "gauge", "HTTP connections open now, by listener."},
        {"modax_http_connections_refused_total", "counter",
         "HTTP connections refused at accept, by listener and reason (full: the listener's "
         "connection limit; per_address: api.max_conns_per_address)."},
        {"modax_http_connections_timed_out_total", "counter",
         "HTTP connections cut because no whole request arrived within api.read_timeout_ms."},
    };
    struct api_guard_stats s[2];

    n = n < 2 ? n : 2;
    for (size_t i = 0; i < n; i++) {
        if (guards[i] != NULL) {
            api_guard_stats(guards[i], &s[i]);
        }
    }
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        mdx_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                     families[f].name, families[f].type);
        for (size_t i = 0; i < n; i++) {
            const char *l = guards[i] != NULL ? guards[i]->name : NULL;
            if (l == NULL) {
                continue;
            }
            if (f == 0) {
                mdx_buf_addf(b, "%s{listener=\"%s\"} %llu\n", families[f].name, l,
                             (unsigned long long)s[i].open);
            } else if (f == 1) {
                mdx_buf_addf(b, "%s{listener=\"%s\",reason=\"full\"} %llu\n", families[f].name, l,
                             (unsigned long long)s[i].refused_full);
                mdx_buf_addf(b, "%s{listener=\"%s\",reason=\"per_address\"} %llu\n",
                             families[f].name, l, (unsigned long long)s[i].refused_address);
            } else {
                mdx_buf_addf(b, "%s{listener=\"%s\"} %llu\n", families[f].name, l,
                             (unsigned long long)s[i].timed_out);
            }
        }
    }
}
