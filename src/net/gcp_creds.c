/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gcp_creds.c - Google Cloud access tokens from a service-account key
 * (signed JWT -> token endpoint), the metadata server or a token file,
 * refreshed before they expire (gcp_creds.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base/buf.h"
#include "base/encode.h"
#include "base/file.h"
#include "modax/alloc.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/gcp_creds.h"
#include "net/creds_util.h"
#include "net/http_client.h"

#define MOD "gcp"
#define KEY_FILE_MAX (64 * 1024)
#define TOKEN_FILE_MAX (16 * 1024)
#define RESP_MAX (64 * 1024)
#define RETRY_MS 10000
#define EARLY_MS (5 * 60 * 1000)
#define TOKEN_FILE_RELOAD_MS 60000
#define JWT_LIFE_S 3600 /* the longest Google's token endpoint accepts */
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define DEFAULT_METADATA_HOST "metadata.google.internal"

enum source { SRC_SERVICE_ACCOUNT, SRC_METADATA, SRC_TOKEN_FILE };

struct mdx_gcp_creds {
    enum source src;
    struct mdx_http http;
    char *what;            /* config prefix for reasons */
    char *path;            /* the key file or the token file */
    char *scope;           /* service account */
    char *meta_url;        /* metadata */
    char *token;           /* secret; NULL until fetched */
    int64_t expires_ms;    /* wall time; 0: unknown (token file) */
    int64_t refresh_ms;    /* wall time to fetch again */
};

/* What a service-account key file holds; the key is a secret. */
struct sa_key {
    char *email;
    char *kid;             /* private_key_id; NULL when the file has none */
    char *token_uri;
    EVP_PKEY *pkey;
};

static int set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void sa_key_fini(struct sa_key *k)
{
    mdx_free(k->email);
    mdx_free(k->kid);
    mdx_free(k->token_uri);
    EVP_PKEY_free(k->pkey); /* OpenSSL clears the private numbers as it frees them */
    memset(k, 0, sizeof(*k));
}

/* A PEM passphrase callback that has none: an encrypted key fails instead of prompting. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* A string member of 'j', or NULL. */
static const char *str_of(const cJSON *j, const char *name)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, name));

    return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * Reads the key file at 'path' into *k (sa_key_fini frees it). MDX_OK, or
 * MDX_ECONF with the reason in 'why': unreadable, not JSON, not a service
 * account key, no client_email or private_key, a key that is not RSA in PEM.
 */
static int load_key(const char *path, struct sa_key *k, char *why, size_t why_len)
{
    char *text = NULL;
    cJSON *j = NULL;
    cJSON *pk;
    const char *type, *email, *kid, *uri;
    BIO *bio = NULL;
    int rc = mdx_read_secret_file(path, KEY_FILE_MAX, &text);

    memset(k, 0, sizeof(*k));
    if (rc != MDX_OK) {
        snprintf(why, why_len, "service-account key file %s is %s%s%s", path,
                 rc == MDX_EFULL ? "too long" : "unreadable",
                 rc == MDX_ENOTFOUND ? ": " : "", rc == MDX_ENOTFOUND ? strerror(errno) : "");
        return rc == MDX_ENOMEM ? MDX_ENOMEM : MDX_ECONF;
    }
    rc = MDX_ECONF;
    j = cJSON_Parse(text);
    mdx_free_secret(text);
    if (!cJSON_IsObject(j)) {
        snprintf(why, why_len, "service-account key file %s is not JSON", path);
        goto done;
    }
    type = str_of(j, "type");
    if (type != NULL && strcmp(type, "service_account") != 0) {
        snprintf(why, why_len, "key file %s holds a \"%.40s\" credential; only "
                               "service_account keys are supported", path, type);
        goto done;
    }
    email = str_of(j, "client_email");
    kid = str_of(j, "private_key_id");
    uri = str_of(j, "token_uri");
    pk = cJSON_GetObjectItemCaseSensitive(j, "private_key");
    if (email == NULL || !cJSON_IsString(pk) || pk->valuestring[0] == '\0') {
        snprintf(why, why_len, "service-account key file %s lacks %s", path,
                 email == NULL ? "client_email" : "private_key");
        goto done;
    }
    if (uri != NULL && strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0) {
        snprintf(why, why_len, "service-account key file %s: token_uri is not an http(s) URL",
                 path);
        goto done;
    }
    bio = BIO_new_mem_buf(pk->valuestring, -1);
    k->pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    ERR_clear_error();
    if (k->pkey == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
        snprintf(why, why_len, "service-account key file %s: private_key is not %s", path,
                 k->pkey == NULL ? "a PEM private key" : "an RSA key");
        goto done;
    }
    k->email = mdx_strdup(email);
    k->kid = kid != NULL ? mdx_strdup(kid) : NULL;
    k->token_uri = mdx_strdup(uri != NULL ? uri : DEFAULT_TOKEN_URI);
    rc = k->email == NULL || (kid != NULL && k->kid == NULL) || k->token_uri == NULL
             ? MDX_ENOMEM
             : MDX_OK;
    if (rc == MDX_ENOMEM) {
        snprintf(why, why_len, "out of memory");
    }

done:
    BIO_free(bio);
    pk = cJSON_GetObjectItemCaseSensitive(j, "private_key");
    if (cJSON_IsString(pk)) {
        mdx_memzero(pk->valuestring, strlen(pk->valuestring));
    }
    cJSON_Delete(j);
    if (rc != MDX_OK) {
        sa_key_fini(k);
    }
    return rc;
}

/* Appends the base64url text of 'n' bytes at 'd' to 'b'. */
static void add_b64url(struct mdx_buf *b, const void *d, size_t n)
{
    size_t room = MDX_BASE64URL_LEN(n) + 1;
    char *t = mdx_malloc(room);

    if (t == NULL) {
        b->err = MDX_ENOMEM;
        return;
    }
    mdx_buf_add(b, t, mdx_base64url_encode(d, n, t, room));
    mdx_free(t);
}

/* Appends the base64url text of the JSON of 'o' (then deleted) to 'b'. */
static void add_json_b64url(struct mdx_buf *b, cJSON *o)
{
    char *s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

    cJSON_Delete(o);
    if (s == NULL) {
        b->err = MDX_ENOMEM;
        return;
    }
    add_b64url(b, s, strlen(s));
    cJSON_free(s);
}

/*
 * The signed assertion (RFC 7523) for key 'k' at 'now_s': header
 * {alg RS256, typ JWT, kid}, claims {iss, scope, aud = token_uri, iat,
 * exp = iat + 3600}, RS256 signature. Appended to 'jwt'; MDX_OK or an error.
 */
static int make_jwt(const struct sa_key *k, const char *scope, int64_t now_s,
                    struct mdx_buf *jwt)
{
    cJSON *h = cJSON_CreateObject(), *c = cJSON_CreateObject();
    EVP_MD_CTX *md = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    int rc = MDX_ENOMEM;

    cJSON_AddStringToObject(h, "alg", "RS256");
    cJSON_AddStringToObject(h, "typ", "JWT");
    if (k->kid != NULL) {
        cJSON_AddStringToObject(h, "kid", k->kid);
    }
    cJSON_AddStringToObject(c, "iss", k->email);
    cJSON_AddStringToObject(c, "scope", scope);
    cJSON_AddStringToObject(c, "aud", k->token_uri);
    cJSON_AddNumberToObject(c, "iat", (double)now_s);
    cJSON_AddNumberToObject(c, "exp", (double)(now_s + JWT_LIFE_S));
    add_json_b64url(jwt, h);
    mdx_buf_adds(jwt, ".");
    add_json_b64url(jwt, c);
    if (jwt->err != MDX_OK) {
        return jwt->err;
    }
    md = EVP_MD_CTX_new();
    if (md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)jwt->p, jwt->len) == 1 &&
        (sig = mdx_malloc(sig_len)) != NULL &&
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)jwt->p, jwt->len) == 1) {
        mdx_buf_adds(jwt, ".");
        add_b64url(jwt, sig, sig_len);
        rc = jwt->err;
    } else {
        rc = md == NULL ? MDX_ENOMEM : MDX_EINVAL;
    }
    ERR_clear_error();
    EVP_MD_CTX_free(md);
    mdx_free(sig);
    return rc;
}

/* Takes access_token and expires_in from a token answer. MDX_OK or MDX_EAGAIN (why set). */
static int take_token(struct mdx_gcp_creds *c, const char *from, const struct mdx_http_resp *rs,
                      int64_t now_ms, char *why, size_t why_len)
{
    cJSON *j = cJSON_ParseWithLength(mdx_buf_str(&rs->body), rs->body.len);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    int rc = MDX_EAGAIN;

    if (!cJSON_IsString(tok) || tok->valuestring[0] == '\0' ||
        strpbrk(tok->valuestring, "\r\n") != NULL || !cJSON_IsNumber(exp) ||
        exp->valuedouble <= 0 || exp->valuedouble > 86400.0 * 7) {
        snprintf(why, why_len, "%s: the answer lacks access_token or expires_in", from);
    } else {
        char *copy = mdx_strdup(tok->valuestring);
        int64_t life = (int64_t)(exp->valuedouble * 1000.0);

        rc = copy != NULL ? MDX_OK : MDX_ENOMEM;
        if (copy != NULL) {
            mdx_free_secret(c->token);
            c->token = copy;
            c->expires_ms = now_ms + life;
            c->refresh_ms = c->expires_ms - (life / 2 < EARLY_MS ? life / 2 : EARLY_MS);
        }
        mdx_memzero(tok->valuestring, strlen(tok->valuestring));
    }
    cJSON_Delete(j);
    return rc;
}

/*
 * Sends a token request and takes the token from its answer. 'from' names
 * the endpoint in reasons. MDX_OK, MDX_EAGAIN (unreachable, 5xx, 429, a bad
 * answer) or MDX_EDENIED (another 4xx), with the reason in 'why'.
 */
static int token_request(struct mdx_gcp_creds *c, const char *from, const char *url,
                         struct curl_slist *hs, const char *const *form, int64_t now_ms,
                         char *why, size_t why_len)
{
    struct mdx_http_req rq = {"GET", url, hs, NULL, 0, RESP_MAX};
    struct mdx_http_resp rs;
    int rc = form != NULL ? mdx_http_post_form(&c->http, url, form, RESP_MAX, &rs)
                          : mdx_http_do(&c->http, &rq, &rs);

    if (rc != MDX_OK) {
        snprintf(why, why_len, "%s %s unreachable: %s", from, url,
                 rs.curl_err[0] != '\0' ? rs.curl_err : mdx_strerror(rc));
        rc = rc == MDX_ENOMEM ? MDX_ENOMEM : MDX_EAGAIN;
    } else if (rs.status / 100 != 2) {
        cJSON *j = cJSON_ParseWithLength(mdx_buf_str(&rs.body), rs.body.len);
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));

        /* The OAuth error code ("invalid_grant") says why; its description may quote input. */
        snprintf(why, why_len, "%s: HTTP %ld%s%.60s", from, rs.status, e != NULL ? " " : "",
                 e != NULL ? e : "");
        cJSON_Delete(j);
        rc = rs.status >= 400 && rs.status < 500 && rs.status != 408 && rs.status != 429
                 ? MDX_EDENIED
                 : MDX_EAGAIN;
    } else {
        rc = take_token(c, from, &rs, now_ms, why, why_len);
    }
    if (rs.body.p != NULL) {
        mdx_memzero(rs.body.p, rs.body.len);
    }
    mdx_http_resp_fini(&rs);
    return rc;
}

/* The jwt-bearer grant: a JWT signed with the key file's key, exchanged for a token. */
static int fetch_service_account(struct mdx_gcp_creds *c, int64_t now_ms, char *why,
                                 size_t why_len)
{
    struct sa_key k;
    struct mdx_buf jwt;
    int rc = load_key(c->path, &k, why, why_len);

    if (rc != MDX_OK) {
        return rc == MDX_ENOMEM ? rc : MDX_EAGAIN; /* it was good at the start: a rotation */
    }
    mdx_buf_init(&jwt, 16 * 1024);
    rc = make_jwt(&k, c->scope, now_ms / 1000, &jwt);
    if (rc == MDX_OK) {
        const char *const form[] = {"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                    "assertion", mdx_buf_str(&jwt), NULL};
        rc = token_request(c, "token endpoint", k.token_uri, NULL, form, now_ms, why, why_len);
    } else {
        snprintf(why, why_len, "cannot sign the token request: %s", mdx_strerror(rc));
    }
    if (jwt.p != NULL) {
        mdx_memzero(jwt.p, jwt.len);
    }
    mdx_buf_fini(&jwt);
    sa_key_fini(&k);
    return rc;
}

/* The metadata server's token for the workload's service account. */
static int fetch_metadata(struct mdx_gcp_creds *c, int64_t now_ms, char *why, size_t why_len)
{
    struct curl_slist *hs = NULL;
    int rc = mdx_http_header(&hs, "Metadata-Flavor", "Google");

    if (rc == MDX_OK) {
        rc = token_request(c, "metadata server", c->meta_url, hs, NULL, now_ms, why,
                           why_len);
    }
    mdx_http_headers_free(hs);
    return rc;
}

/* The token file: one line; its expiry is not known, so it is read again every minute. */
static int read_token_file(struct mdx_gcp_creds *c, int64_t now_ms, char *why, size_t why_len)
{
    char *t = mdx_read_token_file("token file", c->path, TOKEN_FILE_MAX, why, why_len);

    if (t == NULL) {
        return MDX_EAGAIN;
    }
    if (strpbrk(t, "\r\n") != NULL) {
        snprintf(why, why_len, "token file %s must hold one access token", c->path);
        mdx_free_secret(t);
        return MDX_EAGAIN;
    }
    mdx_free_secret(c->token);
    c->token = t;
    c->expires_ms = 0;
    c->refresh_ms = now_ms + TOKEN_FILE_RELOAD_MS;
    return MDX_OK;
}

void mdx_gcp_creds_destroy(struct mdx_gcp_creds *c)
{
    if (c == NULL) {
        return;
    }
    if (c->http.curl != NULL) {
        mdx_http_fini(&c->http);
    }
    mdx_free(c->what);
    mdx_free(c->path);
    mdx_free(c->scope);
    mdx_free(c->meta_url);
    mdx_free_secret(c->token);
    mdx_free(c);
}

struct mdx_gcp_creds *mdx_gcp_creds_create(const struct mdx_gcp_creds_conf *conf, int *err,
                                           char *why, size_t why_len)
{
    const char *mode = set(conf->mode) ? conf->mode : "auto";
    const char *what = set(conf->what) ? conf->what : "gcp";
    const char *path = NULL, *meta = mdx_env("GCE_METADATA_HOST");
    struct mdx_gcp_creds *c;
    struct mdx_buf b;
    struct sa_key k;
    enum source src;

    *err = MDX_ECONF;
    if (strcmp(mode, "auto") == 0) {
        mode = set(conf->key_file)                           ? "service_account"
               : set(conf->token_file)                       ? "token_file"
               : mdx_env("GOOGLE_APPLICATION_CREDENTIALS") ? "service_account"
                                                             : "metadata";
    }
    if (strcmp(mode, "service_account") == 0) {
        src = SRC_SERVICE_ACCOUNT;
        path = set(conf->key_file) ? conf->key_file : mdx_env("GOOGLE_APPLICATION_CREDENTIALS");
        if (path == NULL) {
            snprintf(why, why_len, "%s: service_account credentials need a key file (%s "
                                   "key_file or $GOOGLE_APPLICATION_CREDENTIALS)", what, what);
            return NULL;
        }
        *err = load_key(path, &k, why, why_len); /* a wrong key stops the start */
        sa_key_fini(&k);
        if (*err != MDX_OK) {
            return NULL;
        }
    } else if (strcmp(mode, "token_file") == 0) {
        src = SRC_TOKEN_FILE;
        path = conf->token_file;
        if (!set(path)) {
            snprintf(why, why_len, "%s: token_file credentials need %s.token_file", what, what);
            return NULL;
        }
    } else if (strcmp(mode, "metadata") == 0) {
        src = SRC_METADATA;
    } else {
        snprintf(why, why_len, "%s: credentials must be auto, service_account, metadata or "
                               "token_file, not \"%.40s\"", what, mode);
        return NULL;
    }
    c = mdx_calloc(1, sizeof(*c));
    if (c == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    c->src = src;
    c->what = mdx_strdup(what);
    c->path = path != NULL ? mdx_strdup(path) : NULL;
    c->scope = mdx_strdup(set(conf->scope) ? conf->scope : MDX_GCP_SCOPE_PUBSUB);
    mdx_buf_init(&b, 2048);
    mdx_buf_addf(&b, "http://%s/computeMetadata/v1/instance/service-accounts/default/token",
                 meta != NULL                 ? meta
                 : set(conf->metadata_host) ? conf->metadata_host
                                              : DEFAULT_METADATA_HOST);
    c->meta_url = mdx_buf_take(&b);
    *err = c->what == NULL || (path != NULL && c->path == NULL) || c->scope == NULL ||
                   c->meta_url == NULL
               ? MDX_ENOMEM
               : mdx_http_init(&c->http, conf->timeout_ms > 0 ? conf->timeout_ms : 30000);
    if (*err == MDX_OK) {
        *err = mdx_http_set_ca(&c->http, conf->ca_file);
    }
    if (*err != MDX_OK) {
        snprintf(why, why_len, "out of memory");
        mdx_gcp_creds_destroy(c);
        return NULL;
    }
    return c;
}

const char *mdx_gcp_creds_source(const struct mdx_gcp_creds *c)
{
    static const char *const names[] = {"service_account", "metadata", "token_file"};

    return names[c->src];
}

int mdx_gcp_creds_get(struct mdx_gcp_creds *c, int64_t now_ms, const char **token, char *why,
                      size_t why_len)
{
    int rc;

    *token = NULL;
    if (c->token != NULL && now_ms < c->refresh_ms) {
        *token = c->token;
        return MDX_OK;
    }
    switch (c->src) {
    case SRC_SERVICE_ACCOUNT:
        rc = fetch_service_account(c, now_ms, why, why_len);
        break;
    case SRC_METADATA:
        rc = fetch_metadata(c, now_ms, why, why_len);
        break;
    default:
        rc = read_token_file(c, now_ms, why, why_len);
        break;
    }
    if (rc == MDX_OK) {
        if (c->expires_ms > 0) {
            mdx_log_info(MOD, "Google access token refreshed", MDX_F_STR("for", c->what),
                         MDX_F_STR("source", mdx_gcp_creds_source(c)),
                         MDX_F_INT("valid_s", (c->expires_ms - now_ms) / 1000));
        }
    } else if (c->token != NULL && (c->expires_ms == 0 || now_ms < c->expires_ms)) {
        /* A token file's token has no known expiry: keep it until the server refuses it. */
        mdx_log_warn(MOD, "Google token refresh failed; the current token is still valid",
                     MDX_F_STR("for", c->what), MDX_F_STR("reason", why));
        c->refresh_ms = now_ms + RETRY_MS;
        if (c->expires_ms > 0 && c->refresh_ms > c->expires_ms) {
            c->refresh_ms = c->expires_ms;
        }
    } else {
        mdx_free_secret(c->token);
        c->token = NULL;
        return rc;
    }
    *token = c->token;
    return MDX_OK;
}

void mdx_gcp_creds_invalidate(struct mdx_gcp_creds *c)
{
    if (c == NULL) {
        return;
    }
    /* Refused: fetch again now, and do not fall back to this token. */
    mdx_free_secret(c->token);
    c->token = NULL;
    c->refresh_ms = 0;
}
