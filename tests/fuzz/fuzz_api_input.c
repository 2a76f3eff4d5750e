/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_api_input.c - fuzz target for the text an API caller hands in
 * before any route runs: time parameters (mdx_parse_time_ms, used for
 * from= and to=), the API key of the Authorization header
 * (mdx_apikey_parse) and the base64url it is made of.
 *
 * The input, as a string, is parsed as a time: a time read from the ISO
 * form lies in years 0000..9999, and any time in 1970..9999 formats with
 * mdx_format_iso_ms to text that parses back to the same millisecond. It
 * is parsed as an API key: an accepted key is exactly of the key format
 * and its id is the text's. Text that base64url decodes must encode back
 * to the very same text (one text per decoding). The string is copied into a
 * block of its exact size so that ASan sees any read past the NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/encode.h"
#include "modax/apikey.h"
#include "modax/clock.h"
#include "modax/status.h"

#define YEAR0_MS (-62167219200000LL)   /* 0000-01-01T00:00:00Z */
#define YEAR10000_MS 253402300800000LL /* 10000-01-01T00:00:00Z */
#define KEY_LEN 64                     /* "mdx_" + 16 hex + "_" + 43 base64url */
#define B64_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void time_param(const char *s)
{
    char iso[32];
    int64_t ms, back;

    if (mdx_parse_time_ms(s, &ms) != MDX_OK) {
        return;
    }
    if (strspn(s, "0123456789") != strlen(s)) {
        if (ms < YEAR0_MS || ms >= YEAR10000_MS) {
            abort();
        }
    }
    if (ms >= 0 && ms < YEAR10000_MS) {
        mdx_format_iso_ms(ms, iso, sizeof(iso));
        if (mdx_parse_time_ms(iso, &back) != MDX_OK || back != ms) {
            abort();
        }
    }
}

static void api_key(const char *s)
{
    char id[MDX_APIKEY_ID_LEN + 1];
    uint8_t hash[32];

    if (mdx_apikey_parse(s, id, hash) != MDX_OK) {
        return;
    }
    if (strlen(s) != KEY_LEN || strncmp(s, "mdx_", 4) != 0 ||
        strlen(id) != MDX_APIKEY_ID_LEN || memcmp(id, s + 4, MDX_APIKEY_ID_LEN) != 0 ||
        strspn(id, "0123456789abcdef") != MDX_APIKEY_ID_LEN || s[4 + MDX_APIKEY_ID_LEN] != '_') {
        abort();
    }
}

static void base64url(const char *s, size_t n)
{
    unsigned char bin[B64_MAX], again[B64_MAX];
    char text[2 * B64_MAX];
    size_t len, len2, tl;

    if (n > B64_MAX || mdx_base64url_decode(s, n, bin, sizeof(bin), &len) != MDX_OK) {
        return;
    }
    if (len > n) {
        abort();
    }
    /* One text per decoding: encoding gives back the very text. */
    tl = mdx_base64url_encode(bin, len, text, sizeof(text));
    if (tl != n || memcmp(text, s, n) != 0 ||
        mdx_base64url_decode(text, tl, again, sizeof(again), &len2) != MDX_OK || len2 != len ||
        memcmp(bin, again, len) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    time_param(s);
    api_key(s);
    base64url(s, strlen(s));
    free(s);
    return 0;
}
