/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud_sign.h - request signing for the cloud object stores: AWS
 * Signature Version 4 (S3, and GCS through its S3 interoperability) and
 * Azure Storage SharedKey. Pure functions over strings, no I/O, so the
 * unit tests check them against the published known-answer vectors.
 * SigV4 also signs the RUL stage's SageMaker requests (rul_endpoint_auth.c).
 */
#ifndef MODAX_NET_CLOUD_SIGN_H
#define MODAX_NET_CLOUD_SIGN_H

#include <stddef.h>

#include "net/http_client.h"

/*
 * The canonical query string of SigV4 (also used verbatim in the URL, so
 * what is signed is what is sent): parameters sorted by name, then value;
 * names and values percent-encoded; a parameter without a value is
 * "name=". 'q' holds unencoded values; 'out' is appended to.
 */
int mdx_sigv4_query(const struct mdx_kv *q, size_t n, struct mdx_buf *out);

struct mdx_sigv4 {
    const char *method;
    const char *canonical_uri;   /* the URL path as sent, already encoded */
    const char *canonical_query; /* from mdx_sigv4_query(); "" for none */
    const struct mdx_kv *headers; /* every signed header: lower-case names, trimmed values,
                                     each name once (host, x-amz-date, x-amz-content-sha256..) */
    size_t nheaders;
    const char *payload_hash;    /* the x-amz-content-sha256 value */
    const char *amz_date;        /* "20130524T000000Z", the x-amz-date value */
    const char *region;
    const char *service;         /* "s3" */
    const char *access_key;
    const char *secret_key;      /* secret: only its HMAC derivatives leave this function */
};

/*
 * The Authorization header value for 'r' into *auth (a new string the
 * caller frees). When canon_hash is not NULL it receives the hex SHA-256
 * of the canonical request (65 bytes), which the AWS examples also give.
 * MDX_OK, MDX_ENOMEM or MDX_EINVAL.
 */
int mdx_sigv4_authorization(const struct mdx_sigv4 *r, char **auth, char *canon_hash);

struct mdx_azure_sign {
    const char *method;
    const char *content_length; /* "" when the body is empty (x-ms-version >= 2015-02-21) */
    const char *content_type;   /* "" when none is sent */
    const char *content_md5;    /* Content-MD5 header; NULL or "" when none is sent */
    const struct mdx_kv *xms;   /* every x-ms-* header: lower-case names, each once */
    size_t nxms;
    const char *account;
    const char *path;           /* the URL path as sent (encoded), starting with '/' */
    const struct mdx_kv *query; /* unencoded values, lower-case names, each name once */
    size_t nquery;
};

/* Appends the SharedKey string to sign for 'a' to 'out'. */
int mdx_azure_string_to_sign(const struct mdx_azure_sign *a, struct mdx_buf *out);

/*
 * "SharedKey ACCOUNT:SIGNATURE" for 'sts' with the decoded account key
 * into *auth (a new string the caller frees). MDX_OK or MDX_ENOMEM.
 */
int mdx_azure_sharedkey(const char *account, const unsigned char *key, size_t keylen,
                        const char *sts, char **auth);

#endif
