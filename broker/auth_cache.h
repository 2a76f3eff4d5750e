/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_cache.h - the broker plugin's cache of the registry: who each MQTT
 * username is (device or identity), its secret hash, certificate
 * fingerprint and revocation. A worker thread with its own store handle
 * fills it and refreshes every entry each refresh period; the broker's
 * main thread only reads it (and, on a miss, waits a bounded time for the
 * worker). Usernames that became invalid are queued for the main thread to
 * disconnect.
 */
#ifndef MODAX_AUTH_CACHE_H
#define MODAX_AUTH_CACHE_H

#include <stdint.h>

#include "modax/msg.h"
#include "modax/store.h"

enum auth_state {
    AUTH_PENDING = 0,         /* asked the worker, no answer yet */
    AUTH_DEVICE,              /* a device with credentials */
    AUTH_IDENTITY,            /* a service or operator identity */
    AUTH_ABSENT,              /* no such device or identity */
    AUTH_ERROR                /* the store failed; not known either way */
};

/* A copy of one cache entry (the cache itself stays private). */
struct auth_who {
    int state;                /* enum auth_state */
    int role;                 /* enum mdx_topic_role */
    int revoked;
    int legacy;               /* a device whose tenant has legacy topics on */
    char name[MDX_NAME_MAX + 1];
    char tenant[MDX_NAME_MAX + 1];
    char secret_hash[MDX_SECRET_HASH_MAX];
    char cert_fp[65];
};

struct auth_cache_conf {
    const struct mdx_store_conf *store; /* borrowed; the worker opens its own handle */
    int refresh_ms;           /* every entry re-read this often */
    int lookup_timeout_ms;    /* how long a miss waits for the worker */
    int verify_cache_ms;      /* a verified (user, password) is trusted this long */
};

/* Starts the worker. MDX_OK, MDX_ENOMEM or MDX_EIO (thread). */
int auth_cache_start(const struct auth_cache_conf *conf);
void auth_cache_stop(void);

/*
 * The entry of 'name' into *out: from the cache, or after asking the
 * worker and waiting up to lookup_timeout_ms (state AUTH_PENDING when it
 * did not answer in time). MDX_EINVAL for a name that cannot be a user.
 */
int auth_cache_get(const char *name, struct auth_who *out);

/* 1 if (name, SHA-256 of password) was verified within verify_cache_ms. */
int auth_cache_verified(const char *name, const unsigned char pw_sha[32]);
void auth_cache_set_verified(const char *name, const unsigned char pw_sha[32]);

/* Pops one username that lost its access since the last call into buf; 0 if none. */
int auth_cache_next_kick(char *buf, size_t len);

/* Counters of the cache for the stats file. */
struct auth_cache_stats {
    uint64_t entries, lookups, lookup_timeouts, refreshes, store_errors, kicks_queued;
};
void auth_cache_stats(struct auth_cache_stats *out);

#endif
