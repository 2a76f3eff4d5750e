/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apikey.c - API keys (apikey.h): "mdx_" + 16 hex id + "_" + 43 base64url
 * characters of a 32-byte random secret; the store keeps only the id and
 * the SHA-256 of the secret, compared in constant time.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/encode.h"
#include "modax/apikey.h"
#include "modax/status.h"

#define PREFIX "mdx_"
#define PREFIX_LEN 4
#define SECRET_BYTES 32
#define SECRET_CHARS MDX_BASE64URL_LEN(SECRET_BYTES) /* 43 */
#define KEY_LEN (PREFIX_LEN + MDX_APIKEY_ID_LEN + 1 + SECRET_CHARS)

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int mdx_apikey_generate(const char *tenant, int role, const char *label, int64_t now_ms,
                        struct mdx_apikey *rec, char text[MDX_APIKEY_TEXT_MAX])
{
    uint8_t id_bytes[MDX_APIKEY_ID_LEN / 2], secret[SECRET_BYTES];
    char secret_text[SECRET_CHARS + 4];
    size_t tlen = tenant != NULL ? strlen(tenant) : 0;

    if (role < MDX_ROLE_VIEWER || role > MDX_ROLE_PLATFORM) {
        return MDX_EINVAL;
    }
    if ((role == MDX_ROLE_PLATFORM) != (tlen == 0) || tlen > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    if (label != NULL && strlen(label) > MDX_NAME_MAX) {
        return MDX_EINVAL;
    }
    if (RAND_bytes(id_bytes, sizeof(id_bytes)) != 1 || RAND_bytes(secret, sizeof(secret)) != 1) {
        return MDX_EIO;
    }
    memset(rec, 0, sizeof(*rec));
    for (size_t i = 0; i < sizeof(id_bytes); i++) {
        snprintf(rec->id + 2 * i, 3, "%02x", id_bytes[i]);
    }
    if (tlen > 0) {
        memcpy(rec->tenant, tenant, tlen + 1);
    }
    rec->role = role;
    SHA256(secret, sizeof(secret), rec->hash);
    snprintf(rec->label, sizeof(rec->label), "%s", label != NULL ? label : "");
    rec->created_ms = now_ms;
    rec->revoked_ms = 0;
    mdx_base64url_encode(secret, sizeof(secret), secret_text, sizeof(secret_text));
    snprintf(text, MDX_APIKEY_TEXT_MAX, PREFIX "%s_%s", rec->id, secret_text);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(secret_text, sizeof(secret_text));
    return MDX_OK;
}

int mdx_apikey_parse(const char *text, char id[MDX_APIKEY_ID_LEN + 1], uint8_t hash[32])
{
    uint8_t secret[SECRET_BYTES];
    size_t n;

    if (text == NULL || strlen(text) != KEY_LEN || strncmp(text, PREFIX, PREFIX_LEN) != 0 ||
        text[PREFIX_LEN + MDX_APIKEY_ID_LEN] != '_') {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < MDX_APIKEY_ID_LEN; i++) {
        if (!is_hex_lower(text[PREFIX_LEN + i])) {
            return MDX_EINVAL;
        }
    }
    if (mdx_base64url_decode(text + PREFIX_LEN + MDX_APIKEY_ID_LEN + 1, SECRET_CHARS, secret,
                             sizeof(secret), &n) != MDX_OK ||
        n != SECRET_BYTES) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return MDX_EINVAL;
    }
    memcpy(id, text + PREFIX_LEN, MDX_APIKEY_ID_LEN);
    id[MDX_APIKEY_ID_LEN] = '\0';
    SHA256(secret, sizeof(secret), hash);
    OPENSSL_cleanse(secret, sizeof(secret));
    return MDX_OK;
}

int mdx_apikey_matches(const struct mdx_apikey *rec, const uint8_t hash[32])
{
    int same = CRYPTO_memcmp(rec->hash, hash, 32) == 0;

    return same && rec->revoked_ms == 0;
}

static const char *const role_names[] = {"viewer", "operator", "admin", "platform"};

const char *mdx_role_name(int role)
{
    if (role < MDX_ROLE_VIEWER || role > MDX_ROLE_PLATFORM) {
        return "unknown";
    }
    return role_names[role];
}

int mdx_role_parse(const char *name, int *out)
{
    for (int i = MDX_ROLE_VIEWER; i <= MDX_ROLE_PLATFORM; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            *out = i;
            return MDX_OK;
        }
    }
    return MDX_EINVAL;
}
