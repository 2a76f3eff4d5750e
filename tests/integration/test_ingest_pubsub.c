/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ingest_pubsub.c - `modax serve --roles ingest` reading a Pub/Sub
 * subscription (ingest.source = pubsub) from Google's Pub/Sub emulator,
 * which this test starts on loopback and publishes to over REST: every
 * message stored exactly once across restarts and a SIGKILL mid-stream;
 * messages redelivered after they were stored and acknowledged (a seek
 * back in time, as after a crash between commit and acknowledgement) not
 * stored twice, in the same process and in a new one; bad input (no
 * attributes, unknown tenant or device, a bad topic attribute, a payload
 * that is not JSON, one over ingest.max_payload_bytes) dead-lettered,
 * counted and acknowledged, with the good messages around it all stored;
 * a batch outliving the ack deadline keeps its messages (modifyAckDeadline);
 * credentials from a token file, never logged; credentials from a
 * service-account key file (tokens from a token endpoint stand-in that
 * verifies the signed JWT, refreshed across expiries while the worker
 * reads; the emulator takes any token); a metadata server that is down
 * (clear error, retried, the worker keeps running and reads once it is
 * back); the emulator stopped and a fresh one started on the same port.
 *
 * Without the emulator (no Google Cloud CLI) the test says so and fails:
 * a test that did not run is not a test that passed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/encode.h"
#include "check.h"
#include "modax/alloc.h"
#include "modax/clock.h"
#include "support/gcp_standin.h"
#include "support/pubsub_emu.h"
#include "support/support.h"

#define PROJECT "modax-test"
#define TOPIC "telemetry"
#define SUB "modax-ingest"
#define DEVICES 6
#define GOOD "{\"device_id\":\"known-1\",\"timestamp\":%lld,\"sensor_data\":{\"current_mean\":2.5}}"

static char dir[512];
static int port;
static struct pubsub_emu emu;
static int64_t next_ts;

static int worker_start(struct serve *s, const char *name)
{
    return serve_start_worker_roles(s, dir, port, name, "ingest");
}

/* The topic and the subscription (10 s ack deadline; acknowledged messages retained, so
   that a seek can deliver them again). 0 on success; the emulator's answer in out. */
static int make_subscription(char *out, size_t len)
{
    if (pubsub_emu_call(&emu, "PUT", PROJECT, "topics/" TOPIC, "{}", out, len) != 200 ||
        pubsub_emu_call(&emu, "PUT", PROJECT, "subscriptions/" SUB,
                        "{\"topic\":\"projects/" PROJECT "/topics/" TOPIC "\","
                        "\"ackDeadlineSeconds\":10,\"retainAckedMessages\":true}",
                        out, len) != 200) {
        return -1;
    }
    return 0;
}

/* Appends one message (payload base64-encoded, attributes as given) to body. */
static void add_message(char *body, size_t cap, const char *payload, size_t len,
                        const char *attrs)
{
    char *b64 = mdx_base64_encode(payload, len);
    size_t at = strlen(body);

    CHECK(b64 != NULL);
    if (b64 == NULL) {
        return;
    }
    snprintf(body + at, cap - at, "%s{\"data\":\"%s\",\"attributes\":{%s}}",
             body[at - 1] == '[' ? "" : ",", b64, attrs);
    mdx_free(b64);
}

static int publish_body(const char *body)
{
    char out[1 << 16];
    int st = pubsub_emu_call(&emu, "POST", PROJECT, "topics/" TOPIC ":publish", body, out,
                             sizeof(out));

    if (st != 200) {
        fprintf(stderr, "  publish: %d %s\n", st, out);
    }
    return st;
}

/* 'n' messages, one point each, spread over the devices, with tenant and device attributes. */
static void publish(int n)
{
    static char body[1 << 20];
    char payload[256], attrs[128], device[32];

    for (int i = 0; i < n; i += 100) {
        snprintf(body, sizeof(body), "{\"messages\":[");
        for (int k = i; k < n && k < i + 100; k++) {
            snprintf(device, sizeof(device), "p-%d", k % DEVICES);
            int len = snprintf(payload, sizeof(payload),
                               "{\"device_id\":\"%s\",\"timestamp\":%lld,"
                               "\"sensor_data\":{\"current_mean\":%d.25}}",
                               device, (long long)next_ts++, k);
            snprintf(attrs, sizeof(attrs), "\"tenant\":\"acme\",\"deviceId\":\"%s\"", device);
            add_message(body, sizeof(body), payload, (size_t)len, attrs);
        }
        strcat(body, "]}");
        CHECK_EQ_INT(publish_body(body), 200);
    }
}

/* A field of the worker's last "statistics" log line; -1 if none. */
static long long last_stat(const char *worker, const char *field)
{
    char path[700];

    snprintf(path, sizeof(path), "%s/%s.log", dir, worker);
    return log_last_stat(path, field);
}

/* The sum of field 'key' over the worker's log lines with 'msg'. */
static long long log_sum(const char *worker, const char *msg, const char *key)
{
    char path[700], line[4096], k[64];
    long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.log", dir, worker);
    snprintf(k, sizeof(k), "\"%s\":", key);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p;
        if (strstr(line, msg) != NULL && (p = strstr(line, k)) != NULL) {
            v += strtoll(p + strlen(k), NULL, 10);
        }
    }
    fclose(f);
    return v;
}

/* Waits until log_sum() >= want; returns the last sum. */
static long long wait_log_sum(const char *worker, const char *msg, const char *key,
                              long long want, int ms)
{
    int64_t end = mdx_mono_us() / 1000 + ms;
    long long v;

    while ((v = log_sum(worker, msg, key)) < want && mdx_mono_us() / 1000 < end) {
        mdx_sleep_ms(100);
    }
    return v;
}

/* Marks every message published since 'since_ms' unacknowledged again (Pub/Sub seek). */
static void seek_back(int64_t since_ms)
{
    char body[128], ts[32];
    time_t t = (time_t)(since_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(body, sizeof(body), "{\"time\":\"%s\"}", ts);
    CHECK_EQ_INT(pubsub_emu_call(&emu, "POST", PROJECT, "subscriptions/" SUB ":seek", body, NULL,
                                 0),
                 200);
}

static int dead_letter(const char *reason, int timeout_ms)
{
    static char out[1 << 16];
    int64_t end = mdx_mono_us() / 1000 + timeout_ms;

    do {
        if (modax_run(out, sizeof(out), "deadletters", "--limit", "100", NULL) == 0 &&
            strstr(out, reason) != NULL) {
            return 1;
        }
        mdx_sleep_ms(100);
    } while (mdx_mono_us() / 1000 < end);
    fprintf(stderr, "  no dead letter \"%s\"\n", reason);
    return 0;
}

static void exactly_once_across_restarts_and_sigkill(void)
{
    struct serve s;
    int64_t base = store_points(dir, "acme");

    CHECK_EQ_INT(worker_start(&s, "p1"), 0);
    publish(600);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 600, 30000), base + 600);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(last_stat("p1", "points"), 600);

    /* Published while it was away: all of them, none twice. */
    publish(400);
    CHECK_EQ_INT(worker_start(&s, "p2"), 0);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 1000, 30000), base + 1000);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(last_stat("p2", "points"), 400);
    CHECK_EQ_INT(last_stat("p2", "duplicates"), 0);

    /* SIGKILL mid-stream: what it held unacknowledged comes again after the ack deadline
       (10 s); what it stored and acknowledged does not. */
    CHECK_EQ_INT(worker_start(&s, "p3"), 0);
    publish(1000);
    wait_points(dir, "acme", base + 1300, 30000);
    CHECK_EQ_INT(serve_stop(&s, SIGKILL), 128 + SIGKILL);
    fprintf(stderr, "  SIGKILL with %lld of 1000 stored\n",
            (long long)(store_points(dir, "acme") - base - 1000));
    publish(1000);
    CHECK_EQ_INT(worker_start(&s, "p4"), 0);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 3000, 60000), base + 3000);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(store_points(dir, "acme"), base + 3000);
}

/*
 * Messages stored and acknowledged, then delivered again (seek back in time; the same
 * messageId and publishTime, as after a crash between commit and acknowledgement): the
 * running worker skips them; a new worker, which has not seen them, stores nothing new
 * (each point is a duplicate (series, ts)). The subscription retains acknowledged
 * messages, so that the seek can deliver them again.
 */
static void redelivered_messages_are_not_stored_twice(void)
{
    struct serve s;
    int64_t t0 = mdx_now_ms() - 2000;
    int64_t base = store_points(dir, "acme");

    CHECK_EQ_INT(worker_start(&s, "r1"), 0);
    publish(200);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 200, 30000), base + 200);
    seek_back(t0);
    CHECK_EQ_INT(wait_log_sum("r1", "redelivered messages skipped", "messages", 200, 30000), 200);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(store_points(dir, "acme"), base + 200);
    CHECK_EQ_INT(last_stat("r1", "duplicates"), 0);
    CHECK_EQ_INT(last_stat("r1", "points"), 200);

    /* Each batch's counts are in its debug line "batch committed". */
    setenv("MODAX_LOG_LEVEL", "debug", 1);
    seek_back(t0);
    CHECK_EQ_INT(worker_start(&s, "r2"), 0);
    CHECK_EQ_INT(wait_log_sum("r2", "batch committed", "duplicates", 200, 30000), 200);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    unsetenv("MODAX_LOG_LEVEL");
    CHECK_EQ_INT(last_stat("r2", "points"), 0);
    CHECK_EQ_INT(last_stat("r2", "duplicates"), 200);
    CHECK_EQ_INT(store_points(dir, "acme"), base + 200);
}

static void bad_input_is_dead_lettered_counted_and_acknowledged(void)
{
    static char body[8 << 20];
    struct serve s;
    char out[4096];
    size_t big = 4u << 20;
    char *payload = malloc(big);
    char p[256];
    int64_t base = store_points(dir, "acme");
    int len;

    CHECK(payload != NULL);
    if (payload == NULL) {
        return;
    }
    setenv("MODAX_INGEST_AUTO_REGISTER", "false", 1);
    CHECK_EQ_INT(modax_run(out, sizeof(out), "device", "add", "acme", "known-1", NULL), 0);
    /* Pub/Sub itself refuses data that is not base64: it cannot reach the source. */
    CHECK_EQ_INT(publish_body("{\"messages\":[{\"data\":\"!!not base64\","
                              "\"attributes\":{\"tenant\":\"acme\",\"deviceId\":\"known-1\"}}]}"),
                 400);

    snprintf(body, sizeof(body), "{\"messages\":[");
    len = snprintf(p, sizeof(p), GOOD, (long long)next_ts++);
    add_message(body, sizeof(body), p, (size_t)len, "");                                  /* 1 */
    add_message(body, sizeof(body), p, (size_t)len, "\"tenant\":\"nosuch\",\"deviceId\":\"known-1\"");
    add_message(body, sizeof(body), p, (size_t)len, "\"tenant\":\"acme\",\"deviceId\":\"stranger\"");
    add_message(body, sizeof(body), p, (size_t)len, "\"topic\":\"plant/acme/known-1\"");  /* 4 */
    add_message(body, sizeof(body), "{\"device_id\":", 13,
                "\"tenant\":\"acme\",\"deviceId\":\"known-1\"");                           /* 5 */
    add_message(body, sizeof(body), p, (size_t)len,
                "\"topic\":\"modax/acme/known-1/sensor_data\"");                          /* ok */
    len = snprintf(p, sizeof(p), GOOD, (long long)next_ts++);
    add_message(body, sizeof(body), p, (size_t)len, "\"tenant\":\"acme\",\"deviceId\":\"known-1\"");
    strcat(body, "]}");
    CHECK_EQ_INT(publish_body(body), 200);

    memset(payload, ' ', big);
    payload[0] = '{';
    payload[big - 1] = '}';
    snprintf(body, sizeof(body), "{\"messages\":[");
    add_message(body, sizeof(body), payload, big, "\"tenant\":\"acme\",\"deviceId\":\"known-1\"");
    strcat(body, "]}");
    free(payload);
    CHECK_EQ_INT(publish_body(body), 200);

    CHECK_EQ_INT(worker_start(&s, "b1"), 0);
    CHECK(dead_letter("pubsub message without tenant or device attributes", 30000));
    CHECK(dead_letter("unknown tenant", 5000));
    CHECK(dead_letter("unknown device", 5000));
    CHECK(dead_letter("pubsub message's topic attribute is not modax/{tenant}/{device}/{kind}",
                      5000));
    CHECK(dead_letter("malformed json", 5000));
    CHECK(dead_letter("payload too large", 30000));
    CHECK_EQ_INT(wait_points(dir, "acme", base + 2, 20000), base + 2);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(last_stat("b1", "refused"), 6);
    CHECK_EQ_INT(last_stat("b1", "points"), 2);

    /* Acknowledged: a new worker, after the ack deadline has passed, gets none of them. */
    mdx_sleep_ms(11000); /* the subscription's 10 s ack deadline: the thing tested */
    CHECK_EQ_INT(worker_start(&s, "b2"), 0);
    publish(10);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 12, 20000), base + 12);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(last_stat("b2", "refused"), 0);
    CHECK_EQ_INT(last_stat("b2", "points"), 10);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
}

/*
 * A batch that takes longer than the subscription's 10 s ack deadline (ingest.batch_ms 14 s
 * here; a slow store does the same): its messages' deadlines are extended while it fills,
 * so Pub/Sub does not send them again, and each is stored once.
 */
static void slow_batch_keeps_its_messages(void)
{
    struct serve s;
    int64_t base = store_points(dir, "acme");

    setenv("MODAX_INGEST_BATCH_MS", "14000", 1);
    CHECK_EQ_INT(worker_start(&s, "d1"), 0);
    publish(100);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 100, 40000), base + 100);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    setenv("MODAX_INGEST_BATCH_MS", "20", 1);
    CHECK_EQ_INT(last_stat("d1", "points"), 100);
    CHECK_EQ_INT(last_stat("d1", "duplicates"), 0);
    CHECK_EQ_INT(log_sum("d1", "redelivered messages skipped", "messages"), 0);
}

/* Non-zero when the worker's log contains 'text'. */
static int log_has(const char *worker, const char *text)
{
    char path[700];
    static char buf[1 << 20];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.log", dir, worker);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/*
 * pubsub.credentials = token_file: the token is read from the file and sent (the emulator
 * takes any), never logged; a missing file keeps the worker unready with the key named.
 */
static void token_file_credentials(void)
{
    struct serve s;
    char path[600];
    FILE *f;
    int64_t base = store_points(dir, "acme");

    snprintf(path, sizeof(path), "%s/token", dir);
    setenv("MODAX_PUBSUB_CREDENTIALS", "token_file", 1);
    setenv("MODAX_PUBSUB_TOKEN_FILE", path, 1);
    CHECK(worker_start(&s, "t1") != 0); /* no file yet */
    CHECK(log_has("t1", "no access token for Pub/Sub"));
    CHECK(log_has("t1", "token file"));
    if (s.pid > 0) {
        serve_stop(&s, SIGTERM);
    }
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("ya29.never-in-a-log\n", f);
        fclose(f);
    }
    CHECK_EQ_INT(worker_start(&s, "t2"), 0);
    publish(50);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 50, 30000), base + 50);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK(!log_has("t2", "never-in-a-log"));
    unsetenv("MODAX_PUBSUB_CREDENTIALS");
    unsetenv("MODAX_PUBSUB_TOKEN_FILE");
}

/* How many lines of the worker's log contain 'text'. */
static int log_count(const char *worker, const char *text)
{
    char path[700], line[8192];
    int n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.log", dir, worker);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        n += strstr(line, text) != NULL;
    }
    fclose(f);
    return n;
}

/*
 * pubsub.credentials = service_account: the worker signs a JWT with the key file's RSA key
 * and takes 2-second tokens from the stand-in's token endpoint, refreshing them as it
 * reads; the stand-in verifies every JWT. Neither token nor key ever reaches the log.
 */
static void service_account_credentials(void)
{
    static struct gcp_standin g;
    struct serve s;
    char key[600], uri[128];
    int64_t base = store_points(dir, "acme");

    atomic_store(&g.life_ms, 2000);
    CHECK_EQ_INT(gcp_standin_start(&g, 1), 0);
    snprintf(key, sizeof(key), "%s/sa-key.json", dir);
    snprintf(uri, sizeof(uri), "http://127.0.0.1:%d/token", g.port);
    snprintf(g.scope, sizeof(g.scope), "https://www.googleapis.com/auth/pubsub");
    CHECK_EQ_INT(gcp_standin_key_file(&g, key, uri), 0);
    setenv("MODAX_PUBSUB_CREDENTIALS", "service_account", 1);
    setenv("MODAX_PUBSUB_KEY_FILE", key, 1);
    CHECK_EQ_INT(worker_start(&s, "sa1"), 0);
    publish(50);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 50, 30000), base + 50);
    CHECK_WAIT(atomic_load(&g.issued) >= 4, 20000); /* refreshed across expiries */
    publish(50);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 100, 30000), base + 100);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(atomic_load(&g.jwt_bad), 0);
    CHECK(log_count("sa1", "Google access token refreshed") >= 4);
    CHECK(!log_has("sa1", "gtok-"));
    CHECK(!log_has("sa1", "PRIVATE KEY"));
    unsetenv("MODAX_PUBSUB_CREDENTIALS");
    unsetenv("MODAX_PUBSUB_KEY_FILE");
    gcp_standin_stop(&g);
}

/*
 * pubsub.credentials = metadata with the metadata server down (connections refused): the
 * worker logs why, asks again, keeps running, and reads as soon as the server answers.
 */
static void metadata_server_down_then_back(void)
{
    static struct gcp_standin g;
    struct serve s;
    char host[64];
    int64_t base = store_points(dir, "acme");

    atomic_store(&g.life_ms, 60000);
    CHECK_EQ_INT(gcp_standin_start(&g, 0), 0); /* bound, not listening */
    snprintf(host, sizeof(host), "127.0.0.1:%d", g.port);
    setenv("MODAX_PUBSUB_CREDENTIALS", "metadata", 1);
    setenv("GCE_METADATA_HOST", host, 1);
    publish(30);
    CHECK(worker_start(&s, "m1") != 0); /* not ready without a token */
    CHECK(s.pid > 0);
    CHECK_WAIT(log_count("m1", "no access token for Pub/Sub") >= 3, 20000);
    CHECK(log_has("m1", "metadata server"));
    CHECK(log_has("m1", "unreachable"));
    CHECK(s.pid > 0 && kill(s.pid, 0) == 0); /* still running */
    CHECK_EQ_INT(store_points(dir, "acme"), base);
    CHECK_EQ_INT(gcp_standin_listen(&g), 0);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 30, 30000), base + 30);
    CHECK_EQ_INT(atomic_load(&g.meta_bad), 0);
    if (s.pid > 0) {
        CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    }
    unsetenv("MODAX_PUBSUB_CREDENTIALS");
    unsetenv("GCE_METADATA_HOST");
    gcp_standin_stop(&g);
}

/*
 * The emulator stops while a worker reads and a fresh one starts on the same port (it keeps
 * no state: topic and subscription are made again): the worker says Pub/Sub is unreachable,
 * retries, and stores what is published after, once.
 */
static void emulator_stopped_and_restarted(void)
{
    struct serve s;
    char out[4096];
    int64_t base = store_points(dir, "acme");
    int64_t end;

    CHECK_EQ_INT(worker_start(&s, "e1"), 0);
    publish(100);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 100, 30000), base + 100);
    pubsub_emu_stop(&emu);
    end = mdx_mono_us() / 1000 + 20000;
    while (!log_has("e1", "Pub/Sub unreachable") && mdx_mono_us() / 1000 < end) {
        mdx_sleep_ms(100);
    }
    CHECK(log_has("e1", "Pub/Sub unreachable"));
    CHECK_EQ_INT(pubsub_emu_restart(&emu, dir), 0);
    CHECK_EQ_INT(make_subscription(out, sizeof(out)), 0);
    publish(100);
    CHECK_EQ_INT(wait_points(dir, "acme", base + 200, 30000), base + 200);
    CHECK_EQ_INT(serve_stop(&s, SIGTERM), 0);
    CHECK_EQ_INT(last_stat("e1", "points"), 200);
    CHECK_EQ_INT(last_stat("e1", "duplicates"), 0);
}

int main(int argc, char **argv)
{
    static const struct mdx_test tests[] = {
        {"exactly once across restarts and SIGKILL", exactly_once_across_restarts_and_sigkill},
        {"redelivered messages are not stored twice", redelivered_messages_are_not_stored_twice},
        {"bad input is dead-lettered, counted and acknowledged",
         bad_input_is_dead_lettered_counted_and_acknowledged},
        {"token file credentials", token_file_credentials},
        {"service account key file credentials", service_account_credentials},
        {"metadata server down, then back", metadata_server_down_then_back},
        {"a slow batch keeps its messages", slow_batch_keeps_its_messages},
        {"emulator stopped and restarted", emulator_stopped_and_restarted},
        {NULL, NULL}};
    char out[4096];
    int rc;

    tmp_make(dir, sizeof(dir), "pubsub");
    rc = pubsub_emu_start(&emu, dir);
    if (rc == 1) {
        fprintf(stderr, "no Pub/Sub emulator (install the Google Cloud CLI's "
                        "pubsub-emulator component, or set MODAX_PUBSUB_EMULATOR): failing, "
                        "not skipping\n");
        printf("0 passed, 1 failed\n");
        tmp_remove(dir);
        return 1;
    }
    port = free_port(); /* no MQTT broker: the ingest reads Pub/Sub only */
    modax_env(dir, port);
    if (rc != 0 || make_subscription(out, sizeof(out)) != 0 ||
        modax_run(out, sizeof(out), "tenant", "add", "acme", NULL) != 0) {
        fprintf(stderr, "setup failed: %s\n", out);
        pubsub_emu_stop(&emu);
        return 1;
    }
    next_ts = mdx_now_ms() - 3600000;
    setenv("PUBSUB_EMULATOR_HOST", emu.host, 1);
    setenv("MODAX_INGEST_SOURCE", "pubsub", 1);
    setenv("MODAX_INGEST_AUTO_REGISTER", "true", 1);
    setenv("MODAX_PUBSUB_PROJECT", PROJECT, 1);
    setenv("MODAX_PUBSUB_SUBSCRIPTION", SUB, 1);
    setenv("MODAX_INGEST_BATCH_MS", "20", 1);
    setenv("MODAX_LOG_SUPPRESS_MS", "0", 1);
    setenv("MODAX_INGEST_STATS_INTERVAL_S", "0", 1);
    rc = mdx_test_run(tests, argc, argv);
    pubsub_emu_stop(&emu);
    if (rc == 0) {
        tmp_remove(dir);
    }
    return rc;
}
