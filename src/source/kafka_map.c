/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_map.c - a Kafka record's tenant, device and kind.
 *
 * Presets (kafka.mapping):
 *   headers           tenant and device in headers kafka.tenant_header and
 *                     kafka.device_header (or the key, kafka.device_from_key);
 *                     kind kafka.kind.
 *   aws-iot-rule-msk  an AWS IoT rule's Kafka action with header
 *                     mqtt_topic = ${topic()} (modax/{tenant}/{device}/{kind})
 *                     and key = ${topic(3)} (the device): the key must agree.
 *   azure-event-hubs  IoT Hub routed to Event Hubs: the device in the
 *                     system property iothub-connection-device-id (or the
 *                     header kafka.device_header names, if changed), the
 *                     tenant in an application property kafka.tenant_header
 *                     (a message enrichment); they arrive as record headers
 *                     whose values are AMQP-encoded when set by an AMQP
 *                     producer (IoT Hub routing is one), decoded here.
 * kafka.topic_tenants pins the tenant of a Kafka topic: a record naming
 * another tenant is refused, one naming none gets the pinned one.
 */
#include <stdio.h>
#include <string.h>

#include "modax/log.h"
#include "modax/status.h"
#include "source/kafka_map.h"
#include "source/map_common.h"

#define MOD "kafka"

/* "topic=tenant,topic=tenant" */
static int parse_fixed(struct kafka_map *m, const char *spec)
{
    const char *p = spec;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);

        if (n > 0) {
            size_t tl = eq != NULL ? (size_t)(eq - p) : 0;
            size_t vl = eq != NULL ? n - tl - 1 : 0;
            if (eq == NULL || tl == 0 || vl == 0 || tl >= sizeof(m->fixed[0].topic) ||
                vl >= sizeof(m->fixed[0].tenant) || m->n_fixed == KAFKA_MAP_TOPICS_MAX) {
                mdx_log_error(MOD, "kafka.topic_tenants must be topic=tenant,... (at most 32)",
                              MDX_F_STR("value", spec));
                return MDX_ECONF;
            }
            memcpy(m->fixed[m->n_fixed].topic, p, tl);
            m->fixed[m->n_fixed].topic[tl] = '\0';
            memcpy(m->fixed[m->n_fixed].tenant, eq + 1, vl);
            m->fixed[m->n_fixed].tenant[vl] = '\0';
            m->n_fixed++;
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return MDX_OK;
}

int kafka_map_init(struct kafka_map *m, const struct mdx_kafka_conf *conf)
{
    int rc = MDX_OK;

    memset(m, 0, sizeof(*m));
    if (strcmp(conf->mapping, "headers") == 0) {
        rc |= source_map_copy(m->tenant_header, sizeof(m->tenant_header), conf->tenant_header);
        rc |= source_map_copy(m->device_header, sizeof(m->device_header), conf->device_header);
        rc |= source_map_copy(m->topic_header, sizeof(m->topic_header), conf->topic_header);
        m->device_from_key = conf->device_from_key;
    } else if (strcmp(conf->mapping, "aws-iot-rule-msk") == 0) {
        rc |= source_map_copy(m->topic_header, sizeof(m->topic_header), "mqtt_topic");
        m->device_from_key = 1;
    } else if (strcmp(conf->mapping, "azure-event-hubs") == 0) {
        /* A device header other than the default names an enrichment that carries it. */
        rc |= source_map_copy(m->tenant_header, sizeof(m->tenant_header), conf->tenant_header);
        rc |= source_map_copy(m->device_header, sizeof(m->device_header),
                   strcmp(conf->device_header, "device") == 0 ? "iothub-connection-device-id"
                                                               : conf->device_header);
        m->amqp_values = 1;
    } else {
        mdx_log_error(MOD, "kafka.mapping must be headers, aws-iot-rule-msk or azure-event-hubs",
                      MDX_F_STR("value", conf->mapping));
        return MDX_ECONF;
    }
    rc |= source_map_copy(m->kind, sizeof(m->kind), conf->kind);
    if (rc != MDX_OK) {
        mdx_log_error(MOD, "a kafka header name or kafka.kind is too long");
        return MDX_ECONF;
    }
    return parse_fixed(m, conf->topic_tenants);
}

/*
 * An AMQP 1.0 string (str8-utf8 0xa1 or str32-utf8 0xb1, then its length)
 * is unwrapped; anything else is taken as the bytes themselves.
 */
static void amqp_unwrap(const uint8_t **v, size_t *len)
{
    const uint8_t *p = *v;

    if (*len >= 2 && p[0] == 0xa1 && (size_t)p[1] == *len - 2) {
        *v = p + 2;
        *len -= 2;
    } else if (*len >= 5 && p[0] == 0xb1 &&
               (((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4]) ==
                   *len - 5) {
        *v = p + 5;
        *len -= 5;
    }
}

/* The last header called 'name' as a string into out; 0 if absent or too long. */
static int header(const struct kafka_map *m, const struct kafka_hdr *h, size_t n,
                  const char *name, char *out, size_t cap)
{
    if (name[0] == '\0') {
        return 0;
    }
    for (size_t i = n; i-- > 0;) {
        if (strcmp(h[i].name, name) == 0 && h[i].value != NULL) {
            const uint8_t *v = h[i].value;
            size_t len = h[i].len;
            if (m->amqp_values) {
                amqp_unwrap(&v, &len);
            }
            if (len == 0 || len >= cap || memchr(v, '\0', len) != NULL) {
                return 0;
            }
            memcpy(out, v, len);
            out[len] = '\0';
            return 1;
        }
    }
    return 0;
}

/*
 * Splits modax/{tenant}/{device}/{kind}; 0 if it is not that form. An empty
 * tenant or device is not: the pinned tenant or the key would fill it here
 * but not in the topic handed on.
 */
static int split_topic(const char *t, char *tenant, char *device, size_t cap)
{
    return source_map_split_topic(t, tenant, device, cap) != NULL && tenant[0] != '\0' &&
           device[0] != '\0';
}

const char *kafka_map_topic(const struct kafka_map *m, const char *ktopic,
                            const struct kafka_hdr *h, size_t n, const void *key, size_t klen,
                            char *out, size_t len)
{
    char tenant[MDX_NAME_MAX + 2] = "", device[MDX_NAME_MAX + 2] = "", mqtt[256] = "";
    const char *pinned = NULL;
    int from_topic = header(m, h, n, m->topic_header, mqtt, sizeof(mqtt));

    if (from_topic && !split_topic(mqtt, tenant, device, sizeof(tenant))) {
        return "kafka record's topic header is not modax/{tenant}/{device}/{kind}";
    }
    if (!from_topic) {
        header(m, h, n, m->tenant_header, tenant, sizeof(tenant));
        header(m, h, n, m->device_header, device, sizeof(device));
    }
    if (m->device_from_key && key != NULL && klen > 0) {
        if (klen >= sizeof(device) || memchr(key, '\0', klen) != NULL) {
            return "kafka record key is not a device id";
        }
        if (device[0] != '\0' && (strlen(device) != klen || memcmp(device, key, klen) != 0)) {
            return "kafka record key names another device than its headers";
        }
        memcpy(device, key, klen);
        device[klen] = '\0';
    }
    for (size_t i = 0; i < m->n_fixed; i++) {
        if (strcmp(m->fixed[i].topic, ktopic) == 0) {
            pinned = m->fixed[i].tenant;
        }
    }
    if (pinned != NULL && tenant[0] != '\0' && strcmp(pinned, tenant) != 0) {
        return "kafka record names another tenant than kafka.topic_tenants allows for its topic";
    }
    if (pinned != NULL && tenant[0] == '\0') {
        snprintf(tenant, sizeof(tenant), "%s", pinned);
    }
    if (tenant[0] == '\0' || device[0] == '\0') {
        return "kafka record without tenant or device (headers or key)";
    }
    /* A '/' would shift the levels of the topic made below. */
    if (strchr(tenant, '/') != NULL || strchr(device, '/') != NULL) {
        return "kafka record's tenant or device holds a '/'";
    }
    if (from_topic) {
        if (snprintf(out, len, "%s", mqtt) >= (int)len) {
            return "kafka record's topic header is too long";
        }
        return NULL;
    }
    if (snprintf(out, len, "modax/%s/%s/%s", tenant, device, m->kind) >= (int)len) {
        return "kafka record's tenant or device is too long";
    }
    return NULL;
}
