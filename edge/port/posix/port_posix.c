/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port_posix.c - the edge port over libmosquitto and POSIX clocks; see
 * port_posix.h.
 *
 * Single-threaded: the agent's sleep polls every connection's socket and
 * drives mosquitto_loop() on it, so the callbacks run on the agent's
 * thread and need no locks. Sockets are opened with
 * mosquitto_connect_async() so an unreachable broker never blocks the
 * loop (and the simulated clock) for a TCP timeout.
 */
#include "port_posix.h"

#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modax/status.h"

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define SEND_MAXIMUM 100 /* QoS 1 messages in flight on the wire, per connection */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mdx_posix_log(const struct mdx_posix_port *pp, int level, const char *line)
{
    if (level > pp->conf.log_level || level < 0 || level > MDX_EDGE_LOG_DEBUG) {
        return;
    }
    fprintf(stderr, "modax-edge: %s: %s\n", level_names[level], line);
}

static void logf_(struct mdx_posix_port *pp, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void logf_(struct mdx_posix_port *pp, int level, const char *fmt, ...)
{
    char line[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mdx_posix_log(pp, level, line);
}

static void schedule_retry(struct mdx_posix_conn *c)
{
    c->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* Subscribes to 'c''s topics of the inbox (its machine's, or all), QoS 1, in chunks. */
static void subscribe_inbox(struct mdx_posix_conn *c)
{
    struct mdx_posix_port *pp = c->pp;
    char topics[MDX_POSIX_SUB_CHUNK][MDX_POSIX_TOPIC_MAX];
    char *subs[MDX_POSIX_SUB_CHUNK];
    uint32_t i = pp->per_machine ? c->unit : 0, total = 0;
    int n, rc;

    if (pp->inbox.topic == NULL) {
        return;
    }
    for (;;) {
        for (n = 0; n < MDX_POSIX_SUB_CHUNK; n++, i++) {
            if ((pp->per_machine && i != c->unit) ||
                pp->inbox.topic(pp->inbox.arg, i, topics[n], sizeof(topics[n])) != 0) {
                break;
            }
            subs[n] = topics[n];
        }
        if (n == 0) {
            break;
        }
        rc = mosquitto_subscribe_multiple(c->mosq, NULL, n, subs, 1, 0, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            logf_(pp, MDX_EDGE_LOG_ERROR, "%s: cannot subscribe to %s: %s", c->client_id,
                  topics[0], mosquitto_strerror(rc));
            return;
        }
        total += (uint32_t)n;
        if (n < MDX_POSIX_SUB_CHUNK) {
            break;
        }
    }
    logf_(pp, MDX_EDGE_LOG_DEBUG, "%s: subscribed to %u commands topics", c->client_id, total);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    struct mdx_posix_conn *c = obj;
    struct mdx_posix_port *pp = c->pp;

    (void)mosq;
    if (pp->inbox.deliver != NULL && msg->topic != NULL && msg->payloadlen >= 0) {
        pp->inbox.deliver(pp->inbox.arg, msg->topic, msg->payload != NULL ? msg->payload : "",
                          (size_t)msg->payloadlen);
    }
}

/* Stops on a refusal; per machine, only once every connection was refused and none ever got in. */
static void check_all_refused(struct mdx_posix_port *pp)
{
    uint32_t i;

    for (i = 0; i < pp->nconns && pp->per_machine; i++) {
        if (!pp->conns[i].refused || pp->conns[i].ever_connected) {
            return;
        }
    }
    mdx_posix_log(pp, MDX_EDGE_LOG_ERROR,
                  pp->per_machine ? "the broker refused every machine: check the secrets or "
                                    "certificates and the devices' registration"
                                  : "check --username/--password-file and the broker's ACL");
    pp->fatal = 1;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mdx_posix_conn *c = obj;
    struct mdx_posix_port *pp = c->pp;

    (void)mosq;
    if (rc == 0) {
        c->connected = 1;
        c->ever_connected = 1;
        c->refused = 0;
        c->backoff_ms = BACKOFF_MIN_MS;
        c->session = c->session + 1 == 0 ? 1 : c->session + 1;
        if (!pp->conf.persistent) {
            /* A clean session may drop what was in flight unacknowledged: don't count it. */
            c->outstanding = 0;
        }
        logf_(pp, pp->per_machine ? MDX_EDGE_LOG_DEBUG : MDX_EDGE_LOG_INFO,
              "connected to %s:%d as %s", pp->conf.host, pp->conf.port, c->client_id);
        subscribe_inbox(c);
        return;
    }
    logf_(pp, MDX_EDGE_LOG_ERROR, "broker %s:%d refused the connection of %s: %s", pp->conf.host,
          pp->conf.port, c->client_id, mosquitto_connack_string(rc));
    if (rc == 4 || rc == 5) {
        /* Bad user name or password, not authorised: retrying soon won't help. */
        c->refused = 1;
        c->backoff_ms = BACKOFF_MAX_MS;
        check_all_refused(pp);
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mdx_posix_conn *c = obj;

    (void)mosq;
    (void)rc;
    c->connected = 0;
    schedule_retry(c);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct mdx_posix_conn *c = obj;

    (void)mosq;
    (void)mid;
    if (c->outstanding > 0) {
        c->outstanding--;
    }
}

static int64_t port_now_ms(void *ctx)
{
    (void)ctx;
    return clock_ms(CLOCK_MONOTONIC);
}

static int64_t port_wall_ms(void *ctx)
{
    (void)ctx;
    return clock_ms(CLOCK_REALTIME);
}

static int conn_publish(struct mdx_posix_conn *c, const char *topic, const void *payload,
                        size_t len, int qos, int retain)
{
    int rc;

    if (!c->connected) {
        return MDX_ECONN;
    }
    if (c->outstanding >= MDX_POSIX_MAX_OUTSTANDING) {
        return MDX_EBUSY;
    }
    if (len > 256u * 1024 * 1024) {
        return MDX_EINVAL;
    }
    rc = mosquitto_publish(c->mosq, NULL, topic, (int)len, payload, qos, retain != 0);
    switch (rc) {
    case MOSQ_ERR_SUCCESS:
        if (qos > 0) {
            c->outstanding++;
        }
        return MDX_OK;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
        c->connected = 0;
        return MDX_ECONN;
    case MOSQ_ERR_NOMEM:
        return MDX_ENOMEM;
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_OVERSIZE_PACKET:
    case MOSQ_ERR_MALFORMED_UTF8:
        return MDX_EINVAL;
    default:
        return MDX_EIO;
    }
}

static int port_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                        int retain)
{
    struct mdx_posix_port *pp = ctx;

    return conn_publish(&pp->conns[0], topic, payload, len, qos, retain);
}

static int port_unit_publish(void *ctx, uint32_t unit, const char *topic, const void *payload,
                             size_t len, int qos, int retain)
{
    struct mdx_posix_port *pp = ctx;

    if (unit >= pp->nconns) {
        return MDX_EINVAL;
    }
    return conn_publish(&pp->conns[unit], topic, payload, len, qos, retain);
}

static uint32_t port_unit_session(void *ctx, uint32_t unit)
{
    const struct mdx_posix_port *pp = ctx;

    if (unit >= pp->nconns || !pp->conns[unit].connected) {
        return 0;
    }
    return pp->conns[unit].session;
}

static int port_connected(void *ctx)
{
    const struct mdx_posix_port *pp = ctx;
    uint32_t i;

    for (i = 0; i < pp->nconns; i++) {
        if (pp->conns[i].connected) {
            return 1;
        }
    }
    return 0;
}

static int port_stop_requested(void *ctx)
{
    const struct mdx_posix_port *pp = ctx;

    return pp->fatal || (pp->conf.stop != NULL && *pp->conf.stop);
}

static void port_log(void *ctx, int level, const char *line)
{
    mdx_posix_log(ctx, level, line);
}

static void try_connect(struct mdx_posix_conn *c)
{
    struct mdx_posix_port *pp = c->pp;
    int rc = mosquitto_connect_async(c->mosq, pp->conf.host, pp->conf.port, pp->conf.keepalive_s);

    if (rc == MOSQ_ERR_SUCCESS) {
        logf_(pp, MDX_EDGE_LOG_DEBUG, "%s: connecting to %s:%d", c->client_id, pp->conf.host,
              pp->conf.port);
        /* Back-off applies if this attempt fails later in the loop. */
        c->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) + c->backoff_ms;
        return;
    }
    logf_(pp, c->ever_connected || c->unit > 0 ? MDX_EDGE_LOG_DEBUG : MDX_EDGE_LOG_WARN,
          "cannot reach broker %s:%d (%s); retrying in %u s", pp->conf.host, pp->conf.port,
          rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), c->backoff_ms / 1000);
    schedule_retry(c);
}

/* Runs one connection's network loop without waiting; handles a broken one. */
static void service(struct mdx_posix_conn *c, int64_t now)
{
    int rc = mosquitto_loop(c->mosq, 0, 1);

    if (rc == MOSQ_ERR_SUCCESS) {
        return;
    }
    if (c->connected) {
        logf_(c->pp, MDX_EDGE_LOG_DEBUG, "%s: network loop: %s", c->client_id,
              mosquitto_strerror(rc));
    }
    c->connected = 0;
    if (mosquitto_socket(c->mosq) >= 0) {
        mosquitto_disconnect(c->mosq);
    }
    if (now >= c->next_attempt_ms) {
        schedule_retry(c);
    }
}

static void sleep_ms_plain(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL); /* a signal cuts it short; the caller re-checks */
}

/*
 * Waits for any socket to be ready (at most 'ms'), then runs the loop of
 * every open connection (their keep-alives are due whether or not the
 * socket has news). 'fds' has room for every connection.
 */
static void poll_all(struct mdx_posix_port *pp, struct pollfd *fds, int64_t ms)
{
    nfds_t n = 0;
    uint32_t i;

    for (i = 0; i < pp->nconns; i++) {
        int fd = mosquitto_socket(pp->conns[i].mosq);

        if (fd >= 0) {
            fds[n].fd = fd;
            fds[n].events = (short)(POLLIN | (mosquitto_want_write(pp->conns[i].mosq) ? POLLOUT : 0));
            fds[n].revents = 0;
            n++;
        }
    }
    if (n == 0) {
        if (ms > 0) {
            sleep_ms_plain(ms > 50 ? 50 : ms);
        }
        return;
    }
    poll(fds, n, (int)ms); /* EINTR: the caller re-checks the stop flag */
    for (i = 0; i < pp->nconns; i++) {
        if (mosquitto_socket(pp->conns[i].mosq) >= 0) {
            service(&pp->conns[i], clock_ms(CLOCK_MONOTONIC));
        }
    }
}

static void port_sleep(void *ctx, uint32_t ms)
{
    struct mdx_posix_port *pp = ctx;
    struct pollfd fds[MDX_POSIX_MAX_CONNS];
    int64_t deadline = clock_ms(CLOCK_MONOTONIC) + ms;
    int64_t now;

    do {
        int64_t left;
        uint32_t i;

        if (port_stop_requested(pp)) {
            return;
        }
        now = clock_ms(CLOCK_MONOTONIC);
        for (i = 0; i < pp->nconns; i++) {
            struct mdx_posix_conn *c = &pp->conns[i];

            if (mosquitto_socket(c->mosq) < 0 && now >= c->next_attempt_ms) {
                try_connect(c);
            }
        }
        left = deadline - now;
        left = left < 0 ? 0 : (left > 100 ? 100 : left);
        poll_all(pp, fds, left);
        now = clock_ms(CLOCK_MONOTONIC);
    } while (now < deadline);
}

/* Creates connection 'c' with its identity and the conf's TLS settings. */
static int conn_open(struct mdx_posix_port *pp, struct mdx_posix_conn *c,
                     const struct mdx_posix_ident *id, uint32_t unit)
{
    const struct mdx_posix_conf *conf = &pp->conf;
    const char *cert = id->certfile != NULL ? id->certfile : conf->certfile;
    const char *key = id->keyfile != NULL ? id->keyfile : conf->keyfile;
    int rc;

    c->pp = pp;
    c->unit = unit;
    c->client_id = id->client_id;
    c->backoff_ms = BACKOFF_MIN_MS;
    c->mosq = mosquitto_new(id->client_id, !conf->persistent, c);
    if (c->mosq == NULL) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "cannot create the MQTT client %s: %s",
              id->client_id != NULL ? id->client_id : "", strerror(errno));
        return errno == ENOMEM ? MDX_ENOMEM : MDX_EINVAL;
    }
    mosquitto_connect_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
    mosquitto_publish_callback_set(c->mosq, on_publish);
    mosquitto_message_callback_set(c->mosq, on_message);
    mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, SEND_MAXIMUM);
    if (id->username != NULL &&
        mosquitto_username_pw_set(c->mosq, id->username, id->password) != MOSQ_ERR_SUCCESS) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "%s: user name or password not usable", id->client_id);
        return MDX_EINVAL;
    }
    if (id->will_topic != NULL &&
        mosquitto_will_set(c->mosq, id->will_topic, 7, "offline", 1, true) != MOSQ_ERR_SUCCESS) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "%s: cannot set the Last Will", id->client_id);
        return MDX_EINVAL;
    }
    if (conf->cafile != NULL) {
        rc = mosquitto_tls_set(c->mosq, conf->cafile, NULL, cert, key, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            logf_(pp, MDX_EDGE_LOG_ERROR, "%s: TLS settings refused (CA %s, certificate %s, key %s): %s",
                  id->client_id, conf->cafile, cert != NULL ? cert : "none",
                  key != NULL ? key : "none",
                  rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            return MDX_EINVAL;
        }
    } else if (cert != NULL || key != NULL) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "a client certificate needs --cafile (TLS)");
        return MDX_EINVAL;
    }
    /* The first port_sleep() connects: the agent can still refuse its conf quietly. */
    c->next_attempt_ms = 0;
    return MDX_OK;
}

int mdx_posix_port_open(struct mdx_posix_port *pp, const struct mdx_posix_conf *conf)
{
    uint32_t i;
    int rc;

    memset(pp, 0, sizeof(*pp));
    pp->conf = *conf;
    pp->per_machine = conf->nidents > 0;
    pp->port = (struct mdx_edge_port){
        .ctx = pp,
        .now_ms = port_now_ms,
        .wall_ms = port_wall_ms,
        .publish = port_publish,
        .connected = port_connected,
        .sleep_ms = port_sleep,
        .stop_requested = port_stop_requested,
        .log = port_log,
    };
    if (pp->per_machine) {
        pp->port.unit_session = port_unit_session;
        pp->port.unit_publish = port_unit_publish;
    }
    mosquitto_lib_init();
    if (conf->nidents > MDX_POSIX_MAX_CONNS) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "at most %d connections per process; split the fleet",
              MDX_POSIX_MAX_CONNS);
        return MDX_EINVAL;
    }
    pp->nconns = pp->per_machine ? conf->nidents : 1;
    pp->conns = calloc(pp->nconns, sizeof(*pp->conns));
    if (pp->conns == NULL) {
        pp->nconns = 0;
        mdx_posix_log(pp, MDX_EDGE_LOG_ERROR, "out of memory for the connections");
        return MDX_ENOMEM;
    }
    for (i = 0; i < pp->nconns; i++) {
        struct mdx_posix_ident single = {conf->client_id, conf->username, conf->password,
                                         NULL, NULL, conf->will_topic};

        rc = conn_open(pp, &pp->conns[i], pp->per_machine ? &conf->idents[i] : &single, i);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

void mdx_posix_port_inbox(struct mdx_posix_port *pp, const struct mdx_posix_inbox *inbox)
{
    pp->inbox = *inbox;
}

/* Non-zero while some connected connection has unacknowledged messages. */
static int any_outstanding(const struct mdx_posix_port *pp)
{
    uint32_t i;

    for (i = 0; i < pp->nconns; i++) {
        if (pp->conns[i].connected && pp->conns[i].outstanding > 0) {
            return 1;
        }
    }
    return 0;
}

void mdx_posix_port_close(struct mdx_posix_port *pp, uint32_t timeout_ms)
{
    int64_t deadline = clock_ms(CLOCK_MONOTONIC) + timeout_ms;
    long left = 0;
    uint32_t i;

    while (pp->conns != NULL && any_outstanding(pp) && clock_ms(CLOCK_MONOTONIC) < deadline) {
        for (i = 0; i < pp->nconns; i++) {
            struct mdx_posix_conn *c = &pp->conns[i];

            if (c->connected && mosquitto_loop(c->mosq, pp->nconns == 1 ? 50 : 5, 1) !=
                                    MOSQ_ERR_SUCCESS) {
                c->connected = 0;
            }
        }
    }
    for (i = 0; i < pp->nconns; i++) {
        struct mdx_posix_conn *c = &pp->conns[i];

        if (c->mosq == NULL) {
            continue;
        }
        left += c->outstanding;
        if (c->connected) {
            mosquitto_disconnect(c->mosq);
            mosquitto_loop(c->mosq, 0, 1); /* let the DISCONNECT out */
        }
        mosquitto_destroy(c->mosq);
        c->mosq = NULL;
    }
    if (left > 0) {
        logf_(pp, MDX_EDGE_LOG_WARN, "%ld messages not acknowledged by the broker", left);
    }
    free(pp->conns);
    pp->conns = NULL;
    pp->nconns = 0;
    mosquitto_lib_cleanup();
}
