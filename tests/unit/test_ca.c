/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ca.c - the device CA (ca.h): init writes an EC P-256 key (0600)
 * and a self-signed CA certificate and refuses to overwrite them; issued
 * client and server certificates verify against the CA with OpenSSL, carry
 * the CN, SAN and key usage asked for and a fingerprint equal to the
 * SHA-256 of their DER; a backdated short one is expired; a certificate of
 * another CA does not verify; nothing is overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "check.h"
#include "modax/ca.h"
#include "modax/status.h"

static char dir[64];

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static X509 *read_cert(const char *name)
{
    char p[128];
    FILE *f;
    X509 *c;

    path(p, sizeof(p), name);
    f = fopen(p, "r");
    if (f == NULL) {
        return NULL;
    }
    c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return c;
}

/* X509_V_OK or the verification error of 'name' against 'ca_name'. */
static int verify(const char *ca_name, const char *name)
{
    X509 *ca = read_cert(ca_name), *cert = read_cert(name);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int err = -1;

    if (ca != NULL && cert != NULL && store != NULL && ctx != NULL &&
        X509_STORE_add_cert(store, ca) == 1 && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1) {
        err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(cert);
    X509_free(ca);
    return err;
}

static long file_mode(const char *name)
{
    char p[128];
    struct stat sb;

    path(p, sizeof(p), name);
    return stat(p, &sb) == 0 ? (long)(sb.st_mode & 0777) : -1;
}

static void cn_of(X509 *c, char *out, size_t len)
{
    out[0] = '\0';
    X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, out, (int)len);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mdx-ca-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
    static const char *const files[] = {"ca/ca.key", "ca/ca.crt", "other/ca.key", "other/ca.crt",
                                        "d.crt", "d.key", "s.crt", "s.key", "old.crt",
                                        "old.key", "x.crt", "x.key"};
    char p[128];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        path(p, sizeof(p), files[i]);
        unlink(p);
    }
    path(p, sizeof(p), "ca");
    rmdir(p);
    path(p, sizeof(p), "other");
    rmdir(p);
    rmdir(dir);
}

static void init_creates_the_ca_once(void)
{
    char ca[128], cn[128];
    X509 *c;

    setup();
    path(ca, sizeof(ca), "ca");
    CHECK_EQ_INT(mdx_ca_init(ca), MDX_OK);
    CHECK_EQ_INT(file_mode("ca/ca.key"), 0600);
    c = read_cert("ca/ca.crt");
    CHECK(c != NULL);
    if (c != NULL) {
        EVP_PKEY *k = X509_get0_pubkey(c);
        char group[32] = "";
        size_t glen = 0;
        cn_of(c, cn, sizeof(cn));
        CHECK_STR(cn, MDX_CA_CN);
        CHECK(X509_check_ca(c) == 1);
        CHECK(X509_check_issued(c, c) == X509_V_OK);
        CHECK(k != NULL && EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) == 1);
        CHECK_STR(group, "prime256v1");
        /* 10 years: it ends between 3649 and 3651 days from now. */
        {
            int days = 0, secs = 0;
            CHECK(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(c)) == 1);
            CHECK(days >= 3649 && days <= 3651);
        }
        X509_free(c);
    }
    CHECK_EQ_INT(verify("ca/ca.crt", "ca/ca.crt"), X509_V_OK);
    /* Never overwritten, not even half. */
    CHECK_EQ_INT(mdx_ca_init(ca), MDX_EEXIST);
    {
        char k[128];
        path(k, sizeof(k), "ca/ca.crt");
        unlink(k);
        CHECK_EQ_INT(mdx_ca_init(ca), MDX_EEXIST);
    }
    teardown();
}

static void issues_client_and_server_certificates(void)
{
    char ca[128], crt[128], key[128], fp[MDX_CERT_FP_LEN + 1], fp2[MDX_CERT_FP_LEN + 1],
        cn[128];
    struct mdx_cert_req client = {MDX_CERT_CLIENT, "press-1", NULL, 0, 365};
    struct mdx_cert_req server = {MDX_CERT_SERVER, "localhost", "127.0.0.1", 0, 30};
    X509 *c;

    setup();
    path(ca, sizeof(ca), "ca");
    path(crt, sizeof(crt), "d.crt");
    path(key, sizeof(key), "d.key");
    CHECK_EQ_INT(mdx_ca_issue(ca, &client, crt, key, fp), MDX_ENOTFOUND); /* no CA yet */
    CHECK_EQ_INT(mdx_ca_init(ca), MDX_OK);
    CHECK_EQ_INT(mdx_ca_issue(ca, &client, crt, key, fp), MDX_OK);
    CHECK_EQ_INT(file_mode("d.key"), 0600);
    CHECK_EQ_INT(strlen(fp), MDX_CERT_FP_LEN);
    CHECK_EQ_INT(mdx_cert_fingerprint_file(crt, fp2), MDX_OK);
    CHECK_STR(fp2, fp);
    CHECK_EQ_INT(verify("ca/ca.crt", "d.crt"), X509_V_OK);
    c = read_cert("d.crt");
    CHECK(c != NULL);
    if (c != NULL) {
        cn_of(c, cn, sizeof(cn));
        CHECK_STR(cn, "press-1");
        CHECK(X509_check_ca(c) == 0);
        CHECK((X509_get_extended_key_usage(c) & XKU_SSL_CLIENT) != 0);
        CHECK((X509_get_extended_key_usage(c) & XKU_SSL_SERVER) == 0);
        X509_free(c);
    }
    /* Existing files are not overwritten. */
    CHECK_EQ_INT(mdx_ca_issue(ca, &client, crt, key, fp2), MDX_EEXIST);
    CHECK_STR(fp2, "");
    CHECK_EQ_INT(mdx_cert_fingerprint_file(crt, fp2), MDX_OK);
    CHECK_STR(fp2, fp);

    path(crt, sizeof(crt), "s.crt");
    path(key, sizeof(key), "s.key");
    CHECK_EQ_INT(mdx_ca_issue(ca, &server, crt, key, fp), MDX_OK);
    CHECK_EQ_INT(verify("ca/ca.crt", "s.crt"), X509_V_OK);
    c = read_cert("s.crt");
    CHECK(c != NULL);
    if (c != NULL) {
        CHECK(X509_check_host(c, "localhost", 0, 0, NULL) == 1);
        CHECK(X509_check_ip_asc(c, "127.0.0.1", 0) == 1);
        CHECK(X509_check_ip_asc(c, "127.0.0.2", 0) != 1);
        CHECK((X509_get_extended_key_usage(c) & XKU_SSL_SERVER) != 0);
        X509_free(c);
    }
    teardown();
}

static void backdated_certificates_expire_and_other_cas_do_not_verify(void)
{
    char ca[128], other[128], crt[128], key[128], fp[MDX_CERT_FP_LEN + 1];
    struct mdx_cert_req old = {MDX_CERT_CLIENT, "press-1", NULL, (int64_t)time(NULL) - 10 * 86400,
                               1};
    struct mdx_cert_req req = {MDX_CERT_CLIENT, "press-1", NULL, 0, 365};

    setup();
    path(ca, sizeof(ca), "ca");
    path(other, sizeof(other), "other");
    CHECK_EQ_INT(mdx_ca_init(ca), MDX_OK);
    CHECK_EQ_INT(mdx_ca_init(other), MDX_OK);
    path(crt, sizeof(crt), "old.crt");
    path(key, sizeof(key), "old.key");
    CHECK_EQ_INT(mdx_ca_issue(ca, &old, crt, key, fp), MDX_OK);
    CHECK_EQ_INT(verify("ca/ca.crt", "old.crt"), X509_V_ERR_CERT_HAS_EXPIRED);
    path(crt, sizeof(crt), "x.crt");
    path(key, sizeof(key), "x.key");
    CHECK_EQ_INT(mdx_ca_issue(other, &req, crt, key, fp), MDX_OK);
    CHECK_EQ_INT(verify("other/ca.crt", "x.crt"), X509_V_OK);
    CHECK(verify("ca/ca.crt", "x.crt") != X509_V_OK);
    teardown();
}

static void refuses_bad_requests(void)
{
    char ca[128], crt[128], key[128], fp[MDX_CERT_FP_LEN + 1];
    struct mdx_cert_req bad[] = {
        {MDX_CERT_CLIENT, "a/b", NULL, 0, 365},
        {MDX_CERT_CLIENT, "", NULL, 0, 365},
        {MDX_CERT_CLIENT, "press-1", "127.0.0.1", 0, 365},
        {MDX_CERT_CLIENT, "press-1", NULL, 0, 0},
        {MDX_CERT_SERVER, "local,host", NULL, 0, 30},
        {MDX_CERT_SERVER, "localhost", "127.0.0.1,DNS:evil", 0, 30},
        {MDX_CERT_SERVER, "localhost", "300.1.1.1", 0, 30},
        {7, "localhost", NULL, 0, 30},
    };

    setup();
    path(ca, sizeof(ca), "ca");
    path(crt, sizeof(crt), "d.crt");
    path(key, sizeof(key), "d.key");
    CHECK_EQ_INT(mdx_ca_init(ca), MDX_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(mdx_ca_issue(ca, &bad[i], crt, key, fp), MDX_EINVAL);
        CHECK(access(crt, F_OK) != 0 && access(key, F_OK) != 0);
    }
    teardown();
}

/* The folder that holds the CA key is private too, whatever the umask. */
static void ca_folder_is_created_0700(void)
{
    char ca[128];
    mode_t old = umask(022);

    setup();
    path(ca, sizeof(ca), "ca");
    CHECK_EQ_INT(mdx_ca_init(ca), MDX_OK);
    CHECK_EQ_INT(file_mode("ca"), 0700);
    CHECK_EQ_INT(file_mode("ca/ca.key"), 0600);
    umask(old);
    teardown();
}

static const struct mdx_test tests[] = {
    {"ca: init creates the CA once", init_creates_the_ca_once},
    {"ca: issues client and server certificates", issues_client_and_server_certificates},
    {"ca: backdated certificates expire, other CAs do not verify",
     backdated_certificates_expire_and_other_cas_do_not_verify},
    {"ca: refuses bad requests", refuses_bad_requests},
    {"issue 16: the CA folder is created 0700", ca_folder_is_created_0700},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
