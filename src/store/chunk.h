/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunk.h - the compressed chunk of one series: internal to the store.
 *
 * A chunk holds the points of one series, sorted by timestamp, each
 * timestamp once. It is stored as one blob with its first timestamp
 * (t_start) kept outside, in the chunks row. Blob layout, byte-aligned so
 * that encoding and decoding stay cheap:
 *
 *   format byte (MDX_CHUNK_FORMAT)
 *   first point:  control byte, zigzag varint (ts - t_start), 8 raw value bytes
 *   each next:    zigzag varint delta-of-delta of ts, control byte, value bytes
 *
 * The control byte is bit 7: MDX_POINT_TS_SUBSTITUTED; then one of two
 * value encodings, told apart by bits 3..0:
 *   0..8  XOR: bits 6..4 are the leading zero bytes of (value bits XOR
 *         previous value bits), bits 3..0 the number of meaningful bytes
 *         that follow (least significant first); trailing zero bytes are
 *         dropped.
 *   9     decimal (format 2): both the value and the previous value are
 *         exactly n / 10^k for integers n below 2^53, with k = bits 6..4;
 *         a zigzag varint of the difference of the two n follows. Sensor
 *         readings such as 45.27 cost one or two bytes instead of six to
 *         eight. The encoder uses it only when decoding gives back the
 *         very same bits.
 * The first point is XORed with 0 and always has 8 meaningful bytes.
 *
 * An appender (struct mdx_chunk) keeps the encoder state, so adding a
 * point newer than every point in it costs O(1).
 */
#ifndef MODAX_STORE_CHUNK_H
#define MODAX_STORE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#define MDX_CHUNK_FORMAT 2 /* 1 = XOR values only; still read */
/* Worst case bytes of one encoded point: varint 10 + control 1 + value 8. */
#define MDX_CHUNK_POINT_MAX 19

struct mdx_chunk_point {
    int64_t ts_ms;
    double value;
    uint8_t flags;            /* MDX_POINT_* */
};

/* An encoded chunk plus the state needed to append to it. */
struct mdx_chunk {
    uint8_t *data;            /* owned; 'len' bytes used of 'cap' */
    size_t len;
    size_t cap;
    int64_t t_start;          /* ts of the first point; valid if n > 0 */
    int64_t t_end;            /* ts of the last point; valid if n > 0 */
    uint32_t n;               /* points */
    uint64_t prev_delta;      /* last ts delta, modulo 2^64 */
    uint64_t prev_bits;       /* bits of the last value */
};

/* Decodes a blob point by point. Borrows the blob. */
struct mdx_chunk_iter {
    const uint8_t *p;
    const uint8_t *end;
    int64_t ts;
    uint64_t delta;
    uint64_t bits;
    uint32_t i;               /* points returned so far */
    int decimals;             /* format 2: decimal values may appear */
};

/* An empty chunk with no buffer. */
void mdx_chunk_init(struct mdx_chunk *c);
/* Frees the buffer; 'c' is empty afterwards. Accepts a zeroed chunk. */
void mdx_chunk_fini(struct mdx_chunk *c);
/* Empties 'c' but keeps its buffer for reuse. */
void mdx_chunk_reset(struct mdx_chunk *c);

/*
 * Gives back buffer space beyond 'len' + 'slack' bytes when that is much
 * more than needed. Bounds the memory of chunks kept between batches.
 */
void mdx_chunk_trim(struct mdx_chunk *c, size_t slack);

/*
 * Appends one point. The first point sets t_start. Returns MDX_OK,
 * MDX_EINVAL if 'ts_ms' is not after t_end, or MDX_ENOMEM (then 'c' is
 * unchanged).
 */
int mdx_chunk_append(struct mdx_chunk *c, int64_t ts_ms, double value, unsigned flags);

/*
 * Replaces the content of 'c' by a copy of the blob 'data' (length 'len',
 * first timestamp 't_start') and restores the encoder state, so that
 * appending can go on. Returns MDX_OK, MDX_ECORRUPT (then 'c' is empty)
 * or MDX_ENOMEM.
 */
int mdx_chunk_load(struct mdx_chunk *c, int64_t t_start, const uint8_t *data, size_t len);

/* Starts decoding 'data'. Returns MDX_OK or MDX_ECORRUPT for a wrong format byte. */
int mdx_chunk_iter_init(struct mdx_chunk_iter *it, const uint8_t *data, size_t len,
                        int64_t t_start);
/*
 * Next point into *pt. Returns 1 for a point, 0 at the end, MDX_ECORRUPT
 * for a truncated or inconsistent blob (never reads past the end).
 */
int mdx_chunk_iter_next(struct mdx_chunk_iter *it, struct mdx_chunk_point *pt);

/*
 * Decodes the whole blob into 'out' (room for 'max' points); *n gets the
 * count. Returns MDX_OK, MDX_ECORRUPT, or MDX_EFULL if 'max' is too small.
 */
int mdx_chunk_decode(const uint8_t *data, size_t len, int64_t t_start,
                     struct mdx_chunk_point *out, size_t max, size_t *n);

#endif
