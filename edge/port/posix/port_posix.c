/* SPDX-License-Identifier: Apache-2.0 */
/*
 * port_posix.c - the edge port over libmosquitto and POSIX clocks; see
 * port_posix.h.
 *
 * Single-threaded: the agent's sleep drives mosquitto_loop(), so the
 * callbacks run on the agent's thread and need no locks. The socket is
 * opened with mosquitto_connect_async() so an unreachable broker never
 * blocks the loop (and the simulated clock) for a TCP timeout.
 */
#include "port_posix.h"

#include <errno.h>
#include <stdarg.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "modax/status.h"

#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define SEND_MAXIMUM 100 /* QoS 1 messages in flight on the wire */

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
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    mdx_posix_log(pp, level, line);
}

static void schedule_retry(struct mdx_posix_port *pp)
{
    pp->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) + pp->backoff_ms;
    pp->backoff_ms = pp->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : pp->backoff_ms * 2;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mdx_posix_port *pp = obj;

    (void)mosq;
    if (rc == 0) {
        pp->connected = 1;
        pp->ever_connected = 1;
        pp->backoff_ms = BACKOFF_MIN_MS;
        if (!pp->conf.persistent) {
            /* A clean session may drop what was in flight unacknowledged: don't count it. */
            pp->outstanding = 0;
        }
        logf_(pp, MDX_EDGE_LOG_INFO, "connected to %s:%d as %s", pp->conf.host, pp->conf.port,
              pp->conf.client_id);
        return;
    }
    logf_(pp, MDX_EDGE_LOG_ERROR, "broker %s:%d refused the connection: %s", pp->conf.host,
          pp->conf.port, mosquitto_connack_string(rc));
    if (rc == 4 || rc == 5) {
        /* Bad user name or password, not authorised: retrying won't help. */
        mdx_posix_log(pp, MDX_EDGE_LOG_ERROR,
                      "check --username/--password-file and the broker's ACL");
        pp->fatal = 1;
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct mdx_posix_port *pp = obj;

    (void)mosq;
    (void)rc;
    pp->connected = 0;
    schedule_retry(pp);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct mdx_posix_port *pp = obj;

    (void)mosq;
    (void)mid;
    if (pp->outstanding > 0) {
        pp->outstanding--;
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

static int port_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                        int retain)
{
    struct mdx_posix_port *pp = ctx;
    int rc;

    if (!pp->connected) {
        return MDX_ECONN;
    }
    if (pp->outstanding >= MDX_POSIX_MAX_OUTSTANDING) {
        return MDX_EBUSY;
    }
    if (len > 256u * 1024 * 1024) {
        return MDX_EINVAL;
    }
    rc = mosquitto_publish(pp->mosq, NULL, topic, (int)len, payload, qos, retain != 0);
    switch (rc) {
    case MOSQ_ERR_SUCCESS:
        if (qos > 0) {
            pp->outstanding++;
        }
        return MDX_OK;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
        pp->connected = 0;
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

static int port_connected(void *ctx)
{
    const struct mdx_posix_port *pp = ctx;

    return pp->connected;
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

static void try_connect(struct mdx_posix_port *pp)
{
    int rc = mosquitto_connect_async(pp->mosq, pp->conf.host, pp->conf.port, pp->conf.keepalive_s);

    if (rc == MOSQ_ERR_SUCCESS) {
        logf_(pp, MDX_EDGE_LOG_DEBUG, "connecting to %s:%d", pp->conf.host, pp->conf.port);
        /* Back-off applies if this attempt fails later in the loop. */
        pp->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) + pp->backoff_ms;
        return;
    }
    logf_(pp, pp->ever_connected ? MDX_EDGE_LOG_DEBUG : MDX_EDGE_LOG_WARN,
          "cannot reach broker %s:%d (%s); retrying in %u s", pp->conf.host, pp->conf.port,
          rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), pp->backoff_ms / 1000);
    schedule_retry(pp);
}

static void sleep_ms_plain(int64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL); /* a signal cuts it short; the caller re-checks */
}

static void port_sleep(void *ctx, uint32_t ms)
{
    struct mdx_posix_port *pp = ctx;
    int64_t deadline = clock_ms(CLOCK_MONOTONIC) + ms;
    int64_t now;

    do {
        int64_t left;

        if (port_stop_requested(pp)) {
            return;
        }
        now = clock_ms(CLOCK_MONOTONIC);
        if (mosquitto_socket(pp->mosq) < 0 && now >= pp->next_attempt_ms) {
            try_connect(pp);
        }
        left = deadline - now;
        left = left < 0 ? 0 : (left > 100 ? 100 : left);
        if (mosquitto_socket(pp->mosq) >= 0) {
            int rc = mosquitto_loop(pp->mosq, (int)left, 1);

            if (rc != MOSQ_ERR_SUCCESS) {
                if (pp->connected) {
                    logf_(pp, MDX_EDGE_LOG_DEBUG, "network loop: %s", mosquitto_strerror(rc));
                }
                pp->connected = 0;
                if (mosquitto_socket(pp->mosq) >= 0) {
                    mosquitto_disconnect(pp->mosq);
                }
                if (now >= pp->next_attempt_ms) {
                    schedule_retry(pp);
                }
            }
        } else if (left > 0) {
            sleep_ms_plain(left > 50 ? 50 : left);
        }
        now = clock_ms(CLOCK_MONOTONIC);
    } while (now < deadline);
}

int mdx_posix_port_open(struct mdx_posix_port *pp, const struct mdx_posix_conf *conf)
{
    memset(pp, 0, sizeof(*pp));
    pp->conf = *conf;
    pp->backoff_ms = BACKOFF_MIN_MS;
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
    mosquitto_lib_init();
    pp->mosq = mosquitto_new(conf->client_id, !conf->persistent, pp);
    if (pp->mosq == NULL) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "cannot create the MQTT client: %s", strerror(errno));
        return errno == ENOMEM ? MDX_ENOMEM : MDX_EINVAL;
    }
    mosquitto_connect_callback_set(pp->mosq, on_connect);
    mosquitto_disconnect_callback_set(pp->mosq, on_disconnect);
    mosquitto_publish_callback_set(pp->mosq, on_publish);
    mosquitto_int_option(pp->mosq, MOSQ_OPT_SEND_MAXIMUM, SEND_MAXIMUM);
    if (conf->username != NULL &&
        mosquitto_username_pw_set(pp->mosq, conf->username, conf->password) != MOSQ_ERR_SUCCESS) {
        mdx_posix_log(pp, MDX_EDGE_LOG_ERROR, "user name or password not usable");
        return MDX_EINVAL;
    }
    if (conf->will_topic != NULL &&
        mosquitto_will_set(pp->mosq, conf->will_topic, 7, "offline", 1, true) != MOSQ_ERR_SUCCESS) {
        mdx_posix_log(pp, MDX_EDGE_LOG_ERROR, "cannot set the Last Will");
        return MDX_EINVAL;
    }
    /* The first port_sleep() connects: the agent can still refuse its conf quietly. */
    pp->next_attempt_ms = 0;
    return MDX_OK;
}

void mdx_posix_port_close(struct mdx_posix_port *pp, uint32_t timeout_ms)
{
    int64_t deadline = clock_ms(CLOCK_MONOTONIC) + timeout_ms;

    if (pp->mosq != NULL) {
        while (pp->connected && pp->outstanding > 0 && clock_ms(CLOCK_MONOTONIC) < deadline) {
            if (mosquitto_loop(pp->mosq, 50, 1) != MOSQ_ERR_SUCCESS) {
                break;
            }
        }
        if (pp->outstanding > 0) {
            logf_(pp, MDX_EDGE_LOG_WARN, "%d messages not acknowledged by the broker",
                  pp->outstanding);
        }
        if (pp->connected) {
            mosquitto_disconnect(pp->mosq);
            mosquitto_loop(pp->mosq, 0, 1); /* let the DISCONNECT out */
        }
        mosquitto_destroy(pp->mosq);
        pp->mosq = NULL;
    }
    mosquitto_lib_cleanup();
}
