/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_edge_outbox.c - the persistent outbox over an in-memory storage
 * region: records read back as written, a torn record is detected and
 * skipped, the checkpoint says where unreleased readings start, another
 * device's or a newer format's outbox is refused unchanged, and an agent
 * whose outbox is full drops the oldest readings, counts them, reports
 * the gap and backfills the rest oldest first once the broker acknowledges.
 * The wall clock going back (during a run, or between two runs over one
 * outbox) neither reorders, loses nor duplicates readings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "check.h"
#include "modax/status.h"
#include "outbox.h"

#define REGION (256 * 1024)
#define CAP_MSGS 2000
#define WALL0 1764230400000LL

struct fake {
    int64_t now;
    int64_t wall_shift; /* the wall clock's offset from WALL0 + now: set back to jump back */
    int connected;
    uint8_t region[REGION];
    uint64_t size;
    uint32_t next_token;
    int nmsgs;
    char topics[CAP_MSGS][MDX_EDGE_TOPIC_MAX];
    char payloads[CAP_MSGS][2048];
    uint32_t tokens[CAP_MSGS];
};

static struct fake fk;

static int64_t f_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static int64_t f_wall(void *ctx)
{
    return WALL0 + ((struct fake *)ctx)->now + ((struct fake *)ctx)->wall_shift;
}

static int record(struct fake *f, const char *topic, const void *payload, size_t len, uint32_t tok)
{
    if (!f->connected) {
        return MDX_ECONN;
    }
    if (f->nmsgs == CAP_MSGS || len >= sizeof(f->payloads[0])) {
        return MDX_EBUSY;
    }
    snprintf(f->topics[f->nmsgs], sizeof(f->topics[0]), "%s", topic);
    memcpy(f->payloads[f->nmsgs], payload, len);
    f->payloads[f->nmsgs][len] = '\0';
    f->tokens[f->nmsgs] = tok;
    f->nmsgs++;
    return MDX_OK;
}

static int f_publish(void *ctx, const char *topic, const void *payload, size_t len, int qos,
                     int retain)
{
    (void)qos;
    (void)retain;
    return record(ctx, topic, payload, len, 0);
}

static int f_publish_tracked(void *ctx, uint32_t unit, const char *topic, const void *payload,
                             size_t len, uint32_t *token)
{
    struct fake *f = ctx;

    (void)unit;
    *token = ++f->next_token;
    return record(f, topic, payload, len, *token);
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

static uint64_t f_size(void *ctx)
{
    return ((struct fake *)ctx)->size;
}

static int f_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct fake *f = ctx;

    if (off + len > f->size) {
        return MDX_EIO;
    }
    memcpy(buf, f->region + off, len);
    return MDX_OK;
}

static int f_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    struct fake *f = ctx;

    if (off + len > f->size) {
        return MDX_EIO;
    }
    memcpy(f->region + off, buf, len);
    return MDX_OK;
}

static int f_sync(void *ctx)
{
    (void)ctx;
    return MDX_OK;
}

static const struct mdx_edge_port port = {
    .ctx = &fk,
    .now_ms = f_now,
    .wall_ms = f_wall,
    .publish = f_publish,
    .connected = f_connected,
    .sleep_ms = f_sleep,
    .stop_requested = f_stop,
    .log = f_log,
    .publish_tracked = f_publish_tracked,
    .store_size = f_size,
    .store_read = f_read,
    .store_write = f_write,
    .store_sync = f_sync,
};

static void reset(uint32_t machines, uint32_t slots)
{
    memset(&fk, 0, sizeof(fk));
    fk.size = mdx_edge_outbox_size(machines, slots);
}

static struct mdx_edge_reading reading(int64_t ts)
{
    struct mdx_edge_reading r;

    memset(&r, 0, sizeof(r));
    r.ts_ms = ts;
    r.present = MDX_EDGE_HAS_ALL;
    r.current_mean = 1.5f;
    r.temperature = 40.25f;
    return r;
}

static uint64_t oldest_is_7(const void *arg, uint32_t m)
{
    (void)arg;
    (void)m;
    return 7;
}

static void records_read_back_and_checkpoint_marks_released(void)
{
    struct mdx_edge_outbox ob;
    struct mdx_edge_reading r, got;
    uint64_t next, oldest, s;
    char why[200];

    reset(2, 16);
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "demo/m-/1", 2, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(ob.slots, 16);
    for (s = 1; s <= 10; s++) {
        r = reading(1000 + (int64_t)s);
        CHECK_EQ_INT(mdx_edge_outbox_put(&ob, 1, s, &r), MDX_OK);
    }
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "demo/m-/1", 2, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_edge_outbox_recover(&ob, 1, &next, &oldest), MDX_OK);
    CHECK_EQ_INT(next, 11);
    CHECK_EQ_INT(oldest, 1); /* never checkpointed: everything is unreleased */
    CHECK_EQ_INT(mdx_edge_outbox_recover(&ob, 0, &next, &oldest), MDX_OK);
    CHECK_EQ_INT(next, 1);
    CHECK_EQ_INT(mdx_edge_outbox_get(&ob, 1, 4, &got), MDX_OK);
    CHECK_EQ_INT(got.ts_ms, 1004);
    CHECK(got.temperature == 40.25f && got.present == MDX_EDGE_HAS_ALL);
    /* Record 4 is not record 20 (same slot) nor machine 0's. */
    CHECK_EQ_INT(mdx_edge_outbox_get(&ob, 1, 20, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_edge_outbox_get(&ob, 0, 4, &got), MDX_ENOTFOUND);
    CHECK_EQ_INT(mdx_edge_outbox_checkpoint(&ob, oldest_is_7, NULL), MDX_OK);
    CHECK_EQ_INT(mdx_edge_outbox_checkpoint(&ob, oldest_is_7, NULL), MDX_OK); /* other copy */
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "demo/m-/1", 2, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_edge_outbox_recover(&ob, 1, &next, &oldest), MDX_OK);
    CHECK_EQ_INT(next, 11);
    CHECK_EQ_INT(oldest, 7);
}

static void torn_last_record_is_detected_and_skipped(void)
{
    struct mdx_edge_outbox ob;
    struct mdx_edge_reading r, got;
    uint64_t next, oldest, s, off;
    char why[200];

    reset(1, 16);
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "demo/m-/1", 1, why, sizeof(why)), MDX_OK);
    for (s = 1; s <= 5; s++) {
        r = reading(2000 + (int64_t)s);
        CHECK_EQ_INT(mdx_edge_outbox_put(&ob, 0, s, &r), MDX_OK);
    }
    /* A power cut in the middle of writing record 5: its second half never arrived. */
    off = mdx_edge_outbox_size(1, 16) - 16 * MDX_OUTBOX_RECORD + 5 * MDX_OUTBOX_RECORD;
    memset(fk.region + off + MDX_OUTBOX_RECORD / 2, 0, MDX_OUTBOX_RECORD / 2);
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "demo/m-/1", 1, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_edge_outbox_recover(&ob, 0, &next, &oldest), MDX_OK);
    CHECK_EQ_INT(ob.damaged, 1);
    CHECK_EQ_INT(next, 5); /* the torn one is overwritten by the next reading */
    CHECK_EQ_INT(oldest, 1);
    CHECK_EQ_INT(mdx_edge_outbox_get(&ob, 0, 4, &got), MDX_OK);
    CHECK_EQ_INT(mdx_edge_outbox_get(&ob, 0, 5, &got), MDX_ENOTFOUND);
}

static void other_device_or_newer_version_is_refused_unchanged(void)
{
    struct mdx_edge_outbox ob;
    struct mdx_edge_reading r = reading(3000);
    uint8_t copy[4096];
    char why[200];

    reset(1, 16);
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "plant/press-/1", 1, why, sizeof(why)), MDX_OK);
    CHECK_EQ_INT(mdx_edge_outbox_put(&ob, 0, 1, &r), MDX_OK);
    memcpy(copy, fk.region, sizeof(copy));
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "plant/m-/1", 1, why, sizeof(why)),
                 MDX_EINVAL);
    CHECK(strstr(why, "written by device plant/press-/1") != NULL);
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "plant/press-/1", 2, why, sizeof(why)),
                 MDX_EINVAL);
    CHECK(strstr(why, "machines") != NULL);
    fk.region[8] = 2; /* format version 2 */
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "plant/press-/1", 1, why, sizeof(why)),
                 MDX_EINVAL);
    CHECK(strstr(why, "format version 2") != NULL);
    fk.region[8] = 1;
    fk.region[30] ^= 1; /* identity damaged: the header's CRC catches it */
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "plant/press-/1", 1, why, sizeof(why)),
                 MDX_ECORRUPT);
    fk.region[30] ^= 1;
    CHECK(memcmp(copy, fk.region, sizeof(copy)) == 0); /* refusals wrote nothing */
    memcpy(fk.region, "NOTANOUTBOX", 11);
    CHECK_EQ_INT(mdx_edge_outbox_open(&ob, &port, "plant/press-/1", 1, why, sizeof(why)),
                 MDX_EINVAL);
}

static struct mdx_edge_agent agent;
static struct mdx_edge_unit units[1];
static struct mdx_edge_reading slots[1];
static char buf[64 * 1024];

/* Timestamp of the first reading in payload 'p' (object or array). */
static long long first_ts(const char *p)
{
    const char *t = strstr(p, "\"timestamp\":");

    return t != NULL ? strtoll(t + 12, NULL, 10) : -1;
}

static void full_outbox_drops_oldest_counts_and_reports_gap(void)
{
    struct mdx_edge_conf conf;
    uint32_t sleep_ms;
    int i, gap = -1, first_data = -1;
    uint64_t acked = 0;

    reset(1, 100);
    mdx_edge_conf_defaults(&conf);
    conf.machines = 1;
    conf.rate_hz = 10;
    conf.ring_cap = 1;
    conf.safety = 0;
    conf.count = 150;
    conf.backfill_rate = 0;
    conf.flush_chunk = 5; /* arrays fit the fake's 2 KiB messages */
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &conf, &port, units, slots, buf, sizeof(buf)),
                 MDX_OK);
    CHECK_EQ_INT(agent.outbox.slots, 100);
    /* 15 s offline: 150 readings into 100 slots. */
    for (i = 0; i < 160; i++) {
        mdx_edge_agent_step(&agent, &sleep_ms);
        fk.now += 100;
    }
    CHECK_EQ_INT(agent.stats.generated, 150);
    CHECK_EQ_INT(agent.stats.dropped, 50);
    CHECK_EQ_INT(mdx_edge_agent_buffered(&agent), 100);
    fk.connected = 1;
    for (i = 0; i < 50 && mdx_edge_agent_buffered(&agent) > 0; i++) {
        int k;

        mdx_edge_agent_step(&agent, &sleep_ms);
        for (k = 0; k < fk.nmsgs; k++) {
            if (fk.tokens[k] != 0) {
                mdx_edge_agent_acked(&agent, 0, fk.tokens[k]);
                fk.tokens[k] = 0;
            }
        }
        fk.now += 100;
    }
    CHECK_EQ_INT(mdx_edge_agent_buffered(&agent), 0);
    for (i = 0; i < fk.nmsgs; i++) {
        if (gap < 0 && strstr(fk.topics[i], "/status") != NULL &&
            strstr(fk.payloads[i], "\"state\":\"gap\"") != NULL) {
            gap = i;
        }
        if (first_data < 0 && strstr(fk.topics[i], "/sensor_data") != NULL) {
            first_data = i;
        }
    }
    CHECK(gap >= 0 && strstr(fk.payloads[gap], "\"dropped\":50") != NULL);
    CHECK(first_data > gap);
    /* Oldest first, and the oldest kept is reading 51 (ts = start + 51 x 100 ms). */
    CHECK_EQ_INT(first_ts(fk.payloads[first_data]), agent.start_wall_ms + 5100);
    CHECK(fk.payloads[first_data][0] == '['); /* the backlog goes as arrays */
    acked = agent.stats.acked_readings;
    CHECK_EQ_INT(acked, 100);
    CHECK_EQ_INT(agent.stats.backfilled, 100);
}

/* Every "timestamp" of the sensor_data messages from 'from' on, into 'ts' (at most 'cap'). */
static int data_timestamps(int from, long long *ts, int cap)
{
    int n = 0;

    for (int i = from; i < fk.nmsgs; i++) {
        const char *p = fk.payloads[i];

        if (strstr(fk.topics[i], "/sensor_data") == NULL) {
            continue;
        }
        while ((p = strstr(p, "\"timestamp\":")) != NULL && n < cap) {
            ts[n++] = strtoll(p + 12, NULL, 10);
            p += 12;
        }
    }
    return n;
}

static int by_value(const void *x, const void *y)
{
    long long a = *(const long long *)x, b = *(const long long *)y;

    return (a > b) - (a < b);
}

/* Steps the agent 'steps' times, 100 ms apart, acknowledging what it publishes. */
static void run_acking(int steps)
{
    uint32_t sleep_ms;

    for (int i = 0; i < steps; i++) {
        mdx_edge_agent_step(&agent, &sleep_ms);
        for (int k = 0; k < fk.nmsgs; k++) {
            if (fk.tokens[k] != 0) {
                mdx_edge_agent_acked(&agent, 0, fk.tokens[k]);
                fk.tokens[k] = 0;
            }
        }
        fk.now += 100;
    }
}

/*
 * The device's wall clock jumps back an hour: first while the agent runs
 * offline (readings go on from the monotonic clock, 100 ms apart), then
 * between two runs over one outbox (the second run starts an hour "before"
 * the first one's readings). Defined behaviour: the second run's readings
 * go on after the outbox's newest, so every reading keeps its own,
 * rising timestamp; after reconnecting, the backlog and the new readings
 * arrive exactly once each, none taking another's (series, ts).
 */
static void clock_jumping_back_keeps_order_and_loses_nothing(void)
{
    struct mdx_edge_conf conf;
    long long ts[200], newest_first;
    int n, i;

    reset(1, 100);
    mdx_edge_conf_defaults(&conf);
    conf.machines = 1;
    conf.rate_hz = 10;
    conf.ring_cap = 1;
    conf.safety = 0;
    conf.count = 30;
    conf.backfill_rate = 0;
    conf.flush_chunk = 5;
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &conf, &port, units, slots, buf, sizeof(buf)),
                 MDX_OK);
    /* Run 1, offline: 30 readings, the wall clock set back an hour half way. */
    for (i = 0; i < 32; i++) {
        uint32_t sleep_ms;

        if (i == 15) {
            fk.wall_shift = -3600 * 1000;
        }
        mdx_edge_agent_step(&agent, &sleep_ms);
        fk.now += 100;
    }
    CHECK_EQ_INT(agent.stats.generated, 30);
    CHECK_EQ_INT(mdx_edge_agent_buffered(&agent), 30);
    newest_first = agent.start_wall_ms + 30 * 100; /* reading 30 of run 1 */

    /* Run 2 over the same outbox, an hour "earlier"; online this time. */
    conf.count = 20;
    fk.now += 1000;
    CHECK(WALL0 + fk.now + fk.wall_shift < newest_first);
    fk.connected = 1;
    CHECK_EQ_INT(mdx_edge_agent_init(&agent, &conf, &port, units, slots, buf, sizeof(buf)),
                 MDX_OK);
    CHECK_EQ_INT(agent.start_wall_ms, newest_first);
    run_acking(60);
    CHECK_EQ_INT(mdx_edge_agent_buffered(&agent), 0);
    CHECK_EQ_INT(agent.stats.generated, 20);

    /* Exactly once each: 30 + 20 distinct timestamps, 100 ms apart without a hole. */
    n = data_timestamps(0, ts, 200);
    CHECK_EQ_INT(n, 50);
    qsort(ts, (size_t)n, sizeof(ts[0]), by_value);
    for (i = 1; i < n; i++) {
        if (ts[i] != ts[i - 1] + 100) {
            fprintf(stderr, "  reading %d: %lld after %lld\n", i, ts[i], ts[i - 1]);
        }
        CHECK_EQ_INT(ts[i], ts[i - 1] + 100);
    }
    CHECK_EQ_INT(ts[n - 1], newest_first + 20 * 100);
    /* Live readings went out in order of their timestamps, as the backlog did. */
    {
        long long last_live = 0, last_backlog = 0;

        for (i = 0; i < fk.nmsgs; i++) {
            long long t = first_ts(fk.payloads[i]);

            if (strstr(fk.topics[i], "/sensor_data") == NULL) {
                continue;
            }
            if (t > newest_first) {
                CHECK(t > last_live);
                last_live = t;
            } else {
                CHECK(t > last_backlog);
                last_backlog = t;
            }
        }
    }
}

static const struct mdx_test tests[] = {
    {"outbox: records read back, checkpoint marks where unreleased ones start",
     records_read_back_and_checkpoint_marks_released},
    {"outbox: a torn last record is detected and skipped", torn_last_record_is_detected_and_skipped},
    {"outbox: another device's or a newer version's outbox is refused, unchanged",
     other_device_or_newer_version_is_refused_unchanged},
    {"outbox: when full the oldest are dropped, counted, reported; the rest backfilled oldest first",
     full_outbox_drops_oldest_counts_and_reports_gap},
    {"outbox: the clock jumping back neither reorders, loses nor duplicates readings",
     clock_jumping_back_keeps_order_and_loses_nothing},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
