/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_gcp_creds.c - the Google credentials provider (src/net/gcp_creds.c)
 * and the archive's Cloud Storage store on OAuth tokens, against a stand-in
 * started here on loopback (support/gcp_standin.h) that plays the OAuth
 * token endpoint, the GKE metadata server and Cloud Storage's XML API.
 *
 * The stand-in verifies each signed JWT with the public half of an RSA key
 * pair this test makes, checks its claims, and issues tokens that expire
 * after two seconds; Cloud Storage refuses an expired one. Shown: tokens
 * from a key file and from the metadata server refreshed across several
 * expiries; $GOOGLE_APPLICATION_CREDENTIALS taken by "auto"; archive PUTs
 * that carry "Authorization: Bearer" and keep working across expiries; each
 * bad input refused with a clear reason (key file missing, not JSON,
 * without private_key, a private key that is not PEM RSA, token endpoint
 * 400 and 500, metadata server unreachable), a refresh that fails while
 * the token is still valid keeping it, and a token revoked early (401)
 * replaced at the next request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/encode.h"
#include "check.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/objstore.h"
#include "modax/status.h"
#include "net/gcp_creds.h"
#include "support/gcp_standin.h"
#include "support/support.h"

#define LIFE_MS 2000

static char dir[512];
static char key_path[600];
static char token_uri[128];
static struct gcp_standin g;

static struct mdx_gcp_creds *provider(const char *mode, const char *key_file, int *err,
                                      char *why, size_t why_len)
{
    struct mdx_gcp_creds_conf conf = {"test", mode, key_file, NULL, NULL,
                                      MDX_GCP_SCOPE_STORAGE, NULL, 5000};

    why[0] = '\0';
    return mdx_gcp_creds_create(&conf, err, why, why_len);
}

/*
 * Asks 'c' for a token until the stand-in has issued 'target' tokens or 15 s
 * have passed (each token lives 2 s, so that is several expiries). Returns
 * the number of gets that failed and counts the distinct tokens seen.
 */
static int get_until_issued(struct mdx_gcp_creds *c, int target, int *distinct)
{
    char last[64] = "", why[512];
    int failed = 0;
    int64_t end = mdx_mono_us() / 1000 + 15000;

    *distinct = 0;
    while (atomic_load(&g.issued) < target && mdx_mono_us() / 1000 < end) {
        const char *tok = NULL;
        if (mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)) != MDX_OK ||
            tok == NULL) {
            fprintf(stderr, "  get failed: %s\n", why);
            failed++;
        } else if (strcmp(tok, last) != 0) {
            snprintf(last, sizeof(last), "%s", tok);
            (*distinct)++;
        }
        mdx_sleep_ms(50);
    }
    return failed;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void key_file_tokens_verified_and_refreshed(void)
{
    char why[512];
    const char *tok = NULL;
    int err, distinct, base = atomic_load(&g.issued);
    struct mdx_gcp_creds *c = provider("service_account", key_path, &err, why, sizeof(why));

    CHECK(c != NULL);
    if (c == NULL) {
        fprintf(stderr, "  %s\n", why);
        return;
    }
    CHECK_STR(mdx_gcp_creds_source(c), "service_account");
    CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_OK);
    CHECK(tok != NULL && strncmp(tok, "gtok-", 5) == 0);
    CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(atomic_load(&g.issued), base + 1); /* kept, not fetched for every request */
    CHECK_EQ_INT(get_until_issued(c, base + 5, &distinct), 0);
    CHECK(atomic_load(&g.issued) >= base + 5);
    CHECK(distinct >= 4);
    CHECK_EQ_INT(atomic_load(&g.jwt_bad), 0);
    mdx_gcp_creds_destroy(c);
}

static void metadata_tokens_refreshed(void)
{
    char why[512], host[64];
    int err, distinct, base = atomic_load(&g.issued);
    struct mdx_gcp_creds *c;

    snprintf(host, sizeof(host), "127.0.0.1:%d", g.port);
    setenv("GCE_METADATA_HOST", host, 1);
    c = provider("metadata", NULL, &err, why, sizeof(why));
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK_EQ_INT(get_until_issued(c, base + 4, &distinct), 0);
        CHECK(distinct >= 3);
        CHECK_EQ_INT(atomic_load(&g.meta_bad), 0);
    }
    mdx_gcp_creds_destroy(c);
    unsetenv("GCE_METADATA_HOST");
}

/* auto takes $GOOGLE_APPLICATION_CREDENTIALS, as Google's client libraries do. */
static void auto_takes_google_application_credentials(void)
{
    char why[512];
    const char *tok = NULL;
    int err;
    struct mdx_gcp_creds *c;

    setenv("GOOGLE_APPLICATION_CREDENTIALS", key_path, 1);
    c = provider("auto", NULL, &err, why, sizeof(why));
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK_STR(mdx_gcp_creds_source(c), "service_account");
        CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_OK);
    }
    mdx_gcp_creds_destroy(c);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    c = provider("auto", NULL, &err, why, sizeof(why));
    CHECK(c != NULL && strcmp(mdx_gcp_creds_source(c), "metadata") == 0);
    mdx_gcp_creds_destroy(c);
}

/* archive.store.kind = s3, credentials = gcp: each request bears a fresh token. */
static void gcs_store_puts_with_bearer_across_expiries(void)
{
    char endpoint[64], data[64], sha[65];
    struct mdx_objstore_conf conf = {0};
    struct mdx_obj_info info = {0};
    struct mdx_objstore *os;
    void *back = NULL;
    size_t back_len = 0;
    int err, puts = 0, failed = 0, base = atomic_load(&g.issued);
    int ok_before = atomic_load(&g.store_ok), refused_before = atomic_load(&g.store_refused);
    int64_t end = mdx_mono_us() / 1000 + 15000;

    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", g.port);
    conf.kind = "s3";
    conf.endpoint = endpoint;
    conf.bucket = "modax-archive";
    conf.region = "auto";
    conf.path_style = 1;
    conf.credentials = "gcp";
    conf.gcp_key_file = key_path;
    conf.timeout_ms = 5000;
    conf.multipart_mb = 8;
    os = mdx_objstore_open(&conf, &err);
    CHECK(os != NULL);
    if (os == NULL) {
        return;
    }
    while (atomic_load(&g.issued) < base + 4 && mdx_mono_us() / 1000 < end) {
        int n = snprintf(data, sizeof(data), "part %d", puts++);
        if (os->ops->put(os->impl, "tenant/acme/day.jsonl.gz", data, (size_t)n, NULL) != MDX_OK) {
            fprintf(stderr, "  put: %s\n", os->ops->last_error(os->impl));
            failed++;
        }
        mdx_sleep_ms(100);
    }
    CHECK(atomic_load(&g.issued) >= base + 4); /* 4 tokens of 2 s, fetched at half-life */
    CHECK_EQ_INT(failed, 0);
    /*
     * Fetched at half-life, a token is refused only when a request takes
     * more than 1 s on a busy machine; the store then sends it again with
     * a new one, so no put fails.
     */
    CHECK(atomic_load(&g.store_refused) - refused_before <= puts / 4);
    CHECK_EQ_INT(atomic_load(&g.store_ok) - ok_before, puts);
    CHECK_EQ_INT(atomic_load(&g.jwt_bad), 0);
    /* The object's SHA-256 went as x-goog-meta-* and comes back with HEAD. */
    mdx_sha256_hex(data, strlen(data), sha);
    CHECK_EQ_INT(os->ops->head(os->impl, "tenant/acme/day.jsonl.gz", &info), MDX_OK);
    CHECK_EQ_INT(info.size, (int64_t)strlen(data));
    CHECK_STR(info.sha256, sha);
    CHECK_EQ_INT(os->ops->get(os->impl, "tenant/acme/day.jsonl.gz", &back, &back_len, 1024),
                 MDX_OK);
    CHECK(back_len == strlen(data) && back != NULL && memcmp(back, data, back_len) == 0);
    mdx_free(back);

    /* A token revoked before it expires: the 401 makes the store send again with a new one. */
    atomic_store(&g.revoked_upto, atomic_load(&g.issued));
    base = atomic_load(&g.issued);
    refused_before = atomic_load(&g.store_refused);
    CHECK_EQ_INT(os->ops->put(os->impl, "tenant/acme/day.jsonl.gz", data, strlen(data), NULL),
                 MDX_OK);
    CHECK_EQ_INT(atomic_load(&g.store_refused), refused_before + 1);
    CHECK_EQ_INT(atomic_load(&g.issued), base + 1);
    /* Refused again with the new token (revoked at once): the second answer is the error. */
    atomic_store(&g.revoked_upto, 1 << 20);
    CHECK_EQ_INT(os->ops->put(os->impl, "tenant/acme/day.jsonl.gz", data, strlen(data), NULL),
                 MDX_EDENIED);
    CHECK(strstr(os->ops->last_error(os->impl), "401") != NULL);
    atomic_store(&g.revoked_upto, 0);
    mdx_objstore_close(os);
}

/* Makes a key file whose private_key is 'pem' (JSON-escaped by hand: only newlines). */
static void key_file_with(const char *path, const char *pem)
{
    char text[8192];
    size_t at;

    at = (size_t)snprintf(text, sizeof(text), "{\"type\":\"service_account\","
                                              "\"client_email\":\"a@b.iam.gserviceaccount.com\","
                                              "\"private_key\":\"");
    for (const char *p = pem; *p != '\0' && at < sizeof(text) - 8; p++) {
        if (*p == '\n') {
            text[at++] = '\\';
            text[at++] = 'n';
        } else {
            text[at++] = *p;
        }
    }
    snprintf(text + at, sizeof(text) - at, "\"}");
    write_text(path, text);
}

/* Creating the provider fails with MDX_ECONF and a reason that contains 'want'. */
static void refused_at_start(const char *path, const char *want)
{
    char why[512];
    int err = MDX_OK;
    struct mdx_gcp_creds *c = provider("service_account", path, &err, why, sizeof(why));

    CHECK(c == NULL);
    CHECK_EQ_INT(err, MDX_ECONF);
    if (strstr(why, want) == NULL) {
        fprintf(stderr, "  reason \"%s\" lacks \"%s\"\n", why, want);
        CHECK(strstr(why, want) != NULL);
    }
    CHECK(strstr(why, "PRIVATE KEY") == NULL);
    mdx_gcp_creds_destroy(c);
}

static void bad_key_files_refused(void)
{
    char path[700], ec_pem[4096];
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;

    snprintf(path, sizeof(path), "%s/missing.json", dir);
    refused_at_start(path, "unreadable");

    snprintf(path, sizeof(path), "%s/not-json.json", dir);
    write_text(path, "private_key = oops, this is not JSON {");
    refused_at_start(path, "is not JSON");

    snprintf(path, sizeof(path), "%s/no-key.json", dir);
    write_text(path, "{\"type\":\"service_account\",\"client_email\":\"a@b\","
                     "\"token_uri\":\"https://oauth2.googleapis.com/token\"}");
    refused_at_start(path, "lacks private_key");

    snprintf(path, sizeof(path), "%s/not-pem.json", dir);
    key_file_with(path, "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
    refused_at_start(path, "not a PEM private key");

    CHECK(ec != NULL && bio != NULL &&
          PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL) == 1);
    n = BIO_get_mem_data(bio, &p);
    snprintf(ec_pem, sizeof(ec_pem), "%.*s", (int)n, p != NULL ? p : "");
    snprintf(path, sizeof(path), "%s/ec-key.json", dir);
    key_file_with(path, ec_pem);
    refused_at_start(path, "not an RSA key");
    BIO_free(bio);
    EVP_PKEY_free(ec);

    snprintf(path, sizeof(path), "%s/user.json", dir);
    write_text(path, "{\"type\":\"authorized_user\",\"client_id\":\"x\"}");
    refused_at_start(path, "only service_account keys");
}

/* 400 is a refusal (MDX_EDENIED), 500 a failure to retry (MDX_EAGAIN); each asks again. */
static void token_endpoint_errors(void)
{
    char why[512];
    const char *tok = NULL;
    int err;
    struct mdx_gcp_creds *c = provider("service_account", key_path, &err, why, sizeof(why));

    CHECK(c != NULL);
    if (c == NULL) {
        return;
    }
    atomic_store(&g.token_status, 400);
    CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_EDENIED);
    CHECK(tok == NULL);
    CHECK(strstr(why, "HTTP 400 invalid_grant") != NULL);
    atomic_store(&g.token_status, 500);
    CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_EAGAIN);
    CHECK(strstr(why, "HTTP 500") != NULL);
    atomic_store(&g.token_status, 200);
    CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_OK);
    CHECK(tok != NULL);

    /* A refresh that fails while the token is valid keeps it; once it expires, an error. */
    {
        char first[64];
        int64_t expiry = mdx_now_ms() + LIFE_MS;
        int kept = 0, failed = 0;
        snprintf(first, sizeof(first), "%s", tok != NULL ? tok : "");
        atomic_store(&g.token_status, 500);
        while (mdx_now_ms() < expiry + 1000) {
            int rc = mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why));
            if (rc == MDX_OK && tok != NULL && strcmp(tok, first) == 0) {
                kept++;
            } else if (rc == MDX_EAGAIN) {
                failed++;
            }
            mdx_sleep_ms(50);
        }
        CHECK(kept > 0);
        CHECK(failed > 0);
        atomic_store(&g.token_status, 200);
    }
    mdx_gcp_creds_destroy(c);
}

/* A metadata server that refuses connections: a clear error, asked again at each get. */
static void metadata_server_unreachable(void)
{
    struct gcp_standin down = {0};
    char why[512], host[64];
    const char *tok = NULL;
    int err;
    struct mdx_gcp_creds *c = NULL;

    CHECK_EQ_INT(gcp_standin_start(&down, 0), 0); /* bound, not listening: refused */
    snprintf(host, sizeof(host), "127.0.0.1:%d", down.port);
    setenv("GCE_METADATA_HOST", host, 1);
    c = provider("metadata", NULL, &err, why, sizeof(why));
    CHECK(c != NULL);
    if (c != NULL) {
        for (int i = 0; i < 3; i++) {
            CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)),
                         MDX_EAGAIN);
            CHECK(strstr(why, "metadata server") != NULL && strstr(why, "unreachable") != NULL);
        }
        CHECK_EQ_INT(gcp_standin_listen(&down), 0);
        CHECK_EQ_INT(mdx_gcp_creds_get(c, mdx_now_ms(), &tok, why, sizeof(why)), MDX_OK);
        CHECK(tok != NULL && strncmp(tok, "gtok-", 5) == 0);
    }
    mdx_gcp_creds_destroy(c);
    unsetenv("GCE_METADATA_HOST");
    gcp_standin_stop(&down);
}

int main(int argc, char **argv)
{
    static const struct mdx_test tests[] = {
        {"key file tokens verified and refreshed", key_file_tokens_verified_and_refreshed},
        {"metadata tokens refreshed", metadata_tokens_refreshed},
        {"auto takes GOOGLE_APPLICATION_CREDENTIALS", auto_takes_google_application_credentials},
        {"GCS store puts with bearer across expiries", gcs_store_puts_with_bearer_across_expiries},
        {"bad key files refused", bad_key_files_refused},
        {"token endpoint errors", token_endpoint_errors},
        {"metadata server unreachable", metadata_server_unreachable},
        {NULL, NULL}};
    int rc;

    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("GCE_METADATA_HOST");
    tmp_make(dir, sizeof(dir), "gcpcreds");
    atomic_store(&g.life_ms, LIFE_MS);
    if (gcp_standin_start(&g, 1) != 0) {
        fprintf(stderr, "cannot start the stand-in\n");
        return 1;
    }
    snprintf(key_path, sizeof(key_path), "%s/key.json", dir);
    snprintf(token_uri, sizeof(token_uri), "http://127.0.0.1:%d/token", g.port);
    snprintf(g.scope, sizeof(g.scope), "%s", MDX_GCP_SCOPE_STORAGE);
    if (gcp_standin_key_file(&g, key_path, token_uri) != 0) {
        fprintf(stderr, "cannot make the key pair\n");
        gcp_standin_stop(&g);
        return 1;
    }
    rc = mdx_test_run(tests, argc, argv);
    gcp_standin_stop(&g);
    if (rc == 0) {
        tmp_remove(dir);
    }
    return rc;
}
