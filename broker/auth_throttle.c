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
 * token; below one token the key is refused. Fixed tables, linear probing
 * over PROBE slots, the idlest entry reused when none is free.
 */
#include <string.h>
#include <sys/random.h>

#include <openssl/sha.h>

#include "auth_throttle.h"
#include "modax/clock.h"

#define ADDR_SLOTS 4096
#define PAIR_SLOTS 8192
#define PROBE 8
#define KEY_LEN 16
#define PART_MAX 256         /* longer names and addresses are cut (never the case) */

struct bucket {
    unsigned char key[KEY_LEN];
    int used;
    double tokens;
    int64_t last_ms;
};

static struct {
    struct auth_throttle_conf conf;
    unsigned char seed[32];
    struct bucket addr[ADDR_SLOTS];
    struct bucket pair[PAIR_SLOTS];
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

/* The bucket of 'key' in table t (n slots), or NULL when absent and !create. */
static struct bucket *lookup(struct bucket *t, size_t n, const unsigned char key[KEY_LEN],
                             int limit, int create, int64_t now)
{
    size_t h;
    struct bucket *victim = NULL;

    memcpy(&h, key, sizeof(h));
    for (size_t i = 0; i < PROBE; i++) {
        struct bucket *b = &t[(h + i) % n];
        if (b->used && memcmp(b->key, key, KEY_LEN) == 0) {
            return b;
        }
        if (victim == NULL || (victim->used && (!b->used || b->last_ms < victim->last_ms))) {
            victim = b;
        }
    }
    if (!create) {
        return NULL;
    }
    if (victim->used) {
        T.evictions++;
    }
    memcpy(victim->key, key, KEY_LEN);
    victim->used = 1;
    victim->tokens = limit;
    victim->last_ms = now;
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

static int empty(struct bucket *t, size_t n, const unsigned char key[KEY_LEN], int limit,
                 int window_ms, int64_t now)
{
    struct bucket *b = lookup(t, n, key, limit, 0, now);

    if (b == NULL) {
        return 0;
    }
    refill(b, limit, window_ms, now);
    return b->tokens < 1.0;
}

static void take(struct bucket *t, size_t n, const unsigned char key[KEY_LEN], int limit,
                 int window_ms, int64_t now)
{
    struct bucket *b = lookup(t, n, key, limit, 1, now);

    refill(b, limit, window_ms, now);
    b->tokens = b->tokens >= 1.0 ? b->tokens - 1.0 : 0.0;
}

void auth_throttle_init(const struct auth_throttle_conf *conf)
{
    memset(&T, 0, sizeof(T));
    T.conf = *conf;
    if (getrandom(T.seed, sizeof(T.seed), 0) != (ssize_t)sizeof(T.seed)) {
        /* No entropy source: keys stay distinct, only less hard to predict. */
        int64_t t = mdx_mono_us();
        memcpy(T.seed, &t, sizeof(t));
    }
}

enum auth_throttle_verdict auth_throttle_check(const char *user, const char *addr)
{
    unsigned char key[KEY_LEN];
    int64_t now = now_ms();

    addr = addr != NULL ? addr : "";
    make_key(key, addr, NULL);
    if (empty(T.addr, ADDR_SLOTS, key, T.conf.addr_fail_limit, T.conf.addr_fail_window_ms, now)) {
        return AUTH_THROTTLE_ADDRESS;
    }
    make_key(key, user, addr);
    if (empty(T.pair, PAIR_SLOTS, key, T.conf.pair_fail_limit, T.conf.pair_fail_window_ms, now)) {
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
    take(T.addr, ADDR_SLOTS, key, T.conf.addr_fail_limit, T.conf.addr_fail_window_ms, now);
    make_key(key, user, addr);
    take(T.pair, PAIR_SLOTS, key, T.conf.pair_fail_limit, T.conf.pair_fail_window_ms, now);
}

uint64_t auth_throttle_evictions(void)
{
    return T.evictions;
}
