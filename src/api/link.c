/* SPDX-License-Identifier: Apache-2.0 */
/*
 * link.c - the API server's own MQTT connection: it feeds the live-stream
 * hub with what the fleet publishes and sends operators' commands.
 *
 * Client id mqtt.client_id + "-api" on a clean session, QoS 0
 * subscriptions (a missed live event is not worth a broker queue; the
 * store has everything). libmosquitto's thread calls on_message, which
 * turns a message into the SSE data of docs/api.md ("Live stream") in
 * buffers of the link (no allocation per message but the JSON parser's)
 * and hands it to api_hub_publish(). Messages that do not validate are
 * ignored and counted: the ingest dead-letters them already.
 */
#include <mosquitto.h>
#include <stdarg.h>
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

#include "api/api_int.h"
#include "api/hub.h"

#define MOD "api"
#define LINK_POINTS_MAX 4096      /* points of one message (ingest.max_points_per_msg default) */
#define LINK_DATA_MAX (API_HUB_EVENT_MAX - 64) /* one event's data, leaving room for its frame */
#define LINK_INFLIGHT_MAX 1000    /* our QoS 1 publishes not yet acknowledged */
#define DETAIL_MAX 256            /* command_ack detail passed on, at most */

static const char *const subscriptions[] = {
    "modax/+/+/sensor_data", "modax/+/+/safety", "modax/+/+/status",
    "modax/+/+/command_ack", "modax/+/+/alerts",
};

struct api_link {
    const struct mdx_mqtt_conf *conf; /* borrowed */
    struct api_hub *hub;              /* borrowed */
    struct mosquitto *mosq;
    char client_id[256];
    int loop_started;
    atomic_int connected;
    atomic_int stopping;
    atomic_int inflight;
    /* Counters (read by nobody yet but the logs). */
    atomic_uint_fast64_t received, ignored, published;
    /* Used by libmosquitto's thread only: */
    struct mdx_point points[LINK_POINTS_MAX];
    char data[LINK_DATA_MAX];
};

/* ---- message to event ---- */

/* Bounded text builder over the link's data buffer. */
struct out {
    char *p;
    size_t len, cap;
    int overflow;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->overflow = 1;
        o->p[o->len] = '\0';
        return;
    }
    o->len += (size_t)n;
}

/*
 * sensor_data: {"device":D,"points":[{"sensor","ts_ms","value"},...]}, split
 * into several events when one would exceed LINK_DATA_MAX.
 */
static int publish_points(struct api_link *l, const struct mdx_msg *msg)
{
    struct mdx_points pts = {.v = l->points, .n = 0, .cap = LINK_POINTS_MAX};
    struct out o = {.p = l->data, .cap = sizeof(l->data)};
    const char *why = NULL;
    char item[MDX_NAME_MAX + 96];
    size_t head_len, in_event = 0;
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
    out_printf(&o, "{\"device\":\"%s\",\"points\":[", msg->device);
    head_len = o.len;
    for (size_t i = 0; i < pts.n; i++) {
        const struct mdx_point *p = &pts.v[i];
        int n = snprintf(item, sizeof(item), "%s{\"sensor\":\"%s\",\"ts_ms\":%lld,\"value\":%.15g}",
                         in_event > 0 ? "," : "", p->sensor, (long long)p->ts_ms, p->value);
        if (n < 0 || (size_t)n >= sizeof(item)) {
            continue; /* cannot happen: names are at most 64 bytes */
        }
        if (in_event > 0 && o.len + (size_t)n + 2 >= o.cap) {
            /* This event is full: send it and start the next with this point. */
            out_printf(&o, "]}");
            api_hub_publish(l->hub, msg->tenant, msg->device, "point", o.p, o.len);
            atomic_fetch_add(&l->published, 1);
            o.len = head_len;
            o.p[o.len] = '\0';
            in_event = 0;
            n = snprintf(item, sizeof(item), "{\"sensor\":\"%s\",\"ts_ms\":%lld,\"value\":%.15g}",
                         p->sensor, (long long)p->ts_ms, p->value);
        }
        out_printf(&o, "%s", item);
        in_event++;
    }
    if (in_event > 0) {
        out_printf(&o, "]}");
        if (!o.overflow) {
            api_hub_publish(l->hub, msg->tenant, msg->device, "point", o.p, o.len);
            atomic_fetch_add(&l->published, 1);
        }
    }
    return MDX_OK;
}

/* Prints 'root' compactly into the link's buffer and publishes it as 'event'. */
static int publish_json(struct api_link *l, const struct mdx_msg *msg, const char *event,
                        cJSON *root)
{
    if (!cJSON_PrintPreallocated(root, l->data, (int)sizeof(l->data), 0)) {
        return MDX_EINVAL; /* larger than one event may be */
    }
    api_hub_publish(l->hub, msg->tenant, msg->device, event, l->data, strlen(l->data));
    atomic_fetch_add(&l->published, 1);
    return MDX_OK;
}

/* safety: {"device", ...the flags}; status: {"device","state"}. */
static int publish_event(struct api_link *l, const struct mdx_msg *msg)
{
    struct mdx_event ev;
    const char *why = NULL;
    cJSON *body, *out = NULL;
    int rc;

    rc = mdx_decode_event(msg, &ev, &why);
    if (rc != MDX_OK) {
        return rc;
    }
    body = cJSON_Parse(ev.body);
    if (body == NULL) {
        return MDX_ENOMEM;
    }
    if (msg->kind == MDX_MSG_STATUS) {
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(body, "state");
        out = cJSON_CreateObject();
        rc = MDX_ENOMEM;
        if (!cJSON_IsString(state) || state->valuestring[0] == '\0') {
            rc = MDX_EINVAL; /* a status without a state says nothing to a viewer */
        } else if (out != NULL && cJSON_AddStringToObject(out, "device", msg->device) != NULL &&
                   cJSON_AddStringToObject(out, "state", state->valuestring) != NULL) {
            rc = publish_json(l, msg, "status", out);
        }
        cJSON_Delete(out);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(body, "device_id");
        cJSON_DeleteItemFromObjectCaseSensitive(body, "device");
        rc = MDX_ENOMEM;
        if (cJSON_AddStringToObject(body, "device", msg->device) != NULL &&
            cJSON_AddNumberToObject(body, "ts_ms", (double)ev.ts_ms) != NULL) {
            rc = publish_json(l, msg, "safety", body);
        }
    }
    cJSON_Delete(body);
    return rc;
}

/* command_ack: {"device","command_id","status":"acked"|"rejected","detail"?}. */
static int publish_ack(struct api_link *l, const struct mdx_msg *msg)
{
    cJSON *root, *out = NULL;
    const cJSON *id, *status, *detail, *dev;
    char text[DETAIL_MAX + 1];
    int rc = MDX_EINVAL;

    if (msg->len == 0 || !mdx_valid_utf8(msg->payload, msg->len)) {
        return MDX_EINVAL;
    }
    root = cJSON_ParseWithLength((const char *)msg->payload, msg->len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return MDX_EINVAL;
    }
    id = cJSON_GetObjectItemCaseSensitive(root, "command_id");
    status = cJSON_GetObjectItemCaseSensitive(root, "status");
    detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    dev = cJSON_GetObjectItemCaseSensitive(root, "device_id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > 9007199254740991.0 ||
        id->valuedouble != (double)(int64_t)id->valuedouble || !cJSON_IsString(status) ||
        (strcmp(status->valuestring, "ok") != 0 && strcmp(status->valuestring, "rejected") != 0) ||
        (detail != NULL && !cJSON_IsString(detail) && !cJSON_IsNull(detail)) ||
        (dev != NULL && (!cJSON_IsString(dev) || strcmp(dev->valuestring, msg->device) != 0))) {
        goto done;
    }
    rc = MDX_ENOMEM;
    out = cJSON_CreateObject();
    if (out == NULL || cJSON_AddStringToObject(out, "device", msg->device) == NULL ||
        cJSON_AddNumberToObject(out, "command_id", id->valuedouble) == NULL ||
        cJSON_AddStringToObject(out, "status", strcmp(status->valuestring, "ok") == 0
                                                   ? "acked"
                                                   : "rejected") == NULL) {
        goto done;
    }
    if (cJSON_IsString(detail)) {
        snprintf(text, sizeof(text), "%s", detail->valuestring);
        if (cJSON_AddStringToObject(out, "detail", text) == NULL) {
            goto done;
        }
    }
    rc = publish_json(l, msg, "command", out);

done:
    cJSON_Delete(out);
    cJSON_Delete(root);
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
    rc = publish_json(l, msg, "alert", root);
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
    memset(&msg, 0, sizeof(msg));
    msg.topic = m->topic;
    msg.payload = m->payload;
    msg.len = m->payloadlen > 0 ? (size_t)m->payloadlen : 0;
    msg.recv_ms = mdx_now_ms();
    if (alerts_topic(m->topic, &msg) == MDX_OK) {
        rc = publish_alert(l, &msg);
    } else if (mdx_validate_topic(m->topic, &msg, &why) != MDX_OK) {
        rc = MDX_EINVAL;
    } else {
        switch (msg.kind) {
        case MDX_MSG_SENSOR_DATA:
            rc = publish_points(l, &msg);
            break;
        case MDX_MSG_SAFETY:
        case MDX_MSG_STATUS:
            rc = publish_event(l, &msg);
            break;
        case MDX_MSG_COMMAND_ACK:
            rc = publish_ack(l, &msg);
            break;
        default:
            rc = MDX_EINVAL;
            break;
        }
    }
    if (rc != MDX_OK) {
        atomic_fetch_add(&l->ignored, 1);
        mdx_log_debug(MOD, "live stream: message ignored", MDX_F_STR("topic", m->topic),
                      MDX_F_ERR(rc));
    }
}

/* ---- the connection ---- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct api_link *l = obj;

    if (rc != 0) {
        mdx_log_error(MOD, "broker refused the API's connection; check mqtt.username and password",
                      MDX_F_STR("reason", mosquitto_connack_string(rc)));
        return;
    }
    for (size_t i = 0; i < sizeof(subscriptions) / sizeof(subscriptions[0]); i++) {
        rc = mosquitto_subscribe(mosq, NULL, subscriptions[i], 0);
        if (rc != MOSQ_ERR_SUCCESS) {
            mdx_log_error(MOD, "subscribe failed", MDX_F_STR("filter", subscriptions[i]),
                          MDX_F_STR("error", mosquitto_strerror(rc)));
        }
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

struct api_link *api_link_start(const struct mdx_mqtt_conf *conf, struct api_hub *hub, int *err)
{
    struct api_link *l = mdx_calloc(1, sizeof(*l));
    int rc = MDX_ENOMEM;

    if (l == NULL) {
        goto fail;
    }
    l->conf = conf;
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
    mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         conf->protocol == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    if (conf->username != NULL && conf->username[0] != '\0' &&
        mosquitto_username_pw_set(l->mosq, conf->username, conf->password) != MOSQ_ERR_SUCCESS) {
        rc = MDX_EINVAL;
        goto fail;
    }
    /* Back-off between reconnection attempts: 1 s doubling up to 30 s. */
    mosquitto_reconnect_delay_set(l->mosq, 1, 30, true);
    mosquitto_connect_callback_set(l->mosq, on_connect);
    mosquitto_disconnect_callback_set(l->mosq, on_disconnect);
    mosquitto_message_callback_set(l->mosq, on_message);
    mosquitto_publish_callback_set(l->mosq, on_publish);
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
        if (l->mosq != NULL) {
            mosquitto_destroy(l->mosq);
        }
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

void api_link_stop(struct api_link *l)
{
    if (l == NULL) {
        return;
    }
    atomic_store(&l->stopping, 1);
    if (l->loop_started) {
        mosquitto_disconnect(l->mosq);
        mosquitto_loop_stop(l->mosq, false);
        l->loop_started = 0;
    }
    mdx_log_debug(MOD, "API broker link stopped", MDX_F_INT("received", atomic_load(&l->received)),
                  MDX_F_INT("ignored", atomic_load(&l->ignored)),
                  MDX_F_INT("events", atomic_load(&l->published)));
    mosquitto_destroy(l->mosq);
    mosquitto_lib_cleanup();
    api_hub_release(l->hub);
    mdx_free(l);
}
