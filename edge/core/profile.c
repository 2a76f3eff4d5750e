/* SPDX-License-Identifier: Apache-2.0 */
/*
 * profile.c - the table of connection profiles (see profile.h) and the
 * small encoders they share: percent-encoding and base64. No hashing
 * here: HMAC-SHA256 comes from the port (port.h hmac_sha256).
 */
#include "profile.h"

#include <stdio.h>
#include <string.h>

static const struct mdx_edge_profile *const profiles[] = {
    &mdx_edge_profile_mqtt,    /* our broker: modax/{tenant}/{device}/... */
    &mdx_edge_profile_aws_iot, /* AWS IoT Core: same topics, TLS 1.2, thing name */
    &mdx_edge_profile_azure,   /* Azure IoT Hub: devices/{device}/messages/events/ */
};

const struct mdx_edge_profile *mdx_edge_profile_find(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        if (strcmp(profiles[i]->name, name) == 0) {
            return profiles[i];
        }
    }
    return NULL;
}

void mdx_edge_profile_names(char *buf, size_t cap)
{
    size_t i, len = 0;

    if (cap == 0) {
        return;
    }
    buf[0] = '\0';
    for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        int n = snprintf(buf + len, cap - len, "%s%s", i > 0 ? "|" : "", profiles[i]->name);

        if (n < 0 || (size_t)n >= cap - len) {
            return;
        }
        len += (size_t)n;
    }
}

int mdx_edge_modax_topic(const struct mdx_edge_link *l, const char *device, const char *leaf,
                         char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "modax/%s/%s/%s", l->tenant, device, leaf);

    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int mdx_edge_modax_subscription(const struct mdx_edge_link *l, const char *device, uint32_t k,
                             char *buf, size_t cap)
{
    return k == 0 ? mdx_edge_modax_topic(l, device, "commands", buf, cap) : -1;
}

/* modax/{tenant}/{device}/commands: a command for 'device'. */
void mdx_edge_modax_inbound(const struct mdx_edge_link *l, const char *topic,
                         struct mdx_edge_inbound *in)
{
    size_t lt = strlen(l->tenant);
    const char *dev, *slash;

    memset(in, 0, sizeof(*in));
    if (strncmp(topic, "modax/", 6) != 0 || strncmp(topic + 6, l->tenant, lt) != 0 ||
        topic[6 + lt] != '/') {
        return;
    }
    dev = topic + 7 + lt;
    slash = strchr(dev, '/');
    if (slash == NULL || slash == dev || strcmp(slash, "/commands") != 0) {
        return;
    }
    in->kind = MDX_EDGE_IN_COMMAND;
    in->device = dev;
    in->device_len = (size_t)(slash - dev);
}

int mdx_edge_percent(const char *s, char *buf, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '.' || c == '_' || c == '~';

        if (o + (keep ? 1 : 3) >= cap) {
            return -1;
        }
        if (keep) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    if (o >= cap) {
        return -1;
    }
    buf[o] = '\0';
    return (int)o;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int mdx_edge_base64(const uint8_t *in, size_t n, char *buf, size_t cap)
{
    size_t i, o = 0;

    if ((n + 2) / 3 * 4 >= cap) {
        return -1;
    }
    for (i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        v |= i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0;
        v |= i + 2 < n ? in[i + 2] : 0;
        buf[o++] = b64[v >> 18];
        buf[o++] = b64[(v >> 12) & 63];
        buf[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        buf[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    buf[o] = '\0';
    return (int)o;
}

int mdx_edge_unbase64(const char *s, uint8_t *out, size_t cap)
{
    size_t len = strlen(s), i, o = 0;

    if (len % 4 != 0) {
        return -1;
    }
    for (i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int k, pad = 0;

        for (k = 0; k < 4; k++) {
            const char *p = s[i + k] != '\0' ? strchr(b64, s[i + k]) : NULL;

            if (s[i + k] == '=' && i + 4 == len && k >= 2 && (k == 3 || s[i + 3] == '=')) {
                pad++;
                v <<= 6;
                continue;
            }
            if (p == NULL || pad > 0) {
                return -1;
            }
            v = v << 6 | (uint32_t)(p - b64);
        }
        if (o + 3 - (size_t)pad > cap) {
            return -1;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2) {
            out[o++] = (uint8_t)(v >> 8);
        }
        if (pad < 1) {
            out[o++] = (uint8_t)v;
        }
    }
    return (int)o;
}
