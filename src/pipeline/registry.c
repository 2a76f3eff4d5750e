/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c - bounded cache of registered (tenant, device) pairs and their
 * types for the ingest (registry.h).
 *
 * The entries are one array allocated at creation and linked into the
 * base hash table (src/base/htab.h); the table has a bucket per entry, so
 * it never grows. When every entry is in use the table is emptied and
 * refilled from the store, as the cache always did.
 */
#include <stdio.h>
#include <string.h>

#include "base/htab.h"
#include "pipeline/registry.h"
#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"

#define MOD "ingest"

enum entry_state { ENTRY_KNOWN = 1, ENTRY_UNKNOWN_TENANT, ENTRY_UNKNOWN_DEVICE };

struct entry {
    struct mdx_hnode node;          /* first member: a node pointer is the entry */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1];
    char type[MDX_NAME_MAX + 1];    /* device type, "" if none */
    uint8_t state;                  /* enum entry_state */
    int64_t recheck_ms;             /* the store is asked again from this time on */
};

struct mdx_registry {
    struct mdx_store *store;
    int auto_register;
    struct mdx_htab table;
    struct entry *entries;          /* max_used of them; the first 'used' are in the table */
    size_t used, max_used;
};

struct mdx_registry *mdx_registry_create(struct mdx_store *store, size_t max_entries,
                                         int auto_register)
{
    struct mdx_registry *reg = mdx_calloc(1, sizeof(*reg));
    size_t buckets = 16;

    if (reg == NULL) {
        return NULL;
    }
    if (max_entries == 0) {
        max_entries = 1;
    }
    while (buckets < max_entries) {
        buckets <<= 1;
    }
    reg->entries = mdx_calloc(max_entries, sizeof(*reg->entries));
    if (reg->entries == NULL || mdx_htab_init(&reg->table, buckets) != MDX_OK) {
        mdx_registry_destroy(reg);
        return NULL;
    }
    reg->store = store;
    reg->auto_register = auto_register;
    reg->max_used = max_entries;
    return reg;
}

void mdx_registry_destroy(struct mdx_registry *reg)
{
    if (reg != NULL) {
        mdx_htab_fini(&reg->table);
        mdx_free(reg->entries);
        mdx_free(reg);
    }
}

static uint64_t key_hash(const char *tenant, const char *device)
{
    /* The tenant's NUL separates the two names ("ab"+"c" is not "a"+"bc"). */
    return mdx_hash_bytes(mdx_hash_bytes(0, tenant, strlen(tenant) + 1), device, strlen(device));
}

static struct entry *find(const struct mdx_registry *reg, const char *tenant, const char *device,
                          uint64_t hash)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&reg->table, hash); n != NULL; n = n->next) {
        struct entry *e = (struct entry *)n;
        if (n->hash == hash && strcmp(e->device, device) == 0 && strcmp(e->tenant, tenant) == 0) {
            return e;
        }
    }
    return NULL;
}

/* What the store says of (tenant, device): the entry's state and type (set when known). */
static int ask_store(struct mdx_registry *reg, const char *tenant, const char *device,
                     uint8_t *state, char type[MDX_NAME_MAX + 1])
{
    struct mdx_device_info info;
    int rc = mdx_store_device_get(reg->store, tenant, device, &info);

    if (rc == MDX_OK) {
        *state = ENTRY_KNOWN;
        memcpy(type, info.type, MDX_NAME_MAX + 1);
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
    if (rc == MDX_EEXIST) {
        /* Added meanwhile (by an operator or another worker): it may have a type. */
        rc = mdx_store_device_get(reg->store, tenant, device, &info);
        if (rc != MDX_OK) {
            return rc == MDX_ENOTFOUND ? MDX_EAGAIN : rc;
        }
        memcpy(type, info.type, MDX_NAME_MAX + 1);
    } else if (rc != MDX_OK) {
        return rc;
    } else {
        type[0] = '\0'; /* auto-registered devices have no type */
    }
    *state = ENTRY_KNOWN;
    return MDX_OK;
}

static void set_answer(struct entry *e, uint8_t state, const char *type, int64_t now_ms)
{
    e->state = state;
    if (state == ENTRY_KNOWN) {
        memcpy(e->type, type, sizeof(e->type));
        e->recheck_ms = now_ms + MDX_REGISTRY_REFRESH_MS;
    } else {
        e->type[0] = '\0';
        e->recheck_ms = now_ms + MDX_REGISTRY_REFUSAL_TTL_MS;
    }
}

/* A new entry for the answer; empties the table first when every entry is in use. */
static struct entry *add_entry(struct mdx_registry *reg, const char *tenant, const char *device,
                               uint64_t hash)
{
    struct entry *e;

    if (reg->used >= reg->max_used) {
        mdx_htab_clear(&reg->table);
        reg->used = 0;
    }
    e = &reg->entries[reg->used++];
    memset(e, 0, sizeof(*e));
    snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
    snprintf(e->device, sizeof(e->device), "%s", device);
    e->node.hash = hash;
    mdx_htab_insert(&reg->table, &e->node);
    return e;
}

int mdx_registry_check(struct mdx_registry *reg, const char *tenant, const char *device,
                       int64_t now_ms, struct mdx_device_ref *out, const char **why)
{
    uint64_t hash = key_hash(tenant, device);
    struct entry *e = find(reg, tenant, device, hash);
    char type[MDX_NAME_MAX + 1];
    uint8_t state;
    int rc;

    if (e == NULL || now_ms >= e->recheck_ms) {
        rc = ask_store(reg, tenant, device, &state, type);
        if (rc != MDX_OK && (e == NULL || e->state != ENTRY_KNOWN)) {
            return rc;
        }
        if (rc != MDX_OK) {
            /* A known device keeps sending on its cached answer while the store is away. */
            mdx_log_warn(MOD, "registry re-read failed; answering from the cache", MDX_F_ERR(rc),
                         MDX_F_STR("tenant", tenant), MDX_F_STR("device", device));
            e->recheck_ms = now_ms + MDX_REGISTRY_REFUSAL_TTL_MS;
        } else {
            if (e == NULL) {
                e = add_entry(reg, tenant, device, hash);
            }
            set_answer(e, state, type, now_ms);
        }
    }
    switch (e->state) {
    case ENTRY_KNOWN:
        out->tenant = tenant;
        out->device = device;
        out->type = e->type;
        return MDX_OK;
    case ENTRY_UNKNOWN_TENANT:
        *why = "unknown tenant";
        return MDX_EINVAL;
    default:
        *why = "unknown device";
        return MDX_EINVAL;
    }
}
