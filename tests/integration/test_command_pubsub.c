/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_command_pubsub.c - commands on the pubsub path, through a real
 * `modax serve` (ingest + api) and Mosquitto, to Google's Pub/Sub emulator
 * (command.path = pubsub, $PUBSUB_EMULATOR_HOST): an accepted command
 * arrives on a subscription of the commands topic with the tenant, device,
 * command id and topic in its attributes and the command's JSON as data;
 * the device's command_ack then acks it as on MQTT. With the emulator gone
 * the command fails with the reason (503). Without an emulator installed
 * the test fails, as test_ingest_pubsub does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/encode.h"
#include "check.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/api.h"
#include "support/pubsub_emu.h"

#define PROJECT "modax-test"
#define TOPIC "plant-commands"
#define SUB "device-bridge"

static struct api_fixture fx;
static int fx_up;
static struct pubsub_emu emu;
static char emu_dir[512];

/* The fixture's API: status and parsed answer (api_call_json). */
static long call(const char *method, const char *path, const char *key, const char *body,
                 cJSON **out)
{
    return api_call_json(&fx, method, path, key, body, out);
}

static const char *str_of(const cJSON *o, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));

    return s != NULL ? s : "";
}

static void start(void)
{
    struct mdx_store *st;

    fx_up = api_fixture_start(&fx, "command-pubsub", NULL) == 0;
    CHECK(fx_up);
    if (!fx_up) {
        return;
    }
    st = test_store_open(fx.dir);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", NULL,
                                                 "{\"speed_pct\":{\"min\":0,\"max\":100}}"),
                     MDX_OK);
        mdx_store_close(st);
    }
}

/* The first message on the subscription (pulled until 20 s pass); caller frees; NULL if none. */
static cJSON *pull_one(void)
{
    static char out[65536];
    cJSON *msg = NULL;

    for (int i = 0; i < 400 && msg == NULL; i++) {
        cJSON *resp;
        if (pubsub_emu_call(&emu, "POST", PROJECT, "subscriptions/" SUB ":pull",
                            "{\"maxMessages\":10,\"returnImmediately\":true}", out,
                            sizeof(out)) != 200) {
            mdx_sleep_ms(50);
            continue;
        }
        resp = cJSON_Parse(out);
        msg = cJSON_DetachItemFromArray(cJSON_GetObjectItemCaseSensitive(resp, "receivedMessages"),
                                        0);
        cJSON_Delete(resp);
        if (msg == NULL) {
            mdx_sleep_ms(50);
        }
    }
    return msg;
}

static int command_state_is(int64_t id, const char *state)
{
    char path[96];
    cJSON *body;
    int same;

    snprintf(path, sizeof(path), "/api/v1/commands/%" PRId64, id);
    same = call("GET", path, fx.viewer, NULL, &body) == 200 &&
           strcmp(str_of(body, "state"), state) == 0;
    cJSON_Delete(body);
    return same;
}

static void command_arrives_with_its_attributes(void)
{
    cJSON *resp, *rm, *data_json = NULL;
    const cJSON *msg, *attrs;
    unsigned char *data = NULL;
    size_t len = 0;
    char id_text[32], ack[160];
    int64_t id;
    struct pub *p;

    if (!fx_up) {
        return;
    }
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":61}", &resp),
                 202);
    CHECK_STR(str_of(resp, "state"), "sent");
    id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(resp, "id"));
    cJSON_Delete(resp);
    CHECK(id > 0);
    rm = pull_one();
    CHECK(rm != NULL);
    if (rm == NULL) {
        return;
    }
    msg = cJSON_GetObjectItemCaseSensitive(rm, "message");
    attrs = cJSON_GetObjectItemCaseSensitive(msg, "attributes");
    snprintf(id_text, sizeof(id_text), "%" PRId64, id);
    CHECK_STR(str_of(attrs, "tenant"), "acme");
    CHECK_STR(str_of(attrs, "deviceId"), "press-1");
    CHECK_STR(str_of(attrs, "commandId"), id_text);
    CHECK_STR(str_of(attrs, "topic"), "modax/acme/press-1/commands");
    CHECK_EQ_INT(mdx_base64_decode(str_of(msg, "data"), &data, &len), MDX_OK);
    if (data != NULL) {
        data_json = cJSON_ParseWithLength((const char *)data, len);
    }
    CHECK_STR(str_of(data_json, "name"), "speed_pct");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(data_json, "value")) == 61.0);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(data_json, "command_id")) ==
          (double)id);
    cJSON_Delete(data_json);
    mdx_free(data);
    cJSON_Delete(rm);
    /* The device's answer comes back as on MQTT and acks it. */
    snprintf(ack, sizeof(ack),
             "{\"device_id\":\"press-1\",\"command_id\":%" PRId64 ",\"status\":\"ok\"}", id);
    p = pub_connect(fx.broker.port, "test-command-pubsub-device");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_EQ_INT(pub_send(p, "modax/acme/press-1/command_ack", ack, strlen(ack)), 0);
        CHECK_EQ_INT(pub_wait_acked(p, 10000), 0);
        pub_close(p);
    }
    CHECK_WAIT(command_state_is(id, "acked"), 20000);
}

static void emulator_gone_fails_the_command(void)
{
    cJSON *resp, *list;
    const cJSON *c;

    if (!fx_up) {
        return;
    }
    pubsub_emu_stop(&emu);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":5}", &resp),
                 503);
    CHECK(strstr(str_of(cJSON_GetObjectItemCaseSensitive(resp, "error"), "message"),
                 "not published: Pub/Sub unreachable") != NULL);
    cJSON_Delete(resp);
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands?limit=1", fx.viewer, NULL, &list),
                 200);
    c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "commands"), 0);
    CHECK_STR(str_of(c, "state"), "failed");
    CHECK(strstr(str_of(c, "detail"), "Pub/Sub unreachable") != NULL);
    cJSON_Delete(list);
}

static void stop(void)
{
    if (fx_up) {
        CHECK_EQ_INT(api_fixture_stop(&fx), 0);
        fx_up = 0;
    }
}

int main(void)
{
    static const struct mdx_test tests[] = {
        {"start", start},
        {"command_arrives_with_its_attributes", command_arrives_with_its_attributes},
        {"emulator_gone_fails_the_command", emulator_gone_fails_the_command},
        {"stop", stop},
        {NULL, NULL}};
    char out[4096];
    int rc;

    tmp_make(emu_dir, sizeof(emu_dir), "command-pubsub-emu");
    rc = pubsub_emu_start(&emu, emu_dir);
    if (rc == 1) {
        fprintf(stderr, "no Pub/Sub emulator (install the Google Cloud CLI's "
                        "pubsub-emulator component, or set MODAX_PUBSUB_EMULATOR): failing, "
                        "not skipping\n");
        printf("0 passed, 1 failed\n");
        tmp_remove(emu_dir);
        return 1;
    }
    if (rc != 0 ||
        pubsub_emu_call(&emu, "PUT", PROJECT, "topics/" TOPIC, "{}", out, sizeof(out)) != 200 ||
        pubsub_emu_call(&emu, "PUT", PROJECT, "subscriptions/" SUB,
                        "{\"topic\":\"projects/" PROJECT "/topics/" TOPIC "\"}", out,
                        sizeof(out)) != 200) {
        fprintf(stderr, "emulator setup failed: %s\n", out);
        pubsub_emu_stop(&emu);
        return 1;
    }
    setenv("PUBSUB_EMULATOR_HOST", emu.host, 1);
    setenv("MODAX_COMMAND_PATH", "pubsub", 1);
    setenv("MODAX_COMMAND_PUBSUB_PROJECT", PROJECT, 1);
    setenv("MODAX_COMMAND_PUBSUB_TOPIC", TOPIC, 1);
    setenv("MODAX_COMMAND_PUBSUB_TIMEOUT_MS", "3000", 1);
    rc = mdx_test_run(tests, 1, NULL);
    if (emu.pid > 0) {
        pubsub_emu_stop(&emu);
    }
    if (rc == 0) {
        tmp_remove(emu_dir);
    }
    return rc;
}
