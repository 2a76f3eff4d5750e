/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_engine_alerting.c - the engine with its alerting stage, in-process:
 * alert changes commit with the points, and (issue 4) a webhook that
 * answers 500 or never answers does not slow the ingest: the same load is
 * timed with no sink, with a webhook that hangs (accepts, never answers)
 * and with one that answers 500. A rule for a device type fires for the
 * devices the store registers with that type: the type comes to the stage
 * with the registry's answer.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "modax/alert.h"
#include "modax/alerting.h"
#include "modax/clock.h"
#include "modax/engine.h"
#include "modax/log.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/support.h"

#define DEVICES 50
#define ROUNDS 200

/* A TCP server on loopback: 'hang' accepts and never answers, else answers 500. */
struct bad_server {
    int fd, port, hang;
    atomic_int stop;
    pthread_t th;
};

static void *serve_bad(void *arg)
{
    struct bad_server *b = arg;
    int held[256], n = 0;

    while (!atomic_load(&b->stop)) {
        int c = accept(b->fd, NULL, NULL);
        char buf[4096];
        if (c < 0) {
            continue;
        }
        if (b->hang) {
            if (n < 256) {
                held[n++] = c;
            } else {
                close(c);
            }
            continue;
        }
        if (read(c, buf, sizeof(buf)) > 0) {
            static const char r[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                                    "Connection: close\r\n\r\n";
            (void)!write(c, r, sizeof(r) - 1);
        }
        close(c);
    }
    while (n > 0) {
        close(held[--n]);
    }
    return NULL;
}

static int bad_start(struct bad_server *b, int hang)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    struct timeval tv = {0, 100000};

    memset(b, 0, sizeof(*b));
    b->hang = hang;
    b->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(b->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (bind(b->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(b->fd, 64) != 0 ||
        getsockname(b->fd, (struct sockaddr *)&a, &len) != 0) {
        return -1;
    }
    b->port = ntohs(a.sin_port);
    return pthread_create(&b->th, NULL, serve_bad, b);
}

static void bad_stop(struct bad_server *b)
{
    atomic_store(&b->stop, 1);
    pthread_join(b->th, NULL);
    close(b->fd);
}

/* Runs the load through an engine with alerting; returns the ms until all is stored. */
static double run_load(const char *webhook_url, int64_t *alerts_opened)
{
    char dir[256], db[300], spool[300], topic[128], payload[256];
    struct mdx_store_conf sc;
    struct mdx_engine_conf ec;
    struct mdx_alerting_conf ac = {.detect = 1, .rules = 1, .detector_threshold = 0.9,
                                   .detector_min_change = 0.02, .detector_warmup = 300,
                                   .series_max = 10000, .alerts_max = 10000,
                                   .auto_resolve_s = 300, .flap_s = 0, .stale_intervals = 30,
                                   .reload_s = 5};
    struct mdx_sink_conf kc = {.webhook_url = (char *)webhook_url, .webhook_secret = "",
                               .alertmanager_url = "", .timeout_ms = 2000, .queue_max = 100,
                               .retry_max_ms = 1000, .refresh_s = 60};
    struct mdx_store *st;
    struct mdx_engine *e;
    struct mdx_dispatch *d;
    struct mdx_alerting *a;
    struct mdx_engine_stats es;
    struct mdx_alerting_stats as;
    int err = 0, msgs = 0;
    int64_t t0, ts = mdx_now_ms() - 3600000;
    double ms;

    tmp_make(dir, sizeof(dir), "engine-alerting");
    snprintf(db, sizeof(db), "%s/modax.db", dir);
    snprintf(spool, sizeof(spool), "%s/spool", dir);
    sc = (struct mdx_store_conf){.backend = "sqlite", .sqlite_path = db, .busy_timeout_ms = 2000,
                                 .chunk_points = 64, .cache_series = 1000,
                                 .deadletter_max = 1000};
    ec = (struct mdx_engine_conf){.spool_dir = spool, .spool_max_mb = 64, .spool_segment_mb = 4,
                                  .spool_fsync_ms = -1, .max_payload_bytes = 262144,
                                  .max_points_per_msg = 4096, .batch_msgs = 500, .batch_ms = 20,
                                  .auto_register = 1, .registry_cache = 1000,
                                  .retry_max_ms = 100, .stats_interval_s = 0,
                                  .worker = "test-worker"};
    st = mdx_store_open(&sc, &err);
    CHECK(st != NULL);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    d = mdx_dispatch_create(&kc, &err);
    CHECK(d != NULL);
    e = mdx_engine_create(&ec, st, &err);
    a = mdx_alerting_create(&ac, st, d, NULL, NULL, &err);
    CHECK(e != NULL && a != NULL);
    CHECK_EQ_INT(mdx_engine_add_stage(e, &mdx_alerting_stage, a), MDX_OK);
    CHECK_EQ_INT(mdx_engine_start(e), MDX_OK);
    t0 = mdx_mono_us();
    /* Every device's emergency stop goes on and off each round: 2 alert changes per round. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < DEVICES; i++) {
            snprintf(topic, sizeof(topic), "modax/acme/m-%03d/safety", i);
            snprintf(payload, sizeof(payload), "{\"timestamp\":%lld,\"emergency_stop\":%s}",
                     (long long)ts, r % 2 ? "false" : "true");
            CHECK_EQ_INT(mdx_engine_submit(e, topic, payload, strlen(payload), mdx_now_ms()),
                         MDX_OK);
            snprintf(topic, sizeof(topic), "modax/acme/m-%03d/sensor_data", i);
            snprintf(payload, sizeof(payload),
                     "{\"timestamp\":%lld,\"sensor_data\":{\"current_mean\":%s,"
                     "\"temperature_mean\":45.%d}}",
                     (long long)ts, r % 4 == 1 ? "12.5" : "5.1", r % 10);
            CHECK_EQ_INT(mdx_engine_submit(e, topic, payload, strlen(payload), mdx_now_ms()),
                         MDX_OK);
            msgs += 2;
        }
        ts += 1000;
    }
    for (int i = 0; i < 3000; i++) {
        mdx_engine_stats(e, &es);
        if (es.msgs_stored >= (uint64_t)msgs) {
            break;
        }
        mdx_sleep_ms(5);
    }
    ms = (double)(mdx_mono_us() - t0) / 1000.0;
    CHECK_EQ_INT(es.msgs_stored, msgs);
    mdx_engine_stop(e, 5000);
    mdx_alerting_stats(a, &as);
    *alerts_opened = (int64_t)(as.opened + as.reopened);
    mdx_engine_destroy(e);
    mdx_alerting_destroy(a);
    mdx_dispatch_destroy(d, 0);
    mdx_store_close(st);
    tmp_remove(dir);
    return ms;
}

static void issue4_failing_webhook_does_not_slow_ingest(void)
{
    struct bad_server hang, err500;
    char url_hang[64], url_500[64];
    int64_t opened_none, opened_hang, opened_500;
    double none, with_hang, with_500;

    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    CHECK(bad_start(&hang, 1) == 0);
    CHECK(bad_start(&err500, 0) == 0);
    snprintf(url_hang, sizeof(url_hang), "http://127.0.0.1:%d/hook", hang.port);
    snprintf(url_500, sizeof(url_500), "http://127.0.0.1:%d/hook", err500.port);
    none = run_load("", &opened_none);
    with_hang = run_load(url_hang, &opened_hang);
    with_500 = run_load(url_500, &opened_500);
    fprintf(stderr,
            "  %d messages: no sink %.0f ms, hanging webhook %.0f ms, webhook 500 %.0f ms\n",
            DEVICES * ROUNDS * 2, none, with_hang, with_500);
    /* Alerts were raised (and thus delivered, or tried) in each run. */
    CHECK(opened_none >= DEVICES * ROUNDS / 2);
    CHECK_EQ_INT(opened_hang, opened_none);
    CHECK_EQ_INT(opened_500, opened_none);
    /* The dispatcher never blocks the writer; a generous bound for a shared machine. */
    CHECK(with_hang < none * 2 + 1000);
    CHECK(with_500 < none * 2 + 1000);
    bad_stop(&hang);
    bad_stop(&err500);
}

/* Counts the alerts of rule "overpressure" listed. */
static int count_overpressure(void *arg, const struct mdx_alert *al)
{
    if (strcmp(al->source, "rule:overpressure") == 0) {
        (*(int *)arg)++;
    }
    return MDX_OK;
}

static int overpressure_alerts(struct mdx_store *st, const char *device)
{
    struct mdx_alert_filter f = {"acme", device, -1, -1, 0};
    int n = 0;

    CHECK_EQ_INT(mdx_store_alert_list(st, &f, count_overpressure, &n), MDX_OK);
    return n;
}

static void rule_for_device_type_fires_through_engine(void)
{
    char dir[256], db[300], spool[300], topic[128], payload[256];
    struct mdx_store_conf sc;
    struct mdx_engine_conf ec;
    struct mdx_alerting_conf ac = {.detect = 0, .rules = 1, .detector_threshold = 0.9,
                                   .detector_min_change = 0.02, .detector_warmup = 300,
                                   .series_max = 1000, .alerts_max = 1000,
                                   .auto_resolve_s = 300, .flap_s = 600, .stale_intervals = 0,
                                   .reload_s = 5};
    struct mdx_rule r;
    struct mdx_store *st;
    struct mdx_engine *e;
    struct mdx_alerting *a;
    struct mdx_engine_stats es;
    const char *devices[] = {"press-1", "oven-1", "plain-1"};
    int err = 0;
    int64_t ts = mdx_now_ms() - 60000, deadline;

    mdx_log_setup(MDX_LOG_ERROR, MDX_LOG_TEXT, 0);
    tmp_make(dir, sizeof(dir), "engine-type-rule");
    snprintf(db, sizeof(db), "%s/modax.db", dir);
    snprintf(spool, sizeof(spool), "%s/spool", dir);
    sc = (struct mdx_store_conf){.backend = "sqlite", .sqlite_path = db, .busy_timeout_ms = 2000,
                                 .chunk_points = 64, .cache_series = 1000,
                                 .deadletter_max = 1000};
    ec = (struct mdx_engine_conf){.spool_dir = spool, .spool_max_mb = 64, .spool_segment_mb = 4,
                                  .spool_fsync_ms = -1, .max_payload_bytes = 262144,
                                  .max_points_per_msg = 4096, .batch_msgs = 500, .batch_ms = 20,
                                  .auto_register = 0, .registry_cache = 1000,
                                  .retry_max_ms = 100, .stats_interval_s = 0,
                                  .worker = "test-worker"};
    st = mdx_store_open(&sc, &err);
    CHECK(st != NULL);
    CHECK_EQ_INT(mdx_store_tenant_add(st, "acme"), MDX_OK);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(mdx_store_device_add(st, "acme", devices[i], 0), MDX_OK);
    }
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "press-1", "press"), MDX_OK);
    CHECK_EQ_INT(mdx_store_device_set_type(st, "acme", "oven-1", "oven"), MDX_OK);
    memset(&r, 0, sizeof(r));
    snprintf(r.tenant, sizeof(r.tenant), "acme");
    snprintf(r.name, sizeof(r.name), "overpressure");
    snprintf(r.device_type, sizeof(r.device_type), "press");
    snprintf(r.sensor, sizeof(r.sensor), "pressure");
    r.cmp = MDX_CMP_GT;
    r.threshold = 6.0;
    r.severity = MDX_SEVERITY_CRITICAL;
    r.enabled = 1;
    CHECK_EQ_INT(mdx_store_rule_put(st, &r), MDX_OK);

    e = mdx_engine_create(&ec, st, &err);
    a = mdx_alerting_create(&ac, st, NULL, NULL, NULL, &err);
    CHECK(e != NULL && a != NULL);
    CHECK_EQ_INT(mdx_engine_add_stage(e, &mdx_alerting_stage, a), MDX_OK);
    CHECK_EQ_INT(mdx_engine_start(e), MDX_OK);
    for (size_t i = 0; i < 3; i++) {
        snprintf(topic, sizeof(topic), "modax/acme/%s/sensor_data", devices[i]);
        snprintf(payload, sizeof(payload),
                 "{\"timestamp\":%lld,\"sensor_data\":{\"pressure\":7.5}}", (long long)ts);
        CHECK_EQ_INT(mdx_engine_submit(e, topic, payload, strlen(payload), mdx_now_ms()),
                     MDX_OK);
    }
    deadline = mdx_mono_us() + 10000000;
    do {
        mdx_sleep_ms(5);
        mdx_engine_stats(e, &es);
    } while (es.msgs_stored < 3 && mdx_mono_us() < deadline);
    CHECK_EQ_INT(es.msgs_stored, 3);
    mdx_engine_stop(e, 5000);
    /* Only the press is over its type's limit; the oven and the untyped device have no rule. */
    CHECK_EQ_INT(overpressure_alerts(st, "press-1"), 1);
    CHECK_EQ_INT(overpressure_alerts(st, "oven-1"), 0);
    CHECK_EQ_INT(overpressure_alerts(st, "plain-1"), 0);
    mdx_engine_destroy(e);
    mdx_alerting_destroy(a);
    mdx_store_close(st);
    tmp_remove(dir);
}

static const struct mdx_test tests[] = {
    {"a rule for a device type fires through the engine for a device of that type",
     rule_for_device_type_fires_through_engine},
    {"issue 4: webhook hanging or answering 500 does not slow the ingest",
     issue4_failing_webhook_does_not_slow_ingest},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
