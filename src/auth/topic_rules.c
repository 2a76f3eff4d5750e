/* SPDX-License-Identifier: Apache-2.0 */
/*
 * topic_rules.c - the one table of who may publish, subscribe to and
 * receive which topics, and the checker the broker plugin asks for every
 * PUBLISH, SUBSCRIBE and delivery. Topics are parsed level by level,
 * exactly: no prefix or substring matching.
 */
#include <string.h>

#include "modax/topic_rules.h"

#define PUB MDX_ACCESS_PUBLISH
#define SUB (MDX_ACCESS_SUBSCRIBE | MDX_ACCESS_RECEIVE)
#define SELF MDX_SCOPE_SELF
#define ANY MDX_SCOPE_ANY

static const struct mdx_topic_rule rules[] = {
    /* A device: its own telemetry out, its own commands in. */
    {MDX_TOPIC_DEVICE, PUB, SELF, SELF, "sensor_data", 0},
    {MDX_TOPIC_DEVICE, PUB, SELF, SELF, "safety", 0},
    {MDX_TOPIC_DEVICE, PUB, SELF, SELF, "status", 0},
    {MDX_TOPIC_DEVICE, PUB, SELF, SELF, "command_ack", 0},
    {MDX_TOPIC_DEVICE, SUB, SELF, SELF, "commands", 0},
    /* The service (`modax serve`): every tenant's telemetry in (the ingest may
     * share it among workers), commands out, alerts out and in (the API's
     * live stream). */
    {MDX_TOPIC_SERVICE, SUB, ANY, ANY, "sensor_data", 1},
    {MDX_TOPIC_SERVICE, SUB, ANY, ANY, "safety", 1},
    {MDX_TOPIC_SERVICE, SUB, ANY, ANY, "status", 1},
    {MDX_TOPIC_SERVICE, SUB, ANY, ANY, "command_ack", 1},
    {MDX_TOPIC_SERVICE, PUB | SUB, ANY, ANY, "alerts", 0},
    {MDX_TOPIC_SERVICE, PUB, ANY, ANY, "commands", 0},
    /* An operator/HMI of one tenant: that tenant's alerts and status. */
    {MDX_TOPIC_OPERATOR, SUB, SELF, ANY, "alerts", 0},
    {MDX_TOPIC_OPERATOR, SUB, SELF, ANY, "status", 0},
};

const struct mdx_topic_rule *mdx_topic_rules(size_t *n)
{
    *n = sizeof(rules) / sizeof(rules[0]);
    return rules;
}

/* One level of a topic: start and length. */
struct level {
    const char *p;
    size_t len;
};

#define LEVELS_MAX 8

static int level_is(const struct level *l, const char *s)
{
    return l->len == strlen(s) && memcmp(l->p, s, l->len) == 0;
}

static int level_has_wildcard(const struct level *l)
{
    return memchr(l->p, '+', l->len) != NULL || memchr(l->p, '#', l->len) != NULL;
}

enum mdx_topic_verdict mdx_topic_syntax(unsigned access, const char *topic, size_t len)
{
    size_t start = 0;

    if (topic == NULL || len == 0 || len > MDX_TOPIC_MAX || memchr(topic, '\0', len) != NULL) {
        return MDX_TOPIC_DENY_MALFORMED;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && topic[i] != '/') {
            continue;
        }
        struct level l = {topic + start, i - start};
        if (l.len == 0 || l.len > MDX_TOPIC_LEVEL_MAX) {
            return MDX_TOPIC_DENY_MALFORMED;
        }
        if (level_has_wildcard(&l)) {
            if (access != MDX_ACCESS_SUBSCRIBE) {
                return MDX_TOPIC_DENY_WILDCARD;
            }
            /* In a filter '+' is a whole level, '#' the whole last level. */
            if (l.len != 1 || (l.p[0] == '#' && i != len)) {
                return MDX_TOPIC_DENY_MALFORMED;
            }
        }
        start = i + 1;
    }
    return MDX_TOPIC_ALLOW;
}

/* A name the identity itself has: one valid level without wildcards or '$'. */
static int name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n > 0 && n <= MDX_TOPIC_LEVEL_MAX && strpbrk(s, "/+#") == NULL && s[0] != '$';
}

/* Splits into at most LEVELS_MAX levels; returns their count, LEVELS_MAX + 1 if more. */
static size_t split(const char *topic, size_t len, struct level out[LEVELS_MAX])
{
    size_t n = 0, start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i == len || topic[i] == '/') {
            if (n == LEVELS_MAX) {
                return LEVELS_MAX + 1;
            }
            out[n++] = (struct level){topic + start, i - start};
            start = i + 1;
        }
    }
    return n;
}

/* The verdict of one rule for a topic already split into modax/t/d/leaf. */
static enum mdx_topic_verdict rule_verdict(const struct mdx_topic_rule *r,
                                           const struct mdx_topic_who *who,
                                           const struct level *t, const struct level *d)
{
    int t_wild = level_is(t, "+"), d_wild = level_is(d, "+");

    if (r->tenant_scope == MDX_SCOPE_SELF) {
        if (t_wild) {
            return MDX_TOPIC_DENY_WILDCARD;
        }
        if (!level_is(t, who->tenant)) {
            return MDX_TOPIC_DENY_TENANT;
        }
    }
    if (r->device_scope == MDX_SCOPE_SELF) {
        if (d_wild) {
            return MDX_TOPIC_DENY_WILDCARD;
        }
        if (!level_is(d, who->name)) {
            return MDX_TOPIC_DENY_DEVICE;
        }
    }
    return MDX_TOPIC_ALLOW;
}

enum mdx_topic_verdict mdx_topic_check(const struct mdx_topic_who *who, unsigned access,
                                       const char *topic, size_t len)
{
    struct level lv[LEVELS_MAX];
    size_t n, first = 0;
    int shared = 0;
    enum mdx_topic_verdict v, worst = MDX_TOPIC_DENY_LEAF;

    if (who == NULL || !name_ok(who->name) ||
        (who->role != MDX_TOPIC_SERVICE && !name_ok(who->tenant))) {
        return MDX_TOPIC_DENY_IDENTITY;
    }
    v = mdx_topic_syntax(access, topic, len);
    if (v != MDX_TOPIC_ALLOW) {
        return v;
    }
    n = split(topic, len, lv);
    if (n > LEVELS_MAX) {
        return MDX_TOPIC_DENY_NAMESPACE;
    }
    if (access == MDX_ACCESS_SUBSCRIBE && n >= 2 && level_is(&lv[0], "$share")) {
        if (n < 3 || level_is(&lv[1], "+") || level_is(&lv[1], "#")) {
            return MDX_TOPIC_DENY_MALFORMED;
        }
        shared = 1;
        first = 2;
    }
    if (lv[first].p[0] == '$') {
        return MDX_TOPIC_DENY_SYS;
    }
    for (size_t i = first; i < n; i++) {
        if (level_is(&lv[i], "#")) {
            return MDX_TOPIC_DENY_WILDCARD;
        }
    }
    if (n - first != 4 || !level_is(&lv[first], "modax")) {
        return level_is(&lv[first], "+") ? MDX_TOPIC_DENY_WILDCARD : MDX_TOPIC_DENY_NAMESPACE;
    }
    if (level_is(&lv[first + 3], "+")) {
        return MDX_TOPIC_DENY_WILDCARD;
    }
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        const struct mdx_topic_rule *r = &rules[i];

        if (r->role != who->role || (r->access & access) == 0 ||
            !level_is(&lv[first + 3], r->leaf)) {
            continue;
        }
        if (shared && !r->shared) {
            worst = MDX_TOPIC_DENY_NAMESPACE;
            continue;
        }
        v = rule_verdict(r, who, &lv[first + 1], &lv[first + 2]);
        if (v == MDX_TOPIC_ALLOW) {
            return v;
        }
        worst = v;
    }
    return worst;
}

const char *mdx_topic_verdict_text(enum mdx_topic_verdict v)
{
    switch (v) {
    case MDX_TOPIC_ALLOW:
        return "allowed";
    case MDX_TOPIC_DENY_MALFORMED:
        return "malformed topic (empty, NUL, over-long level or topic, misplaced wildcard)";
    case MDX_TOPIC_DENY_WILDCARD:
        return "wildcard not allowed here";
    case MDX_TOPIC_DENY_SYS:
        return "'$' topic not allowed";
    case MDX_TOPIC_DENY_NAMESPACE:
        return "not a modax/{tenant}/{device}/{leaf} topic of this identity";
    case MDX_TOPIC_DENY_TENANT:
        return "another tenant's topic";
    case MDX_TOPIC_DENY_DEVICE:
        return "another device's topic";
    case MDX_TOPIC_DENY_LEAF:
        return "this identity may not use this topic this way";
    case MDX_TOPIC_DENY_IDENTITY:
        return "identity name or tenant is not a valid topic level";
    }
    return "unknown";
}

static const char *const role_names[MDX_TOPIC_ROLES] = {"device", "service", "operator"};

const char *mdx_topic_role_name(int role)
{
    return role >= 0 && role < MDX_TOPIC_ROLES ? role_names[role] : NULL;
}

int mdx_topic_role_parse(const char *name)
{
    for (int i = 0; i < MDX_TOPIC_ROLES; i++) {
        if (name != NULL && strcmp(name, role_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}
