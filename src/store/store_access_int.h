/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_access_int.h - the input checks of API keys and broker
 * credentials that the SQLite and PostgreSQL stores share
 * (store_access_check.c). Internal to src/store.
 */
#ifndef MODAX_STORE_ACCESS_INT_H
#define MODAX_STORE_ACCESS_INT_H

#include "modax/store.h"

/*
 * Non-zero if a device's new credentials can be stored: each NULL (keep),
 * "" (clear), or, for the secret, an encoded argon2id hash that fits, and
 * for the certificate 64 lower-case hex digits (SHA-256 of its DER).
 */
int mdx_store_cred_values_ok(const char *secret_hash, const char *cert_fingerprint);

/*
 * Non-zero if 'id' can be stored: a valid name, a secret hash, and a
 * service without a tenant or an operator of a valid tenant.
 */
int mdx_store_identity_ok(const struct mdx_broker_identity *id);

/*
 * Non-zero if 'key' can be stored: a valid id and label, and a platform
 * role exactly when it has no tenant.
 */
int mdx_store_apikey_ok(const struct mdx_apikey *key);
/* Non-zero if 'id' is an API key id: 1 to MDX_APIKEY_ID_LEN characters of [A-Za-z0-9_-]. */
int mdx_store_apikey_id_valid(const char *id);

#endif
