/* SPDX-License-Identifier: Apache-2.0 */
/*
 * link.c - the API server's own MQTT connection: it sends operators'
 * commands and feeds the live-stream hub with what only the broker has.
 *
 * Client id mqtt.client_id + "-api" on a clean session, QoS 0
 * subscriptions (a missed live event is not worth a broker queue; the
 * store has everything). Alerts always come this way. When the ingest
 * runs in the same process it feeds everything else through the live
 * stage (live_stage.c), so the link subscribes to nothing more and the
 * broker delivers the fleet's messages once. When the API runs alone, the
 * link also subscribes to safety, status and command_ack of every device,
 * and to sensor_data only for what the hub's streams watch now
 * (modax/{tenant}/{device}/sensor_data, or modax/{tenant}/+/sensor_data
 * for a stream of all a tenant's devices), following the hub's watch
 * (watch.h) as viewers come and go.
 *
 * libmosquitto's thread calls on_message, which drops a payload over the
 * ingest's size limit before parsing it, decodes and validates the rest
 * as the ingest does, and hands the events to the hub (live_event.c), in
 * buffers of the link (no allocation per message but the JSON parser's).
 * Messages that do not validate are ignored and counted: the ingest
 * dead-letters them already.
 */
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/decode.h"
#include "modax/log.h"
#include "modax/source.h"
#include "modax/status.h"
#include "modax/validate.h"
#include "net/mqtt_client.h"
#include "net/mqtt_tls.h"

#include "api/api_int.h"
#include "api/hub.h"
#include "api/live_event.h"
#include "api/watch.h"

#define MOD "api"
#define LINK_POINTS_MAX 4096      /* points of one message (ingest.max_points_per_msg default) */
#define LINK_INFLIGHT_MAX 1000    /* our QoS 1 publishes not yet acknowledged */
#define PAYLOAD_MAX_DEFAULT (256 * 1024) /* ingest.max_payload_bytes' default */
#define FILTER_MAX (MDX_NAME_MAX * 2 + 32)

/* Alerts come from the broker whoever feeds the rest. */
static const char *const alert_subscriptions[] = {"modax/+/+/alerts"};
/* An API alone also hears the fleet's events (few: a device's state changes). */
static const char *const event_subscriptions[] = {
    "modax/+/+/safety", "modax/+/+/status", "modax/+/+/command_ack",
};

struct api_link {
    const struct mdx_mqtt_conf *conf; /* borrowed */
    struct api_hub *hub;              /* held */
    struct mosquitto *mosq;
    struct mqtt_tls *tls;             /* NULL: plain TCP (mqtt.tls off) */
    char client_id[256];
    int in_process;                   /* the ingest feeds the hub: alerts only */
    size_t max_payload;               /* larger payloads are ignored, never parsed */
    int loop_started;
    int listening;                    /* follows the hub's watch */
    atomic_int connected;
    atomic_int stopping;
    atomic_int inflight;
    atomic_uint_fast64_t received, sensor_data, ignored, oversized, published;
    atomic_int sensor_filters;        /* sensor_data filters wanted now */
    /* Used by libmosquitto's thread only: */
    struct mdx_point points[LINK_POINTS_MAX];
    struct api_live_buf buf;
};

/* ---- message to event ---- */

/* sensor_data: decoded and validated as the ingest does, then "point" events. */
static int publish_points(struct api_link *l, const struct mdx_msg *msg)
{
    struct mdx_points pts = {.v = l->points, .n = 0, .cap = LINK_POINTS_MAX};
    const char *why = NULL;
    int rc;

    rc = mdx_decode(msg, &pts, &why);
    if (rc == MDX_OK) {
        rc = mdx_validate_points(&pts, msg->recv_ms, &why);
    }
    if (rc != MDX_OK) {
        mdx_log_debug(MOD, "live stream: sensor_data ignored", MDX_F_STR("tenant", msg->tenant),
                      MDX_F_STR("device", msg->device), MDX_F_STR("reason", why ? why : "?"));
        return rc;
    }
    atomic_fetch_add(&l->published,
                     api_live_points(l->hub, &l->buf, msg->tenant, msg->device, pts.v, pts.n));
    return MDX_OK;
}

/* safety, status, command_ack: decoded as the ingest does, then their events. */
static int publish_event(struct api_link *l, const struct mdx_msg *msg)
{
    struct mdx_event ev;
    const char *why = NULL;
    int rc;

    rc = mdx_decode_event(msg, &ev, &why);
    if (rc == MDX_OK) {
        rc = api_live_event(l->hub, &l->buf, msg->tenant, msg->device, &ev);
    }
    if (rc == MDX_OK) {
        atomic_fetch_add(&l->published, 1);
    }
    return rc;
}

/* alerts: the alert as published (compact JSON object). */
static int publish_alert(struct api_link *l, const struct mdx_msg *msg)
{
    cJSON *root;
    int rc;

    if (msg->len == 0 || !mdx_valid_utf8(msg->payload, msg->len)) {
        return MDX_EINVAL;
    }
    root = cJSON_ParseWithLength((const char *)msg->payload, msg->len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return MDX_EINVAL;
    }
    rc = api_live_json(l->hub, &l->buf, msg->tenant, msg->device, "alert", root);
    if (rc == MDX_OK) {
        atomic_fetch_add(&l->published, 1);
    }
    cJSON_Delete(root);
    return rc;
}

/* Splits "modax/{tenant}/{device}/alerts" into msg. MDX_OK or MDX_EINVAL. */
static int alerts_topic(const char *topic, struct mdx_msg *msg)
{
    const char *t, *d, *k;
    size_t tn, dn;

    if (strncmp(topic, "modax/", 6) != 0) {
        return MDX_EINVAL;
    }
    t = topic + 6;
    d = strchr(t, '/');
    if (d == NULL) {
        return MDX_EINVAL;
    }
    tn = (size_t)(d - t);
    d++;
    k = strchr(d, '/');
    if (k == NULL || strcmp(k, "/alerts") != 0) {
        return MDX_EINVAL;
    }
    dn = (size_t)(k - d);
    if (!mdx_valid_segment(t, tn) || !mdx_valid_segment(d, dn)) {
        return MDX_EINVAL;
    }
    memcpy(msg->tenant, t, tn);
    msg->tenant[tn] = '\0';
    memcpy(msg->device, d, dn);
    msg->device[dn] = '\0';
    return MDX_OK;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    struct api_link *l = obj;
    struct mdx_msg msg;
    const char *why = NULL;
    int rc;

    (void)mosq;
    if (atomic_load(&l->stopping) || m->topic == NULL) {
        return;
    }
    atomic_fetch_add(&l->received, 1);
    if (m->payloadlen > 0 && (size_t)m->payloadlen > l->max_payload) {
        /* The ingest dead-letters it; the JSON parser never sees it here. */
        atomic_fetch_add(&l->oversized, 1);
        mdx_log_debug(MOD, "live stream: payload too large; ignored", MDX_F_STR("topic", m->topic),
                      MDX_F_INT("bytes", m->payloadlen));
        return;
    }
    memset(&msg, 0, sizeof(msg));
    msg.topic = m->topic;
    msg.payload = m->payload;
    msg.len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    msg.recv_ms = mdx_now_ms();
    if (alerts_topic(m->topic, &msg) == MDX_OK) {
        rc = api_hub_watched(l->hub, msg.tenant, msg.device) ? publish_alert(l, &msg) : MDX_OK;
    } else if (l->in_process || mdx_validate_topic(m->topic, &msg, &why) != MDX_OK) {
        rc = MDX_EINVAL;
    } else {
        if (msg.kind == MDX_MSG_SENSOR_DATA) {
            atomic_fetch_add(&l->sensor_data, 1);
        }
        if (!api_hub_watched(l->hub, msg.tenant, msg.device)) {
            rc = MDX_OK; /* nobody watches (a sensor_data: its last viewer was leaving) */
        } else if (msg.kind == MDX_MSG_SENSOR_DATA) {
            rc = publish_points(l, &msg);
        } else {
            rc = publish_event(l, &msg);
        }
    }
    if (rc != MDX_OK) {
        atomic_fetch_add(&l->ignored, 1);
        mdx_log_debug(MOD, "live stream: message ignored", MDX_F_STR("topic", m->topic),
                      MDX_F_ERR(rc));
    }
}

/* ---- sensor_data of what is watched ---- */

/* Subscribes to (on) or unsubscribes from the sensor_data of tenant/device ("": all). */
static void sensor_filter(struct api_link *l, const char *tenant, const char *device, int on)
{
    char filter[FILTER_MAX];
    int rc;

    snprintf(filter, sizeof(filter), "modax/%s/%s/sensor_data", tenant,
             device[0] != '\0' ? device : "+");
    rc = on ? mosquitto_subscribe(l->mosq, NULL, filter, 0)
            : mosquitto_unsubscribe(l->mosq, NULL, filter);
    /* Not connected: on_connect subscribes to what is wanted then. */
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) {
        mdx_log_warn(MOD, on ? "live stream: subscribe failed" : "live stream: unsubscribe failed",
                     MDX_F_STR("filter", filter), MDX_F_STR("error", mosquitto_strerror(rc)));
    }
}

/* The hub's watch: a filter became wanted or unwanted (under the watch's lock). */
static void on_watch(void *arg, const char *tenant, const char *device, int on)
{
    struct api_link *l = arg;

    atomic_fetch_add(&l->sensor_filters, on ? 1 : -1);
    sensor_filter(l, tenant, device, on);
}

/* After a (re)connection: the clean session forgot what was wanted. */
static void on_resubscribe(void *arg, const char *tenant, const char *device, int on)
{
    sensor_filter(arg, tenant, device, on);
}

/* Subscribes to each of 'filters' (n). */
static void subscribe_all(struct api_link *l, const char *const *filters, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = mosquitto_subscribe(l->mosq, NULL, filters[i], 0);
        if (rc != MOSQ_ERR_SUCCESS) {
            mdx_log_error(MOD, "subscribe failed", MDX_F_STR("filter", filters[i]),
                          MDX_F_STR("error", mosquitto_strerror(rc)));
        }
    }
}

/* ---- the connection ---- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct api_link *l = obj;

    (void)mosq;
    if (rc != 0) {
        mdx_log_error(MOD, "broker refused the API's connection; check mqtt.username and password",
                      MDX_F_STR("reason", mosquitto_connack_string(rc)));
        return;
    }
    subscribe_all(l, alert_subscriptions,
                  sizeof(alert_subscriptions) / sizeof(alert_subscriptions[0]));
    if (!l->in_process) {
        subscribe_all(l, event_subscriptions,
                      sizeof(event_subscriptions) / sizeof(event_subscriptions[0]));
        api_watch_each(api_hub_watch(l->hub), on_resubscribe, l);
    }
    atomic_store(&l->connected, 1);
    mdx_log_info(MOD, "connected to the broker", MDX_F_STR("host", l->conf->host),
                 MDX_F_INT("port", l->conf->port), MDX_F_STR("client_id", l->client_id));
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct api_link *l = obj;

    (void)mosq;
    atomic_store(&l->connected, 0);
    /* Our publishes not acknowledged are lost with a clean session. */
    atomic_store(&l->inflight, 0);
    if (!atomic_load(&l->stopping)) {
        mdx_log_warn(MOD, "API disconnected from the broker; reconnecting",
                     MDX_F_STR("reason", mosquitto_strerror(rc)));
    }
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct api_link *l = obj;

    (void)mosq;
    (void)mid;
    if (atomic_load(&l->inflight) > 0) {
        atomic_fetch_sub(&l->inflight, 1);
    }
}

struct api_link *api_link_start(const struct mdx_mqtt_conf *conf, struct api_hub *hub,
                                int in_process, int64_t max_payload_bytes, int *err)
{
    struct api_link *l = mdx_calloc(1, sizeof(*l));
    int rc = MDX_ENOMEM;

    if (l == NULL) {
        goto fail;
    }
    l->conf = conf;
    l->in_process = in_process;
    l->max_payload = max_payload_bytes > 0 ? (size_t)max_payload_bytes : PAYLOAD_MAX_DEFAULT;
    if ((size_t)snprintf(l->client_id, sizeof(l->client_id), "%s-api", conf->client_id) >=
        sizeof(l->client_id)) {
        rc = MDX_ECONF;
        goto fail;
    }
    /* The server destroys the hub before it stops us; the hold keeps it valid until then. */
    api_hub_hold(hub);
    l->hub = hub;
    mosquitto_lib_init();
    l->mosq = mosquitto_new(l->client_id, true, l);
    if (l->mosq == NULL) {
        rc = MDX_EINVAL;
        goto fail;
    }
    /* The same protocol, login and TLS as the ingest's source. */
    rc = mqtt_client_setup(l->mosq, conf, &l->tls);
    if (rc != MDX_OK) {
        goto fail;
    }
    /* Back-off between reconnection attempts: 1 s doubling up to 30 s. */
    mosquitto_reconnect_delay_set(l->mosq, 1, 30, true);
    mosquitto_connect_callback_set(l->mosq, on_connect);
    mosquitto_disconnect_callback_set(l->mosq, on_disconnect);
    mosquitto_message_callback_set(l->mosq, on_message);
    mosquitto_publish_callback_set(l->mosq, on_publish);
    if (!in_process) {
        /* From here on viewers coming and going (un)subscribe their sensor_data. */
        api_watch_listen(api_hub_watch(hub), on_watch, l);
        l->listening = 1;
    }
    /* connect_async: a broker that is down now is retried by the loop. */
    rc = mosquitto_connect_async(l->mosq, conf->host, (int)conf->port, (int)conf->keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        mdx_log_warn(MOD, "broker not reachable yet; the API keeps trying",
                     MDX_F_STR("error", mosquitto_strerror(rc)));
    }
    if (mosquitto_loop_start(l->mosq) != MOSQ_ERR_SUCCESS) {
        rc = MDX_ECONN;
        goto fail;
    }
    l->loop_started = 1;
    return l;

fail:
    if (err != NULL) {
        *err = rc;
    }
    if (l != NULL) {
        if (l->listening) {
            api_watch_listen(api_hub_watch(l->hub), NULL, NULL);
        }
        if (l->mosq != NULL) {
            mosquitto_destroy(l->mosq);
        }
        mqtt_tls_destroy(l->tls);
        if (l->hub != NULL) {
            mosquitto_lib_cleanup();
            api_hub_release(l->hub);
        }
        mdx_free(l);
    }
    return NULL;
}

int api_link_ready(struct api_link *l)
{
    return l != NULL && atomic_load(&l->connected);
}

int api_link_publish(struct api_link *l, const char *topic, const void *payload, size_t len)
{
    int rc;

    if (l == NULL || !atomic_load(&l->connected) || atomic_load(&l->stopping)) {
        return MDX_EIO;
    }
    if (len > INT32_MAX) {
        return MDX_EINVAL;
    }
    /* While the connection stalls libmosquitto's queue would grow: cap what is in flight. */
    if (atomic_fetch_add(&l->inflight, 1) >= LINK_INFLIGHT_MAX) {
        atomic_fetch_sub(&l->inflight, 1);
        return MDX_EIO;
    }
    rc = mosquitto_publish(l->mosq, NULL, topic, (int)len, payload, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        atomic_fetch_sub(&l->inflight, 1);
        return MDX_EIO;
    }
    return MDX_OK;
}

void api_link_stats(struct api_link *l, struct api_link_stats *out)
{
    int filters = atomic_load(&l->sensor_filters);

    out->received = atomic_load(&l->received);
    out->sensor_data = atomic_load(&l->sensor_data);
    out->ignored = atomic_load(&l->ignored);
    out->oversized = atomic_load(&l->oversized);
    out->sensor_filters = filters > 0 ? (uint64_t)filters : 0;
}

void api_link_stop(struct api_link *l)
{
    if (l == NULL) {
        return;
    }
    atomic_store(&l->stopping, 1);
    if (l->listening) {
        api_watch_listen(api_hub_watch(l->hub), NULL, NULL); /* no (un)subscribe after this */
        l->listening = 0;
    }
    if (l->loop_started) {
        mosquitto_disconnect(l->mosq);
        mosquitto_loop_stop(l->mosq, false);
        l->loop_started = 0;
    }
    mdx_log_debug(MOD, "API broker link stopped", MDX_F_INT("received", atomic_load(&l->received)),
                  MDX_F_INT("ignored", atomic_load(&l->ignored)),
                  MDX_F_INT("oversized", atomic_load(&l->oversized)),
                  MDX_F_INT("events", atomic_load(&l->published)));
    mosquitto_destroy(l->mosq);
    mqtt_tls_destroy(l->tls);
    mosquitto_lib_cleanup();
    api_hub_release(l->hub);
    mdx_free(l);
}
