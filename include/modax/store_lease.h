/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_lease.h - named leases in the store, so that a job that must run
 * once per installation (the archiver) runs in one process at a time
 * however many replicas are started on the same database.
 *
 * A lease is a row (name, holder, expires_ms). Taking it succeeds when
 * nobody holds it, when its holder is the caller (a renewal) or when the
 * holder let it expire (it died or stalled); the take is one atomic
 * statement, so two processes cannot both win. A holder renews before
 * expiry and releases it when done; a killed holder's lease lapses after
 * its time to live.
 *
 * Included by store.h; see there for the handle and the rules every store
 * function follows.
 */
#ifndef MODAX_STORE_LEASE_H
#define MODAX_STORE_LEASE_H

#include <stdint.h>

struct mdx_store;

#define MDX_LEASE_NAME_MAX 64
#define MDX_LEASE_HOLDER_MAX 128

/* Who holds a lease, and until when. */
struct mdx_lease {
    char holder[MDX_LEASE_HOLDER_MAX + 1];
    int64_t expires_ms;
};

/*
 * Takes or renews lease 'name' for 'holder' until now_ms + ttl_ms.
 * MDX_OK: the caller holds it. MDX_EEXIST: another holder has it; its
 * holder and expiry are copied to *current (may be NULL). MDX_EINVAL for
 * an empty or too long name or holder, or ttl_ms <= 0.
 */
int mdx_store_lease_take(struct mdx_store *st, const char *name, const char *holder,
                         int64_t now_ms, int64_t ttl_ms, struct mdx_lease *current);
/* Gives lease 'name' up if 'holder' has it: MDX_OK, MDX_ENOTFOUND if it does not. */
int mdx_store_lease_release(struct mdx_store *st, const char *name, const char *holder);

/* What a back end implements for leases. */
struct mdx_store_lease_ops {
    /* Atomically: insert, or update when held by 'holder' or expired at now_ms.
     * MDX_OK if the row is now the caller's, MDX_EEXIST (with *current) if not. */
    int (*lease_take)(void *impl, const char *name, const char *holder, int64_t now_ms,
                      int64_t expires_ms, struct mdx_lease *current);
    int (*lease_release)(void *impl, const char *name, const char *holder);
};

#endif
