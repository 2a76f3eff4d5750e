/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nodes.c - empties a cache of the back ends' writers: a hash table
 * (base/htab.c) whose nodes are single mdx_malloc() blocks owned by it.
 */
#include "modax/alloc.h"
#include "store/nodes.h"

void mdx_store_nodes_free(struct mdx_htab *t)
{
    if (t->b == NULL) {
        return;
    }
    for (size_t i = 0; i <= t->mask; i++) {
        struct mdx_hnode *n = t->b[i];
        while (n != NULL) {
            struct mdx_hnode *next = n->next;
            mdx_free(n);
            n = next;
        }
    }
    mdx_htab_clear(t);
}
