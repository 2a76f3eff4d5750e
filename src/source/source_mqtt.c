/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_mqtt.c - MQTT source: QoS 1 subscriptions on a persistent session.
 *
 * libmosquitto 2.0.11 sends PUBACK before on_message runs, so on_message
 * hands the message to the engine's spool before returning: a crash can
 * lose at most the one message being handled. The fixed client id with
 * clean session off makes the broker queue what arrives while we are down.
 * With mqtt.tls the link is TLS (mqtt_tls.c); a refused handshake is logged
 * with its reason and retried like any lost connection.
 *
 * A lost connection is retried after 50 ms, doubling to 250 ms: while the
 * ingest is away from a restarted broker that lost its session, what devices
 * publish goes to no subscriber (issue 16, item 11). Refusals (TLS, protocol,
 * credentials) back off from 1 s to 10 s instead.
 *
 * The broker sends every retained message again each time we subscribe. A
 * retained message we already handed on (a forged or malformed status the
 * ingest dead-lettered, or a good one it stored) is then the same message
 * again: a small table of the ones seen (topic and payload digest) drops the
 * repeats, so one refused retained message is one dead letter, not one per
 * reconnect (issue 16, item 8). The service may not publish to a device's
 * status topic (src/auth/topic_rules.c), so it cannot clear it at the broker.
 */
#include <errno.h>
#include <mosquitto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/source.h"
#include "modax/status.h"
#include "base/htab.h"
#include "net/mqtt_client.h"
#include "net/mqtt_tls.h"

#define MOD "mqtt"
#define PUBLISH_INFLIGHT_MAX 10000 /* our publishes not yet acknowledged; more are refused */
#define LOOP_TIMEOUT_MS 100        /* one mosquitto_loop() call waits at most this long */
#define RECONNECT_MIN_MS 50        /* first retry after a lost connection */
#define RECONNECT_MAX_MS 250       /* cap of its doubling: back within this of the broker */
#define REFUSED_MIN_MS 1000        /* first retry after a refusal (TLS, protocol, credentials) */
#define REFUSED_MAX_MS 10000
#define STABLE_MS 1000             /* a connection that lasted this long resets the back-off */
#define RETAINED_SEEN_MAX 8192     /* retained messages remembered; the oldest make room */

const struct mdx_conf_key mdx_mqtt_conf_keys[] = {
    MDX_CONF_STR("mqtt.host", "127.0.0.1", struct mdx_mqtt_conf, host, "Broker host"),
    MDX_CONF_INT("mqtt.port", "1883", 1, 65535, struct mdx_mqtt_conf, port, "Broker port"),
    MDX_CONF_STR("mqtt.client_id", "modax-ingest", struct mdx_mqtt_conf, client_id,
                 "Fixed client id; the broker keeps this session's queue while the ingest is down"),
    MDX_CONF_STR("mqtt.username", "", struct mdx_mqtt_conf, username, "Username (empty: none)"),
    MDX_CONF_SECRET("mqtt.password", struct mdx_mqtt_conf, password,
                    "Password; environment or *_file only"),
    MDX_CONF_INT("mqtt.keepalive_s", "30", 5, 3600, struct mdx_mqtt_conf, keepalive_s,
                 "MQTT keep-alive (s)"),
    MDX_CONF_BOOL("mqtt.clean_session", "false", struct mdx_mqtt_conf, clean_session,
                  "Start a clean session (loses what the broker queued while away)"),
    MDX_CONF_STR("mqtt.shared_group", "", struct mdx_mqtt_conf, shared_group,
                 "Shared-subscription group so several ingest workers split the load"),
    MDX_CONF_INT("mqtt.protocol", "4", 4, 5, struct mdx_mqtt_conf, protocol,
                 "MQTT protocol: 4 = 3.1.1, 5 = MQTT 5"),
    MDX_CONF_BOOL("mqtt.tls", "false", struct mdx_mqtt_conf, tls,
                  "TLS to the broker (AWS IoT Core: true, port 8883, or 443 with ALPN)"),
    MDX_CONF_STR("mqtt.tls_ca_file", "", struct mdx_mqtt_conf, tls_ca_file,
                 "CA certificates (PEM) the broker's certificate must chain to; empty: the "
                 "system's"),
    MDX_CONF_STR("mqtt.tls_cert_file", "", struct mdx_mqtt_conf, tls_cert_file,
                 "Client certificate (PEM) for brokers that require one; empty: none"),
    MDX_CONF_STR("mqtt.tls_key_file", "", struct mdx_mqtt_conf, tls_key_file,
                 "Private key (PEM) of the client certificate: a mounted secret file"),
    MDX_CONF_STR("mqtt.tls_server_name", "", struct mdx_mqtt_conf, tls_server_name,
                 "Name the broker's certificate must carry; empty: mqtt.host"),
    MDX_CONF_STR("mqtt.tls_alpn", "", struct mdx_mqtt_conf, tls_alpn,
                 "TLS ALPN protocol; x-amzn-mqtt-ca for AWS IoT Core on port 443"),
    MDX_CONF_END,
};

static const char *const subscriptions[] = {
    "modax/+/+/sensor_data",
    "modax/+/+/safety",
    "modax/+/+/status",
    "modax/+/+/command_ack", /* devices' answers to commands (issue 5) */
};

/* A retained message handed on once: SHA-256 of its topic, a NUL and its payload. */
struct retained_seen {
    struct mdx_hnode node;    /* first: a node pointer is the entry */
    unsigned char digest[32];
};

/* Retained messages seen, in a ring: 'next' is the oldest once the ring is full. */
struct retained_table {
    struct mdx_htab index;
    struct retained_seen *v;  /* RETAINED_SEEN_MAX entries, owned */
    size_t n, next;
    uint64_t repeats;         /* repeats dropped since start */
};

struct source_mqtt {
    const struct mdx_mqtt_conf *conf; /* borrowed */
    struct mosquitto *mosq;
    mdx_deliver_fn deliver;
    void *arg;
    atomic_int subscribed;
    atomic_int stopping;
    atomic_int inflight;      /* publishes queued in libmosquitto, not yet acknowledged */
    pthread_t loop_thread;    /* runs libmosquitto's loop; see loop_main() */
    int loop_started;
    struct mqtt_tls *tls;     /* NULL: plain TCP */
    atomic_int accepted;      /* CONNACK success on the current connection */
    int64_t accepted_mono_ms; /* when the broker last accepted us, 0: not since the last loss;
                                 loop thread only */
    struct retained_table retained; /* loop thread only (on_message) */
};

/* Non-zero when the table already holds 'digest'. */
static int retained_find(const struct retained_table *t, const unsigned char digest[32],
                         uint64_t hash)
{
    for (const struct mdx_hnode *n = mdx_htab_bucket(&t->index, hash); n != NULL; n = n->next) {
        if (n->hash == hash && memcmp(((const struct retained_seen *)n)->digest, digest, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Remembers the retained message (topic, payload); returns non-zero when it
 * was there already (a repeat to drop). A digest that cannot be computed
 * counts as new: the message is handed on, as before this table.
 */
static int retained_seen_before(struct retained_table *t, const char *topic, const void *payload,
                                size_t len)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint64_t hash;
    struct retained_seen *e;
    int ok;

    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, topic, strlen(topic) + 1) == 1 &&
         EVP_DigestUpdate(ctx, payload, len) == 1 && EVP_DigestFinal_ex(ctx, digest, &dlen) == 1 &&
         dlen == sizeof(digest);
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return 0;
    }
    memcpy(&hash, digest, sizeof(hash));
    if (retained_find(t, digest, hash)) {
        return 1;
    }
    e = &t->v[t->next];
    if (t->n == RETAINED_SEEN_MAX) {
        mdx_htab_remove(&t->index, &e->node);
    } else {
        t->n++;
    }
    t->next = (t->next + 1) % RETAINED_SEEN_MAX;
    memcpy(e->digest, digest, sizeof(digest));
    e->node.hash = hash;
    e->node.next = NULL;
    mdx_htab_insert(&t->index, &e->node);
    return 0;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct source_mqtt *s = obj;
    char filter[256];

    if (rc != 0) {
        mdx_log_error(MOD, "broker refused the connection; check mqtt.username and password",
                      MDX_F_STR("reason", mosquitto_connack_string(rc)));
        return;
    }
    for (size_t i = 0; i < sizeof(subscriptions) / sizeof(subscriptions[0]); i++) {
        if (s->conf->shared_group[0] != '\0') {
            snprintf(filter, sizeof(filter), "$share/%s/%s", s->conf->shared_group,
                     subscriptions[i]);
        } else {
            snprintf(filter, sizeof(filter), "%s", subscriptions[i]);
        }
        rc = mosquitto_subscribe(mosq, NULL, filter, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            mdx_log_error(MOD, "subscribe failed", MDX_F_STR("filter", filter),
                          MDX_F_STR("error", mosquitto_strerror(rc)));
        }
    }
    s->accepted_mono_ms = mdx_mono_us() / 1000;
    atomic_store(&s->accepted, 1);
    atomic_store(&s->subscribed, 1);
    mdx_log_info(MOD, "connected", MDX_F_STR("host", s->conf->host),
                 MDX_F_INT("port", s->conf->port), MDX_F_STR("client_id", s->conf->client_id));
}

/*
 * The broker ended a TLS connection before its CONNACK: with TLS 1.3 that is how a
 * client certificate it does not accept shows when its alert comes after our CONNECT.
 */
static void tls_closed_early(struct source_mqtt *s, const char *reason)
{
    mdx_log_error(MOD, "TLS connection ended before the broker accepted it; check "
                       "mqtt.tls_cert_file (expired? signed by a CA the broker trusts?) and "
                       "mqtt.tls_ca_file", MDX_F_STR("reason", reason),
                  MDX_F_STR("host", s->conf->host));
}

/* Non-zero when a connect call's result is a TLS failure (OpenSSL leaves errno EPROTO). */
static int tls_failure(const struct source_mqtt *s, int rc, int err)
{
    return s->tls != NULL &&
           (rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_PROTOCOL || (rc == MOSQ_ERR_ERRNO && err == EPROTO));
}

/*
 * libmosquitto reports failed (re)connections only through its log: a
 * refused handshake is logged here with the reason in words.
 */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
    struct source_mqtt *s = obj;
    char why[512];

    (void)mosq;
    if (!(level & MOSQ_LOG_ERR) || atomic_load(&s->stopping)) {
        return;
    }
    if (s->tls != NULL && mqtt_tls_take_refusal(s->tls, why, sizeof(why)) != NULL) {
        mdx_log_error(MOD, "TLS handshake failed: broker's certificate refused",
                      MDX_F_STR("reason", why), MDX_F_STR("host", s->conf->host));
    } else if (strstr(str, "alert certificate") != NULL || strstr(str, "alert unknown ca") != NULL ||
               strstr(str, "certificate required") != NULL) {
        mdx_log_error(MOD, "TLS handshake failed: the broker refused our client certificate; "
                           "check mqtt.tls_cert_file (expired? signed by the CA it trusts?)",
                      MDX_F_STR("reason", str), MDX_F_STR("host", s->conf->host));
    } else {
        mdx_log_warn(MOD, "MQTT client error", MDX_F_STR("reason", str));
    }
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct source_mqtt *s = obj;

    (void)mosq;
    atomic_store(&s->subscribed, 0);
    if (s->tls != NULL && !atomic_exchange(&s->accepted, 0) && !atomic_load(&s->stopping)) {
        tls_closed_early(s, mosquitto_strerror(rc));
        return;
    }
    if (!atomic_load(&s->stopping)) {
        mdx_log_warn(MOD, "disconnected from the broker; reconnecting",
                     MDX_F_STR("reason", mosquitto_strerror(rc)));
    }
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    struct source_mqtt *s = obj;

    (void)mosq;
    /* Even while stopping: libmosquitto acknowledges a QoS 1 message whatever happens here,
     * so dropping it would lose it. The loop thread ends in mqtt_stop(), before the engine
     * drains, so the spool is there to take it. */
    if (m->retain && retained_seen_before(&s->retained, m->topic, m->payload,
                                          (size_t)(m->payloadlen > 0 ? m->payloadlen : 0))) {
        s->retained.repeats++;
        mdx_log_info(MOD, "retained message received again; ignored",
                     MDX_F_STR("topic", m->topic), MDX_F_INT("ignored", s->retained.repeats));
        return;
    }
    /* Returns once the message is durable in the spool. */
    s->deliver(s->arg, m->topic, m->payload, (size_t)(m->payloadlen > 0 ? m->payloadlen : 0),
               mdx_now_ms());
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct source_mqtt *s = obj;

    (void)mosq;
    (void)mid;
    if (atomic_load(&s->inflight) > 0) {
        atomic_fetch_sub(&s->inflight, 1);
    }
}

/*
 * libmosquitto queues the message for its network thread; while the
 * connection is down (or that thread waits for a full spool) the queue
 * would grow without bound, so the number in flight is capped.
 */
static int mqtt_publish(void *src, const char *topic, const void *payload, size_t len, int qos,
                        int retain)
{
    struct source_mqtt *s = src;
    int rc;

    if (!atomic_load(&s->subscribed) || atomic_load(&s->stopping)) {
        return MDX_ECONN;
    }
    if (atomic_load(&s->inflight) >= PUBLISH_INFLIGHT_MAX) {
        return MDX_EFULL;
    }
    if (len > INT32_MAX) {
        return MDX_EINVAL;
    }
    atomic_fetch_add(&s->inflight, 1);
    rc = mosquitto_publish(s->mosq, NULL, topic, (int)len, payload, qos, retain != 0);
    if (rc != MOSQ_ERR_SUCCESS) {
        atomic_fetch_sub(&s->inflight, 1);
        return rc == MOSQ_ERR_NO_CONN ? MDX_ECONN : MDX_EIO;
    }
    return MDX_OK;
}

static void *mqtt_create(const void *conf_arg, mdx_deliver_fn deliver, void *arg, int *err)
{
    const struct mdx_mqtt_conf *conf = conf_arg;
    struct source_mqtt *s = mdx_calloc(1, sizeof(*s));
    int rc = MDX_ENOMEM;

    if (s == NULL) {
        goto fail;
    }
    s->conf = conf;
    s->deliver = deliver;
    s->arg = arg;
    s->retained.v = mdx_calloc(RETAINED_SEEN_MAX, sizeof(*s->retained.v));
    if (s->retained.v == NULL ||
        mdx_htab_init(&s->retained.index, RETAINED_SEEN_MAX * 2) != MDX_OK) {
        goto fail;
    }
    mosquitto_lib_init();
    s->mosq = mosquitto_new(conf->client_id, conf->clean_session, s);
    if (s->mosq == NULL) {
        rc = MDX_EINVAL;
        goto fail;
    }
    rc = mqtt_client_setup(s->mosq, conf, &s->tls);
    if (rc != MDX_OK) {
        goto fail;
    }
    /* Receive window: how many QoS 1 messages the broker may have in flight to us. */
    mosquitto_int_option(s->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
    mosquitto_log_callback_set(s->mosq, on_log);
    mosquitto_connect_callback_set(s->mosq, on_connect);
    mosquitto_disconnect_callback_set(s->mosq, on_disconnect);
    mosquitto_message_callback_set(s->mosq, on_message);
    mosquitto_publish_callback_set(s->mosq, on_publish);
    return s;

fail:
    if (err != NULL) {
        *err = rc;
    }
    if (s != NULL) {
        mosquitto_destroy(s->mosq);
        mqtt_tls_destroy(s->tls);
        mdx_htab_fini(&s->retained.index);
        mdx_free(s->retained.v);
        mdx_free(s);
    }
    return NULL;
}

/* Non-zero for a loop result that is a refusal rather than a lost connection. */
static int refusal(int rc, int err)
{
    switch (rc) {
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_KEEPALIVE:
        return 0;
    case MOSQ_ERR_ERRNO:
        return err == EPROTO; /* OpenSSL's way of saying the handshake failed */
    default:
        return 1;
    }
}

/*
 * The network loop, ours rather than mosquitto_loop_forever: that one waits
 * whole seconds before a reconnect (1 s, then 4 s, 9 s, ...) and returns for
 * good after a TLS or protocol error, so one refused handshake (a broker
 * restarting with a new certificate) would end the ingest's connection for
 * the life of the process. This one retries until the source stops, a lost
 * connection after RECONNECT_MIN_MS doubling to RECONNECT_MAX_MS.
 */
static void *loop_main(void *arg)
{
    struct source_mqtt *s = arg;
    int64_t backoff = RECONNECT_MIN_MS;

    while (!atomic_load(&s->stopping)) {
        int rc = mosquitto_loop(s->mosq, LOOP_TIMEOUT_MS, 1);
        int err = errno;

        if (rc == MOSQ_ERR_SUCCESS) {
            continue;
        }
        if (atomic_load(&s->stopping)) {
            break;
        }
        if (refusal(rc, err)) {
            backoff = backoff < REFUSED_MIN_MS ? REFUSED_MIN_MS : backoff;
        } else if (s->accepted_mono_ms != 0 &&
                   mdx_mono_us() / 1000 - s->accepted_mono_ms >= STABLE_MS) {
            backoff = RECONNECT_MIN_MS;
        }
        s->accepted_mono_ms = 0;
        mdx_log_debug(MOD, "MQTT connection down; reconnecting",
                      MDX_F_STR("error", mosquitto_strerror(rc)), MDX_F_INT("backoff_ms", backoff));
        for (int64_t t = 0; t < backoff && !atomic_load(&s->stopping); t += 10) {
            mdx_sleep_ms(10);
        }
        if (refusal(rc, err)) {
            backoff = backoff * 2 > REFUSED_MAX_MS ? REFUSED_MAX_MS : backoff * 2;
        } else if (backoff < RECONNECT_MAX_MS) {
            backoff = backoff * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : backoff * 2;
        }
        if (!atomic_load(&s->stopping)) {
            rc = mosquitto_reconnect_async(s->mosq);
            if (tls_failure(s, rc, errno)) {
                tls_closed_early(s, mosquitto_strerror(rc));
            }
        }
    }
    return NULL;
}

static int mqtt_start(void *src)
{
    struct source_mqtt *s = src;
    int rc;

    /* connect_async: a broker that is down at start is retried by the loop. */
    rc = mosquitto_connect_async(s->mosq, s->conf->host, (int)s->conf->port,
                                 (int)s->conf->keepalive_s);
    if (tls_failure(s, rc, errno)) {
        tls_closed_early(s, mosquitto_strerror(rc));
    } else if (rc != MOSQ_ERR_SUCCESS) {
        mdx_log_warn(MOD, "broker not reachable yet; retrying",
                     MDX_F_STR("error", mosquitto_strerror(rc)));
    }
    mosquitto_threaded_set(s->mosq, true); /* publish() comes from other threads */
    if (pthread_create(&s->loop_thread, NULL, loop_main, s) != 0) {
        return MDX_ECONN;
    }
    s->loop_started = 1;
    return MDX_OK;
}

static int mqtt_ready(void *src)
{
    return atomic_load(&((struct source_mqtt *)src)->subscribed);
}

static void mqtt_stop(void *src)
{
    struct source_mqtt *s = src;

    atomic_store(&s->stopping, 1);
    if (s->loop_started) {
        mosquitto_disconnect(s->mosq); /* ends mosquitto_loop_forever */
        pthread_join(s->loop_thread, NULL);
        s->loop_started = 0;
    }
}

static void mqtt_destroy(void *src)
{
    struct source_mqtt *s = src;

    if (s == NULL) {
        return;
    }
    mqtt_stop(s);
    mosquitto_destroy(s->mosq);
    mqtt_tls_destroy(s->tls);
    mosquitto_lib_cleanup();
    mdx_htab_fini(&s->retained.index);
    mdx_free(s->retained.v);
    mdx_free(s);
}

const struct mdx_source_ops mdx_source_mqtt = {
    .name = "mqtt",
    .create = mqtt_create,
    .start = mqtt_start,
    .ready = mqtt_ready,
    .publish = mqtt_publish,
    .stop = mqtt_stop,
    .destroy = mqtt_destroy,
};
