/* SPDX-License-Identifier: Apache-2.0 */
/*
 * decode.c - the decode stage: parses a telemetry payload once and hands
 * the JSON root to the first decoder of the table that recognises it.
 *
 * Also holds the rules all payload forms share (decode_internal.h). No
 * allocation per point: points go into the caller's bounded mdx_points.
 * The engine enforces the payload size limit before calling us, and logs
 * refusals; nothing here logs.
 */
#include <math.h>
#include <string.h>

#include "modax/status.h"
#include "modax/validate.h"

#include "decode_internal.h"

/* Tried in order; the first whose matches() accepts the root decodes it. */
static const struct mdx_decoder *const decoders[] = {
    &mdx_decoder_cloud, /* {"device_id":..,"sensor_data":{..}} */
    &mdx_decoder_field, /* original ESP32 firmware form */
    &mdx_decoder_batch, /* JSON array of either, from store-and-forward */
};

#define DECODER_COUNT (sizeof(decoders) / sizeof(decoders[0]))

static int is_json_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * 1 if the JSON text holds a NUL: a raw 0 byte or a \u0000 escape. cJSON
 * keeps strings NUL-terminated, so a NUL would silently cut a device id or
 * sensor name short ("att-1\u0000x" read as "att-1"). A backslash outside
 * a string is malformed anyway, so each backslash starts an escape here.
 */
static int has_nul(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 0) {
            return 1;
        }
        if (p[i] != '\\' || i + 1 >= len) {
            continue;
        }
        if (p[i + 1] == 'u' && i + 5 < len && p[i + 2] == '0' && p[i + 3] == '0' &&
            p[i + 4] == '0' && p[i + 5] == '0') {
            return 1;
        }
        i++; /* the escaped character, e.g. the second backslash of "\\\\" */
    }
    return 0;
}

int mdx_decode_parse(const uint8_t *p, size_t len, cJSON **root, const char **why)
{
    const char *end = NULL;
    const uint8_t *q;
    cJSON *r;

    *root = NULL;
    if (p == NULL || len == 0) {
        *why = "empty payload";
        return MDX_EINVAL;
    }
    if (!mdx_valid_utf8(p, len)) {
        *why = "invalid utf-8";
        return MDX_EINVAL;
    }
    /*
     * cJSON's require_null_terminated wants a NUL within 'len', which an
     * MQTT payload has not; so parse without it and check the tail here.
     * cJSON also returns NULL when it runs out of memory; we cannot tell
     * that apart, and refuse it as malformed.
     */
    r = cJSON_ParseWithLengthOpts((const char *)p, len, &end, 0);
    if (r == NULL) {
        *why = "malformed json";
        return MDX_EINVAL;
    }
    for (q = (const uint8_t *)end; q < p + len; q++) {
        if (!is_json_space(*q)) {
            cJSON_Delete(r);
            *why = "malformed json";
            return MDX_EINVAL;
        }
    }
    /* After the parse, so that a NUL where JSON allows none stays "malformed json". */
    if (has_nul(p, len)) {
        cJSON_Delete(r);
        *why = "nul character";
        return MDX_EINVAL;
    }
    *root = r;
    return MDX_OK;
}

int mdx_decode_device(const cJSON *obj, const struct mdx_msg *msg, const char **why)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(obj, "device_id");

    if (id == NULL) {
        return MDX_OK; /* the topic names the device */
    }
    if (!cJSON_IsString(id) || id->valuestring == NULL) {
        *why = "wrong type";
        return MDX_EINVAL;
    }
    if (strcmp(id->valuestring, msg->device) != 0) {
        *why = "device mismatch";
        return MDX_EINVAL;
    }
    return MDX_OK;
}

int mdx_decode_timestamp(const cJSON *obj, int64_t *ts_ms, int *present, const char **why)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "timestamp");
    double d;
    int64_t ts;

    *ts_ms = 0;
    *present = 0;
    if (t == NULL) {
        return MDX_OK;
    }
    if (!cJSON_IsNumber(t)) { /* ISO strings included: devices send epoch ms */
        *why = "wrong type";
        return MDX_EINVAL;
    }
    d = t->valuedouble;
    if (!isfinite(d)) {
        *why = "non-finite number";
        return MDX_EINVAL;
    }
    /* The cast is undefined outside int64_t, so check the range (+-2^63) first. */
    if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        *why = "bad timestamp";
        return MDX_EINVAL;
    }
    ts = (int64_t)d;
    if ((double)ts != d) { /* fractional milliseconds */
        *why = "bad timestamp";
        return MDX_EINVAL;
    }
    *ts_ms = ts;
    *present = 1;
    return MDX_OK;
}

/* Starts a reading with timestamp 'ts_ms' at the end of 'out'. */
static void reading_begin(struct mdx_reading *r, struct mdx_points *out, int64_t ts_ms)
{
    r->out = out;
    r->first = out->n;
    r->members = 0;
    r->ts_ms = ts_ms;
}

int mdx_reading_open(struct mdx_reading *r, const cJSON *obj, const struct mdx_msg *msg,
                     struct mdx_points *out, const char **why)
{
    int64_t ts;
    int present;
    int rc = mdx_decode_device(obj, msg, why);

    if (rc == MDX_OK) {
        rc = mdx_decode_timestamp(obj, &ts, &present, why);
    }
    if (rc == MDX_OK) {
        reading_begin(r, out, ts);
    }
    return rc;
}

int mdx_reading_add(struct mdx_reading *r, const char *name, size_t len, const cJSON *value,
                    const char **why)
{
    struct mdx_points *out = r->out;
    struct mdx_point *p;
    size_t i;

    /* Counted first, so that a reading of a million sensors stops at 257. */
    if (++r->members > MDX_SENSORS_PER_READING) {
        *why = "too many sensors";
        return MDX_EINVAL;
    }
    if (!cJSON_IsNumber(value)) {
        *why = "wrong type";
        return MDX_EINVAL;
    }
    if (!isfinite(value->valuedouble)) { /* cJSON reads 1e999 as inf */
        *why = "non-finite number";
        return MDX_EINVAL;
    }
    /* The charset is validate's; the length is checked here so that the name fits. */
    if (name == NULL || len > MDX_NAME_MAX) {
        *why = "bad sensor name";
        return MDX_EINVAL;
    }
    /* Duplicate sensor in one reading: keep the first (at most 256 to compare). */
    for (i = r->first; i < out->n; i++) {
        if (out->v[i].sensor_len == len && memcmp(out->v[i].sensor, name, len) == 0) {
            return MDX_OK;
        }
    }
    if (out->n >= out->cap) {
        *why = "too many points";
        return MDX_EINVAL;
    }
    p = &out->v[out->n++];
    memset(p, 0, sizeof(*p)); /* same bytes for the same input, padding and tail included */
    p->ts_ms = r->ts_ms;
    p->value = value->valuedouble;
    p->sensor_len = (uint8_t)len;
    memcpy(p->sensor, name, len);
    return MDX_OK;
}

int mdx_reading_end(const struct mdx_reading *r, const char **why)
{
    if (r->members == 0) {
        *why = "no sensors";
        return MDX_EINVAL;
    }
    return MDX_OK;
}

int mdx_decode_item(const cJSON *item, const struct mdx_msg *msg, struct mdx_points *out,
                    const char **why)
{
    size_t k;

    if (cJSON_IsArray(item)) {
        *why = "nested batch";
        return MDX_EINVAL;
    }
    for (k = 0; k < DECODER_COUNT; k++) {
        if (decoders[k] != &mdx_decoder_batch && decoders[k]->matches(item)) {
            return decoders[k]->decode(item, msg, out, why);
        }
    }
    *why = "unknown form";
    return MDX_EINVAL;
}

int mdx_decode(const struct mdx_msg *msg, struct mdx_points *out, const char **why)
{
    size_t start = out->n;
    cJSON *root = NULL;
    size_t k;
    int rc;

    rc = mdx_decode_parse(msg->payload, msg->len, &root, why);
    if (rc != MDX_OK) {
        return rc;
    }
    for (k = 0; k < DECODER_COUNT && !decoders[k]->matches(root); k++) {
    }
    if (k < DECODER_COUNT) {
        rc = decoders[k]->decode(root, msg, out, why);
    } else {
        *why = "unknown form"; /* scalars and unrecognised objects */
        rc = MDX_EINVAL;
    }
    if (rc != MDX_OK) {
        out->n = start; /* a refused message leaves no points behind */
    }
    cJSON_Delete(root);
    return rc;
}
