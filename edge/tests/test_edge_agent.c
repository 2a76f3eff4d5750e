/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_agent.c - the agent loop over a fake port: a hand-driven
 * clock, a connection switch and a capture of what was published.
 * Covers statuses, timing, store-and-forward over an outage, --batch,
 * --count, ring overflow and safety messages, and a port with one
 * connection per machine.
 */
#include <cJSON.h>
#include <string.h>

#include "agent.h"
#include "check.h"
#include "modax/status.h"

#define CAP_MSGS 4000
#define WALL0 1764230400000LL

#define ARENA (8 * 1024 * 1024)

struct msg {
    char topic[MDX_EDGE_TOPIC_MAX];
    char *payload; /* in fake.arena */
    int qos, retain;
};

struct fake {
    int64_t now;
    int connected;
    int busy;
    int nmsgs;
    struct msg msgs[CAP_MSGS];
    size_t used;
    char arena[ARENA];
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

    if (!f->connected) {
        return MDX_ECONN;
    }
    if (f->busy || f->nmsgs == CAP_MSGS || len >= ARENA - f->used) {
        return MDX_EBUSY;
    }
    m = &f->msgs[f->nmsgs++];
    snprintf(m->topic, sizeof(m->topic), "%s", topic);
    m->payload = f->arena + f->used;
    f->used += len + 1;
    memcpy(m->payload, payload, len);
    m->payload[len] = '\0';
    m->qos = qos;
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

static const struct mdx_edge_port port = {
    .ctx = &fk,      .now_ms = f_now,   .wall_ms = f_wall,         .publish = f_publish,
    .connected = f_connected, .sleep_ms = f_sleep, .stop_requested = f_stop, .log = f_log};

static struct mdx_edge_agent agent;
static struct mdx_edge_unit units[4];
static struct mdx_edge_reading slots[4 * 1000];
static char buf[64 * 1024];

static void reset(int connected)
{
    memset(&fk, 0, sizeof(fk));
    fk.now = 5000;
    fk.connected = connected;
}

static struct mdx_edge_conf conf_of(uint32_t machines)
{
    struct mdx_edge_conf c;

    mdx_edge_conf_defaults(&c);
    c.machines = machines;
    c.ring_cap = 1000;
    c.safety = 0;
    return c;
}

/*
 * Steps the agent as mdx_edge_agent_run() would, until 'ms' of fake time
 * passed; the last step runs at exactly the end.
 */
static int run_for(int64_t ms)
{
    int64_t end = fk.now + ms;
    uint32_t sleep_ms;
    int rc;

    for (;;) {
        rc = mdx_edge_agent_step(&agent, &sleep_ms);
        if (rc != MDX_OK || fk.now >= end) {
            return rc;
        }
        sleep_ms = sleep_ms > 0 ? sleep_ms : 1;
        fk.now += (int64_t)sleep_ms < end - fk.now ? (int64_t)sleep_ms : end - fk.now;
    }
}

static int count_topic(const char *suffix)
{
    int i, n = 0;
    size_t ls = strlen(suffix);

    for (i = 0; i < fk.nmsgs; i++) {
        size_t lt = strlen(fk.msgs[i].topic);
        n += lt >= ls && strcmp(fk.msgs[i].topic + lt - ls, suffix) == 0;
    }
    return n;
}

/* Readings in sensor_data messages of 'device' (objects count 1, arrays their size). */
static int readings_of(const char *device, int64_t *first_ts, int64_t *last_ts, int *arrays)
{
    char topic[MDX_EDGE_TOPIC_MAX];
    int i, n = 0;

    snprintf(topic, sizeof(topic), "modax/demo/%s/sensor_data", device);
    for (i = 0; i < fk.nmsgs; i++) {
        cJSON *root, *item;

        if (strcmp(fk.msgs[i].topic, topic) != 0) {
            continue;
        }
        CHECK_EQ_INT(fk.msgs[i].qos, 1);
        root = cJSON_Parse(fk.msgs[i].payload);
        CHECK(root != NULL);
        if (cJSON_IsArray(root)) {
            if (arrays != NULL) {
                (*arrays)++;
            }
            cJSON_ArrayForEach(item, root)
            {
                int64_t ts =
                    (int64_t)cJSON_GetObjectItemCaseSensitive(item, "timestamp")->valuedouble;
                CHECK(n == 0 || ts == *last_ts + 1000); /* in order, none lost */
                if (n++ == 0) {
                    *first_ts = ts;
                }
                *last_ts = ts;
                CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, "device_id")),
                          device);
            }
        } else {
            int64_t ts = (int64_t)cJSON_GetObjectItemCaseSensitive(root, "timestamp")->valuedouble;
            CHECK(n == 0 || ts == *last_ts + 1000);
            if (n++ == 0) {
                *first_ts = ts;
            }
            *last_ts = ts;
        }
        cJSON_Delete(root);
    }
    return n;
}

static void online_then_one_reading_per_second(void)
{
    struct mdx_edge_conf c = conf_of(3);
    int64_t first = 0, last = 0;
    int arrays = 0;

    reset(1);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    run_for(10000);
    CHECK_EQ_INT(count_topic("/status"), 3);
    CHECK_STR(fk.msgs[0].topic, "modax/demo/m-0001/status");
    CHECK_STR(fk.msgs[0].payload, "online");
    CHECK_EQ_INT(fk.msgs[0].retain, 1);
    CHECK_EQ_INT(fk.msgs[0].qos, 1);
    CHECK_EQ_INT(readings_of("m-0003", &first, &last, &arrays), 10);
    CHECK_EQ_INT(arrays, 0);
    CHECK_EQ_INT(first, WALL0 + 5000 + 1000);
    CHECK_EQ_INT(last, WALL0 + 5000 + 10000);
    mdx_edge_agent_fini(&agent);
    CHECK_STR(fk.msgs[fk.nmsgs - 1].topic, "modax/demo/m-0003/status");
    CHECK_STR(fk.msgs[fk.nmsgs - 1].payload, "offline");
    CHECK_EQ_INT(fk.msgs[fk.nmsgs - 1].retain, 1);
}

static void outage_is_buffered_and_flushed_as_arrays(void)
{
    struct mdx_edge_conf c = conf_of(2);
    int64_t first = 0, last = 0;
    int arrays = 0, before;

    reset(1);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    run_for(5000);
    fk.connected = 0;
    run_for(120000);
    CHECK_EQ_INT(units[0].ring.count, 120);
    before = fk.nmsgs;
    fk.connected = 1;
    run_for(1);
    CHECK(fk.nmsgs > before);
    CHECK_STR(fk.msgs[before].payload, "online"); /* status again after the reconnect */
    CHECK_EQ_INT(readings_of("m-0001", &first, &last, &arrays), 125);
    CHECK(arrays >= 3); /* 120 readings in arrays of at most MDX_EDGE_FLUSH_CHUNK */
    CHECK_EQ_INT(mdx_edge_agent_buffered(&agent), 0);
    CHECK_EQ_INT(agent.stats.dropped, 0);
    CHECK_EQ_INT(agent.stats.published_readings, 250);
}

static void busy_port_keeps_readings(void)
{
    struct mdx_edge_conf c = conf_of(1);
    int64_t first = 0, last = 0;

    reset(1);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    run_for(3000);
    fk.busy = 1;
    run_for(10000);
    CHECK_EQ_INT(units[0].ring.count, 10);
    fk.busy = 0;
    run_for(1000);
    CHECK_EQ_INT(readings_of("m-0001", &first, &last, NULL), 14);
    CHECK_EQ_INT(agent.stats.dropped, 0);
}

static void overflow_drops_oldest_and_counts(void)
{
    struct mdx_edge_conf c = conf_of(2);
    int64_t first = 0, last = 0;

    c.ring_cap = 100;
    reset(0);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    run_for(300000); /* 300 readings per machine, room for 100 */
    CHECK_EQ_INT(agent.stats.dropped, 2 * 200);
    fk.connected = 1;
    run_for(1);
    CHECK_EQ_INT(readings_of("m-0002", &first, &last, NULL), 100);
    CHECK_EQ_INT(first, WALL0 + 5000 + 201 * 1000); /* the newest hundred */
}

static void batch_groups_n_readings(void)
{
    struct mdx_edge_conf c = conf_of(2);
    int i, arrays = 0, tens = 0, fives = 0, ok = 1;

    c.batch = 10;
    c.form = MDX_EDGE_FORM_FIELD;
    c.count = 35;
    reset(1);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    CHECK_EQ_INT(run_for(100000), MDX_ESTOPPED);
    for (i = 0; i < fk.nmsgs; i++) {
        cJSON *root;

        if (strstr(fk.msgs[i].topic, "/sensor_data") == NULL) {
            continue;
        }
        root = cJSON_Parse(fk.msgs[i].payload);
        ok = ok && cJSON_IsArray(root);
        tens += cJSON_GetArraySize(root) == 10;
        fives += cJSON_GetArraySize(root) == 5;
        ok = ok && (arrays < 6 ? cJSON_GetArraySize(root) == 10 : 1);
        ok = ok && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(root, 0),
                                                                  "motor_currents"));
        arrays++;
        cJSON_Delete(root);
    }
    CHECK(ok);
    CHECK_EQ_INT(arrays, 8); /* per machine: 10, 10, 10 and the last 5 */
    CHECK_EQ_INT(tens, 6);
    CHECK_EQ_INT(fives, 2);
    CHECK_EQ_INT(agent.stats.published_readings, 70);
}

static void count_stops_after_n(void)
{
    struct mdx_edge_conf c = conf_of(2);
    int64_t first = 0, last = 0;

    c.count = 5;
    c.time_scale = 100;
    reset(1);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    CHECK_EQ_INT(run_for(10000), MDX_ESTOPPED);
    CHECK(fk.now < 5000 + 200); /* compressed clock: 5 s of readings in ~50 ms */
    CHECK_EQ_INT(readings_of("m-0002", &first, &last, NULL), 5);
    CHECK_EQ_INT(last - first, 4000); /* timestamps in simulated time */
}

static void undeliverable_run_gives_up_after_the_drain_time(void)
{
    struct mdx_edge_conf c = conf_of(1);

    c.count = 3;
    reset(0);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    CHECK_EQ_INT(run_for(60000), MDX_ESTOPPED);
    CHECK(fk.now >= 5000 + 3000 + MDX_EDGE_DRAIN_MS);
    CHECK_EQ_INT(mdx_edge_agent_buffered(&agent), 3);
}

static void overheat_sends_a_safety_change(void)
{
    struct mdx_edge_conf c = conf_of(2);
    int i, tripped = -1;

    c.safety = 1;
    c.nfaults = 1;
    snprintf(c.faults[0].device, sizeof(c.faults[0].device), "m-0002");
    c.faults[0].kind = MDX_SIM_FAULT_OVERHEAT;
    c.faults[0].at_s = 10;
    reset(1);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)), MDX_OK);
    run_for(1200000);
    CHECK_EQ_INT(count_topic("m-0001/safety"), 1); /* the state at connect only */
    for (i = 0; i < fk.nmsgs; i++) {
        if (strcmp(fk.msgs[i].topic, "modax/demo/m-0002/safety") == 0 &&
            strstr(fk.msgs[i].payload, "\"temperature_ok\":false") != NULL) {
            tripped = i;
            break;
        }
    }
    CHECK(tripped > 0);
    if (tripped > 0) {
        cJSON *root = cJSON_Parse(fk.msgs[tripped].payload);
        CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "emergency_stop")));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "door_closed")));
        CHECK(cJSON_GetObjectItemCaseSensitive(root, "timestamp") != NULL);
        cJSON_Delete(root);
    }
}

static void bad_conf_is_refused(void)
{
    struct mdx_edge_conf c = conf_of(2);

    reset(1);
    c.tenant = "a/b";
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)),
                 MDX_EINVAL);
    c = conf_of(2);
    c.nfaults = 1;
    snprintf(c.faults[0].device, sizeof(c.faults[0].device), "m-0003");
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, sizeof(buf)),
                 MDX_EINVAL);
    c = conf_of(2);
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &port, units, slots, buf, 100), MDX_EINVAL);
}

/* --- one connection per machine: the port's unit_session/unit_publish --- */

static uint32_t unit_sess[4]; /* 0: that machine's connection is down */
static int wrong_connection;  /* publishes whose topic is not the connection's device */

static uint32_t f_unit_session(void *ctx, uint32_t unit)
{
    (void)ctx;
    return unit < 4 ? unit_sess[unit] : 0;
}

static int f_unit_publish(void *ctx, uint32_t unit, const char *topic, const void *payload,
                          size_t len, int qos, int retain)
{
    char dev[32];

    if (unit >= 4 || unit_sess[unit] == 0) {
        return MDX_ECONN;
    }
    snprintf(dev, sizeof(dev), "/m-%04u/", unit + 1);
    wrong_connection += strstr(topic, dev) == NULL;
    return f_publish(ctx, topic, payload, len, qos, retain);
}

static int f_any_connected(void *ctx)
{
    (void)ctx;
    return unit_sess[0] != 0 || unit_sess[1] != 0 || unit_sess[2] != 0 || unit_sess[3] != 0;
}

static const struct mdx_edge_port unit_port = {
    .ctx = &fk,          .now_ms = f_now,         .wall_ms = f_wall,
    .publish = f_publish, .connected = f_any_connected, .sleep_ms = f_sleep,
    .stop_requested = f_stop, .log = f_log,       .unit_session = f_unit_session,
    .unit_publish = f_unit_publish};

/* Statuses "online"/"offline" of 'device' in the capture. */
static int statuses_of(const char *device, const char *what)
{
    char topic[MDX_EDGE_TOPIC_MAX];
    int i, n = 0;

    snprintf(topic, sizeof(topic), "modax/demo/%s/status", device);
    for (i = 0; i < fk.nmsgs; i++) {
        n += strcmp(fk.msgs[i].topic, topic) == 0 && strcmp(fk.msgs[i].payload, what) == 0;
    }
    return n;
}

static void per_machine_connections_are_independent(void)
{
    struct mdx_edge_conf c = conf_of(2);
    int64_t first = 0, last = 0;
    int n0;

    reset(1);
    wrong_connection = 0;
    unit_sess[0] = 1;
    unit_sess[1] = 0; /* m-0002 not connected yet */
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &c, &unit_port, units, slots, buf, sizeof(buf)),
                 MDX_OK);
    run_for(10000);
    /* m-0001 flows although m-0002 is down; m-0002 keeps its readings. */
    CHECK_EQ_INT(readings_of("m-0001", &first, &last, NULL), 10);
    CHECK_EQ_INT(readings_of("m-0002", &first, &last, NULL), 0);
    CHECK_EQ_INT(units[1].ring.count, 10);
    CHECK_EQ_INT(statuses_of("m-0001", "online"), 1);
    CHECK_EQ_INT(statuses_of("m-0002", "online"), 0);
    /* m-0002 connects: it alone announces itself and delivers its backlog. */
    unit_sess[1] = 7;
    run_for(1000);
    CHECK_EQ_INT(statuses_of("m-0002", "online"), 1);
    CHECK_EQ_INT(statuses_of("m-0001", "online"), 1);
    CHECK_EQ_INT(readings_of("m-0002", &first, &last, NULL), 11);
    CHECK_EQ_INT(first, WALL0 + 5000 + 1000);
    /* m-0001 reconnects (new session): it alone says "online" again. */
    unit_sess[0] = 2;
    run_for(1000);
    CHECK_EQ_INT(statuses_of("m-0001", "online"), 2);
    CHECK_EQ_INT(statuses_of("m-0002", "online"), 1);
    /* At the end only the connected machine can say "offline"; the other isn't skipped by it. */
    unit_sess[0] = 0;
    n0 = readings_of("m-0001", &first, &last, NULL);
    run_for(3000);
    CHECK_EQ_INT(readings_of("m-0001", &first, &last, NULL), n0);
    CHECK_EQ_INT(units[0].ring.count, 3);
    mdx_edge_agent_fini(&agent);
    CHECK_EQ_INT(statuses_of("m-0001", "offline"), 0);
    CHECK_EQ_INT(statuses_of("m-0002", "offline"), 1);
    CHECK_EQ_INT(wrong_connection, 0);
    CHECK_EQ_INT(agent.stats.publish_errors, 0);
}

static const struct mdx_test tests[] = {
    {"online status, then one reading per second", online_then_one_reading_per_second},
    {"outage is buffered and flushed as arrays", outage_is_buffered_and_flushed_as_arrays},
    {"busy port keeps the readings", busy_port_keeps_readings},
    {"ring overflow drops the oldest and counts", overflow_drops_oldest_and_counts},
    {"batch groups N readings per message", batch_groups_n_readings},
    {"count stops after N readings, on the simulated clock", count_stops_after_n},
    {"undeliverable run gives up after the drain time",
     undeliverable_run_gives_up_after_the_drain_time},
    {"overheat sends a safety change", overheat_sends_a_safety_change},
    {"bad configuration is refused", bad_conf_is_refused},
    {"per-machine connections come and go independently",
     per_machine_connections_are_independent},
    {NULL, NULL}};

MDX_TEST_MAIN(tests)
