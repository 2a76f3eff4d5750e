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
 *
 * A 401 or 403 makes the next request fetch a new token. Tokens are
 * secrets: never logged, wiped before they are freed. Used by one thread
 * (the endpoint client's, rul_remote.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "net/azure_creds.h"
#include "net/gcp_creds.h"
#include "rul/rul_endpoint_auth.h"

#define TOKEN_MAX 16384
#define SCOPE_AZURE_ML "https://ml.azure.com/.default"
#define SCOPE_GCP "https://www.googleapis.com/auth/cloud-platform"

enum mode { NONE, TOKEN_FILE, AZURE, GCP };

struct mdx_rul_auth {
    enum mode mode;
    char *token_file;
    struct mdx_azure_creds *azure;
    struct mdx_gcp_creds *gcp;
};

struct mdx_rul_auth *mdx_rul_auth_create(const char *mode, const char *token_file,
                                         int64_t timeout_ms, int *err, char *why, size_t why_len)
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
    } else {
        snprintf(why, why_len, "rul.endpoint_credentials=%.40s: want none, token_file, azure "
                               "or gcp", mode);
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
    mdx_free(a->token_file);
    mdx_free(a);
}

int mdx_rul_auth_header(struct mdx_rul_auth *a, char **value, char *why, size_t why_len)
{
    const char *token = NULL;
    char *owned = NULL;
    int rc = MDX_OK;

    *value = NULL;
    switch (a->mode) {
    case NONE:
        return MDX_OK;
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
        size_t n = strlen("Bearer ") + strlen(token) + 1;
        if ((*value = mdx_malloc(n)) != NULL) {
            snprintf(*value, n, "Bearer %s", token);
        } else {
            snprintf(why, why_len, "out of memory");
            rc = MDX_ENOMEM;
        }
    }
    if (owned != NULL) {
        mdx_memzero(owned, strlen(owned));
        mdx_free(owned);
    }
    return rc;
}

void mdx_rul_auth_refused(struct mdx_rul_auth *a)
{
    if (a->mode == GCP) {
        mdx_gcp_creds_invalidate(a->gcp);
    }
    /* token_file is read again anyway; azure_creds has no invalidate: it refreshes by age */
}
