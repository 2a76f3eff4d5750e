/* SPDX-License-Identifier: Apache-2.0 */
/*
 * azure_creds.c - Entra ID access tokens from Azure Workload Identity,
 * refreshed before they expire (azure_creds.h).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/azure_creds.h"
#include "net/creds_util.h"
#include "net/http_client.h"

#define RESP_MAX (64 * 1024)
#define TOKEN_FILE_MAX (16 * 1024)
#define RETRY_MS 10000
#define EARLY_MS (5 * 60 * 1000)

struct mdx_azure_creds {
    struct mdx_http http;
    char *what;            /* log module */
    char *scope;
    char *url;             /* the tenant's token endpoint */
    char *client_id;
    char *token_file;      /* the federated token, read again at each refresh */
    char *access_token;    /* secret; NULL until fetched */
    int64_t expires_ms;
    int64_t refresh_ms;
};

int mdx_azure_creds_in_env(void)
{
    return mdx_env("AZURE_FEDERATED_TOKEN_FILE") != NULL;
}

void mdx_azure_creds_destroy(struct mdx_azure_creds *c)
{
    if (c == NULL) {
        return;
    }
    mdx_http_fini(&c->http);
    mdx_free(c->what);
    mdx_free(c->scope);
    mdx_free(c->url);
    mdx_free(c->client_id);
    mdx_free(c->token_file);
    mdx_free_secret(c->access_token);
    mdx_free(c);
}

struct mdx_azure_creds *mdx_azure_creds_create(const struct mdx_azure_creds_conf *conf, int *err,
                                               char *why, size_t why_len)
{
    const char *file = mdx_env("AZURE_FEDERATED_TOKEN_FILE");
    const char *client = mdx_env("AZURE_CLIENT_ID");
    const char *tenant = mdx_env("AZURE_TENANT_ID"), *host = mdx_env("AZURE_AUTHORITY_HOST");
    struct mdx_azure_creds *c;
    struct mdx_buf b;

    *err = MDX_ECONF;
    if (file == NULL || client == NULL || tenant == NULL) {
        snprintf(why, why_len, "azure-workload-identity: AZURE_FEDERATED_TOKEN_FILE, "
                               "AZURE_CLIENT_ID and AZURE_TENANT_ID must be set (the "
                               "workload identity webhook sets them)");
        return NULL;
    }
    if (conf->scope == NULL || conf->scope[0] == '\0') {
        snprintf(why, why_len, "azure-workload-identity: no scope to ask tokens for");
        return NULL;
    }
    if (host == NULL) {
        host = "https://login.microsoftonline.com/";
    }
    c = mdx_calloc(1, sizeof(*c));
    if (c == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    mdx_buf_init(&b, 2048);
    mdx_buf_addf(&b, "%s%s", host, host[strlen(host) - 1] == '/' ? "" : "/");
    mdx_uri_encode(&b, tenant, 0);
    mdx_buf_adds(&b, "/oauth2/v2.0/token");
    c->url = mdx_buf_take(&b);
    c->client_id = mdx_strdup(client);
    c->token_file = mdx_strdup(file);
    c->scope = mdx_strdup(conf->scope);
    c->what = mdx_strdup(conf->what != NULL && conf->what[0] != '\0' ? conf->what : "azure");
    *err = c->url == NULL || c->client_id == NULL || c->token_file == NULL || c->scope == NULL ||
                   c->what == NULL
               ? MDX_ENOMEM
               : MDX_OK;
    if (*err == MDX_OK) {
        *err = mdx_http_init(&c->http, conf->timeout_ms > 0 ? conf->timeout_ms : 30000);
    }
    if (*err == MDX_OK) {
        *err = mdx_http_set_ca(&c->http, conf->ca_file);
    }
    if (*err != MDX_OK) {
        snprintf(why, why_len, "out of memory");
        mdx_azure_creds_destroy(c);
        return NULL;
    }
    return c;
}

/* The client-credentials exchange: federated token -> access token. */
static int fetch(struct mdx_azure_creds *c, int64_t now_ms, char *why, size_t why_len)
{
    char *assertion = mdx_read_token_file("federated token file", c->token_file, TOKEN_FILE_MAX,
                                          why, why_len);
    struct mdx_http_resp rs;
    cJSON *j = NULL;
    const char *tok;
    double ttl_s;
    int rc;

    if (assertion == NULL) {
        return MDX_EAGAIN;
    }
    const char *const form[] = {
        "grant_type", "client_credentials", "client_id", c->client_id, "scope", c->scope,
        "client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion", assertion, NULL};
    rc = mdx_http_post_form(&c->http, c->url, form, RESP_MAX, &rs);
    mdx_free_secret(assertion);
    if (rc != MDX_OK) {
        snprintf(why, why_len, "Entra ID token endpoint: %s",
                 rs.curl_err[0] != '\0' ? rs.curl_err : mdx_strerror(rc));
        rc = MDX_EAGAIN;
    } else if (rs.status / 100 != 2) {
        snprintf(why, why_len, "Entra ID token endpoint: HTTP %ld", rs.status);
        rc = rs.status >= 400 && rs.status < 500 && rs.status != 429 ? MDX_EDENIED : MDX_EAGAIN;
    } else if ((j = cJSON_ParseWithLength(mdx_buf_str(&rs.body), rs.body.len)) == NULL ||
               (tok = cJSON_GetStringValue(cJSON_GetObjectItem(j, "access_token"))) == NULL ||
               tok[0] == '\0' || !cJSON_IsNumber(cJSON_GetObjectItem(j, "expires_in")) ||
               (ttl_s = cJSON_GetObjectItem(j, "expires_in")->valuedouble) <= 0 ||
               ttl_s > 86400.0 * 7) {
        snprintf(why, why_len, "Entra ID token endpoint: the answer lacks access_token or "
                               "expires_in");
        rc = MDX_EAGAIN;
    } else {
        char *copy = mdx_strdup(tok);
        int64_t life = (int64_t)(ttl_s * 1000.0);
        if (copy == NULL) {
            rc = MDX_ENOMEM;
        } else {
            mdx_free_secret(c->access_token);
            c->access_token = copy;
            c->expires_ms = now_ms + life;
            c->refresh_ms = c->expires_ms - (life / 2 < EARLY_MS ? life / 2 : EARLY_MS);
        }
    }
    if (rs.body.p != NULL) {
        mdx_memzero(rs.body.p, rs.body.len);
    }
    cJSON_Delete(j);
    mdx_http_resp_fini(&rs);
    return rc;
}

int mdx_azure_creds_get(struct mdx_azure_creds *c, int64_t now_ms, const char **token,
                        char *why, size_t why_len)
{
    int rc;

    if (c->access_token == NULL || now_ms >= c->refresh_ms) {
        rc = fetch(c, now_ms, why, why_len);
        if (rc == MDX_OK) {
            mdx_log_info(c->what, "Azure access token refreshed", MDX_F_STR("source",
                                                                        "azure-workload-identity"),
                         MDX_F_INT("valid_s", (c->expires_ms - now_ms) / 1000));
        } else if (c->access_token != NULL && now_ms < c->expires_ms) {
            mdx_log_warn(c->what, "Azure token refresh failed; the current one is still valid",
                         MDX_F_STR("reason", why));
            c->refresh_ms = now_ms + RETRY_MS < c->expires_ms ? now_ms + RETRY_MS
                                                              : c->expires_ms;
        } else {
            return rc;
        }
    }
    *token = c->access_token;
    return MDX_OK;
}
