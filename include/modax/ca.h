/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca.h - the project's device CA (issue 6), with OpenSSL: an EC P-256 key
 * and self-signed certificate (CN "MODAX device CA", 10 years) in one
 * folder, and the certificates it issues: the broker's server certificate
 * for its TLS listener, and devices' client certificates (CN = device id)
 * whose SHA-256 fingerprint the store keeps (mdx_store_device_cred_set).
 * Private keys are written with mode 0600; no file is ever overwritten.
 */
#ifndef MODAX_CA_H
#define MODAX_CA_H

#include <stdint.h>

#include <openssl/x509.h>

#define MDX_CA_KEY_FILE "ca.key"
#define MDX_CA_CERT_FILE "ca.crt"
#define MDX_CA_CN "MODAX device CA"
#define MDX_CA_DAYS 3650
#define MDX_CERT_FP_LEN 64            /* hex SHA-256, without NUL */

/*
 * Creates DIR (and its parents) if needed, then DIR/ca.key (0600) and
 * DIR/ca.crt. MDX_EEXIST if either file exists (nothing is written then),
 * MDX_EIO for a folder or file that cannot be written, MDX_EINVAL for an
 * OpenSSL failure.
 */
int mdx_ca_init(const char *dir);

enum mdx_cert_kind { MDX_CERT_CLIENT = 1, MDX_CERT_SERVER = 2 };

/* What to issue. */
struct mdx_cert_req {
    int kind;                 /* enum mdx_cert_kind */
    const char *cn;           /* device id (client) or host name (server) */
    const char *ip;           /* server: an IP address for the SAN, or NULL */
    int64_t not_before_s;     /* Unix time; 0 = now */
    int64_t days;             /* validity from not_before, > 0 */
};

/*
 * Issues a certificate for a new EC P-256 key, signed by the CA in
 * 'ca_dir', with a random 127-bit serial, into cert_path (PEM, 0644) and
 * key_path (PEM, 0600); its hex SHA-256 (of the DER) into fp. A server
 * certificate gets CN and IP in its subjectAltName and serverAuth; a
 * client certificate clientAuth. MDX_ENOTFOUND if the CA is missing,
 * MDX_EEXIST if either output file exists, MDX_EINVAL for a bad request,
 * MDX_EIO for a file that cannot be written or read.
 */
int mdx_ca_issue(const char *ca_dir, const struct mdx_cert_req *req, const char *cert_path,
                 const char *key_path, char fp[MDX_CERT_FP_LEN + 1]);

/* Hex SHA-256 of the certificate's DER: what the store keeps. MDX_EINVAL on failure. */
int mdx_cert_fingerprint(X509 *cert, char fp[MDX_CERT_FP_LEN + 1]);
/* The same for a PEM file; MDX_EIO if it cannot be read. */
int mdx_cert_fingerprint_file(const char *path, char fp[MDX_CERT_FP_LEN + 1]);

#endif
