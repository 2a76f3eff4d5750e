/* SPDX-License-Identifier: Apache-2.0 */
/*
 * source_pubsub.c - Google Cloud Pub/Sub source: a pull subscription read
 * over the REST API (pull, acknowledge, modifyAckDeadline) by the engine's
 * writer thread as a pull source (source.h).
 *
 * Guarantees. A message is acknowledged only after the batch holding its
 * points (or its dead letter) is committed to the store (committed()); a
 * batch that is not stored is nacked (deadline 0) and read again. Pub/Sub
 * has no offsets to keep with the batch, so a message can come again:
 * - committed in this process (an acknowledgement lost, a deadline passed):
 *   its messageId is among the last pubsub.dedup_window committed ones,
 *   kept in memory; it is acknowledged and not stored again;
 * - after a crash between the commit and the acknowledgement (at most one
 *   batch): its points carry the device's timestamps, and the store counts
 *   an existing (series, ts) as a duplicate and changes nothing. Points
 *   without a timestamp (given the receive time), status/safety events and
 *   dead letters of that batch are stored a second time (docs/scaling.md).
 *   The publishTime is not used as the substitute timestamp: a bridge
 *   publishes many messages in one request, which share it to the
 *   millisecond, so distinct readings would collapse into one.
 * Messages held longer than half the subscription's ack deadline have it
 * extended to pubsub.ack_deadline_s.
 *
 * Pulls ask for an immediate answer (returnImmediately), so a batch is
 * never held up by a pull waiting for messages; an empty pull is followed
 * by the engine's idle wait (about 100 ms).
 *
 * Credentials: none for the emulator ($PUBSUB_EMULATOR_HOST, as Google's
 * client libraries), else an OAuth 2.0 access token from the one Google
 * credentials provider (net/gcp_creds.h: a service-account key file, the
 * GKE/GCE metadata server or a token file), refreshed before it expires
 * and fetched again after a 401. Tokens are never logged.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/encode.h"
#include "base/htab.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/log.h"
#include "modax/source.h"
#include "modax/status.h"
#include "net/creds_util.h"
#include "net/gcp_creds.h"
#include "net/pubsub_rest.h"
#include "net/http_client.h"
#include "source/pubsub_map.h"

#define MOD "pubsub"
#define TOPIC_LEN 192             /* modax/{64}/{64}/{kind} or pubsub/{subscription}/{id} */
#define ACKS_PER_REQUEST 500      /* ack ids per acknowledge/modifyAckDeadline request */
#define SMALL_PULLS_MS 60000      /* after a response too big, pull one message at a time */
#define HASH_SEED 0x7075627375620001ull

const struct mdx_conf_key mdx_pubsub_conf_keys[] = {
    MDX_CONF_STR("pubsub.project", "", struct mdx_pubsub_conf, project,
                 "Google Cloud project id of the subscription"),
    MDX_CONF_STR("pubsub.subscription", "modax-ingest", struct mdx_pubsub_conf, subscription,
                 "Pull subscription id; the workers reading it share its messages"),
    MDX_CONF_STR("pubsub.endpoint", "https://pubsub.googleapis.com", struct mdx_pubsub_conf,
                 endpoint, "Pub/Sub REST endpoint; $PUBSUB_EMULATOR_HOST (host:port) wins"),
    MDX_CONF_INT("pubsub.max_messages", "100", 1, 1000, struct mdx_pubsub_conf, max_messages,
                 "Messages asked for per pull request"),
    MDX_CONF_INT("pubsub.ack_deadline_s", "60", 10, 600, struct mdx_pubsub_conf,
                 ack_deadline_s, "Deadline (s) held messages get when a batch takes longer than "
                                 "half the subscription's"),
    MDX_CONF_INT("pubsub.max_held_mb", "64", 1, 4096, struct mdx_pubsub_conf, max_held_mb,
                 "Message bytes held between two store commits"),
    MDX_CONF_INT("pubsub.max_held_messages", "5000", 1, 1000000, struct mdx_pubsub_conf,
                 max_held_messages, "Messages held between two store commits"),
    MDX_CONF_INT("pubsub.dedup_window", "100000", 1000, 10000000, struct mdx_pubsub_conf,
                 dedup_window, "Committed message ids remembered, so a redelivery is not "
                               "stored again"),
    MDX_CONF_STR("pubsub.credentials", "auto", struct mdx_pubsub_conf, credentials,
                 "auto (emulator: none; else pubsub.key_file, pubsub.token_file, "
                 "$GOOGLE_APPLICATION_CREDENTIALS, metadata server, the first that is set), "
                 "none, service_account (key file), token_file, metadata (GKE Workload "
                 "Identity / GCE service account)"),
    MDX_CONF_STR("pubsub.key_file", "", struct mdx_pubsub_conf, key_file,
                 "Service-account key file (JSON) for service_account; empty: "
                 "$GOOGLE_APPLICATION_CREDENTIALS"),
    MDX_CONF_STR("pubsub.token_file", "", struct mdx_pubsub_conf, token_file,
                 "File holding an OAuth 2.0 access token (kept fresh by a sidecar); re-read "
                 "every minute"),
    MDX_CONF_STR("pubsub.metadata_host", "metadata.google.internal", struct mdx_pubsub_conf,
                 metadata_host, "GKE/GCE metadata server; $GCE_METADATA_HOST wins"),
    MDX_CONF_STR("pubsub.tenant_attribute", "tenant", struct mdx_pubsub_conf, tenant_attribute,
                 "Message attribute naming the tenant"),
    MDX_CONF_STR("pubsub.device_attribute", "deviceId", struct mdx_pubsub_conf,
                 device_attribute, "Message attribute naming the device"),
    MDX_CONF_STR("pubsub.topic_attribute", "topic", struct mdx_pubsub_conf, topic_attribute,
                 "Attribute carrying modax/{tenant}/{device}/{kind} (wins if present); "
                 "empty: none"),
    MDX_CONF_STR("pubsub.tenant", "", struct mdx_pubsub_conf, tenant,
                 "The only tenant the subscription may carry (given to messages naming none); "
                 "empty: any"),
    MDX_CONF_STR("pubsub.kind", "sensor_data", struct mdx_pubsub_conf, kind,
                 "Message kind when no topic attribute says: sensor_data, safety, status"),
    MDX_CONF_INT("pubsub.timeout_ms", "30000", 1000, 600000, struct mdx_pubsub_conf, timeout_ms,
                 "One HTTP request to Pub/Sub, the metadata server or the token endpoint"),
    MDX_CONF_END,
};

/* A message pulled since the last commit; owned by the writer thread. */
struct held {
    char *ack_id;
    uint64_t id_hash;         /* of its messageId */
    uint8_t *data;            /* decoded payload (or the raw text when it is not base64) */
    size_t len;
    const char *refusal;      /* static text, or NULL */
    int skip;                 /* a redelivery of one held already: acknowledge only */
    char topic[TOPIC_LEN];
};

/* A committed messageId, remembered in a ring of dedup_window. */
struct seen {
    struct mdx_hnode node;    /* first: a node pointer is a struct seen pointer */
    int used;
};

struct source_pubsub {
    const struct mdx_pubsub_conf *conf; /* borrowed */
    struct pubsub_map map;
    struct mdx_http http;
    char *base;                /* {endpoint}/v1/projects/{project}/subscriptions/{sub} */
    struct mdx_gcp_creds *creds; /* NULL: no credentials (the emulator) */
    struct held *held;
    size_t n_held, cap_held, given, held_bytes, max_held_bytes;
    int64_t extend_at_ms;      /* when held messages' deadlines need extending; 0 = none held */
    int64_t sub_deadline_s;    /* the subscription's ack deadline; 0 = not asked yet */
    int64_t small_until_ms;
    struct seen *seen;
    size_t n_seen, next_seen;
    struct mdx_htab seen_tab;
    atomic_int stopping;
    atomic_int ready;
    atomic_uint_fast64_t redelivered;
};

static void release_held(struct source_pubsub *s)
{
    for (size_t i = 0; i < s->n_held; i++) {
        mdx_free(s->held[i].ack_id);
        mdx_free(s->held[i].data);
    }
    s->n_held = 0;
    s->given = 0;
    s->held_bytes = 0;
    s->extend_at_ms = 0;
}

/* ---- credentials ---- */

/* The request headers, with a fresh token when one is needed. MDX_OK or an error (logged). */
static int headers(struct source_pubsub *s, struct curl_slist **hdrs)
{
    char why[512];
    const char *token = NULL;
    int rc = MDX_OK;

    *hdrs = NULL;
    if (s->creds != NULL) {
        rc = mdx_gcp_creds_get(s->creds, mdx_now_ms(), &token, why, sizeof(why));
        if (rc != MDX_OK) {
            mdx_log_error(MOD, "no access token for Pub/Sub; on GKE enable Workload Identity, "
                               "else set pubsub.key_file or pubsub.token_file",
                          MDX_F_STR("credentials", mdx_gcp_creds_source(s->creds)),
                          MDX_F_STR("reason", why));
            return rc;
        }
    }
    rc = mdx_http_header(hdrs, "Content-Type", "application/json");
    if (rc == MDX_OK && token != NULL) {
        char *auth = mdx_bearer(token);

        rc = auth == NULL ? MDX_ENOMEM : mdx_http_header(hdrs, "Authorization", auth);
        mdx_free_secret(auth);
    }
    return rc;
}

/*
 * One request to the subscription: POST {base}:{verb} with 'body' (NULL: GET {base}).
 * MDX_OK with *rs filled on a 2xx; else an error (logged), *rs to be fini()ed anyway.
 */
static int call(struct source_pubsub *s, const char *verb, const char *body, size_t max_resp,
                struct mdx_http_resp *rs)
{
    struct curl_slist *hdrs = NULL;
    char url[1024];
    int rc;

    memset(rs, 0, sizeof(*rs));
    snprintf(url, sizeof(url), "%s%s%s", s->base, verb != NULL ? ":" : "",
             verb != NULL ? verb : "");
    rc = headers(s, &hdrs);
    if (rc == MDX_OK) {
        struct mdx_http_req rq = {body != NULL ? "POST" : "GET", url, hdrs, body,
                                  body != NULL ? strlen(body) : 0, max_resp};
        rc = mdx_http_do(&s->http, &rq, rs);
    }
    mdx_http_headers_free(hdrs);
    if (rc == MDX_OK && (rs->status < 200 || rs->status > 299)) {
        rc = mdx_http_status_err(rs->status);
        if (rs->status == 401) {
            mdx_gcp_creds_invalidate(s->creds); /* expired or revoked: fetch another */
        }
        mdx_log_warn(MOD, "Pub/Sub request refused", MDX_F_STR("call", verb != NULL ? verb : "get"),
                     MDX_F_INT("status", rs->status), MDX_F_STR("answer", mdx_buf_str(&rs->body)));
    } else if (rc != MDX_OK && rc != MDX_ERANGE) {
        mdx_log_warn(MOD, "Pub/Sub unreachable", MDX_F_STR("call", verb != NULL ? verb : "get"),
                     MDX_F_ERR(rc), MDX_F_STR("transport", rs->curl_err));
    }
    return rc;
}

/* acknowledge (deadline < 0) or modifyAckDeadline of the held messages [from, to). */
static int ack_range(struct source_pubsub *s, size_t from, size_t to, int64_t deadline)
{
    int rc = MDX_OK;

    for (size_t at = from; at < to; at += ACKS_PER_REQUEST) {
        cJSON *o = cJSON_CreateObject();
        cJSON *ids = cJSON_AddArrayToObject(o, "ackIds");
        char *body = NULL;
        struct mdx_http_resp rs;
        int r = MDX_ENOMEM;

        for (size_t i = at; i < to && i < at + ACKS_PER_REQUEST && ids != NULL; i++) {
            cJSON_AddItemToArray(ids, cJSON_CreateString(s->held[i].ack_id));
        }
        if (deadline >= 0) {
            cJSON_AddNumberToObject(o, "ackDeadlineSeconds", (double)deadline);
        }
        body = ids != NULL ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (body != NULL) {
            r = call(s, deadline >= 0 ? "modifyAckDeadline" : "acknowledge", body, 65536, &rs);
            mdx_http_resp_fini(&rs);
            cJSON_free(body);
        }
        if (r != MDX_OK) {
            rc = r;
        }
    }
    return rc;
}

/* ---- redeliveries ---- */

static int seen_has(const struct source_pubsub *s, uint64_t h)
{
    for (struct mdx_hnode *n = mdx_htab_bucket(&s->seen_tab, h); n != NULL; n = n->next) {
        if (n->hash == h) {
            return 1;
        }
    }
    return 0;
}

/* Remembers a committed messageId, forgetting the oldest beyond dedup_window. */
static void seen_add(struct source_pubsub *s, uint64_t h)
{
    struct seen *e = &s->seen[s->next_seen];

    if (e->used) {
        mdx_htab_remove(&s->seen_tab, &e->node);
    }
    e->node.hash = h;
    e->used = 1;
    mdx_htab_insert(&s->seen_tab, &e->node);
    s->next_seen = (s->next_seen + 1) % s->n_seen;
}

/* ---- messages ---- */

/* Index of a held message with this messageId hash, or -1. */
static long held_find(const struct source_pubsub *s, uint64_t h)
{
    for (size_t i = 0; i < s->n_held; i++) {
        if (s->held[i].id_hash == h && !s->held[i].skip) {
            return (long)i;
        }
    }
    return -1;
}

/* One received message into held[n_held], or acknowledged at once if it was committed. */
static int take(struct source_pubsub *s, const cJSON *rm)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(rm, "message");
    const cJSON *ack = cJSON_GetObjectItemCaseSensitive(rm, "ackId");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "messageId");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "data");
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(m, "attributes");
    struct held *h = &s->held[s->n_held];
    const char *b64 = cJSON_IsString(data) ? data->valuestring : "";
    const char *mid = cJSON_IsString(id) ? id->valuestring : "";

    if (!cJSON_IsString(ack)) {
        return MDX_EINVAL; /* nothing to acknowledge it with: Pub/Sub would not send this */
    }
    memset(h, 0, sizeof(*h));
    h->ack_id = mdx_strdup(ack->valuestring);
    if (h->ack_id == NULL) {
        return MDX_ENOMEM;
    }
    h->id_hash = mdx_hash_bytes(HASH_SEED, mid, strlen(mid));
    if (mid[0] != '\0' && (seen_has(s, h->id_hash) || held_find(s, h->id_hash) >= 0)) {
        h->skip = 1; /* committed, or held: acknowledged with the batch, not stored again */
        atomic_fetch_add(&s->redelivered, 1);
        s->n_held++;
        return MDX_OK;
    }
    if (b64[0] == '\0') {
        h->data = (uint8_t *)mdx_strdup(""); /* attributes only: the decoder refuses it */
    } else if (mdx_base64_decode(b64, &h->data, &h->len) != MDX_OK) {
        h->refusal = "pubsub message data is not base64";
        h->len = strlen(b64);
        h->data = (uint8_t *)mdx_strdup(b64);
    }
    if (h->data == NULL) {
        mdx_free(h->ack_id);
        return MDX_ENOMEM;
    }
    if (h->refusal == NULL) {
        h->refusal = pubsub_map_topic(&s->map, cJSON_IsObject(attrs) ? attrs : NULL, h->topic,
                                      sizeof(h->topic));
    }
    if (h->refusal != NULL) {
        snprintf(h->topic, sizeof(h->topic), "pubsub/%.64s/%.64s", s->conf->subscription, mid);
    }
    s->held_bytes += h->len;
    s->n_held++;
    return MDX_OK;
}

/* The subscription's ack deadline (also checks that it exists and we may read it). */
static int ask_subscription(struct source_pubsub *s)
{
    struct mdx_http_resp rs;
    int rc = call(s, NULL, NULL, 65536, &rs);

    if (rc == MDX_OK) {
        cJSON *j = cJSON_ParseWithLength(mdx_buf_str(&rs.body), rs.body.len);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "ackDeadlineSeconds");
        s->sub_deadline_s = cJSON_IsNumber(d) && d->valuedouble >= 10 ? (int64_t)d->valuedouble
                                                                       : 10;
        cJSON_Delete(j);
        mdx_log_info(MOD, "subscription found", MDX_F_STR("subscription", s->conf->subscription),
                     MDX_F_INT("ack_deadline_s", s->sub_deadline_s));
    } else if (rc == MDX_ENOTFOUND) {
        mdx_log_error(MOD, "no such subscription; check pubsub.project and pubsub.subscription",
                      MDX_F_STR("project", s->conf->project),
                      MDX_F_STR("subscription", s->conf->subscription));
    } else if (rc == MDX_EDENIED) {
        /* roles/pubsub.subscriber may pull without being allowed to read the subscription. */
        mdx_log_warn(MOD, "cannot read the subscription's ack deadline (pubsub.subscriptions.get "
                          "denied); assuming the shortest, 10 s. If pulls are refused too, the "
                          "service account needs roles/pubsub.subscriber on the subscription");
        s->sub_deadline_s = 10;
        rc = MDX_OK;
    }
    mdx_http_resp_fini(&rs);
    return rc;
}

/* One pull; appends what came to held. MDX_OK (maybe nothing came) or an error. */
static int pull(struct source_pubsub *s)
{
    size_t room = s->cap_held - s->n_held;
    int64_t want = s->conf->max_messages < (int64_t)room ? s->conf->max_messages : (int64_t)room;
    int64_t now = mdx_mono_us() / 1000;
    size_t max_resp = (size_t)s->conf->max_held_mb * (1u << 20) / 3 * 4 + (1u << 20);
    struct mdx_http_resp rs;
    cJSON *j;
    const cJSON *list, *rm;
    char body[96];
    size_t before = s->n_held;
    uint64_t redelivered = atomic_load(&s->redelivered);
    int rc;

    if (now < s->small_until_ms) {
        want = 1;
    }
    snprintf(body, sizeof(body), "{\"maxMessages\":%lld,\"returnImmediately\":true}",
             (long long)want);
    rc = call(s, "pull", body, max_resp, &rs);
    if (rc == MDX_ERANGE) {
        /* The messages in it come again after their deadline; take them one by one. */
        mdx_log_warn(MOD, "a pull answer passed pubsub.max_held_mb; pulling one message at a "
                          "time for a minute");
        s->small_until_ms = now + SMALL_PULLS_MS;
    }
    if (rc != MDX_OK) {
        mdx_http_resp_fini(&rs);
        return rc;
    }
    j = cJSON_ParseWithLength(mdx_buf_str(&rs.body), rs.body.len);
    mdx_http_resp_fini(&rs);
    if (j == NULL) {
        mdx_log_warn(MOD, "Pub/Sub pull answer is not JSON");
        return MDX_EIO;
    }
    list = cJSON_GetObjectItemCaseSensitive(j, "receivedMessages");
    cJSON_ArrayForEach(rm, list)
    {
        if (s->n_held == s->cap_held) {
            break; /* never: we asked for no more than room */
        }
        rc = take(s, rm);
        if (rc == MDX_ENOMEM) {
            break; /* what was not taken comes again after its deadline */
        }
        rc = MDX_OK;
    }
    cJSON_Delete(j);
    if (atomic_load(&s->redelivered) > redelivered) {
        mdx_log_info(MOD, "redelivered messages skipped: stored already or held in this batch",
                     MDX_F_INT("messages", atomic_load(&s->redelivered) - redelivered));
    }
    if (before == 0 && s->n_held > 0) {
        s->extend_at_ms = now + s->sub_deadline_s * 1000 / 2;
    }
    return rc;
}

/* ---- the pull source ---- */

static void pubsub_destroy(void *src);

static void *pubsub_create(const void *conf_arg, mdx_deliver_fn deliver, void *arg, int *err)
{
    const struct mdx_pubsub_conf *conf = conf_arg;
    struct source_pubsub *s = mdx_calloc(1, sizeof(*s));
    int rc = MDX_ENOMEM;

    (void)deliver;
    (void)arg;
    if (s == NULL) {
        goto fail;
    }
    s->conf = conf;
    rc = MDX_ECONF;
    if (!mdx_pubsub_id_ok(conf->project) || !mdx_pubsub_id_ok(conf->subscription)) {
        mdx_log_error(MOD, "set pubsub.project and pubsub.subscription (ids, not paths)",
                      MDX_F_STR("project", conf->project),
                      MDX_F_STR("subscription", conf->subscription));
        goto fail;
    }
    if (mdx_pubsub_wants_creds(conf->credentials)) {
        struct mdx_gcp_creds_conf cc = {"pubsub", conf->credentials, conf->key_file,
                                        conf->token_file, conf->metadata_host,
                                        MDX_GCP_SCOPE_PUBSUB, NULL, conf->timeout_ms};
        char why[512];

        s->creds = mdx_gcp_creds_create(&cc, &rc, why, sizeof(why));
        if (s->creds == NULL) {
            mdx_log_error(MOD, "Pub/Sub credentials not usable", MDX_F_STR("reason", why));
            goto fail;
        }
    }
    rc = pubsub_map_init(&s->map, conf);
    if (rc != MDX_OK) {
        goto fail;
    }
    rc = mdx_http_init(&s->http, conf->timeout_ms);
    if (rc != MDX_OK) {
        goto fail;
    }
    s->base = mdx_pubsub_url(conf->endpoint, conf->project, "subscriptions", conf->subscription,
                             "");
    rc = MDX_ENOMEM;
    s->cap_held = (size_t)conf->max_held_messages;
    s->max_held_bytes = (size_t)conf->max_held_mb << 20;
    s->held = mdx_calloc(s->cap_held, sizeof(*s->held));
    s->n_seen = (size_t)conf->dedup_window;
    s->seen = mdx_calloc(s->n_seen, sizeof(*s->seen));
    if (s->base == NULL || s->held == NULL || s->seen == NULL ||
        mdx_htab_init(&s->seen_tab, 4096) != MDX_OK) {
        goto fail;
    }
    return s;

fail:
    if (err != NULL) {
        *err = rc;
    }
    pubsub_destroy(s);
    return NULL;
}

static int pubsub_start(void *src)
{
    struct source_pubsub *s = src;
    mdx_log_info(MOD, "reading", MDX_F_STR("url", s->base),
                 MDX_F_STR("credentials",
                           s->creds != NULL ? mdx_gcp_creds_source(s->creds) : "none"));
    return MDX_OK;
}

static int pubsub_ready(void *src)
{
    return atomic_load(&((struct source_pubsub *)src)->ready);
}

static void pubsub_attach(void *src, const struct mdx_pull_host *host)
{
    (void)src;
    (void)host; /* no positions to read back: Pub/Sub keeps what is not acknowledged */
}

/* Waits up to ms, in steps, unless stopping. */
static void idle(struct source_pubsub *s, int ms)
{
    for (int waited = 0; waited < ms && !atomic_load(&s->stopping); waited += 20) {
        mdx_sleep_ms(ms - waited < 20 ? ms - waited : 20);
    }
}

/* The next held message not handed out yet into *rec; 0 if none. */
static int hand_out(struct source_pubsub *s, struct mdx_source_rec *rec)
{
    while (s->given < s->n_held && s->held[s->given].skip) {
        s->given++;
    }
    if (s->given == s->n_held) {
        return 0;
    }
    struct held *h = &s->held[s->given++];
    memset(rec, 0, sizeof(*rec));
    rec->recv_ms = mdx_now_ms();
    rec->payload = h->data;
    rec->len = h->len;
    rec->topic = h->topic;
    rec->refusal = h->refusal;
    return 1;
}

static int pubsub_next(void *src, struct mdx_source_rec *rec, int wait_ms)
{
    struct source_pubsub *s = src;
    int rc;

    if (atomic_load(&s->stopping)) {
        return MDX_EAGAIN;
    }
    if (hand_out(s, rec)) {
        return MDX_OK;
    }
    if (s->n_held >= s->cap_held || s->held_bytes >= s->max_held_bytes) {
        return MDX_EFULL;
    }
    if (s->extend_at_ms > 0 && mdx_mono_us() / 1000 >= s->extend_at_ms) {
        /* The batch is slow (a store retrying): keep its messages ours. */
        ack_range(s, 0, s->n_held, s->conf->ack_deadline_s);
        s->extend_at_ms = mdx_mono_us() / 1000 + s->conf->ack_deadline_s * 1000 / 2;
    }
    rc = s->sub_deadline_s == 0 ? ask_subscription(s) : MDX_OK;
    if (rc == MDX_OK) {
        rc = pull(s);
    }
    atomic_store(&s->ready, rc == MDX_OK || rc == MDX_ERANGE);
    if (hand_out(s, rec)) {
        return MDX_OK;
    }
    if (s->n_held > 0 && s->given == s->n_held) {
        /* Only redeliveries of committed messages: acknowledge them now. */
        int all_skip = 1;
        for (size_t i = 0; i < s->n_held && all_skip; i++) {
            all_skip = s->held[i].skip;
        }
        if (all_skip) {
            ack_range(s, 0, s->n_held, -1);
            release_held(s);
        }
    }
    idle(s, rc == MDX_OK ? wait_ms : (wait_ms > 1000 ? wait_ms : 1000));
    return MDX_EAGAIN;
}

static size_t pubsub_positions(void *src, const struct mdx_position **out)
{
    (void)src;
    *out = NULL;
    return 0;
}

static void pubsub_committed(void *src)
{
    struct source_pubsub *s = src;
    size_t done = s->given;

    /* Those handed out are stored; the rest of the last pull wait for the next batch. */
    for (size_t i = 0; i < done; i++) {
        if (!s->held[i].skip) {
            seen_add(s, s->held[i].id_hash);
        }
    }
    if (done > 0 && ack_range(s, 0, done, -1) != MDX_OK) {
        mdx_log_warn(MOD, "acknowledgement failed after the store commit; Pub/Sub sends those "
                          "messages again and they are not stored twice",
                     MDX_F_INT("messages", done));
    }
    for (size_t i = 0; i < done; i++) {
        s->held_bytes -= s->held[i].len;
        mdx_free(s->held[i].ack_id);
        mdx_free(s->held[i].data);
    }
    memmove(s->held, s->held + done, (s->n_held - done) * sizeof(*s->held));
    s->n_held -= done;
    s->given = 0;
    if (s->n_held == 0) {
        s->extend_at_ms = 0;
    }
}

static void pubsub_rewind(void *src)
{
    struct source_pubsub *s = src;

    /* Not stored: give them back at once (deadline 0) instead of waiting out the deadline. */
    if (s->n_held > 0) {
        ack_range(s, 0, s->n_held, 0);
    }
    release_held(s);
}

static void pubsub_stats(void *src, struct mdx_source_stats *out)
{
    struct source_pubsub *s = src;

    out->partitions = atomic_load(&s->ready);
    out->lag = -1; /* the backlog is in Cloud Monitoring, not in the pull answers */
    out->rebalances = 0;
}

static void pubsub_stop(void *src)
{
    atomic_store(&((struct source_pubsub *)src)->stopping, 1);
}

static void pubsub_destroy(void *src)
{
    struct source_pubsub *s = src;

    if (s == NULL) {
        return;
    }
    if (s->held != NULL && s->n_held > 0 && s->http.curl != NULL) {
        ack_range(s, 0, s->n_held, 0); /* not stored: back to Pub/Sub now */
    }
    if (s->held != NULL) {
        release_held(s);
    }
    if (atomic_load(&s->redelivered) > 0) {
        mdx_log_info(MOD, "redeliveries of committed messages acknowledged, not stored again",
                     MDX_F_INT("messages", atomic_load(&s->redelivered)));
    }
    if (s->http.curl != NULL) {
        mdx_http_fini(&s->http);
    }
    mdx_gcp_creds_destroy(s->creds);
    mdx_htab_fini(&s->seen_tab);
    mdx_free(s->seen);
    mdx_free(s->held);
    mdx_free(s->base);
    mdx_free(s);
}

const struct mdx_source_ops mdx_source_pubsub = {
    .name = "pubsub",
    .create = pubsub_create,
    .start = pubsub_start,
    .ready = pubsub_ready,
    .publish = NULL,
    .stop = pubsub_stop,
    .destroy = pubsub_destroy,
    .attach = pubsub_attach,
    .next = pubsub_next,
    .positions = pubsub_positions,
    .committed = pubsub_committed,
    .rewind = pubsub_rewind,
    .stats = pubsub_stats,
};
