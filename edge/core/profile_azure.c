/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile_azure.c - the "azure-iot-hub" profile: Azure IoT Hub over MQTT
 * 3.1.1 on 8883 (TLS).
 *   client id  {device}
 *   user name  {hub}.azure-devices.net/{device}/?api-version=2021-04-12
 *   password   SharedAccessSignature sr={enc uri}&sig={enc sig}&se={expiry},
 *              sig = base64(HMAC-SHA256(key, enc uri + "\n" + expiry)),
 *              uri = {hub}.azure-devices.net/devices/{device}; or none
 *              with an X.509 device certificate.
 *   telemetry  devices/{device}/messages/events/{bag}, the URL-encoded
 *              property bag modax-tenant=..&modax-leaf={leaf}&$.ct=
 *              application%2Fjson&$.ce=utf-8&modax-form={cloud|field}, as
 *              `modax policy render --azure` sets the hub's routes up (plus
 *              the form): every message of the agent (readings, status,
 *              safety, answers) is telemetry, routed by modax-leaf.
 *   commands   direct methods on $iothub/methods/POST/{method}/?$rid={rid}
 *              (answered on $iothub/methods/res/{status}/?$rid={rid}) and
 *              cloud-to-device messages on devices/{device}/messages/devicebound/.
 * The hub stores no retained messages, so none are sent.
 * Expiry: the token lives MDX_EDGE_SAS_TTL_S (or the link's), its expiry
 * rounded up to a multiple of the lifetime (so it lies one to two
 * lifetimes ahead, and every token made within one period is the same);
 * a new one is made, and the session renewed, a fifth of a lifetime
 * before the old one expires.
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "profile.h"

#define API_VERSION "2021-04-12"
#define URI_MAX 200

static int azure_identity(const struct mdx_edge_link *l, const char *device, char *client_id,
                          size_t id_cap, char *user, size_t user_cap)
{
    int a = snprintf(client_id, id_cap, "%s", device);
    int b = snprintf(user, user_cap, "%s.azure-devices.net/%s/?api-version=" API_VERSION,
                     l->hub != NULL ? l->hub : "", device);

    return l->hub != NULL && l->hub[0] != '\0' && a > 0 && (size_t)a < id_cap && b > 0 &&
                   (size_t)b < user_cap
               ? 0
               : -1;
}

int mdx_edge_sas_token(const struct mdx_edge_port *port, const char *hub, const char *device,
                       const uint8_t *key, size_t key_len, int64_t expiry, char *buf, size_t cap)
{
    char uri[URI_MAX], enc_uri[URI_MAX * 3], to_sign[URI_MAX * 3 + 24];
    char sig[48], enc_sig[48 * 3];
    uint8_t mac[32];
    int n, rc;

    if (port->hmac_sha256 == NULL || hub == NULL || key == NULL || key_len == 0 || expiry < 0) {
        return MDX_EINVAL;
    }
    n = snprintf(uri, sizeof(uri), "%s.azure-devices.net/devices/%s", hub, device);
    if (n < 0 || (size_t)n >= sizeof(uri) || mdx_edge_percent(uri, enc_uri, sizeof(enc_uri)) < 0) {
        return MDX_EFULL;
    }
    n = snprintf(to_sign, sizeof(to_sign), "%s\n%lld", enc_uri, (long long)expiry);
    if (n < 0 || (size_t)n >= sizeof(to_sign)) {
        return MDX_EFULL;
    }
    rc = port->hmac_sha256(port->ctx, key, key_len, to_sign, (size_t)n, mac);
    n = rc == MDX_OK ? mdx_edge_base64(mac, sizeof(mac), sig, sizeof(sig)) : -1;
    memset(mac, 0, sizeof(mac));
    if (rc != MDX_OK) {
        return MDX_EINVAL;
    }
    if (n < 0 || mdx_edge_percent(sig, enc_sig, sizeof(enc_sig)) < 0) {
        return MDX_EFULL;
    }
    n = snprintf(buf, cap, "SharedAccessSignature sr=%s&sig=%s&se=%lld", enc_uri, enc_sig,
                 (long long)expiry);
    return n > 0 && (size_t)n < cap ? n : MDX_EFULL;
}

static int azure_password(const struct mdx_edge_link *l, const struct mdx_edge_port *port,
                          const char *device, const uint8_t *key, size_t key_len, int64_t now_s,
                          char *buf, size_t cap, int64_t *renew_at_s)
{
    int64_t ttl = l->sas_ttl_s > 0 ? (int64_t)l->sas_ttl_s : MDX_EDGE_SAS_TTL_S;
    int64_t expiry = (now_s / ttl + 2) * ttl; /* between one and two lifetimes ahead */
    int n;

    if (now_s < 0) {
        return MDX_EINVAL;
    }
    n = mdx_edge_sas_token(port, l->hub, device, key, key_len, expiry, buf, cap);
    if (n > 0) {
        *renew_at_s = expiry - ttl / 5; /* at least 80 % of a lifetime from now */
    }
    return n;
}

static int azure_topic(const struct mdx_edge_link *l, const char *device, const char *leaf,
                       char *buf, size_t cap)
{
    char tenant[3 * 64 + 1];
    int n;

    if (mdx_edge_percent(l->tenant, tenant, sizeof(tenant)) < 0) {
        return -1;
    }
    /* As `modax policy render --azure` lays it out (cloud/azure/iot-hub-device.md), then the
     * payload form; leaf and form are [a-z_]: nothing to encode. */
    n = snprintf(buf, cap,
                 "devices/%s/messages/events/modax-tenant=%s&modax-leaf=%s"
                 "&$.ct=application%%2Fjson&$.ce=utf-8&modax-form=%s",
                 device, tenant, leaf, l->form != NULL ? l->form : "cloud");
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int azure_may_retain(const struct mdx_edge_link *l)
{
    (void)l;
    return 0;
}

static int azure_subscription(const struct mdx_edge_link *l, const char *device, uint32_t k,
                              char *buf, size_t cap)
{
    int n;

    (void)l;
    if (k == 0) {
        n = snprintf(buf, cap, "$iothub/methods/POST/#");
    } else if (k == 1) {
        n = snprintf(buf, cap, "devices/%s/messages/devicebound/#", device);
    } else {
        return -1;
    }
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Copies the value of query parameter 'name' in 'q' ("a=1&b=2") into 'out'; "" if absent. */
static void query_value(const char *q, const char *name, char *out, size_t cap)
{
    size_t ln = strlen(name);

    out[0] = '\0';
    while (q != NULL && *q != '\0') {
        size_t len = strcspn(q, "&");

        if (len > ln && strncmp(q, name, ln) == 0 && q[ln] == '=') {
            if (len - ln - 1 < cap) {
                memcpy(out, q + ln + 1, len - ln - 1);
                out[len - ln - 1] = '\0';
            }
            return;
        }
        q += len;
        q += *q == '&';
    }
}

static void azure_inbound(const struct mdx_edge_link *l, const char *topic,
                          struct mdx_edge_inbound *in)
{
    static const char methods[] = "$iothub/methods/POST/";
    const char *p, *end;

    (void)l;
    memset(in, 0, sizeof(*in));
    if (strncmp(topic, methods, sizeof(methods) - 1) == 0) {
        /* $iothub/methods/POST/{method}/?$rid={rid}: a method of this connection's device */
        p = topic + sizeof(methods) - 1;
        end = strchr(p, '/');
        if (end == NULL || end == p || (size_t)(end - p) >= sizeof(in->method)) {
            return;
        }
        memcpy(in->method, p, (size_t)(end - p));
        in->method[end - p] = '\0';
        if (end[1] == '?') {
            query_value(end + 2, "$rid", in->rid, sizeof(in->rid));
        }
        /* The answer's topic carries the rid: a wildcard or level in it cannot be answered. */
        if (strpbrk(in->rid, "#+/") != NULL) {
            in->rid[0] = '\0';
        }
        in->kind = MDX_EDGE_IN_METHOD;
        return;
    }
    /* devices/{device}/messages/devicebound/{bag} */
    if (strncmp(topic, "devices/", 8) != 0) {
        return;
    }
    p = topic + 8;
    end = strchr(p, '/');
    if (end == NULL || end == p || strncmp(end, "/messages/devicebound/", 22) != 0) {
        return;
    }
    in->kind = MDX_EDGE_IN_C2D;
    in->device = p;
    in->device_len = (size_t)(end - p);
}

static int azure_reply_topic(const struct mdx_edge_inbound *in, int status, char *buf,
                             size_t cap)
{
    int n;

    if (in->rid[0] == '\0') {
        return -1;
    }
    n = snprintf(buf, cap, "$iothub/methods/res/%d/?$rid=%s", status, in->rid);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

const struct mdx_edge_profile mdx_edge_profile_azure = {
    .name = "azure-iot-hub",
    .port = 8883,
    .needs_tls = 1,
    .tls12 = 1,
    .identity = azure_identity,
    .password = azure_password,
    .topic = azure_topic,
    .may_retain = azure_may_retain,
    .subscription = azure_subscription,
    .inbound = azure_inbound,
    .reply_topic = azure_reply_topic,
};
