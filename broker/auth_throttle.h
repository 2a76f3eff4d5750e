/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_throttle.h - the plugin's brake on password guessing: token buckets
 * of wrong secrets per source address and per (user name, source address).
 *
 * Device ids are not secret, so a brake per user name alone lets anyone
 * lock a device out. Here a wrong secret costs a token of its address's
 * bucket and of its (user, address) pair's bucket; an empty bucket makes
 * later attempts from that address (or for that user from that address)
 * refused without the argon2 check until tokens come back at a bounded
 * rate (limit per window). The device's own secret from any other address
 * is always checked. A verified-cache hit (auth_cache_verified) is never
 * throttled.
 *
 * Bounded: two fixed tables (ADDR_SLOTS, PAIR_SLOTS entries); when a probe
 * finds no free slot, the entry idle longest is reused. Main thread only.
 */
#ifndef MODAX_AUTH_THROTTLE_H
#define MODAX_AUTH_THROTTLE_H

#include <stdint.h>

struct auth_throttle_conf {
    int addr_fail_limit;      /* wrong secrets per address and window before refusal */
    int addr_fail_window_ms;
    int pair_fail_limit;      /* wrong secrets per (user, address) and window */
    int pair_fail_window_ms;
};

enum auth_throttle_verdict {
    AUTH_THROTTLE_PASS = 0,   /* check the secret */
    AUTH_THROTTLE_ADDRESS,    /* too many wrong secrets from this address */
    AUTH_THROTTLE_PAIR        /* too many wrong secrets for this user from this address */
};

/* Sets the limits and clears the tables (the seed of their keys is random). MDX_OK or MDX_ENOMEM. */
int auth_throttle_init(const struct auth_throttle_conf *conf);
/* Frees the tables' hash buckets. */
void auth_throttle_fini(void);
/* Whether an attempt of 'user' from 'addr' (NULL: unknown) may be checked now. */
enum auth_throttle_verdict auth_throttle_check(const char *user, const char *addr);
/* Takes a token of both buckets after a wrong secret. */
void auth_throttle_failed(const char *user, const char *addr);
/* Entries reused for another key since start (a flood of addresses). */
uint64_t auth_throttle_evictions(void);

#endif
