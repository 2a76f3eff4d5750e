/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_throttle.c - token buckets of wrong secrets per source address and
 * per (user name, source address) for the broker plugin (see
 * auth_throttle.h).
 *
 * An entry is found by a 16-byte key: SHA-256 of a random seed and the
 * address (or user, NUL, address), so clients cannot pick names that land
 * on another client's entry. A bucket starts full (limit tokens) and
 * refills at limit per window, continuously; a wrong secret takes one
 * token; below one token the key is refused. Each table is a fixed array
 * of entries found through the one hash table (base/htab.h); when every
 * entry is taken, the idlest of the next PROBE after a rotating hand is
 * reused.
 */
#include <string.h>
#include <sys/random.h>

#include <openssl/sha.h>

#include "auth_throttle.h"
#include "base/htab.h"
#include "modax/clock.h"
#include "modax/status.h"

#define ADDR_SLOTS 4096
#define PAIR_SLOTS 8192
#define PROBE 8
#define KEY_LEN 16
#define PART_MAX 256         /* longer names and addresses are cut (never the case) */

struct bucket {
    struct mdx_hnode node;    /* first: a node pointer is the bucket */
    unsigned char key[KEY_LEN];
    double tokens;
    int64_t last_ms;
};

/* One table: n entries, those in use found by key; twice as many hash buckets, never grows. */
struct table {
    struct mdx_htab by_key;
    struct bucket *slots;
    size_t n, used, hand;
};

static struct {
    struct auth_throttle_conf conf;
    unsigned char seed[32];
    struct bucket addr_slots[ADDR_SLOTS];
    struct bucket pair_slots[PAIR_SLOTS];
    struct table addr, pair;
    uint64_t evictions;
} T;

static int64_t now_ms(void)
{
    return mdx_mono_us() / 1000;
}

/* key = SHA-256(seed, a, NUL, b, NUL)[0..16), each string cut at PART_MAX bytes; b may be NULL. */
static void make_key(unsigned char key[KEY_LEN], const char *a, const char *b)
{
    unsigned char buf[sizeof(T.seed) + 2 * (PART_MAX + 1)], md[SHA256_DIGEST_LENGTH];
    size_t n = sizeof(T.seed), la = strnlen(a, PART_MAX);
    size_t lb = b != NULL ? strnlen(b, PART_MAX) : 0;

    memcpy(buf, T.seed, n);
    memcpy(buf + n, a, la);
    n += la;
    buf[n++] = 0;
    memcpy(buf + n, b != NULL ? b : "", lb);
    n += lb;
    buf[n++] = 0;
    SHA256(buf, n, md);
    memcpy(key, md, KEY_LEN);
}

static uint64_t key_hash(const unsigned char key[KEY_LEN])
{
    return mdx_hash_bytes(0, key, KEY_LEN);
}

/* The bucket of 'key' in 't', or NULL when absent and !create. */
static struct bucket *lookup(struct table *t, const unsigned char key[KEY_LEN], int limit,
                             int create, int64_t now)
{
    uint64_t h = key_hash(key);
    struct bucket *victim = NULL;

    for (struct mdx_hnode *n = mdx_htab_bucket(&t->by_key, h); n != NULL; n = n->next) {
        struct bucket *b = (struct bucket *)n;
        if (n->hash == h && memcmp(b->key, key, KEY_LEN) == 0) {
            return b;
        }
    }
    if (!create) {
        return NULL;
    }
    if (t->used < t->n) {
        victim = &t->slots[t->used++];
    } else {
        for (size_t i = 0; i < PROBE; i++) {
            struct bucket *b = &t->slots[(t->hand + i) % t->n];
            if (victim == NULL || b->last_ms < victim->last_ms) {
                victim = b;
            }
        }
        t->hand = (t->hand + PROBE) % t->n;
        mdx_htab_remove(&t->by_key, &victim->node);
        T.evictions++;
    }
    memcpy(victim->key, key, KEY_LEN);
    victim->tokens = limit;
    victim->last_ms = now;
    victim->node.hash = h;
    mdx_htab_insert(&t->by_key, &victim->node);
    return victim;
}

/* Adds the tokens earned since b->last_ms, at most 'limit'. */
static void refill(struct bucket *b, int limit, int window_ms, int64_t now)
{
    if (now > b->last_ms) {
        b->tokens += (double)(now - b->last_ms) * limit / window_ms;
        if (b->tokens > limit) {
            b->tokens = limit;
        }
    }
    b->last_ms = now;
}

static int empty(struct table *t, const unsigned char key[KEY_LEN], int limit, int window_ms,
                 int64_t now)
{
    struct bucket *b = lookup(t, key, limit, 0, now);

    if (b == NULL) {
        return 0;
    }
    refill(b, limit, window_ms, now);
    return b->tokens < 1.0;
}

static void take(struct table *t, const unsigned char key[KEY_LEN], int limit, int window_ms,
                 int64_t now)
{
    struct bucket *b = lookup(t, key, limit, 1, now);

    refill(b, limit, window_ms, now);
    b->tokens = b->tokens >= 1.0 ? b->tokens - 1.0 : 0.0;
}

int auth_throttle_init(const struct auth_throttle_conf *conf)
{
    memset(&T, 0, sizeof(T));
    T.conf = *conf;
    T.addr.slots = T.addr_slots;
    T.addr.n = ADDR_SLOTS;
    T.pair.slots = T.pair_slots;
    T.pair.n = PAIR_SLOTS;
    if (mdx_htab_init(&T.addr.by_key, 2 * ADDR_SLOTS) != MDX_OK ||
        mdx_htab_init(&T.pair.by_key, 2 * PAIR_SLOTS) != MDX_OK) {
        auth_throttle_fini();
        return MDX_ENOMEM;
    }
    if (getrandom(T.seed, sizeof(T.seed), 0) != (ssize_t)sizeof(T.seed)) {
        /* No entropy source: keys stay distinct, only less hard to predict. */
        int64_t t = mdx_mono_us();
        memcpy(T.seed, &t, sizeof(t));
    }
    return MDX_OK;
}

enum auth_throttle_verdict auth_throttle_check(const char *user, const char *addr)
{
    unsigned char key[KEY_LEN];
    int64_t now = now_ms();

    addr = addr != NULL ? addr : "";
    make_key(key, addr, NULL);
    if (empty(&T.addr, key, T.conf.addr_fail_limit, T.conf.addr_fail_window_ms, now)) {
        return AUTH_THROTTLE_ADDRESS;
    }
    make_key(key, user, addr);
    if (empty(&T.pair, key, T.conf.pair_fail_limit, T.conf.pair_fail_window_ms, now)) {
        return AUTH_THROTTLE_PAIR;
    }
    return AUTH_THROTTLE_PASS;
}

void auth_throttle_failed(const char *user, const char *addr)
{
    unsigned char key[KEY_LEN];
    int64_t now = now_ms();

    addr = addr != NULL ? addr : "";
    make_key(key, addr, NULL);
    take(&T.addr, key, T.conf.addr_fail_limit, T.conf.addr_fail_window_ms, now);
    make_key(key, user, addr);
    take(&T.pair, key, T.conf.pair_fail_limit, T.conf.pair_fail_window_ms, now);
}

void auth_throttle_fini(void)
{
    mdx_htab_fini(&T.addr.by_key);
    mdx_htab_fini(&T.pair.by_key);
}

uint64_t auth_throttle_evictions(void)
{
    return T.evictions;
}
