/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detector_saves.c - the alerting stage's detector states in the store
 * (alerting_int.h): the rows a batch saves, and the states a device's
 * series resume from when the stage first sees the device (after a
 * partition handover or a restart).
 *
 * Which series to save, and when, is the stage's choice (alerting.c);
 * this file turns detectors into rows and rows back into detectors, and
 * refuses, counting them, saved states this build cannot read.
 */
#include <string.h>

#include "alert/alerting_int.h"
#include "modax/alloc.h"
#include "modax/status.h"

/* What a listing of one device's saved states collects. */
struct load_ctx {
    struct mdx_saved_detector *v;
    size_t n, cap, max;
    uint64_t refused;
};

static int load_row(void *arg, const struct mdx_detector_state_row *r)
{
    struct load_ctx *c = arg;
    struct mdx_saved_detector *v;
    size_t len = strlen(r->sensor);

    if (c->n >= c->max) {
        return MDX_OK;
    }
    if (r->format != MDX_DETECTOR_STATE_VERSION || len == 0 || len > MDX_NAME_MAX) {
        c->refused++;
        return MDX_OK;
    }
    v = mdx_grow(c->v, &c->cap, c->n + 1, sizeof(*v), 4);
    if (v == NULL) {
        return MDX_ENOMEM;
    }
    c->v = v;
    if (mdx_detector_load(&v[c->n].det, r->state, r->len) != MDX_OK) {
        c->refused++;
        return MDX_OK;
    }
    memcpy(v[c->n].sensor, r->sensor, len + 1);
    c->n++;
    return MDX_OK;
}

int mdx_saved_detectors_load(struct mdx_store *st, const char *tenant, const char *device,
                             size_t max, struct mdx_saved_detector **out, size_t *n,
                             uint64_t *refused)
{
    struct load_ctx c = {NULL, 0, 0, max, 0};
    int rc = mdx_store_detector_state_list(st, tenant, device, load_row, &c);

    *refused += c.refused;
    if (rc != MDX_OK || c.n == 0) {
        mdx_free(c.v);
        c.v = NULL;
        c.n = 0;
    }
    *out = c.v;
    *n = c.n;
    return rc;
}

int mdx_state_batch_init(struct mdx_state_batch *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->rows = mdx_calloc(cap, sizeof(*b->rows));
    b->bytes = mdx_calloc(cap, sizeof(*b->bytes));
    b->owners = mdx_calloc(cap, sizeof(*b->owners));
    b->cap = cap;
    if (b->rows == NULL || b->bytes == NULL || b->owners == NULL) {
        mdx_state_batch_fini(b);
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

void mdx_state_batch_fini(struct mdx_state_batch *b)
{
    mdx_free(b->rows);
    mdx_free(b->bytes);
    mdx_free(b->owners);
    memset(b, 0, sizeof(*b));
}

int mdx_state_batch_add(struct mdx_state_batch *b, const char *tenant, const char *device,
                        const char *sensor, const struct mdx_detector *det, void *owner,
                        int64_t now_ms)
{
    struct mdx_detector_state_row *r;

    if (b->n >= b->cap) {
        return 0;
    }
    r = &b->rows[b->n];
    mdx_detector_save(det, b->bytes[b->n]);
    r->tenant = tenant;
    r->device = device;
    r->sensor = sensor;
    r->format = MDX_DETECTOR_STATE_VERSION;
    r->state = b->bytes[b->n];
    r->len = MDX_DETECTOR_STATE_BYTES;
    r->last_ts_ms = det->last_ts;
    r->saved_ms = now_ms;
    b->owners[b->n] = owner;
    b->n++;
    return 1;
}
