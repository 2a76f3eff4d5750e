/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.c - intrusive chained hash table for the store writers' caches.
 */
#include <string.h>

#include "base/htab.h"
#include "modax/alloc.h"
#include "modax/status.h"

uint64_t mdx_hash_bytes(uint64_t seed, const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;

    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int mdx_htab_init(struct mdx_htab *t, size_t buckets)
{
    t->b = mdx_calloc(buckets, sizeof(*t->b));
    if (t->b == NULL) {
        return MDX_ENOMEM;
    }
    t->mask = buckets - 1;
    t->count = 0;
    return MDX_OK;
}

int mdx_htab_init_for(struct mdx_htab *t, size_t entries, size_t most)
{
    size_t nb = 16;

    while (nb < entries && nb < most) {
        nb <<= 1;
    }
    return mdx_htab_init(t, nb);
}

void mdx_htab_fini(struct mdx_htab *t)
{
    MDX_FREE(t->b);
    t->mask = 0;
    t->count = 0;
}

struct mdx_hnode *mdx_htab_bucket(const struct mdx_htab *t, uint64_t hash)
{
    return t->b[hash & t->mask];
}

/* Doubles the buckets; on allocation failure the table just keeps longer chains. */
static void grow(struct mdx_htab *t)
{
    size_t nb = (t->mask + 1) * 2;
    struct mdx_hnode **b = mdx_calloc(nb, sizeof(*b));

    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        struct mdx_hnode *n = t->b[i];
        while (n != NULL) {
            struct mdx_hnode *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    mdx_free(t->b);
    t->b = b;
    t->mask = nb - 1;
}

void mdx_htab_insert(struct mdx_htab *t, struct mdx_hnode *n)
{
    if (t->count >= t->mask + 1) {
        grow(t);
    }
    n->next = t->b[n->hash & t->mask];
    t->b[n->hash & t->mask] = n;
    t->count++;
}

void mdx_htab_remove(struct mdx_htab *t, struct mdx_hnode *n)
{
    struct mdx_hnode **pp = &t->b[n->hash & t->mask];

    while (*pp != NULL && *pp != n) {
        pp = &(*pp)->next;
    }
    if (*pp == n) {
        *pp = n->next;
        t->count--;
    }
}

void mdx_htab_clear(struct mdx_htab *t)
{
    if (t->b != NULL) {
        memset(t->b, 0, (t->mask + 1) * sizeof(*t->b));
    }
    t->count = 0;
}
