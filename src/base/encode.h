/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encode.h - hex, base64, base64url, percent-encoding and SHA-256 / HMAC-SHA256
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
/* Base64 of the MD5 of 'n' bytes (a Content-MD5 header's value) into 'out' (25 bytes). */
void mdx_md5_base64(const void *d, size_t n, char out[25]);
/* HMAC-SHA256 of 'd' with 'key' into 'out' (32 bytes). MDX_OK or MDX_EINVAL. */
int mdx_hmac_sha256(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32]);
/* Base64 of 'n' bytes; a new string the caller frees, or NULL. */
char *mdx_base64_encode(const void *d, size_t n);
/* Decodes base64 'b64' into a new buffer (*out, caller frees; wipe when secret). */
int mdx_base64_decode(const char *b64, unsigned char **out, size_t *outlen);

/* Characters of the base64url text of 'n' bytes (no padding), without the NUL. */
#define MDX_BASE64URL_LEN(n) (((n) * 4 + 2) / 3)
/*
 * Base64url (RFC 4648 section 5: '-' and '_', no padding) of 'n' bytes into
 * 'out', which has room for 'outlen' bytes; no heap, so secrets stay on the
 * caller's stack. Returns the characters written (the NUL follows), or 0
 * with 'out' empty when MDX_BASE64URL_LEN(n) + 1 does not fit.
 */
size_t mdx_base64url_encode(const void *d, size_t n, char *out, size_t outlen);
/*
 * Decodes the 'slen' base64url characters at 's' (no padding) into 'out'
 * (room for 'outlen' bytes) and sets *n to the bytes written. MDX_EINVAL
 * for a character outside the alphabet, a length no encoding has, unused
 * low bits that are not zero (so each text has one decoding) or too little
 * room; 'out' may then hold part of the bytes (wipe it when secret).
 */
int mdx_base64url_decode(const char *s, size_t slen, unsigned char *out, size_t outlen,
                         size_t *n);

#endif
