/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_apikey.c - API key generation, parsing and verification (apikey.h):
 * the text format, round trips, a changed secret, a revoked key, malformed
 * texts (wrong prefix, length, characters, stray bits), roles.
 */
#include <string.h>

#include "check.h"
#include "modax/apikey.h"
#include "modax/status.h"

static void test_round_trip(void)
{
    struct mdx_apikey rec, other;
    char text[MDX_APIKEY_TEXT_MAX], text2[MDX_APIKEY_TEXT_MAX], id[MDX_APIKEY_ID_LEN + 1];
    uint8_t hash[32];

    CHECK_EQ_INT(mdx_apikey_generate("acme", MDX_ROLE_OPERATOR, "ci", 1000, &rec, text), MDX_OK);
    CHECK_EQ_INT(strlen(text), 64);
    CHECK(strncmp(text, "mdx_", 4) == 0 && text[20] == '_');
    CHECK(strncmp(text + 4, rec.id, MDX_APIKEY_ID_LEN) == 0);
    CHECK_STR(rec.tenant, "acme");
    CHECK_STR(rec.label, "ci");
    CHECK_EQ_INT(rec.role, MDX_ROLE_OPERATOR);
    CHECK_EQ_INT(rec.created_ms, 1000);
    CHECK_EQ_INT(rec.revoked_ms, 0);
    CHECK(strstr(text, "=") == NULL);
    CHECK_EQ_INT(mdx_apikey_parse(text, id, hash), MDX_OK);
    CHECK_STR(id, rec.id);
    CHECK(mdx_apikey_matches(&rec, hash));
    /* Two keys differ in id and secret. */
    CHECK_EQ_INT(mdx_apikey_generate("acme", MDX_ROLE_OPERATOR, "", 1000, &other, text2), MDX_OK);
    CHECK(strcmp(other.id, rec.id) != 0);
    CHECK(!mdx_apikey_matches(&other, hash));
    /* A revoked key no longer matches. */
    rec.revoked_ms = 2000;
    CHECK(!mdx_apikey_matches(&rec, hash));
}

static void test_changed_secret(void)
{
    struct mdx_apikey rec;
    char text[MDX_APIKEY_TEXT_MAX], id[MDX_APIKEY_ID_LEN + 1];
    uint8_t hash[32];

    CHECK_EQ_INT(mdx_apikey_generate("acme", MDX_ROLE_ADMIN, NULL, 1, &rec, text), MDX_OK);
    text[40] = text[40] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(mdx_apikey_parse(text, id, hash), MDX_OK);
    CHECK(!mdx_apikey_matches(&rec, hash));
}

static void test_malformed(void)
{
    struct mdx_apikey rec;
    char text[MDX_APIKEY_TEXT_MAX], bad[MDX_APIKEY_TEXT_MAX + 8], id[MDX_APIKEY_ID_LEN + 1];
    uint8_t hash[32];

    CHECK_EQ_INT(mdx_apikey_generate("acme", MDX_ROLE_VIEWER, "", 1, &rec, text), MDX_OK);
    CHECK_EQ_INT(mdx_apikey_parse("", id, hash), MDX_EINVAL);
    CHECK_EQ_INT(mdx_apikey_parse(NULL, id, hash), MDX_EINVAL);
    CHECK_EQ_INT(mdx_apikey_parse("mdx_' OR '1'='1", id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    bad[0] = 'x'; /* prefix */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    bad[5] = 'G'; /* not hex */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    bad[20] = '-'; /* separator */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    bad[30] = '+'; /* base64, not base64url */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    bad[63] = '\0'; /* short */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    strcat(bad, "A"); /* long */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
    memcpy(bad, text, sizeof(text));
    bad[63] = '_'; /* last character with bits beyond the 256 */
    CHECK_EQ_INT(mdx_apikey_parse(bad, id, hash), MDX_EINVAL);
}

static void test_roles(void)
{
    struct mdx_apikey rec;
    char text[MDX_APIKEY_TEXT_MAX];
    int role = -1;

    CHECK_EQ_INT(mdx_apikey_generate("", MDX_ROLE_PLATFORM, "ops", 1, &rec, text), MDX_OK);
    CHECK_STR(rec.tenant, "");
    CHECK_EQ_INT(mdx_apikey_generate("acme", MDX_ROLE_PLATFORM, "", 1, &rec, text), MDX_EINVAL);
    CHECK_EQ_INT(mdx_apikey_generate("", MDX_ROLE_VIEWER, "", 1, &rec, text), MDX_EINVAL);
    CHECK_EQ_INT(mdx_apikey_generate("acme", 7, "", 1, &rec, text), MDX_EINVAL);
    CHECK_EQ_INT(mdx_role_parse("operator", &role), MDX_OK);
    CHECK_EQ_INT(role, MDX_ROLE_OPERATOR);
    CHECK_EQ_INT(mdx_role_parse("root", &role), MDX_EINVAL);
    CHECK_STR(mdx_role_name(MDX_ROLE_PLATFORM), "platform");
    CHECK_STR(mdx_role_name(MDX_ROLE_VIEWER), "viewer");
}

static const struct mdx_test tests[] = {
    {"round_trip", test_round_trip},
    {"changed_secret", test_changed_secret},
    {"malformed", test_malformed},
    {"roles", test_roles},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
