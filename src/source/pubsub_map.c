/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pubsub_map.c - a Pub/Sub message's tenant, device and kind, from its
 * attributes (what an MQTT bridge or gateway sets when it publishes):
 *
 *   pubsub.topic_attribute  (default "topic") modax/{tenant}/{device}/{kind},
 *                           the MQTT topic the device used; wins when present;
 *   else pubsub.tenant_attribute (default "tenant") and
 *        pubsub.device_attribute (default "deviceId", as Cloud IoT Core and
 *        its successors' bridges set it), kind pubsub.kind.
 *
 * pubsub.tenant pins the subscription's tenant: a message naming another
 * is refused, one naming none gets the pinned one. Names with '/', '+' or
 * '#' are refused, so they cannot reshape the topic.
 */
#include <stdio.h>
#include <string.h>

#include "modax/log.h"
#include "modax/msg.h"
#include "modax/status.h"
#include "source/map_common.h"
#include "source/pubsub_map.h"

#define MOD "pubsub"

int pubsub_map_init(struct pubsub_map *m, const struct mdx_pubsub_conf *conf)
{
    int rc = MDX_OK;

    memset(m, 0, sizeof(*m));
    rc |= source_map_copy(m->tenant_attr, sizeof(m->tenant_attr), conf->tenant_attribute);
    rc |= source_map_copy(m->device_attr, sizeof(m->device_attr), conf->device_attribute);
    rc |= source_map_copy(m->topic_attr, sizeof(m->topic_attr), conf->topic_attribute);
    rc |= source_map_copy(m->tenant, sizeof(m->tenant), conf->tenant);
    rc |= source_map_copy(m->kind, sizeof(m->kind), conf->kind);
    if (rc != MDX_OK || m->kind[0] == '\0' ||
        (m->topic_attr[0] == '\0' && (m->tenant_attr[0] == '\0' || m->device_attr[0] == '\0'))) {
        mdx_log_error(MOD, "pubsub.*_attribute, pubsub.tenant or pubsub.kind is empty or too "
                           "long (attribute names at most 63 bytes, the tenant 64)");
        return MDX_ECONF;
    }
    return MDX_OK;
}

/* Attribute 'name' as a name into out; 0 if absent, empty, too long or not a name. */
static int attr(const cJSON *attrs, const char *name, char *out, size_t cap)
{
    const cJSON *v;

    if (attrs == NULL || name[0] == '\0') {
        return 0;
    }
    v = cJSON_GetObjectItemCaseSensitive(attrs, name);
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0' || strlen(v->valuestring) >= cap) {
        return 0;
    }
    snprintf(out, cap, "%s", v->valuestring);
    return 1;
}

static int is_name(const char *s)
{
    return s[0] != '\0' && strpbrk(s, "/+#") == NULL;
}

/* Splits modax/{tenant}/{device}/{kind}; 0 if it is not that form. */
static int split_topic(const char *t, char *tenant, char *device, size_t cap)
{
    const char *kind = source_map_split_topic(t, tenant, device, cap);

    return kind != NULL && kind[0] != '\0' && is_name(tenant) && is_name(device);
}

const char *pubsub_map_topic(const struct pubsub_map *m, const cJSON *attrs, char *out,
                             size_t len)
{
    char tenant[MDX_NAME_MAX + 2] = "", device[MDX_NAME_MAX + 2] = "", mqtt[256] = "";
    int from_topic = attr(attrs, m->topic_attr, mqtt, sizeof(mqtt));

    if (from_topic && !split_topic(mqtt, tenant, device, sizeof(tenant))) {
        return "pubsub message's topic attribute is not modax/{tenant}/{device}/{kind}";
    }
    if (!from_topic) {
        attr(attrs, m->tenant_attr, tenant, sizeof(tenant));
        attr(attrs, m->device_attr, device, sizeof(device));
        if ((tenant[0] != '\0' && !is_name(tenant)) || (device[0] != '\0' && !is_name(device))) {
            return "pubsub message's tenant or device attribute has '/', '+' or '#'";
        }
    }
    if (m->tenant[0] != '\0' && tenant[0] != '\0' && strcmp(m->tenant, tenant) != 0) {
        return "pubsub message names another tenant than pubsub.tenant allows";
    }
    if (m->tenant[0] != '\0' && tenant[0] == '\0') {
        snprintf(tenant, sizeof(tenant), "%s", m->tenant);
    }
    if (tenant[0] == '\0' || device[0] == '\0') {
        return "pubsub message without tenant or device attributes";
    }
    if (from_topic) {
        return snprintf(out, len, "%s", mqtt) < (int)len ? NULL
                                                          : "pubsub message's topic is too long";
    }
    if (snprintf(out, len, "modax/%s/%s/%s", tenant, device, m->kind) >= (int)len) {
        return "pubsub message's tenant or device is too long";
    }
    return NULL;
}
