/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nodes.h - emptying the caches of the back ends' writers (nodes.c):
 * hash tables whose nodes each are one mdx_malloc() block. Internal to
 * src/store.
 */
#ifndef MODAX_STORE_NODES_H
#define MODAX_STORE_NODES_H

#include "base/htab.h"

/*
 * Frees every node of 't' with mdx_free() and empties its buckets; a table
 * never initialised (no buckets) is left alone.
 */
void mdx_store_nodes_free(struct mdx_htab *t);

#endif
