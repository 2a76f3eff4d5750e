/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_api_metrics.c - /metrics end to end: readings published over a
 * real Mosquitto show in the counters of `modax serve`, the page passes
 * `promtool check metrics`, a real Prometheus started here scrapes it and
 * a PromQL query returns the ingested point count; a bad payload shows in
 * the dead-letter counter by reason; the per-device gauges carry tenant
 * and device labels and respect api.metrics_devices_max; the CloudWatch
 * EMF lines on stdout add up to the same point count.
 */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "modax/clock.h"
#include "support/api.h"

#define MSGS 200
#define POINTS_PER_MSG 6
#define POINTS (MSGS * POINTS_PER_MSG)

static void cloud_msg(char *buf, size_t len, const char *device, int64_t ts, int seq)
{
    snprintf(buf, len,
             "{\"device_id\":\"%s\",\"timestamp\":%lld,\"sensor_data\":{\"current_mean\":%d.5,"
             "\"current_max\":6.1,\"vibration_x\":0.9,\"vibration_y\":1.1,\"vibration_z\":1.0,"
             "\"temperature_mean\":45.25}}",
             device, (long long)ts, seq % 10);
}

/* GET /metrics into *out; 0 on a 200. */
static int get_metrics(const struct api_fixture *f, struct http_resp *out)
{
    char url[128];

    if (http_call("GET", api_url(f, "/metrics", url, sizeof(url)), NULL, NULL, out) != 0) {
        return -1;
    }
    return out->status == 200 ? 0 : -1;
}

/* Polls /metrics until 'series' reaches 'want' or 30 s pass; returns the last value. */
static double wait_sample(const struct api_fixture *f, const char *series, double want)
{
    double v = -1;

    for (int i = 0; i < 300; i++) {
        struct http_resp r = {0};
        if (get_metrics(f, &r) == 0) {
            v = metrics_sample(r.body, series);
        }
        http_resp_free(&r);
        if (v >= want) {
            break;
        }
        mdx_sleep_ms(100);
    }
    return v;
}

/* Runs `promtool check metrics` with 'page' on its stdin; its exit status (-1: could not run). */
static int promtool_check(const char *dir, const char *page, size_t len)
{
    char path[600];
    int st = -1, in;
    pid_t pid;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/metrics.txt", dir);
    fp = fopen(path, "w");
    if (fp == NULL) {
        return -1;
    }
    fwrite(page, 1, len, fp);
    fclose(fp);
    in = open(path, O_RDONLY);
    if (in < 0) {
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        /* Its findings go to the test's stderr. */
        if (dup2(in, 0) < 0 || dup2(2, 1) < 0) {
            _exit(127);
        }
        execlp("promtool", "promtool", "check", "metrics", (char *)NULL);
        _exit(127);
    }
    close(in);
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Starts Prometheus scraping 'target' every second; its pid, 0 on failure. */
static pid_t prometheus_start(const char *dir, const char *target, int port)
{
    char conf[600], data[600], log[600], listen[64], a_conf[700], a_data[700];
    FILE *fp;
    pid_t pid;

    snprintf(conf, sizeof(conf), "%s/prometheus.yml", dir);
    snprintf(data, sizeof(data), "%s/prometheus-data", dir);
    snprintf(log, sizeof(log), "%s/prometheus.log", dir);
    fp = fopen(conf, "w");
    if (fp == NULL) {
        return 0;
    }
    fprintf(fp,
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "scrape_configs:\n"
            "  - job_name: modax\n"
            "    static_configs:\n"
            "      - targets: ['%s']\n",
            target);
    fclose(fp);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", port);
    snprintf(a_conf, sizeof(a_conf), "--config.file=%s", conf);
    snprintf(a_data, sizeof(a_data), "--storage.tsdb.path=%s", data);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl("/usr/bin/prometheus", "prometheus", a_conf, a_data, listen,
              "--storage.tsdb.retention.time=1h", (char *)NULL);
        _exit(127);
    }
    return pid > 0 ? pid : 0;
}

static void prometheus_stop(pid_t pid)
{
    int status;

    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, &status, 0);
    }
}

/*
 * The value of the instant query 'promql' on the Prometheus at 'port':
 * the first result's value, -1 if there is none (yet).
 */
static double prom_query(int port, const char *promql)
{
    char url[512];
    struct http_resp r = {0};
    double v = -1;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=%s", port, promql);
    if (http_call("GET", url, NULL, NULL, &r) == 0 && r.status == 200) {
        cJSON *root = cJSON_Parse(r.body);
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(data, "result");
        const cJSON *first = cJSON_GetArrayItem(res, 0);
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(first, "value");
        const char *txt = cJSON_GetStringValue(cJSON_GetArrayItem(value, 1));
        if (txt != NULL) {
            v = strtod(txt, NULL);
        }
        cJSON_Delete(root);
    }
    http_resp_free(&r);
    return v;
}

/*
 * Sums the member 'name' over the EMF lines (those with "_aws") in the
 * fixture's logs; -1 if there are none.
 */
static double emf_sum(const char *dir, const char *name, int *lines)
{
    char path[600], line[16384];
    double sum = -1;
    FILE *fp;

    *lines = 0;
    snprintf(path, sizeof(path), "%s/serve.log", dir);
    fp = fopen(path, "r");
    if (fp == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strstr(line, "\"_aws\"") == NULL) {
            continue;
        }
        cJSON *root = cJSON_Parse(line);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
        if (cJSON_IsNumber(v)) {
            sum = (sum < 0 ? 0 : sum) + v->valuedouble;
            (*lines)++;
        }
        cJSON_Delete(root);
    }
    fclose(fp);
    return sum;
}

/*
 * Issue 13 item 7: the EMF line of 'tenant'/'device' (namespace, the two
 * dimensions); its DeviceTemperature, or NaN when there is no such line.
 */
static double emf_device_temperature(const char *dir, const char *tenant, const char *device)
{
    char path[600], line[16384];
    double v = NAN;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/serve.log", dir);
    fp = fopen(path, "r");
    while (fp != NULL && fgets(line, sizeof(line), fp) != NULL) {
        cJSON *root = strstr(line, "\"DeviceId\"") != NULL ? cJSON_Parse(line) : NULL;
        const cJSON *dir0 = cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "_aws"),
                                             "CloudWatchMetrics"),
            0);
        const cJSON *dim = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(dir0, "Dimensions"), 0);
        const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dir0, "Namespace"));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "TenantId"));
        const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "DeviceId"));
        const cJSON *temp = cJSON_GetObjectItemCaseSensitive(root, "DeviceTemperature");
        if (ns != NULL && strcmp(ns, "MODAX/staging") == 0 && cJSON_GetArraySize(dim) == 2 &&
            strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(dim, 0)), "TenantId") == 0 &&
            strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(dim, 1)), "DeviceId") == 0 &&
            t != NULL && d != NULL && strcmp(t, tenant) == 0 && strcmp(d, device) == 0 &&
            cJSON_IsNumber(temp)) {
            v = temp->valuedouble;
        }
        cJSON_Delete(root);
    }
    if (fp != NULL) {
        fclose(fp);
    }
    return v;
}

static void ingest_figures_reach_prometheus(void)
{
    struct api_fixture f;
    struct http_resp r = {0};
    char msg[512], series[256];
    struct pub *p;
    int64_t base = mdx_now_ms() - 3600 * 1000;

    setenv("MODAX_API_METRICS_EMF", "true", 1);
    setenv("MODAX_API_METRICS_EMF_INTERVAL_S", "1", 1);
    setenv("MODAX_API_METRICS_EMF_ENVIRONMENT", "staging", 1);
    int started = api_fixture_start(&f, "metrics", NULL) == 0;
    unsetenv("MODAX_API_METRICS_EMF");
    unsetenv("MODAX_API_METRICS_EMF_INTERVAL_S");
    unsetenv("MODAX_API_METRICS_EMF_ENVIRONMENT");
    CHECK(started);
    if (!started) {
        api_fixture_stop(&f); /* whatever did start */
        return;
    }
    p = pub_connect(f.broker.port, "test-pub-metrics");
    CHECK(p != NULL);
    for (int i = 0; i < MSGS; i++) {
        cloud_msg(msg, sizeof(msg), "press-1", base + i * 100, i);
        CHECK(pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg)) == 0);
    }
    CHECK(pub_send(p, "modax/acme/press-1/sensor_data", "not json", 8) == 0);
    CHECK(pub_wait_acked(p, 20000) == 0);
    CHECK_EQ_INT(wait_points(f.dir, "acme", POINTS, 30000), POINTS);

    /* The counters equal what the store holds. */
    CHECK(wait_sample(&f, "modax_messages_refused_total", 1) == 1);
    CHECK(wait_sample(&f, "modax_points_written_total", POINTS) == POINTS);
    CHECK(wait_sample(&f, "modax_messages_stored_total", MSGS) >= MSGS);
    CHECK(get_metrics(&f, &r) == 0);
    if (r.body == NULL) {
        http_resp_free(&r);
        pub_close(p);
        api_fixture_stop(&f);
        return;
    }
    CHECK(strncmp(r.content_type, "text/plain", 10) == 0);
    CHECK(metrics_sample(r.body, "modax_points_written_total") == POINTS);
    /* A QoS 1 message the broker delivers again (after a reconnect under load) is
     * received and stored twice, its points once: count messages as at least, and
     * every received message as either stored or refused. */
    CHECK(metrics_sample(r.body, "modax_messages_stored_total") >= MSGS);
    CHECK(metrics_sample(r.body, "modax_messages_received_total") ==
          metrics_sample(r.body, "modax_messages_stored_total") +
              metrics_sample(r.body, "modax_messages_refused_total"));
    CHECK(strstr(r.body, "# TYPE modax_points_written_total counter\n") != NULL);
    /* The bad payload, by its reason. */
    const char *dl = strstr(r.body, "\nmodax_deadletters_total{reason=\"");
    CHECK(dl != NULL);
    if (dl != NULL) {
        const char *end = strchr(dl + 1, '\n');
        const char *sp = end != NULL ? end : dl + strlen(dl);
        while (sp > dl && sp[-1] != ' ') {
            sp--;
        }
        CHECK(strtod(sp, NULL) == 1);
    }
    /* The store batch latency histogram counts every batch. */
    double batches = metrics_sample(r.body, "modax_store_batches_total");
    CHECK(batches >= 1);
    CHECK(metrics_sample(r.body, "modax_store_batch_latency_seconds_count") == batches);
    CHECK(metrics_sample(r.body, "modax_store_batch_latency_seconds_bucket{le=\"+Inf\"}") == batches);
    /* Per-device gauges, labelled. */
    CHECK(metrics_sample(r.body, "modax_device_temperature_celsius{tenant=\"acme\",device=\"press-1\","
                         "sensor=\"temperature_mean\"}") == 45.25);
    CHECK(metrics_sample(r.body, "modax_device_current_amperes{tenant=\"acme\",device=\"press-1\","
                         "sensor=\"current_max\"}") == 6.1);
    CHECK(metrics_sample(r.body, "modax_device_metrics_truncated") == 0);
    /* The earlier scrapes, by route and code; process figures. */
    CHECK(metrics_sample(r.body, "modax_http_requests_total{method=\"GET\",route=\"/metrics\","
                         "code=\"200\"}") >= 1);
    CHECK(metrics_sample(r.body, "modax_process_resident_memory_bytes") > 0);
    CHECK(metrics_sample(r.body, "modax_uptime_seconds") >= 0);
    CHECK(metrics_sample(r.body, "modax_stream_clients") == 0);
    CHECK_EQ_INT(promtool_check(f.dir, r.body, r.len), 0);
    http_resp_free(&r);

    /* A request that matches no route is counted as "other". */
    char url[128];
    CHECK(http_call("GET", api_url(&f, "/api/v1/no-such-thing", url, sizeof(url)), f.viewer,
                    NULL, &r) == 0);
    http_resp_free(&r);
    CHECK(wait_sample(&f, "modax_http_requests_total{method=\"other\",route=\"other\","
                          "code=\"404\"}",
                      1) == 1);

    /* The real Prometheus scrapes the page; PromQL returns the ingested point count. */
    int prom_port = free_port();
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", f.http_port);
    pid_t prom = prometheus_start(f.dir, target, prom_port);
    CHECK(prom > 0);
    double v = -1;
    for (int i = 0; prom > 0 && i < 600 && v != POINTS; i++) {
        v = prom_query(prom_port, "modax_points_written_total");
        if (v != POINTS) {
            mdx_sleep_ms(100);
        }
    }
    CHECK(v == POINTS);
    snprintf(series, sizeof(series),
             "modax_device_temperature_celsius%%7Btenant%%3D%%22acme%%22%%2Cdevice%%3D%%22press-1"
             "%%22%%7D");
    CHECK(prom_query(prom_port, series) == 45.25);
    CHECK(prom_query(prom_port, "up%7Bjob%3D%22modax%22%7D") == 1);
    prometheus_stop(prom);

    /* The EMF lines' point counts (changes per interval) add up to the total. */
    int lines = 0;
    double emf = -1;
    for (int i = 0; i < 100 && emf != POINTS; i++) {
        emf = emf_sum(f.dir, "PointsWritten", &lines);
        if (emf != POINTS) {
            mdx_sleep_ms(100);
        }
    }
    CHECK(emf == POINTS);
    CHECK(lines >= 1);
    /* Per tenant and device, as the guide's CloudWatch dashboards want them. */
    double temp = NAN;
    for (int i = 0; i < 100 && temp != 45.25; i++) {
        temp = emf_device_temperature(f.dir, "acme", "press-1");
        if (temp != 45.25) {
            mdx_sleep_ms(100);
        }
    }
    CHECK(temp == 45.25);

    pub_close(p);
    CHECK_EQ_INT(api_fixture_stop(&f), 0); /* a clean exit: no sanitizer report */
}

static void device_cap_is_respected(void)
{
    struct api_fixture f;
    struct http_resp r = {0};
    char msg[512];
    struct pub *p;
    int64_t now = mdx_now_ms();

    setenv("MODAX_API_METRICS_DEVICES_MAX", "1", 1);
    int started = api_fixture_start(&f, "metrics-cap", NULL) == 0;
    unsetenv("MODAX_API_METRICS_DEVICES_MAX");
    CHECK(started);
    if (!started) {
        api_fixture_stop(&f); /* whatever did start */
        return;
    }
    p = pub_connect(f.broker.port, "test-pub-metrics-cap");
    cloud_msg(msg, sizeof(msg), "press-1", now, 1);
    CHECK(pub_send(p, "modax/acme/press-1/sensor_data", msg, strlen(msg)) == 0);
    cloud_msg(msg, sizeof(msg), "press-2", now, 2);
    CHECK(pub_send(p, "modax/acme/press-2/sensor_data", msg, strlen(msg)) == 0);
    CHECK(pub_wait_acked(p, 20000) == 0);
    CHECK_EQ_INT(wait_points(f.dir, "acme", 2 * POINTS_PER_MSG, 30000), 2 * POINTS_PER_MSG);
    CHECK(get_metrics(&f, &r) == 0);
    if (r.body != NULL) {
        /* Three devices registered (acme press-1, press-2; globex mill-1): the first only. */
        CHECK(metrics_sample(r.body, "modax_device_metrics_truncated") == 1);
        CHECK(metrics_sample(r.body, "modax_device_metrics_skipped") == 2);
        CHECK(metrics_sample(r.body, "modax_device_metrics_devices") == 1);
        CHECK(metrics_sample(r.body, "modax_device_temperature_celsius{tenant=\"acme\","
                             "device=\"press-1\",sensor=\"temperature_mean\"}") == 45.25);
        CHECK(strstr(r.body, "press-2") == NULL);
        CHECK_EQ_INT(promtool_check(f.dir, r.body, r.len), 0);
    }
    http_resp_free(&r);
    pub_close(p);
    CHECK_EQ_INT(api_fixture_stop(&f), 0);
}

static const struct mdx_test tests[] = {
    {"ingest_figures_reach_prometheus", ingest_figures_reach_prometheus},
    {"device_cap_is_respected", device_cap_is_respected},
    {NULL, NULL},
};

MDX_TEST_MAIN(tests)
