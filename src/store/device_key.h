/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_key.h - the key of a device in the back ends' writer caches
 * (device_key.c). Internal to src/store.
 */
#ifndef MODAX_STORE_DEVICE_KEY_H
#define MODAX_STORE_DEVICE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "modax/msg.h"

/* Bytes of a device key: two names and the NUL between them. */
#define MDX_DEVICE_KEY_MAX (2 * MDX_NAME_MAX + 2)

/*
 * Writes the cache key of device (tenant, device), "tenant\0device", into
 * 'key' (MDX_DEVICE_KEY_MAX bytes), its length into *len and its hash into
 * *hash: MDX_OK, or MDX_EINVAL when a name is longer than MDX_NAME_MAX.
 */
int mdx_store_device_key(const char *tenant, const char *device, char *key, size_t *len,
                         uint64_t *hash);

#endif
