/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pubsub_map.h - how a Pub/Sub message names its tenant, device and kind
 * (pubsub_map.c): message attributes, or an MQTT topic carried in one.
 */
#ifndef MODAX_SOURCE_PUBSUB_MAP_H
#define MODAX_SOURCE_PUBSUB_MAP_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "modax/source.h"

struct pubsub_map {
    char tenant_attr[64];
    char device_attr[64];
    char topic_attr[64];      /* "" = none */
    char tenant[65];          /* pinned tenant; "" = any */
    char kind[32];
};

/* Fills 'm' from the conf. MDX_OK, or MDX_ECONF (logged). */
int pubsub_map_init(struct pubsub_map *m, const struct mdx_pubsub_conf *conf);

/*
 * The MQTT-form topic modax/{tenant}/{device}/{kind} of a message whose
 * "attributes" object is 'attrs' (borrowed; NULL: none) into out (len).
 * Returns NULL, or the reason (static text) the message cannot be mapped:
 * it becomes a dead letter.
 */
const char *pubsub_map_topic(const struct pubsub_map *m, const cJSON *attrs, char *out,
                             size_t len);

#endif
