/* SPDX-License-Identifier: Apache-2.0 */
/*
 * legacy_topics.c - the original firmware's topics and the set of devices
 * subscribed to the legacy command topic (legacy_topics.h). The set is a
 * fixed array of LEGACY_SUBS_MAX entries found by device id through an
 * mdx_htab with more buckets than entries, so it never grows after start.
 * Only the broker's thread calls in: no lock.
 */
#include <string.h>

#include "base/htab.h"
#include "legacy_topics.h"
#include "modax/alloc.h"
#include "modax/msg.h"
#include "modax/status.h"

#define BUCKETS (2 * LEGACY_SUBS_MAX)

struct sub {
    struct mdx_hnode node;    /* first: S.table links entries by device */
    char device[MDX_NAME_MAX + 1];
    char tenant[MDX_NAME_MAX + 1];
    int qos;
    int used;
};

static struct {
    struct sub *e;            /* LEGACY_SUBS_MAX entries */
    struct mdx_htab table;
    size_t n;
} S;

const char *legacy_publish_leaf(const char *topic)
{
    if (strcmp(topic, LEGACY_SENSOR_DATA) == 0) {
        return "sensor_data";
    }
    if (strcmp(topic, LEGACY_SAFETY) == 0) {
        return "safety";
    }
    return NULL;
}

int legacy_is_commands(const char *topic)
{
    return topic != NULL && strcmp(topic, LEGACY_COMMANDS) == 0;
}

/* Copies the level at 'p' up to the next '/' (or the end) into out; its length, 0 if bad. */
static size_t level(const char *p, char *out)
{
    size_t n = strcspn(p, "/");

    if (n == 0 || n > MDX_NAME_MAX) {
        return 0;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

int legacy_command_target(const char *topic, char *tenant, char *device)
{
    size_t n;

    if (strncmp(topic, "modax/", 6) != 0) {
        return 0;
    }
    topic += 6;
    if ((n = level(topic, tenant)) == 0 || topic[n] != '/') {
        return 0;
    }
    topic += n + 1;
    if ((n = level(topic, device)) == 0) {
        return 0;
    }
    return strcmp(topic + n, "/commands") == 0;
}

static uint64_t name_hash(const char *name)
{
    return mdx_hash_bytes(0, name, strlen(name));
}

static struct sub *find(const char *device)
{
    uint64_t h = name_hash(device);

    if (S.e == NULL) {
        return NULL;
    }
    for (struct mdx_hnode *n = mdx_htab_bucket(&S.table, h); n != NULL; n = n->next) {
        struct sub *s = (struct sub *)n;
        if (n->hash == h && strcmp(s->device, device) == 0) {
            return s;
        }
    }
    return NULL;
}

int legacy_subs_init(void)
{
    memset(&S, 0, sizeof(S));
    S.e = mdx_calloc(LEGACY_SUBS_MAX, sizeof(*S.e));
    if (S.e == NULL || mdx_htab_init(&S.table, BUCKETS) != MDX_OK) {
        MDX_FREE(S.e);
        return MDX_ENOMEM;
    }
    return MDX_OK;
}

void legacy_subs_fini(void)
{
    if (S.e != NULL) {
        mdx_htab_fini(&S.table);
        MDX_FREE(S.e);
    }
    S.n = 0;
}

int legacy_subs_add(const char *device, const char *tenant, int qos)
{
    struct sub *s = find(device);

    if (s == NULL) {
        if (S.e == NULL || S.n == LEGACY_SUBS_MAX) {
            return MDX_EFULL;
        }
        for (s = S.e; s->used; s++) {
        }
        memset(s, 0, sizeof(*s));
        memcpy(s->device, device, strnlen(device, MDX_NAME_MAX));
        s->used = 1;
        s->node.hash = name_hash(s->device);
        mdx_htab_insert(&S.table, &s->node);
        S.n++;
    }
    memset(s->tenant, 0, sizeof(s->tenant));
    memcpy(s->tenant, tenant, strnlen(tenant, MDX_NAME_MAX));
    s->qos = qos;
    return MDX_OK;
}

void legacy_subs_remove(const char *device)
{
    struct sub *s = find(device);

    if (s != NULL) {
        mdx_htab_remove(&S.table, &s->node);
        s->used = 0;
        S.n--;
    }
}

int legacy_subs_qos(const char *device, const char *tenant)
{
    struct sub *s = find(device);

    return s != NULL && strcmp(s->tenant, tenant) == 0 ? s->qos : -1;
}

size_t legacy_subs_count(void)
{
    return S.n;
}
