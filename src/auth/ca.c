/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca.c - the project's device CA and the certificates it issues (ca.h),
 * with OpenSSL's EVP and X509 APIs. Every file is created with O_EXCL:
 * nothing is overwritten, and a key is never readable by others, not even
 * for a moment.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "modax/ca.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/validate.h"

#define MOD "ca"
#define PATH_LEN 4096

/* mkdir -p with mode 0700 for the folders it makes: the CA folder holds its key. */
static int mkdir_p(const char *dir)
{
    char p[PATH_LEN];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof(p)) {
        return MDX_EINVAL;
    }
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                return MDX_EIO;
            }
            p[i] = c;
        }
    }
    return MDX_OK;
}

static int join(char *out, const char *dir, const char *file)
{
    int n = snprintf(out, PATH_LEN, "%s/%s", dir, file);

    return n > 0 && n < PATH_LEN ? MDX_OK : MDX_EINVAL;
}

/* Opens a new file (never an existing one) with 'mode'; MDX_EEXIST if it exists. */
static int create_excl(const char *path, mode_t mode, FILE **f)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    *f = NULL;
    if (fd < 0) {
        return errno == EEXIST ? MDX_EEXIST : MDX_EIO;
    }
    if (fchmod(fd, mode) != 0 || (*f = fdopen(fd, "w")) == NULL) {
        close(fd);
        unlink(path);
        return MDX_EIO;
    }
    return MDX_OK;
}

/* Writes 'key' (0600) or 'cert' (0644) as PEM into a new file. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
    FILE *f;
    int ok, rc = create_excl(path, key != NULL ? 0600 : 0644, &f);

    if (rc != MDX_OK) {
        return rc;
    }
    ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_X509(f, cert);
    if (fclose(f) != 0 || ok != 1) {
        unlink(path);
        return MDX_EIO;
    }
    return MDX_OK;
}

static int set_cn(X509_NAME *name, const char *cn)
{
    return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                      -1, 0) == 1;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return 0;
    }
    ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random positive 127-bit serial. */
static int set_serial(X509 *cert)
{
    unsigned char raw[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        return 0;
    }
    raw[0] &= 0x7f;
    raw[0] |= 0x40; /* never a short or zero serial */
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

/* A new certificate of 'key' with serial, validity and subject CN; issuer set by the caller. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, int64_t not_before_s, int64_t days)
{
    X509 *cert = X509_new();
    time_t nb = (time_t)(not_before_s > 0 ? not_before_s : (int64_t)time(NULL));

    if (cert == NULL) {
        return NULL;
    }
    if (X509_set_version(cert, 2) != 1 || !set_serial(cert) ||
        ASN1_TIME_set(X509_getm_notBefore(cert), nb) == NULL ||
        ASN1_TIME_adj(X509_getm_notAfter(cert), nb, (int)days, 0) == NULL ||
        X509_set_pubkey(cert, key) != 1 || !set_cn(X509_get_subject_name(cert), cn)) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

int mdx_ca_init(const char *dir)
{
    char key_path[PATH_LEN], cert_path[PATH_LEN];
    struct stat sb;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc;

    if (dir == NULL || join(key_path, dir, MDX_CA_KEY_FILE) != MDX_OK ||
        join(cert_path, dir, MDX_CA_CERT_FILE) != MDX_OK) {
        return MDX_EINVAL;
    }
    if (stat(key_path, &sb) == 0 || stat(cert_path, &sb) == 0) {
        return MDX_EEXIST;
    }
    rc = mkdir_p(dir);
    if (rc != MDX_OK) {
        return rc;
    }
    key = EVP_EC_gen("P-256");
    cert = key != NULL ? new_cert(key, MDX_CA_CN, 0, MDX_CA_DAYS) : NULL;
    rc = MDX_EINVAL;
    if (cert != NULL &&
        X509_set_issuer_name(cert, X509_get_subject_name(cert)) == 1 &&
        add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
        add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") &&
        add_ext(cert, cert, NID_subject_key_identifier, "hash") &&
        X509_sign(cert, key, EVP_sha256()) > 0) {
        rc = write_pem(key_path, key, NULL);
        if (rc == MDX_OK) {
            rc = write_pem(cert_path, NULL, cert);
            if (rc != MDX_OK) {
                unlink(key_path);
            }
        }
    }
    if (rc == MDX_OK) {
        mdx_log_info(MOD, "device CA created", MDX_F_STR("dir", dir));
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

/* Reads the CA's key and certificate from 'dir'. */
static int load_ca(const char *dir, EVP_PKEY **key, X509 **cert)
{
    char path[PATH_LEN];
    FILE *f;

    *key = NULL;
    *cert = NULL;
    if (join(path, dir, MDX_CA_KEY_FILE) != MDX_OK) {
        return MDX_EINVAL;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return errno == ENOENT ? MDX_ENOTFOUND : MDX_EIO;
    }
    *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (*key == NULL || join(path, dir, MDX_CA_CERT_FILE) != MDX_OK) {
        return MDX_EIO;
    }
    f = fopen(path, "r");
    if (f == NULL) {
        return errno == ENOENT ? MDX_ENOTFOUND : MDX_EIO;
    }
    *cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return *cert != NULL ? MDX_OK : MDX_EIO;
}

/* A DNS name: [A-Za-z0-9.-]{1,253}. */
static int valid_host(const char *s)
{
    size_t n = strnlen(s, 254);

    if (n == 0 || n > 253) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int valid_ip(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int req_ok(const struct mdx_cert_req *r)
{
    if (r == NULL || r->cn == NULL || r->days <= 0 || r->days > 36500 || r->not_before_s < 0) {
        return 0;
    }
    if (r->kind == MDX_CERT_CLIENT) {
        return r->ip == NULL && mdx_valid_segment(r->cn, strnlen(r->cn, MDX_NAME_MAX + 1));
    }
    return r->kind == MDX_CERT_SERVER && valid_host(r->cn) && (r->ip == NULL || valid_ip(r->ip));
}

/* The extensions of a leaf certificate signed by 'ca'. */
static int leaf_exts(X509 *cert, X509 *ca, const struct mdx_cert_req *r)
{
    char san[512];

    if (!add_ext(cert, ca, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(cert, ca, NID_key_usage, "critical,digitalSignature,keyAgreement") ||
        !add_ext(cert, ca, NID_subject_key_identifier, "hash") ||
        !add_ext(cert, ca, NID_authority_key_identifier, "keyid:always")) {
        return 0;
    }
    if (r->kind == MDX_CERT_CLIENT) {
        return add_ext(cert, ca, NID_ext_key_usage, "clientAuth");
    }
    /* Checked by req_ok(): neither value holds a comma or a colon of its own but IPv6's. */
    if (r->ip != NULL) {
        snprintf(san, sizeof(san), "DNS:%s,IP:%s", r->cn, r->ip);
    } else {
        snprintf(san, sizeof(san), "DNS:%s", r->cn);
    }
    return add_ext(cert, ca, NID_ext_key_usage, "serverAuth") &&
           add_ext(cert, ca, NID_subject_alt_name, san);
}

int mdx_ca_issue(const char *ca_dir, const struct mdx_cert_req *req, const char *cert_path,
                 const char *key_path, char fp[MDX_CERT_FP_LEN + 1])
{
    EVP_PKEY *ca_key = NULL, *key = NULL;
    X509 *ca = NULL, *cert = NULL;
    struct stat sb;
    int rc;

    fp[0] = '\0';
    if (!req_ok(req) || ca_dir == NULL || cert_path == NULL || key_path == NULL) {
        return MDX_EINVAL;
    }
    if (stat(cert_path, &sb) == 0 || stat(key_path, &sb) == 0) {
        return MDX_EEXIST;
    }
    rc = load_ca(ca_dir, &ca_key, &ca);
    if (rc == MDX_OK) {
        rc = MDX_EINVAL;
        key = EVP_EC_gen("P-256");
        cert = key != NULL ? new_cert(key, req->cn, req->not_before_s, req->days) : NULL;
        if (cert != NULL && X509_set_issuer_name(cert, X509_get_subject_name(ca)) == 1 &&
            leaf_exts(cert, ca, req) && X509_sign(cert, ca_key, EVP_sha256()) > 0) {
            rc = mdx_cert_fingerprint(cert, fp);
        }
    }
    if (rc == MDX_OK) {
        rc = write_pem(key_path, key, NULL);
    }
    if (rc == MDX_OK) {
        rc = write_pem(cert_path, NULL, cert);
        if (rc != MDX_OK) {
            unlink(key_path);
        }
    }
    if (rc != MDX_OK) {
        fp[0] = '\0';
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

int mdx_cert_fingerprint(X509 *cert, char fp[MDX_CERT_FP_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    fp[0] = '\0';
    if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &len) != 1 || len != 32) {
        return MDX_EINVAL;
    }
    for (unsigned int i = 0; i < len; i++) {
        fp[2 * i] = hex[md[i] >> 4];
        fp[2 * i + 1] = hex[md[i] & 15];
    }
    fp[2 * len] = '\0';
    return MDX_OK;
}

int mdx_cert_fingerprint_file(const char *path, char fp[MDX_CERT_FP_LEN + 1])
{
    FILE *f = fopen(path, "r");
    X509 *cert;
    int rc;

    fp[0] = '\0';
    if (f == NULL) {
        return MDX_EIO;
    }
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert == NULL) {
        return MDX_EIO;
    }
    rc = mdx_cert_fingerprint(cert, fp);
    X509_free(cert);
    return rc;
}
