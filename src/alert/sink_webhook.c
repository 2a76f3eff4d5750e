/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_webhook.c - delivers alert changes as a JSON POST to one URL.
 *
 * Body, one object per alert change (times both as ISO 8601 UTC and as
 * epoch milliseconds; "resolved" is null while not resolved):
 *
 *   {"id":42,"tenant":"acme","device":"pump-7","source":"rule:overload",
 *    "sensor":"current_mean","severity":"critical","state":"open",
 *    "opened":"2026-11-27T08:15:00.123Z","opened_ms":1795767300123,
 *    "updated":"...","updated_ms":...,"resolved":null,"resolved_ms":0,
 *    "value":12.5,"score":0,"summary":"current_mean 12.5 > 10"}
 *
 * Signature. When alert.webhook.secret is set, every request carries
 *
 *   X-Modax-Timestamp: <seconds since the epoch when it was sent>
 *   X-Modax-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>
 *
 * with lower-case hex. A receiver verifies it by computing the same HMAC
 * over the timestamp header, a '.', and the raw body bytes as received,
 * comparing in constant time, and refusing timestamps far from its clock
 * (for instance more than 5 minutes) so that a captured request cannot be
 * replayed later. A retry is signed again with its own timestamp.
 *
 * Answers: 2xx is delivered; 408, 429, 5xx, a timeout or a refused
 * connection is retried by the dispatcher; any other answer is refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alert/alert_int.h"
#include "alert/sink_http.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "base/encode.h"
#include "net/http_client.h"

struct webhook {
    struct mdx_http http;
    char *url;
    char *secret;  /* NULL when requests are not signed; wiped on destroy */
    size_t secret_len;
};

static void webhook_destroy(void *sink)
{
    struct webhook *w = sink;

    if (w == NULL) {
        return;
    }
    mdx_http_fini(&w->http);
    if (w->secret != NULL) {
        mdx_memzero(w->secret, w->secret_len);
        mdx_free(w->secret);
    }
    mdx_free(w->url);
    mdx_free(w);
}

static void *webhook_create(const struct mdx_sink_conf *conf, int *err)
{
    struct webhook *w;

    *err = MDX_OK;
    if (conf->webhook_url == NULL || conf->webhook_url[0] == '\0') {
        return NULL;
    }
    w = mdx_calloc(1, sizeof(*w));
    if (w == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    *err = mdx_http_init(&w->http, conf->timeout_ms);
    if (*err != MDX_OK) {
        goto fail;
    }
    w->url = mdx_strdup(conf->webhook_url);
    if (w->url == NULL) {
        *err = MDX_ENOMEM;
        goto fail;
    }
    if (conf->webhook_secret != NULL && conf->webhook_secret[0] != '\0') {
        w->secret_len = strlen(conf->webhook_secret);
        w->secret = mdx_strdup(conf->webhook_secret);
        if (w->secret == NULL) {
            *err = MDX_ENOMEM;
            goto fail;
        }
    }
    return w;

fail:
    webhook_destroy(w);
    return NULL;
}

/* Adds the timestamp and signature headers for 'body'. */
static int sign(const struct webhook *w, const char *body, size_t len, struct curl_slist **hdrs)
{
    struct mdx_buf msg;
    unsigned char mac[32];
    char ts[24], sig[7 + 65];
    int rc;

    snprintf(ts, sizeof(ts), "%" PRId64, mdx_now_ms() / 1000);
    mdx_buf_init(&msg, len + sizeof(ts) + 2);
    mdx_buf_adds(&msg, ts);
    mdx_buf_add(&msg, ".", 1);
    mdx_buf_add(&msg, body, len);
    rc = msg.err;
    if (rc == MDX_OK) {
        rc = mdx_hmac_sha256(w->secret, w->secret_len, msg.p, msg.len, mac);
    }
    mdx_buf_fini(&msg);
    if (rc != MDX_OK) {
        return rc;
    }
    memcpy(sig, "sha256=", 7);
    mdx_hex(mac, sizeof(mac), sig + 7);
    mdx_memzero(mac, sizeof(mac));
    rc = mdx_http_header(hdrs, "X-Modax-Timestamp", ts);
    if (rc == MDX_OK) {
        rc = mdx_http_header(hdrs, "X-Modax-Signature", sig);
    }
    return rc;
}

static enum mdx_sink_verdict webhook_deliver(void *sink, const struct mdx_alert *alert,
                                             const char **why)
{
    struct webhook *w = sink;
    static const struct mdx_sink_http_log log = {"webhook delivery failed", 0};
    struct curl_slist *hdrs = NULL;
    enum mdx_sink_verdict v = MDX_SINK_RETRY;
    char *body;
    int rc;

    body = mdx_alert_json(alert);
    if (body == NULL) {
        *why = "out of memory";
        return MDX_SINK_RETRY;
    }
    size_t len = strlen(body);
    rc = mdx_http_header(&hdrs, "Content-Type", "application/json");
    if (rc == MDX_OK) {
        rc = mdx_http_header(&hdrs, "User-Agent", "modax-cloud");
    }
    if (rc == MDX_OK && w->secret != NULL) {
        rc = sign(w, body, len, &hdrs);
    }
    if (rc != MDX_OK) {
        *why = "out of memory";
        goto cleanup;
    }
    v = mdx_sink_http_post(&w->http, w->url, hdrs, body, len, alert, &log, why);

cleanup:
    mdx_http_headers_free(hdrs);
    cJSON_free(body);
    return v;
}

const struct mdx_sink_ops mdx_sink_webhook = {
    .name = "webhook",
    .create = webhook_create,
    .destroy = webhook_destroy,
    .deliver = webhook_deliver,
    .wants_refresh = 0,
};
