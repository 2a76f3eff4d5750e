/* SPDX-License-Identifier: Apache-2.0 */
/*
 * deliver_azure.c - the azure command path: an Azure IoT Hub direct method
 * called over the hub's service REST API,
 *   POST https://{hub}/twins/{deviceId}/methods?api-version=2021-04-12
 *   {"methodName":"modax_command","responseTimeoutInSeconds":N,
 *    "connectTimeoutInSeconds":M,"payload":{the command as on MQTT}}
 * signed with a SAS token of the connection string's shared access policy.
 * The hub waits for the device's answer, {"status":int,"payload":any},
 * which becomes the command's acknowledgement at once: a 2xx status is
 * acked, any other (or a payload {"status":"rejected"}) rejected with the
 * payload's "detail". 404 (device not connected or unknown), 504 (no answer
 * in time) and an answer that is not one fail the command with the reason.
 *
 * The connection string is a secret: it comes from the environment or a
 * file (conf.h), is wiped when the path goes, and neither it nor a token is
 * ever logged. A request runs on the API thread that called; each has its
 * own libcurl handle, so calls to different devices run side by side.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/encode.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/command_path.h"
#include "modax/log.h"
#include "modax/status.h"
#include "net/http_client.h"

#define MOD "command"
#define METHOD_NAME "modax_command"
#define API_VERSION "2021-04-12"
#define TOKEN_MAX 1024
#define RESP_MAX 65536

struct deliver_azure {
    char host[256];                   /* HostName of the connection string */
    char policy[128];                 /* SharedAccessKeyName */
    char *key_b64;                    /* SharedAccessKey; secret, wiped on destroy */
    char *base;                       /* https://{host} or command.azure.endpoint */
    char *ca_file;                    /* NULL: the system's */
    int64_t response_timeout_s, connect_timeout_s, token_ttl_s;
};

int mdx_iothub_sas_token(const char *resource, const char *key_b64, const char *policy,
                         int64_t expiry, char *out, size_t len)
{
    struct mdx_buf sr, sig, to_sign;
    unsigned char *key = NULL, mac[32];
    size_t klen = 0;
    char *mac_b64 = NULL;
    int rc, n;

    out[0] = '\0';
    if (mdx_base64_decode(key_b64, &key, &klen) != MDX_OK || klen == 0) {
        mdx_free(key);
        return MDX_EINVAL;
    }
    mdx_buf_init(&sr, 4096);
    mdx_buf_init(&sig, 4096);
    mdx_buf_init(&to_sign, 8192);
    /* As Microsoft's C SDK: upper-case %XX, the resource's case kept; 'sr' is the signed text. */
    rc = mdx_uri_encode(&sr, resource, 0);
    if (rc == MDX_OK) {
        rc = mdx_buf_addf(&to_sign, "%s\n%lld", mdx_buf_str(&sr), (long long)expiry);
    }
    if (rc == MDX_OK) {
        rc = mdx_hmac_sha256(key, klen, to_sign.p, to_sign.len, mac);
    }
    if (rc == MDX_OK) {
        mac_b64 = mdx_base64_encode(mac, sizeof(mac));
        rc = mac_b64 != NULL ? mdx_uri_encode(&sig, mac_b64, 0) : MDX_ENOMEM;
    }
    if (rc == MDX_OK) {
        n = snprintf(out, len, "SharedAccessSignature sr=%s&sig=%s&se=%lld%s%s",
                     mdx_buf_str(&sr), mdx_buf_str(&sig), (long long)expiry,
                     policy[0] != '\0' ? "&skn=" : "", policy);
        if (n < 0 || (size_t)n >= len) {
            mdx_memzero(out, len);
            rc = MDX_ERANGE;
        }
    }
    mdx_memzero(key, klen);
    mdx_memzero(mac, sizeof(mac));
    mdx_free(key);
    mdx_free(mac_b64);
    mdx_buf_fini(&sr);
    mdx_buf_fini(&sig);
    mdx_buf_fini(&to_sign);
    return rc;
}

/* Copies the value of 'name=' in connection string 'cs' into out; 1 if it is there. */
static int cs_field(const char *cs, const char *name, char *out, size_t len)
{
    size_t nlen = strlen(name);

    for (const char *at = cs; *at != '\0';) {
        const char *end = strchr(at, ';');
        size_t flen;

        end = end != NULL ? end : at + strlen(at);
        flen = (size_t)(end - at);
        if (flen > nlen && strncmp(at, name, nlen) == 0 && at[nlen] == '=') {
            size_t vlen = flen - nlen - 1;
            if (vlen == 0 || vlen >= len) {
                return 0;
            }
            memcpy(out, at + nlen + 1, vlen);
            out[vlen] = '\0';
            return 1;
        }
        at = *end == ';' ? end + 1 : end;
    }
    return 0;
}

static void azure_destroy(void *impl)
{
    struct deliver_azure *a = impl;

    if (a == NULL) {
        return;
    }
    mdx_free_secret(a->key_b64);
    mdx_free(a->base);
    mdx_free(a->ca_file);
    mdx_free(a);
}

static void *azure_create(const struct mdx_command_conf *conf, mdx_command_publish_fn publish,
                          void *publish_arg, char *why, size_t whylen)
{
    const char *cs = conf->azure_connection_string;
    struct deliver_azure *a;
    char key[256];
    unsigned char *raw = NULL;
    size_t rawlen = 0, n;
    char *base;

    (void)publish;
    (void)publish_arg;
    if (cs == NULL || cs[0] == '\0') {
        snprintf(why, whylen,
                 "command path azure needs the IoT Hub connection string: set "
                 "MODAX_COMMAND_AZURE_CONNECTION_STRING or "
                 "MODAX_COMMAND_AZURE_CONNECTION_STRING_FILE");
        return NULL;
    }
    a = mdx_calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (!cs_field(cs, "HostName", a->host, sizeof(a->host)) ||
        !cs_field(cs, "SharedAccessKeyName", a->policy, sizeof(a->policy)) ||
        !cs_field(cs, "SharedAccessKey", key, sizeof(key))) {
        snprintf(why, whylen,
                 "command.azure.connection_string must hold HostName=, SharedAccessKeyName= and "
                 "SharedAccessKey= (a hub policy's connection string, not a device's)");
        goto fail;
    }
    if (mdx_base64_decode(key, &raw, &rawlen) != MDX_OK || rawlen == 0) {
        snprintf(why, whylen, "command.azure.connection_string: SharedAccessKey is not base64");
        goto fail;
    }
    a->key_b64 = mdx_strdup(key);
    base = conf->azure_endpoint[0] != '\0' ? mdx_strdup(conf->azure_endpoint) : NULL;
    if (base == NULL && conf->azure_endpoint[0] == '\0') {
        size_t blen = strlen(a->host) + sizeof("https://");
        base = mdx_malloc(blen);
        if (base != NULL) {
            snprintf(base, blen, "https://%s", a->host);
        }
    }
    a->base = base;
    a->ca_file = conf->azure_ca_file[0] != '\0' ? mdx_strdup(conf->azure_ca_file) : NULL;
    if (a->key_b64 == NULL || a->base == NULL ||
        (conf->azure_ca_file[0] != '\0' && a->ca_file == NULL)) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    for (n = strlen(a->base); n > 0 && a->base[n - 1] == '/'; n--) {
        a->base[n - 1] = '\0';
    }
    a->response_timeout_s = conf->azure_response_timeout_s;
    a->connect_timeout_s = conf->azure_connect_timeout_s;
    a->token_ttl_s = conf->azure_token_ttl_s;
    mdx_memzero(key, sizeof(key));
    mdx_memzero(raw, rawlen);
    mdx_free(raw);
    return a;

fail:
    mdx_memzero(key, sizeof(key));
    mdx_memzero(raw, rawlen);
    mdx_free(raw);
    azure_destroy(a);
    return NULL;
}

/* The text of the device's reason in method payload 'p' into out. */
static void payload_detail(const cJSON *p, char *out, size_t len)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "detail");
    char *text;

    if (cJSON_IsString(d)) {
        snprintf(out, len, "%s", d->valuestring);
    } else if (cJSON_IsString(p)) {
        snprintf(out, len, "%s", p->valuestring);
    } else if (p != NULL && !cJSON_IsNull(p) && (text = cJSON_PrintUnformatted(p)) != NULL) {
        snprintf(out, len, "%s", text);
        cJSON_free(text);
    }
}

/* IoT Hub's errorCode in an error answer ({"Message":"{\"errorCode\":404103,..}"}); 0 if none. */
static long hub_error_code(const struct mdx_http_resp *rs)
{
    cJSON *outer = cJSON_ParseWithLength(mdx_buf_str(&rs->body), rs->body.len);
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(outer, "Message");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(outer, "errorCode");
    cJSON *inner = NULL;
    long out = 0;

    if (!cJSON_IsNumber(code) && cJSON_IsString(msg)) {
        inner = cJSON_Parse(msg->valuestring);
        code = cJSON_GetObjectItemCaseSensitive(inner, "errorCode");
    }
    if (cJSON_IsNumber(code)) {
        out = (long)code->valuedouble;
    }
    cJSON_Delete(inner);
    cJSON_Delete(outer);
    return out;
}

/* The method's answer {"status":int,"payload":any} into 'out'. MDX_OK or MDX_EINVAL. */
static int method_answer(const struct mdx_http_resp *rs, struct mdx_command_result *out)
{
    cJSON *j = cJSON_ParseWithLength(mdx_buf_str(&rs->body), rs->body.len);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(j, "payload");
    const cJSON *said;
    int rc = MDX_OK;

    /* An HTTP-like status: a whole number in [0, 999] (checked before any conversion). */
    if (!cJSON_IsObject(j) || !cJSON_IsNumber(st) || !(st->valuedouble >= 0.0) ||
        st->valuedouble > 999.0 || st->valuedouble != floor(st->valuedouble)) {
        out->state = MDX_COMMAND_FAILED;
        snprintf(out->detail, sizeof(out->detail),
                 "IoT Hub's direct-method answer is malformed (no {\"status\":int,...})");
        rc = MDX_EINVAL;
    } else {
        int status = (int)st->valuedouble;
        said = cJSON_GetObjectItemCaseSensitive(pl, "status");
        if (status >= 200 && status <= 299 &&
            !(cJSON_IsString(said) && strcmp(said->valuestring, "rejected") == 0)) {
            out->state = MDX_COMMAND_ACKED;
            payload_detail(cJSON_GetObjectItemCaseSensitive(pl, "detail"), out->detail,
                           sizeof(out->detail));
        } else {
            out->state = MDX_COMMAND_REJECTED;
            payload_detail(pl, out->detail, sizeof(out->detail));
            if (out->detail[0] == '\0') {
                snprintf(out->detail, sizeof(out->detail), "device answered status %d", status);
            }
        }
    }
    cJSON_Delete(j);
    return rc;
}

/* An answer other than 200 into 'out'; the error code. */
static int hub_refusal(const struct deliver_azure *a, const struct mdx_http_resp *rs,
                       struct mdx_command_result *out)
{
    long code = hub_error_code(rs);

    out->state = MDX_COMMAND_FAILED;
    if (rs->status == 404 && code == 404001) {
        snprintf(out->detail, sizeof(out->detail), "device unknown to IoT Hub (404, %ld)", code);
        return MDX_ENOTFOUND;
    }
    if (rs->status == 404) {
        snprintf(out->detail, sizeof(out->detail),
                 "device offline: not connected to IoT Hub (404%s%.0ld)", code != 0 ? ", " : "",
                 code);
        return MDX_ENOTFOUND;
    }
    if (rs->status == 504) {
        snprintf(out->detail, sizeof(out->detail),
                 "device did not answer the direct method within %llds (IoT Hub 504)",
                 (long long)a->response_timeout_s);
        return MDX_EAGAIN;
    }
    if (rs->status == 401 || rs->status == 403) {
        snprintf(out->detail, sizeof(out->detail),
                 "IoT Hub refused the service credentials (%ld); check the connection string",
                 rs->status);
        return MDX_EDENIED;
    }
    snprintf(out->detail, sizeof(out->detail), "IoT Hub answered %ld", rs->status);
    return mdx_http_status_err(rs->status) != MDX_OK ? mdx_http_status_err(rs->status) : MDX_EIO;
}

static int azure_deliver(void *impl, const struct mdx_command *cmd, const char *payload,
                         size_t len, struct mdx_command_result *out)
{
    struct deliver_azure *a = impl;
    struct curl_slist *hdrs = NULL;
    struct mdx_http http;
    struct mdx_http_resp rs;
    struct mdx_buf url, body;
    char token[TOKEN_MAX];
    int rc;

    memset(&rs, 0, sizeof(rs));
    mdx_buf_init(&url, 4096);
    mdx_buf_init(&body, 4096);
    mdx_buf_addf(&url, "%s/twins/", a->base);
    mdx_uri_encode(&url, cmd->device, 0);
    mdx_buf_addf(&url, "/methods?api-version=%s", API_VERSION);
    mdx_buf_addf(&body,
                 "{\"methodName\":\"%s\",\"responseTimeoutInSeconds\":%lld,"
                 "\"connectTimeoutInSeconds\":%lld,\"payload\":%.*s}",
                 METHOD_NAME, (long long)a->response_timeout_s, (long long)a->connect_timeout_s,
                 (int)len, payload);
    rc = url.err != MDX_OK ? url.err : body.err;
    if (rc == MDX_OK) {
        rc = mdx_iothub_sas_token(a->host, a->key_b64, a->policy,
                                  mdx_now_ms() / 1000 + a->token_ttl_s, token, sizeof(token));
    }
    if (rc == MDX_OK) {
        rc = mdx_http_header(&hdrs, "Authorization", token);
    }
    mdx_memzero(token, sizeof(token));
    if (rc == MDX_OK) {
        rc = mdx_http_header(&hdrs, "Content-Type", "application/json; charset=utf-8");
    }
    if (rc == MDX_OK) {
        /* The hub holds the request while it connects to and waits for the device. */
        rc = mdx_http_init(&http, (a->response_timeout_s + a->connect_timeout_s + 15) * 1000);
        if (rc == MDX_OK) {
            rc = mdx_http_set_ca(&http, a->ca_file);
            if (rc == MDX_OK) {
                struct mdx_http_req rq = {"POST", mdx_buf_str(&url), hdrs, body.p, body.len,
                                          RESP_MAX};
                rc = mdx_http_do(&http, &rq, &rs);
            }
            mdx_http_fini(&http);
        }
    }
    if (rc == MDX_OK && rs.status == 200) {
        rc = method_answer(&rs, out);
    } else if (rc == MDX_OK) {
        rc = hub_refusal(a, &rs, out);
    } else {
        out->state = MDX_COMMAND_FAILED;
        if (rs.curl_err[0] != '\0') {
            snprintf(out->detail, sizeof(out->detail), "IoT Hub unreachable: %.90s",
                     rs.curl_err);
        } else {
            snprintf(out->detail, sizeof(out->detail), "not sent: %s", mdx_strerror(rc));
        }
    }
    if (rc != MDX_OK) {
        mdx_log_warn(MOD, "direct method failed", MDX_F_STR("tenant", cmd->tenant),
                     MDX_F_STR("device", cmd->device), MDX_F_INT("command_id", cmd->id),
                     MDX_F_INT("status", rs.status), MDX_F_STR("reason", out->detail));
    }
    mdx_http_headers_free(hdrs);
    mdx_http_resp_fini(&rs);
    mdx_buf_fini(&url);
    mdx_buf_fini(&body);
    return rc;
}

const struct mdx_command_path_ops mdx_command_path_azure = {
    .name = "azure",
    .create = azure_create,
    .destroy = azure_destroy,
    .deliver = azure_deliver,
};
