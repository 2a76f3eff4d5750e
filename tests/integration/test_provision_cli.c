/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_provision_cli.c - provisioning from the command line (issue 6):
 * `modax ca init` (a second time refused), `ca server-cert`, `device add
 * --secret` (the secret printed once on stdout, its argon2id hash stored
 * with the configured cost, never on stderr, the edge agent's command
 * line), `device add --cert` (the certificate verifies against the CA with
 * X509_verify_cert, its fingerprint is the stored one, key 0600; a
 * backdated one is expired), `device revoke`, `device rotate-secret` (the
 * old secret stops verifying), `identity add|list|revoke`, and bad input:
 * an unknown tenant, bad names, a device id with credentials in another
 * tenant, an identity named like a device and the reverse, no CA.
 *
 * Every check runs against SQLite and against PostgreSQL (the program's
 * own throwaway cluster, see tests/support/pg.c): the test switches
 * MODAX_TEST_STORE itself, so it is not listed for a second run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "check.h"
#include "modax/ca.h"
#include "modax/log.h"
#include "modax/secret.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

static char out[16384];
static char err[4096];

static void use_store(int pgsql, char *dir, size_t len, const char *name)
{
    char ca[600];

    if (pgsql) {
        setenv("MODAX_TEST_STORE", "postgresql", 1);
    } else {
        unsetenv("MODAX_TEST_STORE");
        unsetenv("MODAX_STORE_BACKEND");
        unsetenv("MODAX_STORE_PGSQL_URL");
        unsetenv("MODAX_STORE_PGSQL_PASSWORD");
    }
    tmp_make(dir, len, name);
    modax_env(dir, 1);
    setenv("MODAX_LOG_LEVEL", "warn", 1);
    mdx_log_setup(MDX_LOG_WARN, MDX_LOG_TEXT, 0);
    snprintf(ca, sizeof(ca), "%s/ca", dir);
    setenv("MODAX_AUTH_CA_DIR", ca, 1);
    /* A small cost keeps the test quick; the stored hash must show it. */
    setenv("MODAX_AUTH_ARGON2_T_COST", "1", 1);
    setenv("MODAX_AUTH_ARGON2_M_COST_KIB", "1024", 1);
    setenv("MODAX_AUTH_ARGON2_PARALLELISM", "1", 1);
    setenv("MODAX_AUTH_BROKER_HOST", "broker.example", 1);
    setenv("MODAX_AUTH_BROKER_TLS_PORT", "18883", 1);
}

static int says(const char *text, const char *what)
{
    if (strstr(text, what) == NULL) {
        fprintf(stderr, "  expected '%s' in: %s\n", what, text);
        return 0;
    }
    return 1;
}

/* The first line of 'text' into 'line'. */
static void first_line(const char *text, char *line, size_t len)
{
    size_t n = strcspn(text, "\n");

    snprintf(line, len, "%.*s", (int)(n < len ? n : len - 1), text);
}

static long file_mode(const char *dir, const char *name)
{
    char p[700];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &sb) == 0 ? (long)(sb.st_mode & 0777) : -1;
}

static X509 *read_cert(const char *dir, const char *name)
{
    char p[700];
    FILE *f;
    X509 *c;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "r");
    if (f == NULL) {
        return NULL;
    }
    c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return c;
}

/* X509_V_OK or the error of verifying dir/name against dir/ca/ca.crt. */
static int verify_cert(const char *dir, const char *name)
{
    X509 *ca = read_cert(dir, "ca/ca.crt"), *cert = read_cert(dir, name);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;

    if (ca != NULL && cert != NULL && store != NULL && ctx != NULL &&
        X509_STORE_add_cert(store, ca) == 1 && X509_STORE_CTX_init(ctx, store, cert, NULL) == 1) {
        rc = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(cert);
    X509_free(ca);
    return rc;
}

static int stored_cred(const char *dir, const char *device, struct mdx_device_cred *c)
{
    struct mdx_store *st = test_store_open(dir);
    int rc;

    if (st == NULL) {
        return MDX_ESTORE;
    }
    rc = mdx_store_device_cred_get(st, device, c);
    mdx_store_close(st);
    return rc;
}

static int stored_device(const char *dir, const char *tenant, const char *device)
{
    struct mdx_store *st = test_store_open(dir);
    struct mdx_device_info d;
    int rc;

    if (st == NULL) {
        return MDX_ESTORE;
    }
    rc = mdx_store_device_get(st, tenant, device, &d);
    mdx_store_close(st);
    return rc;
}

static int stored_identity(const char *dir, const char *name, struct mdx_broker_identity *id)
{
    struct mdx_store *st = test_store_open(dir);
    int rc;

    if (st == NULL) {
        return MDX_ESTORE;
    }
    rc = mdx_store_identity_get(st, name, id);
    mdx_store_close(st);
    return rc;
}

static void ca_init_and_server_cert(int pgsql)
{
    char dir[256], other[700];

    use_store(pgsql, dir, sizeof(dir), "prov-ca");
    CHECK_EQ_INT(modax_run(out, sizeof(out), "ca", "init", NULL), 0);
    CHECK(says(out, "/ca/ca.key"));
    CHECK_EQ_INT(file_mode(dir, "ca/ca.key"), 0600);
    CHECK_EQ_INT(verify_cert(dir, "ca/ca.crt"), X509_V_OK);
    /* A second init is refused and changes nothing. */
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "ca", "init", NULL), 4);
    CHECK(says(err, "exists already") && says(err, "not overwritten"));
    CHECK_EQ_INT(verify_cert(dir, "ca/ca.crt"), X509_V_OK);
    /* --dir names another folder. */
    snprintf(other, sizeof(other), "%s/other-ca", dir);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "ca", "init", "--dir", other, NULL), 0);
    CHECK_EQ_INT(file_mode(dir, "other-ca/ca.key"), 0600);

    CHECK_EQ_INT(modax_run(out, sizeof(out), "ca", "server-cert", "--cn", "localhost", "--ip",
                           "127.0.0.1", NULL),
                 0);
    CHECK(says(out, "require_certificate true") && says(out, "broker.crt"));
    CHECK_EQ_INT(file_mode(dir, "ca/broker.key"), 0600);
    CHECK_EQ_INT(verify_cert(dir, "ca/broker.crt"), X509_V_OK);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "ca", "server-cert", "--cn", "localhost", NULL),
                 4);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "ca", "server-cert", "--cn", "a,b", "--out", dir,
                              NULL),
                 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "ca", "bogus", NULL), 2);
    tmp_remove(dir);
}

static void device_add_secret_revoke_rotate(int pgsql)
{
    char dir[256], secret[128], secret2[128], path[700], line[700], opt[800];
    struct mdx_device_cred c;
    FILE *f;

    use_store(pgsql, dir, sizeof(dir), "prov-secret");
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "acme", NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "m-0007", "--type", "press",
                           "--secret", "--out", dir, NULL),
                 0);
    first_line(out, secret, sizeof(secret));
    CHECK_EQ_INT(strlen(secret), 43);
    CHECK(says(out, "username = m-0007") && says(out, "client_id = m-0007"));
    CHECK(says(out, "host = broker.example"));
    snprintf(opt, sizeof(opt),
             "modax-edge --host broker.example --port 1883 --tenant acme --prefix m- --first 7 "
             "--machines 1 --client-id m-0007 --username m-0007 --password-file %s/m-0007.secret",
             dir);
    CHECK(says(out, opt));
    CHECK(strstr(strchr(out, '\n'), secret) == NULL); /* printed once */
    CHECK_EQ_INT(file_mode(dir, "m-0007.secret"), 0600);
    snprintf(path, sizeof(path), "%s/m-0007.secret", dir);
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(line, sizeof(line), f) != NULL);
    if (f != NULL) {
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    CHECK_STR(line, secret);

    CHECK_EQ_INT(stored_device(dir, "acme", "m-0007"), MDX_OK);
    CHECK_EQ_INT(stored_cred(dir, "m-0007", &c), MDX_OK);
    CHECK_STR(c.tenant, "acme");
    CHECK(strncmp(c.secret_hash, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    CHECK(strstr(c.secret_hash, secret) == NULL);
    CHECK_EQ_INT(mdx_secret_verify(c.secret_hash, secret), MDX_OK);
    CHECK_EQ_INT(mdx_secret_verify(c.secret_hash, "wrong"), MDX_EDENIED);
    CHECK_EQ_INT(c.revoked_ms, 0);

    /* A secret is never on stderr, even with every log line on. */
    setenv("MODAX_LOG_LEVEL", "trace", 1);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "m-0008", "--secret",
                              "--out", dir, NULL),
                 0);
    setenv("MODAX_LOG_LEVEL", "warn", 1);
    snprintf(path, sizeof(path), "%s/m-0008.secret", dir);
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(line, sizeof(line), f) != NULL);
    if (f != NULL) {
        fclose(f);
    }
    line[strcspn(line, "\n")] = '\0';
    CHECK_EQ_INT(strlen(line), 43);
    CHECK(strstr(err, line) == NULL);

    /* Revoke: stored, then refused again; unknown devices and devices without credentials. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "revoke", "acme", "m-0007", NULL), 0);
    CHECK_EQ_INT(stored_cred(dir, "m-0007", &c), MDX_OK);
    CHECK(c.revoked_ms > 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "revoke", "acme", "m-0007", NULL), 4);
    CHECK(says(err, "revoked already"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "revoke", "acme", "m-0999", NULL), 3);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "plain-1", NULL), 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "revoke", "acme", "plain-1", NULL), 3);
    CHECK(says(err, "no broker credentials"));

    /* Rotate: a new secret, the old one stops verifying, the revocation is lifted. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "rotate-secret", "acme", "m-0007", NULL),
                 0);
    first_line(out, secret2, sizeof(secret2));
    CHECK_EQ_INT(strlen(secret2), 43);
    CHECK(strcmp(secret, secret2) != 0);
    CHECK_EQ_INT(stored_cred(dir, "m-0007", &c), MDX_OK);
    CHECK_EQ_INT(mdx_secret_verify(c.secret_hash, secret2), MDX_OK);
    CHECK_EQ_INT(mdx_secret_verify(c.secret_hash, secret), MDX_EDENIED);
    CHECK_EQ_INT(c.revoked_ms, 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "rotate-secret", "acme", "nope", NULL),
                 3);
    tmp_remove(dir);
}

static void device_add_cert(int pgsql)
{
    char dir[256], fp[MDX_CERT_FP_LEN + 1], path[700], cn[128];
    struct mdx_device_cred c;
    X509 *cert;

    use_store(pgsql, dir, sizeof(dir), "prov-cert");
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "acme", NULL), 0);
    /* No CA yet: refused, and the device is not left behind. */
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "press-1", "--cert",
                              "--out", dir, NULL),
                 3);
    CHECK(says(err, "modax ca init"));
    CHECK_EQ_INT(stored_device(dir, "acme", "press-1"), MDX_ENOTFOUND);

    CHECK_EQ_INT(modax_run(out, sizeof(out), "ca", "init", NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "press-1", "--cert",
                           "--out", dir, NULL),
                 0);
    CHECK_EQ_INT(file_mode(dir, "press-1.key"), 0600);
    CHECK_EQ_INT(verify_cert(dir, "press-1.crt"), X509_V_OK);
    snprintf(path, sizeof(path), "%s/press-1.crt", dir);
    CHECK_EQ_INT(mdx_cert_fingerprint_file(path, fp), MDX_OK);
    CHECK_EQ_INT(stored_cred(dir, "press-1", &c), MDX_OK);
    CHECK_STR(c.cert_fingerprint, fp);
    CHECK_STR(c.secret_hash, "");
    CHECK(says(out, fp) && says(out, "port = 18883") && says(out, "client_id = press-1"));
    CHECK(says(out, "/ca/ca.crt") && says(out, "keyfile = "));
    cert = read_cert(dir, "press-1.crt");
    CHECK(cert != NULL);
    if (cert != NULL) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
        CHECK_STR(cn, "press-1");
        X509_free(cert);
    }
    /* Files are never overwritten: a second device of that id in the same folder is refused. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "globex", NULL), 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "globex", "press-1", "--cert",
                              "--out", dir, NULL),
                 4);

    /* An already expired certificate, for the broker's attack tests. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "old-1", "--cert", "--out",
                           dir, "--days", "1", "--backdate-days", "10", NULL),
                 0);
    CHECK_EQ_INT(verify_cert(dir, "old-1.crt"), X509_V_ERR_CERT_HAS_EXPIRED);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "x-1", "--cert",
                              "--days", "0", NULL),
                 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "x-1", "--secret",
                              "--days", "3", NULL),
                 2);
    tmp_remove(dir);
}

static void identities(int pgsql)
{
    char dir[256], secret[128];
    struct mdx_broker_identity id;
    const char *l;

    use_store(pgsql, dir, sizeof(dir), "prov-id");
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "acme", NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "identity", "add", "--service", "modax-svc", NULL),
                 0);
    first_line(out, secret, sizeof(secret));
    CHECK_EQ_INT(strlen(secret), 43);
    CHECK(says(out, "mqtt.username = modax-svc"));
    CHECK_EQ_INT(stored_identity(dir, "modax-svc", &id), MDX_OK);
    CHECK_EQ_INT(id.kind, MDX_IDENTITY_SERVICE);
    CHECK_EQ_INT(mdx_secret_verify(id.secret_hash, secret), MDX_OK);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "identity", "add", "--operator", "--tenant", "acme",
                           "hmi-1", NULL),
                 0);
    first_line(out, secret, sizeof(secret));
    CHECK_EQ_INT(stored_identity(dir, "hmi-1", &id), MDX_OK);
    CHECK_EQ_INT(id.kind, MDX_IDENTITY_OPERATOR);
    CHECK_STR(id.tenant, "acme");
    CHECK_EQ_INT(mdx_secret_verify(id.secret_hash, secret), MDX_OK);

    CHECK_EQ_INT(modax_run(out, sizeof(out), "identity", "list", NULL), 0);
    l = strstr(out, "\nhmi-1 ");
    CHECK(l != NULL && strncmp(strstr(l, "operator"), "operator  acme", 14) == 0);
    CHECK(says(out, "\nmodax-svc ") && says(out, "service"));
    CHECK(strstr(out, secret) == NULL && strstr(out, "$argon2") == NULL);

    CHECK_EQ_INT(modax_run(out, sizeof(out), "identity", "revoke", "hmi-1", NULL), 0);
    CHECK_EQ_INT(stored_identity(dir, "hmi-1", &id), MDX_OK);
    CHECK(id.revoked_ms > 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "revoke", "hmi-1", NULL), 4);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "revoke", "nobody", NULL), 3);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "add", "--service", "modax-svc",
                              NULL),
                 4);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "add", "--operator", "--tenant",
                              "initech", "hmi-2", NULL),
                 3);
    CHECK(says(err, "tenant 'initech' does not exist"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "add", "--service", "--tenant",
                              "acme", "x", NULL),
                 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "add", "--service", "a/b", NULL), 2);
    tmp_remove(dir);
}

static void refuses_bad_input(int pgsql)
{
    char dir[256];

    use_store(pgsql, dir, sizeof(dir), "prov-bad");
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "acme", NULL), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "add", "globex", NULL), 0);

    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "initech", "m-0001", "--secret",
                              NULL),
                 3);
    CHECK(says(err, "no such tenant 'initech'"));
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "bad/name", "--secret",
                              NULL),
                 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "m+1", "--secret", NULL),
                 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "m-1", "--secret",
                              "--cert", NULL),
                 2);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "revoke", "acme", NULL), 2);

    /* A device id with credentials in one tenant is refused in another, which stays clean. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "m-0001", "--secret", NULL),
                 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "globex", "m-0001", "--secret",
                              NULL),
                 4);
    CHECK(says(err, "has broker credentials in tenant 'acme'"));
    CHECK_EQ_INT(stored_device(dir, "globex", "m-0001"), MDX_ENOTFOUND);
    /* The same id in the same tenant: exists. */
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "acme", "m-0001", "--secret",
                              NULL),
                 4);

    /* Identity names and device ids stay apart, both ways. */
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "identity", "add", "--service", "m-0001", NULL),
                 4);
    CHECK(says(err, "taken by a broker identity or a device id"));
    CHECK_EQ_INT(modax_run(out, sizeof(out), "identity", "add", "--service", "gateway", NULL), 0);
    CHECK_EQ_INT(modax_stderr(err, sizeof(err), "device", "add", "globex", "gateway", "--secret",
                              NULL),
                 4);
    CHECK(says(err, "name of a broker identity"));
    CHECK_EQ_INT(stored_device(dir, "globex", "gateway"), MDX_ENOTFOUND);
    tmp_remove(dir);
}

#define BOTH(fn)                                                                                   \
    static void fn##_sqlite(void) { fn(0); }                                                       \
    static void fn##_pgsql(void) { fn(1); }

BOTH(ca_init_and_server_cert)
BOTH(device_add_secret_revoke_rotate)
BOTH(device_add_cert)
BOTH(identities)
BOTH(refuses_bad_input)

#define CASE(title, fn) {"sqlite: " title, fn##_sqlite}, {"pgsql: " title, fn##_pgsql}

static const struct mdx_test tests[] = {
    CASE("issue 6: ca init (twice refused), --dir, server-cert", ca_init_and_server_cert),
    CASE("issue 6: device add --secret, revoke, rotate-secret", device_add_secret_revoke_rotate),
    CASE("issue 6: device add --cert verifies against the CA; expired; no CA",
         device_add_cert),
    CASE("issue 6: identity add --service/--operator, list, revoke", identities),
    CASE("issue 6: unknown tenant, bad names, taken ids and names", refuses_bad_input),
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
