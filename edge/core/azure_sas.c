/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure_sas.c - Azure IoT Hub SAS tokens; see azure_sas.h.
 */
#include "azure_sas.h"

#include <stdio.h>
#include <string.h>

#include "modax/status.h"
#include "sha256.h"

#define KEY_MAX 128 /* decoded key bytes; IoT Hub keys are 32 or 64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decodes base64 (with padding) into 'out'; the byte count, or -1. */
static int b64_decode(const char *in, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    size_t n = 0, i, len = strlen(in), pad = 0;
    int bits = 0;

    if (len == 0 || len % 4 != 0) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        const char *p = strchr(b64, in[i]);

        if (in[i] == '=' && i >= len - 2) {
            pad++;
            continue;
        }
        if (p == NULL || in[i] == '\0' || pad > 0) {
            return -1;
        }
        acc = acc << 6 | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (int)n;
}

static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t i, n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        out[n++] = b64[v >> 18];
        out[n++] = b64[(v >> 12) & 63];
        out[n++] = b64[(v >> 6) & 63];
        out[n++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);

        out[n++] = b64[v >> 18];
        out[n++] = b64[(v >> 12) & 63];
        out[n++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[n++] = '=';
    }
    out[n] = '\0';
    return n;
}

/* Appends URL-encoded 's' at out[*n]; 0, or -1 when 'cap' is reached. */
static int url_encode(const char *s, char *out, size_t cap, size_t *n)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';

        if (*n + (plain ? 1 : 3) >= cap) {
            return -1;
        }
        if (plain) {
            out[(*n)++] = (char)c;
        } else {
            out[(*n)++] = '%';
            out[(*n)++] = hex[c >> 4];
            out[(*n)++] = hex[c & 15];
        }
    }
    out[*n] = '\0';
    return 0;
}

int mdx_azure_sas_token(const char *hub_host, const char *device, const char *key_b64,
                        uint64_t expiry_s, char *out, size_t cap)
{
    char resource[320], to_sign[1024], sig_b64[48], expiry[24];
    uint8_t key[KEY_MAX], mac[MDX_SHA256_LEN];
    size_t n = 0, m;
    int key_len, len;

    if (hub_host[0] == '\0' || device[0] == '\0' || cap == 0) {
        return MDX_EINVAL;
    }
    len = snprintf(resource, sizeof(resource), "%s/devices/%s", hub_host, device);
    if (len < 0 || (size_t)len >= sizeof(resource)) {
        return MDX_EINVAL;
    }
    snprintf(expiry, sizeof(expiry), "%llu", (unsigned long long)expiry_s);
    if (url_encode(resource, to_sign, sizeof(to_sign), &n) != 0) {
        return MDX_EINVAL;
    }
    m = n; /* to_sign[0..m) is the encoded resource, the token's sr= too */
    len = snprintf(to_sign + n, sizeof(to_sign) - n, "\n%s", expiry);
    if (len < 0 || (size_t)len >= sizeof(to_sign) - n) {
        return MDX_EINVAL;
    }
    key_len = b64_decode(key_b64, key, sizeof(key));
    if (key_len <= 0) {
        return MDX_EINVAL;
    }
    mdx_hmac_sha256(key, (size_t)key_len, to_sign, n + (size_t)len, mac);
    memset(key, 0, sizeof(key));
    b64_encode(mac, sizeof(mac), sig_b64);
    to_sign[m] = '\0';
    n = 0;
    len = snprintf(out, cap, "SharedAccessSignature sr=%s&sig=", to_sign);
    if (len < 0 || (size_t)len >= cap) {
        return MDX_EFULL;
    }
    n = (size_t)len;
    if (url_encode(sig_b64, out, cap, &n) != 0) {
        return MDX_EFULL;
    }
    len = snprintf(out + n, cap - n, "&se=%s", expiry);
    if (len < 0 || (size_t)len >= cap - n) {
        return MDX_EFULL;
    }
    return (int)(n + (size_t)len);
}

int mdx_azure_username(const char *hub_host, const char *device, char *out, size_t cap)
{
    int len;

    if (hub_host[0] == '\0' || device[0] == '\0') {
        return MDX_EINVAL;
    }
    len = snprintf(out, cap, "%s/%s/?api-version=%s", hub_host, device, MDX_AZURE_API_VERSION);
    return len < 0 || (size_t)len >= cap ? MDX_EFULL : len;
}
