/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_edge_command.c - fuzz target for what the edge agent parses of a
 * message from the cloud (edge/core): the command payload
 * (mdx_edge_command_parse) and the topic it came on, as each profile
 * classifies it (modax commands topic, Azure direct method with its $rid,
 * Azure cloud-to-device message).
 *
 * The whole input is parsed as a payload; then its first line is taken as
 * a topic and the rest as the payload again. A parsed command must have a
 * valid name, a finite value and an id, and must parse back to itself from
 * its canonical form; a refusal must say why. A classified topic must point
 * into the topic, and a direct method's answer topic must be a topic name
 * (no wildcard). Payloads are copied into blocks of their exact size so
 * that ASan sees a read past 'len'.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "modax/status.h"
#include "profile.h"

#define TOPIC_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > MDX_EDGE_CMD_NAME_MAX) {
        return 0;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static void parse(const uint8_t *p, size_t n)
{
    char *copy = malloc(n > 0 ? n : 1), canon[256];
    struct mdx_edge_command cmd, back;
    const char *why = NULL;
    int len;

    if (copy == NULL) {
        abort();
    }
    if (n > 0) {
        memcpy(copy, p, n);
    }
    if (mdx_edge_command_parse(copy, n, &cmd, &why) != MDX_OK) {
        if (why == NULL || why[0] == '\0') {
            abort();
        }
        free(copy);
        return;
    }
    free(copy);
    if (!name_ok(cmd.name) || !isfinite(cmd.value) || !cmd.has_id || cmd.id < 0) {
        abort();
    }
    len = snprintf(canon, sizeof(canon),
                   "{\"command_id\":%lld,\"name\":\"%s\",\"value\":%.17g,\"ts\":%lld}",
                   (long long)cmd.id, cmd.name, cmd.value, (long long)cmd.ts_ms);
    if (len < 0 || (size_t)len >= sizeof(canon) ||
        mdx_edge_command_parse(canon, (size_t)len, &back, &why) != MDX_OK || back.id != cmd.id ||
        strcmp(back.name, cmd.name) != 0 || back.value != cmd.value || back.ts_ms != cmd.ts_ms) {
        abort();
    }
}

static void classify(const struct mdx_edge_profile *pr, const char *topic)
{
    const struct mdx_edge_link link = {"acme", "cloud", "hub-1", 0, 0};
    struct mdx_edge_inbound in;
    char reply[256];
    size_t tl = strlen(topic);

    memset(&in, 0x5a, sizeof(in));
    pr->inbound(&link, topic, &in);
    switch (in.kind) {
    case MDX_EDGE_IN_NONE:
        return;
    case MDX_EDGE_IN_COMMAND:
    case MDX_EDGE_IN_C2D:
        if (in.device < topic || in.device_len == 0 || in.device + in.device_len > topic + tl ||
            memchr(in.device, '/', in.device_len) != NULL) {
            abort();
        }
        return;
    case MDX_EDGE_IN_METHOD:
        if (memchr(in.method, '\0', sizeof(in.method)) == NULL ||
            memchr(in.rid, '\0', sizeof(in.rid)) == NULL || in.method[0] == '\0' ||
            strchr(in.method, '/') != NULL) {
            abort();
        }
        if (pr->reply_topic != NULL && pr->reply_topic(&in, 200, reply, sizeof(reply)) == 0 &&
            (strncmp(reply, "$iothub/methods/res/200/", 24) != 0 ||
             strpbrk(reply, "#+") != NULL)) {
            abort();
        }
        return;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct mdx_edge_profile *const profiles[] = {
        &mdx_edge_profile_mqtt, &mdx_edge_profile_aws_iot, &mdx_edge_profile_azure};
    const uint8_t *nl = memchr(data, '\n', size);
    char topic[TOPIC_MAX];
    size_t tl = nl != NULL ? (size_t)(nl - data) : size;

    parse(data, size);
    if (tl >= sizeof(topic)) {
        tl = sizeof(topic) - 1;
    }
    memcpy(topic, data, tl);
    topic[tl] = '\0';
    for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
        classify(profiles[i], topic);
    }
    if (nl != NULL) {
        parse(nl + 1, size - (size_t)(nl + 1 - data));
    }
    return 0;
}
