/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ingest_mqtt.c - the ingest end to end with a real Mosquitto:
 * normal stream, persistent session across a service stop, duplicates,
 * and bad input arriving over MQTT becoming dead letters while the
 * service keeps running.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support/support.h"
#include "modax/clock.h"

static char out[1 << 18];

static void cloud_msg(char *buf, size_t len, const char *device, int64_t ts, int seq)
{
    snprintf(buf, len,
             "{\"device_id\":\"%s\",\"timestamp\":%lld,\"sensor_data\":{\"current_mean\":%d.5,"
             "\"current_max\":6.1,\"vibration_x\":0.9,\"vibration_y\":1.1,\"vibration_z\":1.0,"
             "\"temperature_mean\":45.25}}",
             device, (long long)ts, seq % 10);
}

static int setup(struct broker *b, char *dir, size_t len, const char *name)
{
    tmp_make(dir, len, name);
    if (broker_start(b, dir, 0) != 0) {
        return -1;
    }
    modax_env(dir, b->port);
    if (modax_run(out, sizeof(out), "tenant", "add", "acme", NULL) != 0 ||
        modax_run(out, sizeof(out), "device", "add", "acme", "press-1", NULL) != 0) {
        return -1;
    }
    return 0;
}

static void stream_is_stored_and_queryable(void)
{
    char dir[256], topic[128], msg[512];
    struct broker b;
    struct serve s;
    struct pub *p;
    int64_t base = mdx_now_ms() - 3600 * 1000;

    CHECK(setup(&b, dir, sizeof(dir), "stream") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    p = pub_connect(b.port, "test-pub-stream");
    CHECK(p != NULL);
    snprintf(topic, sizeof(topic), "modax/acme/press-1/sensor_data");
    for (int i = 0; i < 2000; i++) {
        cloud_msg(msg, sizeof(msg), "press-1", base + i * 100, i);
        CHECK(pub_send(p, topic, msg, strlen(msg)) == 0);
    }
    CHECK(pub_wait_acked(p, 20000) == 0);
    CHECK_EQ_INT(wait_points(dir, "acme", 12000, 20000), 12000);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "query", "--tenant", "acme", "--device", "press-1",
                           "--sensor", "temperature_mean", "--from", "-2h", "--format", "csv",
                           NULL),
                 0);
    /* Header plus 2000 rows. */
    int lines = 0;
    for (char *c = out; *c; c++) {
        lines += *c == '\n';
    }
    CHECK_EQ_INT(lines, 2001);
    CHECK(strstr(out, ",45.25,0") != NULL);
    pub_close(p);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static void persistent_session_delivers_what_arrived_while_down(void)
{
    char dir[256], msg[512];
    struct broker b;
    struct serve s;
    struct pub *p;
    int64_t base = mdx_now_ms() - 3600 * 1000;

    CHECK(setup(&b, dir, sizeof(dir), "session") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0); /* creates the session and subscriptions */
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    p = pub_connect(b.port, "test-pub-session");
    for (int i = 0; i < 500; i++) {
        cloud_msg(msg, sizeof(msg), "press-1", base + i, i);
        pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    }
    CHECK(pub_wait_acked(p, 10000) == 0);
    CHECK_EQ_INT(store_points(dir, "acme"), 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    CHECK_EQ_INT(wait_points(dir, "acme", 3000, 20000), 3000);
    pub_close(p);
    serve_stop(&s, SIGTERM);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static void duplicate_delivery_is_stored_once(void)
{
    char dir[256], msg[512];
    struct broker b;
    struct serve s;
    struct pub *p;
    int64_t ts = mdx_now_ms() - 1000;

    CHECK(setup(&b, dir, sizeof(dir), "dup") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    p = pub_connect(b.port, "test-pub-dup");
    cloud_msg(msg, sizeof(msg), "press-1", ts, 1);
    for (int i = 0; i < 5; i++) {
        pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    }
    CHECK(pub_wait_acked(p, 10000) == 0);
    /* A later message proves the earlier ones were processed. */
    cloud_msg(msg, sizeof(msg), "press-1", ts + 1, 2);
    pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    CHECK_EQ_INT(wait_points(dir, "acme", 12, 10000), 12);
    /* Stopped, the service has committed all it received: a late duplicate would count now. */
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(store_points(dir, "acme"), 12);
    pub_close(p);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

/* Each bad message over MQTT becomes a dead letter with its reason; good ones still arrive. */
static void bad_input_over_mqtt_becomes_dead_letters(void)
{
    static const struct {
        const char *topic;
        const char *payload;
        const char *reason;
    } cases[] = {
        {"modax/acme/press-1/sensor_data", "{\"sensor_data\":", "malformed json"},
        {"modax/acme/press-1/sensor_data", "", "empty payload"},
        {"modax/nobody/press-1/sensor_data", "{\"sensor_data\":{\"a\":1}}", "unknown tenant"},
        {"modax/acme/ghost/sensor_data", "{\"sensor_data\":{\"a\":1}}", "unknown device"},
        {"modax/acme/press-1/sensor_data",
         "{\"device_id\":\"press-2\",\"sensor_data\":{\"a\":1}}", "device mismatch"},
        {"modax/acme/press-1/sensor_data", "{\"sensor_data\":{\"a\":\"hot\"}}", "wrong type"},
        {"modax/acme/press-1/sensor_data", "{\"sensor_data\":{\"a\":1e999}}", "non-finite number"},
        {"modax/acme/pr.ss/sensor_data", "{\"sensor_data\":{\"a\":1}}", "bad topic segment"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    char dir[256], msg[512];
    struct broker b;
    struct serve s;
    struct pub *p;
    char *big;

    CHECK(setup(&b, dir, sizeof(dir), "bad") == 0);
    CHECK(serve_start(&s, dir, b.port) == 0);
    p = pub_connect(b.port, "test-pub-bad");
    for (size_t i = 0; i < n; i++) {
        pub_send(p, cases[i].topic, cases[i].payload, strlen(cases[i].payload));
    }
    /* 10 MB payload: refused by size, its head kept. */
    big = malloc(10u << 20);
    memset(big, ' ', 10u << 20);
    big[0] = '{';
    pub_send(p, "modax/acme/press-1/sensor_data", big, 10u << 20);
    free(big);
    cloud_msg(msg, sizeof(msg), "press-1", mdx_now_ms() - 5000, 3);
    pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    CHECK(pub_wait_acked(p, 20000) == 0);
    CHECK_EQ_INT(wait_points(dir, "acme", 6, 10000), 6);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "deadletters", "--counts", NULL), 0);
    for (size_t i = 0; i < n; i++) {
        if (strstr(out, cases[i].reason) == NULL) {
            fprintf(stderr, "  missing reason: %s\n", cases[i].reason);
            CHECK(strstr(out, cases[i].reason) != NULL);
        }
    }
    CHECK(strstr(out, "payload too large") != NULL);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "deadletters", "--limit", "50", NULL), 0);
    CHECK(strstr(out, "modax/acme/ghost/sensor_data") != NULL);
    CHECK(strstr(out, "(10485760 bytes)") != NULL);
    /* Still running and ingesting. */
    cloud_msg(msg, sizeof(msg), "press-1", mdx_now_ms() - 4000, 4);
    pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    CHECK_EQ_INT(wait_points(dir, "acme", 12, 10000), 12);
    pub_close(p);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

/*
 * Two workers in one shared-subscription group split the stream; all of it is stored once.
 * QoS 1 is at least once: the broker may deliver a message again (to either worker), so
 * the deliveries may exceed what was published, but each point is written once and every
 * extra delivery is recognised as a duplicate.
 */
static void shared_subscription_workers_split_the_load(void)
{
    char dir[256], msg[512], log[600];
    struct broker b;
    struct serve w1, w2;
    struct pub *p;
    int64_t base = mdx_now_ms() - 3600 * 1000;
    int64_t received[2], points[2], dups[2];

    CHECK(setup(&b, dir, sizeof(dir), "shared") == 0);
    setenv("MODAX_MQTT_SHARED_GROUP", "ingest", 1);
    setenv("MODAX_MQTT_PROTOCOL", "5", 1);
    CHECK(serve_start_worker(&w1, dir, b.port, "w1") == 0);
    CHECK(serve_start_worker(&w2, dir, b.port, "w2") == 0);
    p = pub_connect(b.port, "test-pub-shared");
    for (int i = 0; i < 2000; i++) {
        cloud_msg(msg, sizeof(msg), "press-1", base + i, i);
        pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg));
    }
    CHECK(pub_wait_acked(p, 20000) == 0);
    CHECK_EQ_INT(wait_points(dir, "acme", 12000, 20000), 12000);
    CHECK_EQ_INT(serve_stop(&w1, SIGTERM), 0);
    CHECK_EQ_INT(serve_stop(&w2, SIGTERM), 0);
    CHECK_EQ_INT(store_points(dir, "acme"), 12000);
    for (int w = 0; w < 2; w++) {
        snprintf(log, sizeof(log), "%s/w%d.log", dir, w + 1);
        received[w] = log_last_stat(log, "received");
        points[w] = log_last_stat(log, "points");
        dups[w] = log_last_stat(log, "duplicates");
    }
    printf("  shared: worker1=%lld worker2=%lld (points %lld + %lld, duplicates %lld + %lld)\n",
           (long long)received[0], (long long)received[1], (long long)points[0],
           (long long)points[1], (long long)dups[0], (long long)dups[1]);
    CHECK(received[0] > 0 && received[1] > 0);
    CHECK(received[0] + received[1] >= 2000);
    CHECK_EQ_INT(points[0] + points[1], 12000);
    CHECK_EQ_INT(points[0] + points[1] + dups[0] + dups[1], 6 * (received[0] + received[1]));
    if (received[0] + received[1] != 2000) {
        static const char *const logs[] = {"mosquitto.log", "w1.log", "w2.log"};
        for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
            snprintf(log, sizeof(log), "%s/%s", dir, logs[i]);
            log_print_disconnects(log);
        }
    }
    unsetenv("MODAX_MQTT_SHARED_GROUP");
    unsetenv("MODAX_MQTT_PROTOCOL");
    pub_close(p);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"shared-subscription workers split the load, each point stored once",
     shared_subscription_workers_split_the_load},
    {"stream over MQTT is stored and queryable", stream_is_stored_and_queryable},
    {"persistent session delivers what arrived while the service was down",
     persistent_session_delivers_what_arrived_while_down},
    {"duplicate delivery of the same message is stored once", duplicate_delivery_is_stored_once},
    {"bad input over MQTT becomes dead letters and the service keeps running",
     bad_input_over_mqtt_becomes_dead_letters},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
