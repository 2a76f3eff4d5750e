/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port_posix.h - the edge port for Linux gateways and the fleet simulator:
 * libmosquitto connections driven from the agent's thread, either one
 * connection for all machines, or one per machine, each with its own
 * broker identity (client id = user name = device id, its own secret or
 * client certificate), as the broker's auth plugin requires.
 *
 * Connects asynchronously and reconnects by itself with back-off (1 s
 * doubling to 30 s), per connection. While disconnected, publish() refuses
 * with MDX_ECONN so data waits in the agent's bounded ring, not in
 * libmosquitto's unbounded queue; while connected, at most
 * MDX_POSIX_MAX_OUTSTANDING QoS 1 messages may be unacknowledged per
 * connection (MDX_EBUSY beyond that). With an inbox set, each connection
 * subscribes (QoS 1) to its machines' topics of the inbox after each
 * connect and hands every message received to it, on the agent's thread
 * (from inside sleep_ms()). Optionally TLS, with a client certificate.
 * Optionally the outbox's storage (port.h store_*) in a file, written with
 * pwrite() and made durable with fdatasync().
 */
#ifndef MODAX_EDGE_PORT_POSIX_H
#define MODAX_EDGE_PORT_POSIX_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#define MDX_POSIX_MAX_OUTSTANDING 1000

#define MDX_POSIX_SUB_CHUNK 64  /* topics per SUBSCRIBE packet */
#define MDX_POSIX_TOPIC_MAX 160 /* longest topic subscribed to, with NUL */
#define MDX_POSIX_MAX_CONNS 500 /* connections per process (select() limit in libmosquitto) */
#define MDX_POSIX_FAILOVER_RETRY_MS 500 /* between attempts while other endpoints remain */
#define MDX_POSIX_PROBE_TIMEOUT_MS 2000

struct mosquitto;

/* Where received messages go; all NULL: the port subscribes to nothing. */
struct mdx_posix_inbox {
    void *arg;
    /* The k-th topic machine 'unit' subscribes to into 'buf'; 0, or -1 past the last. */
    int (*topic)(void *arg, uint32_t unit, uint32_t k, char *buf, size_t cap);
    /* One message received on 'unit''s connection (0 with one connection). */
    void (*deliver)(void *arg, uint32_t unit, const char *topic, const void *payload, size_t len);
    /* The broker acknowledged message 'token' of publish_tracked() on 'unit''s connection. */
    void (*acked)(void *arg, uint32_t unit, uint32_t token);
};

/* One broker endpoint (a region). 'host' borrowed. */
struct mdx_posix_endpoint {
    const char *host;
    int port;
};

/* The broker identity of one machine's connection. Strings borrowed. */
struct mdx_posix_ident {
    const char *client_id;  /* the device id */
    const char *username;   /* NULL: none (a client certificate says who it is) */
    const char *password;   /* NULL: none; copied by libmosquitto, caller wipes it */
    const char *certfile;   /* NULL: the conf's */
    const char *keyfile;
    const char *will_topic; /* NULL: no Last Will; else "offline", QoS 1, retained if will_retain */
};

struct mdx_posix_conf {
    const char *host;
    int port;
    const char *client_id;
    const char *username; /* NULL: none */
    const char *password; /* NULL: none; copied by libmosquitto, caller wipes it */
    int persistent;       /* clean_session false */
    int keepalive_s;
    const char *will_topic;      /* NULL: no Last Will; else "offline", QoS 1 */
    int will_retain;             /* the Last Will is retained (the profile allows it) */
    const char *alpn;            /* TLS ALPN protocol; NULL: none */
    int tls12;                   /* TLS 1.2 at least */
    /*
     * Credentials made at each connect (NULL: the fixed user name and
     * password above / in idents): user name and password of machine
     * 'unit''s connection into the buffers; *renew_at_s (Unix seconds,
     * 0: never) is when the session must be renewed with new ones. 0, or
     * -1 (the port stops: nothing to connect with).
     */
    int (*credentials)(void *arg, uint32_t unit, char *user, size_t ucap, char *pass,
                       size_t pcap, int64_t *renew_at_s);
    void *credentials_arg;
    const char *cafile;          /* NULL: plain TCP; else TLS, broker verified against it */
    const char *certfile;        /* TLS client certificate and key; NULL: none */
    const char *keyfile;
    int log_level;               /* highest enum mdx_edge_log_level printed */
    volatile sig_atomic_t *stop; /* set by the signal handler */
    /*
     * Per-machine connections: 'nidents' > 0 opens connection i for
     * machine i (its index in the agent) with idents[i]; client_id,
     * username, password and will_topic above are then unused.
     */
    const struct mdx_posix_ident *idents;
    uint32_t nidents;
    /*
     * Persistent outbox file (NULL: none): created with mode 0600, taken
     * as 'outbox_bytes' long if shorter (written sparsely), locked against
     * a second agent.
     */
    const char *outbox_path;
    uint64_t outbox_bytes;
    /*
     * Failover: 'nendpoints' > 1 brokers in order of preference (host and
     * port above are then unused; 0: host:port is the only one). A
     * connection moves to the next endpoint after 'failover_after' failed
     * attempts in a row (retried every MDX_POSIX_FAILOVER_RETRY_MS), or
     * when a QoS 1 message waits longer than 'health_timeout_ms' for its
     * acknowledgement (0: never). While on another endpoint the port
     * probes the first one (a TCP connect) every 'primary_probe_ms' and
     * moves back as soon as it answers.
     */
    const struct mdx_posix_endpoint *endpoints;
    uint32_t nendpoints;
    uint32_t failover_after;
    uint32_t health_timeout_ms;
    uint32_t primary_probe_ms;
};

struct mdx_posix_port;

/* One MQTT connection and its state. */
struct mdx_posix_conn {
    struct mdx_posix_port *pp;
    struct mosquitto *mosq;
    const char *client_id; /* borrowed */
    uint32_t unit;         /* per-machine: its machine; else 0 */
    int connected;
    int ever_connected;
    int refused;     /* the broker said "not authorised" / bad credentials */
    int outstanding; /* QoS 1 messages sent, not yet acknowledged */
    int64_t next_attempt_ms;
    uint32_t backoff_ms;
    uint32_t session; /* bumped at each connect */
    uint32_t ep;      /* index of the endpoint it uses */
    uint32_t fails;   /* attempts on 'ep' since the last success */
    uint32_t attempts; /* attempts on any endpoint since the last success */
    int64_t waiting_since_ms; /* oldest unacknowledged message waits since (health) */
    int64_t renew_at_s;       /* credentials: reconnect with new ones then; 0: never */
    uint64_t renewals;        /* sessions renewed for new credentials */
};

struct mdx_posix_port {
    struct mdx_posix_conf conf;
    struct mdx_posix_conn *conns; /* owned; nconns long */
    uint32_t nconns;
    int per_machine;
    int fatal; /* the broker refused us for good: stop */
    int outbox_fd;         /* -1: no outbox */
    uint64_t outbox_size;
    struct mdx_posix_endpoint single; /* host:port when no list is given */
    const struct mdx_posix_endpoint *eps;
    uint32_t neps;
    int probe_fd;          /* TCP probe of the first endpoint; -1: none running */
    int64_t probe_started_ms;
    int64_t next_probe_ms;
    uint64_t failovers;    /* endpoint switches, for the summary */
    struct mdx_posix_inbox inbox;
    struct mdx_edge_port port; /* the table the agent uses; ctx = this struct */
};

/*
 * Sets up 'pp' without connecting yet: the first sleep_ms() through its
 * table starts that. Strings of 'conf' are borrowed. Returns MDX_OK, or
 * MDX_EINVAL / MDX_ENOMEM with a message printed.
 * mdx_posix_port_close() must follow in every case.
 */
int mdx_posix_port_open(struct mdx_posix_port *pp, const struct mdx_posix_conf *conf);

/* Sets where received messages go (before the first sleep_ms(), or it applies from the next connect). */
void mdx_posix_port_inbox(struct mdx_posix_port *pp, const struct mdx_posix_inbox *inbox);

/* Waits up to 'timeout_ms' for every queued message to be acknowledged (acks reach the inbox). */
void mdx_posix_port_wait_acked(struct mdx_posix_port *pp, uint32_t timeout_ms);

/*
 * Waits up to 'timeout_ms' for every queued message to be acknowledged,
 * disconnects, frees the clients and closes the outbox. Accepts a
 * half-opened port.
 */
void mdx_posix_port_close(struct mdx_posix_port *pp, uint32_t timeout_ms);

/* port.h hmac_sha256 through OpenSSL (crypto_posix.c); 'ctx' unused. */
int mdx_posix_hmac_sha256(void *ctx, const void *key, size_t key_len, const void *msg, size_t len,
                          uint8_t mac[32]);

/* Logs 'line' at 'level' to stderr, as the port does (for main). */
void mdx_posix_log(const struct mdx_posix_port *pp, int level, const char *line);

#endif
