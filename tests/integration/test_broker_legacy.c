/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_legacy.c - issue 14 item 6: the original MODAX ESP32
 * firmware, unchanged, against real Mosquitto with the auth plugin and
 * `modax serve`. Its topics are modax/sensor/data, modax/sensor/safety
 * (the field form, device_id in the payload) and modax/control/commands.
 * With `modax tenant legacy-topics T on` the plugin moves a device's
 * publishes to modax/{tenant}/{device}/sensor_data|safety and delivers its
 * commands on the legacy topic: the readings are stored under the device's
 * own tenant and device. With the flag off they are refused; a payload
 * naming another device (sensor data or safety) is refused by the ingest
 * after the rewrite; a command reaches the subscribed legacy device and no
 * other.
 */
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modax/clock.h"
#include "support/broker_auth.h"
#include "support/support.h"

static char dir[512];
static struct broker br;
static struct serve sv;
static char secret_e1[128], secret_e2[128], secret_o1[128], secret_svc[128];

/* What the original firmware sends (see src/decode/decode_field.c and DESIGN.md):
 * milliseconds since boot as timestamp, its own id as device_id. */
#define FIELD_FORM(id)                                                                             \
    "{\"timestamp\":123456,\"device_id\":\"" id "\",\"motor_currents\":[5.1,5.0],"                 \
    "\"vibration\":{\"x\":1.0,\"y\":1.1,\"z\":0.9,\"magnitude\":1.8},\"temperatures\":[45.0]}"
#define SAFETY_FORM(id)                                                                            \
    "{\"timestamp\":123457,\"device_id\":\"" id "\",\"emergency_stop\":false,"                     \
    "\"door_closed\":true,\"overload_detected\":false,\"temperature_ok\":true}"
#define FIELD_POINTS 7        /* 2 currents, 4 vibration values, 1 temperature */

/* ---- a libmosquitto client, driven synchronously ---- */

struct cl {
    struct mosquitto *m;
    int connack;              /* -1 until CONNACK */
    int granted;              /* first granted QoS of the last SUBACK, -1 until then */
    int acked;                /* PUBACKs */
    int received;             /* messages */
    char last_topic[256];
    char last_payload[512];
};

static void on_connect(struct mosquitto *m, void *o, int rc)
{
    (void)m;
    ((struct cl *)o)->connack = rc;
}
static void on_subscribe(struct mosquitto *m, void *o, int mid, int n, const int *q)
{
    (void)m;
    (void)mid;
    ((struct cl *)o)->granted = n > 0 ? q[0] : -1;
}
static void on_publish(struct mosquitto *m, void *o, int mid)
{
    (void)m;
    (void)mid;
    ((struct cl *)o)->acked++;
}
static void on_message(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
    struct cl *c = o;
    (void)m;
    c->received++;
    snprintf(c->last_topic, sizeof(c->last_topic), "%s", msg->topic);
    snprintf(c->last_payload, sizeof(c->last_payload), "%.*s", msg->payloadlen,
             (const char *)msg->payload);
}

static void pump(struct cl *c, int ms)
{
    int64_t end = mdx_mono_us() / 1000 + ms;
    while (mdx_mono_us() / 1000 < end) {
        mosquitto_loop(c->m, 20, 1);
    }
}

/* Pumps 'c' until it has received 'n' messages or 'ms' passed; 1 if it has. */
static int pump_until(struct cl *c, int n, int ms)
{
    int64_t end = mdx_mono_us() / 1000 + ms;
    while (c->received < n && mdx_mono_us() / 1000 < end) {
        mosquitto_loop(c->m, 20, 1);
    }
    return c->received >= n;
}

/* Connects (clean session); returns the CONNACK code, -1 without one. */
static int cl_open(struct cl *c, const char *id, const char *user, const char *pw)
{
    memset(c, 0, sizeof(*c));
    c->connack = c->granted = -1;
    c->m = mosquitto_new(id, true, c);
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_subscribe_callback_set(c->m, on_subscribe);
    mosquitto_publish_callback_set(c->m, on_publish);
    mosquitto_message_callback_set(c->m, on_message);
    mosquitto_username_pw_set(c->m, user, pw);
    if (mosquitto_connect(c->m, "127.0.0.1", br.port, 30) != MOSQ_ERR_SUCCESS) {
        return -1;
    }
    for (int i = 0; i < 150 && c->connack < 0; i++) {
        mosquitto_loop(c->m, 20, 1);
    }
    return c->connack;
}

static void cl_close(struct cl *c)
{
    if (c->m != NULL) {
        mosquitto_disconnect(c->m);
        mosquitto_loop(c->m, 20, 1);
        mosquitto_destroy(c->m);
        c->m = NULL;
    }
}

static int cl_sub(struct cl *c, const char *filter)
{
    c->granted = -1;
    mosquitto_subscribe(c->m, NULL, filter, 1);
    for (int i = 0; i < 150 && c->granted < 0; i++) {
        mosquitto_loop(c->m, 20, 1);
    }
    return c->granted;
}

/* QoS 1 publish; 0 once PUBACKed (MQTT 3.1.1 acknowledges a denied publish too). */
static int cl_pub(struct cl *c, const char *topic, const char *payload)
{
    int before = c->acked;
    int rc = mosquitto_publish(c->m, NULL, topic, (int)strlen(payload), payload, 1, false);
    for (int i = 0; rc == 0 && i < 150 && c->acked == before; i++) {
        mosquitto_loop(c->m, 20, 1);
    }
    return rc == 0 && c->acked > before ? 0 : -1;
}

static void cl_unsub(struct cl *c, const char *filter)
{
    mosquitto_unsubscribe(c->m, NULL, filter);
    pump(c, 300);
}

/* ---- the store and the plugin, as seen from outside ---- */

/* Rows `modax query` prints for one sensor of one device in the last hour. */
static int rows_of(const char *tenant, const char *device, const char *sensor)
{
    char out[8192];
    int n = 0;

    if (modax_run(out, sizeof(out), "query", "--tenant", tenant, "--device", device, "--sensor",
                  sensor, "--from", "-1h", "--format", "csv", NULL) != 0) {
        return 0;
    }
    for (const char *p = out; (p = strchr(p, '\n')) != NULL; p++) {
        n++;
    }
    return n > 0 ? n - 1 : 0; /* the header */
}

/* Waits until the plugin's counter 'name' reaches 'want' (written each second). */
static long long stat_reaches(const char *name, long long want)
{
    long long v = -1;
    for (int i = 0; i < 100; i++) {
        v = broker_auth_stat(&br, name);
        if (v >= want) {
            break;
        }
        mdx_sleep_ms(100);
    }
    return v;
}

/* Waits until the plugin has begun and ended a cache refresh after this call. */
static void plugin_rereads_registry(void)
{
    long long r = stat_reaches("cache_refreshes", 1);
    mdx_sleep_ms(1100); /* the stats file is written once a second: r is at most that old */
    r = broker_auth_stat(&br, "cache_refreshes");
    CHECK(stat_reaches("cache_refreshes", r + 2) >= r + 2);
}

/* Waits (30 s at most) until the dead letters mention 'needle'; 1 if they do. */
static int dead_letter_has(const char *needle)
{
    char out[16384];

    for (int i = 0; i < 300; i++) {
        if (modax_run(out, sizeof(out), "deadletters", "--limit", "50", NULL) == 0 &&
            strstr(out, needle) != NULL) {
            return 1;
        }
        mdx_sleep_ms(100);
    }
    fprintf(stderr, "dead letters:\n%s\n", out);
    return 0;
}

/* ---- cases ---- */

static void firmware_readings_are_stored_under_the_devices_own_tenant_and_device(void)
{
    struct cl d, spy;
    long long before = broker_auth_stat(&br, "legacy_rewritten");

    CHECK_EQ_INT(cl_open(&spy, "modax-ingest-spy", "modax-ingest", secret_svc), 0);
    CHECK_EQ_INT(cl_sub(&spy, "modax/+/+/sensor_data"), 1);
    CHECK_EQ_INT(cl_sub(&spy, "modax/+/+/safety"), 1);
    CHECK_EQ_INT(cl_open(&d, "esp32_001", "esp32_001", secret_e1), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/data", FIELD_FORM("esp32_001")), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/safety", SAFETY_FORM("esp32_001")), 0);
    CHECK(pump_until(&spy, 2, 5000));
    CHECK_EQ_INT(spy.received, 2);
    CHECK_STR(spy.last_topic, "modax/plant/esp32_001/safety");
    CHECK(wait_points(dir, "plant", FIELD_POINTS, 30000) >= FIELD_POINTS);
    CHECK_EQ_INT(rows_of("plant", "esp32_001", "motor_current_0"), 1);
    CHECK_EQ_INT(rows_of("plant", "esp32_001", "vibration_magnitude"), 1);
    CHECK_EQ_INT(rows_of("plant", "esp32_001", "temperature_0"), 1);
    CHECK(stat_reaches("legacy_rewritten", before + 2) >= before + 2);
    cl_close(&d);
    cl_close(&spy);
}

static void with_legacy_topics_off_they_are_refused(void)
{
    struct cl d, spy;
    char out[4096];
    long long denied = broker_auth_stat(&br, "acl_denied_legacy");

    CHECK_EQ_INT(cl_open(&spy, "modax-ingest-spy", "modax-ingest", secret_svc), 0);
    CHECK_EQ_INT(cl_sub(&spy, "modax/+/+/sensor_data"), 1);
    CHECK_EQ_INT(cl_sub(&spy, "modax/+/+/safety"), 1);
    /* Tenant "other" never turned them on: the default is off. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "legacy-topics", "other", NULL), 0);
    CHECK(strstr(out, "legacy topics off") != NULL);
    CHECK_EQ_INT(cl_open(&d, "esp32_101", "esp32_101", secret_o1), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/data", FIELD_FORM("esp32_101")), 0); /* silent in 3.1.1 */
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/safety", SAFETY_FORM("esp32_101")), 0);
    CHECK_EQ_INT(cl_sub(&d, "modax/control/commands"), 0x80);
    cl_close(&d);
    /* Tenant "plant" turns them off: its device is refused from the next cache refresh on. */
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "legacy-topics", "plant", "off", NULL), 0);
    CHECK(strstr(out, "legacy topics off") != NULL);
    plugin_rereads_registry();
    CHECK_EQ_INT(cl_open(&d, "esp32_002", "esp32_002", secret_e2), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/data", FIELD_FORM("esp32_002")), 0);
    CHECK_EQ_INT(cl_sub(&d, "modax/control/commands"), 0x80);
    cl_close(&d);
    CHECK(stat_reaches("acl_denied_legacy", denied + 5) >= denied + 5);
    pump(&spy, 1000);
    CHECK_EQ_INT(spy.received, 0);  /* nothing reached any topic */
    CHECK_EQ_INT(rows_of("other", "esp32_101", "motor_current_0"), 0);
    CHECK_EQ_INT(rows_of("plant", "esp32_002", "motor_current_0"), 0);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "tenant", "legacy-topics", "plant", "on", NULL), 0);
    CHECK(strstr(out, "legacy topics on") != NULL);
    plugin_rereads_registry();
    cl_close(&spy);
}

static void a_legacy_payload_naming_another_device_is_refused(void)
{
    struct cl d;
    int before = rows_of("plant", "esp32_001", "motor_current_1");

    /* esp32_001 sends esp32_002's reading: the topic (its own) is the authority. */
    CHECK_EQ_INT(cl_open(&d, "esp32_001", "esp32_001", secret_e1), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/data", FIELD_FORM("esp32_002")), 0);
    CHECK_EQ_INT(cl_pub(&d, "modax/sensor/safety", SAFETY_FORM("esp32_002")), 0);
    cl_close(&d);
    CHECK(dead_letter_has("modax/plant/esp32_001/sensor_data"));
    CHECK(dead_letter_has("modax/plant/esp32_001/safety"));
    CHECK(dead_letter_has("device mismatch"));
    CHECK_EQ_INT(rows_of("plant", "esp32_002", "motor_current_1"), 0);
    CHECK_EQ_INT(rows_of("plant", "esp32_001", "motor_current_1"), before);
}

static void a_command_reaches_the_legacy_device_and_no_other(void)
{
    struct cl d1, d2, svc;
    const char *cmd = "{\"id\":7,\"name\":\"speed_pct\",\"value\":40}";
    long long before = broker_auth_stat(&br, "legacy_commands");

    CHECK_EQ_INT(cl_open(&d1, "esp32_001", "esp32_001", secret_e1), 0);
    CHECK_EQ_INT(cl_sub(&d1, "modax/control/commands"), 1);
    CHECK_EQ_INT(cl_open(&d2, "esp32_002", "esp32_002", secret_e2), 0);
    CHECK_EQ_INT(cl_sub(&d2, "modax/control/commands"), 1);
    CHECK_EQ_INT(cl_open(&svc, "modax-ingest-cmd", "modax-ingest", secret_svc), 0);
    CHECK_EQ_INT(cl_pub(&svc, "modax/plant/esp32_001/commands", cmd), 0);
    CHECK(pump_until(&d1, 1, 5000));
    CHECK_EQ_INT(d1.received, 1);
    CHECK_STR(d1.last_topic, "modax/control/commands");
    CHECK_STR(d1.last_payload, cmd);
    pump(&d2, 500);
    CHECK_EQ_INT(d2.received, 0);
    /* A legacy device cannot publish commands, nor receive another's by its topic. */
    CHECK_EQ_INT(cl_pub(&d2, "modax/control/commands", cmd), 0);
    CHECK_EQ_INT(cl_sub(&d2, "modax/plant/esp32_001/commands"), 0x80);
    pump(&d1, 500);
    CHECK_EQ_INT(d1.received, 1);
    /* Unsubscribed, it gets no more on the legacy topic. */
    cl_unsub(&d1, "modax/control/commands");
    CHECK_EQ_INT(cl_pub(&svc, "modax/plant/esp32_001/commands", cmd), 0);
    pump(&d1, 1000);
    CHECK_EQ_INT(d1.received, 1);
    CHECK(stat_reaches("legacy_commands", before + 1) == before + 1);
    cl_close(&svc);
    cl_close(&d2);
    cl_close(&d1);
}

static void first_line(char *out, size_t len, const char *text)
{
    snprintf(out, len, "%.*s", (int)strcspn(text, "\n"), text);
}

static int setup(void)
{
    char out[8192];
    int rc = 0;

    tmp_make(dir, sizeof(dir), "broker_legacy");
    br.port = free_port();
    modax_env(dir, br.port);
    rc |= modax_run(out, sizeof(out), "tenant", "add", "plant", NULL);
    rc |= modax_run(out, sizeof(out), "tenant", "add", "other", NULL);
    rc |= modax_run(out, sizeof(out), "device", "add", "plant", "esp32_001", "--secret", NULL);
    first_line(secret_e1, sizeof(secret_e1), out);
    rc |= modax_run(out, sizeof(out), "device", "add", "plant", "esp32_002", "--secret", NULL);
    first_line(secret_e2, sizeof(secret_e2), out);
    rc |= modax_run(out, sizeof(out), "device", "add", "other", "esp32_101", "--secret", NULL);
    first_line(secret_o1, sizeof(secret_o1), out);
    rc |= modax_run(out, sizeof(out), "identity", "add", "--service", "modax-ingest", NULL);
    first_line(secret_svc, sizeof(secret_svc), out);
    rc |= modax_run(out, sizeof(out), "tenant", "legacy-topics", "plant", "on", NULL);
    if (rc != 0 || strstr(out, "legacy topics on") == NULL) {
        fprintf(stderr, "setup: a modax command failed: %s\n", out);
        return -1;
    }
    if (broker_start_auth(&br, dir, br.port, NULL) != 0) {
        return -1;
    }
    setenv("MODAX_MQTT_USERNAME", "modax-ingest", 1);
    setenv("MODAX_MQTT_PASSWORD", secret_svc, 1);
    return serve_start(&sv, dir, br.port);
}

int main(void)
{
    static const struct mdx_test tests[] = {
        {"issue 14: firmware readings are stored under the device's own tenant and device",
         firmware_readings_are_stored_under_the_devices_own_tenant_and_device},
        {"issue 14: with legacy topics off they are refused",
         with_legacy_topics_off_they_are_refused},
        {"issue 14: a legacy payload naming another device is refused",
         a_legacy_payload_naming_another_device_is_refused},
        {"issue 14: a command reaches the legacy device and no other",
         a_command_reaches_the_legacy_device_and_no_other},
        {NULL, NULL}};
    int rc;

    mosquitto_lib_init();
    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        broker_stop(&br, 15);
        return 1;
    }
    rc = mdx_test_run(tests, 1, NULL);
    if (serve_stop(&sv, 15) != 0) {
        fprintf(stderr, "modax serve did not exit cleanly\n");
        rc = 1;
    }
    broker_stop(&br, 15);
    if (rc == 0) {
        tmp_remove(dir);
    }
    mosquitto_lib_cleanup();
    return rc;
}
