/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_commands.c - commands over the HTTP API against a real
 * `modax serve` (ingest + api) and Mosquitto, with a subscriber standing
 * in for the device on modax/acme/press-1/commands: refused commands
 * (beyond limits, bad bodies, viewer, other tenant, emergency stop)
 * publish nothing; a command within limits reaches the device, whose
 * command_ack sets its state; with the broker down the command fails (503).
 *
 * "Nothing published" is shown by order, not by waiting: the broker keeps
 * one publisher's QoS 1 messages on a topic in order, so when the first
 * message the device receives after refused commands is the accepted one,
 * none of the refused ones was sent.
 */
#include <inttypes.h>
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/api.h"

#define CMD_TOPIC "modax/acme/press-1/commands"
#define ACK_TOPIC "modax/acme/press-1/command_ack"
#define SAFETY_TOPIC "modax/acme/press-1/safety"
#define MSGS_MAX 64

static struct api_fixture fx;
static int fx_up;

/* ---- the device's side: a subscriber that keeps what it receives ---- */

static struct {
    struct mosquitto *mosq;
    pthread_mutex_t lock;
    int subscribed;
    int n;                        /* messages received */
    int taken;                    /* messages the test has looked at */
    char msg[MSGS_MAX][512];
} dev;

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    if (rc == 0) {
        mosquitto_subscribe(m, NULL, CMD_TOPIC, 1);
    }
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *qos)
{
    (void)m;
    (void)obj;
    (void)mid;
    (void)n;
    (void)qos;
    pthread_mutex_lock(&dev.lock);
    dev.subscribed = 1;
    pthread_mutex_unlock(&dev.lock);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    (void)obj;
    pthread_mutex_lock(&dev.lock);
    if (dev.n < MSGS_MAX) {
        snprintf(dev.msg[dev.n], sizeof(dev.msg[0]), "%.*s", msg->payloadlen,
                 (const char *)msg->payload);
    }
    dev.n++;
    pthread_mutex_unlock(&dev.lock);
}

static int device_start(int port)
{
    int ok = 0;

    mosquitto_lib_init();
    pthread_mutex_init(&dev.lock, NULL);
    dev.mosq = mosquitto_new("test-press-1", true, NULL);
    if (dev.mosq == NULL) {
        return -1;
    }
    mosquitto_connect_callback_set(dev.mosq, on_connect);
    mosquitto_subscribe_callback_set(dev.mosq, on_subscribe);
    mosquitto_message_callback_set(dev.mosq, on_message);
    if (mosquitto_connect(dev.mosq, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(dev.mosq) != MOSQ_ERR_SUCCESS) {
        return -1;
    }
    for (int i = 0; i < 200 && !ok; i++) {
        pthread_mutex_lock(&dev.lock);
        ok = dev.subscribed;
        pthread_mutex_unlock(&dev.lock);
        if (!ok) {
            mdx_sleep_ms(50);
        }
    }
    return ok ? 0 : -1;
}

static void device_stop(void)
{
    if (dev.mosq != NULL) {
        mosquitto_disconnect(dev.mosq);
        mosquitto_loop_stop(dev.mosq, false);
        mosquitto_destroy(dev.mosq);
        dev.mosq = NULL;
    }
}

/* The next command the device received (waits up to 20 s); NULL if none came. */
static cJSON *device_next(void)
{
    cJSON *out = NULL;

    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&dev.lock);
        if (dev.taken < dev.n && dev.taken < MSGS_MAX) {
            out = cJSON_Parse(dev.msg[dev.taken]);
            dev.taken++;
            pthread_mutex_unlock(&dev.lock);
            return out != NULL ? out : cJSON_CreateNull();
        }
        pthread_mutex_unlock(&dev.lock);
        mdx_sleep_ms(50);
    }
    return NULL;
}

/* ---- HTTP ---- */

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

static double num_of(const cJSON *o, const char *name)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(n) ? n->valuedouble : -1e300;
}

static const char *error_code(const cJSON *body)
{
    return str_of(cJSON_GetObjectItemCaseSensitive(body, "error"), "code");
}

/* POSTs a command as 'key'; its id on 202, else 0 (the status into *status). */
static int64_t send_command(const char *key, const char *body, long *status)
{
    cJSON *resp;
    int64_t id = 0;

    *status = call("POST", "/api/v1/devices/press-1/commands", key, body, &resp);
    if (*status == 202) {
        id = (int64_t)num_of(resp, "id");
        CHECK_STR(str_of(resp, "state"), "sent");
        CHECK_STR(str_of(resp, "device"), "press-1");
    }
    cJSON_Delete(resp);
    return id;
}

/* Polls GET /api/v1/commands/ID until its state is 'state' (20 s); the last body (caller frees). */
static cJSON *wait_state(int64_t id, const char *state)
{
    char path[128];
    cJSON *body = NULL;

    snprintf(path, sizeof(path), "/api/v1/commands/%" PRId64, id);
    for (int i = 0; i < 400; i++) {
        cJSON_Delete(body);
        if (call("GET", path, fx.viewer, NULL, &body) == 200 &&
            strcmp(str_of(body, "state"), state) == 0) {
            return body;
        }
        mdx_sleep_ms(50);
    }
    return body;
}

/* Waits until the store says press-1's emergency stop is 'on' (20 s); 0 if so. */
static int wait_estop(int on)
{
    for (int i = 0; i < 400; i++) {
        struct mdx_store *st = test_store_open(fx.dir);
        struct mdx_device_info info;
        int rc = st != NULL ? mdx_store_device_get(st, "acme", "press-1", &info) : MDX_ESTORE;

        mdx_store_close(st);
        if (rc == MDX_OK && info.emergency_stop == on) {
            return 0;
        }
        mdx_sleep_ms(50);
    }
    return -1;
}

/* Waits until the store says press-1's interlocks are 'want' (20 s); 0 if so. */
static int wait_interlocks(unsigned want)
{
    for (int i = 0; i < 400; i++) {
        struct mdx_store *st = test_store_open(fx.dir);
        struct mdx_device_info info;
        int rc = st != NULL ? mdx_store_device_get(st, "acme", "press-1", &info) : MDX_ESTORE;

        mdx_store_close(st);
        if (rc == MDX_OK && info.interlocks == want) {
            return 0;
        }
        mdx_sleep_ms(50);
    }
    return -1;
}

static void publish(const char *topic, const char *payload)
{
    struct pub *p = pub_connect(fx.broker.port, "test-api-commands-pub");

    CHECK(p != NULL);
    if (p == NULL) {
        return;
    }
    CHECK_EQ_INT(pub_send(p, topic, payload, strlen(payload)), 0);
    CHECK_EQ_INT(pub_wait_acked(p, 10000), 0);
    pub_close(p);
}

/* ---- tests ---- */

static void start(void)
{
    struct mdx_store *st;

    setenv("MODAX_API_RATE_LIMIT_RPS", "100000", 1);
    setenv("MODAX_API_RATE_LIMIT_BURST", "100000", 1);
    fx_up = api_fixture_start(&fx, "api-commands", NULL) == 0;
    CHECK(fx_up);
    if (!fx_up) {
        return;
    }
    st = test_store_open(fx.dir);
    CHECK(st != NULL);
    if (st != NULL) {
        CHECK_EQ_INT(mdx_store_device_config_set(st, "acme", "press-1", NULL,
                                                 "{\"speed_pct\":{\"min\":0,\"max\":100},"
                                                 "\"temp_c\":{\"min\":-10,\"max\":80.5}}"),
                     MDX_OK);
        mdx_store_close(st);
    }
    CHECK_EQ_INT(device_start(fx.broker.port), 0);
}

static void refused_commands_publish_nothing(void)
{
    static const struct {
        const char *body;
        long status;
        const char *code;
    } cases[] = {
        {"{\"name\":\"speed_pct\",\"value\":150}", 422, "unprocessable"},
        {"{\"name\":\"speed_pct\",\"value\":-0.001}", 422, "unprocessable"},
        {"{\"name\":\"temp_c\",\"value\":80.6}", 422, "unprocessable"},
        {"{\"name\":\"pressure_bar\",\"value\":1}", 422, "unprocessable"}, /* no limits */
        {"{\"name\":\"x'; DROP TABLE commands;--\",\"value\":1}", 422, "unprocessable"},
        {"{\"name\":\"speed_pct\",\"value\":\"abc\"}", 400, "bad_request"},
        {"{\"name\":\"speed_pct\",\"value\":NaN}", 400, "bad_request"},
        {"{\"name\":\"speed_pct\",\"value\":1e999}", 400, "bad_request"},
        {"{\"name\":\"speed_pct\",\"value\":null}", 400, "bad_request"},
        {"{\"name\":\"speed_pct\"}", 400, "bad_request"},
        {"{\"value\":50}", 400, "bad_request"},
        {"{\"name\":\"speed_pct\",\"value\":50,\"force\":true}", 400, "bad_request"},
        {"[1,2]", 400, "bad_request"},
        {"{\"name\":", 400, "bad_request"},
    };
    cJSON *body;
    long status;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        status = call("POST", "/api/v1/devices/press-1/commands", fx.operator_, cases[i].body,
                      &body);
        if (status != cases[i].status) {
            fprintf(stderr, "  %s -> %ld\n", cases[i].body, status);
        }
        CHECK_EQ_INT(status, cases[i].status);
        CHECK_STR(error_code(body), cases[i].code);
        cJSON_Delete(body);
    }
    /* No body at all. */
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_, NULL, &body),
                 400);
    cJSON_Delete(body);
    /* A viewer may not send commands; no key is 401; another tenant's device is not found. */
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.viewer,
                      "{\"name\":\"speed_pct\",\"value\":50}", &body),
                 403);
    CHECK_STR(error_code(body), "forbidden");
    cJSON_Delete(body);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", NULL,
                      "{\"name\":\"speed_pct\",\"value\":50}", &body),
                 401);
    cJSON_Delete(body);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.globex_admin,
                      "{\"name\":\"speed_pct\",\"value\":50}", &body),
                 404);
    cJSON_Delete(body);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/nope/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":50}", &body),
                 404);
    cJSON_Delete(body);
    /* None of those reached the store either. */
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands", fx.viewer, NULL, &body), 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "commands")), 0);
    cJSON_Delete(body);
}

static void command_within_limits_is_acked(void)
{
    char ack[256], path[128];
    cJSON *msg, *body;
    int64_t id;
    long status;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    id = send_command(fx.operator_, "{\"name\":\"speed_pct\",\"value\":80}", &status);
    CHECK_EQ_INT(status, 202);
    CHECK(id > 0);
    /* The device's first message is this command: the refused ones sent nothing. */
    msg = device_next();
    CHECK(msg != NULL);
    CHECK_EQ_INT((int64_t)num_of(msg, "command_id"), id);
    CHECK_STR(str_of(msg, "name"), "speed_pct");
    CHECK(num_of(msg, "value") == 80.0);
    CHECK(num_of(msg, "ts") > 0);
    cJSON_Delete(msg);

    /* The device acknowledges; the ingest stores the new state. */
    snprintf(ack, sizeof(ack), "{\"device_id\":\"press-1\",\"command_id\":%" PRId64
                               ",\"status\":\"ok\"}", id);
    publish(ACK_TOPIC, ack);
    body = wait_state(id, "acked");
    CHECK_STR(str_of(body, "state"), "acked");
    CHECK_STR(str_of(body, "name"), "speed_pct");
    CHECK(num_of(body, "value") == 80.0);
    CHECK(num_of(body, "updated_ms") >= num_of(body, "created_ms"));
    cJSON_Delete(body);

    /* Another tenant cannot read it; the device's list shows it newest first. */
    snprintf(path, sizeof(path), "/api/v1/commands/%" PRId64, id);
    CHECK_EQ_INT(call("GET", path, fx.globex_admin, NULL, &body), 404);
    cJSON_Delete(body);
    CHECK_EQ_INT(call("GET", "/api/v1/commands/999999", fx.viewer, NULL, &body), 404);
    cJSON_Delete(body);

    /* A second command the device refuses. */
    int64_t id2 = send_command(fx.admin, "{\"name\":\"temp_c\",\"value\":-10}", &status);
    CHECK_EQ_INT(status, 202);
    msg = device_next();
    CHECK_EQ_INT((int64_t)num_of(msg, "command_id"), id2);
    CHECK(num_of(msg, "value") == -10.0);
    cJSON_Delete(msg);
    snprintf(ack, sizeof(ack), "{\"device_id\":\"press-1\",\"command_id\":%" PRId64
                               ",\"status\":\"rejected\",\"detail\":\"interlock open\"}", id2);
    publish(ACK_TOPIC, ack);
    body = wait_state(id2, "rejected");
    CHECK_STR(str_of(body, "state"), "rejected");
    CHECK_STR(str_of(body, "detail"), "interlock open");
    cJSON_Delete(body);

    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands?limit=10", fx.viewer, NULL, &body),
                 200);
    {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "commands");
        CHECK_EQ_INT(cJSON_GetArraySize(list), 2);
        CHECK_EQ_INT((int64_t)num_of(cJSON_GetArrayItem(list, 0), "id"), id2);
        CHECK_EQ_INT((int64_t)num_of(cJSON_GetArrayItem(list, 1), "id"), id);
    }
    cJSON_Delete(body);
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands?limit=1", fx.viewer, NULL, &body),
                 200);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "commands")), 1);
    cJSON_Delete(body);
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands?limit=abc", fx.viewer, NULL, &body),
                 400);
    cJSON_Delete(body);
}

static void emergency_stop_refuses_commands(void)
{
    char safety[256];
    cJSON *body, *msg;
    long status;
    int64_t id;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    snprintf(safety, sizeof(safety),
             "{\"device_id\":\"press-1\",\"emergency_stop\":true,\"door_closed\":true,"
             "\"overload_detected\":false,\"temperature_ok\":true,\"timestamp\":%" PRId64 "}",
             mdx_now_ms());
    publish(SAFETY_TOPIC, safety);
    CHECK_EQ_INT(wait_estop(1), 0);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":10}", &body),
                 409);
    CHECK_STR(error_code(body), "conflict");
    cJSON_Delete(body);

    /* Released: commands go again, and the first one the device sees is the new one. */
    snprintf(safety, sizeof(safety),
             "{\"device_id\":\"press-1\",\"emergency_stop\":false,\"timestamp\":%" PRId64 "}",
             mdx_now_ms() + 1);
    publish(SAFETY_TOPIC, safety);
    CHECK_EQ_INT(wait_estop(0), 0);
    id = send_command(fx.operator_, "{\"name\":\"speed_pct\",\"value\":12.5}", &status);
    CHECK_EQ_INT(status, 202);
    msg = device_next();
    CHECK_EQ_INT((int64_t)num_of(msg, "command_id"), id);
    CHECK(num_of(msg, "value") == 12.5);
    cJSON_Delete(msg);
}

/*
 * Issue 14 item 4: door open, overload and temperature not OK each refuse a
 * command (409, the interlock named) until the device reports them cleared;
 * a safety message speaks only for the keys it carries.
 */
static void every_interlock_refuses_commands(void)
{
    static const struct {
        const char *set, *clear, *name;
        unsigned bit;
    } locks[] = {
        {"\"door_closed\":false", "\"door_closed\":true", "door_open", MDX_INTERLOCK_DOOR_OPEN},
        {"\"overload_detected\":true", "\"overload_detected\":false", "overload",
         MDX_INTERLOCK_OVERLOAD},
        {"\"temperature_ok\":false", "\"temperature_ok\":true", "temperature",
         MDX_INTERLOCK_TEMPERATURE},
    };
    char safety[256], path[64];
    cJSON *body;
    long status;
    int64_t id, t = mdx_now_ms() + 1000;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++) {
        snprintf(safety, sizeof(safety), "{\"device_id\":\"press-1\",%s,\"timestamp\":%" PRId64 "}",
                 locks[i].set, t++);
        publish(SAFETY_TOPIC, safety);
        CHECK_EQ_INT(wait_interlocks(locks[i].bit), 0);
        CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                          "{\"name\":\"speed_pct\",\"value\":10}", &body),
                     409);
        CHECK_STR(error_code(body), "conflict");
        cJSON_Delete(body);
        /* the device resource says which */
        snprintf(path, sizeof(path), "/api/v1/devices/press-1");
        CHECK_EQ_INT(call("GET", path, fx.operator_, NULL, &body), 200);
        const cJSON *held = cJSON_GetObjectItemCaseSensitive(body, "interlocks");
        CHECK(cJSON_GetArraySize(held) == 1 &&
              strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(held, 0)), locks[i].name) == 0);
        cJSON_Delete(body);
        snprintf(safety, sizeof(safety), "{\"device_id\":\"press-1\",%s,\"timestamp\":%" PRId64 "}",
                 locks[i].clear, t++);
        publish(SAFETY_TOPIC, safety);
        CHECK_EQ_INT(wait_interlocks(0), 0);
    }
    id = send_command(fx.operator_, "{\"name\":\"speed_pct\",\"value\":11}", &status);
    CHECK_EQ_INT(status, 202);
    CHECK(id > 0);
    cJSON_Delete(device_next());
}

static void broker_down_fails_the_command(void)
{
    cJSON *body = NULL;
    long status = 0;
    int port;

    if (!fx_up) {
        CHECK(fx_up);
        return;
    }
    port = fx.broker.port;
    broker_stop(&fx.broker, SIGKILL);
    /* Wait until the server knows the broker is gone. */
    for (int i = 0; i < 400; i++) {
        cJSON_Delete(body);
        status = call("GET", "/readyz", NULL, NULL, &body);
        if (status == 503 && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(body, "broker"))) {
            break;
        }
        mdx_sleep_ms(50);
    }
    cJSON_Delete(body);
    CHECK_EQ_INT(status, 503);
    CHECK_EQ_INT(call("POST", "/api/v1/devices/press-1/commands", fx.operator_,
                      "{\"name\":\"speed_pct\",\"value\":20}", &body),
                 503);
    CHECK_STR(error_code(body), "unavailable");
    cJSON_Delete(body);
    /* It was stored, as failed. */
    CHECK_EQ_INT(call("GET", "/api/v1/devices/press-1/commands?limit=1", fx.viewer, NULL, &body),
                 200);
    {
        const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "commands"), 0);
        CHECK_STR(str_of(c, "state"), "failed");
        CHECK(num_of(c, "value") == 20.0);
    }
    cJSON_Delete(body);
    CHECK_EQ_INT(broker_start(&fx.broker, fx.broker.dir, port), 0);
}

static void stop(void)
{
    device_stop();
    if (fx_up) {
        CHECK_EQ_INT(api_fixture_stop(&fx), 0); /* a clean exit: no sanitizer report */
        fx_up = 0;
    }
    mosquitto_lib_cleanup();
}

static const struct mdx_test tests[] = {
    {"start", start},
    {"refused_commands_publish_nothing", refused_commands_publish_nothing},
    {"command_within_limits_is_acked", command_within_limits_is_acked},
    {"emergency_stop_refuses_commands", emergency_stop_refuses_commands},
    {"every_interlock_refuses_commands", every_interlock_refuses_commands},
    {"broker_down_fails_the_command", broker_down_fails_the_command},
    {"stop", stop},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
