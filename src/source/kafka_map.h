/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_map.h - how a Kafka record names its tenant, device and kind
 * (kafka_map.c): record headers, the key, or an MQTT topic carried in a
 * header, with the presets for AWS IoT rule -> MSK and Azure IoT Hub ->
 * Event Hubs, and the tenant each Kafka topic may carry.
 */
#ifndef MODAX_SOURCE_KAFKA_MAP_H
#define MODAX_SOURCE_KAFKA_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "modax/source.h"

#define KAFKA_MAP_TOPICS_MAX 32

struct kafka_map {
    char tenant_header[64];
    char device_header[64];
    char topic_header[64];
    int device_from_key;
    int amqp_values;          /* header values may be AMQP-encoded (Event Hubs from IoT Hub) */
    char kind[32];
    size_t n_fixed;
    struct {
        char topic[256];
        char tenant[65];
    } fixed[KAFKA_MAP_TOPICS_MAX]; /* kafka.topic_tenants */
};

/* One header of a record, as the source found it (borrowed). */
struct kafka_hdr {
    const char *name;
    const void *value;
    size_t len;
};

/* Fills 'm' from the conf (its preset, then its keys). MDX_OK, or MDX_ECONF (logged). */
int kafka_map_init(struct kafka_map *m, const struct mdx_kafka_conf *conf);

/*
 * The MQTT-form topic modax/{tenant}/{device}/{kind} of a record of Kafka
 * topic 'ktopic' with headers 'h' (n) and key 'key' (klen; NULL: none)
 * into out (len). Returns NULL, or the reason (static text) the record
 * cannot be mapped: it becomes a dead letter.
 */
const char *kafka_map_topic(const struct kafka_map *m, const char *ktopic,
                            const struct kafka_hdr *h, size_t n, const void *key, size_t klen,
                            char *out, size_t len);

#endif
