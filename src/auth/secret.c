/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secret.c - broker secrets (secret.h): 32 random bytes from OpenSSL as
 * base64url text, and their argon2id hashes in the PHC encoding
 * (libargon2). libargon2 compares hashes in constant time.
 */
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/encode.h"
#include "modax/secret.h"
#include "modax/status.h"

#define SECRET_BYTES 32
#define SALT_BYTES 16
#define HASH_BYTES 32
/* A secret longer than this is refused without hashing (ours are 43 characters). */
#define SECRET_MAX 256

int mdx_secret_generate(char out[MDX_SECRET_TEXT_MAX])
{
    unsigned char raw[SECRET_BYTES];

    out[0] = '\0';
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return MDX_EIO;
    }
    mdx_base64url_encode(raw, sizeof(raw), out, MDX_SECRET_TEXT_MAX);
    OPENSSL_cleanse(raw, sizeof(raw));
    return MDX_OK;
}

int mdx_secret_hash(const char *secret, const struct mdx_argon2_cost *cost, char *out,
                    size_t len)
{
    unsigned char salt[SALT_BYTES];
    size_t n = secret != NULL ? strnlen(secret, SECRET_MAX + 1) : 0;
    int rc;

    if (len > 0) {
        out[0] = '\0';
    }
    if (n == 0 || n > SECRET_MAX || cost == NULL ||
        len < argon2_encodedlen(cost->t_cost, cost->m_cost_kib, cost->parallelism, SALT_BYTES,
                                HASH_BYTES, Argon2_id)) {
        return MDX_EINVAL;
    }
    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        return MDX_EIO;
    }
    rc = argon2id_hash_encoded(cost->t_cost, cost->m_cost_kib, cost->parallelism, secret, n,
                               salt, sizeof(salt), HASH_BYTES, out, len);
    if (rc != ARGON2_OK) {
        out[0] = '\0';
        return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? MDX_ENOMEM : MDX_EINVAL;
    }
    return MDX_OK;
}

/*
 * The cost in an encoded hash stays within what config allows (auth_conf.c),
 * so a corrupted row cannot make one check allocate gigabytes or spin.
 */
static int cost_sane(const char *encoded)
{
    unsigned m = 0, t = 0, p = 0;

    return sscanf(encoded, "$argon2id$v=19$m=%u,t=%u,p=%u$", &m, &t, &p) == 3 && m >= 8 &&
           m <= 4194304 && t >= 1 && t <= 64 && p >= 1 && p <= 16;
}

int mdx_secret_verify(const char *encoded, const char *secret)
{
    size_t n;
    int rc;

    if (encoded == NULL || strncmp(encoded, "$argon2id$", 10) != 0 || !cost_sane(encoded)) {
        return MDX_EINVAL;
    }
    n = secret != NULL ? strnlen(secret, SECRET_MAX + 1) : 0;
    if (n == 0 || n > SECRET_MAX) {
        return MDX_EDENIED;
    }
    rc = argon2id_verify(encoded, secret, n);
    switch (rc) {
    case ARGON2_OK: return MDX_OK;
    case ARGON2_VERIFY_MISMATCH: return MDX_EDENIED;
    case ARGON2_MEMORY_ALLOCATION_ERROR: return MDX_ENOMEM;
    default: return MDX_EINVAL; /* malformed hash, or parameters out of libargon2's bounds */
    }
}
