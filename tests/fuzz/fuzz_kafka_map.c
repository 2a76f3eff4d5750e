/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_kafka_map.c - fuzz target for the mapping of a Kafka record to
 * its tenant, device and kind (kafka_map_topic in src/source/kafka_map.c).
 *
 * Input: byte 0 picks the preset (headers, aws-iot-rule-msk,
 * azure-event-hubs) and whether the key names the device; then lines:
 * the Kafka topic, the record key ("-" for none), and headers
 * "name=value" (values are raw bytes, AMQP-wrapped or not). Kafka topic
 * "pinned" may only carry tenant "acme" (kafka.topic_tenants). A mapped
 * record must give modax/{tenant}/{device}/{kind} with a non-empty tenant
 * and device, the pinned tenant on a pinned topic, and the key as device
 * when the key names it; a refusal must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modax/source.h"
#include "modax/status.h"
#include "source/kafka_map.h"

#define HDR_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next '\n'-terminated line of [*p, end) as a NUL-terminated copy in buf. */
static size_t line(const uint8_t **p, const uint8_t *end, char *buf, size_t cap)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl != NULL ? nl : end) - *p);

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(buf, *p, n);
    buf[n] = '\0';
    *p = nl != NULL ? nl + 1 : end;
    return n;
}

/* Level 'i' (0-based, after "modax/") of 'topic' into out; its length. */
static size_t level(const char *topic, int i, char *out, size_t cap)
{
    const char *p = topic + 6, *slash;
    size_t n;

    for (; i > 0; i--) {
        p = strchr(p, '/');
        if (p == NULL) {
            abort();
        }
        p++;
    }
    slash = strchr(p, '/');
    if (slash == NULL) {
        abort();
    }
    n = (size_t)(slash - p);
    if (n >= cap) {
        abort();
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const presets[] = {"headers", "aws-iot-rule-msk", "azure-event-hubs"};
    char ktopic[300], key[300], lines[HDR_MAX][300], out[512], tenant[300], device[300];
    struct mdx_kafka_conf conf;
    struct kafka_map m;
    struct kafka_hdr h[HDR_MAX];
    const uint8_t *p = data + (size > 0), *end = data + size;
    size_t n = 0, klen;
    const char *why;

    memset(&conf, 0, sizeof(conf));
    conf.mapping = (char *)presets[size > 0 ? data[0] % 3 : 0];
    conf.tenant_header = (char *)"tenant";
    conf.device_header = (char *)"device";
    conf.topic_header = (char *)(size > 0 && (data[0] & 8) ? "mqtt_topic" : "");
    conf.device_from_key = size > 0 && (data[0] & 4);
    conf.topic_tenants = (char *)"pinned=acme,other=beta";
    conf.kind = (char *)"sensor_data";
    if (kafka_map_init(&m, &conf) != MDX_OK) {
        abort();
    }
    line(&p, end, ktopic, sizeof(ktopic));
    klen = line(&p, end, key, sizeof(key));
    while (p < end && n < HDR_MAX) {
        size_t len = line(&p, end, lines[n], sizeof(lines[n]));
        char *eq = memchr(lines[n], '=', len);

        if (eq == NULL) {
            continue;
        }
        *eq = '\0';
        h[n].name = lines[n];
        h[n].value = eq + 1;
        h[n].len = len - (size_t)(eq + 1 - lines[n]);
        n++;
    }
    if (strcmp(key, "-") == 0) {
        klen = 0;
    }

    why = kafka_map_topic(&m, ktopic, h, n, klen > 0 ? key : NULL, klen, out, sizeof(out));
    if (why != NULL) {
        if (why[0] == '\0') {
            abort();
        }
        return 0;
    }
    if (strncmp(out, "modax/", 6) != 0 || level(out, 0, tenant, sizeof(tenant)) == 0 ||
        level(out, 1, device, sizeof(device)) == 0) {
        abort();
    }
    if (strcmp(ktopic, "pinned") == 0 && strcmp(tenant, "acme") != 0) {
        abort();
    }
    if (m.device_from_key && klen > 0 && strcmp(device, key) != 0) {
        abort();
    }
    return 0;
}
