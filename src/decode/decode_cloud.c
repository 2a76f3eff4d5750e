/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode_cloud.c - the cloud form of a reading:
 *
 *   {"device_id":"press-0042","timestamp":1764230400123,
 *    "sensor_data":{"current_mean":5.1,"temperature_mean":45.3}}
 *
 * One point per member of "sensor_data", named after its key. device_id
 * and timestamp are optional; other top-level keys are ignored.
 */
#include <string.h>

#include "modax/status.h"

#include "decode_internal.h"

static int cloud_matches(const cJSON *root)
{
    return cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "sensor_data") != NULL;
}

static int cloud_decode(const cJSON *root, const struct mdx_msg *msg, struct mdx_points *out,
                        const char **why)
{
    const cJSON *data, *s;
    struct mdx_reading r;
    int rc;

    rc = mdx_reading_open(&r, root, msg, out, why);
    if (rc != MDX_OK) {
        return rc;
    }
    data = cJSON_GetObjectItemCaseSensitive(root, "sensor_data");
    if (!cJSON_IsObject(data)) {
        *why = "wrong type";
        return MDX_EINVAL;
    }
    for (s = data->child; s != NULL; s = s->next) {
        /* strnlen: a key longer than a name is refused without reading all of it */
        size_t len = s->string != NULL ? strnlen(s->string, MDX_NAME_MAX + 1) : 0;

        rc = mdx_reading_add(&r, s->string, len, s, why);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return mdx_reading_end(&r, why);
}

const struct mdx_decoder mdx_decoder_cloud = {
    .name = "cloud",
    .matches = cloud_matches,
    .decode = cloud_decode,
};
