/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encode.h - hex, base64, percent-encoding and SHA-256 / HMAC-SHA256
 * (through OpenSSL): the encodings and digests the signers, the API keys
 * and the secrets share.
 */
#ifndef MODAX_BASE_ENCODE_H
#define MODAX_BASE_ENCODE_H

#include <stddef.h>

#include "base/buf.h"

/*
 * Appends 's' percent-encoded as RFC 3986 and SigV4 want: A-Z a-z 0-9 - . _ ~
 * stay, every other byte becomes %XX (upper-case hex); '/' stays when
 * keep_slash (object key paths), else it is %2F (query values).
 */
int mdx_uri_encode(struct mdx_buf *b, const char *s, int keep_slash);

/* Lower-case hex of 'n' bytes into 'out' (2n+1 bytes). */
void mdx_hex(const unsigned char *d, size_t n, char *out);
/* Hex SHA-256 of 'n' bytes into 'out' (65 bytes). */
void mdx_sha256_hex(const void *d, size_t n, char out[65]);
/* HMAC-SHA256 of 'd' with 'key' into 'out' (32 bytes). MDX_OK or MDX_EINVAL. */
int mdx_hmac_sha256(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32]);
/* Base64 of 'n' bytes; a new string the caller frees, or NULL. */
char *mdx_base64_encode(const void *d, size_t n);
/* Decodes base64 'b64' into a new buffer (*out, caller frees; wipe when secret). */
int mdx_base64_decode(const char *b64, unsigned char **out, size_t *outlen);

#endif
