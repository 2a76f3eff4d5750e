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
#include <fcntl.h>
#include <mosquitto.h>
#include <netdb.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "modax/status.h"
#include "outbox.h"

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

/*
 * The next attempt: soon while other endpoints remain untried in this
 * round, else after the back-off, which doubles.
 */
static int in_failover_round(const struct mdx_posix_conn *c)
{
    return c->pp->neps > 1 && c->attempts < c->pp->neps * c->pp->conf.failover_after;
}

static void schedule_retry(struct mdx_posix_conn *c)
{
    if (in_failover_round(c)) {
        c->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) + MDX_POSIX_FAILOVER_RETRY_MS;
        return;
    }
    c->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

static const struct mdx_posix_endpoint *endpoint(const struct mdx_posix_conn *c)
{
    return &c->pp->eps[c->ep];
}

/* Moves 'c' to endpoint 'ep' for its next attempt, which is due at once. */
static void switch_endpoint(struct mdx_posix_conn *c, uint32_t ep, const char *why)
{
    struct mdx_posix_port *pp = c->pp;

    logf_(pp, pp->per_machine ? MDX_EDGE_LOG_DEBUG : MDX_EDGE_LOG_WARN,
          "%s: %s: switching from %s:%d to %s:%d", c->client_id, why, endpoint(c)->host,
          endpoint(c)->port, pp->eps[ep].host, pp->eps[ep].port);
    c->ep = ep;
    c->fails = 0;
    c->next_attempt_ms = 0;
    pp->failovers++;
}

/* Subscribes to 'c''s topics of the inbox (its machine's, or all machines'), QoS 1, in chunks. */
static void subscribe_inbox(struct mdx_posix_conn *c)
{
    struct mdx_posix_port *pp = c->pp;
    char topics[MDX_POSIX_SUB_CHUNK][MDX_POSIX_TOPIC_MAX];
    char *subs[MDX_POSIX_SUB_CHUNK];
    uint32_t unit = pp->per_machine ? c->unit : 0, k = 0, total = 0;
    int n, rc, done = 0;

    if (pp->inbox.topic == NULL) {
        return;
    }
    while (!done) {
        for (n = 0; n < MDX_POSIX_SUB_CHUNK;) {
            if (pp->inbox.topic(pp->inbox.arg, unit, k, topics[n], sizeof(topics[n])) == 0) {
                subs[n] = topics[n];
                n++;
                k++;
                continue;
            }
            /* past the last topic of 'unit': the next machine, on a shared connection */
            if (k == 0 || pp->per_machine) {
                done = 1;
                break;
            }
            unit++;
            k = 0;
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
    }
    logf_(pp, MDX_EDGE_LOG_DEBUG, "%s: subscribed to %u topics", c->client_id, total);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    struct mdx_posix_conn *c = obj;
    struct mdx_posix_port *pp = c->pp;

    (void)mosq;
    if (pp->inbox.deliver != NULL && msg->topic != NULL && msg->payloadlen >= 0) {
        pp->inbox.deliver(pp->inbox.arg, c->unit, msg->topic,
                          msg->payload != NULL ? msg->payload : "",
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
        c->fails = 0;
        c->attempts = 0;
        c->backoff_ms = BACKOFF_MIN_MS;
        c->session = c->session + 1 == 0 ? 1 : c->session + 1;
        if (!pp->conf.persistent) {
            /* A clean session may drop what was in flight unacknowledged: don't count it. */
            c->outstanding = 0;
        }
        logf_(pp, pp->per_machine ? MDX_EDGE_LOG_DEBUG : MDX_EDGE_LOG_INFO,
              "connected to %s:%d as %s", endpoint(c)->host, endpoint(c)->port, c->client_id);
        subscribe_inbox(c);
        return;
    }
    logf_(pp, MDX_EDGE_LOG_ERROR, "broker %s:%d refused the connection of %s: %s",
          endpoint(c)->host, endpoint(c)->port, c->client_id, mosquitto_connack_string(rc));
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
    struct mdx_posix_port *pp = c->pp;

    (void)mosq;
    if (c->outstanding > 0) {
        c->outstanding--;
    }
    c->waiting_since_ms = clock_ms(CLOCK_MONOTONIC); /* the next oldest waits from now on */
    if (pp->inbox.acked != NULL && mid > 0) {
        pp->inbox.acked(pp->inbox.arg, c->unit, (uint32_t)mid);
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
                        size_t len, int qos, int retain, int *mid)
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
    rc = mosquitto_publish(c->mosq, mid, topic, (int)len, payload, qos, retain != 0);
    switch (rc) {
    case MOSQ_ERR_SUCCESS:
        if (qos > 0) {
            if (c->outstanding == 0) {
                c->waiting_since_ms = clock_ms(CLOCK_MONOTONIC);
            }
            c->outstanding++;
        }
        return MDX_OK;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_ERRNO: /* the socket broke (EPIPE, ECONNRESET) */
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

    return conn_publish(&pp->conns[0], topic, payload, len, qos, retain, NULL);
}

static int port_publish_tracked(void *ctx, uint32_t unit, const char *topic, const void *payload,
                                size_t len, uint32_t *token)
{
    struct mdx_posix_port *pp = ctx;
    int mid = 0, rc;

    if (pp->per_machine && unit >= pp->nconns) {
        return MDX_EINVAL;
    }
    rc = conn_publish(&pp->conns[pp->per_machine ? unit : 0], topic, payload, len, 1, 0, &mid);
    *token = (uint32_t)mid;
    return rc;
}

static uint64_t port_store_size(void *ctx)
{
    const struct mdx_posix_port *pp = ctx;

    return pp->outbox_size;
}

static int port_store_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct mdx_posix_port *pp = ctx;
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(pp->outbox_fd, (char *)buf + done, len - done, (off_t)(off + done));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return MDX_EIO;
        }
        if (n == 0) {
            memset((char *)buf + done, 0, len - done); /* past the end: never written */
            break;
        }
        done += (size_t)n;
    }
    return MDX_OK;
}

static int port_store_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    const struct mdx_posix_port *pp = ctx;
    size_t done = 0;

    while (done < len) {
        ssize_t n = pwrite(pp->outbox_fd, (const char *)buf + done, len - done,
                           (off_t)(off + done));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return MDX_EIO;
        }
        done += (size_t)n;
    }
    return MDX_OK;
}

static int port_store_sync(void *ctx)
{
    const struct mdx_posix_port *pp = ctx;

    return fdatasync(pp->outbox_fd) == 0 ? MDX_OK : MDX_EIO;
}

/* Opens (creates) the outbox file, grows it to its size, locks it. MDX_OK or MDX_EIO. */
static int open_outbox(struct mdx_posix_port *pp)
{
    const struct mdx_posix_conf *conf = &pp->conf;
    struct stat st;

    pp->outbox_fd = open(conf->outbox_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (pp->outbox_fd < 0) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "cannot open the outbox %s: %s", conf->outbox_path,
              strerror(errno));
        return MDX_EIO;
    }
    if (flock(pp->outbox_fd, LOCK_EX | LOCK_NB) != 0) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "outbox %s is in use by another agent", conf->outbox_path);
        return MDX_EIO;
    }
    if (fstat(pp->outbox_fd, &st) != 0) {
        return MDX_EIO;
    }
    /*
     * New, written sparsely, or cut short by a crash: bytes past the end
     * read as zeros (blank records). An existing outbox keeps the size its
     * header says.
     */
    pp->outbox_size = (uint64_t)st.st_size > conf->outbox_bytes ? (uint64_t)st.st_size
                                                                 : conf->outbox_bytes;
    if (st.st_size >= (off_t)MDX_OUTBOX_HEADER) {
        uint8_t header[MDX_OUTBOX_HEADER];
        uint64_t spans;

        if (pread(pp->outbox_fd, header, sizeof(header), 0) == (ssize_t)sizeof(header)) {
            spans = mdx_edge_outbox_size_of(header);
            pp->outbox_size = spans > pp->outbox_size ? spans : pp->outbox_size;
        }
    }
    pp->port.store_size = port_store_size;
    pp->port.store_read = port_store_read;
    pp->port.store_write = port_store_write;
    pp->port.store_sync = port_store_sync;
    return MDX_OK;
}

static int port_unit_publish(void *ctx, uint32_t unit, const char *topic, const void *payload,
                             size_t len, int qos, int retain)
{
    struct mdx_posix_port *pp = ctx;

    if (unit >= pp->nconns) {
        return MDX_EINVAL;
    }
    return conn_publish(&pp->conns[unit], topic, payload, len, qos, retain, NULL);
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

/* Fresh credentials for 'c' before a connect, when the conf makes them. 0, or -1 (fatal). */
static int refresh_credentials(struct mdx_posix_conn *c)
{
    struct mdx_posix_port *pp = c->pp;
    char user[256], pass[512];
    int rc = 0;

    if (pp->conf.credentials == NULL) {
        return 0;
    }
    if (pp->conf.credentials(pp->conf.credentials_arg, c->unit, user, sizeof(user), pass,
                             sizeof(pass), &c->renew_at_s) != 0 ||
        mosquitto_username_pw_set(c->mosq, user[0] != '\0' ? user : NULL,
                                  pass[0] != '\0' ? pass : NULL) != MOSQ_ERR_SUCCESS) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "%s: cannot make the credentials", c->client_id);
        pp->fatal = 1;
        rc = -1;
    }
    explicit_bzero(pass, sizeof(pass));
    return rc;
}

/* Ends the session of 'c' once its credentials are due for renewal; it reconnects with new ones. */
static void check_renewal(struct mdx_posix_conn *c)
{
    if (c->renew_at_s > 0 && c->connected && time(NULL) >= c->renew_at_s) {
        logf_(c->pp, MDX_EDGE_LOG_INFO, "%s: renewing the session's credentials before they expire",
              c->client_id);
        c->renew_at_s = 0;
        c->renewals++;
        mosquitto_disconnect(c->mosq);
        mosquitto_loop(c->mosq, 0, 1); /* let the DISCONNECT out */
        c->connected = 0;
        c->next_attempt_ms = 0; /* at once: this is no failure */
    }
}

static void try_connect(struct mdx_posix_conn *c)
{
    struct mdx_posix_port *pp = c->pp;
    int rc;

    if (pp->neps > 1 && c->fails >= pp->conf.failover_after) {
        switch_endpoint(c, (c->ep + 1) % pp->neps, "unreachable");
    }
    c->fails++;
    c->attempts++;
    rc = mosquitto_connect_async(c->mosq, endpoint(c)->host, endpoint(c)->port,
                                 pp->conf.keepalive_s);
    if (rc == MOSQ_ERR_SUCCESS) {
        logf_(pp, MDX_EDGE_LOG_DEBUG, "%s: connecting to %s:%d", c->client_id, endpoint(c)->host,
              endpoint(c)->port);
        /* Back-off applies if this attempt fails later in the loop. */
        c->next_attempt_ms = clock_ms(CLOCK_MONOTONIC) +
                             (in_failover_round(c) ? MDX_POSIX_FAILOVER_RETRY_MS : c->backoff_ms);
        return;
    }
    logf_(pp, c->ever_connected || c->unit > 0 ? MDX_EDGE_LOG_DEBUG : MDX_EDGE_LOG_WARN,
          "cannot reach broker %s:%d (%s); retrying", endpoint(c)->host, endpoint(c)->port,
          rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
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

/* Drops connections whose oldest QoS 1 message waited too long: the endpoint is not healthy. */
static void check_health(struct mdx_posix_port *pp, int64_t now)
{
    uint32_t i;

    for (i = 0; i < pp->nconns && pp->conf.health_timeout_ms > 0; i++) {
        struct mdx_posix_conn *c = &pp->conns[i];

        if (c->connected && c->outstanding > 0 &&
            now - c->waiting_since_ms > (int64_t)pp->conf.health_timeout_ms) {
            c->connected = 0;
            mosquitto_disconnect(c->mosq);
            switch_endpoint(c, (c->ep + 1) % pp->neps, "no acknowledgement in time");
        }
    }
}

static void probe_close(struct mdx_posix_port *pp, int64_t now)
{
    close(pp->probe_fd);
    pp->probe_fd = -1;
    pp->next_probe_ms = now + pp->conf.primary_probe_ms;
}

/*
 * While any connection is away from the first endpoint: a non-blocking
 * TCP connect to it every primary_probe_ms; when it answers, those
 * connections go back to it.
 */
static void probe_primary(struct mdx_posix_port *pp, int64_t now)
{
    struct pollfd pfd;
    int err = 0, away = 0;
    socklen_t len = sizeof(err);
    uint32_t i;

    for (i = 0; i < pp->nconns && !away; i++) {
        away = pp->conns[i].ep != 0;
    }
    if (!away || pp->conf.primary_probe_ms == 0) {
        if (pp->probe_fd >= 0) {
            probe_close(pp, now);
        }
        return;
    }
    if (pp->probe_fd < 0) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
        char port[16];

        if (now < pp->next_probe_ms) {
            return;
        }
        snprintf(port, sizeof(port), "%d", pp->eps[0].port);
        if (getaddrinfo(pp->eps[0].host, port, &hints, &ai) != 0 || ai == NULL) {
            pp->next_probe_ms = now + pp->conf.primary_probe_ms;
            return;
        }
        pp->probe_fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (pp->probe_fd >= 0 && connect(pp->probe_fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
            errno != EINPROGRESS) {
            err = errno;
        }
        freeaddrinfo(ai);
        if (pp->probe_fd < 0 || err != 0) {
            if (pp->probe_fd >= 0) {
                probe_close(pp, now);
            } else {
                pp->next_probe_ms = now + pp->conf.primary_probe_ms;
            }
            return;
        }
        pp->probe_started_ms = now;
    }
    pfd.fd = pp->probe_fd;
    pfd.events = POLLOUT;
    pfd.revents = 0;
    if (poll(&pfd, 1, 0) <= 0) {
        if (now - pp->probe_started_ms > MDX_POSIX_PROBE_TIMEOUT_MS) {
            probe_close(pp, now);
        }
        return;
    }
    if (getsockopt(pp->probe_fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        probe_close(pp, now);
        return;
    }
    probe_close(pp, now);
    for (i = 0; i < pp->nconns; i++) {
        struct mdx_posix_conn *c = &pp->conns[i];

        if (c->ep != 0) {
            if (mosquitto_socket(c->mosq) >= 0) {
                mosquitto_disconnect(c->mosq);
                mosquitto_loop(c->mosq, 0, 1); /* let the DISCONNECT out */
            }
            c->connected = 0;
            switch_endpoint(c, 0, "the first endpoint answers again");
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
        if (pp->neps > 1) {
            check_health(pp, now);
            probe_primary(pp, now);
        }
        for (i = 0; i < pp->nconns; i++) {
            struct mdx_posix_conn *c = &pp->conns[i];

            check_renewal(c);
            if (mosquitto_socket(c->mosq) < 0 && now >= c->next_attempt_ms &&
                refresh_credentials(c) == 0) {
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
        mosquitto_will_set(c->mosq, id->will_topic, 7, "offline", 1, conf->will_retain != 0) !=
            MOSQ_ERR_SUCCESS) {
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
        if ((conf->tls12 &&
             mosquitto_tls_opts_set(c->mosq, 1, "tlsv1.2", NULL) != MOSQ_ERR_SUCCESS) ||
            (conf->alpn != NULL &&
             mosquitto_string_option(c->mosq, MOSQ_OPT_TLS_ALPN, conf->alpn) != MOSQ_ERR_SUCCESS)) {
            logf_(pp, MDX_EDGE_LOG_ERROR, "%s: TLS version or ALPN refused by libmosquitto",
                  id->client_id);
            return MDX_EINVAL;
        }
    } else if (conf->tls12 || conf->alpn != NULL) {
        logf_(pp, MDX_EDGE_LOG_ERROR, "this broker profile needs TLS: give --cafile");
        return MDX_EINVAL;
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
    pp->outbox_fd = -1;
    pp->probe_fd = -1;
    pp->single.host = conf->host;
    pp->single.port = conf->port;
    pp->eps = conf->nendpoints > 0 ? conf->endpoints : &pp->single;
    pp->neps = conf->nendpoints > 0 ? conf->nendpoints : 1;
    if (pp->conf.failover_after == 0) {
        pp->conf.failover_after = 1;
    }
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
        .publish_tracked = port_publish_tracked,
        .hmac_sha256 = mdx_posix_hmac_sha256,
    };
    if (pp->per_machine) {
        pp->port.unit_session = port_unit_session;
        pp->port.unit_publish = port_unit_publish;
    }
    mosquitto_lib_init();
    if (conf->outbox_path != NULL && open_outbox(pp) != MDX_OK) {
        return MDX_EIO;
    }
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

void mdx_posix_port_wait_acked(struct mdx_posix_port *pp, uint32_t timeout_ms)
{
    int64_t deadline = clock_ms(CLOCK_MONOTONIC) + timeout_ms;
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
}

void mdx_posix_port_close(struct mdx_posix_port *pp, uint32_t timeout_ms)
{
    long left = 0;
    uint32_t i;

    mdx_posix_port_wait_acked(pp, timeout_ms);
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
    if (pp->outbox_fd >= 0) {
        close(pp->outbox_fd); /* releases the lock */
        pp->outbox_fd = -1;
    }
    if (pp->probe_fd >= 0) {
        close(pp->probe_fd);
        pp->probe_fd = -1;
    }
    mosquitto_lib_cleanup();
}
