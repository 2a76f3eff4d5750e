/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode_batch.c - the batch form: a JSON array of cloud or field
 * readings, as flushed by the edge agent's store-and-forward.
 *
 * Each element is decoded by mdx_decode_item() with its own device_id
 * and timestamp rules. Batches do not nest, and an empty one is refused.
 * The caller's mdx_points bounds the total ("too many points").
 */
#include "modax/status.h"

#include "decode_internal.h"

static int batch_matches(const cJSON *root)
{
    return cJSON_IsArray(root);
}

static int batch_decode(const cJSON *root, const struct mdx_msg *msg, struct mdx_points *out,
                        const char **why)
{
    const cJSON *item;
    int rc;

    if (root->child == NULL) {
        *why = "empty batch";
        return MDX_EINVAL;
    }
    for (item = root->child; item != NULL; item = item->next) {
        rc = mdx_decode_item(item, msg, out, why);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

const struct mdx_decoder mdx_decoder_batch = {
    .name = "batch",
    .matches = batch_matches,
    .decode = batch_decode,
};
