/* SPDX-License-Identifier: Apache-2.0 */
/*
 * detect_state.c - the detector's state as bytes and back (detect.h), so
 * that the store can keep a series' baseline across a partition handover.
 *
 * The fixed fields are written one by one in little endian, whatever the
 * host; the estimators' states, whose layout is each estimator's own, are
 * copied as they are, behind a header that names the byte order and every
 * estimator's state size. A blob that does not match this build is
 * refused: the caller then starts the series cold, as before.
 */
#include <string.h>

#include "modax/detect.h"
#include "modax/status.h"

#define HEADER_BYTES 20
#define FIELDS_BYTES 40
#define VIEWS_BYTES (MDX_VIEWS * 4 * 4)

_Static_assert(HEADER_BYTES + FIELDS_BYTES + VIEWS_BYTES + MDX_DETECTOR_EST_BYTES ==
                   MDX_DETECTOR_STATE_BYTES,
               "the state format's size");
/* A changed struct mdx_detector needs a new format version (and this size updated). */
_Static_assert(sizeof(struct mdx_detector) == 384, "struct mdx_detector changed: bump the format");

static const uint8_t magic[4] = {'M', 'D', 'X', 'D'};

static uint8_t host_order(void)
{
    const uint16_t probe = 1;
    uint8_t first;

    memcpy(&first, &probe, 1);
    return first == 1 ? 1 : 2;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
    return p + 4;
}

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
    return p + 8;
}

static uint8_t *put_f32(uint8_t *p, float f)
{
    uint32_t v;

    memcpy(&v, &f, sizeof(v));
    return put_u32(p, v);
}

static uint8_t *put_f64(uint8_t *p, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof(v));
    return put_u64(p, v);
}

static uint16_t get_u16(const uint8_t **p)
{
    uint16_t v = (uint16_t)((*p)[0] | (*p)[1] << 8);

    *p += 2;
    return v;
}

static uint32_t get_u32(const uint8_t **p)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        v |= (uint32_t)(*p)[i] << (8 * i);
    }
    *p += 4;
    return v;
}

static uint64_t get_u64(const uint8_t **p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v |= (uint64_t)(*p)[i] << (8 * i);
    }
    *p += 8;
    return v;
}

static float get_f32(const uint8_t **p)
{
    uint32_t v = get_u32(p);
    float f;

    memcpy(&f, &v, sizeof(f));
    return f;
}

static double get_f64(const uint8_t **p)
{
    uint64_t v = get_u64(p);
    double d;

    memcpy(&d, &v, sizeof(d));
    return d;
}

/* The header this build writes, and accepts. */
static void header(uint8_t h[HEADER_BYTES])
{
    const struct mdx_estimator *const *est = mdx_estimators();
    uint8_t *p = h;

    memcpy(p, magic, sizeof(magic));
    p = put_u16(p + 4, MDX_DETECTOR_STATE_VERSION);
    *p++ = host_order();
    *p++ = MDX_ESTIMATORS;
    for (int i = 0; i < MDX_ESTIMATORS; i++) {
        p = put_u16(p, (uint16_t)est[i]->state_size);
    }
}

void mdx_detector_save(const struct mdx_detector *d, uint8_t out[MDX_DETECTOR_STATE_BYTES])
{
    uint8_t *p = out;

    header(p);
    p += HEADER_BYTES;
    p = put_u32(p, d->n);
    *p++ = d->gap_points;
    *p++ = d->drift_raised;
    p = put_u16(p, d->hold);
    p = put_u64(p, (uint64_t)d->last_ts);
    p = put_f32(p, d->interval_ms);
    p = put_f32(p, d->peak);
    p = put_f64(p, d->mean);
    p = put_f64(p, d->var);
    for (int i = 0; i < MDX_VIEWS; i++) {
        p = put_f32(p, d->view[i].q);
        p = put_f32(p, d->view[i].top);
        p = put_f32(p, d->view[i].top_long);
        p = put_f32(p, d->view[i].block_top);
    }
    memcpy(p, d->est, MDX_DETECTOR_EST_BYTES);
}

int mdx_detector_load(struct mdx_detector *d, const uint8_t *blob, size_t len)
{
    uint8_t want[HEADER_BYTES];
    const uint8_t *p = blob + HEADER_BYTES;
    struct mdx_detector v;

    if (blob == NULL || len != MDX_DETECTOR_STATE_BYTES) {
        return MDX_EINVAL;
    }
    header(want);
    if (memcmp(blob, want, HEADER_BYTES) != 0) {
        return MDX_EINVAL;
    }
    mdx_detector_init(&v); /* also readies detect.c's estimator offsets */
    v.n = get_u32(&p);
    v.gap_points = *p++;
    v.drift_raised = *p++;
    v.hold = get_u16(&p);
    v.last_ts = (int64_t)get_u64(&p);
    v.interval_ms = get_f32(&p);
    v.peak = get_f32(&p);
    v.mean = get_f64(&p);
    v.var = get_f64(&p);
    for (int i = 0; i < MDX_VIEWS; i++) {
        v.view[i].q = get_f32(&p);
        v.view[i].top = get_f32(&p);
        v.view[i].top_long = get_f32(&p);
        v.view[i].block_top = get_f32(&p);
    }
    memcpy(v.est, p, MDX_DETECTOR_EST_BYTES);
    *d = v;
    return MDX_OK;
}
