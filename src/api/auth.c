/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth.c - API key checks for the server: a bounded cache of key records
 * read from the store (a record is trusted for api.key_cache_s, so a
 * revocation takes effect within that time), and a token bucket per key
 * (api.rate_limit_rps, api.rate_limit_burst).
 *
 * The cache is a fixed array of CACHE_SLOTS entries, found by key id
 * through the one hash table (base/htab.h); when every entry is taken, the
 * least recently checked of the next EVICT_SCAN entries after a rotating
 * hand is replaced. Store reads happen outside the lock.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api_int.h"
#include "base/htab.h"
#include "modax/alloc.h"
#include "modax/apikey.h"
#include "modax/status.h"

#define CACHE_SLOTS 4096
#define EVICT_SCAN 8
#define ID_SEED 0x61706b6579ULL   /* "apkey": the key space of this table's hashes */

struct key_slot {
    struct mdx_hnode node;    /* first: a node pointer is the slot */
    struct mdx_apikey rec;
    int64_t fetched_ms;       /* when rec was read from the store */
    int64_t used_ms;          /* last check, for replacement */
    double tokens;            /* token bucket */
    int64_t bucket_ms;        /* last refill */
};

struct api_auth {
    pthread_mutex_t mu;
    int64_t ttl_ms;
    double rps, burst;
    struct mdx_htab by_id;    /* used slots by key id; twice as many buckets: never grows */
    size_t n_used;            /* slots[0..n_used) have been handed out */
    size_t hand;              /* where the next eviction scan starts */
    struct key_slot slots[CACHE_SLOTS];
};

struct api_auth *api_auth_create(const struct mdx_api_conf *conf)
{
    struct api_auth *a = mdx_calloc(1, sizeof(*a));

    if (a == NULL) {
        return NULL;
    }
    if (mdx_htab_init(&a->by_id, 2 * CACHE_SLOTS) != MDX_OK) {
        mdx_free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->ttl_ms = conf->key_cache_s * 1000;
    a->rps = (double)conf->rate_limit_rps;
    a->burst = (double)conf->rate_limit_burst;
    return a;
}

void api_auth_destroy(struct api_auth *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_destroy(&a->mu);
    mdx_htab_fini(&a->by_id);
    OPENSSL_cleanse(a->slots, sizeof(a->slots));
    mdx_free(a);
}

static uint64_t id_hash(const char *id)
{
    return mdx_hash_bytes(ID_SEED, id, strlen(id));
}

/* The slot holding 'id', or NULL. Under mu. */
static struct key_slot *slot_find(struct api_auth *a, const char *id)
{
    uint64_t h = id_hash(id);

    for (struct mdx_hnode *n = mdx_htab_bucket(&a->by_id, h); n != NULL; n = n->next) {
        struct key_slot *s = (struct key_slot *)n;
        if (n->hash == h && strcmp(s->rec.id, id) == 0) {
            return s;
        }
    }
    return NULL;
}

/* A free slot, else the least recently used of EVICT_SCAN after the hand, unlinked. Under mu. */
static struct key_slot *slot_take(struct api_auth *a)
{
    struct key_slot *oldest = NULL;

    if (a->n_used < CACHE_SLOTS) {
        return &a->slots[a->n_used++];
    }
    for (size_t i = 0; i < EVICT_SCAN; i++) {
        struct key_slot *s = &a->slots[(a->hand + i) % CACHE_SLOTS];
        if (oldest == NULL || s->used_ms < oldest->used_ms) {
            oldest = s;
        }
    }
    a->hand = (a->hand + EVICT_SCAN) % CACHE_SLOTS;
    mdx_htab_remove(&a->by_id, &oldest->node);
    return oldest;
}

/* Stores a fresh record, keeping the key's bucket if it was cached. Under mu. */
static struct key_slot *slot_put(struct api_auth *a, const struct mdx_apikey *rec, int64_t now_ms)
{
    struct key_slot *s = slot_find(a, rec->id);

    if (s == NULL) {
        s = slot_take(a);
        OPENSSL_cleanse(s, sizeof(*s));
        s->tokens = a->burst;
        s->bucket_ms = now_ms;
        s->rec = *rec;
        s->node.hash = id_hash(rec->id);
        mdx_htab_insert(&a->by_id, &s->node);
    }
    s->rec = *rec;
    s->fetched_ms = now_ms;
    return s;
}

/* Takes one token; 0 if there was one, else the seconds until there is. Under mu. */
static int bucket_take(struct api_auth *a, struct key_slot *s, int64_t now_ms)
{
    if (now_ms > s->bucket_ms) {
        s->tokens += (double)(now_ms - s->bucket_ms) * a->rps / 1000.0;
        if (s->tokens > a->burst) {
            s->tokens = a->burst;
        }
        s->bucket_ms = now_ms;
    }
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
        return 0;
    }
    int wait = (int)ceil((1.0 - s->tokens) / a->rps);
    return wait < 1 ? 1 : wait;
}

unsigned api_auth_check(struct api_auth *a, struct mdx_store *st, const char *key_text,
                        int64_t now_ms, struct api_caller *out, const char **why,
                        int *retry_after_s)
{
    char id[MDX_APIKEY_ID_LEN + 1];
    uint8_t hash[32];
    struct mdx_apikey rec;
    struct key_slot *s;
    int cached = 0, rc, wait;

    memset(out, 0, sizeof(*out));
    *retry_after_s = 0;
    if (key_text == NULL || key_text[0] == '\0') {
        *why = "missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'";
        return 401;
    }
    if (mdx_apikey_parse(key_text, id, hash) != MDX_OK) {
        *why = "malformed API key";
        return 401;
    }
    pthread_mutex_lock(&a->mu);
    s = slot_find(a, id);
    if (s != NULL && now_ms - s->fetched_ms < a->ttl_ms && now_ms >= s->fetched_ms) {
        rec = s->rec;
        cached = 1;
    }
    pthread_mutex_unlock(&a->mu);
    if (!cached) {
        if (st == NULL) {
            *why = "the store is unavailable";
            return 503;
        }
        rc = mdx_store_apikey_get(st, id, &rec);
        if (rc == MDX_ENOTFOUND) {
            *why = "unknown API key";
            return 401;
        }
        if (rc != MDX_OK) {
            *why = "the store is unavailable";
            return 503;
        }
    }
    if (CRYPTO_memcmp(rec.hash, hash, sizeof(hash)) != 0) {
        *why = "unknown API key";
        return 401;
    }
    if (!mdx_apikey_matches(&rec, hash)) {
        *why = "revoked API key";
        return 401;
    }
    pthread_mutex_lock(&a->mu);
    s = cached ? slot_find(a, id) : NULL;
    if (s == NULL) {
        s = slot_put(a, &rec, now_ms);
    }
    s->used_ms = now_ms;
    wait = bucket_take(a, s, now_ms);
    pthread_mutex_unlock(&a->mu);
    if (wait > 0) {
        *why = "rate limit exceeded for this key";
        *retry_after_s = wait;
        return 429;
    }
    snprintf(out->tenant, sizeof(out->tenant), "%s", rec.tenant);
    out->role = rec.role;
    memcpy(out->key_id, rec.id, sizeof(out->key_id));
    OPENSSL_cleanse(&rec, sizeof(rec));
    *why = NULL;
    return 0;
}
