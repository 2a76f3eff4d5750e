/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ingest.c - end-to-end ingest throughput against the broker's ceiling.
 *
 * Starts its own Mosquitto (the project's config) and, in the same run:
 *  1. ceiling: publishes the load to a subscriber process that only counts
 *     (QoS 1, persistent session, like the ingest) and times its delivery;
 *  2. ingest: publishes the same load with `modax serve` subscribed, and
 *     times it until every point is in the store;
 * then checks that every point is stored exactly once and prints
 *   ingest: msgs=… points=… lost=… dup=… points_per_s=… ceiling_points_per_s=…
 *           ratio=… cpu_us_per_msg=… rss_mb=… alerting=… roles=…
 * Options: --msgs N (500000), --devices N (100), --batch N readings per
 * message (1), --publishers N (4), --store sqlite|postgresql (sqlite; for
 * postgresql it starts its own throwaway PostgreSQL 15 cluster, fsync on,
 * removed at the end), --no-alerting (the detector and the tenants' default
 * rules off, alert.detect = alert.rules = false: the bare ingest path; by
 * default both are on, as `modax serve` runs them), --roles LIST (the roles of
 * `modax serve` under test; default its own default, ingest,api,archiver,
 * as `make run` and a single-node deployment run it; the line says which
 * ran as roles=).
 *
 * --broker-plugin runs all of it twice in the same invocation, first
 * without and then with the auth plugin (modax_auth.so): every device
 * publishes over its own connection (client id = device id; with the
 * plugin, user name = device id and its secret from `modax device add
 * --secret`), `modax serve` and the counting subscriber as the service
 * identity. Both runs use the same connections, so the difference is the
 * plugin's. It prints the usual line of the plugged run, with conns= and
 * plugin_ratio= (plugged points/s over unplugged).
 *
 * --source kafka reads the same load from Kafka instead: librdkafka's mock
 * cluster in this process (one partition per two devices, records keyed
 * and headed by device), `modax serve` with ingest.source = kafka, and
 * --workers N of them in one consumer group. The ceiling is a counting
 * consumer in this process reading the same records through the same
 * mock brokers. The mock keeps about 5 MB per partition, so the load is
 * produced while it is consumed, as in production.
 *
 * --source pubsub reads it from Google's Pub/Sub emulator (started here;
 * tests/support/pubsub_emu.h), published over REST 1000 messages per
 * request with tenant and deviceId attributes, into one `modax serve`
 * with ingest.source = pubsub. No ceiling is measured (ratio 0); the
 * emulator, a Java process on the same cores, is the slow part.
 */
#include <mosquitto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/encode.h"
#include "bench_util.h"
#include "support/broker_auth.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "modax/status.h"
#include "modax/store.h"
#include "support/kafka_mock.h"
#include "support/pubsub_emu.h"
#include "support/support.h"
#include <librdkafka/rdkafka.h>

#define SENSORS 6
#define TS_STEP_MS 10

#define DEV_WINDOW 100 /* unacknowledged messages per device connection */
#define SVC_NAME "modax-ingest" /* serve's default mqtt.client_id; the service identity */
#define SERVE_ROLES "ingest,api,archiver" /* `modax serve`'s default roles */

/* One device's own connection (--broker-plugin), driven by one thread at a time. */
struct dev_conn {
    struct mosquitto *m;
    long sent, acked;
    int connack; /* -1 before the CONNACK, else its code */
};

struct load {
    int msgs, devices, batch, publishers;
    const char *roles;            /* --roles of `modax serve` */
    int port;
    int64_t base_ms;
    struct dev_conn *conns;       /* devices long with per-device connections; else NULL */
    char (*secrets)[64];          /* the devices' secrets with the plugin; else NULL */
};

struct pub_job {
    const struct load *load;
    int index;
    pthread_t thread;
};

struct result {
    double pps, ceiling_pps, cpu_us, rss;
    long lost, dup;
};

/* Message k of device d, as the edge agent sends it: one reading or an array of 'batch'. */
static size_t format_msg(char *buf, size_t len, const struct load *ld, int d, int k)
{
    size_t used = 0;

    if (ld->batch > 1) {
        used += (size_t)snprintf(buf + used, len - used, "[");
    }
    for (int j = 0; j < ld->batch; j++) {
        int64_t ts = ld->base_ms + ((int64_t)k * ld->batch + j) * TS_STEP_MS;
        int r = (k * 7 + j * 13 + d) % 100;
        used += (size_t)snprintf(buf + used, len - used,
                                 "%s{\"device_id\":\"dev-%04d\",\"timestamp\":%lld,\"sensor_data\":"
                                 "{\"current_mean\":%d.%02d,\"current_max\":%d.%02d,"
                                 "\"vibration_x\":0.%02d,\"vibration_y\":1.%02d,"
                                 "\"vibration_magnitude\":1.%02d,\"temperature_mean\":4%d.%02d}}",
                                 j > 0 ? "," : "", d, (long long)ts, 4 + r % 3, r, 6 + r % 2,
                                 (r * 3) % 100, r, (r * 7) % 100, (r * 11) % 100, r % 10, r);
    }
    if (ld->batch > 1) {
        used += (size_t)snprintf(buf + used, len - used, "]");
    }
    return used;
}

static void *publisher_main(void *arg)
{
    struct pub_job *job = arg;
    const struct load *ld = job->load;
    char id[64], topic[128];
    size_t cap = 512 * (size_t)ld->batch + 64;
    char *buf = mdx_malloc(cap);
    struct pub *p;

    snprintf(id, sizeof(id), "bench-pub-%d-%d", job->index, (int)getpid());
    p = pub_connect(ld->port, id);
    if (p == NULL) {
        fprintf(stderr, "bench_ingest: publisher cannot connect\n");
        exit(1);
    }
    /* Publisher i sends for devices i, i+P, i+2P, ... interleaved, as a fleet does. */
    int per_dev = ld->msgs / ld->devices;
    for (int k = 0; k < per_dev; k++) {
        for (int d = job->index; d < ld->devices; d += ld->publishers) {
            size_t n = format_msg(buf, cap, ld, d, k);
            snprintf(topic, sizeof(topic), "modax/bench/dev-%04d/sensor_data", d);
            pub_send(p, topic, buf, n);
        }
    }
    pub_wait_acked(p, 600000);
    pub_close(p);
    mdx_free(buf);
    return NULL;
}

static void dev_on_publish(struct mosquitto *m, void *obj, int mid)
{
    (void)m;
    (void)mid;
    ((struct dev_conn *)obj)->acked++;
}

static void dev_on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    ((struct dev_conn *)obj)->connack = rc;
}

/* Opens one connection per device, as the device (with its secret if 'auth'); 0 or -1. */
static int conns_open(struct load *ld, int auth)
{
    ld->conns = mdx_calloc((size_t)ld->devices, sizeof(*ld->conns));
    mosquitto_lib_init();
    for (int d = 0; d < ld->devices; d++) {
        struct dev_conn *c = &ld->conns[d];
        char id[32];

        snprintf(id, sizeof(id), "dev-%04d", d);
        c->connack = -1;
        c->m = mosquitto_new(id, true, c);
        mosquitto_publish_callback_set(c->m, dev_on_publish);
        mosquitto_connect_callback_set(c->m, dev_on_connect);
        mosquitto_max_inflight_messages_set(c->m, DEV_WINDOW);
        if (auth) {
            mosquitto_username_pw_set(c->m, id, ld->secrets[d]);
        }
        if (mosquitto_connect(c->m, "127.0.0.1", ld->port, 60) != MOSQ_ERR_SUCCESS) {
            fprintf(stderr, "bench_ingest: %s cannot connect\n", id);
            return -1;
        }
    }
    for (int d = 0; d < ld->devices; d++) {
        struct dev_conn *c = &ld->conns[d];
        int64_t deadline = mdx_mono_us() + 30000000;

        while (c->connack < 0 && mdx_mono_us() < deadline) {
            mosquitto_loop(c->m, 50, 1);
        }
        if (c->connack != 0) {
            fprintf(stderr, "bench_ingest: dev-%04d refused by the broker (CONNACK %d)\n", d,
                    c->connack);
            return -1;
        }
    }
    return 0;
}

static void conns_close(struct load *ld)
{
    for (int d = 0; ld->conns != NULL && d < ld->devices; d++) {
        if (ld->conns[d].m != NULL) {
            mosquitto_disconnect(ld->conns[d].m);
            mosquitto_loop(ld->conns[d].m, 0, 1);
            mosquitto_destroy(ld->conns[d].m);
        }
    }
    mdx_free(ld->conns);
    ld->conns = NULL;
}

/* Publisher i drives the connections of devices i, i+P, ... and sends their messages. */
static void *conn_publisher_main(void *arg)
{
    struct pub_job *job = arg;
    const struct load *ld = job->load;
    char topic[128];
    size_t cap = 512 * (size_t)ld->batch + 64;
    char *buf = mdx_malloc(cap);
    int per_dev = ld->msgs / ld->devices, open = 1;

    for (int k = 0; k < per_dev; k++) {
        for (int d = job->index; d < ld->devices; d += ld->publishers) {
            struct dev_conn *c = &ld->conns[d];
            size_t n = format_msg(buf, cap, ld, d, k);

            while (c->sent - c->acked >= DEV_WINDOW) {
                mosquitto_loop(c->m, 10, 1);
            }
            snprintf(topic, sizeof(topic), "modax/bench/dev-%04d/sensor_data", d);
            if (mosquitto_publish(c->m, NULL, topic, (int)n, buf, 1, false) == MOSQ_ERR_SUCCESS) {
                c->sent++;
            }
            mosquitto_loop(c->m, 0, 1);
        }
    }
    while (open) {
        open = 0;
        for (int d = job->index; d < ld->devices; d += ld->publishers) {
            struct dev_conn *c = &ld->conns[d];

            if (c->acked < c->sent) {
                open = 1;
                mosquitto_loop(c->m, 5, 1);
            }
        }
    }
    mdx_free(buf);
    return NULL;
}

static void publish_all(struct load *ld)
{
    struct pub_job jobs[16];

    for (int i = 0; i < ld->publishers; i++) {
        jobs[i].load = ld;
        jobs[i].index = i;
        pthread_create(&jobs[i].thread, NULL,
                       ld->conns != NULL ? conn_publisher_main : publisher_main, &jobs[i]);
    }
    for (int i = 0; i < ld->publishers; i++) {
        pthread_join(jobs[i].thread, NULL);
    }
}

/* --- the counting subscriber, run as a child process --- */

static atomic_long counted;

static void count_msg(struct mosquitto *m, void *o, const struct mosquitto_message *msg)
{
    (void)m;
    (void)o;
    (void)msg;
    atomic_fetch_add(&counted, 1);
}

static void count_connect(struct mosquitto *m, void *o, int rc)
{
    (void)o;
    if (rc == 0) {
        mosquitto_subscribe(m, NULL, "modax/+/+/sensor_data", 1);
    }
}

/* Counts 'want' messages, then prints the microseconds from the first to the last. */
static int run_counter(int port, long want, const char *ready)
{
    struct mosquitto *m;
    int64_t first = 0;

    mosquitto_lib_init();
    m = mosquitto_new(getenv("MODAX_MQTT_USERNAME") != NULL ? SVC_NAME "-ceiling"
                                                            : "bench-ceiling",
                      false, NULL);
    mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
    if (getenv("MODAX_MQTT_USERNAME") != NULL) {
        mosquitto_username_pw_set(m, getenv("MODAX_MQTT_USERNAME"),
                                  getenv("MODAX_MQTT_PASSWORD"));
    }
    mosquitto_connect_callback_set(m, count_connect);
    mosquitto_message_callback_set(m, count_msg);
    if (mosquitto_connect(m, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
        return 1;
    }
    mosquitto_loop(m, 1000, 1);
    mosquitto_loop(m, 1000, 1);
    fclose(fopen(ready, "w"));
    while (atomic_load(&counted) < want) {
        if (mosquitto_loop(m, 1000, 1) != MOSQ_ERR_SUCCESS) {
            mosquitto_reconnect(m);
        }
        if (first == 0 && atomic_load(&counted) > 0) {
            first = mdx_mono_us();
        }
    }
    printf("%lld\n", (long long)(mdx_mono_us() - first));
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return 0;
}

static double measure_ceiling(struct load *ld, const char *self, const char *dir)
{
    char port[16], want[32], ready[600], outp[600];
    int fds[2];
    pid_t pid;
    int64_t t0, t1;
    char buf[64] = {0};
    ssize_t n;

    snprintf(port, sizeof(port), "%d", ld->port);
    snprintf(want, sizeof(want), "%d", ld->msgs);
    snprintf(ready, sizeof(ready), "%s/counter.ready", dir);
    snprintf(outp, sizeof(outp), "%s/counter.out", dir);
    if (pipe(fds) != 0) {
        return 0;
    }
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        execl(self, self, "--count-subscriber", port, want, ready, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (access(ready, F_OK) != 0) {
        mdx_sleep_ms(20);
    }
    t0 = mdx_mono_us();
    publish_all(ld);
    n = read(fds[0], buf, sizeof(buf) - 1);
    t1 = mdx_mono_us();
    waitpid(pid, NULL, 0);
    close(fds[0]);
    (void)t1;
    if (n <= 0) {
        return 0;
    }
    /* From the first publish to the last delivery. */
    return (double)(t1 - t0) / 1e6;
}

static long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[2048];
    unsigned long ut = 0, st = 0;
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
        if (f) fclose(f);
        return -1;
    }
    fclose(f);
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st) != 2) {
        return -1;
    }
    return (long)(ut + st);
}

static double proc_rss_mb(pid_t pid)
{
    char path[64], line[256];
    long kb = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f) fclose(f);
    return kb / 1024.0;
}

struct verify {
    int64_t expect_next;
    int64_t step;
    long found, dup, out_of_place;
    int64_t last;
};

static int verify_point(void *arg, int64_t ts, double v, unsigned flags)
{
    struct verify *vf = arg;

    (void)v;
    (void)flags;
    if (vf->found > 0 && ts == vf->last) {
        vf->dup++;
    }
    vf->last = ts;
    vf->found++;
    return MDX_OK;
}

/* Counts, per device and sensor, the points in the expected range. */
static void verify_store(const char *dir, const struct load *ld, long *lost, long *dup)
{
    static const char *const sensors[SENSORS] = {"current_mean", "current_max", "vibration_x",
                                                 "vibration_y", "vibration_magnitude",
                                                 "temperature_mean"};
    char dev[32];
    struct mdx_store *st;
    long per_series = (long)(ld->msgs / ld->devices) * ld->batch;

    *lost = *dup = 0;
    st = test_store_open(dir); /* the back end modax serve used */
    if (st == NULL) {
        *lost = -1;
        return;
    }
    for (int d = 0; d < ld->devices; d++) {
        snprintf(dev, sizeof(dev), "dev-%04d", d);
        for (int s = 0; s < SENSORS; s++) {
            struct verify vf = {0};
            struct mdx_query q = {.tenant = "bench", .device = dev, .sensor = sensors[s],
                                  .from_ms = ld->base_ms,
                                  .to_ms = ld->base_ms + per_series * TS_STEP_MS};
            mdx_store_query_points(st, &q, verify_point, &vf);
            *dup += vf.dup;
            *lost += per_series - (vf.found - vf.dup);
        }
    }
    mdx_store_close(st);
}

/* First line of 'out' (a secret printed alone on it) into 'dst'. */
static void first_line(const char *out, char *dst, size_t cap)
{
    size_t n = strcspn(out, "\n");

    snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), out);
}

/*
 * With the plugin: the tenant, every device with a secret and the service
 * identity, in the store of 'dir' (modax_env() already pointed there).
 */
static int provision(struct load *ld, char *svc_secret, size_t cap)
{
    char out[4096], dev[32];

    if (modax_run(out, sizeof(out), "tenant", "add", "bench", NULL) != 0 ||
        modax_run(out, sizeof(out), "identity", "add", "--service", SVC_NAME, NULL) != 0) {
        fprintf(stderr, "bench_ingest: cannot provision the tenant or the service identity\n");
        return -1;
    }
    first_line(out, svc_secret, cap);
    for (int d = 0; d < ld->devices; d++) {
        snprintf(dev, sizeof(dev), "dev-%04d", d);
        /* A failed add (a busy machine) is retried; if it got in, a new secret is issued. */
        int rc = modax_run(out, sizeof(out), "device", "add", "bench", dev, "--secret", NULL);
        for (int attempt = 0; rc != 0 && attempt < 3; attempt++) {
            mdx_sleep_ms(200);
            rc = modax_run(out, sizeof(out), "device", "rotate-secret", "bench", dev, NULL);
            if (rc != 0) {
                rc = modax_run(out, sizeof(out), "device", "add", "bench", dev, "--secret", NULL);
            }
        }
        if (rc != 0) {
            char err[1024] = "";
            modax_stderr(err, sizeof(err), "device", "show", "bench", dev, NULL);
            fprintf(stderr, "bench_ingest: cannot add %s with a secret (exit %d) %s\n", dev, rc,
                    err);
            return -1;
        }
        first_line(out, ld->secrets[d], sizeof(ld->secrets[d]));
    }
    setenv("MODAX_MQTT_USERNAME", SVC_NAME, 1);
    setenv("MODAX_MQTT_PASSWORD", svc_secret, 1);
    return 0;
}

/* Starts the broker for one phase in 'dir': plain, or with the plugin and provisioned. */
static int phase_broker(struct broker *b, struct load *ld, const char *dir, int plugin)
{
    char svc[128];

    unsetenv("MODAX_MQTT_USERNAME");
    unsetenv("MODAX_MQTT_PASSWORD");
    if (!plugin) {
        if (broker_start(b, dir, 0) != 0) {
            return -1;
        }
        ld->port = b->port;
        modax_env(dir, b->port);
        return 0;
    }
    b->port = free_port();
    ld->port = b->port;
    modax_env(dir, b->port);
    if (provision(ld, svc, sizeof(svc)) != 0 || broker_start_auth(b, dir, b->port, NULL) != 0) {
        return -1;
    }
    return 0;
}

/* One whole benchmark (ceiling, then ingest) into *r; 'plugin' loads the auth plugin. */
static int run_pass(struct load *ld, const char *self, int alerting, int per_device, int plugin,
                    struct result *r)
{
    char dir[256], out[4096];
    struct broker b;
    struct serve s;
    double ceiling_s, ingest_s;
    long ticks0, ticks1;
    int64_t points = (int64_t)ld->msgs * ld->batch * SENSORS, t0, got;

    /* 1. The broker's ceiling. */
    tmp_make(dir, sizeof(dir), "bench-ceiling");
    if (phase_broker(&b, ld, dir, plugin) != 0 || (per_device && conns_open(ld, plugin) != 0)) {
        return -1;
    }
    ceiling_s = measure_ceiling(ld, self, dir);
    conns_close(ld);
    broker_stop(&b, SIGTERM);
    tmp_remove(dir);

    /* 2. The ingest, same load, fresh broker and store. */
    tmp_make(dir, sizeof(dir), "bench-ingest");
    if (phase_broker(&b, ld, dir, plugin) != 0) {
        return -1;
    }
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    setenv("MODAX_ALERT_DETECT", alerting ? "true" : "false", 1);
    setenv("MODAX_ALERT_RULES", alerting ? "true" : "false", 1);
    setenv("MODAX_LOG_LEVEL", "warn", 0); /* MODAX_LOG_LEVEL=debug shows batch timings */
    if ((!plugin && modax_run(out, sizeof(out), "tenant", "add", "bench", NULL) != 0) ||
        serve_start_roles(&s, dir, b.port, ld->roles) != 0) {
        fprintf(stderr, "bench_ingest: cannot start modax serve; see %s/serve.log\n", dir);
        return -1;
    }
    if (per_device && conns_open(ld, plugin) != 0) {
        return -1;
    }
    /* Warm the registry so auto-registration is not timed. */
    if (per_device) {
        struct load warm = *ld;
        warm.base_ms = ld->base_ms - 86400000LL;
        warm.batch = 1;
        warm.msgs = ld->devices;
        publish_all(&warm);
        wait_points(dir, "bench", (int64_t)ld->devices * SENSORS, 30000);
    } else {
        struct pub *p = pub_connect(b.port, "bench-warm");
        struct load warm = *ld;
        char buf[1024];
        warm.base_ms = ld->base_ms - 86400000LL;
        warm.batch = 1;
        for (int d = 0; d < ld->devices; d++) {
            char topic[128];
            size_t len = format_msg(buf, sizeof(buf), &warm, d, 0);
            snprintf(topic, sizeof(topic), "modax/bench/dev-%04d/sensor_data", d);
            pub_send(p, topic, buf, len);
        }
        pub_wait_acked(p, 10000);
        pub_close(p);
        wait_points(dir, "bench", (int64_t)ld->devices * SENSORS, 30000);
    }
    /* What setting up wrote (a new PostgreSQL cluster is written unsynced) goes to disk
     * now, not into the timed run's fsyncs. */
    sync();
    ticks0 = proc_cpu_ticks(s.pid);
    t0 = mdx_mono_us();
    publish_all(ld);
    got = wait_points(dir, "bench", points + (int64_t)ld->devices * SENSORS, 600000);
    ingest_s = (double)(mdx_mono_us() - t0) / 1e6;
    ticks1 = proc_cpu_ticks(s.pid);
    r->rss = proc_rss_mb(s.pid);
    conns_close(ld);
    serve_stop(&s, SIGTERM);
    broker_stop(&b, SIGTERM);
    verify_store(dir, ld, &r->lost, &r->dup);
    if (got < points) {
        fprintf(stderr, "bench_ingest: only %lld of %lld points arrived\n", (long long)got,
                (long long)points);
    }
    r->pps = (double)points / ingest_s;
    r->ceiling_pps = ceiling_s > 0 ? (double)points / ceiling_s : 0;
    r->cpu_us = (double)(ticks1 - ticks0) * (1e6 / (double)sysconf(_SC_CLK_TCK)) / ld->msgs;
    tmp_remove(dir);
    unsetenv("MODAX_MQTT_USERNAME");
    unsetenv("MODAX_MQTT_PASSWORD");
    return 0;
}

/* ---- --source kafka ---- */

#define KAFKA_WORKERS_MAX 8

static int kafka_partitions(const struct load *ld)
{
    return ld->devices < 100 ? (ld->devices + 1) / 2 : 50;
}

/* The whole load (or one message per device with warm) into 'topic'; 0 on success. */
static int kafka_produce_load(struct kmock *k, const char *topic, const struct load *ld)
{
    size_t cap = 512 * (size_t)ld->batch + 64;
    char *buf = mdx_malloc(cap), dev[32];
    int per_dev = ld->msgs / ld->devices, parts = kafka_partitions(ld), rc = 0;

    for (int n = 0; buf != NULL && rc == 0 && n < per_dev; n++) {
        for (int d = 0; rc == 0 && d < ld->devices; d++) {
            size_t len = format_msg(buf, cap, ld, d, n);
            const char *hdrs[] = {"tenant", "bench", "device", dev, NULL};
            snprintf(dev, sizeof(dev), "dev-%04d", d);
            rc = kmock_produce(k, topic, d % parts, dev, hdrs, buf, len);
        }
    }
    mdx_free(buf);
    return buf == NULL || rc != 0 || kmock_flush(k, 600000) != 0 ? -1 : 0;
}

struct kafka_counter {
    rd_kafka_t *rk;
    long want;
    atomic_long got;
    pthread_t thread;
};

static void *kafka_count_main(void *arg)
{
    struct kafka_counter *c = arg;
    int64_t deadline = mdx_mono_us() + 600000000;

    while (atomic_load(&c->got) < c->want && mdx_mono_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
        if (m != NULL) {
            if (m->err == 0) {
                atomic_fetch_add(&c->got, 1);
            }
            rd_kafka_message_destroy(m);
        }
    }
    return NULL;
}

/*
 * The ceiling: seconds from the first record produced until a consumer that only
 * counts (its own thread, same mock brokers) has read the whole load; 0 on failure.
 */
static double kafka_ceiling(struct kmock *k, const struct load *ld)
{
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l;
    struct kafka_counter cnt = {.want = ld->msgs};
    int64_t t0, deadline;

    if (kmock_topic(k, "ceiling", kafka_partitions(ld)) != 0 ||
        rd_kafka_conf_set(c, "bootstrap.servers", kmock_bootstraps(k), err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(c, "group.id", "ceiling", err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", err, sizeof(err)) != 0 ||
        (cnt.rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err))) == NULL) {
        fprintf(stderr, "bench_ingest: ceiling consumer: %s\n", err);
        return 0;
    }
    rd_kafka_poll_set_consumer(cnt.rk);
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "ceiling", RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(cnt.rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    /* Joined once it has an assignment (nothing is produced yet). */
    for (deadline = mdx_mono_us() + 30000000; mdx_mono_us() < deadline;) {
        rd_kafka_topic_partition_list_t *a = NULL;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cnt.rk, 50);
        int joined;
        if (m != NULL) {
            rd_kafka_message_destroy(m);
        }
        joined = rd_kafka_assignment(cnt.rk, &a) == 0 && a != NULL && a->cnt > 0;
        if (a != NULL) {
            rd_kafka_topic_partition_list_destroy(a);
        }
        if (joined) {
            break;
        }
    }
    t0 = mdx_mono_us();
    pthread_create(&cnt.thread, NULL, kafka_count_main, &cnt);
    struct load slice = *ld;
    int per_dev = ld->msgs / ld->devices, step = 200;
    for (int n = 0; n < per_dev; n += step) {
        slice.msgs = (n + step > per_dev ? per_dev - n : step) * ld->devices;
        slice.base_ms = ld->base_ms + (int64_t)n * ld->batch * TS_STEP_MS;
        kafka_produce_load(k, "ceiling", &slice);
        while (atomic_load(&cnt.got) < (long)(n - 3 * step) * ld->devices) {
            mdx_sleep_ms(1); /* a few slices ahead at most: the mock ages out old records */
        }
    }
    pthread_join(cnt.thread, NULL);
    double secs = (double)(mdx_mono_us() - t0) / 1e6;
    rd_kafka_consumer_close(cnt.rk);
    rd_kafka_destroy(cnt.rk);
    return atomic_load(&cnt.got) >= ld->msgs ? secs : 0;
}

/* The ingest from Kafka with 'workers' `modax serve` processes in one group. */
static int run_pass_kafka(struct load *ld, int alerting, int workers, struct result *r)
{
    char dir[256], out[4096], name[16];
    struct serve s[KAFKA_WORKERS_MAX];
    struct kmock *k = kmock_start(3);
    int64_t points = (int64_t)ld->msgs * ld->batch * SENSORS, t0, got;
    long ticks0 = 0, ticks1 = 0;
    double ceiling_s, ingest_s;
    int port = free_port(); /* no MQTT broker: the api's link just retries */

    if (k == NULL || kmock_topic(k, "bench", kafka_partitions(ld)) != 0) {
        return -1;
    }
    ceiling_s = kafka_ceiling(k, ld);
    tmp_make(dir, sizeof(dir), "bench-ingest-kafka");
    modax_env(dir, port);
    setenv("MODAX_INGEST_SOURCE", "kafka", 1);
    setenv("MODAX_KAFKA_BROKERS", kmock_bootstraps(k), 1);
    setenv("MODAX_KAFKA_TOPICS", "bench", 1);
    setenv("MODAX_KAFKA_GROUP", "bench", 1);
    setenv("MODAX_KAFKA_SESSION_TIMEOUT_MS", "10000", 1);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    setenv("MODAX_ALERT_DETECT", alerting ? "true" : "false", 1);
    setenv("MODAX_ALERT_RULES", alerting ? "true" : "false", 1);
    setenv("MODAX_LOG_LEVEL", "warn", 0);
    if (modax_run(out, sizeof(out), "tenant", "add", "bench", NULL) != 0) {
        return -1;
    }
    for (int i = 0; i < workers; i++) {
        snprintf(name, sizeof(name), "w%d", i + 1);
        if (serve_start_worker(&s[i], dir, port, name) != 0) {
            /* The group's first join can take longer than serve_start waits. */
            struct stat st;
            for (int t = 0; s[i].pid > 0 && stat(s[i].ready, &st) != 0 && t < 1500; t++) {
                mdx_sleep_ms(20);
            }
            if (s[i].pid <= 0 || stat(s[i].ready, &st) != 0) {
                fprintf(stderr, "bench_ingest: cannot start modax serve; see %s/%s.log\n", dir,
                        name);
                return -1;
            }
        }
    }
    /* Warm the registry (and let the group settle) so neither is timed. */
    struct load warm = *ld;
    warm.base_ms = ld->base_ms - 86400000LL;
    warm.batch = 1;
    warm.msgs = ld->devices;
    kafka_produce_load(k, "bench", &warm);
    wait_points(dir, "bench", (int64_t)ld->devices * SENSORS, 60000);
    sync();
    for (int i = 0; i < workers; i++) {
        ticks0 += proc_cpu_ticks(s[i].pid);
    }
    t0 = mdx_mono_us();
    struct load slice = *ld;
    int per_dev = ld->msgs / ld->devices, step = 200;
    for (int n = 0; n < per_dev; n += step) {
        /* Produced in slices while the workers read, so the mock's ~5 MB per partition
           never ages records out before they are read. */
        slice.msgs = (n + step > per_dev ? per_dev - n : step) * ld->devices;
        slice.base_ms = ld->base_ms + (int64_t)n * ld->batch * TS_STEP_MS;
        if (kafka_produce_load(k, "bench", &slice) != 0) {
            return -1;
        }
        while (store_points(dir, "bench") <
               (int64_t)(n - 3 * step) * ld->devices * ld->batch * SENSORS) {
            mdx_sleep_ms(50); /* keep at most a few slices ahead of the store */
        }
    }
    got = wait_points(dir, "bench", points + (int64_t)ld->devices * SENSORS, 600000);
    ingest_s = (double)(mdx_mono_us() - t0) / 1e6;
    r->rss = 0;
    for (int i = 0; i < workers; i++) {
        ticks1 += proc_cpu_ticks(s[i].pid);
        double rss = proc_rss_mb(s[i].pid);
        r->rss = rss > r->rss ? rss : r->rss;
    }
    for (int i = 0; i < workers; i++) {
        serve_stop(&s[i], SIGTERM);
    }
    kmock_stop(k);
    verify_store(dir, ld, &r->lost, &r->dup);
    if (got < points) {
        fprintf(stderr, "bench_ingest: only %lld of %lld points arrived\n", (long long)got,
                (long long)points);
    }
    r->pps = (double)points / ingest_s;
    r->ceiling_pps = ceiling_s > 0 ? (double)points / ceiling_s : 0;
    r->cpu_us = (double)(ticks1 - ticks0) * (1e6 / (double)sysconf(_SC_CLK_TCK)) / ld->msgs;
    tmp_remove(dir);
    return 0;
}

/* ---- --source pubsub ---- */

#define PUBSUB_PER_REQUEST 1000

/* The load (or one message per device with warm) published to the emulator's topic
   "bench", PUBSUB_PER_REQUEST messages per request; 0 on success. */
static int pubsub_publish_load(const struct pubsub_emu *e, const struct load *ld)
{
    size_t cap = 512 * (size_t)ld->batch + 64;
    size_t body_cap = PUBSUB_PER_REQUEST * (cap / 3 * 4 + 160) + 64;
    char *msg = mdx_malloc(cap), *body = mdx_malloc(body_cap);
    int per_dev = ld->msgs / ld->devices, rc = 0, in_body = 0;
    size_t at = 0;

    for (int n = 0; msg != NULL && body != NULL && rc == 0 && n < per_dev; n++) {
        for (int d = 0; rc == 0 && d < ld->devices; d++) {
            size_t len = format_msg(msg, cap, ld, d, n);
            char *b64 = mdx_base64_encode(msg, len);
            if (b64 == NULL) {
                rc = -1;
                break;
            }
            if (in_body == 0) {
                at = (size_t)snprintf(body, body_cap, "{\"messages\":[");
            }
            at += (size_t)snprintf(body + at, body_cap - at,
                                   "%s{\"data\":\"%s\",\"attributes\":{\"tenant\":\"bench\","
                                   "\"deviceId\":\"dev-%04d\"}}",
                                   in_body > 0 ? "," : "", b64, d);
            mdx_free(b64);
            if (++in_body == PUBSUB_PER_REQUEST || (n == per_dev - 1 && d == ld->devices - 1)) {
                snprintf(body + at, body_cap - at, "]}");
                rc = pubsub_emu_call(e, "POST", "bench", "topics/bench:publish", body, NULL, 0) ==
                             200
                         ? 0
                         : -1;
                in_body = 0;
            }
        }
    }
    mdx_free(msg);
    mdx_free(body);
    return msg == NULL || body == NULL ? -1 : rc;
}

/*
 * The ingest from Google's Pub/Sub emulator (started here) with one `modax serve`.
 * No ceiling: the emulator has no counting consumer to compare with (ratio 0).
 */
static int run_pass_pubsub(struct load *ld, int alerting, struct result *r)
{
    char dir[256], out[4096];
    struct serve s;
    struct pubsub_emu emu;
    int64_t points = (int64_t)ld->msgs * ld->batch * SENSORS, t0, got;
    long ticks0, ticks1;
    int port = free_port(), rc;

    tmp_make(dir, sizeof(dir), "bench-ingest-pubsub");
    rc = pubsub_emu_start(&emu, dir);
    if (rc != 0) {
        fprintf(stderr, "bench_ingest: %s\n", rc == 1 ? "no Pub/Sub emulator installed"
                                                       : "the Pub/Sub emulator did not start");
        return -1;
    }
    if (pubsub_emu_call(&emu, "PUT", "bench", "topics/bench", "{}", out, sizeof(out)) != 200 ||
        pubsub_emu_call(&emu, "PUT", "bench", "subscriptions/bench-ingest",
                        "{\"topic\":\"projects/bench/topics/bench\",\"ackDeadlineSeconds\":60}",
                        out, sizeof(out)) != 200) {
        fprintf(stderr, "bench_ingest: emulator setup failed: %s\n", out);
        pubsub_emu_stop(&emu);
        return -1;
    }
    modax_env(dir, port);
    setenv("PUBSUB_EMULATOR_HOST", emu.host, 1);
    setenv("MODAX_INGEST_SOURCE", "pubsub", 1);
    setenv("MODAX_PUBSUB_PROJECT", "bench", 1);
    setenv("MODAX_PUBSUB_SUBSCRIPTION", "bench-ingest", 1);
    setenv("MODAX_PUBSUB_MAX_MESSAGES", "1000", 1);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    setenv("MODAX_ALERT_DETECT", alerting ? "true" : "false", 1);
    setenv("MODAX_ALERT_RULES", alerting ? "true" : "false", 1);
    setenv("MODAX_LOG_LEVEL", "warn", 0);
    if (modax_run(out, sizeof(out), "tenant", "add", "bench", NULL) != 0 ||
        serve_start_worker_roles(&s, dir, port, "w1", ld->roles) != 0) {
        fprintf(stderr, "bench_ingest: cannot start modax serve; see %s/w1.log\n", dir);
        pubsub_emu_stop(&emu);
        return -1;
    }
    /* Warm the registry so it is not timed. */
    struct load warm = *ld;
    warm.base_ms = ld->base_ms - 86400000LL;
    warm.batch = 1;
    warm.msgs = ld->devices;
    pubsub_publish_load(&emu, &warm);
    wait_points(dir, "bench", (int64_t)ld->devices * SENSORS, 60000);
    sync();
    ticks0 = proc_cpu_ticks(s.pid);
    t0 = mdx_mono_us();
    if (pubsub_publish_load(&emu, ld) != 0) {
        fprintf(stderr, "bench_ingest: publishing to the emulator failed\n");
    }
    got = wait_points(dir, "bench", points + (int64_t)ld->devices * SENSORS, 600000);
    r->pps = (double)points / ((double)(mdx_mono_us() - t0) / 1e6);
    ticks1 = proc_cpu_ticks(s.pid);
    r->rss = proc_rss_mb(s.pid);
    serve_stop(&s, SIGTERM);
    pubsub_emu_stop(&emu);
    verify_store(dir, ld, &r->lost, &r->dup);
    if (got < points) {
        fprintf(stderr, "bench_ingest: only %lld of %lld points arrived\n", (long long)got,
                (long long)points);
    }
    r->ceiling_pps = 0;
    r->cpu_us = (double)(ticks1 - ticks0) * (1e6 / (double)sysconf(_SC_CLK_TCK)) / ld->msgs;
    tmp_remove(dir);
    return 0;
}

int main(int argc, char **argv)
{
    struct load ld = {.msgs = 500000, .devices = 100, .batch = 1, .publishers = 4,
                      .roles = SERVE_ROLES};
    char self[1024];
    struct result plain = {0}, r = {0};
    ssize_t n;
    int alerting = 1, plugin = 0, kafka = 0, pubsub = 0, workers = 1;

    if (argc == 5 && strcmp(argv[1], "--count-subscriber") == 0) {
        return run_counter((int)bench_parse_num(argv[2], 1, 65535),
                           bench_parse_num(argv[3], 1, 1L << 40),
                           argv[4]);
    }
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--msgs") == 0) {
            ld.msgs = (int)bench_parse_num(argv[++i], 1, 100000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--devices") == 0) {
            ld.devices = (int)bench_parse_num(argv[++i], 1, 100000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0) {
            ld.batch = (int)bench_parse_num(argv[++i], 1, 100000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--publishers") == 0) {
            ld.publishers = (int)bench_parse_num(argv[++i], 1, 100000000);
        } else if (i + 1 < argc && strcmp(argv[i], "--roles") == 0) {
            ld.roles = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--source") == 0 &&
                   (strcmp(argv[i + 1], "mqtt") == 0 || strcmp(argv[i + 1], "kafka") == 0 ||
                    strcmp(argv[i + 1], "pubsub") == 0)) {
            kafka = strcmp(argv[++i], "kafka") == 0;
            pubsub = strcmp(argv[i], "pubsub") == 0;
        } else if (i + 1 < argc && strcmp(argv[i], "--workers") == 0) {
            workers = (int)bench_parse_num(argv[++i], 1, KAFKA_WORKERS_MAX);
        } else if (strcmp(argv[i], "--no-alerting") == 0) {
            alerting = 0;
        } else if (strcmp(argv[i], "--broker-plugin") == 0) {
            plugin = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--store") == 0 &&
                   (strcmp(argv[i + 1], "sqlite") == 0 ||
                    strcmp(argv[i + 1], "postgresql") == 0)) {
            /* The support helpers then start a durable throwaway cluster for the run. */
            if (strcmp(argv[++i], "postgresql") == 0) {
                setenv("MODAX_TEST_STORE", "postgresql", 1);
                pg_shared_durable(1);
            } else {
                unsetenv("MODAX_TEST_STORE");
            }
        } else {
            fprintf(stderr, "usage: bench_ingest [--msgs N] [--devices N] [--batch N] "
                            "[--publishers N] [--store sqlite|postgresql] [--no-alerting] "
                            "[--broker-plugin] [--roles LIST (default " SERVE_ROLES ")] "
                            "[--source mqtt|kafka|pubsub] [--workers N (kafka)]\n");
            return 2;
        }
    }
    if (ld.msgs <= 0 || ld.devices <= 0 || ld.batch <= 0 || ld.batch > 1000 ||
        ld.publishers <= 0 || ld.publishers > 16 || ld.msgs < ld.devices ||
        (plugin && ld.devices > 900) || ((kafka || pubsub) && plugin) || (workers > 1 && !kafka)) {
        fprintf(stderr, "bench_ingest: values out of range\n");
        return 2;
    }
    ld.msgs -= ld.msgs % ld.devices;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    ld.base_ms = mdx_now_ms() - 86400000LL;
    if (plugin && getenv("MODAX_BIN_DIR") == NULL) {
        /* The build directory (the plugin is broker/modax_auth.so in it): ../ of bench/. */
        char bin[1024];
        snprintf(bin, sizeof(bin), "%s", self);
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(bin, '/');
            if (slash != NULL) {
                *slash = '\0';
            }
        }
        setenv("MODAX_BIN_DIR", bin, 1);
    }

    if (plugin) {
        ld.secrets = mdx_calloc((size_t)ld.devices, sizeof(*ld.secrets));
        if (run_pass(&ld, self, alerting, 1, 0, &plain) != 0) {
            return 1;
        }
    }
    if (pubsub  ? run_pass_pubsub(&ld, alerting, &r) != 0
        : kafka ? run_pass_kafka(&ld, alerting, workers, &r) != 0
                : run_pass(&ld, self, alerting, plugin, plugin, &r) != 0) {
        return 1;
    }
    printf("ingest: msgs=%d points=%lld batch=%d lost=%ld dup=%ld points_per_s=%.0f "
           "ceiling_points_per_s=%.0f ratio=%.2f cpu_us_per_msg=%.1f rss_mb=%.1f alerting=%s "
           "roles=%s",
           ld.msgs, (long long)ld.msgs * ld.batch * SENSORS, ld.batch, r.lost, r.dup, r.pps,
           r.ceiling_pps, r.ceiling_pps > 0 ? r.pps / r.ceiling_pps : 0, r.cpu_us, r.rss,
           alerting ? "on" : "off", ld.roles);
    if (kafka) {
        printf(" source=kafka workers=%d", workers);
    }
    if (pubsub) {
        printf(" source=pubsub workers=1 (ceiling not measured)");
    }
    if (plugin) {
        printf(" broker_plugin=on conns=%d unplugged_points_per_s=%.0f "
               "unplugged_ceiling_points_per_s=%.0f plugin_ratio=%.2f",
               ld.devices, plain.pps, plain.ceiling_pps, plain.pps > 0 ? r.pps / plain.pps : 0);
    }
    printf("\n");
    if (plugin) {
        explicit_bzero(ld.secrets, (size_t)ld.devices * sizeof(*ld.secrets));
        mdx_free(ld.secrets);
    }
    return r.lost == 0 && r.dup == 0 && plain.lost == 0 && plain.dup == 0 ? 0 : 1;
}
