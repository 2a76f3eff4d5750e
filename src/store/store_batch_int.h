/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_batch_int.h - what both back ends read from a write batch the same
 * way (store_batch.c). Internal to src/store.
 */
#ifndef MODAX_STORE_BATCH_INT_H
#define MODAX_STORE_BATCH_INT_H

#include "modax/store.h"

/* Stores one position of 'owner' (in the batch's transaction): MDX_OK or the error. */
typedef int (*mdx_store_position_fn)(void *h, const char *owner, const struct mdx_spool_pos *pos);

/*
 * Calls fn(h, owner, pos) for the batch's spool checkpoint, if it has one,
 * then for each of a pull source's positions: MDX_OK or the first failure.
 */
int mdx_store_batch_positions(const struct mdx_batch *b, mdx_store_position_fn fn, void *h);

#endif
