/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device_key.c - builds the key under which the SQLite and PostgreSQL
 * writers cache a device's ids: its tenant's and its own name.
 */
#include <string.h>

#include "base/htab.h"
#include "modax/status.h"
#include "store/device_key.h"

int mdx_store_device_key(const char *tenant, const char *device, char *key, size_t *len,
                         uint64_t *hash)
{
    size_t tl = strnlen(tenant, MDX_NAME_MAX + 1), dl = strnlen(device, MDX_NAME_MAX + 1);

    if (tl > MDX_NAME_MAX || dl > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    memcpy(key, tenant, tl);
    key[tl] = '\0';
    memcpy(key + tl + 1, device, dl);
    *len = tl + 1 + dl;
    *hash = mdx_hash_bytes(0, key, *len);
    return MDX_OK;
}
