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
 * client libraries), else the one Google token provider (net/gcp_creds.h:
 * a service-account key, a token file or the metadata server), shared by
 * the API threads under a lock. Tokens are never logged.
 */
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
#include "net/creds_util.h"
#include "net/gcp_creds.h"
#include "net/http_client.h"
#include "net/pubsub_rest.h"

#define MOD "command"

struct deliver_pubsub {
    char *url;                        /* ...topics/{topic}:publish */
    int64_t timeout_ms;
    pthread_mutex_t lock;             /* guards creds: a provider is for one thread at a time */
    struct mdx_gcp_creds *creds;      /* NULL: none (the emulator) */
};

static void pubsub_destroy(void *impl)
{
    struct deliver_pubsub *p = impl;

    if (p == NULL) {
        return;
    }
    mdx_gcp_creds_destroy(p->creds);
    pthread_mutex_destroy(&p->lock);
    mdx_free(p->url);
    mdx_free(p);
}

static void *pubsub_create(const struct mdx_command_conf *conf, mdx_command_publish_fn publish,
                           void *publish_arg, char *why, size_t whylen)
{
    struct deliver_pubsub *p;

    (void)publish;
    (void)publish_arg;
    if (!mdx_pubsub_id_ok(conf->pubsub_project) || !mdx_pubsub_id_ok(conf->pubsub_topic)) {
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
    if (mdx_pubsub_wants_creds(conf->pubsub_credentials)) {
        struct mdx_gcp_creds_conf cc = {"command.pubsub", conf->pubsub_credentials,
                                        conf->pubsub_key_file, conf->pubsub_token_file,
                                        conf->pubsub_metadata_host, MDX_GCP_SCOPE_PUBSUB, NULL,
                                        conf->pubsub_timeout_ms};
        int err;
        p->creds = mdx_gcp_creds_create(&cc, &err, why, whylen);
        if (p->creds == NULL) {
            if (err == MDX_ENOMEM) {
                snprintf(why, whylen, "out of memory");
            }
            pubsub_destroy(p);
            return NULL;
        }
    }
    p->url = mdx_pubsub_url(conf->pubsub_endpoint, conf->pubsub_project, "topics",
                            conf->pubsub_topic, ":publish");
    if (p->url == NULL) {
        snprintf(why, whylen, "out of memory");
        pubsub_destroy(p);
        return NULL;
    }
    return p;
}

/* The Authorization header into *hdrs (none for the emulator). MDX_OK, or an error with 'why'. */
static int authorize(struct deliver_pubsub *p, struct curl_slist **hdrs, char *why, size_t whylen)
{
    char *line = NULL;
    const char *token;
    int rc;

    if (p->creds == NULL) {
        return MDX_OK;
    }
    pthread_mutex_lock(&p->lock);
    rc = mdx_gcp_creds_get(p->creds, mdx_now_ms(), &token, why, whylen);
    if (rc == MDX_OK) {
        line = mdx_bearer(token);
        rc = line != NULL ? MDX_OK : MDX_ENOMEM;
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == MDX_OK) {
        rc = mdx_http_header(hdrs, "Authorization", line);
    }
    mdx_free_secret(line);
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
        char why[256] = "";
        rc = authorize(p, &hdrs, why, sizeof(why));
        if (rc != MDX_OK) {
            snprintf(out->detail, sizeof(out->detail), "no Pub/Sub access token: %.100s",
                     why[0] != '\0' ? why : mdx_strerror(rc));
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
            if (rs.status == 401 && p->creds != NULL) {
                pthread_mutex_lock(&p->lock);
                mdx_gcp_creds_invalidate(p->creds); /* expired or revoked: a new one next time */
                pthread_mutex_unlock(&p->lock);
            }
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
