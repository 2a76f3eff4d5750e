/* SPDX-License-Identifier: Apache-2.0 */
/*
 * objstore.c - the object store interface: picks a kind by name and opens it.
 *
 * A new kind is one file implementing struct mdx_objstore_ops plus one
 * line in the table below. The config keys of every kind ("archive.store.*")
 * live here, in one table, since one struct holds them all.
 */
#include <stddef.h>
#include <string.h>

#include "modax/alloc.h"
#include "modax/objstore.h"
#include "modax/status.h"

static const struct mdx_objstore_ops *const kinds[] = {
    &mdx_objstore_local, /* a directory on this machine (embedded default) */
    &mdx_objstore_s3,    /* AWS S3, S3 clones, GCS (XML API: HMAC keys or OAuth tokens) */
    &mdx_objstore_azure, /* Azure Blob Storage, Azurite */
};

const struct mdx_conf_key mdx_objstore_conf_keys[] = {
    MDX_CONF_STR("archive.store.kind", "local", struct mdx_objstore_conf, kind,
                 "Object store for archives: local, s3 (also GCS) or azure"),
    MDX_CONF_STR("archive.store.local_dir", "var/archive", struct mdx_objstore_conf, local_dir,
                 "local: directory that holds the archive objects (created if missing)"),
    MDX_CONF_STR("archive.store.endpoint", "", struct mdx_objstore_conf, endpoint,
                 "s3/azure: base URL, e.g. https://s3.eu-west-1.amazonaws.com"),
    MDX_CONF_STR("archive.store.bucket", "", struct mdx_objstore_conf, bucket,
                 "s3: bucket; azure: container"),
    MDX_CONF_STR("archive.store.region", "us-east-1", struct mdx_objstore_conf, region,
                 "s3: signing region (GCS: auto)"),
    MDX_CONF_BOOL("archive.store.path_style", "true", struct mdx_objstore_conf, path_style,
                  "s3: path-style URLs (host/bucket/key) instead of virtual-host style"),
    MDX_CONF_STR("archive.store.access_key", "", struct mdx_objstore_conf, access_key,
                 "s3: access key id; azure: account name"),
    MDX_CONF_SECRET("archive.store.secret_key", struct mdx_objstore_conf, secret_key,
                    "s3: secret access key; azure: base64 account key; environment or *_file only"),
    MDX_CONF_SECRET("archive.store.sas_token", struct mdx_objstore_conf, sas_token,
                    "azure: SAS query string instead of the account key; environment or *_file only"),
    MDX_CONF_SECRET("archive.store.session_token", struct mdx_objstore_conf, session_token,
                    "s3: session token of temporary credentials; environment or *_file only"),
    MDX_CONF_STR("archive.store.credentials", "auto", struct mdx_objstore_conf, credentials,
                 "s3: keys (access_key/secret_key), aws-container (EKS Pod Identity), "
                 "aws-web-identity (IRSA, via STS), gcp (Cloud Storage with an OAuth token "
                 "instead of HMAC keys: archive.store.gcp_key_file, "
                 "$GOOGLE_APPLICATION_CREDENTIALS or the GKE metadata server); "
                 "azure: keys (account key or SAS), "
                 "azure-workload-identity (AKS); auto: keys if set, else what the environment "
                 "offers. Temporary credentials are refreshed before they expire"),
    MDX_CONF_STR("archive.store.gcp_key_file", "", struct mdx_objstore_conf, gcp_key_file,
                 "s3 with credentials gcp: service-account key file (JSON); empty: "
                 "$GOOGLE_APPLICATION_CREDENTIALS, else the metadata server"),
    MDX_CONF_STR("archive.store.ca_file", "", struct mdx_objstore_conf, ca_file,
                 "s3/azure: CA certificates (PEM) the endpoints' certificates must chain to; "
                 "empty: the system's"),
    MDX_CONF_STR("archive.store.sse", "", struct mdx_objstore_conf, sse,
                 "s3: server-side encryption header value (empty: none, AES256, aws:kms)"),
    MDX_CONF_STR("archive.store.archive_tier", "", struct mdx_objstore_conf, archive_tier,
                 "Tier of archive objects: s3 storage class (STANDARD_IA, GLACIER_IR, ...), "
                 "azure access tier (Hot, Cool, Cold, Archive); empty: the store's default"),
    MDX_CONF_INT("archive.store.timeout_ms", "30000", 100, 3600000, struct mdx_objstore_conf,
                 timeout_ms, "s3/azure: time limit of one request (ms)"),
    MDX_CONF_INT("archive.store.multipart_mb", "8", 5, 5120, struct mdx_objstore_conf,
                 multipart_mb, "s3: objects larger than this (MiB) are uploaded in parts"),
    MDX_CONF_END};

struct mdx_objstore *mdx_objstore_open(const struct mdx_objstore_conf *conf, int *err)
{
    const char *name = conf->kind != NULL ? conf->kind : "local";
    const struct mdx_objstore_ops *ops = NULL;
    struct mdx_objstore *os;

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i]->name, name) == 0) {
            ops = kinds[i];
        }
    }
    if (ops == NULL) {
        *err = MDX_ECONF;
        return NULL;
    }
    os = mdx_calloc(1, sizeof(*os));
    if (os == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    os->ops = ops;
    *err = MDX_OK;
    os->impl = ops->create(conf, err);
    if (os->impl == NULL) {
        if (*err == MDX_OK) {
            *err = MDX_ECONF;
        }
        mdx_free(os);
        return NULL;
    }
    return os;
}

void mdx_objstore_close(struct mdx_objstore *os)
{
    if (os == NULL) {
        return;
    }
    os->ops->destroy(os->impl);
    mdx_free(os);
}
