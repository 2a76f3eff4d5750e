/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn_guard.h - a listener's defence against connection floods (issue 16):
 * a cap on connections at once and on those from one address, and a
 * deadline for reading each request that a trickle of bytes does not
 * extend. One guard per libmicrohttpd daemon; the listener (listener.c)
 * plugs its callbacks into the daemon's options.
 */
#ifndef MODAX_API_CONN_GUARD_H
#define MODAX_API_CONN_GUARD_H

#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "base/buf.h"

struct api_guard_conf {
    const char *name;             /* "main" or "admin": the metrics label and the log field */
    unsigned max_conns;           /* connections at once; more are refused at accept */
    unsigned max_per_address;     /* connections from one address at once; more are refused */
    int64_t read_timeout_ms;      /* a whole request (headers and body) must arrive within this */
    int plain_http;               /* no TLS: a connection cut at its deadline is sent a 408 first */
};

struct api_guard;

/*
 * Sets up the tables (sized for max_conns plus a margin, allocated once)
 * and starts the thread that cuts connections past their deadline. NULL
 * when out of memory or the thread cannot start.
 */
struct api_guard *api_guard_create(const struct api_guard_conf *conf);
/* Stops the thread and frees; call once the daemon has stopped. NULL is fine. */
void api_guard_destroy(struct api_guard *g);

/* The daemon's accept policy (apc_cls: the guard): refuses over either cap, counted and logged. */
enum MHD_Result api_guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard): tracks connections and deadlines. */
void api_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* The request on 'conn' has been read in full: its deadline no longer applies. */
void api_guard_request_read(struct MHD_Connection *conn);
/*
 * A reply to the request on 'conn' has been queued (perhaps before its
 * body is in): if the deadline still cuts it, no 408 is written into it.
 */
void api_guard_request_answered(struct MHD_Connection *conn);
/* The reply on 'conn' is done: the next request must arrive within the read timeout. */
void api_guard_request_done(struct MHD_Connection *conn);

struct api_guard_stats {
    uint64_t open;                /* connections now */
    uint64_t refused_full;        /* refused: max_conns reached */
    uint64_t refused_address;     /* refused: max_per_address reached for the client's address */
    uint64_t timed_out;           /* cut: the request did not arrive within the read timeout */
};
void api_guard_stats(struct api_guard *g, struct api_guard_stats *out);

/*
 * Appends the connection metrics of the guards (NULL entries skipped),
 * labelled listener="NAME", in the Prometheus text format.
 */
void api_guard_render(struct mdx_buf *b, struct api_guard *const *guards, size_t n);

#endif
