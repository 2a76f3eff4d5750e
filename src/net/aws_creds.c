/* SPDX-License-Identifier: Apache-2.0 */
/*
 * aws_creds.c - the S3 store's keys: configured, or fetched from the
 * container credentials endpoint or STS and refreshed before they expire
 * (aws_creds.h).
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "net/aws_creds.h"
#include "archive/xml.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/creds_util.h"
#include "net/http_client.h"

#define MOD "archive"
#define RESP_MAX (64 * 1024)
#define TOKEN_MAX (16 * 1024)
#define RETRY_MS 10000
#define EARLY_MS (5 * 60 * 1000)

enum source { SRC_KEYS, SRC_CONTAINER, SRC_WEB_IDENTITY };

struct mdx_aws_creds {
    enum source src;
    struct mdx_http http;
    char *url;              /* container: the endpoint; web identity: STS */
    char *role_arn;         /* web identity */
    char *session_name;     /* web identity */
    char *access_key;
    char *secret_key;       /* secret */
    char *session_token;    /* secret; NULL when none */
    int64_t expires_ms;     /* 0: never (configured keys) */
    int64_t refresh_ms;     /* when to fetch again */
};

static void drop_keys(struct mdx_aws_creds *c)
{
    MDX_FREE(c->access_key);
    mdx_free_secret(c->secret_key);
    mdx_free_secret(c->session_token);
    c->secret_key = c->session_token = NULL;
}

void mdx_aws_creds_destroy(struct mdx_aws_creds *c)
{
    if (c == NULL) {
        return;
    }
    if (c->src != SRC_KEYS) {
        mdx_http_fini(&c->http);
    }
    drop_keys(c);
    mdx_free(c->url);
    mdx_free(c->role_arn);
    mdx_free(c->session_name);
    mdx_free(c);
}

/* The container endpoint over plain HTTP only on loopback or the link-local agents of ECS and
 * EKS Pod Identity, as the AWS SDKs allow; anything else must be HTTPS. */
static int container_url_allowed(const char *u)
{
    static const char *const ok[] = {"http://127.0.0.1:", "http://127.0.0.1/",
                                     "http://localhost:", "http://localhost/",
                                     "http://169.254.170.2/", "http://169.254.170.23/",
                                     "http://[fd00:ec2::23]/"};

    if (strncmp(u, "https://", 8) == 0) {
        return 1;
    }
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (strncmp(u, ok[i], strlen(ok[i])) == 0) {
            return 1;
        }
    }
    return 0;
}

struct mdx_aws_creds *mdx_aws_creds_create(const struct mdx_aws_creds_conf *conf, int *err,
                                           char *why, size_t why_len)
{
    const char *kind = conf->credentials != NULL && conf->credentials[0] != '\0'
                           ? conf->credentials
                           : "auto";
    int have_keys = conf->access_key != NULL && conf->access_key[0] != '\0' &&
                    conf->secret_key != NULL && conf->secret_key[0] != '\0';
    struct mdx_aws_creds *c;
    struct mdx_buf b;

    *err = MDX_ECONF;
    if (strcmp(kind, "auto") == 0) {
        kind = have_keys                                       ? "keys"
               : mdx_env("AWS_CONTAINER_CREDENTIALS_FULL_URI") ? "aws-container"
               : mdx_env("AWS_WEB_IDENTITY_TOKEN_FILE")        ? "aws-web-identity"
                                                               : "keys";
    }
    c = mdx_calloc(1, sizeof(*c));
    if (c == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    if (strcmp(kind, "keys") == 0) {
        if (!have_keys) {
            snprintf(why, why_len, "no AWS credentials: set %s.access_key and "
                                   "secret_key, or run where AWS_CONTAINER_CREDENTIALS_FULL_URI "
                                   "or AWS_WEB_IDENTITY_TOKEN_FILE is set", conf->what);
            goto fail;
        }
        c->src = SRC_KEYS;
        c->access_key = mdx_strdup(conf->access_key);
        c->secret_key = mdx_strdup(conf->secret_key);
        if (conf->session_token != NULL && conf->session_token[0] != '\0') {
            c->session_token = mdx_strdup(conf->session_token);
            if (c->session_token == NULL) {
                goto nomem;
            }
        }
        if (c->access_key == NULL || c->secret_key == NULL) {
            goto nomem;
        }
        *err = MDX_OK;
        return c;
    }
    if (strcmp(kind, "aws-container") == 0) {
        const char *u = mdx_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        if (u == NULL || !container_url_allowed(u)) {
            snprintf(why, why_len, "aws-container credentials: AWS_CONTAINER_CREDENTIALS_FULL_URI "
                                   "is %s", u == NULL ? "not set" : "neither https nor a "
                                   "loopback or link-local agent address");
            goto fail;
        }
        c->src = SRC_CONTAINER;
        c->url = mdx_strdup(u);
    } else if (strcmp(kind, "aws-web-identity") == 0) {
        const char *sts = mdx_env("AWS_ENDPOINT_URL_STS");
        const char *region = conf->region != NULL && conf->region[0] != '\0' ? conf->region
                                                                              : "us-east-1";
        if (mdx_env("AWS_WEB_IDENTITY_TOKEN_FILE") == NULL || mdx_env("AWS_ROLE_ARN") == NULL) {
            snprintf(why, why_len, "aws-web-identity credentials: AWS_WEB_IDENTITY_TOKEN_FILE "
                                   "and AWS_ROLE_ARN must be set");
            goto fail;
        }
        c->src = SRC_WEB_IDENTITY;
        mdx_buf_init(&b, 1024);
        if (sts != NULL) {
            mdx_buf_adds(&b, sts);
        } else {
            mdx_buf_addf(&b, "https://sts.%s.amazonaws.com", region);
        }
        c->url = mdx_buf_take(&b);
        c->role_arn = mdx_strdup(mdx_env("AWS_ROLE_ARN"));
        c->session_name = mdx_strdup(mdx_env("AWS_ROLE_SESSION_NAME") != NULL
                                         ? mdx_env("AWS_ROLE_SESSION_NAME")
                                         : conf->session_name != NULL ? conf->session_name
                                                                      : "modax");
        if (c->role_arn == NULL || c->session_name == NULL) {
            goto nomem;
        }
    } else {
        snprintf(why, why_len, "%s.credentials '%s': auto, keys, aws-container or "
                               "aws-web-identity", conf->what, kind);
        goto fail;
    }
    if (c->url == NULL) {
        goto nomem;
    }
    *err = mdx_http_init(&c->http, conf->timeout_ms > 0 ? conf->timeout_ms : 30000);
    if (*err == MDX_OK) {
        *err = mdx_http_set_ca(&c->http, conf->ca_file);
        if (*err != MDX_OK) {
            mdx_http_fini(&c->http);
        }
    }
    if (*err != MDX_OK) {
        c->src = SRC_KEYS; /* no http handle to finish */
        mdx_aws_creds_destroy(c);
        return NULL;
    }
    return c;

nomem:
    *err = MDX_ENOMEM;
    snprintf(why, why_len, "out of memory");
fail:
    c->src = SRC_KEYS;
    mdx_aws_creds_destroy(c);
    return NULL;
}

/* Takes fresh keys and their expiry (ISO 8601); MDX_EIO when one is missing. */
static int take_keys(struct mdx_aws_creds *c, const char *ak, const char *sk, const char *tok,
                     const char *expiration, int64_t now_ms, char *why, size_t why_len)
{
    int64_t exp = 0;
    char iso[32];
    size_t n;

    if (ak == NULL || sk == NULL || expiration == NULL || ak[0] == '\0' || sk[0] == '\0') {
        snprintf(why, why_len, "the credentials answer lacks AccessKeyId, SecretAccessKey or "
                               "Expiration");
        return MDX_EIO;
    }
    /* "2026-12-07T00:15:00Z", maybe with fractions or "+00:00": seconds are enough */
    n = strlen(expiration);
    snprintf(iso, sizeof(iso), "%.19s", expiration);
    if (n < 19 || mdx_parse_time_ms(iso, &exp) != MDX_OK || exp <= now_ms) {
        snprintf(why, why_len, "the credentials answer has an unreadable or past Expiration");
        return MDX_EIO;
    }
    drop_keys(c);
    c->access_key = mdx_strdup(ak);
    c->secret_key = mdx_strdup(sk);
    c->session_token = tok != NULL && tok[0] != '\0' ? mdx_strdup(tok) : NULL;
    if (c->access_key == NULL || c->secret_key == NULL ||
        (tok != NULL && tok[0] != '\0' && c->session_token == NULL)) {
        drop_keys(c);
        return MDX_ENOMEM;
    }
    c->expires_ms = exp;
    c->refresh_ms = exp - ((exp - now_ms) / 2 < EARLY_MS ? (exp - now_ms) / 2 : EARLY_MS);
    return MDX_OK;
}

/* MDX_* for a failed fetch: 4xx is a refusal, the rest may pass. */
static int fetch_status(int rc, const struct mdx_http_resp *rs, const char *what, char *why,
                        size_t why_len)
{
    if (rc != MDX_OK) {
        snprintf(why, why_len, "%s: %s", what, rs->curl_err[0] != '\0' ? rs->curl_err
                                                                       : mdx_strerror(rc));
        return MDX_EAGAIN;
    }
    snprintf(why, why_len, "%s: HTTP %ld", what, rs->status);
    return rs->status >= 400 && rs->status < 500 && rs->status != 429 ? MDX_EDENIED : MDX_EAGAIN;
}

static int fetch_container(struct mdx_aws_creds *c, int64_t now_ms, char *why, size_t why_len)
{
    const char *file = mdx_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    char *token = file != NULL ? mdx_read_token_file("token file", file, TOKEN_MAX, why, why_len)
                               : (mdx_env("AWS_CONTAINER_AUTHORIZATION_TOKEN") != NULL
                                      ? mdx_strdup(mdx_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
                                      : NULL);
    struct curl_slist *hs = NULL;
    struct mdx_http_resp rs;
    cJSON *j = NULL;
    int rc;

    if (file != NULL && token == NULL) {
        return MDX_EAGAIN; /* why says which file */
    }
    rc = token != NULL ? mdx_http_header(&hs, "Authorization", token) : MDX_OK;
    mdx_free_secret(token);
    if (rc != MDX_OK) {
        return rc;
    }
    struct mdx_http_req rq = {"GET", c->url, hs, NULL, 0, RESP_MAX};
    rc = mdx_http_do(&c->http, &rq, &rs);
    mdx_http_headers_free(hs);
    if (rc != MDX_OK || rs.status / 100 != 2) {
        rc = fetch_status(rc, &rs, "container credentials endpoint", why, why_len);
    } else if ((j = cJSON_ParseWithLength(mdx_buf_str(&rs.body), rs.body.len)) == NULL) {
        snprintf(why, why_len, "container credentials endpoint: the answer is not JSON");
        rc = MDX_EAGAIN;
    } else {
        rc = take_keys(c, cJSON_GetStringValue(cJSON_GetObjectItem(j, "AccessKeyId")),
                       cJSON_GetStringValue(cJSON_GetObjectItem(j, "SecretAccessKey")),
                       cJSON_GetStringValue(cJSON_GetObjectItem(j, "Token")),
                       cJSON_GetStringValue(cJSON_GetObjectItem(j, "Expiration")), now_ms, why,
                       why_len);
        rc = rc == MDX_EIO ? MDX_EAGAIN : rc;
    }
    if (rs.body.p != NULL) {
        mdx_memzero(rs.body.p, rs.body.len); /* held the secret key */
    }
    cJSON_Delete(j);
    mdx_http_resp_fini(&rs);
    return rc;
}

static int fetch_web_identity(struct mdx_aws_creds *c, int64_t now_ms, char *why,
                              size_t why_len)
{
    char *token = mdx_read_token_file("token file", mdx_env("AWS_WEB_IDENTITY_TOKEN_FILE"),
                                      TOKEN_MAX, why, why_len);
    char *ak = NULL, *sk = NULL, *tok = NULL, *exp = NULL;
    struct mdx_http_resp rs;
    int rc;

    if (token == NULL) {
        return MDX_EAGAIN;
    }
    /* An unsigned form POST: the web identity token is the proof. */
    const char *const form[] = {"Action", "AssumeRoleWithWebIdentity", "Version", "2011-06-15",
                                "RoleArn", c->role_arn, "RoleSessionName", c->session_name,
                                "WebIdentityToken", token, NULL};
    rc = mdx_http_post_form(&c->http, c->url, form, RESP_MAX, &rs);
    mdx_free_secret(token);
    if (rc != MDX_OK || rs.status / 100 != 2) {
        rc = fetch_status(rc, &rs, "STS AssumeRoleWithWebIdentity", why, why_len);
    } else {
        ak = mdx_xml_get(rs.body.p, rs.body.len, "AccessKeyId");
        sk = mdx_xml_get(rs.body.p, rs.body.len, "SecretAccessKey");
        tok = mdx_xml_get(rs.body.p, rs.body.len, "SessionToken");
        exp = mdx_xml_get(rs.body.p, rs.body.len, "Expiration");
        rc = take_keys(c, ak, sk, tok, exp, now_ms, why, why_len);
        rc = rc == MDX_EIO ? MDX_EAGAIN : rc;
    }
    if (rs.body.p != NULL) {
        mdx_memzero(rs.body.p, rs.body.len);
    }
    mdx_free(ak);
    mdx_free_secret(sk);
    mdx_free_secret(tok);
    mdx_free(exp);
    mdx_http_resp_fini(&rs);
    return rc;
}

int mdx_aws_creds_get(struct mdx_aws_creds *c, int64_t now_ms, struct mdx_aws_keys *keys,
                      char *why, size_t why_len)
{
    int rc = MDX_OK;

    if (c->src != SRC_KEYS && now_ms >= c->refresh_ms) {
        rc = c->src == SRC_CONTAINER ? fetch_container(c, now_ms, why, why_len)
                                     : fetch_web_identity(c, now_ms, why, why_len);
        if (rc == MDX_OK) {
            mdx_log_info(MOD, "S3 credentials refreshed",
                         MDX_F_STR("source", c->src == SRC_CONTAINER ? "aws-container"
                                                                     : "aws-web-identity"),
                         MDX_F_INT("valid_s", (c->expires_ms - now_ms) / 1000));
        } else if (c->access_key != NULL && now_ms < c->expires_ms) {
            mdx_log_warn(MOD, "S3 credentials refresh failed; the current ones are still valid",
                         MDX_F_STR("reason", why));
            c->refresh_ms = now_ms + RETRY_MS < c->expires_ms ? now_ms + RETRY_MS
                                                              : c->expires_ms;
            rc = MDX_OK;
        } else {
            return rc;
        }
    }
    if (c->access_key == NULL || (c->expires_ms != 0 && now_ms >= c->expires_ms)) {
        snprintf(why, why_len, "S3 credentials expired");
        return MDX_EAGAIN;
    }
    keys->access_key = c->access_key;
    keys->secret_key = c->secret_key;
    keys->session_token = c->session_token;
    return rc;
}
