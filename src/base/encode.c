/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encode.c - hex, base64, base64url, percent-encoding and OpenSSL digests; see encode.h.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/status.h"

int mdx_uri_encode(struct mdx_buf *b, const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (isalnum(*p) != 0 && *p < 0x80) {
            mdx_buf_add(b, p, 1);
        } else if (*p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            mdx_buf_add(b, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mdx_buf_add(b, e, 3);
        }
    }
    return b->err;
}

void mdx_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

void mdx_sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(d, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        memset(md, 0, sizeof(md)); /* cannot happen with a working OpenSSL */
    }
    mdx_hex(md, 32, out);
}

void mdx_md5_base64(const void *d, size_t n, char out[25])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(d, n, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16) {
        memset(md, 0, sizeof(md)); /* cannot happen with a working OpenSSL */
    }
    EVP_EncodeBlock((unsigned char *)out, md, 16); /* 24 characters and a NUL */
}

int mdx_hmac_sha256(const void *key, size_t klen, const void *d, size_t n, unsigned char out[32])
{
    unsigned int outlen = 0;

    if (klen > 0x7fffffff ||
        HMAC(EVP_sha256(), key, (int)klen, d, n, out, &outlen) == NULL || outlen != 32) {
        return MDX_EINVAL;
    }
    return MDX_OK;
}

char *mdx_base64_encode(const void *d, size_t n)
{
    char *out;

    if (n > (size_t)0x7fffffff / 4 * 3 - 3) {
        return NULL;
    }
    out = mdx_malloc(4 * ((n + 2) / 3) + 1);
    if (out == NULL) {
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    return out;
}

int mdx_base64_decode(const char *b64, unsigned char **out, size_t *outlen)
{
    size_t n = strlen(b64), pad = 0;
    unsigned char *buf;
    int got;

    *out = NULL;
    *outlen = 0;
    if (n == 0 || n % 4 != 0 || n > 0x7ffffff0) {
        return MDX_EINVAL;
    }
    while (pad < 2 && b64[n - 1 - pad] == '=') {
        pad++;
    }
    buf = mdx_malloc(n / 4 * 3 + 1);
    if (buf == NULL) {
        return MDX_ENOMEM;
    }
    got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
    if (got < 0 || (size_t)got < pad) {
        mdx_memzero(buf, n / 4 * 3 + 1);
        mdx_free(buf);
        return MDX_EINVAL;
    }
    *out = buf;
    *outlen = (size_t)got - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    return MDX_OK;
}


static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t mdx_base64url_encode(const void *d, size_t n, char *out, size_t outlen)
{
    const unsigned char *in = d;
    size_t o = 0;

    if (outlen == 0) {
        return 0;
    }
    out[0] = '\0';
    if (n > (SIZE_MAX - 3) / 4 || MDX_BASE64URL_LEN(n) >= outlen) {
        return 0;
    }
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)in[i] << 16;

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
    return o;
}

/* The 6-bit value of base64url character 'c', or -1. */
static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

int mdx_base64url_decode(const char *s, size_t slen, unsigned char *out, size_t outlen,
                         size_t *n)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    *n = 0;
    if (slen % 4 == 1) {
        return MDX_EINVAL;
    }
    for (size_t i = 0; i < slen; i++) {
        int v = b64url_value(s[i]);

        if (v < 0) {
            return MDX_EINVAL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == outlen) {
                return MDX_EINVAL;
            }
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        return MDX_EINVAL;
    }
    *n = o;
    return MDX_OK;
}
