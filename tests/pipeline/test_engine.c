/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine.c - the ingest engine in-process, from submit to the SQLite
 * store: every bad input of issue 2 becomes a dead letter with its reason
 * while the good messages around it are stored, exactly once.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "modax/clock.h"
#include "modax/engine.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

struct rig {
    char dir[256];
    char db[300];
    char spool[300];
    struct mdx_store_conf sconf;
    struct mdx_engine_conf econf;
    struct mdx_store *store;
    struct mdx_engine *engine;
};

static void rig_start(struct rig *r)
{
    int err = 0;

    r->store = mdx_store_open(&r->sconf, &err);
    CHECK(r->store != NULL);
    r->engine = mdx_engine_create(&r->econf, r->store, &err);
    CHECK(r->engine != NULL);
    CHECK_EQ_INT(mdx_engine_start(r->engine), MDX_OK);
}

static void rig_stop(struct rig *r)
{
    mdx_engine_stop(r->engine, 10000);
    mdx_engine_destroy(r->engine);
    mdx_store_close(r->store);
    r->engine = NULL;
    r->store = NULL;
}

static void rig_init(struct rig *r, const char *name, int auto_register)
{
    memset(r, 0, sizeof(*r));
    tmp_make(r->dir, sizeof(r->dir), name);
    snprintf(r->db, sizeof(r->db), "%s/modax.db", r->dir);
    snprintf(r->spool, sizeof(r->spool), "%s/spool", r->dir);
    r->sconf = (struct mdx_store_conf){.backend = "sqlite", .sqlite_path = r->db,
                                       .busy_timeout_ms = 2000, .chunk_points = 64,
                                       .cache_series = 1000, .deadletter_max = 1000};
    r->econf = (struct mdx_engine_conf){.spool_dir = r->spool, .spool_max_mb = 64,
                                        .spool_segment_mb = 1, .spool_fsync_ms = -1,
                                        .max_payload_bytes = 262144, .max_points_per_msg = 4096,
                                        .batch_msgs = 100, .batch_ms = 20,
                                        .auto_register = auto_register, .registry_cache = 100,
                                        .retry_max_ms = 100, .stats_interval_s = 0,
                                        .worker = "test-worker"};
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    rig_start(r);
    CHECK_EQ_INT(mdx_store_tenant_add(r->store, "acme"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_add(r->store, "acme", "press-1", 0), MDX_OK);
}

static void rig_fini(struct rig *r)
{
    if (r->engine != NULL) {
        rig_stop(r);
    }
    tmp_remove(r->dir);
}

static void submit(struct rig *r, const char *topic, const char *payload)
{
    CHECK_EQ_INT(mdx_engine_submit(r->engine, topic, payload, strlen(payload), mdx_now_ms()),
                 MDX_OK);
}

struct reason_find {
    const char *reason;
    int64_t n;
};

static int find_reason(void *arg, const char *name, int64_t count)
{
    struct reason_find *f = arg;

    if (strcmp(name, f->reason) == 0) {
        f->n = count;
    }
    return MDX_OK;
}

/* Dead letters stored with 'reason' (after the engine stopped). */
static int64_t dead_count(struct rig *r, const char *reason)
{
    struct reason_find f = {reason, 0};
    int err;
    struct mdx_store *st = mdx_store_open(&r->sconf, &err);

    mdx_store_deadletter_counts(st, find_reason, &f);
    mdx_store_close(st);
    return f.n;
}

static int64_t points(struct rig *r)
{
    int64_t n = -1;
    int err;
    struct mdx_store *st = mdx_store_open(&r->sconf, &err);

    mdx_store_point_count(st, "acme", &n);
    mdx_store_close(st);
    return n;
}

#define TOPIC "modax/acme/press-1/sensor_data"

/* One bad message between two good ones: refused with 'reason', the good ones stored. */
static void expect_refused(const char *topic, const char *payload, size_t len, const char *reason)
{
    struct rig r;
    char good[256];
    int64_t ts = mdx_now_ms() - 60000;

    rig_init(&r, "engine-bad", 0);
    snprintf(good, sizeof(good), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":1,\"b\":2}}",
             (long long)ts);
    submit(&r, TOPIC, good);
    CHECK_EQ_INT(mdx_engine_submit(r.engine, topic, payload, len, mdx_now_ms()), MDX_OK);
    snprintf(good, sizeof(good), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":1,\"b\":2}}",
             (long long)ts + 1);
    submit(&r, TOPIC, good);
    rig_stop(&r);
    CHECK_EQ_INT(points(&r), 4);
    if (dead_count(&r, reason) != 1) {
        fprintf(stderr, "  expected one dead letter '%s'\n", reason);
        CHECK_EQ_INT(dead_count(&r, reason), 1);
    }
    rig_fini(&r);
}

#define REFUSED(topic, payload, reason) expect_refused(topic, payload, strlen(payload), reason)

static void malformed_json(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":1,}}", "malformed json"); }
static void truncated_payload(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":1", "malformed json"); }
static void empty_payload(void) { REFUSED(TOPIC, "", "empty payload"); }
static void wrong_type_string(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":\"1.5\"}}", "wrong type"); }
static void wrong_type_nested(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":{\"b\":1}}}", "wrong type"); }
static void nan_literal(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":NaN}}", "malformed json"); }
static void infinity_literal(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":Infinity}}", "malformed json"); }
static void overflow_1e999(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\":1e999}}", "non-finite number"); }
static void unknown_tenant(void) { REFUSED("modax/nobody/press-1/sensor_data", "{\"sensor_data\":{\"a\":1}}", "unknown tenant"); }
static void unregistered_device(void) { REFUSED("modax/acme/press-9/sensor_data", "{\"sensor_data\":{\"a\":1}}", "unknown device"); }
static void device_mismatch(void) { REFUSED(TOPIC, "{\"device_id\":\"press-2\",\"sensor_data\":{\"a\":1}}", "device mismatch"); }
static void topic_segment_illegal(void) { REFUSED("modax/acme/press#1/sensor_data", "{\"sensor_data\":{\"a\":1}}", "bad topic segment"); }
static void topic_segment_too_long(void)
{
    char topic[200];
    snprintf(topic, sizeof(topic), "modax/acme/%065d/sensor_data", 7);
    REFUSED(topic, "{\"sensor_data\":{\"a\":1}}", "bad topic segment");
}
static void invalid_utf8(void) { REFUSED(TOPIC, "{\"sensor_data\":{\"a\xc3\x28\":1}}", "invalid utf-8"); }

static void ten_mb_payload(void)
{
    size_t len = 10u << 20;
    char *big = malloc(len);

    memset(big, '1', len);
    memcpy(big, "{\"sensor_data\":{\"a\":", 20);
    expect_refused(TOPIC, big, len, "payload too large");
    free(big);
}

static void ten_thousand_sensors(void)
{
    size_t cap = 10000 * 16 + 64, used = 0;
    char *p = malloc(cap);

    used += (size_t)snprintf(p + used, cap - used, "{\"sensor_data\":{");
    for (int i = 0; i < 10000; i++) {
        used += (size_t)snprintf(p + used, cap - used, "%s\"s%d\":1", i ? "," : "", i);
    }
    snprintf(p + used, cap - used, "}}");
    REFUSED(TOPIC, p, "too many sensors");
    free(p);
}

static void unregistered_device_auto_registered_when_enabled(void)
{
    struct rig r;
    struct mdx_device_info info;

    rig_init(&r, "engine-auto", 1);
    submit(&r, "modax/acme/press-7/sensor_data", "{\"sensor_data\":{\"a\":1}}");
    submit(&r, "modax/other/press-7/sensor_data", "{\"sensor_data\":{\"a\":1}}");
    rig_stop(&r);
    rig_start(&r);
    CHECK_EQ_INT(mdx_store_device_get(r.store, "acme", "press-7", &info), MDX_OK);
    CHECK(info.auto_registered);
    CHECK_EQ_INT(mdx_store_device_get(r.store, "other", "press-7", &info), MDX_ENOTFOUND);
    rig_stop(&r);
    CHECK_EQ_INT(dead_count(&r, "unknown tenant"), 1);
    rig_fini(&r);
}

struct collect {
    int64_t ts[16];
    unsigned flags[16];
    double v[16];
    int n;
};

static int collect_point(void *arg, int64_t ts, double v, unsigned flags)
{
    struct collect *c = arg;

    if (c->n < 16) {
        c->ts[c->n] = ts;
        c->v[c->n] = v;
        c->flags[c->n] = flags;
    }
    c->n++;
    return MDX_OK;
}

static void query(struct rig *r, const char *sensor, struct collect *c)
{
    struct mdx_query q = {.tenant = "acme", .device = "press-1", .sensor = sensor,
                          .from_ms = 0, .to_ms = INT64_MAX / 2};
    int err;
    struct mdx_store *st = mdx_store_open(&r->sconf, &err);

    memset(c, 0, sizeof(*c));
    CHECK_EQ_INT(mdx_store_query_points(st, &q, collect_point, c), MDX_OK);
    mdx_store_close(st);
}

static void duplicates_stored_once(void)
{
    struct rig r;
    struct collect c;
    char msg[128];

    rig_init(&r, "engine-dup", 0);
    snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":1.25}}",
             (long long)(mdx_now_ms() - 1000));
    for (int i = 0; i < 3; i++) {
        submit(&r, TOPIC, msg);
    }
    rig_stop(&r);
    rig_start(&r); /* a redelivery after a restart too */
    submit(&r, TOPIC, msg);
    rig_stop(&r);
    query(&r, "a", &c);
    CHECK_EQ_INT(c.n, 1);
    CHECK(c.v[0] == 1.25);
    rig_fini(&r);
}

static void out_of_order_timestamps_stored_in_order(void)
{
    struct rig r;
    struct collect c;
    char msg[128];
    int64_t base = mdx_now_ms() - 100000;
    static const int order[] = {5, 1, 4, 2, 3};

    rig_init(&r, "engine-order", 0);
    for (int i = 0; i < 5; i++) {
        snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":%d}}",
                 (long long)(base + order[i] * 1000), order[i]);
        submit(&r, TOPIC, msg);
    }
    rig_stop(&r);
    query(&r, "a", &c);
    CHECK_EQ_INT(c.n, 5);
    for (int i = 0; i < 5 && i < c.n; i++) {
        CHECK_EQ_INT(c.ts[i], base + (i + 1) * 1000);
        CHECK(c.v[i] == i + 1);
    }
    rig_fini(&r);
}

static void clock_thirty_years_past_gets_receive_time_and_flag(void)
{
    struct rig r;
    struct collect c;
    int64_t before = mdx_now_ms();
    int64_t old = before - 30LL * 365 * 86400 * 1000;
    char msg[128];

    rig_init(&r, "engine-clock", 0);
    snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":3}}", (long long)old);
    submit(&r, TOPIC, msg);
    rig_stop(&r);
    query(&r, "a", &c);
    CHECK_EQ_INT(c.n, 1);
    CHECK(c.ts[0] >= before && c.ts[0] <= mdx_now_ms());
    CHECK(c.flags[0] & MDX_POINT_TS_SUBSTITUTED);
    rig_fini(&r);
}

static void field_form_and_batch_are_stored(void)
{
    struct rig r;
    struct collect c;
    char msg[512];
    int64_t ts = mdx_now_ms() - 5000;

    rig_init(&r, "engine-forms", 0);
    snprintf(msg, sizeof(msg),
             "[{\"timestamp\":%lld,\"device_id\":\"press-1\",\"motor_currents\":[5.1,5.0],"
             "\"vibration\":{\"x\":1.0,\"y\":1.1,\"z\":0.9,\"magnitude\":1.8},"
             "\"temperatures\":[45.0]},"
             "{\"timestamp\":%lld,\"device_id\":\"press-1\",\"sensor_data\":{\"temperature_0\":46}}]",
             (long long)ts, (long long)ts + 1000);
    submit(&r, TOPIC, msg);
    rig_stop(&r);
    CHECK_EQ_INT(points(&r), 8);
    query(&r, "temperature_0", &c);
    CHECK_EQ_INT(c.n, 2);
    query(&r, "vibration_magnitude", &c);
    CHECK_EQ_INT(c.n, 1);
    rig_fini(&r);
}

static int count_event(void *arg, const struct mdx_event *ev)
{
    (void)ev;
    (*(int *)arg)++;
    return MDX_OK;
}

static void safety_and_status_become_events(void)
{
    struct rig r;
    int err;
    int n = 0;

    rig_init(&r, "engine-events", 0);
    submit(&r, "modax/acme/press-1/safety",
           "{\"emergency_stop\":true,\"door_closed\":true,\"overload_detected\":false,"
           "\"temperature_ok\":true}");
    submit(&r, "modax/acme/press-1/status", "online");
    submit(&r, "modax/acme/press-1/safety", "{\"emergency_stop\":\"yes\"}");
    rig_stop(&r);
    {
        struct mdx_store *st = mdx_store_open(&r.sconf, &err);
        CHECK_EQ_INT(mdx_store_event_list(st, "acme", "press-1", 10, count_event, &n), MDX_OK);
        mdx_store_close(st);
    }
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(dead_count(&r, "wrong type"), 1);
    rig_fini(&r);
}


/* ---- issue 16 ---- */

static void nul_in_sensor_name(void)
{
    REFUSED(TOPIC, "{\"sensor_data\":{\"nul\\u0000name\":1}}", "nul character");
}
static void nul_in_device_id(void)
{
    REFUSED(TOPIC, "{\"device_id\":\"press-1\\u0000x\",\"sensor_data\":{\"a\":1}}",
            "nul character");
}
static void value_beyond_the_magnitude_limit(void)
{
    REFUSED(TOPIC, "{\"sensor_data\":{\"a\":1.7e308}}", "value out of range");
}

/*
 * The final statistics line is in the log even when a periodic one was
 * printed just before, within the repeat-suppression interval.
 */
static void final_statistics_line_is_always_logged(void)
{
    struct rig r;
    char log[300];
    static char buf[1 << 16];
    int saved = dup(2), fd;
    size_t n = 0;
    FILE *f;

    rig_init(&r, "engine-final-stats", 0);
    rig_stop(&r);
    snprintf(log, sizeof(log), "%s/stderr.log", r.dir);
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    close(fd);
    mdx_log_setup(MDX_LOG_INFO, MDX_LOG_JSON, 60000);
    r.econf.stats_interval_s = 1;
    rig_start(&r);
    int64_t end = mdx_now_ms() + 10000;
    while (mdx_now_ms() < end) {
        f = fopen(log, "r");
        n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        buf[n] = '\0';
        if (f != NULL) {
            fclose(f);
        }
        if (strstr(buf, "\"msg\":\"statistics\"") != NULL) {
            break; /* the periodic line */
        }
        mdx_sleep_ms(20);
    }
    rig_stop(&r);
    dup2(saved, 2);
    close(saved);
    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    f = fopen(log, "r");
    n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    buf[n] = '\0';
    if (f != NULL) {
        fclose(f);
    }
    CHECK(strstr(buf, "\"msg\":\"statistics\"") != NULL);
    CHECK(strstr(buf, "\"final\":1") != NULL);
    rig_fini(&r);
}

static void restart_replays_nothing_twice_and_spool_is_released(void)
{
    struct rig r;
    char msg[128];
    struct mdx_engine_stats s;

    rig_init(&r, "engine-restart", 0);
    for (int i = 0; i < 500; i++) {
        snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":%d}}",
                 (long long)(mdx_now_ms() - 100000 + i), i);
        submit(&r, TOPIC, msg);
    }
    rig_stop(&r);
    rig_start(&r);
    /*
     * One new message after the restart: once it is stored, the engine has gone
     * past whatever the spool held, so a replay would show in the count by then.
     */
    snprintf(msg, sizeof(msg), "{\"timestamp\":%lld,\"sensor_data\":{\"a\":%d}}",
             (long long)(mdx_now_ms() - 100000 + 500), 500);
    submit(&r, TOPIC, msg);
    WAIT_UNTIL((mdx_engine_stats(r.engine, &s), s.msgs_stored >= 1), 10000);
    CHECK_EQ_INT(s.msgs_stored, 1);
    CHECK_EQ_INT(s.points_written, 1);      /* nothing was re-read from the spool */
    WAIT_UNTIL((mdx_engine_stats(r.engine, &s), s.spool_pending_bytes == 0), 10000);
    CHECK_EQ_INT(s.spool_pending_bytes, 0);
    rig_stop(&r);
    CHECK_EQ_INT(points(&r), 501);
    rig_fini(&r);
}

static const struct mdx_test tests[] = {
    {"bad input: malformed JSON", malformed_json},
    {"bad input: truncated payload", truncated_payload},
    {"bad input: 10 MB payload", ten_mb_payload},
    {"bad input: empty payload", empty_payload},
    {"bad input: string where a number belongs", wrong_type_string},
    {"bad input: nested object where a number belongs", wrong_type_nested},
    {"bad input: NaN", nan_literal},
    {"bad input: Infinity", infinity_literal},
    {"bad input: 1e999", overflow_1e999},
    {"bad input: 10,000 sensors in one message", ten_thousand_sensors},
    {"bad input: unknown tenant", unknown_tenant},
    {"bad input: unregistered device with auto-register off", unregistered_device},
    {"bad input: device_id disagreeing with the topic", device_mismatch},
    {"bad input: topic segment with illegal characters", topic_segment_illegal},
    {"bad input: topic segment too long", topic_segment_too_long},
    {"bad input: invalid UTF-8", invalid_utf8},
    {"duplicate delivery of the same message is stored once", duplicates_stored_once},
    {"out-of-order timestamps are stored", out_of_order_timestamps_stored_in_order},
    {"clock 30 years in the past: receive time substituted and flagged",
     clock_thirty_years_past_gets_receive_time_and_flag},
    {"auto-register adds devices of known tenants only",
     unregistered_device_auto_registered_when_enabled},
    {"field form and batch arrays are stored", field_form_and_batch_are_stored},
    {"safety and status messages become events", safety_and_status_become_events},
    {"restart reads nothing twice and the spool is released",
     restart_replays_nothing_twice_and_spool_is_released},
    {"issue 16: bad input: NUL escape in a sensor name", nul_in_sensor_name},
    {"issue 16: bad input: NUL escape in device_id", nul_in_device_id},
    {"issue 16: bad input: value beyond 1e290", value_beyond_the_magnitude_limit},
    {"issue 16: the final statistics line is always logged",
     final_statistics_line_is_always_logged},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
