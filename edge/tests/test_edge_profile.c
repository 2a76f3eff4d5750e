/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_profile.c - the connection profiles of the edge core: the
 * Azure SAS token against a published vector and against `openssl dgst
 * -mac HMAC` run from here (signed with the POSIX port's crypto), its
 * expiry and renewal time, the CONNECT identities and topics of each
 * profile, the retain rule of aws-iot, direct-method and cloud-to-device
 * topics (with and without $rid), and the agent over a fake port with the
 * azure-iot-hub and aws-iot profiles: where it publishes, what it retains,
 * how it answers a direct method.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "check.h"
#include "modax/status.h"
#include "port_posix.h"
#include "profile.h"

#define CAP_MSGS 128
/* The telemetry topic of m-0001 of tenant acme for message kind LEAF (a string literal). */
#define EVENTS(leaf)                                                                               \
    "devices/m-0001/messages/events/modax-tenant=acme&modax-leaf=" leaf                            \
    "&$.ct=application%2Fjson&$.ce=utf-8&modax-form=cloud"

/* ---- SAS token ---- */

static const struct mdx_edge_port crypto_port = {.hmac_sha256 = mdx_posix_hmac_sha256};
static const char ref_key_b64[] = "q+DKVojmMz014RjAwpNGZbAkdOocSVWMKPOccLfUmLE=";

/*
 * The example of Microsoft's C SDK test (hub myiothub, device my_device,
 * expiry 1578941692), signed with the key of docs/cloud-reference.md:
 * the token there was computed with OpenSSL and cross-checked in Python.
 */
static void sas_token_known_answer(void)
{
    uint8_t key[MDX_EDGE_KEY_MAX];
    char tok[MDX_EDGE_PASSWORD_MAX];
    int n = mdx_edge_unbase64(ref_key_b64, key, sizeof(key));

    CHECK_EQ_INT(n, 32);
    CHECK(mdx_edge_sas_token(&crypto_port, "myiothub", "my_device", key, (size_t)n, 1578941692,
                             tok, sizeof(tok)) > 0);
    CHECK_STR(tok, "SharedAccessSignature sr=myiothub.azure-devices.net%2Fdevices%2Fmy_device"
                   "&sig=Aa91XduWM2CE%2BvowhV%2FIDuTSR3%2FhJXo%2BoItFWxIw%2BHA%3D&se=1578941692");
    /* no crypto in the port: refused, not faked */
    {
        const struct mdx_edge_port none = {0};

        CHECK_EQ_INT(mdx_edge_sas_token(&none, "myiothub", "my_device", key, (size_t)n, 1,
                                        tok, sizeof(tok)),
                     MDX_EINVAL);
    }
    CHECK_EQ_INT(mdx_edge_sas_token(&crypto_port, "myiothub", "my_device", key, (size_t)n,
                                    1578941692, tok, 40),
                 MDX_EFULL);
}

/* Runs `openssl dgst` to sign 'msg' with hex key 'hexkey': the base64 MAC into 'out'. */
static int openssl_hmac_b64(const char *hexkey, const char *msg, char *out, size_t cap)
{
    char path[] = "/tmp/modax-sas-XXXXXX", cmd[512];
    FILE *f, *p;
    int fd = mkstemp(path), ok;

    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        return -1;
    }
    fputs(msg, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary < %s | openssl base64 -A",
             hexkey, path);
    p = popen(cmd, "r");
    ok = p != NULL && fgets(out, (int)cap, p) != NULL;
    if (p != NULL) {
        pclose(p);
    }
    remove(path);
    out[strcspn(out, "\r\n")] = '\0';
    return ok ? 0 : -1;
}

/* Another device, hub and expiry: the signature equals OpenSSL's command line's. */
static void sas_token_matches_openssl_cli(void)
{
    static const uint8_t key[20] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
                                    0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x10, 0x20, 0x30, 0x40};
    char tok[MDX_EDGE_PASSWORD_MAX], want[128], enc[200];
    char hexkey[41];
    int i;

    for (i = 0; i < 20; i++) {
        snprintf(hexkey + 2 * i, 3, "%02x", key[i]);
    }
    CHECK(mdx_edge_sas_token(&crypto_port, "plant-7", "m-0001", key, sizeof(key), 1700000000,
                             tok, sizeof(tok)) > 0);
    CHECK_EQ_INT(openssl_hmac_b64(hexkey,
                                  "plant-7.azure-devices.net%2Fdevices%2Fm-0001\n1700000000", want,
                                  sizeof(want)),
                 0);
    CHECK_EQ_INT((int)strlen(want), 44);
    CHECK(mdx_edge_percent(want, enc, sizeof(enc)) > 0);
    CHECK(strstr(tok, "SharedAccessSignature sr=plant-7.azure-devices.net%2Fdevices%2Fm-0001"
                      "&sig=") == tok);
    CHECK(strstr(tok, enc) != NULL);
    CHECK(strstr(tok, "&se=1700000000") != NULL);
}

/* Expiry one to two lifetimes ahead, renewal a fifth of a lifetime before it. */
static void sas_password_expiry_and_renewal(void)
{
    struct mdx_edge_link l = {.tenant = "acme", .hub = "myiothub", .sas_ttl_s = 3600};
    uint8_t key[MDX_EDGE_KEY_MAX];
    char a[MDX_EDGE_PASSWORD_MAX], b[MDX_EDGE_PASSWORD_MAX];
    int64_t renew = 0, renew2 = 0;
    int n = mdx_edge_unbase64(ref_key_b64, key, sizeof(key));

    CHECK(mdx_edge_profile_azure.password(&l, &crypto_port, "my_device", key, (size_t)n,
                                          1700000000, a, sizeof(a), &renew) > 0);
    /* 1700000000 / 3600 = 472222 (rest 800): expiry (472222 + 2) * 3600 */
    CHECK(strstr(a, "&se=1700006400") != NULL);
    CHECK_EQ_INT(renew, 1700006400 - 720);
    CHECK(renew > 1700000000 + 3600 * 4 / 5);
    /* later in the same period: the same token */
    CHECK(mdx_edge_profile_azure.password(&l, &crypto_port, "my_device", key, (size_t)n,
                                          1700002000, b, sizeof(b), &renew2) > 0);
    CHECK_STR(a, b);
    /* at the renewal time: a token that outlives it by more than a lifetime */
    CHECK(mdx_edge_profile_azure.password(&l, &crypto_port, "my_device", key, (size_t)n, renew,
                                          b, sizeof(b), &renew2) > 0);
    CHECK(strcmp(a, b) != 0);
    CHECK(strstr(b, "&se=1700010000") != NULL);
    CHECK(renew2 > renew);
    /* no hub: refused */
    l.hub = NULL;
    CHECK(mdx_edge_profile_azure.password(&l, &crypto_port, "my_device", key, (size_t)n,
                                          1700000000, a, sizeof(a), &renew) < 0);
}

static void base64_and_percent(void)
{
    uint8_t out[8];
    char s[16];

    CHECK_EQ_INT(mdx_edge_unbase64("Zm9vYg==", out, sizeof(out)), 4);
    CHECK(memcmp(out, "foob", 4) == 0);
    CHECK_EQ_INT(mdx_edge_unbase64("Zm9vYmE=", out, sizeof(out)), 5);
    CHECK_EQ_INT(mdx_edge_unbase64("Zm9vYmFy", out, sizeof(out)), 6);
    CHECK_EQ_INT(mdx_edge_unbase64("Zm9vYmF", out, sizeof(out)), -1);   /* length */
    CHECK_EQ_INT(mdx_edge_unbase64("Zm9v*mFy", out, sizeof(out)), -1);  /* character */
    CHECK_EQ_INT(mdx_edge_unbase64("Zm==YmFy", out, sizeof(out)), -1);  /* padding inside */
    CHECK_EQ_INT(mdx_edge_unbase64("Zm9vYmFyYmF6", out, sizeof(out)), -1); /* 9 bytes > 8 */
    CHECK_EQ_INT(mdx_edge_base64((const uint8_t *)"fooba", 5, s, sizeof(s)), 8);
    CHECK_STR(s, "Zm9vYmE=");
    CHECK_EQ_INT(mdx_edge_base64((const uint8_t *)"foobar", 6, s, 8), -1);
    CHECK_EQ_INT(mdx_edge_percent("a/b c+~", s, sizeof(s)), 13);
    CHECK_STR(s, "a%2Fb%20c%2B~");
    CHECK_EQ_INT(mdx_edge_percent("a/b c+~", s, 13), -1);
}

/* ---- identities, topics, inbound ---- */

static void identities_and_topics(void)
{
    struct mdx_edge_link l = {.tenant = "acme", .form = "cloud", .hub = "plant-7"};
    char id[64], user[MDX_EDGE_USER_MAX], t[MDX_EDGE_TOPIC_MAX];
    char names[64];

    CHECK(mdx_edge_profile_find("mqtt") == &mdx_edge_profile_mqtt);
    CHECK(mdx_edge_profile_find("aws-iot") == &mdx_edge_profile_aws_iot);
    CHECK(mdx_edge_profile_find("azure-iot-hub") == &mdx_edge_profile_azure);
    CHECK(mdx_edge_profile_find("azure") == NULL);
    mdx_edge_profile_names(names, sizeof(names));
    CHECK_STR(names, "mqtt|aws-iot|azure-iot-hub");

    CHECK_EQ_INT(mdx_edge_profile_mqtt.identity(&l, "m-0001", id, sizeof(id), user, sizeof(user)),
                 0);
    CHECK_STR(id, "m-0001");
    CHECK_STR(user, "m-0001");

    CHECK_EQ_INT(mdx_edge_profile_aws_iot.identity(&l, "m-0001", id, sizeof(id), user,
                                                   sizeof(user)),
                 0);
    CHECK_STR(id, "m-0001"); /* the thing name */
    CHECK_STR(user, "");
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.port, 8883);
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.alpn_port, 443);
    CHECK_STR(mdx_edge_profile_aws_iot.alpn, "x-amzn-mqtt-ca");
    CHECK(mdx_edge_profile_aws_iot.tls12);
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.topic(&l, "m-0001", "status", t, sizeof(t)), 0);
    CHECK_STR(t, "modax/acme/m-0001/status");
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.may_retain(&l), 0);
    l.retain_granted = 1;
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.may_retain(&l), 1);
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.subscription(&l, "m-0001", 0, t, sizeof(t)), 0);
    CHECK_STR(t, "modax/acme/m-0001/commands");
    CHECK_EQ_INT(mdx_edge_profile_aws_iot.subscription(&l, "m-0001", 1, t, sizeof(t)), -1);

    CHECK_EQ_INT(mdx_edge_profile_azure.identity(&l, "m-0001", id, sizeof(id), user,
                                                 sizeof(user)),
                 0);
    CHECK_STR(id, "m-0001");
    CHECK_STR(user, "plant-7.azure-devices.net/m-0001/?api-version=2021-04-12");
    CHECK_EQ_INT(mdx_edge_profile_azure.port, 8883);
    CHECK_EQ_INT(mdx_edge_profile_azure.may_retain(&l), 0);
    CHECK_EQ_INT(mdx_edge_profile_azure.topic(&l, "m-0001", "sensor_data", t, sizeof(t)), 0);
    CHECK_STR(t, EVENTS("sensor_data"));
    CHECK_EQ_INT(mdx_edge_profile_azure.subscription(&l, "m-0001", 0, t, sizeof(t)), 0);
    CHECK_STR(t, "$iothub/methods/POST/#");
    CHECK_EQ_INT(mdx_edge_profile_azure.subscription(&l, "m-0001", 1, t, sizeof(t)), 0);
    CHECK_STR(t, "devices/m-0001/messages/devicebound/#");
    CHECK_EQ_INT(mdx_edge_profile_azure.subscription(&l, "m-0001", 2, t, sizeof(t)), -1);
    l.hub = NULL;
    CHECK_EQ_INT(mdx_edge_profile_azure.identity(&l, "m-0001", id, sizeof(id), user,
                                                 sizeof(user)),
                 -1);
}

static void inbound_topics(void)
{
    struct mdx_edge_link l = {.tenant = "acme", .form = "cloud", .hub = "plant-7"};
    struct mdx_edge_inbound in;
    char t[MDX_EDGE_TOPIC_MAX];

    mdx_edge_profile_azure.inbound(&l, "$iothub/methods/POST/command/?$rid=1a", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_METHOD);
    CHECK_STR(in.method, "command");
    CHECK_STR(in.rid, "1a");
    CHECK_EQ_INT(mdx_edge_profile_azure.reply_topic(&in, 200, t, sizeof(t)), 0);
    CHECK_STR(t, "$iothub/methods/res/200/?$rid=1a");
    /* $rid not first among the properties */
    mdx_edge_profile_azure.inbound(&l, "$iothub/methods/POST/speed/?x=1&$rid=99", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_METHOD);
    CHECK_STR(in.rid, "99");
    /* a missing $rid: a method, but no reply topic */
    mdx_edge_profile_azure.inbound(&l, "$iothub/methods/POST/command/", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_METHOD);
    CHECK_STR(in.rid, "");
    CHECK_EQ_INT(mdx_edge_profile_azure.reply_topic(&in, 200, t, sizeof(t)), -1);
    mdx_edge_profile_azure.inbound(&l, "$iothub/methods/POST/command/?$ridx=5", &in);
    CHECK_STR(in.rid, "");
    mdx_edge_profile_azure.inbound(&l, "$iothub/methods/POST//?$rid=1", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_NONE);
    mdx_edge_profile_azure.inbound(&l, "devices/m-0002/messages/devicebound/%24.to=x", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_C2D);
    CHECK_EQ_INT((int)in.device_len, 6);
    CHECK(strncmp(in.device, "m-0002", 6) == 0);
    mdx_edge_profile_azure.inbound(&l, "devices/m-0002/messages/events/", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_NONE);
    mdx_edge_profile_mqtt.inbound(&l, "modax/acme/m-0002/commands", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_COMMAND);
    mdx_edge_profile_mqtt.inbound(&l, "modax/other/m-0002/commands", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_NONE);
    mdx_edge_profile_mqtt.inbound(&l, "modax/acme/m-0002/commands/x", &in);
    CHECK_EQ_INT(in.kind, MDX_EDGE_IN_NONE);
}

/* ---- the agent with a profile, over a fake port ---- */

struct msg {
    char topic[MDX_EDGE_TOPIC_MAX];
    char payload[512];
    int retain;
};

static struct fake {
    int64_t now;
    int connected;
    int nmsgs;
    struct msg msgs[CAP_MSGS];
} fk;

static int64_t f_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static int64_t f_wall(void *ctx)
{
    return 1764230400000LL + ((struct fake *)ctx)->now;
}

static int f_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                     int retain)
{
    struct fake *f = ctx;
    struct msg *m;

    (void)qos;
    if (!f->connected) {
        return MDX_ECONN;
    }
    if (f->nmsgs == CAP_MSGS) {
        return MDX_EBUSY;
    }
    m = &f->msgs[f->nmsgs++];
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    snprintf(m->payload, sizeof(m->payload), "%.*s", (int)len, (const char *)payload);
    m->retain = retain;
    return MDX_OK;
}

static int f_connected(void *ctx)
{
    return ((struct fake *)ctx)->connected;
}

static void f_sleep(void *ctx, uint32_t ms)
{
    ((struct fake *)ctx)->now += ms;
}

static int f_stop(void *ctx)
{
    (void)ctx;
    return 0;
}

static void f_log(void *ctx, int level, const char *line)
{
    (void)ctx;
    (void)level;
    (void)line;
}

static const struct mdx_edge_port port = {.ctx = &fk,
                                          .now_ms = f_now,
                                          .wall_ms = f_wall,
                                          .publish = f_publish,
                                          .connected = f_connected,
                                          .sleep_ms = f_sleep,
                                          .stop_requested = f_stop,
                                          .log = f_log,
                                          .hmac_sha256 = mdx_posix_hmac_sha256};

static struct mdx_edge_agent agent;
static struct mdx_edge_unit units[1];
static struct mdx_edge_reading slots[100];
static char buf[64 * 1024];

static void start(const struct mdx_edge_profile *pr, int retain_granted)
{
    struct mdx_edge_conf c;

    mdx_edge_conf_defaults(&c);
    c.tenant = "acme";
    c.machines = 1;
    c.ring_cap = 100;
    c.count = 3;
    c.rate_hz = 10;
    c.profile = pr;
    c.link.hub = "plant-7";
    c.link.retain_granted = retain_granted;
    memset(&fk, 0, sizeof(fk));
    fk.now = 1000;
    fk.connected = 1;
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
}

static void run_for(int64_t ms)
{
    int64_t end = fk.now + ms;
    uint32_t sleep_ms;

    while (fk.now < end) {
        mdx_edge_agent_step(&agent, &sleep_ms);
        fk.now += sleep_ms > 0 ? sleep_ms : 1;
    }
}

static const struct msg *find(const char *topic_prefix)
{
    int i;

    for (i = fk.nmsgs - 1; i >= 0; i--) {
        if (strncmp(fk.msgs[i].topic, topic_prefix, strlen(topic_prefix)) == 0) {
            return &fk.msgs[i];
        }
    }
    return NULL;
}

static int retained(void)
{
    int i, n = 0;

    for (i = 0; i < fk.nmsgs; i++) {
        n += fk.msgs[i].retain != 0;
    }
    return n;
}

static void method(const char *topic, const char *payload)
{
    mdx_edge_agent_command(&agent, 0, topic, payload, strlen(payload));
}

static void agent_on_azure(void)
{
    const struct msg *m;
    cJSON *j;
    char t[MDX_EDGE_TOPIC_MAX];
    int before;

    start(&mdx_edge_profile_azure, 0);
    run_for(1000);
    m = find(EVENTS("sensor_data"));
    CHECK(m != NULL);
    if (m != NULL) {
        j = cJSON_Parse(m->payload);
        CHECK(j != NULL);
        cJSON_Delete(j);
    }
    m = find(EVENTS("status"));
    CHECK(m != NULL && strcmp(m->payload, "online") == 0);
    CHECK(find("modax/") == NULL);
    CHECK_EQ_INT(retained(), 0); /* the hub stores no retained messages */

    CHECK_EQ_INT(mdx_edge_agent_subscription(&agent, 0, 0, t, sizeof(t)), 0);
    CHECK_STR(t, "$iothub/methods/POST/#");
    CHECK_EQ_INT(mdx_edge_agent_subscription(&agent, 0, 1, t, sizeof(t)), 0);
    CHECK_STR(t, "devices/m-0001/messages/devicebound/#");
    CHECK_EQ_INT(mdx_edge_agent_subscription(&agent, 0, 2, t, sizeof(t)), -1);

    /* a direct method: applied, answered 200 on its rid at once */
    method("$iothub/methods/POST/command/?$rid=7",
           "{\"command_id\":41,\"name\":\"speed_pct\",\"value\":60}");
    m = find("$iothub/methods/res/");
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_STR(m->topic, "$iothub/methods/res/200/?$rid=7");
        j = cJSON_Parse(m->payload);
        CHECK(j != NULL);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status")), "ok");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "device_id")), "m-0001");
        cJSON_Delete(j);
    }
    CHECK_EQ_INT(agent.stats.methods, 1);
    /* out of range: 400 with the reason */
    method("$iothub/methods/POST/command/?$rid=8",
           "{\"command_id\":42,\"name\":\"speed_pct\",\"value\":160}");
    m = find("$iothub/methods/res/");
    CHECK(m != NULL && strcmp(m->topic, "$iothub/methods/res/400/?$rid=8") == 0 &&
          strstr(m->payload, "\"rejected\"") != NULL);
    /* bad JSON without an id: still answered (the rid is the address), 400 */
    method("$iothub/methods/POST/command/?$rid=9", "{not json");
    m = find("$iothub/methods/res/");
    CHECK(m != NULL && strcmp(m->topic, "$iothub/methods/res/400/?$rid=9") == 0 &&
          strstr(m->payload, "malformed") != NULL);
    /* no $rid: nothing can be answered; ignored and counted */
    before = fk.nmsgs;
    method("$iothub/methods/POST/command/",
           "{\"command_id\":43,\"name\":\"speed_pct\",\"value\":50}");
    CHECK_EQ_INT(fk.nmsgs, before);
    CHECK_EQ_INT(agent.stats.commands_ignored, 1);
    CHECK_EQ_INT(agent.stats.methods, 3);
    /* a cloud-to-device message is a command, answered as telemetry of type command_ack */
    method("devices/m-0001/messages/devicebound/%24.mid=1",
           "{\"command_id\":44,\"name\":\"speed_pct\",\"value\":70}");
    run_for(100);
    m = find(EVENTS("command_ack"));
    CHECK(m != NULL && strstr(m->payload, "\"command_id\":44") != NULL);
    /* C2D for another device: ignored */
    method("devices/m-0009/messages/devicebound/",
           "{\"command_id\":45,\"name\":\"speed_pct\",\"value\":70}");
    CHECK_EQ_INT(agent.stats.commands_ignored, 2);
    mdx_edge_agent_fini(&agent);
    m = find(EVENTS("status"));
    CHECK(m != NULL && strcmp(m->payload, "offline") == 0 && !m->retain);
}

static void agent_on_aws_retain_rule(void)
{
    const struct msg *m;

    start(&mdx_edge_profile_aws_iot, 0);
    run_for(1000);
    m = find("modax/acme/m-0001/status");
    CHECK(m != NULL && strcmp(m->payload, "online") == 0);
    CHECK(find("modax/acme/m-0001/sensor_data") != NULL);
    CHECK_EQ_INT(retained(), 0); /* the rendered policy has no iot:RetainPublish */
    /* a method topic means nothing on AWS */
    method("$iothub/methods/POST/command/?$rid=7",
           "{\"command_id\":1,\"name\":\"speed_pct\",\"value\":6}");
    CHECK_EQ_INT(agent.stats.commands_ignored, 1);

    start(&mdx_edge_profile_aws_iot, 1);
    run_for(1000);
    m = find("modax/acme/m-0001/status");
    CHECK(m != NULL && m->retain);

    start(NULL, 0); /* mqtt: our broker keeps the retained status */
    run_for(1000);
    m = find("modax/acme/m-0001/status");
    CHECK(m != NULL && m->retain);
}

static const struct mdx_test tests[] = {
    {"SAS token: known answer (Microsoft's example, reference key)", sas_token_known_answer},
    {"SAS token: signature equals openssl dgst -mac HMAC", sas_token_matches_openssl_cli},
    {"SAS password: expiry ahead, same token per period, renewal", sas_password_expiry_and_renewal},
    {"base64 and percent-encoding, bad input", base64_and_percent},
    {"profiles: CONNECT identities, topics, retain rule", identities_and_topics},
    {"profiles: direct methods, $rid, cloud-to-device, commands topics", inbound_topics},
    {"agent on azure-iot-hub: events topics, direct methods answered, no $rid ignored",
     agent_on_azure},
    {"agent on aws-iot: nothing retained unless granted", agent_on_aws_retain_rule},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
