/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.h - the intrusive chained hash table the store writers' caches use.
 *
 * An entry embeds struct mdx_hnode (as its first member, so a node pointer
 * casts back to the entry) and owns its key; the table only links nodes.
 * It grows by doubling when it holds as many nodes as buckets; bounding the
 * number of entries is the caller's business. Used by every module that keeps a table.
 */
#ifndef MODAX_BASE_HTAB_H
#define MODAX_BASE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct mdx_hnode {
    struct mdx_hnode *next;
    uint64_t hash;
};

struct mdx_htab {
    struct mdx_hnode **b;
    size_t mask;              /* buckets - 1 (a power of two) */
    size_t count;
};

/* FNV-1a of 'n' bytes with a final mix; 'seed' separates key spaces. */
uint64_t mdx_hash_bytes(uint64_t seed, const void *p, size_t n);

/* An empty table of 'buckets' (a power of two) buckets. MDX_OK or MDX_ENOMEM. */
int mdx_htab_init(struct mdx_htab *t, size_t buckets);
/*
 * An empty table for about 'entries' nodes: the smallest power of two of
 * buckets, from 16, that holds them, but no more than 'most' (a power of two).
 * MDX_OK or MDX_ENOMEM.
 */
int mdx_htab_init_for(struct mdx_htab *t, size_t entries, size_t most);
/* Frees the buckets (not the nodes: their owner does). */
void mdx_htab_fini(struct mdx_htab *t);
/* First node of the chain where 'hash' lives; walk it with ->next. */
struct mdx_hnode *mdx_htab_bucket(const struct mdx_htab *t, uint64_t hash);
/* Links 'n' (its hash set); grows the table when it is full (if memory allows). */
void mdx_htab_insert(struct mdx_htab *t, struct mdx_hnode *n);
/* Unlinks 'n' if it is in the table. */
void mdx_htab_remove(struct mdx_htab *t, struct mdx_hnode *n);
/* Empties the buckets without touching the nodes (their owner frees them first). */
void mdx_htab_clear(struct mdx_htab *t);

#endif
