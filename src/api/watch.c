/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watch.c - viewer counts per tenant and per (tenant, device) for the live
 * stream (see watch.h).
 *
 * Two views of the same counts. The exact one is a hash table of entries
 * (one per watched key, under a mutex), from which the listener hears
 * which sensor_data filters become wanted. The lock-free one is an array
 * of counters indexed by the key's hash: adding a viewer increments its
 * key's counter, so a counter at zero proves nobody watches any key that
 * hashes there. A reader of that array never waits for the mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/htab.h"
#include "modax/alloc.h"
#include "modax/msg.h"
#include "modax/status.h"

#include "api/watch.h"

#define SLOTS 1024             /* lock-free counters (a power of two); 4 KiB */
#define BUCKETS 64             /* initial buckets of the exact table; it grows */
#define KEY_SEED 0x6c697665ull /* "live" */

struct entry {
    struct mdx_hnode node;     /* first: a node pointer is the entry */
    size_t count;              /* viewers of this key now, > 0 while linked */
    char tenant[MDX_NAME_MAX + 1];
    char device[MDX_NAME_MAX + 1]; /* "" = every device of the tenant */
};

struct api_watch {
    atomic_uint viewers;       /* all keys: zero answers api_watch_any() at once */
    atomic_uint slots[SLOTS];
    pthread_mutex_t mu;        /* the table and the listener */
    struct mdx_htab table;
    api_watch_fn fn;
    void *arg;
};

/* Hash of a key: the tenant's, or the device's chained on it. */
static uint64_t key_hash(const char *tenant, const char *device)
{
    uint64_t h = mdx_hash_bytes(KEY_SEED, tenant, strlen(tenant) + 1);

    return device[0] == '\0' ? h : mdx_hash_bytes(h, device, strlen(device));
}

struct api_watch *api_watch_create(void)
{
    struct api_watch *w = mdx_calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    if (mdx_htab_init(&w->table, BUCKETS) != MDX_OK) {
        mdx_free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    return w;
}

void api_watch_destroy(struct api_watch *w)
{
    if (w == NULL) {
        return;
    }
    for (size_t i = 0; i <= w->table.mask; i++) {
        struct mdx_hnode *n = w->table.b[i];
        while (n != NULL) {
            struct mdx_hnode *next = n->next;
            mdx_free(n);
            n = next;
        }
    }
    mdx_htab_fini(&w->table);
    pthread_mutex_destroy(&w->mu);
    mdx_free(w);
}

/* The entry of a key, or NULL. Under w->mu. */
static struct entry *find(const struct api_watch *w, uint64_t hash, const char *tenant,
                          const char *device)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&w->table, hash); n != NULL; n = n->next) {
        struct entry *e = (struct entry *)n;
        if (n->hash == hash && strcmp(e->tenant, tenant) == 0 && strcmp(e->device, device) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Viewers of every device of 'tenant'. Under w->mu. */
static size_t tenant_count(const struct api_watch *w, const char *tenant)
{
    const struct entry *e = find(w, key_hash(tenant, ""), tenant, "");

    return e != NULL ? e->count : 0;
}

/* Tells the listener about each watched device of 'tenant' (on or off). Under w->mu. */
static void each_device(const struct api_watch *w, const char *tenant, int on)
{
    for (size_t i = 0; w->fn != NULL && i <= w->table.mask; i++) {
        for (struct mdx_hnode *n = w->table.b[i]; n != NULL; n = n->next) {
            const struct entry *e = (const struct entry *)n;
            if (e->device[0] != '\0' && strcmp(e->tenant, tenant) == 0) {
                w->fn(w->arg, e->tenant, e->device, on);
            }
        }
    }
}

/* The listener hears of a key's first viewer (on) or last one (off). Under w->mu. */
static void changed(struct api_watch *w, const char *tenant, const char *device, int on)
{
    if (w->fn == NULL) {
        return;
    }
    if (device[0] != '\0') {
        /* A tenant-wide filter covers the device already. */
        if (tenant_count(w, tenant) == 0) {
            w->fn(w->arg, tenant, device, on);
        }
        return;
    }
    /* The wider filter first, then the narrower ones go, so that nothing is missed between. */
    if (on) {
        w->fn(w->arg, tenant, "", 1);
        each_device(w, tenant, 0);
    } else {
        each_device(w, tenant, 1);
        w->fn(w->arg, tenant, "", 0);
    }
}

int api_watch_add(struct api_watch *w, const char *tenant, const char *device)
{
    uint64_t hash;
    struct entry *e;

    if (device == NULL) {
        device = "";
    }
    if (strlen(tenant) > MDX_NAME_MAX || strlen(device) > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    hash = key_hash(tenant, device);
    pthread_mutex_lock(&w->mu);
    e = find(w, hash, tenant, device);
    if (e == NULL) {
        e = mdx_calloc(1, sizeof(*e));
        if (e == NULL) {
            pthread_mutex_unlock(&w->mu);
            return MDX_ENOMEM;
        }
        e->node.hash = hash;
        memcpy(e->tenant, tenant, strlen(tenant) + 1);
        memcpy(e->device, device, strlen(device) + 1);
        mdx_htab_insert(&w->table, &e->node);
    }
    e->count++;
    atomic_fetch_add(&w->slots[hash & (SLOTS - 1)], 1);
    atomic_fetch_add(&w->viewers, 1);
    if (e->count == 1) {
        changed(w, tenant, device, 1);
    }
    pthread_mutex_unlock(&w->mu);
    return MDX_OK;
}

void api_watch_remove(struct api_watch *w, const char *tenant, const char *device)
{
    uint64_t hash;
    struct entry *e;

    if (device == NULL) {
        device = "";
    }
    hash = key_hash(tenant, device);
    pthread_mutex_lock(&w->mu);
    e = find(w, hash, tenant, device);
    if (e == NULL) {
        pthread_mutex_unlock(&w->mu);
        return; /* not counted in (a programmer's mistake); nothing to undo */
    }
    atomic_fetch_sub(&w->viewers, 1);
    atomic_fetch_sub(&w->slots[hash & (SLOTS - 1)], 1);
    if (--e->count == 0) {
        mdx_htab_remove(&w->table, &e->node);
        /* Unlinked first: for a tenant-wide key, its devices are then told "on" again. */
        changed(w, e->tenant, e->device, 0);
        mdx_free(e);
    }
    pthread_mutex_unlock(&w->mu);
}

int api_watch_any(const struct api_watch *w, const char *tenant, const char *device)
{
    uint64_t th;

    if (atomic_load_explicit(&w->viewers, memory_order_relaxed) == 0) {
        return 0;
    }
    th = mdx_hash_bytes(KEY_SEED, tenant, strlen(tenant) + 1);
    if (atomic_load_explicit(&w->slots[th & (SLOTS - 1)], memory_order_relaxed) > 0) {
        return 1;
    }
    th = mdx_hash_bytes(th, device, strlen(device));
    return atomic_load_explicit(&w->slots[th & (SLOTS - 1)], memory_order_relaxed) > 0;
}

/* Calls fn for every wanted filter. Under w->mu. */
static void each_wanted(const struct api_watch *w, api_watch_fn fn, void *arg)
{
    for (size_t i = 0; fn != NULL && i <= w->table.mask; i++) {
        for (struct mdx_hnode *n = w->table.b[i]; n != NULL; n = n->next) {
            const struct entry *e = (const struct entry *)n;
            if (e->device[0] == '\0' || tenant_count(w, e->tenant) == 0) {
                fn(arg, e->tenant, e->device, 1);
            }
        }
    }
}

void api_watch_listen(struct api_watch *w, api_watch_fn fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    each_wanted(w, fn, arg);
    pthread_mutex_unlock(&w->mu);
}

void api_watch_each(struct api_watch *w, api_watch_fn fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    each_wanted(w, fn, arg);
    pthread_mutex_unlock(&w->mu);
}
