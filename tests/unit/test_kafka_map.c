/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_kafka_map.c - how a Kafka record's headers and key become its
 * tenant, device and kind (kafka_map.h): the presets for an AWS IoT rule's
 * Kafka action and for IoT Hub routed to Event Hubs (AMQP-encoded header
 * values), the tenant pinned per topic, and the refusals.
 */
#include <string.h>

#include "check.h"
#include "source/kafka_map.h"

static struct mdx_kafka_conf conf(char *mapping, char *pinned)
{
    struct mdx_kafka_conf c;

    memset(&c, 0, sizeof(c));
    c.mapping = mapping;
    c.tenant_header = "tenant";
    c.device_header = "device";
    c.topic_header = "";
    c.topic_tenants = pinned;
    c.kind = "sensor_data";
    return c;
}

static const char *map(const struct kafka_map *m, const char *ktopic, const struct kafka_hdr *h,
                       size_t n, const char *key, char *out)
{
    return kafka_map_topic(m, ktopic, h, n, key, key != NULL ? strlen(key) : 0, out, 192);
}

static void headers_preset_reads_tenant_and_device(void)
{
    struct mdx_kafka_conf c = conf("headers", "");
    struct kafka_map m;
    struct kafka_hdr h[] = {{"tenant", "acme", 4}, {"device", "m-1", 3}};
    char out[192];

    CHECK_EQ_INT(kafka_map_init(&m, &c), 0);
    CHECK(map(&m, "t", h, 2, NULL, out) == NULL);
    CHECK(strcmp(out, "modax/acme/m-1/sensor_data") == 0);
    CHECK(strcmp(map(&m, "t", h, 1, NULL, out),
                 "kafka record without tenant or device (headers or key)") == 0);
    CHECK(map(&m, "t", NULL, 0, NULL, out) != NULL);
}

static void aws_rule_preset_takes_the_topic_and_checks_the_key(void)
{
    struct mdx_kafka_conf c = conf("aws-iot-rule-msk", "");
    struct kafka_map m;
    struct kafka_hdr h[] = {{"mqtt_topic", "modax/acme/m-1/safety", 21}};
    char out[192];

    CHECK_EQ_INT(kafka_map_init(&m, &c), 0);
    CHECK(map(&m, "t", h, 1, "m-1", out) == NULL);
    CHECK(strcmp(out, "modax/acme/m-1/safety") == 0);
    CHECK(strcmp(map(&m, "t", h, 1, "m-2", out),
                 "kafka record key names another device than its headers") == 0);
    /* Key alone is not enough: the tenant is missing. */
    CHECK(map(&m, "t", NULL, 0, "m-1", out) != NULL);
    struct kafka_hdr bad[] = {{"mqtt_topic", "other/acme", 10}};
    CHECK(map(&m, "t", bad, 1, "m-1", out) != NULL);
}

static void azure_preset_decodes_amqp_strings(void)
{
    struct mdx_kafka_conf c = conf("azure-event-hubs", "");
    struct kafka_map m;
    /* str8-utf8: 0xa1, length, bytes - as IoT Hub properties arrive through Event Hubs. */
    static const unsigned char dev[] = {0xa1, 5, 'p', 'r', 'e', 's', 's'};
    struct kafka_hdr h[] = {{"iothub-connection-device-id", dev, sizeof(dev)},
                            {"tenant", "acme", 4}};
    char out[192];

    CHECK_EQ_INT(kafka_map_init(&m, &c), 0);
    CHECK(map(&m, "sensor-data-hub", h, 2, NULL, out) == NULL);
    CHECK(strcmp(out, "modax/acme/press/sensor_data") == 0);
}

static void pinned_tenant_is_enforced_and_filled_in(void)
{
    struct mdx_kafka_conf c = conf("headers", "a=acme,b=beta");
    struct kafka_map m;
    struct kafka_hdr other[] = {{"tenant", "beta", 4}, {"device", "m-1", 3}};
    struct kafka_hdr none[] = {{"device", "m-1", 3}};
    char out[192];

    CHECK_EQ_INT(kafka_map_init(&m, &c), 0);
    CHECK(strcmp(map(&m, "a", other, 2, NULL, out),
                 "kafka record names another tenant than kafka.topic_tenants allows for its "
                 "topic") == 0);
    CHECK(map(&m, "b", other, 2, NULL, out) == NULL);
    CHECK(map(&m, "a", none, 1, NULL, out) == NULL);
    CHECK(strcmp(out, "modax/acme/m-1/sensor_data") == 0);
    struct mdx_kafka_conf bad = conf("headers", "a=");
    CHECK(kafka_map_init(&m, &bad) != 0);
    struct mdx_kafka_conf unknown = conf("gcp", "");
    CHECK(kafka_map_init(&m, &unknown) != 0);
}

static const struct mdx_test tests[] = {
    {"headers preset reads tenant and device", headers_preset_reads_tenant_and_device},
    {"aws rule preset takes the topic and checks the key",
     aws_rule_preset_takes_the_topic_and_checks_the_key},
    {"azure preset decodes AMQP strings", azure_preset_decodes_amqp_strings},
    {"pinned tenant is enforced and filled in", pinned_tenant_is_enforced_and_filled_in},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
