/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secret.h - broker secrets of devices and identities (issue 6): random
 * generation and argon2id hashing (libargon2). Only the encoded hash
 * ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") is stored; the secret is
 * printed once, when it is made.
 */
#ifndef MODAX_SECRET_H
#define MODAX_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define MDX_SECRET_TEXT_MAX 64    /* a generated secret, with NUL */

/* argon2id cost; the defaults come from config (auth.argon2_*). */
struct mdx_argon2_cost {
    uint32_t t_cost;              /* iterations */
    uint32_t m_cost_kib;          /* memory */
    uint32_t parallelism;
};

/* A new random secret: 32 bytes from OpenSSL's RAND_bytes, base64url. MDX_EIO if no randomness. */
int mdx_secret_generate(char out[MDX_SECRET_TEXT_MAX]);
/* The encoded argon2id hash of 'secret' (random salt) into out. MDX_EINVAL/MDX_ENOMEM on failure. */
int mdx_secret_hash(const char *secret, const struct mdx_argon2_cost *cost, char *out,
                    size_t len);
/* MDX_OK if 'secret' matches 'encoded'; MDX_EDENIED if not; MDX_EINVAL for a malformed hash. */
int mdx_secret_verify(const char *encoded, const char *secret);

#endif
