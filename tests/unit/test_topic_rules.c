/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_topic_rules.c - the broker's topic rules (topic_rules.h): the
 * checker's answers, the committed cloud documents being exactly what the
 * table renders, and the rendered AWS IoT policies giving the checker's
 * answers (a small evaluator of IoT policy Allow/Deny statements with '*'
 * and '?' wildcards and policy-variable substitution).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/topic_rules.h"

static const struct mdx_topic_who dev1 = {MDX_TOPIC_DEVICE, "acme", "m-1"};
static const struct mdx_topic_who dev2 = {MDX_TOPIC_DEVICE, "beta", "m-2"};
static const struct mdx_topic_who svc = {MDX_TOPIC_SERVICE, "", "svc"};
static const struct mdx_topic_who op1 = {MDX_TOPIC_OPERATOR, "acme", "op-1"};

static enum mdx_topic_verdict chk(const struct mdx_topic_who *w, unsigned access, const char *t)
{
    return mdx_topic_check(w, access, t, strlen(t));
}

static void device_may_use_only_its_own_topics(void)
{
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/sensor_data"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/safety"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/status"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/command_ack"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "modax/acme/m-1/commands"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_RECEIVE, "modax/acme/m-1/commands"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/commands"), MDX_TOPIC_DENY_LEAF);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/alerts"), MDX_TOPIC_DENY_LEAF);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "modax/acme/m-1/sensor_data"),
                 MDX_TOPIC_DENY_LEAF);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-2/sensor_data"),
                 MDX_TOPIC_DENY_DEVICE);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/beta/m-1/sensor_data"),
                 MDX_TOPIC_DENY_TENANT);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "#"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "modax/#"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "modax/+/+/commands"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "modax/acme/+/commands"),
                 MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "$SYS/#"), MDX_TOPIC_DENY_SYS);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_SUBSCRIBE, "$share/g/modax/acme/m-1/commands"),
                 MDX_TOPIC_DENY_NAMESPACE);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/+/sensor_data"),
                 MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/#"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/sensor_data/x"),
                 MDX_TOPIC_DENY_NAMESPACE);
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, "other/acme/m-1/sensor_data"),
                 MDX_TOPIC_DENY_NAMESPACE);
}

static void service_and_operator_rules(void)
{
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "modax/+/+/sensor_data"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "$share/ingest/modax/+/+/command_ack"),
                 MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "$share/ingest/modax/+/+/alerts"),
                 MDX_TOPIC_DENY_NAMESPACE);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_RECEIVE, "modax/beta/m-2/safety"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, "modax/beta/m-2/commands"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, "modax/beta/m-2/alerts"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, "modax/beta/m-2/sensor_data"), MDX_TOPIC_DENY_LEAF);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "modax/+/+/commands"), MDX_TOPIC_DENY_LEAF);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "modax/#"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "modax/+/+/+"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&op1, MDX_ACCESS_SUBSCRIBE, "modax/acme/+/alerts"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&op1, MDX_ACCESS_RECEIVE, "modax/acme/m-9/status"), MDX_TOPIC_ALLOW);
    CHECK_EQ_INT(chk(&op1, MDX_ACCESS_SUBSCRIBE, "modax/+/+/alerts"), MDX_TOPIC_DENY_WILDCARD);
    CHECK_EQ_INT(chk(&op1, MDX_ACCESS_SUBSCRIBE, "modax/beta/+/alerts"), MDX_TOPIC_DENY_TENANT);
    CHECK_EQ_INT(chk(&op1, MDX_ACCESS_SUBSCRIBE, "modax/acme/+/sensor_data"),
                 MDX_TOPIC_DENY_LEAF);
    CHECK_EQ_INT(chk(&op1, MDX_ACCESS_PUBLISH, "modax/acme/m-1/commands"), MDX_TOPIC_DENY_LEAF);
}

static void malformed_topics_and_identities_are_refused(void)
{
    char big[400];

    CHECK_EQ_INT(mdx_topic_check(&dev1, MDX_ACCESS_PUBLISH, "modax/acme/m-1\0/sensor_data", 27),
                 MDX_TOPIC_DENY_MALFORMED);
    memset(big, 'a', sizeof(big));
    memcpy(big, "modax/acme/", 11);
    big[11 + 65] = '\0';
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, big), MDX_TOPIC_DENY_MALFORMED); /* 65-byte level */
    big[11 + 64] = '\0';
    CHECK_EQ_INT(chk(&dev1, MDX_ACCESS_PUBLISH, big), MDX_TOPIC_DENY_NAMESPACE); /* 64 is fine */
    for (size_t i = 0; i < 257; i++) {
        big[i] = i % 10 == 9 ? '/' : 'a';
    }
    big[257] = '\0';
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, big), MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, ""), MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, "modax//m-1/commands"), MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "modax/a+/+/sensor_data"),
                 MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "modax/#/x/sensor_data"),
                 MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "$share/+/modax/+/+/sensor_data"),
                 MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_SUBSCRIBE, "$share/g"), MDX_TOPIC_DENY_MALFORMED);
    CHECK_EQ_INT(chk(&svc, MDX_ACCESS_PUBLISH, "$share/g/modax/a/b/commands"), MDX_TOPIC_DENY_SYS);
    struct mdx_topic_who bad = {MDX_TOPIC_DEVICE, "acme", "m+"};
    CHECK_EQ_INT(chk(&bad, MDX_ACCESS_PUBLISH, "modax/acme/m+/sensor_data"),
                 MDX_TOPIC_DENY_IDENTITY);
    bad = (struct mdx_topic_who){MDX_TOPIC_OPERATOR, "", "op"};
    CHECK_EQ_INT(chk(&bad, MDX_ACCESS_SUBSCRIBE, "modax//+/alerts"), MDX_TOPIC_DENY_IDENTITY);
    CHECK(strcmp(mdx_topic_verdict_text(MDX_TOPIC_DENY_TENANT), "another tenant's topic") == 0);
}

/* Reads a whole file; NULL if it cannot. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        if (f != NULL) {
            fclose(f);
        }
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static char *render(const char *rel, size_t *len)
{
    char *buf = NULL;
    FILE *out = open_memstream(&buf, len);

    if (out == NULL) {
        return NULL;
    }
    CHECK_EQ_INT(mdx_topic_render_file(rel, out), 0);
    fclose(out);
    return buf;
}

static void committed_documents_are_the_rendered_table(void)
{
    const char *src = getenv("MODAX_SOURCE_DIR");
    char path[4096];
    int files = 0;

    CHECK(src != NULL);
    if (src == NULL) {
        return;
    }
    for (const char *const *f = mdx_topic_render_files; *f != NULL; f++) {
        size_t have_len = 0, want_len = 0;
        char *want = render(*f, &want_len);
        char *have;

        snprintf(path, sizeof(path), "%s/cloud/%s", src, *f);
        have = slurp(path, &have_len);
        if (have == NULL || want == NULL || have_len != want_len ||
            memcmp(have, want, want_len) != 0) {
            fprintf(stderr, "  %s differs from `modax policy render --write cloud`\n", path);
            CHECK(0);
        }
        files++;
        free(have);
        free(want);
    }
    CHECK_EQ_INT(files, 4);
}

/* IAM-style match: '*' any run of characters ('/' included), '?' one character. */
static int glob(const char *p, const char *s)
{
    if (*p == '\0') {
        return *s == '\0';
    }
    if (*p == '*') {
        for (;; s++) {
            if (glob(p + 1, s)) {
                return 1;
            }
            if (*s == '\0') {
                return 0;
            }
        }
    }
    return *s != '\0' && (*p == '?' || *p == *s) && glob(p + 1, s + 1);
}

/* Replaces the policy variables of 'in' with the values of 'who' into out. */
static void substitute(const char *in, const struct mdx_topic_who *who, char *out, size_t len)
{
    static const char *const vars[] = {"${iot:Connection.Thing.ThingName}",
                                       "${iot:Connection.Thing.Attributes[tenant]}",
                                       "${iot:Certificate.Subject.CommonName}"};
    size_t o = 0;

    while (*in != '\0' && o + 1 < len) {
        int done = 0;
        for (size_t v = 0; v < 3 && !done; v++) {
            size_t vl = strlen(vars[v]);
            if (strncmp(in, vars[v], vl) == 0) {
                const char *val = v == 1 ? who->tenant : who->name;
                o += (size_t)snprintf(out + o, len - o, "%s", val);
                in += vl;
                done = 1;
            }
        }
        if (!done) {
            out[o++] = *in++;
        }
    }
    out[o < len ? o : len - 1] = '\0';
}

static int listed(const cJSON *item, const char *want)
{
    const cJSON *e;

    if (cJSON_IsString(item)) {
        return strcmp(item->valuestring, want) == 0;
    }
    cJSON_ArrayForEach(e, item)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, want) == 0) {
            return 1;
        }
    }
    return 0;
}

/* 1 if some statement of 'effect' for 'action' has a resource matching 'arn'. */
static int policy_matches(const cJSON *policy, const char *effect, const char *action,
                          const char *arn, const struct mdx_topic_who *who)
{
    const cJSON *st;
    char pattern[1024];

    cJSON_ArrayForEach(st, cJSON_GetObjectItem(policy, "Statement"))
    {
        const cJSON *res = cJSON_GetObjectItem(st, "Resource"), *r;

        if (!listed(cJSON_GetObjectItem(st, "Effect"), effect) ||
            !listed(cJSON_GetObjectItem(st, "Action"), action)) {
            continue;
        }
        if (cJSON_IsString(res)) {
            substitute(res->valuestring, who, pattern, sizeof(pattern));
            if (glob(pattern, arn)) {
                return 1;
            }
            continue;
        }
        cJSON_ArrayForEach(r, res)
        {
            substitute(r->valuestring, who, pattern, sizeof(pattern));
            if (glob(pattern, arn)) {
                return 1;
            }
        }
    }
    return 0;
}

static int policy_allows(const cJSON *policy, const struct mdx_topic_who *who, unsigned access,
                         const char *topic)
{
    const char *action = access == MDX_ACCESS_PUBLISH     ? "iot:Publish"
                         : access == MDX_ACCESS_SUBSCRIBE ? "iot:Subscribe"
                                                          : "iot:Receive";
    char arn[1024];

    snprintf(arn, sizeof(arn), "arn:aws:iot:REGION:ACCOUNT:%s/%s",
             access == MDX_ACCESS_SUBSCRIBE ? "topicfilter" : "topic", topic);
    return policy_matches(policy, "Allow", action, arn, who) &&
           !policy_matches(policy, "Deny", action, arn, who);
}

static cJSON *policy_of(int role)
{
    size_t len = 0;
    char *text = NULL;
    FILE *out = open_memstream(&text, &len);
    cJSON *j;

    if (out == NULL) {
        return NULL;
    }
    mdx_topic_render_aws(role, out);
    fclose(out);
    j = cJSON_Parse(text);
    free(text);
    return j;
}

static void aws_policy_gives_the_checkers_answers(void)
{
    static const char *const tenants[] = {"acme", "beta", "+"};
    static const char *const devices[] = {"m-1", "m-2", "op-1", "svc", "+"};
    static const char *const leaves[] = {"sensor_data", "safety", "status", "command_ack",
                                         "commands",    "alerts", "other",  "+"};
    static const char *const extra[] = {
        "#", "modax/#", "$SYS/#", "$SYS/broker/load", "modax/acme/m-1/#",
        "$share/g/modax/+/+/sensor_data", "$share/g/modax/acme/+/alerts",
        "$share/g/x/modax/a/b/sensor_data", "$share/g/modax/acme/m-1/commands",
        "modax/acme/m-1/sensor_data/extra", "modax/a/b/c/sensor_data", "modax/acme/m-1",
        "other/acme/m-1/sensor_data", "MODAX/acme/m-1/sensor_data", "modax/acme/m-1/commands/x",
        "modax/a/b/c/alerts", "x/modax/acme/m-1/sensor_data", "modax/acme/m-1*/sensor_data",
    };
    static const unsigned accesses[] = {MDX_ACCESS_PUBLISH, MDX_ACCESS_SUBSCRIBE,
                                        MDX_ACCESS_RECEIVE};
    const struct mdx_topic_who *whos[] = {&dev1, &dev2, &svc, &op1};
    cJSON *pol[MDX_TOPIC_ROLES];
    char topics[3 * 5 * 8 + 32][128];
    size_t nt = 0;
    int compared = 0, allowed = 0, differ = 0;

    for (int r = 0; r < MDX_TOPIC_ROLES; r++) {
        pol[r] = policy_of(r);
        CHECK(pol[r] != NULL);
        if (pol[r] == NULL) {
            return;
        }
    }
    for (size_t t = 0; t < 3; t++) {
        for (size_t d = 0; d < 5; d++) {
            for (size_t l = 0; l < 8; l++) {
                snprintf(topics[nt++], sizeof(topics[0]), "modax/%s/%s/%s", tenants[t],
                         devices[d], leaves[l]);
            }
        }
    }
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        snprintf(topics[nt++], sizeof(topics[0]), "%s", extra[i]);
    }
    for (size_t w = 0; w < 4; w++) {
        for (size_t a = 0; a < 3; a++) {
            for (size_t t = 0; t < nt; t++) {
                /* Malformed topics never reach a policy: the protocol refuses them. */
                if (mdx_topic_syntax(accesses[a], topics[t], strlen(topics[t])) !=
                    MDX_TOPIC_ALLOW) {
                    continue;
                }
                int want = chk(whos[w], accesses[a], topics[t]) == MDX_TOPIC_ALLOW;
                int got = policy_allows(pol[whos[w]->role], whos[w], accesses[a], topics[t]);
                if (want != got) {
                    fprintf(stderr, "  %s %s/%s access %u '%s': checker %s, AWS policy %s\n",
                            mdx_topic_role_name(whos[w]->role), whos[w]->tenant, whos[w]->name,
                            accesses[a], topics[t], want ? "allows" : "denies",
                            got ? "allows" : "denies");
                    differ++;
                }
                compared++;
                allowed += want;
            }
        }
    }
    CHECK_EQ_INT(differ, 0);
    CHECK(compared > 1000);
    CHECK(allowed > 40); /* the cases exercise allows as well as denials */
    /* The seed policies' mistake: '+' is literal in IoT policies, so a
     * concrete topic never matches a resource written with '+'. */
    CHECK(!glob("arn:aws:iot:REGION:ACCOUNT:topic/modax/+/sensor_data",
                "arn:aws:iot:REGION:ACCOUNT:topic/modax/acme/sensor_data"));
    for (int r = 0; r < MDX_TOPIC_ROLES; r++) {
        cJSON_Delete(pol[r]);
    }
}

static const struct mdx_test tests[] = {
    {"a device may use only its own topics", device_may_use_only_its_own_topics},
    {"service and operator rules", service_and_operator_rules},
    {"malformed topics and identities are refused", malformed_topics_and_identities_are_refused},
    {"committed cloud documents are the rendered table",
     committed_documents_are_the_rendered_table},
    {"the AWS policies give the checker's answers", aws_policy_gives_the_checkers_answers},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
