/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_commands.c - the edge agent answers commands over a real
 * Mosquitto: modax-edge runs two machines (m-0002 with its emergency stop
 * pressed), a libmosquitto client publishes commands QoS 1 on
 * modax/plant/{device}/commands and reads the answers on .../command_ack:
 * "ok" for a valid speed_pct, "rejected" with a detail for a value out of
 * range, an unknown name, a malformed payload with a readable id and any
 * command during the emergency stop; nothing for a payload without an id.
 * The agent's summary line counts each kind.
 */
#include <fcntl.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cJSON.h>

#include "check.h"
#include "modax/clock.h"
#include "support/support.h"

#define MAX_MSGS 256
#define WAIT_MS 20000 /* a failure bound, not a timing assertion */

struct inbox {
    pthread_mutex_t lock;
    int n;
    char topic[MAX_MSGS][128];
    char payload[MAX_MSGS][512];
};

static struct inbox box = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m)
{
    (void)mosq;
    (void)obj;
    pthread_mutex_lock(&box.lock);
    if (box.n < MAX_MSGS && m->payloadlen < 512) {
        snprintf(box.topic[box.n], sizeof(box.topic[0]), "%s", m->topic);
        memcpy(box.payload[box.n], m->payload, (size_t)m->payloadlen);
        box.payload[box.n][m->payloadlen] = '\0';
        box.n++;
    }
    pthread_mutex_unlock(&box.lock);
}

/* Index of the first message from 'from' on 'topic' whose payload contains 'needle'; -1 if none by WAIT_MS. */
static int wait_message(int from, const char *topic, const char *needle)
{
    int64_t deadline = mdx_mono_us() + (int64_t)WAIT_MS * 1000;

    do {
        pthread_mutex_lock(&box.lock);
        for (int i = from; i < box.n; i++) {
            if (strcmp(box.topic[i], topic) == 0 && strstr(box.payload[i], needle) != NULL) {
                pthread_mutex_unlock(&box.lock);
                return i;
            }
        }
        pthread_mutex_unlock(&box.lock);
        mdx_sleep_ms(10);
    } while (mdx_mono_us() < deadline);
    return -1;
}

static int count_on(const char *topic)
{
    int n = 0;

    pthread_mutex_lock(&box.lock);
    for (int i = 0; i < box.n; i++) {
        n += strcmp(box.topic[i], topic) == 0;
    }
    pthread_mutex_unlock(&box.lock);
    return n;
}

static void publish(struct mosquitto *c, const char *device, const char *payload)
{
    char topic[128];

    snprintf(topic, sizeof(topic), "modax/plant/%s/commands", device);
    CHECK_EQ_INT(mosquitto_publish(c, NULL, topic, (int)strlen(payload), payload, 1, false),
                 MOSQ_ERR_SUCCESS);
}

/* Checks the ack at index 'i': device, id, status and (if any) a piece of the detail. */
static void check_ack(int i, const char *device, int id, const char *status, const char *detail)
{
    cJSON *root;
    const char *d;

    CHECK(i >= 0);
    if (i < 0) {
        return;
    }
    root = cJSON_Parse(box.payload[i]);
    CHECK(root != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "device_id")), device);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "command_id")) &&
          cJSON_GetObjectItemCaseSensitive(root, "command_id")->valuedouble == id);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "status")), status);
    d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "detail"));
    CHECK(detail == NULL ? d == NULL : (d != NULL && strstr(d, detail) != NULL));
    cJSON_Delete(root);
}

static pid_t edge_start(const char *dir, const char *port, char *log, size_t loglen)
{
    const char *bin = getenv("MODAX_BIN_DIR");
    char exe[700];
    pid_t pid;

    snprintf(exe, sizeof(exe), "%s/edge/modax-edge", bin != NULL ? bin : ".");
    snprintf(log, loglen, "%s/edge.log", dir);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(exe, exe, "--port", port, "--tenant", "plant", "--machines", "2", "--rate", "10",
              "--fault", "m-0002:estop@0", "--client-id", "edge-commands-test", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void commands_are_applied_or_rejected_with_acks(void)
{
    char dir[256], port[16], log[700], summary[4096] = "";
    struct broker b;
    struct mosquitto *c;
    pid_t edge;
    int status = 0, i, mark;
    FILE *f;

    tmp_make(dir, sizeof(dir), "edgecmd");
    CHECK(broker_start(&b, dir, 0) == 0);
    snprintf(port, sizeof(port), "%d", b.port);

    mosquitto_lib_init();
    c = mosquitto_new("edge-commands-operator", true, NULL);
    CHECK(c != NULL);
    mosquitto_message_callback_set(c, on_message);
    CHECK_EQ_INT(mosquitto_connect(c, "127.0.0.1", b.port, 30), MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_subscribe(c, NULL, "modax/plant/+/command_ack", 1), MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_subscribe(c, NULL, "modax/plant/+/safety", 1), MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_subscribe(c, NULL, "modax/plant/+/status", 1), MOSQ_ERR_SUCCESS);
    CHECK_EQ_INT(mosquitto_loop_start(c), MOSQ_ERR_SUCCESS);

    edge = edge_start(dir, port, log, sizeof(log));
    CHECK(edge > 0);
    /* "online" goes out after the agent subscribed on this connection; the emergency stop
     * of m-0002 is reported once its first reading was made. */
    CHECK(wait_message(0, "modax/plant/m-0001/status", "online") >= 0);
    CHECK(wait_message(0, "modax/plant/m-0002/safety", "\"emergency_stop\":true") >= 0);

    mark = 0;
    publish(c, "m-0001", "{\"command_id\":42,\"name\":\"speed_pct\",\"value\":80,\"ts\":1764230400123}");
    i = wait_message(mark, "modax/plant/m-0001/command_ack", "\"command_id\":42");
    check_ack(i, "m-0001", 42, "ok", NULL);

    publish(c, "m-0001", "{\"command_id\":43,\"name\":\"speed_pct\",\"value\":150,\"ts\":1}");
    i = wait_message(mark, "modax/plant/m-0001/command_ack", "\"command_id\":43");
    check_ack(i, "m-0001", 43, "rejected", "0 to 100");

    publish(c, "m-0001", "{\"command_id\":44,\"name\":\"feed_rate\",\"value\":1,\"ts\":1}");
    i = wait_message(mark, "modax/plant/m-0001/command_ack", "\"command_id\":44");
    check_ack(i, "m-0001", 44, "rejected", "unknown command");

    publish(c, "m-0001", "{\"command_id\":45,\"name\":\"speed_pct\",\"value\":\"fast\"}");
    i = wait_message(mark, "modax/plant/m-0001/command_ack", "\"command_id\":45");
    check_ack(i, "m-0001", 45, "rejected", "malformed");

    /* Not a finite number: JSON has no NaN; rejected, answered on its id. */
    publish(c, "m-0001", "{\"command_id\":48,\"name\":\"speed_pct\",\"value\":NaN}");
    i = wait_message(mark, "modax/plant/m-0001/command_ack", "\"command_id\":48");
    check_ack(i, "m-0001", 48, "rejected", "malformed");

    /* No id: ignored. The next command's ack comes after it (one connection, in order). */
    publish(c, "m-0001", "{\"name\":\"speed_pct\",\"value\":50");
    publish(c, "m-0001", "{\"command_id\":46,\"name\":\"speed_pct\",\"value\":0,\"ts\":1}");
    i = wait_message(mark, "modax/plant/m-0001/command_ack", "\"command_id\":46");
    check_ack(i, "m-0001", 46, "ok", NULL);
    CHECK_EQ_INT(count_on("modax/plant/m-0001/command_ack"), 6);

    publish(c, "m-0002", "{\"command_id\":47,\"name\":\"speed_pct\",\"value\":50,\"ts\":1}");
    i = wait_message(mark, "modax/plant/m-0002/command_ack", "\"command_id\":47");
    check_ack(i, "m-0002", 47, "rejected", "emergency stop");

    CHECK_EQ_INT(kill(edge, SIGTERM), 0);
    CHECK_EQ_INT(waitpid(edge, &status, 0), edge);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    f = fopen(log, "r");
    CHECK(f != NULL);
    if (f != NULL) {
        char line[1024];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strstr(line, "published=") != NULL) {
                snprintf(summary, sizeof(summary), "%s", line);
            }
        }
        fclose(f);
    }
    CHECK(strstr(summary, "commands=8 applied=2 rejected=5 ignored=1") != NULL);
    if (strstr(summary, "commands=8") == NULL) {
        fprintf(stderr, "  summary: %s\n", summary);
    }

    mosquitto_disconnect(c);
    mosquitto_loop_stop(c, false);
    mosquitto_destroy(c);
    mosquitto_lib_cleanup();
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"modax-edge answers commands: ok, out of range, unknown, malformed, NaN, emergency stop",
     commands_are_applied_or_rejected_with_acks},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
