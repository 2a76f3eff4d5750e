/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_common.h - what the Kafka and Pub/Sub mappings (kafka_map.c,
 * pubsub_map.c) share: a bounded copy of a configured name and the split
 * of an MQTT-form topic modax/{tenant}/{device}/{kind}.
 */
#ifndef MODAX_SOURCE_MAP_COMMON_H
#define MODAX_SOURCE_MAP_COMMON_H

#include <stddef.h>

/* 'src' into dst (cap bytes). MDX_OK, or MDX_ECONF if it does not fit (dst is cut). */
int source_map_copy(char *dst, size_t cap, const char *src);

/*
 * Splits 't' of the form modax/{tenant}/{device}/{kind} into tenant and
 * device (cap bytes each). Returns the kind (inside 't'), or NULL if 't' is
 * not of that form or tenant or device does not fit. Tenant, device and
 * kind may be empty: callers say what they accept.
 */
const char *source_map_split_topic(const char *t, char *tenant, char *device, size_t cap);

#endif
