/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - bounded cache of registered (tenant, device) pairs for the ingest.
 */
#include <stdio.h>
#include <string.h>

#include "pipeline/registry.h"
#include "modax/alloc.h"
#include "modax/status.h"

#define NEGATIVE_TTL_MS 5000 /* a refusal is re-checked against the store after this */
#define KEY_MAX (2 * MDX_NAME_MAX + 2)

enum entry_state { ENTRY_EMPTY = 0, ENTRY_KNOWN, ENTRY_UNKNOWN_TENANT, ENTRY_UNKNOWN_DEVICE };

struct entry {
    char key[KEY_MAX];  /* "tenant/device" */
    uint8_t state;      /* enum entry_state */
    int64_t expires_ms; /* for refusals */
};

struct mdx_registry {
    struct mdx_store *store;
    int auto_register;
    struct entry *slots;
    size_t mask;        /* slot count - 1 (a power of two) */
    size_t used, max_used;
};

struct mdx_registry *mdx_registry_create(struct mdx_store *store, size_t max_entries,
                                         int auto_register)
{
    struct mdx_registry *reg = mdx_calloc(1, sizeof(*reg));
    size_t n = 16;

    if (reg == NULL) {
        return NULL;
    }
    while (n < max_entries * 2) {
        n <<= 1;
    }
    reg->slots = mdx_calloc(n, sizeof(*reg->slots));
    if (reg->slots == NULL) {
        mdx_registry_destroy(reg);
        return NULL;
    }
    reg->store = store;
    reg->auto_register = auto_register;
    reg->mask = n - 1;
    reg->max_used = max_entries;
    return reg;
}

void mdx_registry_destroy(struct mdx_registry *reg)
{
    if (reg != NULL) {
        mdx_free(reg->slots);
        mdx_free(reg);
    }
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    while (*s != '\0') {
        h = (h ^ (uint8_t)*s++) * 1099511628211ULL;
    }
    return h;
}

/* Slot holding 'key', or the empty slot where it would go. */
static struct entry *find_slot(struct mdx_registry *reg, const char *key)
{
    size_t i = (size_t)hash_key(key) & reg->mask;

    for (;;) {
        struct entry *e = &reg->slots[i];
        if (e->state == ENTRY_EMPTY || strcmp(e->key, key) == 0) {
            return e;
        }
        i = (i + 1) & reg->mask;
    }
}

static int lookup_store(struct mdx_registry *reg, const char *tenant, const char *device,
                        uint8_t *state)
{
    struct mdx_device_info info;
    int rc = mdx_store_device_get(reg->store, tenant, device, &info);

    if (rc == MDX_OK) {
        *state = ENTRY_KNOWN;
        return MDX_OK;
    }
    if (rc != MDX_ENOTFOUND) {
        return rc;
    }
    rc = mdx_store_tenant_exists(reg->store, tenant);
    if (rc == MDX_ENOTFOUND) {
        *state = ENTRY_UNKNOWN_TENANT;
        return MDX_OK;
    }
    if (rc != MDX_OK) {
        return rc;
    }
    if (!reg->auto_register) {
        *state = ENTRY_UNKNOWN_DEVICE;
        return MDX_OK;
    }
    rc = mdx_store_device_add(reg->store, tenant, device, 1);
    if (rc != MDX_OK && rc != MDX_EEXIST) {
        return rc;
    }
    *state = ENTRY_KNOWN;
    return MDX_OK;
}

int mdx_registry_check(struct mdx_registry *reg, const char *tenant, const char *device,
                       int64_t now_ms, const char **why)
{
    char key[KEY_MAX];
    struct entry *e;
    uint8_t state;
    int rc;

    snprintf(key, sizeof(key), "%s/%s", tenant, device);
    e = find_slot(reg, key);
    if (e->state == ENTRY_KNOWN) {
        return MDX_OK;
    }
    if (e->state == ENTRY_EMPTY || now_ms >= e->expires_ms) {
        rc = lookup_store(reg, tenant, device, &state);
        if (rc != MDX_OK) {
            return rc;
        }
        if (e->state == ENTRY_EMPTY) {
            if (reg->used >= reg->max_used) {
                memset(reg->slots, 0, (reg->mask + 1) * sizeof(*reg->slots));
                reg->used = 0;
                e = find_slot(reg, key);
            }
            reg->used++;
            memcpy(e->key, key, sizeof(key));
        }
        e->state = state;
        e->expires_ms = now_ms + NEGATIVE_TTL_MS;
    }
    switch (e->state) {
    case ENTRY_KNOWN:
        return MDX_OK;
    case ENTRY_UNKNOWN_TENANT:
        *why = "unknown tenant";
        return MDX_EINVAL;
    default:
        *why = "unknown device";
        return MDX_EINVAL;
    }
}
