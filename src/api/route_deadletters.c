/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route_deadletters.c - the refused messages kept by the store (at most
 * store.deadletter_max, newest first). The platform key sees all of them
 * and the counts by reason since the store was created; an operator of a
 * tenant sees those whose topic is under modax/{tenant}/ and the counts by
 * reason among the kept ones (other tenants' figures are not shown).
 * Payloads are shown as text, each byte that is not UTF-8 as U+FFFD.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "api/reply.h"
#include "api/request.h"
#include "modax/alloc.h"
#include "modax/status.h"
#include "modax/validate.h"

#define DEADLETTERS_DEFAULT 100
#define DEADLETTERS_MAX 1000

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Bytes of the UTF-8 sequence 'lead' starts, 0 for a byte that cannot start one. */
static size_t seq_len(uint8_t lead)
{
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        return 4;
    }
    return 0;
}

/*
 * 'p' (n bytes) as a NUL-terminated UTF-8 string: well-formed sequences
 * copied, every other byte (and NUL) replaced by U+FFFD. A new string the
 * caller frees with mdx_free(); NULL if out of memory.
 */
static char *utf8_text(const uint8_t *p, size_t n)
{
    char *out = mdx_malloc(n * 3 + 1); /* each byte at worst becomes 3 */
    size_t o = 0;

    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        size_t k = seq_len(p[i]);

        if (k > 0 && p[i] != 0 && i + k <= n && mdx_valid_utf8(p + i, k)) {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, replacement, 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

struct dl_walk {
    cJSON *arr;
    cJSON *counts;            /* per reason, for a tenant; NULL for the platform */
    char prefix[MDX_NAME_MAX + 16]; /* "modax/{tenant}/", "" for the platform */
    int64_t left;             /* entries still to list */
};

static int add_string_text(cJSON *o, const char *name, const uint8_t *p, size_t n)
{
    char *text = utf8_text(p, n);
    int ok = text != NULL && cJSON_AddStringToObject(o, name, text) != NULL;

    mdx_free(text);
    return ok ? 0 : -1;
}

static int count_reason(cJSON *counts, const char *reason)
{
    cJSON *n = cJSON_GetObjectItemCaseSensitive(counts, reason);

    if (n != NULL) {
        cJSON_SetNumberValue(n, n->valuedouble + 1);
        return MDX_OK;
    }
    return cJSON_AddNumberToObject(counts, reason, 1) != NULL ? MDX_OK : MDX_ENOMEM;
}

static int add_deadletter(void *arg, const struct mdx_deadletter *dl)
{
    struct dl_walk *w = arg;
    cJSON *o;

    if (w->prefix[0] != '\0' && strncmp(dl->topic, w->prefix, strlen(w->prefix)) != 0) {
        return MDX_OK;
    }
    if (w->counts != NULL && count_reason(w->counts, dl->reason) != MDX_OK) {
        return MDX_ENOMEM;
    }
    if (w->left <= 0) {
        return MDX_OK; /* listed enough; still counting */
    }
    o = cJSON_CreateObject();
    if (o == NULL || cJSON_AddNumberToObject(o, "id", (double)dl->id) == NULL ||
        api_add_time(o, "time", dl->recv_ms) == NULL ||
        cJSON_AddNumberToObject(o, "ts_ms", (double)dl->recv_ms) == NULL ||
        cJSON_AddStringToObject(o, "reason", dl->reason) == NULL ||
        add_string_text(o, "topic", (const uint8_t *)dl->topic, strlen(dl->topic)) != 0 ||
        add_string_text(o, "payload", dl->payload, dl->payload_len) != 0 ||
        cJSON_AddNumberToObject(o, "size", (double)dl->orig_len) == NULL ||
        !cJSON_AddItemToArray(w->arr, o)) {
        cJSON_Delete(o);
        return MDX_ENOMEM;
    }
    w->left--;
    return MDX_OK;
}

static int add_count(void *arg, const char *name, int64_t count)
{
    return cJSON_AddNumberToObject(arg, name, (double)count) != NULL ? MDX_OK : MDX_ENOMEM;
}

/* GET /api/v1/deadletters?limit=N */
static void list_deadletters(struct api_req *r)
{
    static const char *const params[] = {"limit", NULL};
    int platform = r->caller.role == MDX_ROLE_PLATFORM;
    struct dl_walk w;
    cJSON *body, *counts;
    int rc;

    memset(&w, 0, sizeof(w));
    if (api_query_allow(r, params) != 0 ||
        api_query_int(r, "limit", DEADLETTERS_DEFAULT, 1, DEADLETTERS_MAX, &w.left) != 0) {
        return;
    }
    body = api_list_doc(r, "deadletters", &w.arr);
    if (body == NULL) {
        return;
    }
    counts = cJSON_AddObjectToObject(body, "counts");
    if (counts == NULL) {
        cJSON_Delete(body);
        api_reply_json(r, 200, NULL);
        return;
    }
    if (platform) {
        rc = mdx_store_deadletter_list(r->store, w.left, add_deadletter, &w);
        if (rc == MDX_OK) {
            rc = mdx_store_deadletter_counts(r->store, add_count, counts);
        }
    } else {
        /* The store keeps a bounded number of dead letters: walk them all to count the tenant's. */
        snprintf(w.prefix, sizeof(w.prefix), "modax/%s/", r->caller.tenant);
        w.counts = counts;
        rc = mdx_store_deadletter_list(r->store, 0, add_deadletter, &w);
    }
    api_reply_listed(r, body, rc);
}

const struct api_route api_routes_deadletters[] = {
    {"GET", "/api/v1/deadletters", API_OPERATOR_OR_PLATFORM, list_deadletters},
    {NULL, NULL, 0, NULL},
};
