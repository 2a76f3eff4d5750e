/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_secret.c - broker secrets (secret.h): generated secrets are 43
 * characters of base64url and differ; hashes are argon2id with the given
 * cost and a random salt; verify accepts the secret only, tells a wrong
 * secret (MDX_EDENIED) from a malformed hash (MDX_EINVAL), and refuses
 * hashes whose cost is outside what config allows. Nothing here is timed.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "modax/secret.h"
#include "modax/status.h"
#include "modax/store.h" /* MDX_SECRET_HASH_MAX */

/* Small cost: the tests check behaviour, not strength. */
static const struct mdx_argon2_cost cheap = {1, 256, 1};

static int base64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

static void generates_distinct_base64url_secrets(void)
{
    char a[MDX_SECRET_TEXT_MAX], b[MDX_SECRET_TEXT_MAX];

    CHECK_EQ_INT(mdx_secret_generate(a), MDX_OK);
    CHECK_EQ_INT(mdx_secret_generate(b), MDX_OK);
    CHECK_EQ_INT(strlen(a), 43); /* 32 bytes, no padding */
    CHECK(strcmp(a, b) != 0);
    for (size_t i = 0; i < strlen(a); i++) {
        CHECK(base64url_char(a[i]));
    }
}

static void hashes_and_verifies(void)
{
    char secret[MDX_SECRET_TEXT_MAX], h1[MDX_SECRET_HASH_MAX], h2[MDX_SECRET_HASH_MAX];
    char wrong[MDX_SECRET_TEXT_MAX + 1];

    CHECK_EQ_INT(mdx_secret_generate(secret), MDX_OK);
    CHECK_EQ_INT(mdx_secret_hash(secret, &cheap, h1, sizeof(h1)), MDX_OK);
    CHECK_EQ_INT(mdx_secret_hash(secret, &cheap, h2, sizeof(h2)), MDX_OK);
    CHECK(strncmp(h1, "$argon2id$v=19$m=256,t=1,p=1$", 29) == 0);
    CHECK(strcmp(h1, h2) != 0); /* a random salt each time */
    CHECK(strstr(h1, secret) == NULL);
    CHECK_EQ_INT(mdx_secret_verify(h1, secret), MDX_OK);
    CHECK_EQ_INT(mdx_secret_verify(h2, secret), MDX_OK);

    /* Wrong secrets: one character off, a prefix, longer, empty, another secret. */
    snprintf(wrong, sizeof(wrong), "%s", secret);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(mdx_secret_verify(h1, wrong), MDX_EDENIED);
    wrong[5] = secret[5];
    wrong[42] = '\0';
    CHECK_EQ_INT(mdx_secret_verify(h1, wrong), MDX_EDENIED);
    snprintf(wrong, sizeof(wrong), "%sx", secret);
    CHECK_EQ_INT(mdx_secret_verify(h1, wrong), MDX_EDENIED);
    CHECK_EQ_INT(mdx_secret_verify(h1, ""), MDX_EDENIED);
    CHECK_EQ_INT(mdx_secret_verify(h1, NULL), MDX_EDENIED);
    CHECK_EQ_INT(mdx_secret_generate(wrong), MDX_OK);
    CHECK_EQ_INT(mdx_secret_verify(h1, wrong), MDX_EDENIED);
}

static void uses_the_configured_cost(void)
{
    struct mdx_argon2_cost c = {3, 1024, 2};
    char h[MDX_SECRET_HASH_MAX];

    CHECK_EQ_INT(mdx_secret_hash("s3cret", &c, h, sizeof(h)), MDX_OK);
    CHECK(strncmp(h, "$argon2id$v=19$m=1024,t=3,p=2$", 30) == 0);
    CHECK_EQ_INT(mdx_secret_verify(h, "s3cret"), MDX_OK);
    CHECK(strlen(h) < MDX_SECRET_HASH_MAX);
}

static void refuses_bad_input_to_hash(void)
{
    struct mdx_argon2_cost zero_t = {0, 256, 1}, tiny_m = {1, 4, 1};
    char h[MDX_SECRET_HASH_MAX], small[32], longs[300];

    memset(longs, 'a', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    CHECK_EQ_INT(mdx_secret_hash("", &cheap, h, sizeof(h)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_secret_hash(NULL, &cheap, h, sizeof(h)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_secret_hash(longs, &cheap, h, sizeof(h)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_secret_hash("s", NULL, h, sizeof(h)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_secret_hash("s", &zero_t, h, sizeof(h)), MDX_EINVAL);
    CHECK_STR(h, "");
    CHECK_EQ_INT(mdx_secret_hash("s", &tiny_m, h, sizeof(h)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_secret_hash("s", &cheap, small, sizeof(small)), MDX_EINVAL);
    /* A secret longer than any we make is refused by verify without hashing. */
    CHECK_EQ_INT(mdx_secret_hash("s", &cheap, h, sizeof(h)), MDX_OK);
    CHECK_EQ_INT(mdx_secret_verify(h, longs), MDX_EDENIED);
}

static void tells_malformed_hashes_from_wrong_secrets(void)
{
    char h[MDX_SECRET_HASH_MAX], broken[MDX_SECRET_HASH_MAX];
    static const char *const bad[] = {
        "",
        "plain",
        "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=256,t=1,p=1$",
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$",
        "$argon2id$v=19$m=256,t=1,p=1$!!!!$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=256,t=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        /* cost outside config's bounds: 8 GiB, 1000 iterations */
        "$argon2id$v=19$m=8388608,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=256,t=1000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(mdx_secret_verify(bad[i], "secret"), MDX_EINVAL);
    }
    CHECK_EQ_INT(mdx_secret_verify(NULL, "secret"), MDX_EINVAL);
    /* A well-formed hash with one hash character changed: a mismatch, not malformed. */
    CHECK_EQ_INT(mdx_secret_hash("secret", &cheap, h, sizeof(h)), MDX_OK);
    snprintf(broken, sizeof(broken), "%s", h);
    broken[strlen(broken) - 3] = broken[strlen(broken) - 3] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(mdx_secret_verify(broken, "secret"), MDX_EDENIED);
    /* Truncated: malformed. */
    broken[strlen(broken) - 20] = '\0';
    CHECK(mdx_secret_verify(broken, "secret") != MDX_OK);
}

static const struct mdx_test tests[] = {
    {"secret: generated secrets are distinct base64url", generates_distinct_base64url_secrets},
    {"secret: argon2id hash verifies the secret only", hashes_and_verifies},
    {"secret: the hash carries the configured cost", uses_the_configured_cost},
    {"secret: bad input to hash is refused", refuses_bad_input_to_hash},
    {"secret: malformed hashes are told from wrong secrets", tells_malformed_hashes_from_wrong_secrets},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
