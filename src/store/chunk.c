/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunk.c - encoder and decoder of the store's compressed chunks.
 *
 * Timestamps: delta-of-delta as zigzag varints (regular sampling costs one
 * byte). Values: XOR with the previous value, leading and trailing zero
 * bytes dropped. See chunk.h for the layout. All timestamp arithmetic is
 * done modulo 2^64 on unsigned integers, so any int64 input round-trips
 * without undefined behaviour. The decoder checks every length against the
 * end of the blob and that timestamps increase.
 */
#include <string.h>

#include "modax/alloc.h"
#include "modax/msg.h"
#include "modax/status.h"
#include "store/chunk.h"

#define CTRL_FLAG 0x80u
#define CTRL_DECIMAL 9u
#define DECIMALS_MAX 7
#define VARINT_MAX 10
#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53: integers below are exact doubles */

static const double pow10_table[DECIMALS_MAX + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};

void mdx_chunk_init(struct mdx_chunk *c)
{
    memset(c, 0, sizeof(*c));
}

void mdx_chunk_fini(struct mdx_chunk *c)
{
    mdx_free(c->data);
    mdx_chunk_init(c);
}

void mdx_chunk_reset(struct mdx_chunk *c)
{
    c->len = 0;
    c->n = 0;
    c->t_start = 0;
    c->t_end = 0;
    c->prev_delta = 0;
    c->prev_bits = 0;
}

static uint64_t zigzag(uint64_t v)
{
    return (v << 1) ^ ((v >> 63) ? UINT64_MAX : 0);
}

static uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ ((z & 1) ? UINT64_MAX : 0);
}

static uint64_t double_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    return b;
}

static double bits_double(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a varint; returns NULL if truncated or longer than 10 bytes. */
static const uint8_t *get_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    unsigned shift = 0;

    for (int i = 0; i < VARINT_MAX; i++) {
        if (p >= end) {
            return NULL;
        }
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return p;
        }
        shift += 7;
    }
    return NULL;
}

/* Control byte and meaningful bytes of 'x' (the XOR of two values). */
static uint8_t *put_xor(uint8_t *p, uint64_t x, unsigned flags)
{
    uint8_t ctrl = (flags & MDX_POINT_TS_SUBSTITUTED) ? CTRL_FLAG : 0;
    unsigned lead, trail, m;

    if (x == 0) {
        *p++ = ctrl;
        return p;
    }
    lead = (unsigned)__builtin_clzll(x) / 8;
    trail = (unsigned)__builtin_ctzll(x) / 8;
    m = 8 - lead - trail;
    *p++ = (uint8_t)(ctrl | (lead << 4) | m);
    x >>= 8 * trail;
    for (unsigned i = 0; i < m; i++) {
        *p++ = (uint8_t)(x >> (8 * i));
    }
    return p;
}

/* Reads a control byte's value bytes into *x; returns NULL if invalid or truncated. */
static const uint8_t *get_xor(const uint8_t *p, const uint8_t *end, uint8_t ctrl, uint64_t *x)
{
    unsigned lead = (ctrl >> 4) & 0x07u;
    unsigned m = ctrl & 0x0fu;
    uint64_t v = 0;

    if (m == 0) {
        if (lead != 0) {
            return NULL;
        }
        *x = 0;
        return p;
    }
    if (lead + m > 8 || (size_t)(end - p) < m) {
        return NULL;
    }
    for (unsigned i = 0; i < m; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    *x = v << (8 * (8 - lead - m));
    return p + m;
}

/*
 * If 'v' is exactly n / 10^k (n below 2^53 in magnitude), sets *n and
 * returns 1. Exactly means the division gives back the same bits, which
 * the decoder repeats. Division by a power of ten is correctly rounded,
 * so a decimal parsed from JSON ("45.27") qualifies at its own k.
 */
static int decimal_at(double v, int k, int64_t *n)
{
    double scaled = v * pow10_table[k];
    double r;

    if (!(scaled > -EXACT_INT_LIMIT && scaled < EXACT_INT_LIMIT)) {
        return 0; /* also false for NaN */
    }
    r = (double)(int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if (double_bits(r / pow10_table[k]) != double_bits(v)) {
        return 0;
    }
    *n = (int64_t)r;
    return 1;
}

/* Decimal encoding of 'bits' after 'prev_bits', or NULL when the XOR one must be used. */
static uint8_t *put_decimal(uint8_t *p, uint64_t bits, uint64_t prev_bits, unsigned flags)
{
    double v = bits_double(bits), prev = bits_double(prev_bits);
    int64_t n, pn;

    /* A value with more decimals than any k allows (most non-decimal doubles) stops here. */
    if (!decimal_at(v, DECIMALS_MAX, &n) || !decimal_at(prev, DECIMALS_MAX, &pn)) {
        return NULL;
    }
    /* The fewest decimals at which both are exact (44.9 after 44.78: two). */
    for (int k = 0; k <= DECIMALS_MAX; k++) {
        if (decimal_at(v, k, &n) && decimal_at(prev, k, &pn)) {
            *p++ = (uint8_t)(((flags & MDX_POINT_TS_SUBSTITUTED) ? CTRL_FLAG : 0) |
                             ((unsigned)k << 4) | CTRL_DECIMAL);
            return put_varint(p, zigzag((uint64_t)n - (uint64_t)pn));
        }
    }
    return NULL;
}

/* Reads a decimal value after 'prev_bits' into *bits; NULL if invalid or truncated. */
static const uint8_t *get_decimal(const uint8_t *p, const uint8_t *end, uint8_t ctrl,
                                  uint64_t prev_bits, uint64_t *bits)
{
    int k = (ctrl >> 4) & 0x07;
    int64_t pn, n;
    uint64_t z;

    if (!decimal_at(bits_double(prev_bits), k, &pn)) {
        return NULL;
    }
    p = get_varint(p, end, &z);
    if (p == NULL) {
        return NULL;
    }
    n = (int64_t)((uint64_t)pn + unzigzag(z));
    if ((double)n <= -EXACT_INT_LIMIT || (double)n >= EXACT_INT_LIMIT) {
        return NULL;
    }
    *bits = double_bits((double)n / pow10_table[k]);
    return p;
}

static int reserve(struct mdx_chunk *c, size_t extra)
{
    size_t want = c->len + extra;
    size_t cap = c->cap != 0 ? c->cap : 64;
    uint8_t *p;

    if (want <= c->cap) {
        return MDX_OK;
    }
    while (cap < want) {
        cap += cap / 2;
    }
    p = mdx_realloc(c->data, cap);
    if (p == NULL) {
        return MDX_ENOMEM;
    }
    c->data = p;
    c->cap = cap;
    return MDX_OK;
}

void mdx_chunk_trim(struct mdx_chunk *c, size_t slack)
{
    size_t cap = c->len + slack;
    uint8_t *p;

    if (c->cap <= cap + cap / 2) {
        return;
    }
    p = mdx_realloc(c->data, cap);
    if (p != NULL) { /* else keep the larger block */
        c->data = p;
        c->cap = cap;
    }
}

int mdx_chunk_append(struct mdx_chunk *c, int64_t ts_ms, double value, unsigned flags)
{
    uint64_t bits = double_bits(value);
    uint8_t *p;

    if (c->n > 0 && ts_ms <= c->t_end) {
        return MDX_EINVAL;
    }
    if (reserve(c, MDX_CHUNK_POINT_MAX + 1) != MDX_OK) {
        return MDX_ENOMEM;
    }
    p = c->data + c->len;
    if (c->n == 0) {
        *p++ = MDX_CHUNK_FORMAT;
        *p++ = (uint8_t)(((flags & MDX_POINT_TS_SUBSTITUTED) ? CTRL_FLAG : 0) | 8u);
        *p++ = 0; /* zigzag(ts - t_start) with t_start = ts */
        for (int i = 0; i < 8; i++) {
            *p++ = (uint8_t)(bits >> (8 * i));
        }
        c->t_start = ts_ms;
        c->prev_delta = 0;
    } else {
        uint64_t delta = (uint64_t)ts_ms - (uint64_t)c->t_end;
        uint8_t dec[1 + VARINT_MAX], *dec_end;
        uint8_t *xor_end;

        p = put_varint(p, zigzag(delta - c->prev_delta));
        /* Whichever value encoding is shorter; XOR when they tie (cheaper to decode). */
        dec_end = put_decimal(dec, bits, c->prev_bits, flags);
        xor_end = put_xor(p, bits ^ c->prev_bits, flags);
        if (dec_end != NULL && dec_end - dec < xor_end - p) {
            memcpy(p, dec, (size_t)(dec_end - dec));
            xor_end = p + (dec_end - dec);
        }
        p = xor_end;
        c->prev_delta = delta;
    }
    c->len = (size_t)(p - c->data);
    c->t_end = ts_ms;
    c->prev_bits = bits;
    c->n++;
    return MDX_OK;
}

int mdx_chunk_iter_init(struct mdx_chunk_iter *it, const uint8_t *data, size_t len,
                        int64_t t_start)
{
    memset(it, 0, sizeof(*it));
    it->ts = t_start;
    if (len == 0) {
        it->p = it->end = NULL;
        return MDX_OK;
    }
    if (data[0] != MDX_CHUNK_FORMAT && data[0] != 1) {
        return MDX_ECORRUPT;
    }
    it->decimals = data[0] >= 2;
    it->p = data + 1;
    it->end = data + len;
    return MDX_OK;
}

int mdx_chunk_iter_next(struct mdx_chunk_iter *it, struct mdx_chunk_point *pt)
{
    const uint8_t *p = it->p;
    uint64_t z, x;
    uint8_t ctrl;
    int64_t ts;

    if (p == it->end) {
        return 0;
    }
    if (it->i == 0) {
        ctrl = *p++;
        p = get_varint(p, it->end, &z);
        if (p == NULL) {
            return MDX_ECORRUPT;
        }
        ts = (int64_t)((uint64_t)it->ts + unzigzag(z));
        it->delta = 0;
    } else {
        p = get_varint(p, it->end, &z);
        if (p == NULL || p >= it->end) {
            return MDX_ECORRUPT;
        }
        ctrl = *p++;
        it->delta += unzigzag(z);
        ts = (int64_t)((uint64_t)it->ts + it->delta);
        if (ts <= it->ts) {
            return MDX_ECORRUPT;
        }
    }
    if ((ctrl & 0x0fu) == CTRL_DECIMAL && it->decimals && it->i > 0) {
        p = get_decimal(p, it->end, ctrl, it->bits, &x);
        if (p == NULL) {
            return MDX_ECORRUPT;
        }
        it->bits = x;
    } else {
        p = get_xor(p, it->end, ctrl, &x);
        if (p == NULL) {
            return MDX_ECORRUPT;
        }
        it->bits ^= x;
    }
    it->ts = ts;
    it->p = p;
    it->i++;
    pt->ts_ms = ts;
    pt->value = bits_double(it->bits);
    pt->flags = (ctrl & CTRL_FLAG) ? MDX_POINT_TS_SUBSTITUTED : 0;
    return 1;
}

int mdx_chunk_decode(const uint8_t *data, size_t len, int64_t t_start,
                     struct mdx_chunk_point *out, size_t max, size_t *n)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    size_t k = 0;
    int rc;

    *n = 0;
    rc = mdx_chunk_iter_init(&it, data, len, t_start);
    if (rc != MDX_OK) {
        return rc;
    }
    while ((rc = mdx_chunk_iter_next(&it, &pt)) == 1) {
        if (k == max) {
            return MDX_EFULL;
        }
        out[k++] = pt;
    }
    if (rc < 0) {
        return rc;
    }
    *n = k;
    return MDX_OK;
}

int mdx_chunk_load(struct mdx_chunk *c, int64_t t_start, const uint8_t *data, size_t len)
{
    struct mdx_chunk_iter it;
    struct mdx_chunk_point pt;
    int rc;

    mdx_chunk_reset(c);
    rc = mdx_chunk_iter_init(&it, data, len, t_start);
    if (rc != MDX_OK) {
        return rc;
    }
    while ((rc = mdx_chunk_iter_next(&it, &pt)) == 1) {
        if (it.i == 1) {
            c->t_start = pt.ts_ms;
        }
        c->t_end = pt.ts_ms;
    }
    if (rc < 0) {
        return rc;
    }
    if (reserve(c, len) != MDX_OK) {
        return MDX_ENOMEM;
    }
    if (len > 0) {
        memcpy(c->data, data, len);
    }
    c->len = len;
    c->n = it.i;
    c->prev_delta = it.delta;
    c->prev_bits = it.bits;
    return MDX_OK;
}
