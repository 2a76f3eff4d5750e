/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_encode.c - base64url (encode.h), the one encoder of API keys and
 * broker secrets: RFC 4648 vectors in the URL alphabet, round trips of
 * every length, a buffer one byte short, and the texts the decoder must
 * refuse (other alphabet, padding, impossible length, stray low bits).
 */
#include <string.h>

#include "base/encode.h"
#include "check.h"
#include "modax/status.h"

static void encodes_rfc4648_vectors(void)
{
    static const struct {
        const char *in, *out;
    } v[] = {
        {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    char out[16];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = strlen(v[i].in);
        CHECK_EQ_INT(mdx_base64url_encode(v[i].in, n, out, sizeof(out)), strlen(v[i].out));
        CHECK_STR(out, v[i].out);
        CHECK_EQ_INT(MDX_BASE64URL_LEN(n), strlen(v[i].out));
    }
}

static void uses_the_url_alphabet(void)
{
    const unsigned char d[] = {0xfb, 0xff, 0xbf};
    unsigned char back[3];
    char out[8];
    size_t n = 0;

    CHECK_EQ_INT(mdx_base64url_encode(d, sizeof(d), out, sizeof(out)), 4);
    CHECK_STR(out, "-_-_"); /* "+/+/" in plain base64 */
    CHECK_EQ_INT(mdx_base64url_decode(out, 4, back, sizeof(back), &n), MDX_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(back, d, 3) == 0);
}

static void round_trips_every_length(void)
{
    unsigned char d[64], back[64];
    char text[MDX_BASE64URL_LEN(64) + 1];

    for (size_t i = 0; i < sizeof(d); i++) {
        d[i] = (unsigned char)(i * 37 + 11);
    }
    for (size_t len = 0; len <= sizeof(d); len++) {
        size_t n = 99, t = mdx_base64url_encode(d, len, text, sizeof(text));
        CHECK_EQ_INT(t, MDX_BASE64URL_LEN(len));
        CHECK_EQ_INT(mdx_base64url_decode(text, t, back, sizeof(back), &n), MDX_OK);
        CHECK_EQ_INT(n, len);
        CHECK(memcmp(back, d, len) == 0);
    }
}

static void encode_refuses_a_short_buffer(void)
{
    const unsigned char d[32] = {1, 2, 3};
    char out[44];

    CHECK_EQ_INT(mdx_base64url_encode(d, sizeof(d), out, 43), 0); /* 43 characters + NUL */
    CHECK_STR(out, "");
    CHECK_EQ_INT(mdx_base64url_encode(d, sizeof(d), out, 44), 43);
}

static void decode_refuses_malformed_text(void)
{
    unsigned char out[8];
    size_t n = 7;

    CHECK_EQ_INT(mdx_base64url_decode("Zm9v", 4, out, sizeof(out), &n), MDX_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(mdx_base64url_decode("Zm+v", 4, out, sizeof(out), &n), MDX_EINVAL);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(mdx_base64url_decode("Zm/v", 4, out, sizeof(out), &n), MDX_EINVAL);
    CHECK_EQ_INT(mdx_base64url_decode("Zg==", 4, out, sizeof(out), &n), MDX_EINVAL);
    CHECK_EQ_INT(mdx_base64url_decode("Zm9vY", 5, out, sizeof(out), &n), MDX_EINVAL);
    CHECK_EQ_INT(mdx_base64url_decode("Zh", 2, out, sizeof(out), &n), MDX_EINVAL); /* low bits */
    CHECK_EQ_INT(mdx_base64url_decode("Zg", 2, out, sizeof(out), &n), MDX_OK);
    CHECK_EQ_INT(mdx_base64url_decode("Zm9vYmFy", 8, out, 5, &n), MDX_EINVAL); /* no room */
    CHECK_EQ_INT(mdx_base64url_decode("Zm9v\0Zm9", 8, out, sizeof(out), &n), MDX_EINVAL);
}

static const struct mdx_test tests[] = {
    {"encode: base64url of the RFC 4648 vectors", encodes_rfc4648_vectors},
    {"encode: base64url uses '-' and '_'", uses_the_url_alphabet},
    {"encode: base64url round-trips 0..64 bytes", round_trips_every_length},
    {"encode: base64url refuses a buffer one byte short", encode_refuses_a_short_buffer},
    {"encode: base64url decode refuses malformed text", decode_refuses_malformed_text},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
