/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_command.c - commands on the device side: the bounded parser
 * (well-formed and malformed payloads, with and without a readable id),
 * the command_ack payload, the machine's reaction to speed_pct, and the
 * agent's interlock (range, unknown name, emergency stop) over a fake
 * port that records what was published.
 */
#include <cJSON.h>
#include <string.h>

#include "agent.h"
#include "check.h"
#include "command.h"
#include "modax/status.h"

#define WALL0 1764230400000LL
#define CAP_MSGS 256

/* ---- parser ---- */

static int parse(const char *s, struct mdx_edge_command *c, const char **why)
{
    return mdx_edge_command_parse(s, strlen(s), c, why);
}

static void parses_the_wire_format(void)
{
    struct mdx_edge_command c;
    const char *why = "x";

    CHECK_EQ_INT(parse("{\"command_id\":42,\"name\":\"speed_pct\",\"value\":80,\"ts\":1764230400123}",
                       &c, &why),
                 MDX_OK);
    CHECK(why == NULL);
    CHECK_EQ_INT(c.id, 42);
    CHECK(c.has_id);
    CHECK_STR(c.name, "speed_pct");
    CHECK(c.value == 80.0);
    CHECK_EQ_INT(c.ts_ms, 1764230400123LL);

    /* Any order, whitespace, fractions and exponents, ts optional. */
    CHECK_EQ_INT(parse(" \n{ \"value\" : -1.5e-3 ,\t\"name\":\"a-B_9\", \"command_id\" : 7 }\r\n",
                       &c, &why),
                 MDX_OK);
    CHECK_EQ_INT(c.id, 7);
    CHECK_STR(c.name, "a-B_9");
    CHECK(c.value == -1.5e-3);
    CHECK_EQ_INT(c.ts_ms, 0);

    /* 64-character name, largest 18-digit id. */
    CHECK_EQ_INT(parse("{\"command_id\":999999999999999999,\"name\":"
                       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                       "\"value\":0}",
                       &c, &why),
                 MDX_OK);
    CHECK_EQ_INT(c.id, 999999999999999999LL);
    CHECK_EQ_INT((long long)strlen(c.name), 64);
}

/* Well-formed JSON that is not a valid command: rejected, id still read. */
static void bad_member_keeps_the_id(void)
{
    static const char *const cases[] = {
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":\"80\"}",
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":1e999}",
        "{\"command_id\":5,\"name\":\"speed pct\",\"value\":1}",
        "{\"command_id\":5,\"name\":\"\",\"value\":1}",
        "{\"command_id\":5,\"name\":\"sp\\u0065ed\",\"value\":1}",
        "{\"command_id\":5,\"name\":7,\"value\":1}",
        "{\"command_id\":5,\"name\":\"speed_pct\"}",
        "{\"command_id\":5,\"value\":1}",
        "{\"extra\":{\"a\":[1,{\"b\":null}],\"c\":true},\"command_id\":5,\"name\":\"x\",\"value\":1}",
        "{\"command_id\":5,\"name\":\"x\",\"value\":1,\"ts\":1.5}",
        "{\"command_id\":5,\"name\":\"x\",\"value\":1,\"value\":2}",
        "{\"command_id\":5,\"name\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"value\":0}",
        "{\"command_id\":5,\"name\":\"x\",\"value\":[1]}",
        /* not finite: JSON has no NaN or Infinity, and 1e999 overflows (above) */
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":NaN}",
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":nan}",
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":Infinity}",
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":-Infinity}",
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":\"NaN\"}",
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":-1e999}",
        /* too long: a number literal over MDX_EDGE_CMD_NUMBER_MAX (65 digits) */
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":"
        "10000000000000000000000000000000000000000000000000000000000000000}",
        /* truncated after the id: the id was read */
        "{\"command_id\":5,\"name\":\"speed_pct\",\"value\":",
        NULL,
    };
    struct mdx_edge_command c;
    const char *why;
    int i;

    for (i = 0; cases[i] != NULL; i++) {
        why = NULL;
        int rc = parse(cases[i], &c, &why);
        if (rc != MDX_EINVAL || !c.has_id || c.id != 5 || why == NULL) {
            fprintf(stderr, "  case %d: %s\n", i, cases[i]);
        }
        CHECK_EQ_INT(rc, MDX_EINVAL);
        CHECK(c.has_id);
        CHECK_EQ_INT(c.id, 5);
        CHECK(why != NULL && why[0] != '\0');
    }
}

/* No usable id: the device can only ignore it. */
static void no_readable_id(void)
{
    static const char *const cases[] = {
        "",
        "   ",
        "null",
        "[1,2]",
        "{",
        "{}",
        "{\"name\":\"speed_pct\",\"value\":1}",
        "{\"command_id\":-1,\"name\":\"x\",\"value\":1}",
        "{\"command_id\":1.5,\"name\":\"x\",\"value\":1}",
        "{\"command_id\":\"5\",\"name\":\"x\",\"value\":1}",
        "{\"command_id\":1234567890123456789,\"name\":\"x\",\"value\":1}",
        "{\"command_id\":5,\"command_id\":6,\"name\":\"x\",\"value\":1}",
        "{\"command_id\":05,\"name\":\"x\",\"value\":1}",
        "{\"name\":\"x\",\"value\":01,\"command_id\":5}",  /* bad syntax before the id */
        "{\"name\":\"x\\q\",\"command_id\":5,\"value\":1}", /* bad escape */
        "{\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]],\"command_id\":5}",
        "{\"x\":tru,\"command_id\":5}",
        "{\"a\" 1,\"command_id\":5}",
        NULL,
    };
    struct mdx_edge_command c;
    const char *why;
    int i;

    for (i = 0; cases[i] != NULL; i++) {
        why = NULL;
        int rc = parse(cases[i], &c, &why);
        if (rc != MDX_EINVAL || c.has_id) {
            fprintf(stderr, "  case %d: %s\n", i, cases[i]);
        }
        CHECK_EQ_INT(rc, MDX_EINVAL);
        CHECK(!c.has_id);
        CHECK(why != NULL);
    }
}

static void trailing_data_and_embedded_nul(void)
{
    static const char two[] = "{\"command_id\":5,\"name\":\"x\",\"value\":1}{}";
    static const char nul[] = "{\"command_id\":5,\"name\":\"x\",\"value\":1}\0garbage";
    struct mdx_edge_command c;
    const char *why;

    CHECK_EQ_INT(mdx_edge_command_parse(two, sizeof(two) - 1, &c, &why), MDX_EINVAL);
    CHECK(c.has_id);
    CHECK_EQ_INT(mdx_edge_command_parse(nul, sizeof(nul) - 1, &c, &why), MDX_EINVAL);
    /* Only 'len' bytes are read: a prefix of a valid payload is incomplete. */
    CHECK_EQ_INT(mdx_edge_command_parse(two, 20, &c, &why), MDX_EINVAL);
    CHECK_EQ_INT(mdx_edge_command_parse(two, sizeof(two) - 3, &c, &why), MDX_OK);
    CHECK_EQ_INT(mdx_edge_command_parse(NULL, 0, &c, &why), MDX_EINVAL);

    /* A number literal of MDX_EDGE_CMD_NUMBER_MAX characters is the longest read. */
    CHECK_EQ_INT(parse("{\"command_id\":5,\"name\":\"x\",\"value\":"
                       "1000000000000000000000000000000000000000000000000000000000000000}",
                       &c, &why),
                 MDX_OK);
    CHECK(c.value == 1e63);
    /* A huge payload (a 200 KiB name): one bounded pass, rejected with its id. */
    {
        static char big[200 * 1024 + 64];
        size_t n = (size_t)snprintf(big, sizeof(big), "{\"command_id\":9,\"name\":\"");

        memset(big + n, 'a', 200 * 1024);
        n += 200 * 1024;
        n += (size_t)snprintf(big + n, sizeof(big) - n, "\",\"value\":1}");
        why = NULL;
        CHECK_EQ_INT(mdx_edge_command_parse(big, n, &c, &why), MDX_EINVAL);
        CHECK(c.has_id && c.id == 9);
        CHECK(why != NULL);
    }
}

/* ---- the ack payload ---- */

static void ack_payloads(void)
{
    char buf[256];
    cJSON *root;
    int n;

    n = mdx_payload_encode_ack("m-0001", 42, NULL, buf, sizeof(buf));
    CHECK(n > 0);
    CHECK_STR(buf, "{\"device_id\":\"m-0001\",\"command_id\":42,\"status\":\"ok\"}");
    n = mdx_payload_encode_ack("m-0001", 43, "bad \"value\"\n\\", buf, sizeof(buf));
    CHECK(n > 0);
    root = cJSON_Parse(buf);
    CHECK(root != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "status")), "rejected");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "detail")),
              "bad \"value\"\n\\");
    CHECK(cJSON_GetObjectItemCaseSensitive(root, "command_id")->valuedouble == 43);
    cJSON_Delete(root);
    CHECK_EQ_INT(mdx_payload_encode_ack("m-0001", 42, "x", buf, 20), MDX_EFULL);
}

/* ---- the machine ---- */

static double mean_current(struct mdx_sim_machine *m, int seconds)
{
    struct mdx_edge_reading r;
    double sum = 0;
    int i;

    for (i = 0; i < seconds; i++) {
        mdx_sim_step(m, 1.0, &r);
        sum += r.current_mean;
    }
    return sum / seconds;
}

static void speed_scales_the_load(void)
{
    struct mdx_sim_machine full, slow;
    const char *why = NULL;
    double a, b;

    mdx_sim_init(&full, 3, 1, 1e9);
    mdx_sim_init(&slow, 3, 1, 1e9);
    CHECK_EQ_INT(mdx_sim_command(&slow, "speed_pct", 0, &why), 0);
    a = mean_current(&full, 300);
    b = mean_current(&slow, 300);
    /* Standing still, the motor draws its base current only: clearly below the cycle's mean. */
    CHECK(b < a - 0.5);
    CHECK(b > 3.0);
    CHECK_EQ_INT(mdx_sim_command(&slow, "speed_pct", 101, &why), -1);
    CHECK(why != NULL && strstr(why, "0 to 100") != NULL);
    CHECK_EQ_INT(mdx_sim_command(&slow, "speed_pct", -0.5, &why), -1);
    CHECK_EQ_INT(mdx_sim_command(&slow, "feed_rate", 5, &why), -1);
    CHECK_STR(why, "unknown command");
    CHECK_EQ_INT(mdx_sim_command(&slow, "speed_pct", 100, &why), 0);
    CHECK(mean_current(&slow, 300) > b + 0.5);
}

static void estop_fault_stops_the_press(void)
{
    struct mdx_sim_machine m;

    mdx_sim_init(&m, 3, 1, 1e9);
    mdx_sim_inject(&m, MDX_SIM_FAULT_ESTOP, 100);
    mdx_sim_repair(&m, MDX_SIM_FAULT_ESTOP, 200);
    CHECK(!mdx_sim_fault_active(&m, MDX_SIM_FAULT_ESTOP));
    mean_current(&m, 101);
    CHECK(mdx_sim_fault_active(&m, MDX_SIM_FAULT_ESTOP));
    CHECK_STR(mdx_sim_fault_name(MDX_SIM_FAULT_ESTOP), "estop");
    mean_current(&m, 100);
    CHECK(!mdx_sim_fault_active(&m, MDX_SIM_FAULT_ESTOP));
}

/* ---- the agent over a fake port ---- */

struct msg {
    char topic[MDX_EDGE_TOPIC_MAX];
    char payload[16384];
};

struct fake {
    int64_t now;
    int connected;
    int nmsgs;
    struct msg msgs[CAP_MSGS];
};

static struct fake fk;

static int64_t f_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static int64_t f_wall(void *ctx)
{
    return WALL0 + ((struct fake *)ctx)->now;
}

static int f_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                     int retain)
{
    struct fake *f = ctx;
    struct msg *m;

    (void)retain;
    if (!f->connected) {
        return MDX_ECONN;
    }
    if (f->nmsgs == CAP_MSGS || len >= sizeof(m->payload) || qos != 1) {
        return MDX_EBUSY;
    }
    m = &f->msgs[f->nmsgs++];
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    memcpy(m->payload, payload, len);
    m->payload[len] = '\0';
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

static const struct mdx_edge_port port = {
    .ctx = &fk,      .now_ms = f_now,   .wall_ms = f_wall,         .publish = f_publish,
    .connected = f_connected, .sleep_ms = f_sleep, .stop_requested = f_stop, .log = f_log};

static struct mdx_edge_agent agent;
static struct mdx_edge_unit units[3];
static struct mdx_edge_reading slots[3 * 100];
static char buf[64 * 1024];

static void start(int with_estop)
{
    struct mdx_edge_conf c;

    mdx_edge_conf_defaults(&c);
    c.machines = 3;
    c.ring_cap = 100;
    c.safety = 0;
    c.count = 1000000;
    if (with_estop) {
        c.nfaults = 1;
        snprintf(c.faults[0].device, sizeof(c.faults[0].device), "m-0002");
        c.faults[0].kind = MDX_SIM_FAULT_ESTOP;
        c.faults[0].at_s = 0;
    }
    memset(&fk, 0, sizeof(fk));
    fk.now = 1000;
    fk.connected = 1;
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
}

/* Steps the agent for 'ms' of fake time. */
static void run_for(int64_t ms)
{
    int64_t end = fk.now + ms;
    uint32_t sleep_ms;

    while (fk.now < end) {
        mdx_edge_agent_step(&agent, &sleep_ms);
        fk.now += sleep_ms > 0 ? sleep_ms : 1;
    }
}

static void send_cmd(const char *device, const char *payload)
{
    char topic[MDX_EDGE_TOPIC_MAX];

    snprintf(topic, sizeof(topic), "modax/demo/%s/commands", device);
    mdx_edge_agent_command(&agent, 0, topic, payload, strlen(payload));
}

/* The last command_ack of 'device', parsed (cJSON_Delete it), or NULL. */
static cJSON *last_ack(const char *device)
{
    char topic[MDX_EDGE_TOPIC_MAX];
    int i;

    snprintf(topic, sizeof(topic), "modax/demo/%s/command_ack", device);
    for (i = fk.nmsgs - 1; i >= 0; i--) {
        if (strcmp(fk.msgs[i].topic, topic) == 0) {
            return cJSON_Parse(fk.msgs[i].payload);
        }
    }
    return NULL;
}

static int count_acks(void)
{
    int i, n = 0;

    for (i = 0; i < fk.nmsgs; i++) {
        n += strstr(fk.msgs[i].topic, "/command_ack") != NULL;
    }
    return n;
}

static void check_ack(const char *device, long long id, const char *status, const char *detail_has)
{
    cJSON *ack = last_ack(device);
    const char *detail;

    CHECK(ack != NULL);
    if (ack == NULL) {
        return;
    }
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "device_id")), device);
    CHECK(cJSON_GetObjectItemCaseSensitive(ack, "command_id") != NULL &&
          (long long)cJSON_GetObjectItemCaseSensitive(ack, "command_id")->valuedouble == id);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "status")), status);
    detail = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ack, "detail"));
    if (detail_has == NULL) {
        CHECK(detail == NULL);
    } else {
        CHECK(detail != NULL && strstr(detail, detail_has) != NULL);
    }
    cJSON_Delete(ack);
}

static void agent_topics_and_acks(void)
{
    char topic[MDX_EDGE_TOPIC_MAX];

    start(0);
    run_for(3000);
    CHECK_EQ_INT(mdx_edge_agent_subscription(&agent, 0, 0, topic, sizeof(topic)), 0);
    CHECK_STR(topic, "modax/demo/m-0001/commands");
    CHECK_EQ_INT(mdx_edge_agent_subscription(&agent, 2, 0, topic, sizeof(topic)), 0);
    CHECK_STR(topic, "modax/demo/m-0003/commands");
    CHECK_EQ_INT(mdx_edge_agent_subscription(&agent, 3, 0, topic, sizeof(topic)), -1);

    send_cmd("m-0003", "{\"command_id\":42,\"name\":\"speed_pct\",\"value\":40,\"ts\":1}");
    check_ack("m-0003", 42, "ok", NULL);
    CHECK(units[2].sim.speed == 0.4);
    CHECK(units[0].sim.speed == 1.0);

    send_cmd("m-0003", "{\"command_id\":43,\"name\":\"speed_pct\",\"value\":150}");
    check_ack("m-0003", 43, "rejected", "0 to 100");
    CHECK(units[2].sim.speed == 0.4);
    send_cmd("m-0001", "{\"command_id\":44,\"name\":\"feed\",\"value\":1}");
    check_ack("m-0001", 44, "rejected", "unknown command");
    send_cmd("m-0001", "{\"command_id\":45,\"name\":\"speed_pct\",\"value\":\"fast\"}");
    check_ack("m-0001", 45, "rejected", "malformed command");
    CHECK_EQ_INT(count_acks(), 4);

    /* Unanswerable: no id, another tenant, an unknown machine. */
    send_cmd("m-0001", "{\"name\":\"speed_pct\",\"value\":1}");
    send_cmd("m-0009", "{\"command_id\":46,\"name\":\"speed_pct\",\"value\":1}");
    send_cmd("m-1", "{\"command_id\":47,\"name\":\"speed_pct\",\"value\":1}");
    mdx_edge_agent_command(&agent, 0, "modax/other/m-0001/commands", "{}", 2);
    mdx_edge_agent_command(&agent, 0, "modax/demo/m-0001/status", "{}", 2);
    CHECK_EQ_INT(count_acks(), 4);
    CHECK_EQ_INT(agent.stats.commands, 9);
    CHECK_EQ_INT(agent.stats.commands_applied, 1);
    CHECK_EQ_INT(agent.stats.commands_rejected, 3);
    CHECK_EQ_INT(agent.stats.commands_ignored, 5);
}

static void emergency_stop_refuses_every_command(void)
{
    start(1);
    run_for(3000);
    CHECK(units[1].safety.emergency_stop);
    CHECK(!units[0].safety.emergency_stop);
    send_cmd("m-0002", "{\"command_id\":50,\"name\":\"speed_pct\",\"value\":50}");
    check_ack("m-0002", 50, "rejected", "emergency stop");
    CHECK(units[1].sim.speed == 1.0);
    send_cmd("m-0001", "{\"command_id\":51,\"name\":\"speed_pct\",\"value\":50}");
    check_ack("m-0001", 51, "ok", NULL);
}

/* Each of the four safety conditions alone refuses a command; all clear, it is applied. */
static void every_safety_condition_refuses(void)
{
    static const char *const why[] = {"door open", "overload", "temperature not OK"};
    char cmd[96];
    int k;

    start(0);
    run_for(3000);
    for (k = 0; k < 3; k++) {
        struct mdx_safety_state *s = &units[0].safety;

        s->door_closed = k != 0;
        s->overload_detected = k == 1;
        s->temperature_ok = k != 2;
        snprintf(cmd, sizeof(cmd), "{\"command_id\":%d,\"name\":\"speed_pct\",\"value\":50}",
                 60 + k);
        send_cmd("m-0001", cmd);
        check_ack("m-0001", 60 + k, "rejected", why[k]);
        CHECK(units[0].sim.speed == 1.0);
    }
    units[0].safety.door_closed = 1;
    units[0].safety.overload_detected = 0;
    units[0].safety.temperature_ok = 1;
    send_cmd("m-0001", "{\"command_id\":63,\"name\":\"speed_pct\",\"value\":50}");
    check_ack("m-0001", 63, "ok", NULL);
    CHECK(units[0].sim.speed == 0.5);
}

static void answer_waits_for_the_connection(void)
{
    start(0);
    run_for(2000);
    fk.connected = 0;
    run_for(2000);
    send_cmd("m-0002", "{\"command_id\":60,\"name\":\"speed_pct\",\"value\":10}");
    send_cmd("m-0001", "{\"command_id\":61,\"name\":\"speed_pct\",\"value\":10}");
    send_cmd("m-0001", "{\"command_id\":62,\"name\":\"speed_pct\",\"value\":20}"); /* replaces 61 */
    CHECK_EQ_INT(count_acks(), 0);
    CHECK_EQ_INT(agent.stats.acks_dropped, 1);
    fk.connected = 1;
    run_for(2000);
    CHECK_EQ_INT(count_acks(), 2);
    check_ack("m-0002", 60, "ok", NULL);
    check_ack("m-0001", 62, "ok", NULL);
    CHECK(units[0].sim.speed == 0.2);
}

static const struct mdx_test tests[] = {
    {"parser: the wire format, any order, optional ts", parses_the_wire_format},
    {"parser: a bad member is refused but the id is kept", bad_member_keeps_the_id},
    {"parser: no readable id", no_readable_id},
    {"parser: trailing data, embedded NUL, length bound", trailing_data_and_embedded_nul},
    {"command_ack payloads, escaped detail, buffer bound", ack_payloads},
    {"speed_pct scales the machine's load; range and name checked", speed_scales_the_load},
    {"estop fault is active from its start to its repair", estop_fault_stops_the_press},
    {"agent: commands topics, ok and rejected acks, unanswerable ignored",
     agent_topics_and_acks},
    {"agent: the emergency stop refuses every command", emergency_stop_refuses_every_command},
    {"agent: door open, overload or temperature not OK each refuses a command",
     every_safety_condition_refuses},
    {"agent: an answer waits for the connection; a newer one replaces it",
     answer_waits_for_the_connection},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
