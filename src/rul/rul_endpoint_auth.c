/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rul_endpoint_auth.c - the Authorization header of rul.endpoint requests,
 * per rul.endpoint_credentials:
 *
 *   none        no header (a Triton or KServe inside the cluster)
 *   token_file  "Bearer " + the file rul.endpoint_token_file, read again for
 *               every request: an Azure ML online endpoint's key, or a token
 *               that a sidecar keeps fresh
 *   azure       an Entra ID token for Azure ML (scope ml.azure.com) from the
 *               pod's Workload Identity (net/azure_creds.c)
 *   gcp         an OAuth token for Vertex AI (scope cloud-platform): the key
 *               of $GOOGLE_APPLICATION_CREDENTIALS or the metadata server,
 *               as GKE Workload Identity gives it (net/gcp_creds.c)
 *   aws         SageMaker InvokeEndpoint: the request signed with SigV4
 *               (service sagemaker, net/cloud_sign.c) with the keys of
 *               $AWS_ACCESS_KEY_ID/$AWS_SECRET_ACCESS_KEY, or of EKS Pod
 *               Identity or IRSA (net/aws_creds.c)
 *
 * A 401 or 403 makes the next request fetch a new token. Tokens are
 * secrets: never logged, wiped before they are freed. Used by one thread
 * (the endpoint client's, rul_remote.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/encode.h"
#include "base/file.h"
#include "base/httpdate.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "net/aws_creds.h"
#include "net/azure_creds.h"
#include "net/cloud_sign.h"
#include "net/creds_util.h"
#include "net/gcp_creds.h"
#include "net/http_client.h"
#include "rul/rul_endpoint_auth.h"

#define TOKEN_MAX 16384
#define SCOPE_AZURE_ML "https://ml.azure.com/.default"
#define SCOPE_GCP "https://www.googleapis.com/auth/cloud-platform"

enum mode { NONE, TOKEN_FILE, AZURE, GCP, AWS };

struct mdx_rul_auth {
    enum mode mode;
    char *token_file;
    struct mdx_azure_creds *azure;
    struct mdx_gcp_creds *gcp;
    struct mdx_aws_creds *aws;
    char *region;
};

/* aws: the region and the key provider (the environment's keys first, as the AWS SDKs). */
static int aws_init(struct mdx_rul_auth *a, const char *region, int64_t timeout_ms, int *err,
                    char *why, size_t why_len)
{
    struct mdx_aws_creds_conf cc = {"rul.endpoint",
                                    "auto",
                                    mdx_env("AWS_ACCESS_KEY_ID"),
                                    mdx_env("AWS_SECRET_ACCESS_KEY"),
                                    mdx_env("AWS_SESSION_TOKEN"),
                                    NULL,
                                    "modax-rul",
                                    NULL,
                                    timeout_ms};

    region = region != NULL && region[0] != '\0' ? region
             : mdx_env("AWS_REGION") != NULL      ? mdx_env("AWS_REGION")
                                                  : mdx_env("AWS_DEFAULT_REGION");
    if (region == NULL) {
        snprintf(why, why_len, "rul.endpoint_credentials=aws needs rul.endpoint_region or "
                               "$AWS_REGION");
        *err = MDX_ECONF;
        return *err;
    }
    cc.region = region;
    if ((a->region = mdx_strdup(region)) == NULL) {
        snprintf(why, why_len, "out of memory");
        *err = MDX_ENOMEM;
        return *err;
    }
    a->aws = mdx_aws_creds_create(&cc, err, why, why_len);
    return a->aws != NULL ? MDX_OK : *err;
}

struct mdx_rul_auth *mdx_rul_auth_create(const char *mode, const char *token_file,
                                         const char *region, int64_t timeout_ms, int *err,
                                         char *why, size_t why_len)
{
    struct mdx_rul_auth *a = mdx_calloc(1, sizeof(*a));

    *err = MDX_ENOMEM;
    if (a == NULL) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    mode = mode != NULL && mode[0] != '\0' ? mode : "none";
    if (strcmp(mode, "none") == 0) {
        a->mode = NONE;
    } else if (strcmp(mode, "token_file") == 0) {
        a->mode = TOKEN_FILE;
        if (token_file == NULL || token_file[0] == '\0') {
            snprintf(why, why_len, "rul.endpoint_credentials=token_file needs "
                                   "rul.endpoint_token_file");
            *err = MDX_ECONF;
            goto fail;
        }
        if ((a->token_file = mdx_strdup(token_file)) == NULL) {
            snprintf(why, why_len, "out of memory");
            goto fail;
        }
    } else if (strcmp(mode, "azure") == 0) {
        struct mdx_azure_creds_conf cc = {"rul", SCOPE_AZURE_ML, NULL, timeout_ms};
        a->mode = AZURE;
        if ((a->azure = mdx_azure_creds_create(&cc, err, why, why_len)) == NULL) {
            goto fail;
        }
    } else if (strcmp(mode, "gcp") == 0) {
        struct mdx_gcp_creds_conf cc = {"rul.endpoint", "auto", NULL, NULL,
                                        "metadata.google.internal", SCOPE_GCP, NULL,
                                        timeout_ms};
        a->mode = GCP;
        if ((a->gcp = mdx_gcp_creds_create(&cc, err, why, why_len)) == NULL) {
            goto fail;
        }
    } else if (strcmp(mode, "aws") == 0) {
        a->mode = AWS;
        if (aws_init(a, region, timeout_ms, err, why, why_len) != MDX_OK) {
            goto fail;
        }
    } else {
        snprintf(why, why_len, "rul.endpoint_credentials=%.40s: want none, token_file, azure, "
                               "gcp or aws", mode);
        *err = MDX_ECONF;
        goto fail;
    }
    *err = MDX_OK;
    return a;
fail:
    mdx_rul_auth_destroy(a);
    return NULL;
}

void mdx_rul_auth_destroy(struct mdx_rul_auth *a)
{
    if (a == NULL) {
        return;
    }
    mdx_azure_creds_destroy(a->azure);
    mdx_gcp_creds_destroy(a->gcp);
    mdx_aws_creds_destroy(a->aws);
    mdx_free(a->token_file);
    mdx_free(a->region);
    mdx_free(a);
}

/*
 * The host (with its port when the URL names one, as libcurl's Host
 * header has it) and the canonical URI of 'url' into *host and *path (new
 * strings). SigV4 encodes each path segment again for services other
 * than S3, so the path as sent is encoded once more, keeping the slashes.
 */
static int url_parts(const char *url, char **host, char **path)
{
    CURLU *u = curl_url();
    char *h = NULL, *port = NULL, *p = NULL;
    struct mdx_buf hb, pb;
    int rc = MDX_EINVAL;

    *host = *path = NULL;
    mdx_buf_init(&hb, 1024);
    mdx_buf_init(&pb, 8192);
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &p, 0) == CURLUE_OK) {
        mdx_buf_adds(&hb, h);
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) {
            mdx_buf_addf(&hb, ":%s", port);
        }
        mdx_uri_encode(&pb, p, 1);
        rc = hb.err != MDX_OK ? hb.err : pb.err;
    }
    if (rc == MDX_OK) {
        *host = mdx_buf_take(&hb);
        *path = mdx_buf_take(&pb);
    }
    mdx_buf_fini(&hb);
    mdx_buf_fini(&pb);
    curl_free(h);
    curl_free(port);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

/* SigV4 for SageMaker: x-amz-date, x-amz-content-sha256, a session token, Authorization. */
static int aws_sign(struct mdx_rul_auth *a, const char *url, const char *body, size_t len,
                    struct curl_slist **hdrs, char *why, size_t why_len)
{
    struct mdx_aws_keys keys;
    struct mdx_kv hs[4];
    char payload[65], amz_date[17], *host = NULL, *path = NULL, *auth = NULL;
    size_t nh = 0;
    int rc = mdx_aws_creds_get(a->aws, mdx_now_ms(), &keys, why, why_len);

    if (rc != MDX_OK) {
        return rc;
    }
    if (url_parts(url, &host, &path) != MDX_OK) {
        snprintf(why, why_len, "rul.endpoint is not a URL that can be signed");
        return MDX_EINVAL;
    }
    mdx_sha256_hex(body != NULL ? body : "", body != NULL ? len : 0, payload);
    mdx_fmt_amz_date(mdx_now_ms(), amz_date);
    hs[nh++] = (struct mdx_kv){"host", host};
    hs[nh++] = (struct mdx_kv){"x-amz-content-sha256", payload};
    hs[nh++] = (struct mdx_kv){"x-amz-date", amz_date};
    if (keys.session_token != NULL) {
        hs[nh++] = (struct mdx_kv){"x-amz-security-token", keys.session_token};
    }
    struct mdx_sigv4 sig = {.method = "POST", .canonical_uri = path, .canonical_query = "",
                            .headers = hs, .nheaders = nh, .payload_hash = payload,
                            .amz_date = amz_date, .region = a->region, .service = "sagemaker",
                            .access_key = keys.access_key, .secret_key = keys.secret_key};
    rc = mdx_sigv4_authorization(&sig, &auth, NULL);
    for (size_t i = 1; rc == MDX_OK && i < nh; i++) { /* libcurl sends the Host itself */
        rc = mdx_http_header(hdrs, hs[i].k, hs[i].v);
    }
    if (rc == MDX_OK) {
        rc = mdx_http_header(hdrs, "Authorization", auth);
    }
    if (rc != MDX_OK) {
        snprintf(why, why_len, "cannot sign the request: %s", mdx_strerror(rc));
    }
    mdx_free(auth);
    mdx_free(host);
    mdx_free(path);
    return rc;
}

int mdx_rul_auth_sign(struct mdx_rul_auth *a, const char *url, const char *body, size_t len,
                      struct curl_slist **hdrs, char *why, size_t why_len)
{
    const char *token = NULL;
    char *owned = NULL, *value = NULL;
    int rc = MDX_OK;

    switch (a->mode) {
    case NONE:
        return MDX_OK;
    case AWS:
        return aws_sign(a, url, body, len, hdrs, why, why_len);
    case TOKEN_FILE:
        owned = mdx_read_token_file("rul.endpoint_token_file", a->token_file, TOKEN_MAX, why,
                                    why_len);
        if (owned == NULL) {
            return MDX_EAGAIN;
        }
        token = owned;
        break;
    case AZURE:
        rc = mdx_azure_creds_get(a->azure, mdx_now_ms(), &token, why, why_len);
        break;
    case GCP:
        rc = mdx_gcp_creds_get(a->gcp, mdx_now_ms(), &token, why, why_len);
        break;
    }
    if (rc == MDX_OK) {
        value = mdx_bearer(token);
        rc = value != NULL ? mdx_http_header(hdrs, "Authorization", value) : MDX_ENOMEM;
        mdx_free_secret(value);
        if (rc != MDX_OK) {
            snprintf(why, why_len, "out of memory");
        }
    }
    mdx_free_secret(owned);
    return rc;
}

void mdx_rul_auth_refused(struct mdx_rul_auth *a)
{
    if (a->mode == GCP) {
        mdx_gcp_creds_invalidate(a->gcp);
    }
    /* token_file is read again anyway; azure_creds has no invalidate: it refreshes by age */
}
