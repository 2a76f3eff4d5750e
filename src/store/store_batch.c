/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_batch.c - the parts of a write batch both back ends walk the same
 * way (store_batch_int.h): the positions it stores with its rows.
 */
#include "modax/status.h"
#include "store/store_batch_int.h"

int mdx_store_batch_positions(const struct mdx_batch *b, mdx_store_position_fn fn, void *h)
{
    int rc = MDX_OK;

    if (b->has_checkpoint) {
        rc = fn(h, b->checkpoint_owner, &b->checkpoint);
    }
    for (size_t i = 0; rc == MDX_OK && i < b->n_positions; i++) {
        rc = fn(h, b->positions[i].owner, &b->positions[i].pos);
    }
    return rc;
}
