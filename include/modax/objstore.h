/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore.h - object storage for archives: a local directory, S3 (and GCS
 * through its S3 interoperability endpoint), Azure Blob.
 *
 * One small interface; each kind is one file (objstore_local.c,
 * objstore_s3.c, objstore_azure.c) registered in the table in objstore.c,
 * chosen by "archive.store". An object store only reports what happened;
 * the archiver owns retries and back-off. Credentials come only from the
 * environment or files (secret config keys), and are never logged.
 */
#ifndef MODAX_OBJSTORE_H
#define MODAX_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "modax/conf.h"

struct mdx_objstore_conf {
    char *kind;               /* "local", "s3" or "azure" */
    char *local_dir;          /* local: root directory */
    char *endpoint;           /* s3/azure: base URL, e.g. https://s3.eu-west-1.amazonaws.com,
                                 http://127.0.0.1:4568, https://ACCOUNT.blob.core.windows.net */
    char *bucket;             /* s3: bucket; azure: container */
    char *region;             /* s3: signing region (GCS: "auto") */
    int path_style;           /* s3: https://host/bucket/key instead of https://bucket.host/key */
    char *access_key;         /* s3: access key id; azure: account name */
    char *secret_key;         /* secret. s3: secret access key; azure: base64 account key */
    char *sas_token;          /* secret. azure: SAS query string instead of the account key */
    char *session_token;      /* secret. s3: temporary credentials' token (optional) */
    char *credentials;        /* s3: auto, keys, aws-container, aws-web-identity (aws_creds.h)
                                 or gcp (an OAuth token, net/gcp_creds.h);
                                 azure: auto, keys or azure-workload-identity (net/azure_creds.h) */
    char *gcp_key_file;       /* s3 with gcp: service-account key (JSON); "": the environment */
    char *ca_file;            /* CA bundle (PEM) for the endpoints; NULL or "": the system's */
    char *sse;                /* s3: x-amz-server-side-encryption value ("" none, "AES256", "aws:kms") */
    char *archive_tier;       /* s3: storage class (e.g. STANDARD_IA, GLACIER_IR); azure: tier
                                 (Hot, Cool, Cold, Archive); "" = the store's default */
    int64_t timeout_ms;       /* per request */
    int64_t multipart_mb;     /* s3: objects larger than this are uploaded in parts */
};

extern const struct mdx_conf_key mdx_objstore_conf_keys[];

struct mdx_obj_info {
    int64_t size;
    int64_t mtime_ms;         /* last modified; 0 if unknown */
    char sha256[65];          /* hex SHA-256 of the bytes, kept with the object by put (S3,
                                 Azure: metadata); "" if unknown (the local store; objects
                                 written by older versions): then only a read tells */
};

struct mdx_objstore_ops {
    const char *name;
    void *(*create)(const struct mdx_objstore_conf *conf, int *err);
    void (*destroy)(void *os);
    /*
     * Stores 'len' bytes at 'key' (overwriting). 'tier' may be NULL or "" (default tier).
     * The REST stores send each request's Content-MD5, so the server refuses bytes damaged
     * on the way, and keep the SHA-256 of the whole as metadata that head returns: an
     * upload is verified without reading it back, which cold tiers (S3 Glacier, Azure
     * Archive) refuse.
     */
    int (*put)(void *os, const char *key, const void *data, size_t len, const char *tier);
    /* Reads the object into a new buffer (*data, owned by the caller, mdx_free). At most max
     * bytes. MDX_EBUSY for an object in a cold tier that must be restored before a read. */
    int (*get)(void *os, const char *key, void **data, size_t *len, size_t max);
    /* Size, time and SHA-256 (if kept) of an object; MDX_ENOTFOUND if none. Works in
     * every tier. */
    int (*head)(void *os, const char *key, struct mdx_obj_info *info);
    /* Deletes the object; deleting a missing object is MDX_OK. */
    int (*del)(void *os, const char *key);
    /* Calls fn for each object whose key starts with 'prefix', in key order. */
    int (*list)(void *os, const char *prefix,
                int (*fn)(void *arg, const char *key, const struct mdx_obj_info *info), void *arg);
    /* A human-readable reason for the last failure (static or in 'os'); never holds secrets. */
    const char *(*last_error)(void *os);
};

/*
 * Status codes the ops return: MDX_OK; MDX_ENOTFOUND (no such object);
 * MDX_EAGAIN (timeout, 5xx, connection refused: retry later); MDX_EDENIED
 * (401/403: credentials or permissions; the message says when the cause is
 * clock skew); MDX_EFULL (local disk full); MDX_EIO; MDX_EINVAL.
 */

struct mdx_objstore {
    const struct mdx_objstore_ops *ops;
    void *impl;
};

/* Opens the kind named by conf->kind. NULL on failure (*err set). */
struct mdx_objstore *mdx_objstore_open(const struct mdx_objstore_conf *conf, int *err);
void mdx_objstore_close(struct mdx_objstore *os);

extern const struct mdx_objstore_ops mdx_objstore_local;
extern const struct mdx_objstore_ops mdx_objstore_s3;
extern const struct mdx_objstore_ops mdx_objstore_azure;

#endif
