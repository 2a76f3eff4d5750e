/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_common.c - name copies and the modax/{tenant}/{device}/{kind} split
 * shared by the Kafka and Pub/Sub mappings (map_common.h).
 */
#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "source/map_common.h"

int source_map_copy(char *dst, size_t cap, const char *src)
{
    return snprintf(dst, cap, "%s", src) < (int)cap ? MDX_OK : MDX_ECONF;
}

const char *source_map_split_topic(const char *t, char *tenant, char *device, size_t cap)
{
    const char *a, *b, *c;

    if (strncmp(t, "modax/", 6) != 0) {
        return NULL;
    }
    a = t + 6;
    b = strchr(a, '/');
    c = b != NULL ? strchr(b + 1, '/') : NULL;
    if (b == NULL || c == NULL || (size_t)(b - a) >= cap || (size_t)(c - b - 1) >= cap) {
        return NULL;
    }
    memcpy(tenant, a, (size_t)(b - a));
    tenant[b - a] = '\0';
    memcpy(device, b + 1, (size_t)(c - b - 1));
    device[c - b - 1] = '\0';
    return c + 1;
}
