/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_topic_rules.c - fuzz target for the broker's topic decisions
 * (mdx_topic_check, mdx_topic_syntax in src/auth/topic_rules.c).
 *
 * Input: byte 0 picks the role (device, service, operator, or an unknown
 * one) and the access (publish, subscribe, receive); then a line with the
 * identity's tenant, a line with its name, and the rest is the topic, NUL
 * bytes included. Checked: a topic the syntax refuses is refused; an
 * allowed topic is modax/{tenant}/{device}/{leaf} (optionally under
 * $share/{group}/ for a subscription) without NUL or '#', no longer than
 * MDX_TOPIC_MAX, and some rule of the table gives this role this access to
 * this leaf, with the identity's own tenant and device where the rule's
 * scope is SELF and '+' only where it is ANY.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modax/topic_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next '\n'-terminated line of [*p, end) as a NUL-terminated copy in buf. */
static void line(const uint8_t **p, const uint8_t *end, char *buf, size_t cap)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl != NULL ? nl : end) - *p);

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(buf, *p, n);
    buf[n] = '\0';
    *p = nl != NULL ? nl + 1 : end;
}

/* Splits t at '/' into at most 'max' levels; the count, or max + 1 if more. */
static size_t levels(char *t, char **lv, size_t max)
{
    size_t n = 0;

    for (char *p = t;; p++) {
        if (n == max) {
            return max + 1;
        }
        lv[n++] = p;
        p = strchr(p, '/');
        if (p == NULL) {
            return n;
        }
        *p = '\0';
    }
}

/* Some rule lets 'who' have 'access' on modax/{t}/{d}/{leaf}. */
static int some_rule(const struct mdx_topic_who *who, unsigned access, int shared,
                     const char *t, const char *d, const char *leaf)
{
    size_t n;
    const struct mdx_topic_rule *rules = mdx_topic_rules(&n);
    unsigned need = access == MDX_ACCESS_RECEIVE ? MDX_ACCESS_RECEIVE | MDX_ACCESS_SUBSCRIBE
                                                 : access;

    for (size_t i = 0; i < n; i++) {
        const struct mdx_topic_rule *r = &rules[i];
        if (r->role != who->role || (r->access & need) == 0 || strcmp(r->leaf, leaf) != 0 ||
            (shared && !r->shared)) {
            continue;
        }
        if (r->tenant_scope == MDX_SCOPE_SELF ? strcmp(t, who->tenant) != 0
                                              : (strcmp(t, "+") == 0 && access != MDX_ACCESS_SUBSCRIBE)) {
            continue;
        }
        if (r->device_scope == MDX_SCOPE_SELF ? strcmp(d, who->name) != 0
                                              : (strcmp(d, "+") == 0 && access != MDX_ACCESS_SUBSCRIBE)) {
            continue;
        }
        return 1;
    }
    return 0;
}

static void allowed(const struct mdx_topic_who *who, unsigned access, const char *topic,
                    size_t len)
{
    char copy[MDX_TOPIC_MAX + 1], *t = copy, *lv[8];
    int shared = 0;

    if (len > MDX_TOPIC_MAX || memchr(topic, '\0', len) != NULL ||
        memchr(topic, '#', len) != NULL) {
        abort();
    }
    memcpy(copy, topic, len);
    copy[len] = '\0';
    if (strncmp(t, "$share/", 7) == 0) {
        char *slash = strchr(t + 7, '/');
        if (access != MDX_ACCESS_SUBSCRIBE || slash == NULL || slash == t + 7) {
            abort();
        }
        t = slash + 1;
        shared = 1;
    }
    if (levels(t, lv, 4) != 4 || strcmp(lv[0], "modax") != 0 ||
        !some_rule(who, access, shared, lv[1], lv[2], lv[3])) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned accesses[] = {MDX_ACCESS_PUBLISH, MDX_ACCESS_SUBSCRIBE,
                                        MDX_ACCESS_RECEIVE};
    const uint8_t *p = data + (size > 0), *end = data + size;
    char tenant[128], name[128], *topic;
    struct mdx_topic_who who = {0, tenant, name};
    unsigned access = accesses[size > 0 ? (data[0] >> 2) % 3 : 0];
    enum mdx_topic_verdict v, syn;
    size_t len;

    who.role = size > 0 ? data[0] & 3 : 0; /* 3: no such role */
    line(&p, end, tenant, sizeof(tenant));
    line(&p, end, name, sizeof(name));
    len = (size_t)(end - p);
    topic = malloc(len > 0 ? len : 1); /* exact size, not NUL-terminated */
    if (topic == NULL) {
        abort();
    }
    if (len > 0) {
        memcpy(topic, p, len);
    }
    v = mdx_topic_check(&who, access, topic, len);
    syn = mdx_topic_syntax(access, topic, len);
    if (mdx_topic_verdict_text(v) == NULL || (syn != MDX_TOPIC_ALLOW && v == MDX_TOPIC_ALLOW)) {
        abort();
    }
    if (v == MDX_TOPIC_ALLOW) {
        if (who.role == 3) {
            abort();
        }
        allowed(&who, access, topic, len);
    }
    free(topic);
    return 0;
}
