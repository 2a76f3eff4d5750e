/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pubsub_map.c - how a Pub/Sub message's attributes become its
 * tenant, device and kind (pubsub_map.h): tenant and deviceId attributes,
 * a topic attribute carrying the MQTT topic (which wins), the tenant
 * pinned by pubsub.tenant, and the refusals.
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "source/pubsub_map.h"

static struct mdx_pubsub_conf conf(char *pinned)
{
    struct mdx_pubsub_conf c;

    memset(&c, 0, sizeof(c));
    c.tenant_attribute = "tenant";
    c.device_attribute = "deviceId";
    c.topic_attribute = "topic";
    c.tenant = pinned;
    c.kind = "sensor_data";
    return c;
}

/* Maps the attributes given as JSON text; NULL text: none. Returns the refusal or NULL. */
static const char *map(const struct pubsub_map *m, const char *attrs, char *out)
{
    cJSON *j = attrs != NULL ? cJSON_Parse(attrs) : NULL;
    const char *why = pubsub_map_topic(m, j, out, 192);

    cJSON_Delete(j);
    return why;
}

static void tenant_and_device_attributes(void)
{
    struct mdx_pubsub_conf c = conf("");
    struct pubsub_map m;
    char out[192];

    CHECK_EQ_INT(pubsub_map_init(&m, &c), 0);
    CHECK(map(&m, "{\"tenant\":\"acme\",\"deviceId\":\"m-1\"}", out) == NULL);
    CHECK(strcmp(out, "modax/acme/m-1/sensor_data") == 0);
    CHECK(strcmp(map(&m, "{\"deviceId\":\"m-1\"}", out),
                 "pubsub message without tenant or device attributes") == 0);
    CHECK(strcmp(map(&m, NULL, out), "pubsub message without tenant or device attributes") == 0);
    CHECK(strcmp(map(&m, "{\"tenant\":\"acme\",\"deviceId\":\"\"}", out),
                 "pubsub message without tenant or device attributes") == 0);
    /* A name cannot reshape the topic. */
    CHECK(strcmp(map(&m, "{\"tenant\":\"acme\",\"deviceId\":\"m-1/alerts\"}", out),
                 "pubsub message's tenant or device attribute has '/', '+' or '#'") == 0);
    CHECK(map(&m, "{\"tenant\":\"a+\",\"deviceId\":\"m-1\"}", out) != NULL);
}

static void topic_attribute_wins(void)
{
    struct mdx_pubsub_conf c = conf("");
    struct pubsub_map m;
    char out[192];

    CHECK_EQ_INT(pubsub_map_init(&m, &c), 0);
    CHECK(map(&m, "{\"topic\":\"modax/acme/m-2/safety\",\"tenant\":\"x\",\"deviceId\":\"y\"}",
              out) == NULL);
    CHECK(strcmp(out, "modax/acme/m-2/safety") == 0);
    CHECK(strcmp(map(&m, "{\"topic\":\"plant/acme/m-2\"}", out),
                 "pubsub message's topic attribute is not modax/{tenant}/{device}/{kind}") == 0);
    CHECK(map(&m, "{\"topic\":\"modax/acme/m-2/\"}", out) != NULL);
    CHECK(map(&m, "{\"topic\":\"modax/acme/#/sensor_data\"}", out) != NULL);
}

static void pinned_tenant(void)
{
    struct mdx_pubsub_conf c = conf("acme");
    struct pubsub_map m;
    char out[192];

    CHECK_EQ_INT(pubsub_map_init(&m, &c), 0);
    CHECK(map(&m, "{\"deviceId\":\"m-3\"}", out) == NULL);
    CHECK(strcmp(out, "modax/acme/m-3/sensor_data") == 0);
    CHECK(strcmp(map(&m, "{\"tenant\":\"beta\",\"deviceId\":\"m-3\"}", out),
                 "pubsub message names another tenant than pubsub.tenant allows") == 0);
    CHECK(strcmp(map(&m, "{\"topic\":\"modax/beta/m-3/sensor_data\"}", out),
                 "pubsub message names another tenant than pubsub.tenant allows") == 0);
}

static void bad_configuration_is_refused(void)
{
    struct mdx_pubsub_conf c = conf("");
    struct pubsub_map m;

    c.topic_attribute = "";
    c.device_attribute = "";
    CHECK(pubsub_map_init(&m, &c) != 0);
}

static const struct mdx_test tests[] = {
    {"tenant and device attributes", tenant_and_device_attributes},
    {"a topic attribute wins", topic_attribute_wins},
    {"the pinned tenant", pinned_tenant},
    {"bad configuration is refused", bad_configuration_is_refused},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
