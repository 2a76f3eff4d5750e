/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sink_alertmanager.c - delivers alert changes to a Prometheus
 * Alertmanager through its API v2 (POST {url}/api/v2/alerts).
 *
 * Each change is a one-element array:
 *
 *   [{"labels":{"alertname":"ModaxRule_overload","tenant":"acme",
 *               "device":"pump-7","sensor":"current_mean",
 *               "severity":"critical","source":"rule:overload"},
 *     "annotations":{"summary":"...","value":"12.5","score":"0",
 *                    "alert_id":"42","state":"open"},
 *     "startsAt":"2026-11-27T08:15:00.123Z"}]
 *
 * Alertmanager identifies an alert by its label set, so the labels hold
 * only what names the alert; the rest goes into annotations. Without
 * "endsAt" Alertmanager ends an alert by itself after its resolve_timeout
 * (5 minutes by default): the dispatcher therefore re-posts firing alerts
 * (wants_refresh). A resolved alert is posted once more with "endsAt" set
 * to its resolution time, which ends it at once.
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
#include "net/http_client.h"

struct am {
    struct mdx_http http;
    char *url; /* {base}/api/v2/alerts */
};

static void am_destroy(void *sink)
{
    struct am *s = sink;

    if (s == NULL) {
        return;
    }
    mdx_http_fini(&s->http);
    mdx_free(s->url);
    mdx_free(s);
}

static void *am_create(const struct mdx_sink_conf *conf, int *err)
{
    const char *base = conf->alertmanager_url;
    struct mdx_buf b;
    struct am *s;
    size_t n;

    *err = MDX_OK;
    if (base == NULL || base[0] == '\0') {
        return NULL;
    }
    s = mdx_calloc(1, sizeof(*s));
    if (s == NULL) {
        *err = MDX_ENOMEM;
        return NULL;
    }
    *err = mdx_http_init(&s->http, conf->timeout_ms);
    if (*err != MDX_OK) {
        goto fail;
    }
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    mdx_buf_init(&b, n + 32);
    mdx_buf_add(&b, base, n);
    mdx_buf_adds(&b, "/api/v2/alerts");
    s->url = mdx_buf_take(&b);
    if (s->url == NULL) {
        *err = MDX_ENOMEM;
        goto fail;
    }
    return s;

fail:
    am_destroy(s);
    return NULL;
}

static int add_str(cJSON *o, const char *k, const char *v)
{
    return cJSON_AddStringToObject(o, k, v) != NULL ? MDX_OK : MDX_ENOMEM;
}

static int add_time(cJSON *o, const char *k, int64_t ms)
{
    char iso[32];

    mdx_format_iso_ms(ms, iso, sizeof(iso)); /* RFC 3339, UTC */
    return add_str(o, k, iso);
}

/* Adds the object 'member' to 'o' with the string members 'kv' (n); a NULL value is left out. */
static int add_strings(cJSON *o, const char *member, const struct mdx_kv *kv, size_t n)
{
    cJSON *obj = cJSON_AddObjectToObject(o, member);
    int rc = obj != NULL ? MDX_OK : MDX_ENOMEM;

    for (size_t i = 0; i < n && rc == MDX_OK; i++) {
        if (kv[i].v != NULL) {
            rc = add_str(obj, kv[i].k, kv[i].v);
        }
    }
    return rc;
}

static int add_labels(cJSON *o, const struct mdx_alert *a)
{
    char name[128];

    mdx_alert_name(a->source, name, sizeof(name));
    const struct mdx_kv kv[] = {
        {"alertname", name},
        {"tenant", a->tenant},
        {"device", a->device},
        {"sensor", a->sensor[0] != '\0' ? a->sensor : NULL},
        {"severity", mdx_severity_name(a->severity)},
        {"source", a->source},
    };
    return add_strings(o, "labels", kv, sizeof(kv) / sizeof(kv[0]));
}

static int add_annotations(cJSON *o, const struct mdx_alert *a)
{
    char value[64], score[64], id[32];

    /* annotation values are strings */
    snprintf(value, sizeof(value), "%.17g", a->value);
    snprintf(score, sizeof(score), "%.17g", a->score);
    snprintf(id, sizeof(id), "%" PRId64, a->id);
    const struct mdx_kv kv[] = {
        {"summary", a->summary},
        {"value", value},
        {"score", score},
        {"alert_id", id},
        {"state", mdx_alert_state_name(a->state)},
    };
    return add_strings(o, "annotations", kv, sizeof(kv) / sizeof(kv[0]));
}

/* The request body for 'a'; a new string the caller frees with cJSON_free(), or NULL. */
static char *am_body(const struct mdx_alert *a)
{
    cJSON *arr = cJSON_CreateArray(), *o;
    char *out = NULL;
    int rc;

    if (arr == NULL) {
        return NULL;
    }
    o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        goto cleanup;
    }
    rc = add_labels(o, a);
    if (rc == MDX_OK) {
        rc = add_annotations(o, a);
    }
    if (rc == MDX_OK) {
        rc = add_time(o, "startsAt", a->opened_ms);
    }
    if (rc == MDX_OK && a->state == MDX_ALERT_RESOLVED) {
        /* Alertmanager refuses endsAt before startsAt; a resolution without a time is now. */
        int64_t end = a->resolved_ms > 0 ? a->resolved_ms : mdx_now_ms();
        rc = add_time(o, "endsAt", end < a->opened_ms ? a->opened_ms : end);
    }
    if (rc == MDX_OK) {
        out = cJSON_PrintUnformatted(arr);
    }

cleanup:
    cJSON_Delete(arr);
    return out;
}

static enum mdx_sink_verdict am_deliver(void *sink, const struct mdx_alert *alert,
                                        const char **why)
{
    struct am *s = sink;
    /* Alertmanager explains a refusal in a short JSON body: log it. */
    static const struct mdx_sink_http_log log = {"alertmanager delivery failed", 1};
    struct curl_slist *hdrs = NULL;
    enum mdx_sink_verdict v = MDX_SINK_RETRY;
    char *body;

    body = am_body(alert);
    if (body == NULL || mdx_http_header(&hdrs, "Content-Type", "application/json") != MDX_OK) {
        *why = "out of memory";
        goto cleanup;
    }
    v = mdx_sink_http_post(&s->http, s->url, hdrs, body, strlen(body), alert, &log, why);

cleanup:
    mdx_http_headers_free(hdrs);
    cJSON_free(body);
    return v;
}

const struct mdx_sink_ops mdx_sink_alertmanager = {
    .name = "alertmanager",
    .create = am_create,
    .destroy = am_destroy,
    .deliver = am_deliver,
    .wants_refresh = 1,
};
