/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apikey.h - API keys: generation, parsing and verification.
 *
 * A key is shown once, at creation: "mdx_" + 16 hex characters of public
 * id + "_" + 43 base64url characters of secret (32 random bytes from
 * OpenSSL's RAND_bytes). The store keeps the id and the SHA-256 of the
 * secret (struct mdx_apikey); a 256-bit random secret needs no slow hash.
 * Verification compares hashes in constant time.
 */
#ifndef MODAX_APIKEY_H
#define MODAX_APIKEY_H

#include <stddef.h>

#include "modax/store.h"

#define MDX_APIKEY_TEXT_MAX 72  /* buffer for the key text, with NUL */

/*
 * Makes a new key for 'tenant' ("" with MDX_ROLE_PLATFORM) and 'role':
 * fills 'rec' (id, tenant, role, hash, label, created_ms) for
 * mdx_store_apikey_add() and writes the key text (to show once) to 'text'.
 * MDX_EINVAL for a bad tenant/role pair, MDX_EIO if no randomness.
 */
int mdx_apikey_generate(const char *tenant, int role, const char *label, int64_t now_ms,
                        struct mdx_apikey *rec, char text[MDX_APIKEY_TEXT_MAX]);

/*
 * Splits a presented key into its id and the SHA-256 of its secret.
 * MDX_EINVAL if it is not of the key format (a malformed key).
 */
int mdx_apikey_parse(const char *text, char id[MDX_APIKEY_ID_LEN + 1], uint8_t hash[32]);

/* 1 if 'hash' matches the stored key's and the key is not revoked; constant time in the hash. */
int mdx_apikey_matches(const struct mdx_apikey *rec, const uint8_t hash[32]);

/* "viewer", "operator", "admin", "platform"; parse: MDX_EINVAL if unknown. */
const char *mdx_role_name(int role);
int mdx_role_parse(const char *name, int *out);

#endif
