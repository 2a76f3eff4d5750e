/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for the edge
 * core, which links no crypto library: a device signs its Azure IoT Hub
 * SAS token with them. Small and portable, not fast; no heap.
 */
#ifndef MODAX_EDGE_SHA256_H
#define MODAX_EDGE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MDX_SHA256_LEN 32

struct mdx_sha256 {
    uint32_t h[8];
    uint8_t block[64];
    size_t fill;   /* bytes in 'block' */
    uint64_t bits; /* message length so far */
};

void mdx_sha256_init(struct mdx_sha256 *s);
void mdx_sha256_update(struct mdx_sha256 *s, const void *data, size_t len);
/* Writes the digest into 'out' (MDX_SHA256_LEN bytes); 's' must be initialised again to reuse. */
void mdx_sha256_final(struct mdx_sha256 *s, uint8_t out[MDX_SHA256_LEN]);

/* HMAC-SHA256 of 'msg' under 'key' into 'out'. */
void mdx_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                     uint8_t out[MDX_SHA256_LEN]);

#endif
