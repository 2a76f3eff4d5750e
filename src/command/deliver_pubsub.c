/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deliver_pubsub.c - the pubsub command path: the command (the same JSON as
 * on MQTT) is published to a Google Cloud Pub/Sub topic over the REST API,
 *   POST {endpoint}/v1/projects/{project}/topics/{topic}:publish
 * with attributes tenant, deviceId, commandId and topic
 * (modax/{tenant}/{device}/commands), for the bridge or gateway that carries
 * it to the device. The device answers on command_ack through the ingest,
 * as on MQTT; until then the command is "sent".
 *
 * Credentials: none for the emulator ($PUBSUB_EMULATOR_HOST, as Google's
 * client libraries), else an OAuth 2.0 access token read from
 * command.pubsub.token_file at each publish (commands are few), else the
 * GKE/GCE metadata server's token, kept until 5 minutes before it expires.
 * Tokens are never logged.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/command.h"
#include "modax/command_path.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/http_client.h"

#define MOD "command"
#define TOKEN_MAX 4096
#define TOKEN_EARLY_MS 300000

enum cred { CRED_NONE, CRED_FILE, CRED_METADATA };

struct deliver_pubsub {
    char *url;                        /* ...topics/{topic}:publish */
    char *meta_url;
    char *token_file;
    enum cred cred;
    int64_t timeout_ms;
    pthread_mutex_t lock;             /* guards the metadata token */
    char token[TOKEN_MAX];
    int64_t token_renew_ms;           /* monotonic */
};

/* Pub/Sub resource ids: letters, digits and - . _ ~ + %. */
static int id_ok(const char *s)
{
    if (s[0] == '\0') {
        return 0;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && strchr("-._~+%", *s) == NULL) {
            return 0;
        }
    }
    return 1;
}

static void pubsub_destroy(void *impl)
{
    struct deliver_pubsub *p = impl;

    if (p == NULL) {
        return;
    }
    mdx_memzero(p->token, sizeof(p->token));
    pthread_mutex_destroy(&p->lock);
    mdx_free(p->url);
    mdx_free(p->meta_url);
    mdx_free(p->token_file);
    mdx_free(p);
}

static void *pubsub_create(const struct mdx_command_conf *conf, mdx_command_publish_fn publish,
                           void *publish_arg, char *why, size_t whylen)
{
    const char *emu = getenv("PUBSUB_EMULATOR_HOST");
    const char *meta = getenv("GCE_METADATA_HOST");
    struct deliver_pubsub *p;
    struct mdx_buf b;
    size_t n;

    (void)publish;
    (void)publish_arg;
    if (!id_ok(conf->pubsub_project) || !id_ok(conf->pubsub_topic)) {
        snprintf(why, whylen,
                 "command path pubsub needs command.pubsub.project and command.pubsub.topic "
                 "(ids, not paths)");
        return NULL;
    }
    p = mdx_calloc(1, sizeof(*p));
    if (p == NULL || pthread_mutex_init(&p->lock, NULL) != 0) {
        mdx_free(p);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    p->timeout_ms = conf->pubsub_timeout_ms;
    if (emu != NULL && emu[0] != '\0') {
        p->cred = CRED_NONE;
    } else if (conf->pubsub_token_file[0] != '\0') {
        p->cred = CRED_FILE;
    } else {
        p->cred = CRED_METADATA;
    }
    mdx_buf_init(&b, 4096);
    if (emu != NULL && emu[0] != '\0') {
        mdx_buf_addf(&b, "http://%s", emu); /* the emulator speaks plain HTTP */
    } else {
        n = strlen(conf->pubsub_endpoint);
        while (n > 0 && conf->pubsub_endpoint[n - 1] == '/') {
            n--;
        }
        mdx_buf_add(&b, conf->pubsub_endpoint, n);
    }
    mdx_buf_addf(&b, "/v1/projects/%s/topics/%s:publish", conf->pubsub_project,
                 conf->pubsub_topic);
    p->url = mdx_buf_take(&b);
    mdx_buf_init(&b, 4096);
    mdx_buf_addf(&b, "http://%s/computeMetadata/v1/instance/service-accounts/default/token",
                 meta != NULL && meta[0] != '\0' ? meta : conf->pubsub_metadata_host);
    p->meta_url = mdx_buf_take(&b);
    p->token_file = mdx_strdup(conf->pubsub_token_file);
    if (p->url == NULL || p->meta_url == NULL || p->token_file == NULL) {
        snprintf(why, whylen, "out of memory");
        pubsub_destroy(p);
        return NULL;
    }
    return p;
}

/* The token of command.pubsub.token_file into out. MDX_OK or an error. */
static int token_from_file(const struct deliver_pubsub *p, char *out, size_t len)
{
    FILE *f = fopen(p->token_file, "r");
    size_t n;

    if (f == NULL) {
        return MDX_EIO;
    }
    n = fread(out, 1, len - 1, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)out[n - 1])) {
        n--;
    }
    out[n] = '\0';
    if (n == 0 || n == len - 1 || strpbrk(out, "\r\n") != NULL) {
        mdx_memzero(out, len);
        return MDX_EINVAL;
    }
    return MDX_OK;
}

/* Refreshes p->token from the metadata server when due; called with p->lock held. */
static int token_from_metadata(struct deliver_pubsub *p)
{
    struct curl_slist *hdrs = NULL;
    struct mdx_http http;
    struct mdx_http_resp rs;
    cJSON *j = NULL;
    const cJSON *tok, *exp;
    int rc;

    if (p->token[0] != '\0' && mdx_mono_us() / 1000 < p->token_renew_ms) {
        return MDX_OK;
    }
    memset(&rs, 0, sizeof(rs));
    rc = mdx_http_header(&hdrs, "Metadata-Flavor", "Google");
    if (rc == MDX_OK && (rc = mdx_http_init(&http, p->timeout_ms)) == MDX_OK) {
        struct mdx_http_req rq = {"GET", p->meta_url, hdrs, NULL, 0, 65536};
        rc = mdx_http_do(&http, &rq, &rs);
        mdx_http_fini(&http);
    }
    if (rc == MDX_OK && rs.status != 200) {
        rc = mdx_http_status_err(rs.status);
    }
    if (rc == MDX_OK) {
        j = cJSON_ParseWithLength(mdx_buf_str(&rs.body), rs.body.len);
        tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
        exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
        if (!cJSON_IsString(tok) || strlen(tok->valuestring) >= sizeof(p->token) ||
            !cJSON_IsNumber(exp)) {
            rc = MDX_EINVAL;
        } else {
            int64_t left_ms = (int64_t)exp->valuedouble * 1000;
            snprintf(p->token, sizeof(p->token), "%s", tok->valuestring);
            mdx_memzero(tok->valuestring, strlen(tok->valuestring));
            p->token_renew_ms = mdx_mono_us() / 1000 +
                                (left_ms > 2 * TOKEN_EARLY_MS ? left_ms - TOKEN_EARLY_MS
                                                              : left_ms / 2);
        }
    }
    cJSON_Delete(j);
    if (rs.body.p != NULL) {
        mdx_memzero(rs.body.p, rs.body.len);
    }
    mdx_http_resp_fini(&rs);
    mdx_http_headers_free(hdrs);
    return rc;
}

/* The Authorization header into *hdrs (none for the emulator). MDX_OK or an error. */
static int authorize(struct deliver_pubsub *p, struct curl_slist **hdrs)
{
    char token[TOKEN_MAX], line[TOKEN_MAX + 16];
    int rc;

    if (p->cred == CRED_NONE) {
        return MDX_OK;
    }
    if (p->cred == CRED_FILE) {
        rc = token_from_file(p, token, sizeof(token));
    } else {
        pthread_mutex_lock(&p->lock);
        rc = token_from_metadata(p);
        snprintf(token, sizeof(token), "%s", p->token);
        pthread_mutex_unlock(&p->lock);
    }
    if (rc == MDX_OK) {
        snprintf(line, sizeof(line), "Bearer %s", token);
        rc = mdx_http_header(hdrs, "Authorization", line);
        mdx_memzero(line, sizeof(line));
    }
    mdx_memzero(token, sizeof(token));
    return rc;
}

/* The publish request's body; a new string (caller frees with cJSON_free) or NULL. */
static char *publish_body(const struct mdx_command *cmd, const char *payload, size_t len)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
    cJSON *msg = cJSON_CreateObject();
    cJSON *attrs;
    char *data, *out = NULL;
    char id[32], topic[256];

    if (msgs == NULL || msg == NULL || !cJSON_AddItemToArray(msgs, msg)) {
        cJSON_Delete(msg);
        cJSON_Delete(root);
        return NULL;
    }
    snprintf(id, sizeof(id), "%lld", (long long)cmd->id);
    mdx_command_topic(cmd->tenant, cmd->device, topic, sizeof(topic));
    data = mdx_base64_encode(payload, len);
    attrs = cJSON_AddObjectToObject(msg, "attributes");
    if (data != NULL && attrs != NULL && cJSON_AddStringToObject(msg, "data", data) != NULL &&
        cJSON_AddStringToObject(attrs, "tenant", cmd->tenant) != NULL &&
        cJSON_AddStringToObject(attrs, "deviceId", cmd->device) != NULL &&
        cJSON_AddStringToObject(attrs, "commandId", id) != NULL &&
        cJSON_AddStringToObject(attrs, "topic", topic) != NULL) {
        out = cJSON_PrintUnformatted(root);
    }
    cJSON_Delete(root);
    mdx_free(data);
    return out;
}

static int pubsub_deliver(void *impl, const struct mdx_command *cmd, const char *payload,
                          size_t len, struct mdx_command_result *out)
{
    struct deliver_pubsub *p = impl;
    struct curl_slist *hdrs = NULL;
    struct mdx_http http;
    struct mdx_http_resp rs;
    char *body = publish_body(cmd, payload, len);
    int rc = body != NULL ? MDX_OK : MDX_ENOMEM;

    memset(&rs, 0, sizeof(rs));
    if (rc == MDX_OK) {
        rc = mdx_http_header(&hdrs, "Content-Type", "application/json");
    }
    if (rc == MDX_OK) {
        rc = authorize(p, &hdrs);
        if (rc != MDX_OK) {
            snprintf(out->detail, sizeof(out->detail),
                     "not published: no Pub/Sub access token (command.pubsub.token_file or "
                     "the metadata server)");
        }
    }
    if (rc == MDX_OK && (rc = mdx_http_init(&http, p->timeout_ms)) == MDX_OK) {
        struct mdx_http_req rq = {"POST", p->url, hdrs, body, strlen(body), 65536};
        rc = mdx_http_do(&http, &rq, &rs);
        mdx_http_fini(&http);
        if (rc != MDX_OK) {
            snprintf(out->detail, sizeof(out->detail), "not published: Pub/Sub unreachable (%.80s)",
                     rs.curl_err[0] != '\0' ? rs.curl_err : mdx_strerror(rc));
        } else if (rs.status < 200 || rs.status > 299) {
            rc = mdx_http_status_err(rs.status);
            snprintf(out->detail, sizeof(out->detail),
                     "not published: Pub/Sub answered %ld", rs.status);
        }
    }
    if (rc == MDX_OK) {
        out->state = MDX_COMMAND_SENT;
    } else {
        out->state = MDX_COMMAND_FAILED;
        if (out->detail[0] == '\0') {
            snprintf(out->detail, sizeof(out->detail), "not published: %s", mdx_strerror(rc));
        }
        mdx_log_warn(MOD, "command not published to Pub/Sub", MDX_F_STR("tenant", cmd->tenant),
                     MDX_F_STR("device", cmd->device), MDX_F_INT("command_id", cmd->id),
                     MDX_F_INT("status", rs.status), MDX_F_STR("reason", out->detail));
    }
    mdx_http_headers_free(hdrs);
    mdx_http_resp_fini(&rs);
    cJSON_free(body);
    return rc;
}

const struct mdx_command_path_ops mdx_command_path_pubsub = {
    .name = "pubsub",
    .create = pubsub_create,
    .destroy = pubsub_destroy,
    .deliver = pubsub_deliver,
};
