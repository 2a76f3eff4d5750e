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

#include "modax/apikey.h"
#include "modax/status.h"

#define PREFIX "mdx_"
#define PREFIX_LEN 4
#define SECRET_BYTES 32
#define SECRET_CHARS 43 /* base64url of 32 bytes, no padding */
#define KEY_LEN (PREFIX_LEN + MDX_APIKEY_ID_LEN + 1 + SECRET_CHARS)

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding of n bytes into out (4*ceil(n/3) chars max + NUL). */
static void encode_b64url(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = n - i;

        if (left > 1) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (left > 2) {
            v |= in[i + 2];
        }
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (left > 1) {
            out[o++] = b64url[(v >> 6) & 63];
        }
        if (left > 2) {
            out[o++] = b64url[v & 63];
        }
    }
    out[o] = '\0';
}

static int is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
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
    encode_b64url(secret, sizeof(secret), secret_text);
    snprintf(text, MDX_APIKEY_TEXT_MAX, PREFIX "%s_%s", rec->id, secret_text);
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(secret_text, sizeof(secret_text));
    return MDX_OK;
}

/* Decodes 43 base64url characters into 32 bytes; MDX_EINVAL if the last one has stray bits. */
static int decode_secret(const char *s, uint8_t out[SECRET_BYTES])
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < SECRET_CHARS; i++) {
        const char *p = strchr(b64url, s[i]);
        acc = (acc << 6) | (uint32_t)(p - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return o == SECRET_BYTES && acc == 0 ? MDX_OK : MDX_EINVAL;
}

int mdx_apikey_parse(const char *text, char id[MDX_APIKEY_ID_LEN + 1], uint8_t hash[32])
{
    uint8_t secret[SECRET_BYTES];

    if (text == NULL || strlen(text) != KEY_LEN || strncmp(text, PREFIX, PREFIX_LEN) != 0 ||
        text[PREFIX_LEN + MDX_APIKEY_ID_LEN] != '_') {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < MDX_APIKEY_ID_LEN; i++) {
        if (!is_hex_lower(text[PREFIX_LEN + i])) {
            return MDX_EINVAL;
        }
    }
    for (size_t i = 0; i < SECRET_CHARS; i++) {
        if (!is_b64url(text[PREFIX_LEN + MDX_APIKEY_ID_LEN + 1 + i])) {
            return MDX_EINVAL;
        }
    }
    if (decode_secret(text + PREFIX_LEN + MDX_APIKEY_ID_LEN + 1, secret) != MDX_OK) {
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
