/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_access_check.c - checks of API key ids and broker credentials
 * before either back end stores them (store_access_int.h).
 */
#include <string.h>

#include "modax/validate.h"
#include "store/store_access_int.h"

static int name_ok(const char *s)
{
    return s != NULL && mdx_valid_segment(s, strnlen(s, MDX_NAME_MAX + 1));
}

/* An encoded argon2id hash that fits the stored column. */
static int hash_ok(const char *s)
{
    return strnlen(s, MDX_SECRET_HASH_MAX) < MDX_SECRET_HASH_MAX &&
           strncmp(s, "$argon2id$", 10) == 0;
}

/* 64 lower-case hex digits. */
static int fingerprint_ok(const char *s)
{
    for (int i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[64] == '\0';
}

int mdx_store_cred_values_ok(const char *secret_hash, const char *cert_fingerprint)
{
    return (secret_hash == NULL || secret_hash[0] == '\0' || hash_ok(secret_hash)) &&
           (cert_fingerprint == NULL || cert_fingerprint[0] == '\0' ||
            fingerprint_ok(cert_fingerprint));
}

int mdx_store_identity_ok(const struct mdx_broker_identity *id)
{
    if (!name_ok(id->name) || id->secret_hash[0] == '\0' || !hash_ok(id->secret_hash)) {
        return 0;
    }
    switch (id->kind) {
    case MDX_IDENTITY_SERVICE: return id->tenant[0] == '\0';
    case MDX_IDENTITY_OPERATOR: return name_ok(id->tenant);
    default: return 0;
    }
}

int mdx_store_apikey_id_valid(const char *id)
{
    size_t n = id != NULL ? strnlen(id, MDX_APIKEY_ID_LEN + 1) : 0;

    return n > 0 && n <= MDX_APIKEY_ID_LEN && mdx_valid_segment(id, n);
}

int mdx_store_apikey_ok(const struct mdx_apikey *key)
{
    int platform = key->tenant[0] == '\0';

    return mdx_store_apikey_id_valid(key->id) && key->role >= MDX_ROLE_VIEWER &&
           key->role <= MDX_ROLE_PLATFORM && platform == (key->role == MDX_ROLE_PLATFORM) &&
           strnlen(key->label, sizeof(key->label)) < sizeof(key->label);
}
