/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode_field.c - the field form, as sent by the original MODAX ESP32
 * firmware:
 *
 *   {"timestamp":123456,"device_id":"esp32_001","motor_currents":[5.1,5.0],
 *    "vibration":{"x":1.0,"y":1.1,"z":0.9,"magnitude":1.8},"temperatures":[45.0]}
 *
 * gives motor_current_0, motor_current_1, vibration_x, vibration_y,
 * vibration_z, vibration_magnitude and temperature_0. Any of the three
 * groups may be absent, but the reading needs at least one sensor. Only
 * the four known members of "vibration" are read; others are ignored.
 * The firmware sends milliseconds since boot: validate replaces them.
 */
#include <string.h>

#include "modax/status.h"

#include "decode_internal.h"

static const char *const vibration_axes[] = {"x", "y", "z", "magnitude"};

static int field_matches(const cJSON *root)
{
    return cJSON_IsObject(root) &&
           (cJSON_GetObjectItemCaseSensitive(root, "motor_currents") != NULL ||
            cJSON_GetObjectItemCaseSensitive(root, "vibration") != NULL ||
            cJSON_GetObjectItemCaseSensitive(root, "temperatures") != NULL);
}

/* Writes 'prefix' then 'suffix' into name[MDX_NAME_MAX + 1]; returns the length. */
static size_t make_name(char *name, const char *prefix, const char *suffix)
{
    size_t a = strlen(prefix), b = strlen(suffix);

    /* Our own short prefixes and at most 20 digits: never cut, but never overflow either. */
    if (a + b > MDX_NAME_MAX) {
        b = MDX_NAME_MAX - a;
    }
    memcpy(name, prefix, a);
    memcpy(name + a, suffix, b);
    name[a + b] = '\0';
    return a + b;
}

/* Appends one point per element of 'arr', named prefix + index ("temperature_0"...). */
static int add_array(struct mdx_reading *r, const char *prefix, const cJSON *arr, const char **why)
{
    char name[MDX_NAME_MAX + 1], digits[24];
    const cJSON *e;
    size_t index = 0, nd, i;
    int rc;

    if (!cJSON_IsArray(arr)) {
        *why = "wrong type";
        return MDX_EINVAL;
    }
    for (e = arr->child; e != NULL; e = e->next, index++) {
        /* Decimal digits of 'index', backwards, then reversed; no snprintf per point. */
        size_t v = index;

        nd = 0;
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        for (i = 0; i < nd / 2; i++) {
            char c = digits[i];

            digits[i] = digits[nd - 1 - i];
            digits[nd - 1 - i] = c;
        }
        digits[nd] = '\0';
        rc = mdx_reading_add(r, name, make_name(name, prefix, digits), e, why);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

static int add_vibration(struct mdx_reading *r, const cJSON *vib, const char **why)
{
    char name[MDX_NAME_MAX + 1];
    const cJSON *axis;
    size_t k;
    int rc;

    if (!cJSON_IsObject(vib)) {
        *why = "wrong type";
        return MDX_EINVAL;
    }
    for (k = 0; k < sizeof(vibration_axes) / sizeof(vibration_axes[0]); k++) {
        axis = cJSON_GetObjectItemCaseSensitive(vib, vibration_axes[k]);
        if (axis == NULL) {
            continue;
        }
        rc = mdx_reading_add(r, name, make_name(name, "vibration_", vibration_axes[k]), axis, why);
        if (rc != MDX_OK) {
            return rc;
        }
    }
    return MDX_OK;
}

static int field_decode(const cJSON *root, const struct mdx_msg *msg, struct mdx_points *out,
                        const char **why)
{
    const cJSON *group;
    struct mdx_reading r;
    int rc;

    rc = mdx_reading_open(&r, root, msg, out, why);
    if (rc != MDX_OK) {
        return rc;
    }
    group = cJSON_GetObjectItemCaseSensitive(root, "motor_currents");
    if (group != NULL && (rc = add_array(&r, "motor_current_", group, why)) != MDX_OK) {
        return rc;
    }
    group = cJSON_GetObjectItemCaseSensitive(root, "vibration");
    if (group != NULL && (rc = add_vibration(&r, group, why)) != MDX_OK) {
        return rc;
    }
    group = cJSON_GetObjectItemCaseSensitive(root, "temperatures");
    if (group != NULL && (rc = add_array(&r, "temperature_", group, why)) != MDX_OK) {
        return rc;
    }
    return mdx_reading_end(&r, why);
}

const struct mdx_decoder mdx_decoder_field = {
    .name = "field",
    .matches = field_matches,
    .decode = field_decode,
};
