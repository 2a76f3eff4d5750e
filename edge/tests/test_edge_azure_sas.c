/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_azure_sas.c - SHA-256, HMAC-SHA256 and the Azure IoT Hub SAS
 * token of edge/core against known answers: FIPS 180-2's "abc", RFC
 * 4231's HMAC case 2, and the device token of Microsoft's C SDK unit
 * test (hub myiothub.azure-devices.net, device my_device, expiry
 * 1578941692; string to sign from that test, signature from
 * docs/cloud-reference.md, checked there with OpenSSL and Python).
 */
#include <string.h>

#include "azure_sas.h"
#include "check.h"
#include "modax/status.h"
#include "sha256.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = h[d[i] >> 4];
        out[2 * i + 1] = h[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_and_hmac_known_answers(void)
{
    struct mdx_sha256 s;
    uint8_t d[MDX_SHA256_LEN];
    char x[65];
    static const char million_a_prefix[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                           "aaaa"; /* 64 bytes: a whole block */

    mdx_sha256_init(&s);
    mdx_sha256_update(&s, "abc", 3);
    mdx_sha256_final(&s, d);
    hex(d, sizeof(d), x);
    CHECK_STR(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mdx_sha256_init(&s);
    mdx_sha256_final(&s, d);
    hex(d, sizeof(d), x);
    CHECK_STR(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    mdx_sha256_init(&s);
    for (int i = 0; i < 1000000 / 64; i++) {
        mdx_sha256_update(&s, million_a_prefix, 64);
    }
    mdx_sha256_final(&s, d);
    hex(d, sizeof(d), x);
    CHECK_STR(x, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* RFC 4231, test case 2. */
    mdx_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    hex(d, sizeof(d), x);
    CHECK_STR(x, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void device_token_matches_the_sdk_vector(void)
{
    char token[512], user[256];

    CHECK(mdx_azure_sas_token("myiothub.azure-devices.net", "my_device",
                              "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=", 1578941692, token,
                              sizeof(token)) > 0);
    CHECK_STR(token, "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
                     "&sig=Aa91XduWM2CE%2BvowhV%2FIDuTSR3%2FhJXo%2BoItFWxIw%2BHA%3D&se=1578941692");
    CHECK(mdx_azure_username("myiothub.azure-devices.net", "my_device", user, sizeof(user)) > 0);
    CHECK_STR(user, "myiothub.azure-devices.net/my_device/?api-version=2021-04-12");
}

static void bad_key_and_small_buffer_refused(void)
{
    char token[512];

    CHECK_EQ_INT(mdx_azure_sas_token("h.azure-devices.net", "d", "not base64!", 1, token,
                                     sizeof(token)),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_azure_sas_token("h.azure-devices.net", "d", "", 1, token, sizeof(token)),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_azure_sas_token("h.azure-devices.net", "", "AAAA", 1, token, sizeof(token)),
                 MDX_EINVAL);
    CHECK_EQ_INT(mdx_azure_sas_token("h.azure-devices.net", "d", "AAAA", 1, token, 40),
                 MDX_EFULL);
}

static const struct mdx_test tests[] = {
    {"sha256 and hmac-sha256: FIPS and RFC 4231 known answers", sha256_and_hmac_known_answers},
    {"azure sas: the device token of the SDK vector, and the user name",
     device_token_matches_the_sdk_vector},
    {"azure sas: a bad key or a small buffer is refused", bad_key_and_small_buffer_refused},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
