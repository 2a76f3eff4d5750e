/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port_posix.h - the edge port for Linux gateways and the fleet simulator:
 * one libmosquitto connection per process, driven from the agent's thread.
 *
 * Connects asynchronously and reconnects by itself with back-off (1 s
 * doubling to 30 s). While disconnected, publish() refuses with
 * MDX_ECONN so data waits in the agent's bounded ring, not in
 * libmosquitto's unbounded queue; while connected, at most
 * MDX_POSIX_MAX_OUTSTANDING QoS 1 messages may be unacknowledged
 * (MDX_EBUSY beyond that).
 */
#ifndef MODAX_EDGE_PORT_POSIX_H
#define MODAX_EDGE_PORT_POSIX_H

#include <signal.h>
#include <stdint.h>

#include "port.h"

#define MDX_POSIX_MAX_OUTSTANDING 1000

struct mosquitto;

struct mdx_posix_conf {
    const char *host;
    int port;
    const char *client_id;
    const char *username; /* NULL: none */
    const char *password; /* NULL: none; copied by libmosquitto, caller wipes it */
    int persistent;       /* clean_session false */
    int keepalive_s;
    const char *will_topic;      /* NULL: no Last Will; else retained "offline", QoS 1 */
    int log_level;               /* highest enum mdx_edge_log_level printed */
    volatile sig_atomic_t *stop; /* set by the signal handler */
};

struct mdx_posix_port {
    struct mdx_posix_conf conf;
    struct mosquitto *mosq;
    int connected;
    int ever_connected;
    int fatal;       /* the broker refused us for good: stop */
    int outstanding; /* QoS 1 messages sent, not yet acknowledged */
    int64_t next_attempt_ms;
    uint32_t backoff_ms;
    struct mdx_edge_port port; /* the table the agent uses; ctx = this struct */
};

/*
 * Sets up 'pp' without connecting yet: the first sleep_ms() through its
 * table starts that. Strings of 'conf' are borrowed. Returns MDX_OK, or
 * MDX_EINVAL / MDX_ENOMEM with a message printed.
 * mdx_posix_port_close() must follow in every case.
 */
int mdx_posix_port_open(struct mdx_posix_port *pp, const struct mdx_posix_conf *conf);

/*
 * Waits up to 'timeout_ms' for every queued message to be acknowledged,
 * disconnects and frees the client. Accepts a half-opened port.
 */
void mdx_posix_port_close(struct mdx_posix_port *pp, uint32_t timeout_ms);

/* Logs 'line' at 'level' to stderr, as the port does (for main). */
void mdx_posix_log(const struct mdx_posix_port *pp, int level, const char *line);

#endif
