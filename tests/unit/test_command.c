/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_command.c - the limits document check, the check of a command
 * against a device's limits and emergency stop, and the payload/topic.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/command.h"
#include "modax/status.h"

static void test_limits_valid(void)
{
    char why[256];

    CHECK_EQ_INT(mdx_limits_check("{}", why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_limits_check("{\"speed_pct\":{\"min\":0,\"max\":100}}", why, sizeof(why)),
                 MDX_OK);
    CHECK_EQ_INT(mdx_limits_check("{\"a-b_C9\":{\"min\":-1.5,\"max\":-1.5},"
                                  "\"t\":{\"max\":2,\"min\":1}}",
                                  why, sizeof(why)),
                 MDX_OK);
}

static void test_limits_invalid(void)
{
    static const char *const bad[] = {
        NULL,
        "",
        "[]",
        "42",
        "{\"speed\":1}",
        "{\"speed\":{\"min\":0}}",
        "{\"speed\":{\"max\":0}}",
        "{\"speed\":{\"min\":\"0\",\"max\":1}}",
        "{\"speed\":{\"min\":5,\"max\":1}}",
        "{\"speed\":{\"min\":0,\"max\":1,\"step\":1}}",
        "{\"speed\":{\"min\":0,\"max\":1e999}}",
        "{\"\":{\"min\":0,\"max\":1}}",
        "{\"sp eed\":{\"min\":0,\"max\":1}}",
        "{\"x'; DROP TABLE devices;--\":{\"min\":0,\"max\":1}}",
        "{\"speed\":{\"min\":0,\"max\":1}",
    };
    char why[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        int rc = mdx_limits_check(bad[i], why, sizeof(why));
        if (rc != MDX_EINVAL) {
            fprintf(stderr, "  accepted: %s\n", bad[i] ? bad[i] : "(null)");
        }
        CHECK_EQ_INT(rc, MDX_EINVAL);
        CHECK(why[0] != '\0');
    }
    /* A 65-character name is one too long; 64 is fine. */
    char doc[256], name[80];
    memset(name, 'p', 65);
    name[65] = '\0';
    snprintf(doc, sizeof(doc), "{\"%s\":{\"min\":0,\"max\":1}}", name);
    CHECK_EQ_INT(mdx_limits_check(doc, why, sizeof(why)), MDX_EINVAL);
    name[64] = '\0';
    snprintf(doc, sizeof(doc), "{\"%s\":{\"min\":0,\"max\":1}}", name);
    CHECK_EQ_INT(mdx_limits_check(doc, why, sizeof(why)), MDX_OK);
    /* The reason names the parameter. */
    CHECK_EQ_INT(mdx_limits_check("{\"speed\":{\"min\":5,\"max\":1}}", why, sizeof(why)),
                 MDX_EINVAL);
    CHECK(strstr(why, "speed") != NULL);
}

static void make_device(struct mdx_device_config *cfg, struct mdx_device_info *dev)
{
    memset(cfg, 0, sizeof(*cfg));
    memset(dev, 0, sizeof(*dev));
    snprintf(cfg->meta, sizeof(cfg->meta), "{}");
    snprintf(cfg->limits, sizeof(cfg->limits),
             "{\"speed_pct\":{\"min\":0,\"max\":100},\"temp_c\":{\"min\":-10.5,\"max\":80}}");
    snprintf(dev->tenant, sizeof(dev->tenant), "acme");
    snprintf(dev->device, sizeof(dev->device), "press-1");
}

static void test_command_within_limits(void)
{
    struct mdx_device_config cfg;
    struct mdx_device_info dev;
    char why[256];

    make_device(&cfg, &dev);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 80, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 0, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 100, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "temp_c", -10.5, why, sizeof(why)), MDX_OK);
}

static void test_command_refused(void)
{
    struct mdx_device_config cfg;
    struct mdx_device_info dev;
    char why[256];

    make_device(&cfg, &dev);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 100.0001, why, sizeof(why)),
                 MDX_EINVAL);
    CHECK(strstr(why, "speed_pct") != NULL);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", -0.5, why, sizeof(why)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "temp_c", -10.6, why, sizeof(why)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", NAN, why, sizeof(why)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", INFINITY, why, sizeof(why)),
                 MDX_EINVAL);
    /* A parameter without limits is not accepted. */
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "pressure", 1, why, sizeof(why)), MDX_EINVAL);
    CHECK(strstr(why, "pressure") != NULL);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "", 1, why, sizeof(why)), MDX_EINVAL);
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct\"", 1, why, sizeof(why)), MDX_EINVAL);
    /* No limits at all: nothing is accepted. */
    snprintf(cfg.limits, sizeof(cfg.limits), "{}");
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 50, why, sizeof(why)), MDX_EINVAL);
}

static void test_command_emergency_stop(void)
{
    struct mdx_device_config cfg;
    struct mdx_device_info dev;
    char why[256];

    make_device(&cfg, &dev);
    dev.emergency_stop = 1;
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 50, why, sizeof(why)), MDX_EDENIED);
    CHECK(strstr(why, "emergency stop") != NULL);
    /* Even a command that would be refused anyway is refused as an emergency stop. */
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 500, why, sizeof(why)), MDX_EDENIED);
    dev.emergency_stop = 0;
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 50, why, sizeof(why)), MDX_OK);
}

/* Issue 14 item 4: door open, overload and temperature not OK refuse like the e-stop. */
static void test_command_each_interlock(void)
{
    static const struct {
        unsigned bit;
        const char *name;
    } locks[] = {{MDX_INTERLOCK_DOOR_OPEN, "door_open"},
                 {MDX_INTERLOCK_OVERLOAD, "overload"},
                 {MDX_INTERLOCK_TEMPERATURE, "temperature"}};
    struct mdx_device_config cfg;
    struct mdx_device_info dev;
    char why[256];

    make_device(&cfg, &dev);
    for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++) {
        dev.interlocks = locks[i].bit;
        CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 50, why, sizeof(why)),
                     MDX_EDENIED);
        CHECK(strstr(why, locks[i].name) != NULL);
    }
    dev.interlocks = MDX_INTERLOCK_DOOR_OPEN | MDX_INTERLOCK_TEMPERATURE;
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 50, why, sizeof(why)), MDX_EDENIED);
    CHECK(strstr(why, "door_open, temperature") != NULL);
    dev.interlocks = 0;
    CHECK_EQ_INT(mdx_command_check(&cfg, &dev, "speed_pct", 50, why, sizeof(why)), MDX_OK);
}

static void test_payload(void)
{
    struct mdx_command cmd;
    char buf[256];
    cJSON *root;
    int n;

    memset(&cmd, 0, sizeof(cmd));
    cmd.id = 42;
    snprintf(cmd.name, sizeof(cmd.name), "speed_pct");
    cmd.value = 80;
    cmd.created_ms = 1764230400123LL;
    n = mdx_command_payload(&cmd, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_STR(buf, "{\"command_id\":42,\"name\":\"speed_pct\",\"value\":80,\"ts\":1764230400123}");
    CHECK_EQ_INT(n, (long long)strlen(buf));

    /* A value that needs all its digits reads back exactly. */
    cmd.value = 0.1 + 0.2;
    n = mdx_command_payload(&cmd, buf, sizeof(buf));
    CHECK(n > 0);
    root = cJSON_Parse(buf);
    CHECK(root != NULL);
    if (root != NULL) {
        CHECK(cJSON_GetObjectItem(root, "value")->valuedouble == 0.1 + 0.2);
        cJSON_Delete(root);
    }
    /* Too small a buffer, a non-finite value, a bad name: -1. */
    CHECK_EQ_INT(mdx_command_payload(&cmd, buf, 10), -1);
    cmd.value = NAN;
    CHECK_EQ_INT(mdx_command_payload(&cmd, buf, sizeof(buf)), -1);
    cmd.value = 1;
    snprintf(cmd.name, sizeof(cmd.name), "a\"b");
    CHECK_EQ_INT(mdx_command_payload(&cmd, buf, sizeof(buf)), -1);
}

static void test_topic_and_states(void)
{
    char topic[200];

    mdx_command_topic("acme", "press-1", topic, sizeof(topic));
    CHECK_STR(topic, "modax/acme/press-1/commands");
    CHECK_STR(mdx_command_state_name(MDX_COMMAND_SENT), "sent");
    CHECK_STR(mdx_command_state_name(MDX_COMMAND_ACKED), "acked");
    CHECK_STR(mdx_command_state_name(MDX_COMMAND_REJECTED), "rejected");
    CHECK_STR(mdx_command_state_name(MDX_COMMAND_FAILED), "failed");
    CHECK_STR(mdx_command_state_name(99), "unknown");
    CHECK_STR(mdx_command_state_name(-1), "unknown");
}

static const struct mdx_test tests[] = {
    {"limits_valid", test_limits_valid},
    {"limits_invalid", test_limits_invalid},
    {"command_within_limits", test_command_within_limits},
    {"command_refused", test_command_refused},
    {"command_emergency_stop", test_command_emergency_stop},
    {"command_each_interlock", test_command_each_interlock},
    {"payload", test_payload},
    {"topic_and_states", test_topic_and_states},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
