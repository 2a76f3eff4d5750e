/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ingest_retained.c - retained messages the ingest refuses, with a real
 * Mosquitto (issue 16, item 8): a forged or malformed status retained at the
 * broker is one dead letter, not one more each time the ingest subscribes
 * again (after every broker restart or reconnect).
 */
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "support/support.h"
#include "modax/clock.h"

static char out[1 << 16];

/* Publishes one retained QoS 1 message and waits for its acknowledgement. 0 on success. */
static int publish_retained(int port, const char *topic, const char *payload)
{
    struct mosquitto *m;
    int mid = 0, rc = -1;

    mosquitto_lib_init();
    m = mosquitto_new(NULL, true, NULL);
    if (m == NULL || mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_publish(m, &mid, topic, (int)strlen(payload), payload, 1, true) !=
            MOSQ_ERR_SUCCESS) {
        goto done;
    }
    /* The PUBACK arrives within a few loops; the broker holds it retained from then. */
    for (int i = 0; i < 100 && mosquitto_want_write(m); i++) {
        mosquitto_loop(m, 50, 1);
    }
    for (int i = 0; i < 10; i++) {
        mosquitto_loop(m, 50, 1);
    }
    mosquitto_disconnect(m);
    rc = 0;
done:
    mosquitto_destroy(m);
    return rc;
}

/* Lines of the serve log holding 'needle'. */
static int log_count(const struct serve *s, const char *needle)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(s->log, "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, needle) != NULL;
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

/* Dead letters stored for 'topic' (of the newest 100). */
static int dead_letters(const char *topic)
{
    int n = 0;

    if (modax_run(out, sizeof(out), "deadletters", "--limit", "100", NULL) != 0) {
        return -1;
    }
    for (const char *p = out; (p = strstr(p, topic)) != NULL; p += strlen(topic)) {
        n++;
    }
    return n;
}

#define FORGED "modax/acme/ghost/status"     /* no such device: a forged status */
#define MALFORMED "modax/acme/press-1/status" /* the device exists; the payload is broken */

static void refused_retained_status_is_one_dead_letter_across_resubscriptions(void)
{
    char dir[256], msg[256];
    struct broker b;
    struct serve s;
    struct pub *p;
    int port;

    tmp_make(dir, sizeof(dir), "retained");
    CHECK(broker_start(&b, dir, 0) == 0);
    port = b.port;
    modax_env(dir, port);
    setenv("MODAX_LOG_SUPPRESS_MS", "0", 1); /* every reconnect and repeat in the log */
    CHECK(modax_run(out, sizeof(out), "tenant", "add", "acme", NULL) == 0);
    CHECK(modax_run(out, sizeof(out), "device", "add", "acme", "press-1", NULL) == 0);
    CHECK(publish_retained(port, FORGED, "{\"state\":\"online\"}") == 0);
    CHECK(publish_retained(port, MALFORMED, "{\"state\":") == 0);
    CHECK(serve_start(&s, dir, port) == 0);
    CHECK_WAIT(dead_letters(FORGED) == 1 && dead_letters(MALFORMED) == 1, 10000);

    for (int round = 1; round <= 2; round++) {
        /* A clean stop keeps the retained messages; the ingest subscribes again after it. */
        broker_stop(&b, SIGTERM);
        CHECK(broker_start(&b, dir, port) == 0);
        CHECK_WAIT(log_count(&s, "\"msg\":\"connected\"") >= round + 1, 10000);
        /* The broker sends both again; either they are dropped as repeats or they show up
           as new dead letters. */
        CHECK_WAIT(log_count(&s, "retained message received again") >= 2 * round ||
                       dead_letters(FORGED) > 1 || dead_letters(MALFORMED) > 1,
                   10000);
        /* A later message proves whatever came before it was processed. */
        p = pub_connect(port, "test-pub-retained");
        CHECK(p != NULL);
        snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":%d}}",
                 (long long)(mdx_now_ms() - 1000 * round), round);
        CHECK(p != NULL && pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg)) == 0);
        CHECK(p != NULL && pub_wait_acked(p, 10000) == 0);
        CHECK_EQ_INT(wait_points(dir, "acme", round, 10000), round);
        pub_close(p);
        CHECK_EQ_INT(dead_letters(FORGED), 1);
        CHECK_EQ_INT(dead_letters(MALFORMED), 1);
        CHECK_EQ_INT(log_count(&s, "retained message received again"), 2 * round);
    }

    /* A new retained message on the same topic is a new message: refused again, once. */
    CHECK(publish_retained(port, FORGED, "{\"state\":\"offline\"}") == 0);
    CHECK_WAIT(dead_letters(FORGED) == 2, 10000);

    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    unsetenv("MODAX_LOG_SUPPRESS_MS");
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"issue 16: a refused retained status is one dead letter across resubscriptions",
     refused_retained_status_is_one_dead_letter_across_resubscriptions},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
